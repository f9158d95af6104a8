import { readdir, stat } from "node:fs/promises";
import { describeInputError } from "../types/errors.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { compareCodeUnits } from "../root/code-unit-order.js";
import { readSmallFile } from "../root/small-file.js";

/** One entry of depmod's search order: a subdirectory of /lib/modules/<K>, or the `built-in` keyword. */
export type SearchEntry = { kind: "dir"; dir: string } | { kind: "built-in" };

/** depmod's search order for a root, and where it came from. */
export interface SearchOrder {
  entries: SearchEntry[];
  /** The configuration files (inside the root) that contributed `search` lines, in the order read. */
  sources: string[];
  /** True when no configuration had a `search` line and Red Hat's default was used. */
  isDefault: boolean;
}

/**
 * The directories kmod reads depmod configuration from, highest precedence first. A file in an
 * earlier directory hides a same-named file in a later one.
 */
export const DEPMOD_CONFIG_DIRS = ["etc/depmod.d", "run/depmod.d", "usr/local/lib/depmod.d", "usr/lib/depmod.d", "lib/depmod.d"];

/** Red Hat's `search updates extra built-in weak-updates` (used when the root configures none). */
export const RED_HAT_SEARCH: readonly SearchEntry[] = [
  { kind: "dir", dir: "updates" },
  { kind: "dir", dir: "extra" },
  { kind: "built-in" },
  { kind: "dir", dir: "weak-updates" },
];

/**
 * The configuration files kmod would read under `root`: `*.conf` names (not starting with '.')
 * from DEPMOD_CONFIG_DIRS, a name seen in an earlier directory hiding later ones, sorted by name.
 * Returns paths inside the root ("/etc/depmod.d/x.conf") with their host paths.
 */
export async function depmodConfigFiles(root: string): Promise<{ inside: string; host: string }[]> {
  const byName = new Map<string, { inside: string; host: string }>();
  for (const dir of DEPMOD_CONFIG_DIRS) {
    const hostDir = await resolveInRoot(root, dir);
    if (hostDir === null) continue;
    let names: string[];
    try {
      names = await readdir(hostDir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith(".") || !name.endsWith(".conf") || byName.has(name)) continue;
      const host = await resolveInRoot(root, `${dir}/${name}`);
      if (host === null) continue;
      try {
        if (!(await stat(host)).isFile()) continue;
      } catch {
        continue;
      }
      byName.set(name, { inside: `/${dir}/${name}`, host });
    }
  }
  return [...byName.keys()].sort(compareCodeUnits).map((n) => byName.get(n)!);
}

/** The `search` entries of one configuration file's text, in order. */
export function parseSearchLines(text: string): SearchEntry[] {
  const out: SearchEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const words = line.split(/[ \t]+/);
    if (words[0] !== "search") continue;
    for (const w of words.slice(1)) {
      if (w === "built-in") out.push({ kind: "built-in" });
      else {
        // A subdirectory of /lib/modules/<K>: normalised, never allowed to climb out.
        const comps = w.split("/").filter((c) => c !== "" && c !== ".");
        if (comps.length === 0 || comps.includes("..")) continue;
        out.push({ kind: "dir", dir: comps.join("/") });
      }
    }
  }
  return out;
}

/**
 * The most a depmod.d file may hold. Real ones are a few lines; the bound keeps a file that is not
 * configuration (or a sparse one) from being read whole.
 */
export const MAX_DEPMOD_CONFIG_SIZE = 1 << 20;

/**
 * depmod's search order for `root` (see SearchOrder). A configuration file that cannot be read is
 * one line in `problems` (naming it, its `search` lines ignored). A directory named twice keeps its
 * first place (as searchPriority takes the first match), so repeats cost nothing later.
 */
export async function readSearchOrder(root: string, problems: string[] = []): Promise<SearchOrder> {
  const entries: SearchEntry[] = [];
  const seen = new Set<string>();
  const sources: string[] = [];
  for (const file of await depmodConfigFiles(root)) {
    let text: string;
    try {
      text = await readSmallFile(file.host, MAX_DEPMOD_CONFIG_SIZE, "a depmod configuration file");
    } catch (err) {
      problems.push(`${describeInputError(file.host, err)}; its search lines are ignored`);
      continue;
    }
    const found = parseSearchLines(text);
    if (found.length > 0) sources.push(file.inside);
    for (const entry of found) {
      const key = entry.kind === "dir" ? `dir:${entry.dir}` : "built-in";
      if (seen.has(key)) continue;
      seen.add(key);
      entries.push(entry);
    }
  }
  if (entries.length === 0) return { entries: [...RED_HAT_SEARCH], sources: [], isDefault: true };
  return { entries, sources, isDefault: false };
}

/**
 * The priority depmod gives a module at `relPath` (relative to /lib/modules/<K>, "/"-separated):
 * the index of the first `search` directory containing it, else the index of `built-in` (-1 when
 * the order has no `built-in`, which kmod then ranks above everything). Lower wins.
 * Directories are matched by whole path components (kmod compares byte prefixes).
 */
export function searchPriority(order: readonly SearchEntry[], relPath: string): number {
  let builtin = -1;
  for (let i = 0; i < order.length; i++) {
    const e = order[i];
    if (e.kind === "built-in") {
      if (builtin < 0) builtin = i;
      continue;
    }
    if (relPath.startsWith(e.dir + "/")) return i;
  }
  return builtin;
}
