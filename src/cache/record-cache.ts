import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { ModuleRecord } from "../module/module-record.js";
import { KABI_VERSION } from "./kabi-version.js";
import { createRequire } from "node:module";

/** lz4-napi, loaded when a pack is first read or written (not for --no-cache runs nor the read-pool workers' batches). */
const lz4 = (): typeof import("lz4-napi") => createRequire(import.meta.url)("lz4-napi") as typeof import("lz4-napi");

/**
 * Persistent cache of module records, so that a second run over the same tree reads no module.
 *
 * Layout: one pack file per tree: the deepest directory holding all the files of one call
 * (`scope`), else each file's own directory; named by a hash of that directory's absolute
 * path, under `<cache dir>/records-v<FORMAT>/`. A kernel tree of 4,000 modules is one pack of
 * a few MB, read in one go, not 4,000 small files (per-directory packs, 863 of them for the
 * Debian 6.12 tree, cost ~150 ms more on a warm run). A pack holds, per module file: its path
 * relative to the pack's directory, the key (device, inode, size, mtime in ns) its record was
 * read under, and the record, encoded against one table of distinct strings per pack (symbol
 * names repeat across a tree's modules) as flat number arrays; the body is one lz4 block.
 * Measured on the Debian 6.12 tree (4,230 records): the pack is 3.3 MB instead of 10.8 MB of
 * per-entry lz4 JSON, and a warm readModules takes ~0.3-0.4 s instead of ~0.6-0.9 s (most of
 * it was JSON.parse making one string per occurrence, and the GC of those).
 * A run holds its records (it returns them) and encodes them only when it writes the pack.
 *
 * Safety:
 * - a record is used only when the file's current (dev, ino, size, mtime ns) equal the stored
 *   key; the pack header names the cache format and the kabi version, another one is a miss;
 * - torn writes: a pack is written to a temporary file in the same folder and renamed into
 *   place; on read its length and SHA-1 are checked, and a bad pack is a miss for all its
 *   entries (it is rewritten whole by the run that missed);
 * - concurrent writers: each writes a whole pack and renames it atomically; the last rename
 *   wins, the loser's new entries are simply misses next time. Nothing is ever appended.
 */

/** Bump when the record shape or the reader's output changes. */
export const CACHE_FORMAT = 3;
/** The pack encoding within the format's folder (4: shared strings and flat arrays; 3 was per-entry lz4 JSON). */
const PACK_FORMAT = 4;
/** A pack body never decompresses to more than this (checked before lz4 allocates it). */
const MAX_RAW_BODY = 1 << 30;

const MAGIC = Buffer.from("KABIPCK\n", "latin1");
const FIXED_HEADER = MAGIC.length + 4 + 4 + 4 + 20 + 2; // magic, format, entry count, body length, sha1 of the body, version length

export interface FileKey {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** `$KABI_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/kabi`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KABI_CACHE_DIR) return env.KABI_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/") ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(xdg, "kabi");
}

/** The stat key of a file, or null when it cannot be stat'ed (the read will report why). */
export function fileKey(path: string): FileKey | null {
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isFile()) return null;
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
  } catch {
    return null;
  }
}

function sameKey(a: FileKey, b: FileKey): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/**
 * One entry of a pack: its key and either the record (stored by this run, or decoded on
 * lookup) or where it sits in the pack it was read from (decoded only when looked up, or
 * when the pack is rewritten).
 */
interface Entry {
  key: FileKey;
  record?: ModuleRecord;
  from?: { pack: DecodedPack; index: number };
}

interface Pack {
  file: string;
  entries: Map<string, Entry>;
  dirty: boolean;
}

export interface CacheStats {
  hits: number;
  misses: number;
  packsRead: number;
  packsBad: number;
  packsWritten: number;
}

export class RecordCache {
  readonly root: string;
  readonly stats: CacheStats = { hits: 0, misses: 0, packsRead: 0, packsBad: 0, packsWritten: 0 };
  private readonly packs = new Map<string, Pack>();
  private scopeDir: string | undefined;
  private scopePrefix: string | undefined;

  constructor(dir: string = defaultCacheDir()) {
    this.root = join(dir, `records-v${CACHE_FORMAT}`);
  }

  /** Keeps the records of `paths` in one pack, that of their deepest common directory. */
  scope(paths: readonly string[]): void {
    let common: string | undefined;
    let lastDir: string | undefined;
    for (const p of paths) {
      const raw = dirname(p);
      if (raw === lastDir) continue; // files of one folder come together: resolve each folder once
      lastDir = raw;
      const d = resolve(raw);
      if (common === undefined) common = d;
      else while (common !== d && !d.startsWith(common.endsWith(sep) ? common : common + sep)) common = dirname(common);
    }
    this.scopeDir = common;
    this.scopePrefix = common === undefined ? undefined : common.endsWith(sep) ? common : common + sep;
  }

  /** The cached record for `path` when `key` still matches, else undefined (a miss). The caller owns the object. */
  lookupRecord(path: string, key: FileKey): ModuleRecord | undefined {
    const [p, name] = this.pack(path);
    const e = p.entries.get(name);
    if (e !== undefined && sameKey(e.key, key)) {
      const record = entryRecord(e, true);
      if (record !== undefined) {
        this.stats.hits++;
        return record;
      }
    }
    this.stats.misses++;
    return undefined;
  }

  /** The cached record JSON for `path` when `key` still matches, else undefined (a miss). */
  lookup(path: string, key: FileKey): string | undefined {
    const r = this.lookupRecord(path, key);
    return r === undefined ? undefined : JSON.stringify(r);
  }

  /** Remembers `record` as the record of `path` read under `key`; written by `flush`. The record must not change until then. */
  storeRecord(path: string, key: FileKey, record: ModuleRecord): void {
    const [p, name] = this.pack(path);
    p.entries.set(name, { key, record });
    p.dirty = true;
  }

  /** Remembers `json` as the record of `path` read under `key`; written by `flush`. */
  store(path: string, key: FileKey, json: string): void {
    this.storeRecord(path, key, JSON.parse(json) as ModuleRecord);
  }

  /** Writes every pack that got new entries (temporary file, then rename). Errors are ignored: a cache is optional. */
  flush(): void {
    const dirty = [...this.packs.values()].filter((p) => p.dirty);
    if (dirty.length === 0) return;
    try {
      mkdirSync(this.root, { recursive: true });
    } catch {
      return;
    }
    for (const p of dirty) {
      const tmp = `${p.file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        writeFileSync(tmp, encodePack(p.entries));
        renameSync(tmp, p.file);
        p.dirty = false;
        this.stats.packsWritten++;
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          /* not there */
        }
      }
    }
  }

  /** The pack for `path` and the entry name within it. */
  private pack(path: string): [Pack, string] {
    const abs = isAbsolute(path) && !path.includes(`${sep}.`) && !path.includes(`${sep}${sep}`) ? path : resolve(path);
    const prefix = this.scopePrefix;
    const dir = prefix !== undefined && abs.startsWith(prefix) ? this.scopeDir! : dirname(abs);
    let p = this.packs.get(dir);
    if (p === undefined) {
      const file = join(this.root, createHash("sha1").update(dir).digest("hex") + ".pack");
      p = { file, entries: this.readPack(file), dirty: false };
      this.packs.set(dir, p);
    }
    const name = dir === this.scopeDir && prefix !== undefined && abs.startsWith(prefix) ? abs.slice(prefix.length) : relative(dir, abs);
    return [p, name];
  }

  private readPack(file: string): Map<string, Entry> {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      return new Map();
    }
    const decoded = decodePack(buf);
    if (decoded === null) {
      this.stats.packsBad++;
      return new Map();
    }
    this.stats.packsRead++;
    const entries = new Map<string, Entry>();
    decoded.names.forEach((name, index) => entries.set(name, { key: decoded.keys[index]!, from: { pack: decoded, index } }));
    return entries;
  }
}

/**
 * The record of an entry: decoded from its pack (afresh each time: the caller owns it), or the
 * one stored by this run (`copy`: a copy of it, for a path looked up after being stored).
 */
function entryRecord(e: Entry, copy: boolean): ModuleRecord | undefined {
  if (e.record !== undefined) return copy ? (JSON.parse(JSON.stringify(e.record)) as ModuleRecord) : e.record;
  if (e.from === undefined) return undefined;
  try {
    return decodeRecord(e.from.pack, e.from.index);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------- pack encoding
//
// Body (lz4-compressed as one block; the header's SHA-1 covers the compressed body):
//   u32 x 8: byte-order mark, entry count, string count, string bytes, number count, int count, 0, 0
//   u32[string count]  byte length of each string (UTF-8)
//   bytes              the strings, one after the other (each distinct string once per pack)
//   pad to 8 bytes
//   f64[number count]  numbers (CRCs, e_machine), null as NaN
//   u32[int count]     string indexes, counts and small enums of each record, in field order
//   per entry: u32 name string, u32 int offset, u32 number offset, u32 0, then dev, ino, size (u64) and mtime ns (i64)
//
// A record is a few hundred small objects whose strings (symbol names, vermagic, modinfo keys)
// repeat across a tree's modules: decoding from shared strings and flat arrays makes a warm run's
// records far cheaper than JSON.parse (one string per occurrence) and the pack a third the size.

const BOM = 0x01020304;
const FIXED_BODY = 32;
const ENTRY_SIZE = 16 + 32;
const COMPRESSIONS: readonly ModuleRecord["compression"][] = ["none", "xz", "gzip", "zstd"];
/** The record's fields in order: a record with other fields is not cached (see encodeRecord). */
const RECORD_FIELDS = "path,compression,elfClass,endianness,machine,name,builtFor,vermagic,modversions,hasModversions,exports,undefinedSymbols,modinfo,depends,importNamespaces,signed";

export interface DecodedPack {
  names: string[];
  keys: FileKey[];
  strings: string[];
  nums: Float64Array;
  ints: Uint32Array;
  intAt: Uint32Array;
  numAt: Uint32Array;
}

class PackWriter {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  readonly ints: number[] = [];
  readonly nums: number[] = [];

  str(s: string): void {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    this.ints.push(i);
  }

  strIndex(s: string): number {
    this.str(s);
    return this.ints.pop()!;
  }
}

/** Appends a record; false (nothing appended) when its shape is not the one this encoding knows. */
function encodeRecord(w: PackWriter, r: ModuleRecord): boolean {
  if (Object.keys(r).join(",") !== RECORD_FIELDS) return false;
  const compression = COMPRESSIONS.indexOf(r.compression);
  if (compression < 0 || (r.elfClass !== 32 && r.elfClass !== 64) || (r.endianness !== "little" && r.endianness !== "big")) return false;
  const intStart = w.ints.length;
  const numStart = w.nums.length;
  const ints = w.ints;
  const nums = w.nums;
  w.str(r.path);
  ints.push(compression, r.elfClass, r.endianness === "little" ? 0 : 1, (r.hasModversions ? 1 : 0) | (r.signed ? 2 : 0));
  nums.push(r.machine);
  w.str(r.name);
  w.str(r.builtFor);
  w.str(r.vermagic);
  ints.push(r.modversions.length);
  for (const m of r.modversions) {
    nums.push(m.crc);
    w.str(m.symbol);
  }
  ints.push(r.exports.length);
  for (const e of r.exports) {
    nums.push(e.crc === null ? NaN : e.crc);
    w.str(e.name);
    w.str(e.namespace);
    ints.push(e.gplOnly ? 1 : 0);
  }
  ints.push(r.undefinedSymbols.length);
  for (const u of r.undefinedSymbols) {
    w.str(u.name);
    ints.push(u.weak ? 1 : 0);
  }
  ints.push(r.modinfo.length);
  for (const m of r.modinfo) {
    w.str(m.key);
    w.str(m.value);
  }
  ints.push(r.depends.length);
  for (const d of r.depends) w.str(d);
  ints.push(r.importNamespaces.length);
  for (const n of r.importNamespaces) w.str(n);
  // Anything the fixed layout cannot hold exactly (a number in a string slot, ...) is not cached.
  const ok = ints.slice(intStart).every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) && nums.slice(numStart).every((v) => typeof v === "number");
  if (!ok) {
    ints.length = intStart;
    nums.length = numStart;
  }
  return ok;
}

export function decodeRecord(p: DecodedPack, index: number): ModuleRecord {
  const ints = p.ints;
  const nums = p.nums;
  const S = p.strings;
  let i = p.intAt[index]!;
  let n = p.numAt[index]!;
  const s = (): string => {
    const v = S[ints[i++]!];
    if (v === undefined) throw new Error("bad string index");
    return v;
  };
  const path = s();
  const compression = COMPRESSIONS[ints[i++]!]!;
  const elfClass = ints[i++] === 32 ? 32 : 64;
  const endianness = ints[i++] === 0 ? "little" : "big";
  const flags = ints[i++]!;
  const machine = nums[n++]!;
  const name = s();
  const builtFor = s();
  const vermagic = s();
  const modversions = new Array<ModuleRecord["modversions"][number]>(ints[i++]!);
  for (let k = 0; k < modversions.length; k++) {
    const crc = nums[n++]!;
    modversions[k] = { crc, symbol: s() };
  }
  const exports = new Array<ModuleRecord["exports"][number]>(ints[i++]!);
  for (let k = 0; k < exports.length; k++) {
    const c = nums[n++]!;
    const name = s();
    const namespace = s();
    exports[k] = { name, crc: Number.isNaN(c) ? null : c, gplOnly: ints[i++] === 1, namespace };
  }
  const undefinedSymbols = new Array<ModuleRecord["undefinedSymbols"][number]>(ints[i++]!);
  for (let k = 0; k < undefinedSymbols.length; k++) {
    const name = s();
    undefinedSymbols[k] = { name, weak: ints[i++] === 1 };
  }
  const modinfo = new Array<ModuleRecord["modinfo"][number]>(ints[i++]!);
  for (let k = 0; k < modinfo.length; k++) {
    const key = s();
    modinfo[k] = { key, value: s() };
  }
  const depends = new Array<string>(ints[i++]!);
  for (let k = 0; k < depends.length; k++) depends[k] = s();
  const importNamespaces = new Array<string>(ints[i++]!);
  for (let k = 0; k < importNamespaces.length; k++) importNamespaces[k] = s();
  return {
    path,
    compression,
    elfClass,
    endianness,
    machine,
    name,
    builtFor,
    vermagic,
    modversions,
    hasModversions: (flags & 1) !== 0,
    exports,
    undefinedSymbols,
    modinfo,
    depends,
    importNamespaces,
    signed: (flags & 2) !== 0,
  };
}

interface RawItem {
  name: string;
  key: FileKey;
  record: ModuleRecord;
}

const ZERO_KEY: FileKey = { dev: 0n, ino: 0n, size: 0n, mtimeNs: 0n };

/** The uncompressed body for `items` (those whose record this encoding cannot hold are left out) and how many it holds. */
function encodeRaw(items: readonly RawItem[]): { raw: Buffer; kept: number; keptNames: string[] } {
  const w = new PackWriter();
  const kept: { name: number; key: FileKey; intAt: number; numAt: number }[] = [];
  const keptNames: string[] = [];
  for (const item of items) {
    const intAt = w.ints.length;
    const numAt = w.nums.length;
    if (!encodeRecord(w, item.record)) continue;
    kept.push({ name: w.strIndex(item.name), key: item.key, intAt, numAt });
    keptNames.push(item.name);
  }
  // Strings are measured, then written straight into the body (no Buffer per string: lower peak RSS).
  const lengths = new Uint32Array(w.strings.length);
  let stringBytes = 0;
  w.strings.forEach((str, k) => (stringBytes += lengths[k] = Buffer.byteLength(str, "utf8")));
  const stringsEnd = FIXED_BODY + 4 * lengths.length + stringBytes;
  const numsAt = Math.ceil(stringsEnd / 8) * 8;
  const intsAt = numsAt + 8 * w.nums.length;
  const entriesAt = intsAt + 4 * w.ints.length;
  const raw = Buffer.alloc(entriesAt + ENTRY_SIZE * kept.length);
  const u32 = new Uint32Array(raw.buffer, raw.byteOffset, raw.length >>> 2);
  u32.set([BOM, kept.length, lengths.length, stringBytes, w.nums.length, w.ints.length, 0, 0], 0);
  let o = FIXED_BODY;
  for (const n of lengths) o = raw.writeUInt32LE(n, o);
  for (const str of w.strings) o += raw.write(str, o, "utf8");
  new Float64Array(raw.buffer, raw.byteOffset + numsAt, w.nums.length).set(w.nums);
  u32.set(w.ints, intsAt >>> 2);
  o = entriesAt;
  for (const k of kept) {
    u32.set([k.name, k.intAt, k.numAt, 0], o >>> 2);
    raw.writeBigUInt64LE(k.key.dev, o + 16);
    raw.writeBigUInt64LE(k.key.ino, o + 24);
    raw.writeBigUInt64LE(k.key.size, o + 32);
    raw.writeBigInt64LE(k.key.mtimeNs, o + 40);
    o += ENTRY_SIZE;
  }
  return { raw, kept: kept.length, keptNames };
}

/**
 * Records as one buffer (the pack body's encoding, uncompressed), for handing a batch from a
 * worker thread to the main one: decoding it makes far fewer strings than JSON.parse. Entry
 * names are the records' positions in `records`; a record the encoding cannot hold is left out
 * (the caller sends it another way).
 */
export function encodeRecordBatch(records: readonly (ModuleRecord | undefined)[]): { batch: Buffer; packed: Set<number> } {
  const items: RawItem[] = [];
  records.forEach((record, k) => record !== undefined && items.push({ name: String(k), key: ZERO_KEY, record }));
  const { raw, keptNames } = encodeRaw(items);
  return { batch: raw, packed: new Set(keptNames.map(Number)) };
}

/** The records of a batch by position (see encodeRecordBatch); throws on a malformed batch. */
export function decodeRecordBatch(batch: Uint8Array): Map<number, ModuleRecord> {
  const raw = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  const decoded = decodeRaw(raw.byteOffset % 8 === 0 ? raw : Buffer.from(raw), -1);
  if (decoded === null) throw new Error("malformed record batch");
  const out = new Map<number, ModuleRecord>();
  decoded.names.forEach((name, index) => out.set(Number(name), decodeRecord(decoded, index)));
  return out;
}

function encodePack(entries: Map<string, Entry>): Buffer {
  const items: RawItem[] = [];
  for (const [name, e] of entries) {
    const record = entryRecord(e, false);
    if (record !== undefined) items.push({ name, key: e.key, record });
  }
  const { raw, kept } = encodeRaw(items);
  const body = lz4().compressSync(raw);
  const version = Buffer.from(KABI_VERSION, "utf8");
  const header = Buffer.alloc(FIXED_HEADER + version.length);
  let h = MAGIC.copy(header, 0);
  h = header.writeUInt32LE(PACK_FORMAT, h);
  h = header.writeUInt32LE(kept, h);
  h = header.writeUInt32LE(body.length, h);
  h += createHash("sha1").update(body).digest().copy(header, h);
  h = header.writeUInt16LE(version.length, h);
  version.copy(header, h);
  return Buffer.concat([header, body]);
}

/** A pack's contents, or null when it is not a complete, intact pack of this format and kabi version. */
export function decodePack(buf: Buffer): DecodedPack | null {
  if (buf.length < FIXED_HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let o = MAGIC.length;
  const format = buf.readUInt32LE(o);
  const count = buf.readUInt32LE(o + 4);
  const bodyLength = buf.readUInt32LE(o + 8);
  const sum = buf.subarray(o + 12, o + 32);
  const versionLength = buf.readUInt16LE(o + 32);
  o = FIXED_HEADER;
  if (format !== PACK_FORMAT || buf.length !== o + versionLength + bodyLength) return null;
  if (buf.toString("utf8", o, o + versionLength) !== KABI_VERSION) return null;
  const body = buf.subarray(o + versionLength);
  if (!createHash("sha1").update(body).digest().equals(sum)) return null;
  try {
    if (body.length < 4 || body.readUInt32LE(0) > MAX_RAW_BODY) return null; // lz4-napi prepends the raw size
    let raw = lz4().uncompressSync(body);
    if (raw.byteOffset % 8 !== 0) raw = Buffer.from(raw); // typed-array views need alignment
    return decodeRaw(raw, count);
  } catch {
    return null;
  }
}

/** An uncompressed body (8-byte aligned) holding `count` entries (-1: any number), or null when malformed. */
function decodeRaw(raw: Buffer, expected: number): DecodedPack | null {
  try {
    if (raw.length < FIXED_BODY || raw.length % 4 !== 0) return null;
    const head = new Uint32Array(raw.buffer, raw.byteOffset, FIXED_BODY / 4);
    const [bom, entryCount, stringCount, stringBytes, numCount, intCount] = head as unknown as number[];
    if (bom !== BOM || (expected >= 0 && entryCount !== expected)) return null;
    const count = entryCount!;
    const stringsEnd = FIXED_BODY + 4 * stringCount! + stringBytes!;
    const numsAt = Math.ceil(stringsEnd / 8) * 8;
    const intsAt = numsAt + 8 * numCount!;
    const entriesAt = intsAt + 4 * intCount!;
    if (raw.length !== entriesAt + ENTRY_SIZE * count) return null;
    const strings = new Array<string>(stringCount!);
    let at = FIXED_BODY + 4 * stringCount!;
    for (let k = 0; k < stringCount!; k++) {
      const len = raw.readUInt32LE(FIXED_BODY + 4 * k);
      strings[k] = raw.toString("utf8", at, at + len);
      at += len;
    }
    if (at !== stringsEnd) return null;
    const names = new Array<string>(count);
    const keys = new Array<FileKey>(count);
    const intAt = new Uint32Array(count);
    const numAt = new Uint32Array(count);
    const u32 = new Uint32Array(raw.buffer, raw.byteOffset, raw.length >>> 2);
    for (let k = 0, e = entriesAt; k < count; k++, e += ENTRY_SIZE) {
      const name = strings[u32[e >>> 2]!];
      if (name === undefined) return null;
      names[k] = name;
      intAt[k] = u32[(e >>> 2) + 1]!;
      numAt[k] = u32[(e >>> 2) + 2]!;
      if (intAt[k]! > intCount! || numAt[k]! > numCount!) return null;
      keys[k] = { dev: raw.readBigUInt64LE(e + 16), ino: raw.readBigUInt64LE(e + 24), size: raw.readBigUInt64LE(e + 32), mtimeNs: raw.readBigInt64LE(e + 40) };
    }
    return {
      names,
      keys,
      strings,
      nums: new Float64Array(raw.buffer, raw.byteOffset + numsAt, numCount!),
      ints: new Uint32Array(raw.buffer, raw.byteOffset + intsAt, intCount!),
      intAt,
      numAt,
    };
  } catch {
    return null;
  }
}
