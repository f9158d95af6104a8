import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { looksLikeModuleFile } from "../types/compression.js";
import { detectPackage } from "../package/package-file.js";
import { walkSorted } from "../root/walk.js";

export interface FoundModules {
  files: string[];
  /** Inputs that could not be listed, with the error. */
  errors: { path: string; error: unknown }[];
  /** Directories given that hold no module file at all (a caller may call that an input error). */
  empty: string[];
  /**
   * With the `packages` option: file operands that are packages (.deb, .rpm: told by their first
   * bytes, whatever their name), each with where its modules go among `files` (the number of
   * files found before it), so that a caller can keep the operands' order.
   */
  packages: { path: string; at: number }[];
}

export interface FindModulesOptions {
  /** Tell packages from module files among the file operands (kabi audit reads them: src/load/package-input.ts). */
  packages?: boolean;
}

/** Enough of a file's head for detectPackage (an ar member header, an RPM lead's magic). */
const PACKAGE_HEAD = 512;

/**
 * Whether the regular file `path` starts as a package. Opened without blocking (a FIFO put there
 * is not waited on); anything unreadable is left to the module reader, which says why.
 */
async function isPackage(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    if (!(await fh.stat()).isFile()) return false;
    const head = Buffer.alloc(PACKAGE_HEAD);
    const { bytesRead } = await fh.read(head, 0, PACKAGE_HEAD, 0);
    return detectPackage(head.subarray(0, bytesRead)) !== null;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}

/**
 * Expands PATH arguments: a file is taken as given (its content decides whether it is a module,
 * or with the `packages` option a package);
 * a directory is searched recursively for `*.ko`, `*.ko.xz`, `*.ko.gz` and `*.ko.zst`, in sorted order.
 */
export async function findModules(paths: readonly string[], options: FindModulesOptions = {}): Promise<FoundModules> {
  const files: string[] = [];
  const errors: FoundModules["errors"] = [];
  const empty: string[] = [];
  const packages: FoundModules["packages"] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) {
        const before = files.length;
        walk(p, files, errors);
        if (files.length === before) empty.push(p);
      } else if (options.packages === true && st.isFile() && (await isPackage(p))) packages.push({ path: p, at: files.length });
      else files.push(p);
    } catch (error) {
      errors.push({ path: p, error });
    }
  }
  return { files, errors, empty, packages };
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
