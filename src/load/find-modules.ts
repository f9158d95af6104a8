import { stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { looksLikeModuleFile } from "../types/compression.js";
import { walkSorted } from "../root/walk.js";

export interface FoundModules {
  files: string[];
  /** Inputs that could not be listed, with the error. */
  errors: { path: string; error: unknown }[];
  /** Directories given that hold no module file at all (a caller may call that an input error). */
  empty: string[];
}

/**
 * Expands PATH arguments: a file is taken as given (its content decides whether it is a module);
 * a directory is searched recursively for `*.ko`, `*.ko.xz`, `*.ko.gz` and `*.ko.zst`, in sorted order.
 */
export async function findModules(paths: readonly string[]): Promise<FoundModules> {
  const files: string[] = [];
  const errors: FoundModules["errors"] = [];
  const empty: string[] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) {
        const before = files.length;
        walk(p, files, errors);
        if (files.length === before) empty.push(p);
      } else files.push(p);
    } catch (error) {
      errors.push({ path: p, error });
    }
  }
  return { files, errors, empty };
}

/**
 * Depth-first, entries sorted by name, files and subdirectories interleaved in that order
 * (walkSorted: synchronous; a kernel tree is ~900 folders, and one awaited readdir per folder
 * cost several times more). Paths are `join(dir, name)`, built by concatenation (path.join per
 * entry was a noticeable part of a warm audit): join(top, "x") minus its "x" is what join puts
 * before any name. An unreadable folder is reported and skipped.
 */
function walk(top: string, out: string[], errors: FoundModules["errors"]): void {
  walkSorted(
    top,
    (dir, entries, enter) => {
      for (const e of entries) {
        if (e.isDirectory()) enter(e.name);
        // Anything else named like a module is taken too, FIFOs and devices included: the reader
        // opens it without blocking and reports it as not a regular file, where skipping it would
        // say nothing about an input that was not read.
        else if (looksLikeModuleFile(e.name)) out.push(dir.prefix + e.name);
      }
    },
    (path, error) => errors.push({ path, error }),
    { prefix: join(top, "x").slice(0, -1), sep },
  );
}
