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
