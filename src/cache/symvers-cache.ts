import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LISTED_PROBLEMS } from "../symvers/parse-symvers.js";
import { MAX_SYMVERS_FILE_SIZE, readSymvers } from "../symvers/read-symvers.js";
import type { SymversEntry, SymversTable } from "../types/symvers-table.js";
import { fileKey, sameKey, type FileKey } from "./file-key.js";
import { defaultCacheDir } from "./record-cache.js";
import { replaceFile } from "../root/replace-file.js";
import { seal, unseal, type SealedKind } from "./sealed-file.js";

/**
 * Parsed symvers tables kept on disk beside the record packs, so that a run judging against a
 * kernel it has seen before does not decode and parse its symvers again (~27,000 lines per
 * kernel, which adds up for an audit against every kernel of a distribution).
 *
 * One file per symvers file, named by a hash of its absolute path, under
 * `<cache dir>/symvers-v<FORMAT>/`; it holds the (dev, ino, size, mtime ns) the table was parsed
 * under, and is used only while the symvers file still has them. Safety as for the packs (see
 * record-cache.ts): sealed with its length and SHA-1, written to a temporary file and renamed,
 * another format or kabi version is a miss; nothing is ever appended.
 */

/**
 * Bump when SymversTable or the parser's output changes. 2: at most LISTED_PROBLEMS problems and a
 * summary line per table, and symvers files the reader now refuses (empty, binary, over the
 * limits) are not in it.
 */
export const SYMVERS_CACHE_FORMAT = 2;

const KIND: SealedKind = { magic: Buffer.from("KABISYM\n", "latin1"), format: SYMVERS_CACHE_FORMAT };

// Body (the byte order of the machine that wrote it: the byte-order mark tells; 8-byte aligned):
//   u32 x 8             byte-order mark, entries, problems, strings, string bytes, then 0s
//   u64 x 4             dev, ino, size, mtime ns (two's complement) of the file parsed
//   u32[5 x entries]    per entry, in the table's order: symbol, module, export type, namespace (string indexes), CRC
//   u32[2 x problems]   per problem: line, reason (string index)
//   bytes               the strings (UTF-8), NUL between two (a table with a NUL in a string is not stored)
const BOM = 0x01020304;
const HEAD = 32;
const KEY = 32;

export interface SymversCacheStats {
  hits: number;
  misses: number;
  written: number;
}

export class SymversCache {
  readonly root: string;
  readonly stats: SymversCacheStats = { hits: 0, misses: 0, written: 0 };

  constructor(dir: string = defaultCacheDir()) {
    this.root = join(dir, `symvers-v${SYMVERS_CACHE_FORMAT}`);
  }

  /**
   * The table of `file` (see readSymvers, which this is equal to): from the cache while the file's
   * stat key matches, else read and parsed, then stored. Errors are readSymvers's.
   */
  async read(file: string): Promise<SymversTable> {
    let key = fileKey(file);
    // A file the reader refuses by its size (or kind: fileKey is null for all but regular files)
    // is never taken from the cache: readSymvers below says why.
    if (key !== null && key.size > BigInt(MAX_SYMVERS_FILE_SIZE)) key = null;
    const entry = join(this.root, createHash("sha1").update(resolve(file)).digest("hex") + ".symvers");
    if (key !== null) {
      const cached = this.lookup(entry, key, file);
      if (cached !== null) {
        this.stats.hits++;
        return cached;
      }
    }
    this.stats.misses++;
    const table = await readSymvers(file);
    if (key !== null) this.store(entry, key, table);
    return table;
  }

  private lookup(entry: string, key: FileKey, file: string): SymversTable | null {
    let buf: Buffer;
    try {
      buf = readFileSync(entry);
    } catch {
      return null;
    }
    const opened = unseal(KIND, buf);
    const table = opened === null ? null : decodeTable(opened.raw, key, file);
    // Only what the reader can give: a symvers it takes has a valid line, so an entry, and at most
    // LISTED_PROBLEMS problems and a summary. Anything else did not come from it: a miss.
    if (table === null || table.entries.size === 0 || table.problems.length > LISTED_PROBLEMS + 1) return null;
    return table;
  }

  /** Writes the entry (temporary file, then rename); errors are ignored: a cache is optional. */
  private store(entry: string, key: FileKey, table: SymversTable): void {
    const raw = encodeTable(table, key);
    if (raw === null) return;
    if (replaceFile(entry, () => seal(KIND, table.entries.size, raw))) this.stats.written++;
  }
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** The body for `table` parsed under `key`, or null when a string holds a NUL. */
export function encodeTable(table: SymversTable, key: FileKey): Buffer | null {
  const strings: string[] = [];
  const index = new Map<string, number>();
  let bad = false;
  const str = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      if (s.includes("\0")) bad = true;
      i = strings.length;
      index.set(s, i);
      strings.push(s);
    }
    return i;
  };
  const entries = new Uint32Array(5 * table.entries.size);
  let e = 0;
  for (const x of table.entries.values()) {
    entries[e++] = str(x.symbol);
    entries[e++] = str(x.module);
    entries[e++] = str(x.exportType);
    entries[e++] = str(x.namespace);
    entries[e++] = x.crc >>> 0;
  }
  const problems = new Uint32Array(2 * table.problems.length);
  table.problems.forEach((p, i) => {
    problems[2 * i] = p.line;
    problems[2 * i + 1] = str(p.reason);
  });
  if (bad) return null;
  const text = strings.join("\0");
  const stringBytes = Buffer.byteLength(text, "utf8");
  const stringsAt = HEAD + KEY + entries.byteLength + problems.byteLength;
  // Buffer.alloc: zeroed, 8-byte aligned.
  const raw = Buffer.alloc(align8(stringsAt + stringBytes));
  new Uint32Array(raw.buffer, raw.byteOffset, HEAD / 4).set([BOM, table.entries.size, table.problems.length, strings.length, stringBytes]);
  const keys = new BigInt64Array(raw.buffer, raw.byteOffset + HEAD, 4);
  keys.set([BigInt.asIntN(64, key.dev), BigInt.asIntN(64, key.ino), BigInt.asIntN(64, key.size), key.mtimeNs]);
  new Uint32Array(raw.buffer, raw.byteOffset + HEAD + KEY, entries.length).set(entries);
  new Uint32Array(raw.buffer, raw.byteOffset + HEAD + KEY + entries.byteLength, problems.length).set(problems);
  raw.write(text, stringsAt, "utf8");
  return raw;
}

/** The table stored in `raw` if it was parsed under `key` (its path and problems naming `file`), else null (also when malformed). */
export function decodeTable(raw: Buffer, key: FileKey, file: string): SymversTable | null {
  try {
    if (raw.length < HEAD + KEY || raw.byteOffset % 8 !== 0) return null;
    const [bom, entryCount, problemCount, stringCount, stringBytes] = new Uint32Array(raw.buffer, raw.byteOffset, 5) as unknown as number[];
    if (bom !== BOM) return null;
    const keys = new BigInt64Array(raw.buffer, raw.byteOffset + HEAD, 4);
    const stored = { dev: BigInt.asUintN(64, keys[0]!), ino: BigInt.asUintN(64, keys[1]!), size: BigInt.asUintN(64, keys[2]!), mtimeNs: keys[3]! };
    if (!sameKey(stored, key)) return null;
    const stringsAt = HEAD + KEY + 4 * (5 * entryCount! + 2 * problemCount!);
    if (raw.length !== align8(stringsAt + stringBytes!)) return null;
    const strings = stringCount === 0 ? [] : raw.toString("utf8", stringsAt, stringsAt + stringBytes!).split("\0");
    if (strings.length !== stringCount) return null;
    const at = (i: number): string => {
      const s = strings[i];
      if (s === undefined) throw new RangeError("string index out of range");
      return s;
    };
    const ints = new Uint32Array(raw.buffer, raw.byteOffset + HEAD + KEY, 5 * entryCount! + 2 * problemCount!);
    const entries = new Map<string, SymversEntry>();
    for (let e = 0; e < entryCount!; e++) {
      const symbol = at(ints[5 * e]!);
      entries.set(symbol, { symbol, crc: ints[5 * e + 4]!, module: at(ints[5 * e + 1]!), exportType: at(ints[5 * e + 2]!), namespace: at(ints[5 * e + 3]!) });
    }
    if (entries.size !== entryCount) return null;
    const problems = [];
    for (let p = 0, o = 5 * entryCount!; p < problemCount!; p++) problems.push({ file, line: ints[o + 2 * p]!, reason: at(ints[o + 2 * p + 1]!) });
    return { path: file, entries, problems };
  } catch {
    return null;
  }
}
