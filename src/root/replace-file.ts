import { randomBytes } from "node:crypto";
import { accessSync, chmodSync, constants, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * The temporary names made next to `<file>` (by replaceFile, and by the lock): `<file>.` then the
 * maker's pid, a random part and an ending.
 */
const TEMP_NAME = /^(\d+)\.[0-9a-f]{12}\.([a-z]+)$/;

/** Whether a process with this pid exists (one we may not signal exists too). */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files of `file` (names `<file>.<pid>.<random>.<ending>`, an ending of
 * `endings`) whose maker is gone: one killed between its write and its rename (kill -9, power loss)
 * leaves one, which nothing else would ever remove, so each crash would leave one more. A live
 * maker's temporary file is left to it.
 */
export function removeDeadTemps(file: string, endings: readonly string[] = ["tmp"]): void {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = TEMP_NAME.exec(name.slice(prefix.length));
    if (m === null || !endings.includes(m[2]!)) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processExists(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // removed by another writer meanwhile
    }
  }
}

/** Deeper than any cache folder: makeDirs gives up past it instead of walking a path for ever. */
const MAX_DEPTH = 64;

/**
 * `mkdir -p dir`, bounded: each missing parent is made at most once and the walk up stops at "/"
 * or MAX_DEPTH. Node's own `mkdirSync(dir, { recursive: true })` loops for ever (at full CPU) on
 * a folder where mkdir keeps failing with ENOENT although the parent exists, as under /proc.
 * Throws the last error when the folder cannot be made.
 */
export function makeDirs(dir: string, depth = 0): void {
  try {
    mkdirSync(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      if (statSync(dir).isDirectory()) return;
      throw err;
    }
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir || depth >= MAX_DEPTH) throw err;
    makeDirs(parent, depth + 1);
  }
  // The parent exists now: one more try, whose failure (ENOENT again under /proc) is final.
  mkdirSync(dir);
}

/**
 * Why a cache folder cannot be used (made if missing, then written to), or null when it can: the
 * caches are an optimisation, so a command told this says so in one warning line and runs
 * without them (KABI_CACHE_DIR under /proc, on a read-only filesystem, a file in its place).
 */
export function unusableCacheDir(dir: string): string | null {
  try {
    makeDirs(dir);
    accessSync(dir, constants.W_OK | constants.X_OK);
    // access(2) says yes to root on a read-only filesystem: a real write tells.
    const probe = `${dir}/.kabi-probe-${process.pid}-${randomBytes(4).toString("hex")}`;
    writeFileSync(probe, "", { flag: "wx" });
    unlinkSync(probe);
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code !== undefined ? `${e.code}${e.syscall !== undefined ? ` (${e.syscall})` : ""}` : String(err);
  }
}

/**
 * Replaces `file` (creating its folder) with the bytes `make` returns, through a temporary file in
 * the same folder renamed into place: a reader sees the old file or the whole new one, never part of
 * one, and concurrent writers each rename a complete file. Any failure, including one of `make` or
 * a full or read-only file system, leaves no temporary file behind and returns false: the caches
 * are optional, so their callers carry on without them. Temporary files of `file` left by dead
 * writers are removed once the new one is in place.
 */
export function replaceFile(file: string, make: () => string | Uint8Array): boolean {
  return replaceFileOrError(file, make) === null;
}

/**
 * replaceFile for callers that must say why a write failed (kabi install-system): the error, or
 * null once the file is in place. With `mode`, the temporary file gets exactly that mode (not
 * reduced by the umask) before the rename, so an executable appears already executable.
 */
export function replaceFileOrError(file: string, make: () => string | Uint8Array, mode?: number): NodeJS.ErrnoException | null {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    makeDirs(dirname(file));
    writeFileSync(tmp, make(), mode === undefined ? undefined : { mode });
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    return err as NodeJS.ErrnoException;
  }
  removeDeadTemps(file);
  return null;
}
