import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { FileError, FormatError } from "../types/errors.js";
import { fileKind } from "../root/file-kind.js";
import { CODEC_NAMES, DecodeError, detectCodec, singleChunk, startsWithMagic, type CodecName } from "../types/compression.js";
import { loadCodec } from "../decompress/codec-table.js";
import { SymversParser } from "./parse-symvers.js";
import { filterSymversText } from "./symvers-filter.js";
import type { SymversTable } from "../types/symvers-table.js";

/** How a symvers file's bytes are stored, told by its first bytes (never by its name). */
export type SymversEncoding = "plain" | CodecName;

/**
 * The largest symvers file read, as stored (plain or compressed), and the most one may decompress
 * to. A real one is under 2 MB: the largest of the corpus (Debian 6.12 amd64's Module.symvers) is
 * 1.9 MB, 26,772 lines of at most 154 bytes; a compressed one is a fifth of that. 32 MiB is 16 times
 * the largest, room for any kernel configuration, while a file or a decompression bomb past it is
 * refused before it costs more than that in memory. The stored size is checked (fstat) before
 * anything is read; the decompressed size is the codec's limit, enforced while it decodes.
 */
export const MAX_SYMVERS_FILE_SIZE = 32 * 1024 * 1024;
export const MAX_SYMVERS_TEXT_SIZE = 32 * 1024 * 1024;

/**
 * gzip and zstd bytes go to the codec in pieces of this size: a decoder that writes out all it can
 * make of one piece before its limit is checked (node:zlib does) then overshoots by at most this
 * times the format's ratio (about 1000 for deflate), not by the whole file's. xz goes in whole:
 * the native decoder takes it whole anyway (it checks the size the index declares first), and the
 * native-free one's input stream throws past its end when it is stopped between pieces.
 */
const INPUT_PIECE = 16 * 1024;

/**
 * Decoded text goes to the parser in pieces of about this many bytes, each ending at a line end:
 * the file is never one string (at most one piece, plus one line running past it).
 */
const TEXT_PIECE = 1024 * 1024;

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
 * compressed some other way. Whether plain data is text is decided on the whole text (see
 * checkSymversText), whether it was stored plain or compressed.
 */
export function detectSymversEncoding(data: Uint8Array, file: string): SymversEncoding {
  const codec = detectCodec(data);
  if (codec !== null) return codec;
  for (const [magic, name] of OTHER_MAGIC) {
    if (startsWithMagic(data, magic)) throw new FormatError(file, `${name} data is not a supported symvers encoding (${SUPPORTED})`);
  }
  return "plain";
}

function checkStat(st: Stats, file: string): void {
  if (!st.isFile()) throw new FileError(file, `${fileKind(st)}, not a regular file: a symvers must be one`);
  if (st.size > MAX_SYMVERS_FILE_SIZE) {
    throw new FormatError(file, `${st.size} bytes, more than the ${MAX_SYMVERS_FILE_SIZE} bytes a symvers file may have`);
  }
}

/**
 * The bytes of a symvers file as stored. Only a regular file of at most MAX_SYMVERS_FILE_SIZE bytes
 * is read: it is stat'ed first (so a device is never opened), then opened without blocking (a FIFO
 * put there since is not waited on) and checked again on the open file. I/O errors (ENOENT,
 * EACCES, ...) are thrown as they are (see describeInputError).
 */
export async function readSymversBytes(file: string): Promise<Buffer> {
  checkStat(await stat(file), file);
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    checkStat(st, file);
    // One byte more than the stat said, to tell a file that grew since from one that did not.
    const buf = Buffer.allocUnsafe(Math.min(st.size, MAX_SYMVERS_FILE_SIZE) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) {
        if (got > MAX_SYMVERS_FILE_SIZE) throw new FormatError(file, `more than the ${MAX_SYMVERS_FILE_SIZE} bytes a symvers file may have`);
        throw new FormatError(file, "file grew while it was read");
      }
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** `data` as the codec input stream, a piece at a time (see INPUT_PIECE). */
async function* inPieces(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += INPUT_PIECE) yield data.subarray(at, Math.min(at + INPUT_PIECE, data.length));
}

/**
 * The decompressed bytes of a symvers file's contents (plain data is returned as is), through
 * the codec table modules are read with (so KABI_NO_NATIVE applies here too), at most
 * MAX_SYMVERS_TEXT_SIZE bytes.
 */
export async function decodeSymvers(data: Uint8Array, file: string): Promise<Uint8Array> {
  const encoding = detectSymversEncoding(data, file);
  if (encoding === "plain") {
    if (data.length > MAX_SYMVERS_TEXT_SIZE) throw new FormatError(file, `more than the ${MAX_SYMVERS_TEXT_SIZE} bytes a symvers text may have`);
    return data;
  }
  const codec = await loadCodec(encoding);
  try {
    return await codec.decompress(encoding === "xz" ? singleChunk(data) : inPieces(data), MAX_SYMVERS_TEXT_SIZE);
  } catch (err) {
    if (err instanceof DecodeError) throw new FormatError(file, err.message);
    throw err;
  }
}

/** The decoded text as pieces of whole lines (see TEXT_PIECE); line ends never split a UTF-8 sequence. */
export function* symversPieces(text: Uint8Array): Generator<string> {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let at = 0;
  while (at < buf.length) {
    let end = at + TEXT_PIECE >= buf.length ? buf.length : buf.indexOf(10, at + TEXT_PIECE);
    end = end < 0 ? buf.length : end === buf.length ? end : end + 1;
    yield buf.toString("utf8", at, end);
    at = end;
  }
}

/** Each line of `text` (without its line end) as a byte range, for the whole-file checks. */
function* lineRanges(buf: Uint8Array): Generator<[number, number]> {
  let at = 0;
  while (at < buf.length) {
    let eol = buf.indexOf(10, at);
    if (eol < 0) eol = buf.length;
    yield [at, eol > at && buf[eol - 1] === 13 ? eol - 1 : eol];
    at = eol + 1;
  }
}

/**
 * Refuses decoded text that cannot be a symvers file, with one reason naming the file: one with no
 * line at all (every symbol would read as missing), one where at least half of the non-blank lines hold a
 * NUL byte (binary data), and one with no valid line. Otherwise a line with a NUL byte, like any
 * other malformed line, is only a problem of the parse (see SymversParser). Costs a look at the
 * first lines for a real file (its first line is valid), at most a pass over a hostile one.
 */
export function checkSymversText(text: Uint8Array, file: string): void {
  let lines = 0;
  let nulLines = 0;
  const hasNul = text.indexOf(0) >= 0;
  const probe = new SymversParser(file);
  let valid = false;
  let firstProblem: string | undefined;
  const buf = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let lineNo = 0;
  // The next NUL at or after the current line, kept between lines (searching from each line to the
  // end of the text would be quadratic).
  let nextNul = hasNul ? -1 : buf.length;
  for (const [start, end] of lineRanges(buf)) {
    lineNo++;
    if (end === start) continue;
    lines++;
    if (nextNul < start) {
      nextNul = buf.indexOf(0, start);
      if (nextNul < 0) nextNul = buf.length;
    }
    if (nextNul < end) {
      nulLines++;
      continue;
    }
    if (valid) {
      if (!hasNul) break;
      continue;
    }
    // Each line on its own: the probe keeps at most its first problems, so a file of bad lines
    // costs no more memory here than a good one.
    probe.push(buf.toString("utf8", start, end));
    const seen = probe.peek();
    if (seen.entries > 0) {
      valid = true;
      if (!hasNul) break;
    } else if (firstProblem === undefined && seen.firstProblem !== undefined) firstProblem = `line ${lineNo}: ${seen.firstProblem}`;
  }
  if (lines === 0) throw new FormatError(file, "empty symvers file (no line, so no symbol)");
  if (nulLines * 2 >= lines) throw new FormatError(file, "binary data, not a symvers text file");
  if (!valid) throw new FormatError(file, `no valid symvers line (${lines} line${lines === 1 ? "" : "s"}; the first: ${firstProblem ?? "malformed"})`);
}

/**
 * A symvers file read and decoded: its text as bytes, checked (see checkSymversText), not parsed.
 * Every command gets its symvers through here, so the same limits and refusals apply to all.
 */
export async function openSymversFile(file: string): Promise<Uint8Array> {
  const text = await decodeSymvers(await readSymversBytes(file), file);
  checkSymversText(text, file);
  return text;
}

/**
 * Parses decoded symvers text (see parseSymvers) a piece at a time. With `skipUnwanted`, the lines
 * of symbols not in `wanted` are skipped unchecked (see filterSymversText): the problems are those
 * of the kept lines only.
 */
export function parseSymversText(text: Uint8Array, file: string, wanted?: ReadonlySet<string>, skipUnwanted = false): SymversTable {
  const parser = new SymversParser(file, skipUnwanted ? undefined : wanted);
  for (const piece of symversPieces(text)) parser.push(skipUnwanted && wanted !== undefined ? filterSymversText(piece, wanted) : piece);
  return parser.finish();
}

/**
 * Reads and parses a symvers file that is plain text or compressed (told by magic bytes).
 * I/O errors (ENOENT, EACCES, ...) are thrown as they are (see describeInputError); a file that is
 * not a regular file, too large, undecodable or not symvers text throws FileError/FormatError
 * naming the file; malformed lines become the table's problems. With `wanted`, only those symbols'
 * entries are kept, with the same problems (see parseSymvers).
 */
export async function readSymvers(file: string, wanted?: ReadonlySet<string>): Promise<SymversTable> {
  return parseSymversText(await openSymversFile(file), file, wanted);
}
