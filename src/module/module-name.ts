import { basename } from "node:path";

/** A module's name from its file name, as kmod derives it: up to the first '.', '-' read as '_'. */
export function moduleNameFromPath(path: string): string {
  const base = basename(path);
  const dot = base.indexOf(".");
  return (dot < 0 ? base : base.slice(0, dot)).replace(/-/g, "_");
}
