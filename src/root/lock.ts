import { lstat, open, readFile, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { FileError, toFileError } from "../types/errors.js";
import { resolveInRoot } from "./resolve-in-root.js";

/** The lock file's name, in the root's /lib/modules (which every root we work on has). */
export const LOCK_NAME = ".kabi-weak-modules.lock";

export interface LockOptions {
  /** Give up after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Called once when the lock is held by another live process and we start waiting. */
  onWait?: (holderPid: number) => void;
}

export interface HeldLock {
  path: string;
  release(): Promise<void>;
}

export class LockTimeoutError extends FileError {
  constructor(file: string, pid: number) {
    super(file, `still held by process ${pid}; giving up`);
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

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function tryCreate(file: string): Promise<boolean> {
  try {
    const fh = await open(file, "wx", 0o644);
    try {
      await fh.writeFile(`${process.pid}\n`);
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw toFileError(file, err);
  }
}

async function holder(file: string): Promise<number | null> {
  try {
    const text = await readFile(file, "utf8");
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isNaN(pid) ? -1 : pid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw toFileError(file, err);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the weak-modules lock of `root`: an exclusively created file holding our pid. A second
 * run waits (polling) while the holder is alive. A lock whose pid is dead (or unreadable for more
 * than a few seconds: a crash between create and write) is stale: it is broken under a second
 * exclusive "breaker" file, so two waiters never both break it. Never through a symlink: an entry
 * of that name that is not a regular file is refused (FileError naming it), and every wait sleeps,
 * so nothing spins. Failures are FileErrors naming the lock file (permission denied, no such file).
 */
export async function acquireLock(root: string, options: LockOptions = {}): Promise<HeldLock> {
  const dir = await resolveInRoot(root, "lib/modules");
  if (dir === null) throw new FileError(path.join(root, "lib/modules"), "not a directory");
  const file = path.join(dir, LOCK_NAME);
  const breaker = `${file}.break`;
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
  let waited = false;
  let delay = 20;
  for (;;) {
    // O_EXCL never follows a symlink, but the pid would be read through one: look first.
    await checkPlainEntry(file);
    if (await tryCreate(file)) {
      return {
        path: file,
        release: async () => {
          if ((await holder(file)) === process.pid) await unlink(file).catch(() => undefined);
        },
      };
    }
    const pid = await holder(file);
    if (pid === null) {
      // Released meanwhile: try again, after a pause (a name that keeps coming and going must not spin).
      await sleep(delay);
      continue;
    }
    let stale = !alive(pid);
    if (pid === -1) {
      // Created but not yet written, or garbage: stale once it is old.
      try {
        stale = Date.now() - (await stat(file)).mtimeMs > 5000;
      } catch {
        continue;
      }
    }
    if (stale) {
      if (await tryCreate(breaker)) {
        try {
          if ((await holder(file)) === pid) await unlink(file).catch(() => undefined);
        } finally {
          await unlink(breaker).catch(() => undefined);
        }
        continue;
      }
      // Someone else is breaking it; a breaker left by a crash is itself stale after a while.
      try {
        if (Date.now() - (await stat(breaker)).mtimeMs > 10000) await unlink(breaker).catch(() => undefined);
      } catch {
        // gone
      }
    } else if (!waited) {
      waited = true;
      options.onWait?.(pid);
    }
    if (Date.now() > deadline) throw new LockTimeoutError(file, pid);
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}
