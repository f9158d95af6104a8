import { stat } from "node:fs/promises";
import { FileError, toFileError } from "../types/errors.js";

/**
 * Throws a FileError naming `root` unless it is a directory kabi can look into: `--basedir
 * /nonexistent` or a file as basedir is one line, never an empty report or an error about the lock.
 */
export async function checkRoot(root: string): Promise<void> {
  let st;
  try {
    st = await stat(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FileError(root, "no such directory (--basedir)", undefined, code);
    throw toFileError(root, err);
  }
  if (!st.isDirectory()) throw new FileError(root, "not a directory (--basedir)", undefined, "ENOTDIR");
}
