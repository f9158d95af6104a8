import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces `file` (creating its folder) with the bytes `make` returns, through a temporary file in
 * the same folder renamed into place: a reader sees the old file or the whole new one, never part of
 * one, and concurrent writers each rename a complete file. Any failure, including one of `make`,
 * leaves no temporary file behind and returns false: the caches are optional, so their callers
 * carry on without them.
 */
export function replaceFile(file: string, make: () => string | Uint8Array): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, make());
    renameSync(tmp, file);
    return true;
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    return false;
  }
}
