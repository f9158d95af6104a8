export type CodecName = "xz" | "gzip" | "zstd";

/** Why a compressed stream could not be decoded; the reader adds the file name. */
export class DecodeError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "DecodeError";
  }
}

/**
 * One codec behind the one interface: compressed chunks in, the whole decompressed
 * module out, never more than `maxOutput` bytes of it (a bomb is an error, not an
 * out-of-memory). Native codecs live in src/decompress/, pure-JS or wasm ones in
 * native-free-fallback/.
 */
export interface Codec {
  readonly name: CodecName;
  /** "native" or "fallback": which implementation this is. */
  readonly kind: "native" | "fallback";
  decompress(chunks: AsyncIterable<Uint8Array>, maxOutput: number): Promise<Buffer>;
}

/** Gathers decoder output, failing as soon as it passes `maxOutput`. */
export class BoundedSink {
  private parts: Uint8Array[] = [];
  private total = 0;
  constructor(private readonly maxOutput: number) {}

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.total > this.maxOutput) throw new DecodeError(`decompressed size exceeds the limit of ${this.maxOutput} bytes`);
    this.parts.push(chunk);
  }

  get size(): number {
    return this.total;
  }

  result(): Buffer {
    if (this.parts.length === 1) {
      const only = this.parts[0]!;
      return Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.byteLength);
    }
    return Buffer.concat(this.parts, this.total);
  }
}

export async function collectInput(chunks: AsyncIterable<Uint8Array>, maxInput: number): Promise<Buffer> {
  const sink = new BoundedSink(maxInput);
  for await (const c of chunks) sink.push(c);
  return sink.result();
}
