import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, lstat, open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { FileError, toFileError } from "../types/errors.js";
import { processExists, removeDeadTemps } from "./replace-file.js";
import { resolveInRoot } from "./resolve-in-root.js";

/** The lock file's name, in the root's /lib/modules (which every root we work on has). */
export const LOCK_NAME = ".kabi-weak-modules.lock";

export interface LockOptions {
  /** Give up after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Called once when the lock is held by another live process and we start waiting. */
  onWait?: (holderPid: number, lockFile: string) => void;
}

export interface HeldLock {
  path: string;
  release(): Promise<void>;
}

export class LockTimeoutError extends FileError {
  constructor(file: string, pid: number, waitedMs: number) {
    super(file, `still held by process ${pid} after ${Math.round(waitedMs / 1000)} s; giving up`);
    this.name = "LockTimeoutError";
  }
}

/**
 * The lock's name is taken by something that is not a regular file (a symlink, dangling or to a
 * file elsewhere, a directory, a FIFO): the lock is never taken through it or broken by removing it,
 * since the run cannot tell who put it there; the administrator is told which file to look at.
 */
function refuseOddEntry(file: string, what: string): never {
  throw new FileError(file, `the weak-modules lock is ${what}, not a regular file; remove it if no weak-modules run is going on`);
}

/** Who holds a lock: its pid and, on Linux, the holder's start time (clock ticks after boot), "" when unknown. */
interface Holder {
  pid: number;
  start: string;
  /** The inode of the lock file it was read from: the stale file is removed only if it is still that one. */
  ino: number;
}

/**
 * A process's start time from /proc/<pid>/stat (field 22, counted after the command name, which
 * may itself hold spaces and parentheses), or "" where there is no /proc. With the pid it names a
 * process for good: a pid reused after the holder died has another start time.
 */
async function startTime(pid: number): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No such process (ENOENT/ESRCH), or no /proc at all ("" then: only the pid is compared).
    if (code === "ENOENT" || code === "ESRCH") return (await hasProc()) ? null : "";
    return "";
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? "";
}

let procMounted: boolean | undefined;
async function hasProc(): Promise<boolean> {
  if (procMounted === undefined) {
    try {
      await lstat("/proc/self/stat");
      procMounted = true;
    } catch {
      procMounted = false;
    }
  }
  return procMounted;
}

/** Whether the process that wrote `h` is still running (a pid alone, from an older kabi, is checked by pid only). */
async function alive(h: Holder): Promise<boolean> {
  if (!processExists(h.pid)) return false;
  if (h.start === "") return true;
  const now = await startTime(h.pid);
  return now === null ? false : now === "" || now === h.start;
}

/** The lock's content: "PID START\n", written whole before the file gets the lock's name. */
async function ownContent(): Promise<string> {
  return `${process.pid} ${(await startTime(process.pid)) ?? ""}\n`;
}

/**
 * Reads the holder of the lock file without following a symlink (O_NOFOLLOW: an entry that is
 * not a regular file is refused), or null when there is none. A lock file is always complete (it
 * got its name by link(2) after being written), so text that is not "PID [START]" is not a lock
 * any run of this kabi made: the pid is then -1, which is never alive.
 */
async function readHolder(file: string): Promise<Holder | null> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") refuseOddEntry(file, "a symbolic link");
    throw toFileError(file, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) refuseOddEntry(file, st.isDirectory() ? "a directory" : "a special file");
    // A real lock is one short line; never read more of whatever else sits there.
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const m = /^(\d{1,10})(?: (\d*))?\n$/.exec(buf.subarray(0, bytesRead).toString("latin1"));
    return { pid: m === null ? -1 : Number(m[1]), start: m?.[2] ?? "", ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** Throws unless `file` is a regular file or absent. */
async function checkPlainEntry(file: string): Promise<void> {
  let st;
  try {
    st = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw toFileError(file, err);
  }
  if (st.isSymbolicLink()) refuseOddEntry(file, "a symbolic link");
  if (!st.isFile()) refuseOddEntry(file, st.isDirectory() ? "a directory" : "a special file");
}

/**
 * Gives `file` the content `content` if no entry has that name: the content is written to a
 * temporary file, which is then link(2)ed to the name. link fails with EEXIST when the name is
 * taken (whatever it is: link never follows a symlink there), so the lock file, once it exists,
 * always holds a whole pid: there is no "created but not yet written" state to wait out.
 * Returns the new file's inode, or null when the name is taken.
 */
async function tryTake(file: string, content: string): Promise<number | null> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, content, { flag: "wx", mode: 0o644 });
    await link(tmp, file);
    return (await lstat(file)).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return null;
    // The temporary file's failures (permission denied, no such directory) are the lock's.
    throw lockError(file, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Removes `file` if it is still the inode `ino`: renamed away first (rename is atomic, and only
 * one of several breakers moves a given inode), then checked; a file that turns out to be another
 * inode (a lock taken meanwhile) is linked back under its name.
 */
async function removeIfSame(file: string, ino: number): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.stale`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw toFileError(file, err);
  }
  try {
    if ((await lstat(aside)).ino !== ino) await link(aside, file).catch(() => undefined);
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

/** Reasons toFileError leaves as Node's raw message, worded for the lock (the others are src/types/errors.ts's). */
const LOCK_REASONS: Readonly<Record<string, string>> = {
  EPERM: "operation not permitted",
};

/** A failure to take the lock as one line naming it; permission problems say who may take it. */
function lockError(file: string, err: unknown): FileError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code !== undefined ? LOCK_REASONS[code] : undefined;
  const e = reason !== undefined ? new FileError(file, reason, undefined, code) : toFileError(file, err);
  if (code === "EACCES" || code === "EPERM") return new FileError(file, `${e.reason} (changing weak-updates needs write access to this folder: run as root)`, undefined, code);
  return e;
}

/**
 * Removes the lock's temporary files (".<pid>.<random>.tmp", ".<pid>.<random>.stale") left by runs
 * killed between writing one and removing it: only those of dead pids, and only by the lock's
 * holder, so a re-run after a crash leaves nothing behind.
 */
function removeLeftovers(file: string, breaker: string): void {
  for (const f of [file, breaker]) removeDeadTemps(f, ["tmp", "stale"]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the weak-modules lock of `root`: the file lib/modules/.kabi-weak-modules.lock holding our
 * pid and start time, created whole by link(2) (see tryTake). While its holder is alive a second
 * run waits, sleeping between looks (20 ms growing to 250 ms), tells `onWait` once, and gives up
 * after `timeoutMs` with a LockTimeoutError naming the holder. A holder that is dead (no such pid,
 * or the pid now belongs to a process with another start time) left a stale lock: it is broken
 * at once, under a second lock file (".break", taken and broken the same way) so that two waiters
 * never both remove it. Never through a symlink: an entry of the lock's name that is not a
 * regular file is refused (FileError naming it). Failures are FileErrors naming the lock file.
 */
export async function acquireLock(root: string, options: LockOptions = {}): Promise<HeldLock> {
  const dir = await resolveInRoot(root, "lib/modules");
  if (dir === null) throw new FileError(path.join(root, "lib/modules"), "not a directory");
  try {
    if (!(await stat(dir)).isDirectory()) throw new FileError(dir, "not a directory");
  } catch (err) {
    if (err instanceof FileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw code === "ENOENT" ? new FileError(dir, "no such directory", undefined, code) : toFileError(dir, err);
  }
  const file = path.join(dir, LOCK_NAME);
  const breaker = `${file}.break`;
  const content = await ownContent();
  const started = Date.now();
  const timeout = options.timeoutMs ?? 10 * 60 * 1000;
  let waited = false;
  let delay = 20;
  for (;;) {
    await checkPlainEntry(file);
    const ino = await tryTake(file, content);
    if (ino !== null) {
      removeLeftovers(file, breaker);
      return {
        path: file,
        release: async () => {
          const h = await readHolder(file).catch(() => null);
          if (h !== null && h.ino === ino && h.pid === process.pid) await unlink(file).catch(() => undefined);
        },
      };
    }
    const h = await readHolder(file);
    if (h !== null) {
      if (!(await alive(h))) {
        await breakStale(file, breaker, h, content);
        continue;
      }
      if (!waited) {
        waited = true;
        options.onWait?.(h.pid, file);
      }
      if (Date.now() - started > timeout) throw new LockTimeoutError(file, h.pid, Date.now() - started);
    }
    // Held, or released meanwhile (a name that keeps coming and going must not spin either).
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}

/** Removes the stale lock (holder `h`) under the breaker lock; returns without waiting when another run is breaking it. */
async function breakStale(file: string, breaker: string, h: Holder, content: string): Promise<void> {
  await checkPlainEntry(breaker);
  const ino = await tryTake(breaker, content);
  if (ino === null) {
    // Another run breaks it now, or one died doing so: its breaker is stale at once when its holder is dead.
    const b = await readHolder(breaker);
    if (b !== null && !(await alive(b))) await removeIfSame(breaker, b.ino);
    else await sleep(20);
    return;
  }
  try {
    // Under the breaker, only the (dead) holder could have removed the lock: if it is still the
    // file read as stale (same inode, same dead holder: an inode number can be reused), nobody
    // took it meanwhile.
    const now = await readHolder(file);
    if (now !== null && now.ino === h.ino && now.pid === h.pid && now.start === h.start) await unlink(file).catch(() => undefined);
  } finally {
    await removeIfSame(breaker, ino);
  }
}
