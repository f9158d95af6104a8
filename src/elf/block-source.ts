import { closeSync } from "node:fs";
import type { ByteSource } from "./byte-source.js";
import { openRegularFile, readFullyAt } from "./file-source.js";

/**
 * Positioned reads of a plain module in aligned blocks, each block read once: the header,
 * section table and the few sections used fall in a handful of blocks, so a typical module
 * (~100 KB) costs one or two read calls instead of one per structure, and a large one (a GPU
 * driver of 20 MB) is still read only where its used sections are.
 *
 * One positioned read per structure reads a quarter of the bytes but was slower than reading whole
 * files, because of the number of calls and I/O requests; blocks get both (bench/positioned-reads.mjs
 * measures the alternatives).
 */
export class BlockFileSource implements ByteSource {
  readonly size: number;
  private fd: number;
  private readonly blocks = new Map<number, Buffer>();
  /** Bytes actually read from the file (for the bench). */
  bytesRead = 0;

  private constructor(fd: number, size: number, private readonly blockSize: number) {
    this.fd = fd;
    this.size = size;
  }

  static open(path: string, blockSize = 64 * 1024): BlockFileSource {
    const { fd, size } = openRegularFile(path);
    return new BlockFileSource(fd, size, blockSize);
  }

  read(offset: number, length: number): Buffer {
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / bs);
    if (first === last) {
      const b = this.block(first);
      const start = offset - first * bs;
      return b.subarray(start, Math.min(b.length, start + length));
    }
    // Spanning blocks: read any missing run of them in one call, then copy out.
    let k = first;
    while (k <= last) {
      if (this.blocks.has(k)) {
        k++;
        continue;
      }
      let end = k;
      while (end + 1 <= last && !this.blocks.has(end + 1)) end++;
      this.load(k, end);
      k = end + 1;
    }
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    for (let b = first; b <= last && done < length; b++) {
      const blk = this.blocks.get(b)!;
      const start = b === first ? offset - first * bs : 0;
      const n = blk.copy(out, done, start, Math.min(blk.length, start + (length - done)));
      done += n;
      if (blk.length < bs) break; // end of file
    }
    return done === length ? out : out.subarray(0, done);
  }

  /** The whole file in pieces of at most `pieceSize` bytes, read through this descriptor and not kept. */
  async *pieces(pieceSize = 256 * 1024): AsyncGenerator<Buffer> {
    for (let at = 0; at < this.size; at += pieceSize) {
      const buf = Buffer.allocUnsafe(Math.min(pieceSize, this.size - at));
      const got = readFullyAt(this.fd, buf, buf.length, at);
      if (got === 0) return;
      yield got === buf.length ? buf : buf.subarray(0, got);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    this.blocks.clear();
  }

  private block(k: number): Buffer {
    return this.blocks.get(k) ?? (this.load(k, k), this.blocks.get(k)!);
  }

  /** Reads blocks first..last in one call (clipped to the file's size). */
  private load(first: number, last: number): void {
    const bs = this.blockSize;
    const from = first * bs;
    const want = Math.max(0, Math.min(this.size, (last + 1) * bs) - from);
    const buf = Buffer.allocUnsafe(want);
    const got = readFullyAt(this.fd, buf, want, from);
    this.bytesRead += got;
    for (let k = first; k <= last; k++) {
      const s = (k - first) * bs;
      this.blocks.set(k, buf.subarray(Math.min(s, got), Math.min(s + bs, got)));
    }
  }
}
