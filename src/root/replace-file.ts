import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** A temporary file's name after `<file>.`: the writer's pid and a random part. */
const TEMP_SUFFIX = /^(\d+)\.[0-9a-f]{12}\.tmp$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files of `file` whose writer is gone: a writer killed between its write
 * and its rename (kill -9, power loss) leaves one, which nothing else would ever remove, so each
 * crash would leave one more. A live writer's temporary file is left to it.
 */
function removeDeadTemps(file: string): void {
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
    const m = TEMP_SUFFIX.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // removed by another writer meanwhile
    }
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
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, make());
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    return false;
  }
  removeDeadTemps(file);
  return true;
}
