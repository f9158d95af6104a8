/**
 * Random access to a module's bytes, the one interface the ELF reader reads through. Its
 * implementations: BufferSource (a decompressed module, in memory), BlockFileSource
 * (src/elf/block-source.ts: a plain `.ko`, positioned reads in blocks, what the reader uses)
 * and FileSource (src/elf/file-source.ts: one positioned read per structure, the baseline
 * bench/positioned-reads.mjs measures BlockFileSource against).
 */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; the caller has checked the range. */
  read(offset: number, length: number): Buffer;
  close(): void;
}

/** A module held in memory (a decompressed one). */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Buffer) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Buffer {
    return this.bytes.subarray(offset, offset + length);
  }
  close(): void {}
}
