/**
 * The compression formats kabi reads, one row each: the name, the magic bytes that identify a
 * stream (a file's contents decide, never its name) and the suffix of a module file stored
 * that way. Everything else derives from these rows: CodecName, a record's Compression, the
 * module file suffixes the directory walk accepts, detection, and the messages naming the
 * formats. src/decompress/codec-table.ts maps each row to its two decoders,
 * src/decompress/<name>.ts (native) and native-free-fallback/<name>.ts (pure JS or wasm), so a
 * new format is one row here, one file in each of those folders and one entry in that table.
 */
export interface CompressionFormat {
  readonly name: string;
  readonly magic: readonly number[];
  /** A module file stored this way is named `*<moduleSuffix>`. */
  readonly moduleSuffix: string;
}

export const COMPRESSION_FORMATS = [
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], moduleSuffix: ".ko.xz" },
  { name: "gzip", magic: [0x1f, 0x8b], moduleSuffix: ".ko.gz" },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd], moduleSuffix: ".ko.zst" },
] as const satisfies readonly CompressionFormat[];

export type CodecName = (typeof COMPRESSION_FORMATS)[number]["name"];

/** How a module file is stored: plain ELF, or one of the formats. */
export type Compression = "none" | CodecName;

export const CODEC_NAMES: readonly CodecName[] = COMPRESSION_FORMATS.map((f) => f.name);

/** The file names a directory walk takes for modules: plain `.ko` and each format's suffix. */
export const MODULE_SUFFIXES: readonly string[] = [".ko", ...COMPRESSION_FORMATS.map((f) => f.moduleSuffix)];

export function looksLikeModuleFile(name: string): boolean {
  return MODULE_SUFFIXES.some((s) => name.endsWith(s));
}

/** How many leading bytes `detectCodec` needs to see. */
export const MAGIC_LENGTH = Math.max(...COMPRESSION_FORMATS.map((f) => f.magic.length));

/** Whether `head` starts with the bytes `magic` (a head too short to tell does not). */
export function startsWithMagic(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** The format whose magic `head` starts with, or null (too short to tell counts as none). */
export function detectCodec(head: Uint8Array): CodecName | null {
  for (const format of COMPRESSION_FORMATS) if (startsWithMagic(head, format.magic)) return format.name;
  return null;
}

/** Why a compressed stream could not be decoded; the reader adds the file name. */
export class DecodeError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "DecodeError";
  }
}

/**
 * One codec behind the one interface: compressed chunks in, the whole decompressed stream
 * (a module, or a symvers file) out, never more than `maxOutput` bytes of it (a bomb is an
 * error, not an out-of-memory). Native codecs live in src/decompress/, pure-JS or wasm ones in
 * native-free-fallback/.
 */
export interface Codec {
  readonly name: CodecName;
  /** "native" or "fallback": which implementation this is. */
  readonly kind: "native" | "fallback";
  decompress(chunks: AsyncIterable<Uint8Array>, maxOutput: number): Promise<Buffer>;
  /**
   * The decompressed stream as it is decoded, for an input too large to hold whole (a package
   * payload of hundreds of MB): pulled, so the input is read only as fast as the output is
   * taken, and each output piece is at most STREAM_OUTPUT_PIECE bytes (zlib's gzip: at most
   * what one STREAM_INPUT_SLICE of input inflates to). Corrupt, truncated or empty input is a
   * DecodeError; an error thrown by `chunks` itself comes out unchanged. Stopping early (a
   * `break` or `return` in the consumer) releases the decoder and returns `chunks`.
   */
  stream(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
}

/** The largest piece of compressed input a streaming decoder is given at once. */
export const STREAM_INPUT_SLICE = 16 * 1024;
/** The output buffer size of the streaming decoders that fill a buffer per call. */
export const STREAM_OUTPUT_PIECE = 64 * 1024;

/** `chunks` cut into pieces of at most `size` bytes; empty chunks are dropped. */
export async function* inputSlices(chunks: AsyncIterable<Uint8Array>, size = STREAM_INPUT_SLICE): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, Math.min(chunk.length, at + size));
  }
}

/**
 * Input pulled through a decoder built on Node streams: remembers an error the input itself
 * threw, so the decoder's error handler can tell "the input failed" (passed on as it is, a
 * FormatError of the container, say) from "the compressed data is bad" (a DecodeError).
 */
export class TrackedInput {
  failure: { error: unknown } | null = null;
  sawInput = false;
  constructor(private readonly chunks: AsyncIterable<Uint8Array>) {}

  async *slices(): AsyncGenerator<Uint8Array> {
    try {
      for await (const slice of inputSlices(this.chunks)) {
        this.sawInput = true;
        yield slice;
      }
    } catch (err) {
      this.failure = { error: err };
      throw err;
    }
  }

  /** `err` as the stream's consumer should see it: the input's own error, or a DecodeError naming `format`. */
  explain(err: unknown, format: string): unknown {
    if (this.failure !== null && this.failure.error === err) return err;
    if (err instanceof DecodeError) return err;
    return new DecodeError(`corrupt ${format} stream (${err instanceof Error ? err.message : String(err)})`);
  }
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

/** A whole buffer as the chunk stream Codec.decompress takes. */
export async function* singleChunk(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

export async function collectInput(chunks: AsyncIterable<Uint8Array>, maxInput: number): Promise<Buffer> {
  const sink = new BoundedSink(maxInput);
  for await (const c of chunks) sink.push(c);
  return sink.result();
}
