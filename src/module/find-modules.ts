import { readdir, stat } from "node:fs/promises";
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

async function walk(dir: string, out: string[], errors: FoundModules["errors"]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    errors.push({ path: dir, error });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, out, errors);
    else if ((e.isFile() || e.isSymbolicLink()) && looksLikeModuleFile(e.name)) out.push(full);
  }
}
