import { readdirSync, type Dirent } from "node:fs";
import { stat } from "node:fs/promises";
import { join, sep } from "node:path";

import { looksLikeModuleFile } from "../types/compression.js";
/** Re-exported for src/weak/, which imports it from here (the formats table in src/types/compression.ts owns it). */
export { looksLikeModuleFile };

export interface FoundModules {
  files: string[];
  /** Inputs that could not be listed, with the error. */
  errors: { path: string; error: unknown }[];
}

/**
 * Expands PATH arguments: a file is taken as given (its content decides whether it is a module);
 * a directory is searched recursively for `*.ko`, `*.ko.xz`, `*.ko.gz` and `*.ko.zst`, in sorted order.
 */
export async function findModules(paths: readonly string[]): Promise<FoundModules> {
  const files: string[] = [];
  const errors: FoundModules["errors"] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) walk(p, files, errors);
      else files.push(p);
    } catch (error) {
      errors.push({ path: p, error });
    }
  }
  return { files, errors };
}

/**
 * Depth-first, entries sorted by name. Synchronous: a kernel tree is ~900 folders, and one
 * awaited readdir per folder cost ~150 ms on the Debian 6.12 tree against ~40 ms this way.
 * Paths are `join(dir, name)`, built by concatenation (path.join per entry was ~15 ms of a
 * warm audit's 4,230 files): join(top, "x") minus its "x" is what join puts before any name.
 */
function walk(top: string, out: string[], errors: FoundModules["errors"]): void {
  walkBelow(top, join(top, "x").slice(0, -1), out, errors);
}

/** Lists `dir`, whose entries' paths are `prefix` + name. */
function walkBelow(dir: string, prefix: string, out: string[], errors: FoundModules["errors"]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    errors.push({ path: dir, error });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory()) {
      const sub = prefix + e.name;
      walkBelow(sub, sub + sep, out, errors);
    } else if ((e.isFile() || e.isSymbolicLink()) && looksLikeModuleFile(e.name)) out.push(prefix + e.name);
  }
}
