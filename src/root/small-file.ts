import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { FileError } from "../types/errors.js";

/**
 * The text of a small file of the root (a depmod.d configuration, a kernel's modules.builtin), read
 * only when it is a regular file of at most `maxBytes`. It is opened without blocking, so a FIFO put
 * in its place is never waited on, and fstat decides before anything is read (a device is not
 * read, a huge or sparse file is not read whole). Otherwise a FileError naming it; I/O errors as
 * Node throws them.
 */
export async function readSmallFile(file: string, maxBytes: number, what: string): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FileError(file, "not a regular file");
    if (st.size > maxBytes) throw new FileError(file, `${st.size} bytes, more than the ${maxBytes} ${what} may have`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}
