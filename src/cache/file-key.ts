import { statSync } from "node:fs";

/** What a cached record is valid for: the file's device, inode, size and mtime in ns. */
export interface FileKey {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** The stat key of a file, or null when it cannot be stat'ed (the read will report why). */
export function fileKey(path: string): FileKey | null {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) return null;
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
  } catch {
    return null;
  }
}

export function sameKey(a: FileKey, b: FileKey): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}
