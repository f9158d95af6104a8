import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import type { ByteSource } from "./byte-source.js";

/**
 * Opens `path` for reading; anything but a regular file is refused (EISDIR, or EINVAL "not a
 * regular file") and closed again. The open does not block: opening a FIFO for reading waits for a
 * writer, for ever, and a device's open may act on the device, so it is opened O_NONBLOCK and
 * fstat then decides before anything is read (O_NONBLOCK changes nothing for a regular file).
 */
export function openRegularFile(path: string): { fd: number; size: number } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: st.isDirectory() ? "EISDIR" : "EINVAL" });
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads `length` bytes at `position` into the start of `buf`, however many calls it takes; fewer only at end of file. Returns the count read. */
export function readFullyAt(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** An open regular file, one positioned read per request (no blocks kept). */
export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number;

  private constructor(fd: number, size: number) {
    this.fd = fd;
    this.size = size;
  }

  static open(path: string): FileSource {
    const { fd, size } = openRegularFile(path);
    return new FileSource(fd, size);
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const done = readFullyAt(this.fd, out, length, offset);
    // The file shrank under us: hand back what exists; bounds checks upstream see a short buffer.
    return done === length ? out : out.subarray(0, done);
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
