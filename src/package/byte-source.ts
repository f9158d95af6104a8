import { FormatError } from "../types/errors.js";

/**
 * A package file read front to back, once: the container readers (ar, rpm, cpio) take headers
 * from it by exact length and hand a member's bytes on as a bounded stream (`take`), never
 * holding more than the piece in hand. `offset` is how far the file has been consumed, for the
 * offsets in FormatErrors. Calls are serialized: a consumer still pulling a member's bytes (a
 * decompressor reading ahead) is answered before the reader moves on to the next header.
 */
export class ByteSource {
  /** Bytes consumed so far (what `read`, `take` and `skipTo` have passed). */
  offset = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private ended = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly chunks: AsyncIterator<Uint8Array>,
    /** The package, named in every error. */
    readonly file: string,
    /** The part of the package these bytes are (a decompressed payload), named in every error after the file; offsets are then the part's. */
    readonly part: string | null = null,
  ) {}

  static from(chunks: AsyncIterable<Uint8Array>, file: string, part: string | null = null): ByteSource {
    return new ByteSource(chunks[Symbol.asyncIterator](), file, part);
  }

  /** A FormatError naming the file (and the part) with `reason` at `offset`. */
  error(reason: string, offset?: number): FormatError {
    return new FormatError(this.file, this.part === null ? reason : `${this.part}: ${reason}`, offset);
  }

  /** Exactly `n` bytes; a FormatError "truncated <what>" at the current offset when the file ends first. */
  read(n: number, what: string): Promise<Buffer> {
    return this.serial(async () => {
      await this.fill(n);
      if (this.pendingLength < n) throw this.error(`truncated ${what}`, this.offset);
      return this.shift(n);
    });
  }

  /** Up to `n` leading bytes without consuming them (fewer when the file is shorter). */
  peek(n: number): Promise<Buffer> {
    return this.serial(async () => {
      await this.fill(n);
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
      this.pending = all.length > 0 ? [all] : [];
      return all.subarray(0, Math.min(n, all.length));
    });
  }

  /** Whether the file has no bytes left. */
  atEnd(): Promise<boolean> {
    return this.serial(async () => {
      await this.fill(1);
      return this.pendingLength === 0;
    });
  }

  /**
   * The bytes up to file offset `end`, as they come: a member's contents. Truncation is a
   * FormatError naming `what`. Stopping early leaves the rest for `skipTo`.
   */
  async *take(end: number, what: string): AsyncGenerator<Uint8Array> {
    for (;;) {
      const piece = await this.serial(async () => {
        if (this.offset >= end) return null;
        await this.fill(1);
        if (this.pendingLength === 0) throw this.error(`truncated ${what} (${end - this.offset} bytes missing)`, this.offset);
        const first = this.pending[0]!;
        return this.shift(Math.min(first.length, end - this.offset));
      });
      if (piece === null) return;
      yield piece;
    }
  }

  /** Skips to file offset `end` (what is left of a member, padding); truncation is a FormatError naming `what`. */
  skipTo(end: number, what: string): Promise<void> {
    return this.serial(async () => {
      while (this.offset < end) {
        await this.fill(1);
        if (this.pendingLength === 0) throw this.error(`truncated ${what} (${end - this.offset} bytes missing)`, this.offset);
        this.shift(Math.min(this.pending[0]!.length, end - this.offset));
      }
    });
  }

  /** Everything left, to the end of the input, as it comes (an RPM's payload is the rest of the file). */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const piece = await this.serial(async () => {
        await this.fill(1);
        return this.pendingLength === 0 ? null : this.shift(this.pending[0]!.length);
      });
      if (piece === null) return;
      yield piece;
    }
  }

  /** Reads (and drops) everything left, to the end of the input. */
  drain(): Promise<void> {
    return this.serial(async () => {
      for (;;) {
        await this.fill(1);
        if (this.pendingLength === 0) return;
        this.shift(this.pending[0]!.length);
      }
    });
  }

  /** Ends reading early: the file is closed. */
  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    if (!this.ended) {
      this.ended = true;
      await this.chunks.return?.();
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async fill(n: number): Promise<void> {
    while (this.pendingLength < n && !this.ended) {
      const next = await this.chunks.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const c = next.value;
      if (c.length === 0) continue;
      this.pending.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      this.pendingLength += c.length;
    }
  }

  /** Removes and returns the first `n` buffered bytes (n <= pendingLength). */
  private shift(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.offset += n;
    this.pendingLength -= n;
    const first = this.pending[0]!;
    if (first.length === n) {
      this.pending.shift();
      return first;
    }
    if (first.length > n) {
      this.pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const head = this.pending[0]!;
      const k = Math.min(head.length, n - at);
      head.copy(out, at, 0, k);
      at += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    return out;
  }
}
