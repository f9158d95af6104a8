import { basename } from "node:path";

/** Module names as kmod derives and compares them (which files are modules: looksLikeModuleFile in src/types/compression.ts). */

/** A module name as kmod compares names: '-' read as '_'. */
export function normalizeModuleName(name: string): string {
  return name.includes("-") ? name.replace(/-/g, "_") : name;
}

/**
 * A module's name from its file name, as kmod derives it: the last path component up to its first
 * '.', '-' read as '_' ("drivers/net/usb-net.ko.xz" → "usb_net"). Takes a bare file name or a path.
 */
export function moduleNameFromFile(file: string): string {
  // basename's reading of a trailing "/" ("a/b.ko/" → "b.ko") only when there is one: this runs per file of a tree.
  const base = file.endsWith("/") ? basename(file) : file.slice(file.lastIndexOf("/") + 1);
  const dot = base.indexOf(".");
  return normalizeModuleName(dot < 0 ? base : base.slice(0, dot));
}
