import { readdirSync, type Dirent } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";

const MODULE_SUFFIXES = [".ko", ".ko.xz", ".ko.gz", ".ko.zst"];

export function looksLikeModuleFile(name: string): boolean {
  return MODULE_SUFFIXES.some((s) => name.endsWith(s));
}

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
      if (st.isDirectory()) await walk(p, files, errors);
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
 */
async function walk(dir: string, out: string[], errors: FoundModules["errors"]): Promise<void> {
  walkSync(dir, out, errors);
}

function walkSync(dir: string, out: string[], errors: FoundModules["errors"]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    errors.push({ path: dir, error });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory()) walkSync(join(dir, e.name), out, errors);
    else if ((e.isFile() || e.isSymbolicLink()) && looksLikeModuleFile(e.name)) out.push(join(dir, e.name));
  }
}
