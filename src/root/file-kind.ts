import type { Stats } from "node:fs";

/**
 * What a file is, in the words of the one line that refuses it ("a FIFO, not a regular file"; "a
 * symbolic link to ..., not a kernel directory"): shared by every reader that names a file of the
 * wrong type, so the same file is always called the same thing.
 */
export function fileKind(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "a file of an unknown type";
}
