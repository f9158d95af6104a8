import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { gunzip, gunzipSync } from "node:zlib";
import { promisify } from "node:util";
import { FormatError } from "../types/errors.js";
import { parseSymvers } from "./parse-symvers.js";
import type { SymversTable } from "../types/symvers-table.js";
import { createRequire } from "node:module";

/** @napi-rs/lzma, loaded on the first xz symvers file (most are plain or gzip; loading it costs ~20 ms of start-up). */
const lzma = (): typeof import("@napi-rs/lzma") => createRequire(import.meta.url)("@napi-rs/lzma") as typeof import("@napi-rs/lzma");

const gunzipAsync = promisify(gunzip);

/** How a symvers file's bytes are stored, told by its first bytes (never by its name). */
export type SymversEncoding = "plain" | "gzip" | "xz";

const GZIP_MAGIC = [0x1f, 0x8b];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
// Recognised only to name them in the error.
const OTHER_MAGIC: Array<[number[], string]> = [
  [[0x28, 0xb5, 0x2f, 0xfd], "zstd"],
  [[0x42, 0x5a, 0x68], "bzip2"],
  [[0x04, 0x22, 0x4d, 0x18], "lz4"],
  [[0x5d, 0x00, 0x00], "lzma (legacy .lzma)"],
  [[0x7f, 0x45, 0x4c, 0x46], "ELF"],
];

function startsWith(data: Uint8Array, magic: number[]): boolean {
  if (data.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (data[i] !== magic[i]) return false;
  return true;
}

/**
 * The encoding of a symvers file from its first bytes. Throws FormatError for data that is
 * compressed some other way or is binary (a NUL byte in the first 4 KiB).
 */
export function detectSymversEncoding(data: Uint8Array, file: string): SymversEncoding {
  if (startsWith(data, GZIP_MAGIC)) return "gzip";
  if (startsWith(data, XZ_MAGIC)) return "xz";
  for (const [magic, name] of OTHER_MAGIC) {
    if (startsWith(data, magic)) throw new FormatError(file, `${name} data is not a supported symvers encoding (plain, gzip or xz)`);
  }
  const head = data.length > 4096 ? data.subarray(0, 4096) : data;
  const nul = head.indexOf(0);
  if (nul >= 0) throw new FormatError(file, "binary data, not a symvers text file", nul);
  return "plain";
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function gzipError(file: string, err: unknown): FormatError {
  return new FormatError(file, `corrupt gzip stream: ${reasonOf(err)}`);
}

function xzError(file: string, err: unknown): FormatError {
  const msg = reasonOf(err);
  // @napi-rs/lzma (lzma-rs) decodes one stream only and has no SHA-256 check: say so plainly.
  if (/Unsupported SHA-256/i.test(msg)) return new FormatError(file, "xz stream uses a SHA-256 check, which is not supported");
  if (/after last XZ block/i.test(msg)) return new FormatError(file, "xz file holds several concatenated streams, which is not supported");
  return new FormatError(file, `corrupt xz stream: ${msg}`);
}

function toText(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}

/** The decompressed bytes of a symvers file's contents (plain data is returned as is). */
export async function decodeSymvers(data: Uint8Array, file: string): Promise<Uint8Array> {
  switch (detectSymversEncoding(data, file)) {
    case "plain":
      return data;
    case "gzip":
      try {
        return await gunzipAsync(data);
      } catch (err) {
        throw gzipError(file, err);
      }
    case "xz":
      try {
        return await lzma().xz.decompress(data);
      } catch (err) {
        throw xzError(file, err);
      }
  }
}

/** Synchronous decodeSymvers. */
export function decodeSymversSync(data: Uint8Array, file: string): Uint8Array {
  switch (detectSymversEncoding(data, file)) {
    case "plain":
      return data;
    case "gzip":
      try {
        return gunzipSync(data);
      } catch (err) {
        throw gzipError(file, err);
      }
    case "xz":
      try {
        return lzma().xz.decompressSync(data);
      } catch (err) {
        throw xzError(file, err);
      }
  }
}

/** Checks the decoded text looks like text, so a binary payload inside gzip/xz is refused too. */
function checkDecoded(data: Uint8Array, file: string): void {
  const head = data.length > 4096 ? data.subarray(0, 4096) : data;
  const nul = head.indexOf(0);
  if (nul >= 0) throw new FormatError(file, "binary data, not a symvers text file", nul);
}

/**
 * The text of a symvers file's contents (plain, gzip or xz): decoded, refused when it is binary
 * inside the compression too, as UTF-8.
 */
export async function decodeSymversText(raw: Uint8Array, file: string): Promise<string> {
  const data = await decodeSymvers(raw, file);
  checkDecoded(data, file);
  return toText(data);
}

/**
 * Reads and parses a symvers file that is plain text, gzip or xz (told by magic bytes).
 * I/O errors (ENOENT, EACCES, ...) are thrown as they are (see describeInputError);
 * undecodable data throws FormatError naming the file; malformed lines become the
 * table's problems. With `wanted`, only those symbols' entries are kept, with the same problems
 * (see parseSymvers).
 */
export async function readSymvers(file: string, wanted?: ReadonlySet<string>): Promise<SymversTable> {
  return parseSymvers(await decodeSymversText(await readFile(file), file), file, wanted);
}

/** Synchronous readSymvers. */
export function readSymversSync(file: string): SymversTable {
  const raw = readFileSync(file);
  const data = decodeSymversSync(raw, file);
  checkDecoded(data, file);
  return parseSymvers(toText(data), file);
}
