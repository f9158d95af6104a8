import { lstatSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { readModules } from "../load/read-many.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { parseExternalPath } from "./installed-tree.js";
import { KnownRecords } from "../load/known-records.js";

/** Whether a path.relative() result names something strictly below its base. */
function isBelow(rel: string): boolean {
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/** The real path of a directory, or the path itself when it cannot be resolved. */
function realOrSelf(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return dir;
  }
}

/** A module path given on standard input, checked. */
export interface InputModule {
  /** As given. */
  given: string;
  hostPath: string;
  /** As seen inside the root. */
  insidePath: string;
  release: string;
}

export interface InputCheck {
  modules: InputModule[];
  errors: string[];
  /**
   * The records read to check --add-modules inputs, by host path (after symlinks): handed to the
   * scan (ScanOptions.known) so that no input is read twice.
   */
  records: KnownRecords;
}

export interface InputCheckOptions {
  /** The persistent record cache for reading the inputs (see ReadManyOptions.cache). */
  cache?: boolean | string;
}

type Outcome = { error: string } | { module: InputModule; real: string | null };

/**
 * Checks module paths from standard input (one per line; relative ones taken from `cwd`). Each
 * must be a host path inside `root`, without any ".." component, naming a module file under some
 * kernel's extra/ or updates/. With `mustExist` (--add-modules) the file must exist and, once
 * symlinks are resolved, still be inside the root, and read as a module (all inputs are read in
 * one readModules call: the cache, else the reader); for --remove-modules a missing file is normal.
 */
export async function checkInputPaths(root: string, text: string, cwd: string, mustExist: boolean, options: InputCheckOptions = {}): Promise<InputCheck> {
  const hostRoot = path.resolve(root);
  const out: InputCheck = { modules: [], errors: [], records: new KnownRecords() };
  const outcomes: Outcome[] = [];
  let realRoot: string | undefined;
  const realDirs = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const given = raw.replace(/\r$/, "");
    if (given.trim() === "") continue;
    const quoted = JSON.stringify(given);
    if (given.includes("\0")) {
      outcomes.push({ error: `${quoted}: contains a NUL byte` });
      continue;
    }
    if (given.split("/").includes("..")) {
      outcomes.push({ error: `${quoted}: ".." is not allowed in module paths` });
      continue;
    }
    const hostPath = path.resolve(cwd, given);
    let rel = path.relative(hostRoot, hostPath);
    if (!isBelow(rel)) {
      // A root given through a symlink (--basedir /srv/root -> /data/root) may be named either
      // way in the paths: the real spelling names the same file inside it.
      realRoot ??= realOrSelf(hostRoot);
      if (realRoot !== hostRoot && isBelow(path.relative(realRoot, hostPath))) rel = path.relative(realRoot, hostPath);
    }
    if (!isBelow(rel)) {
      outcomes.push({ error: `${quoted}: outside the root ${hostRoot}` });
      continue;
    }
    const insidePath = "/" + rel.split(path.sep).join("/");
    const parsed = parseExternalPath(insidePath);
    if (parsed === null || !looksLikeModuleFile(path.posix.basename(insidePath))) {
      outcomes.push({ error: `${quoted}: not a module file (*.ko, *.ko.xz, *.ko.gz, *.ko.zst) under /lib/modules/<kernel>/extra/ or updates/ of the root` });
      continue;
    }
    const module: InputModule = { given, hostPath, insidePath, release: parsed.release };
    if (!mustExist) {
      outcomes.push({ module, real: null });
      continue;
    }
    let real: string;
    try {
      // Synchronous on purpose: a few short syscalls per input, where a thread-pool round trip
      // each would cost more than the syscalls themselves. realpath(3) reads every
      // component's link; inputs share a few directories, so each directory is resolved once and
      // the file itself is lstat'ed (resolved in full only when it is a symlink).
      const dir = path.dirname(hostPath);
      let realDir = realDirs.get(dir);
      if (realDir === undefined) realDirs.set(dir, (realDir = realpathSync.native(dir)));
      const own = lstatSync(hostPath);
      real = own.isSymbolicLink() ? realpathSync.native(hostPath) : path.join(realDir, path.basename(hostPath));
      if (!(own.isSymbolicLink() ? statSync(real) : own).isFile()) {
        outcomes.push({ error: `${quoted}: not a regular file` });
        continue;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Standard input is read as UTF-8: bytes that are not come back as U+FFFD and name no file.
      const why = code !== "ENOENT" ? (err as Error).message : given.includes("\uFFFD") ? "its name is not valid UTF-8: not supported (rename it)" : "no such file";
      outcomes.push({ error: `${quoted}: ${why}` });
      continue;
    }
    realRoot ??= realOrSelf(hostRoot);
    if (!isBelow(path.relative(realRoot, real))) {
      outcomes.push({ error: `${quoted}: resolves to ${real}, outside the root ${hostRoot}` });
      continue;
    }
    outcomes.push({ module, real });
  }

  // Read every input that has to be a module at once (cache, else worker pool), each file once.
  const toRead = [...new Set(outcomes.flatMap((o) => ("module" in o && o.real !== null ? [o.real] : [])))];
  const failed = new Map<string, string>();
  if (toRead.length > 0) {
    const many = await readModules(toRead, { cache: options.cache ?? false, known: true });
    out.records = many.known!;
    for (const e of many.errors) failed.set(e.path, e.message);
  }

  const seen = new Set<string>();
  for (const o of outcomes) {
    if ("error" in o) {
      out.errors.push(o.error);
      continue;
    }
    const { module, real } = o;
    if (real !== null) {
      const message = failed.get(real);
      if (message !== undefined) {
        // Name the file as given on the command line, as a direct read of it would.
        const why = message.startsWith(real) ? module.hostPath + message.slice(real.length) : message;
        out.errors.push(`${JSON.stringify(module.given)}: not a kernel module: ${why}`);
        continue;
      }
    }
    if (seen.has(module.insidePath)) continue;
    seen.add(module.insidePath);
    out.modules.push(module);
  }
  return out;
}
