import { readFile } from "node:fs/promises";
import { FormatError } from "../types/errors.js";
import { CODEC_NAMES, DecodeError, detectCodec, singleChunk, startsWithMagic, type CodecName } from "../types/compression.js";
import { loadCodec } from "../decompress/codec-table.js";
import { parseSymvers } from "./parse-symvers.js";
import type { SymversTable } from "../types/symvers-table.js";

/** How a symvers file's bytes are stored, told by its first bytes (never by its name). */
export type SymversEncoding = "plain" | CodecName;

/**
 * The most a symvers file may decompress to. A real one is under 2 MB (Debian 6.12 amd64's
 * Module.symvers: ~27,000 lines of ~70 bytes); 64 MiB leaves room for any kernel configuration
 * many times over while still refusing a decompression bomb before it exhausts memory.
 */
export const MAX_SYMVERS_SIZE = 64 * 1024 * 1024;

// Recognised only to name them in the error.
const OTHER_MAGIC: Array<[number[], string]> = [
  [[0x42, 0x5a, 0x68], "bzip2"],
  [[0x04, 0x22, 0x4d, 0x18], "lz4"],
  [[0x5d, 0x00, 0x00], "lzma (legacy .lzma)"],
  [[0x7f, 0x45, 0x4c, 0x46], "ELF"],
];

/** "plain, xz, gzip or zstd": the encodings readSymvers takes, from the formats table. */
const SUPPORTED = ((names: string[]) => `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`)(["plain", ...CODEC_NAMES]);

/**
 * The encoding of a symvers file from its first bytes. Throws FormatError for data that is
 * compressed some other way or is binary (a NUL byte in the first 4 KiB).
 */
export function detectSymversEncoding(data: Uint8Array, file: string): SymversEncoding {
  const codec = detectCodec(data);
  if (codec !== null) return codec;
  for (const [magic, name] of OTHER_MAGIC) {
    if (startsWithMagic(data, magic)) throw new FormatError(file, `${name} data is not a supported symvers encoding (${SUPPORTED})`);
  }
  checkText(data, file);
  return "plain";
}

/** A NUL byte in the first 4 KiB: binary data, refused whether it was stored plain or compressed. */
function checkText(data: Uint8Array, file: string): void {
  const head = data.length > 4096 ? data.subarray(0, 4096) : data;
  const nul = head.indexOf(0);
  if (nul >= 0) throw new FormatError(file, "binary data, not a symvers text file", nul);
}

/**
 * The decompressed bytes of a symvers file's contents (plain data is returned as is), through
 * the codec table modules are read with (so KABI_NO_NATIVE applies here too), at most
 * MAX_SYMVERS_SIZE bytes.
 */
export async function decodeSymvers(data: Uint8Array, file: string): Promise<Uint8Array> {
  const encoding = detectSymversEncoding(data, file);
  if (encoding === "plain") return data;
  const codec = await loadCodec(encoding);
  try {
    return await codec.decompress(singleChunk(data), MAX_SYMVERS_SIZE);
  } catch (err) {
    if (err instanceof DecodeError) throw new FormatError(file, err.message);
    throw err;
  }
}

/**
 * The text of a symvers file's contents (plain or compressed in one of the formats): decoded,
 * refused when it is binary inside the compression too, as UTF-8.
 */
export async function decodeSymversText(raw: Uint8Array, file: string): Promise<string> {
  const data = await decodeSymvers(raw, file);
  checkText(data, file);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}

/**
 * Reads and parses a symvers file that is plain text or compressed (told by magic bytes).
 * I/O errors (ENOENT, EACCES, ...) are thrown as they are (see describeInputError);
 * undecodable data throws FormatError naming the file; malformed lines become the
 * table's problems. With `wanted`, only those symbols' entries are kept, with the same problems
 * (see parseSymvers).
 */
export async function readSymvers(file: string, wanted?: ReadonlySet<string>): Promise<SymversTable> {
  return parseSymvers(await decodeSymversText(await readFile(file), file), file, wanted);
}
