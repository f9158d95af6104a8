/** Output chunk size: large enough that writing 100 MB is a hundred calls, small enough to stay out of the way. */
const CHUNK_BYTES = 1 << 20;

/**
 * Collects output as UTF-8 bytes in a fixed buffer and hands each full buffer to `sink` (which
 * then owns it). Report fragments that repeat (the same CRC mismatch on thousands of modules) are
 * encoded once and copied in as bytes, rather than joined and re-encoded as strings.
 */
export class ByteWriter {
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private at = 0;

  constructor(private readonly sink: (chunk: Buffer) => void) {}

  text(s: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit.
    if (this.at + s.length * 3 > this.buf.length) {
      this.flush();
      if (s.length * 3 > this.buf.length) return this.sink(Buffer.from(s, "utf8"));
    }
    this.at += this.buf.write(s, this.at, "utf8");
  }

  bytes(b: Uint8Array): void {
    if (this.at + b.length > this.buf.length) {
      this.flush();
      if (b.length > this.buf.length) return this.sink(Buffer.from(b));
    }
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  flush(): void {
    if (this.at === 0) return;
    this.sink(this.buf.subarray(0, this.at));
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.at = 0;
  }
}
