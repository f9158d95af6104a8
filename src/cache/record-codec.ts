import type { ModuleRecord } from "../types/module-record.js";
import type { FileKey } from "./file-key.js";

// Records as one flat buffer: the body of a cache pack (uncompressed) and the batches the read
// pool's workers send back. A record is a few hundred small objects whose strings (symbol names,
// vermagic, modinfo keys) and whole entries ({crc, symbol} of a modversion, {name, weak} of an
// undefined symbol) repeat across a tree's modules: the 6.12 tree's 4,230 records hold 201,729
// modversions, 197,499 undefined symbols and 74,048 modinfo entries, of which 19,797, 19,796 and
// 48,047 are distinct. Each distinct string and entry is stored once, and decoded once per body:
// records decoded from one body share their entry objects, which are frozen. Making and copying
// ~400,000 more objects through the young generation was most of a warm run's decoding and GC.
//
// Layout (the byte order of the machine that wrote it: the byte-order mark tells; 8-byte aligned):
//   u32 x 16           byte-order mark, entries, strings, string bytes, numbers, ints,
//                      modversions, undefined symbols, modinfo entries (distinct), then 0s
//   u64[4 x entries]   per entry: dev, ino, size, mtime ns (two's complement)
//   f64[numbers]       per record: e_machine, each export's CRC (null as NaN)
//   f64[modversions]   each distinct modversion's CRC
//   u32[3 x entries]   per entry: name (string index), first int, first number
//   u32[ints]          per record, in field order: string indexes, small enums, counts, export
//                      flags, and the indexes of its modversions, undefined symbols, modinfo entries;
//                      last, the size of .gnu.linkonce.this_module
//   u32[modversions]   each distinct modversion's symbol (string index)
//   u32[2 x undefined] each distinct undefined symbol's name (string index), then weak (0/1) of each
//   u32[2 x modinfo]   each distinct modinfo entry's key, then each one's value (string indexes)
//   bytes              the strings (UTF-8), NUL between two: one toString and one split decode
//                      them all (a record with a NUL in a string is not encoded)

const BOM = 0x01020304;
const FIXED_BODY = 64;
const KEY_SIZE = 32;
const ENTRY_INTS = 3;
const COMPRESSIONS: readonly ModuleRecord["compression"][] = ["none", "xz", "gzip", "zstd"];
/** The record's fields in order: a record with other fields is not encoded (see encodeRecord). */
const RECORD_FIELDS = "path,compression,elfClass,endianness,machine,name,builtFor,vermagic,modversions,hasModversions,exports,undefinedSymbols,modinfo,depends,importNamespaces,signed,signature,thisModuleSize";
/** The signature's fields in order (see encodeRecord). */
const SIGNATURE_FIELDS = "signer,keyId,hashAlgorithm,idType,invalid";
const NO_INDEX = 0xffffffff;

type Modversion = ModuleRecord["modversions"][number];
type UndefinedSymbol = ModuleRecord["undefinedSymbols"][number];
type ModinfoEntry = ModuleRecord["modinfo"][number];

export interface RawItem {
  name: string;
  key: FileKey;
  record: ModuleRecord;
}

/** A decoded body: the entries' names and keys, the flat arrays, and the entry objects made so far. */
export interface DecodedRecords {
  names: string[];
  strings: string[];
  nums: Float64Array;
  ints: Uint32Array;
  /** Per entry: name, first int, first number (ENTRY_INTS each). */
  entries: Uint32Array;
  keys: BigUint64Array;
  /** The same memory as `keys`, signed (mtime ns may be negative). */
  signedKeys: BigInt64Array;
  modversionCrcs: Float64Array;
  modversionSymbols: Uint32Array;
  undefinedNames: Uint32Array;
  undefinedWeak: Uint32Array;
  modinfoKeys: Uint32Array;
  modinfoValues: Uint32Array;
  /** Entry objects by index, made when first needed and shared by the records decoded from this body. */
  modversions: (Modversion | undefined)[];
  undefinedSymbols: (UndefinedSymbol | undefined)[];
  modinfo: (ModinfoEntry | undefined)[];
}

/** Distinct (u32, number) pairs, numbered in order of first appearance. */
class PairIndex {
  private readonly exact = new Map<number, number>();
  private readonly other = new Map<string, number>();
  size = 0;
  /** Whether the last pair asked for was new (the caller then appends its columns). */
  added = false;

  id(a: number, b: number): number {
    // a x 2^32 + b is exact below 2^53: a < 2^21 and b a u32; anything else keys by text.
    const exact = a < 0x200000 && b >>> 0 === b && !Object.is(b, -0);
    const k = exact ? a * 0x100000000 + b : `${a}:${Object.is(b, -0) ? "-0" : b}`;
    const i = exact ? this.exact.get(k as number) : this.other.get(k as string);
    this.added = i === undefined;
    if (i !== undefined) return i;
    if (exact) this.exact.set(k as number, this.size);
    else this.other.set(k as string, this.size);
    return this.size++;
  }
}

class RecordWriter {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  readonly ints: number[] = [];
  readonly nums: number[] = [];
  readonly modversionCrcs: number[] = [];
  readonly modversionSymbols: number[] = [];
  readonly undefinedNames: number[] = [];
  readonly undefinedWeak: number[] = [];
  readonly modinfoKeys: number[] = [];
  readonly modinfoValues: number[] = [];
  private readonly modversionIndex = new PairIndex();
  private readonly undefinedIndex = new PairIndex();
  private readonly modinfoIndex = new PairIndex();
  /** Set when a value could not be encoded (a string slot not holding a string, or one with a NUL). */
  bad = false;

  str(s: string): void {
    this.ints.push(this.strIndex(s));
  }

  strIndex(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      if (typeof s !== "string" || s.includes("\0")) {
        this.bad = true;
        return NO_INDEX;
      }
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  modversion(m: Modversion): void {
    const symbol = this.strIndex(m.symbol);
    if (typeof m.crc !== "number") this.bad = true;
    const id = this.modversionIndex.id(symbol, m.crc);
    if (this.modversionIndex.added) {
      this.modversionCrcs.push(m.crc);
      this.modversionSymbols.push(symbol);
    }
    this.ints.push(id);
  }

  undefinedSymbol(u: UndefinedSymbol): void {
    const name = this.strIndex(u.name);
    const weak = u.weak ? 1 : 0;
    const id = this.undefinedIndex.id(name, weak);
    if (this.undefinedIndex.added) {
      this.undefinedNames.push(name);
      this.undefinedWeak.push(weak);
    }
    this.ints.push(id);
  }

  modinfoEntry(m: ModinfoEntry): void {
    const key = this.strIndex(m.key);
    const value = this.strIndex(m.value);
    const id = this.modinfoIndex.id(key, value);
    if (this.modinfoIndex.added) {
      this.modinfoKeys.push(key);
      this.modinfoValues.push(value);
    }
    this.ints.push(id);
  }
}

/** Appends a record; false (nothing appended) when its shape is not the one this encoding knows. */
function encodeRecord(w: RecordWriter, r: ModuleRecord): boolean {
  if (Object.keys(r).join(",") !== RECORD_FIELDS) return false;
  const compression = COMPRESSIONS.indexOf(r.compression);
  if (compression < 0 || (r.elfClass !== 32 && r.elfClass !== 64) || (r.endianness !== "little" && r.endianness !== "big")) return false;
  const intStart = w.ints.length;
  const numStart = w.nums.length;
  const ints = w.ints;
  const nums = w.nums;
  w.bad = false;
  w.str(r.path);
  ints.push(compression, r.elfClass, r.endianness === "little" ? 0 : 1, (r.hasModversions ? 1 : 0) | (r.signed ? 2 : 0));
  nums.push(r.machine);
  w.str(r.name);
  w.str(r.builtFor);
  w.str(r.vermagic);
  ints.push(r.modversions.length);
  for (const m of r.modversions) w.modversion(m);
  ints.push(r.exports.length);
  for (const e of r.exports) {
    nums.push(e.crc === null ? NaN : e.crc);
    w.str(e.name);
    w.str(e.namespace);
    ints.push(e.gplOnly ? 1 : 0);
  }
  ints.push(r.undefinedSymbols.length);
  for (const u of r.undefinedSymbols) w.undefinedSymbol(u);
  ints.push(r.modinfo.length);
  for (const m of r.modinfo) w.modinfoEntry(m);
  ints.push(r.depends.length);
  for (const d of r.depends) w.str(d);
  ints.push(r.importNamespaces.length);
  for (const n of r.importNamespaces) w.str(n);
  // The signature: 0 (none), or 1, signer, key id, hash algorithm, id_type + 1 (-1 when cut
  // off), then 0 or 1 and the reason it is invalid.
  const sig = r.signature;
  if (sig === null) ints.push(0);
  else if (typeof sig !== "object" || Object.keys(sig).join(",") !== SIGNATURE_FIELDS) w.bad = true;
  else {
    ints.push(1);
    w.str(sig.signer);
    w.str(sig.keyId);
    w.str(sig.hashAlgorithm);
    ints.push(sig.idType + 1);
    if (sig.invalid === null) ints.push(0);
    else {
      ints.push(1);
      w.str(sig.invalid);
    }
  }
  ints.push(r.thisModuleSize);
  // Anything the fixed layout cannot hold exactly (a number in a string slot, ...) is not encoded;
  // distinct entries it added stay in the tables, unused.
  let ok = !w.bad;
  for (let k = intStart; ok && k < ints.length; k++) {
    const v = ints[k]!;
    ok = Number.isInteger(v) && v >= 0 && v < NO_INDEX;
  }
  for (let k = numStart; ok && k < nums.length; k++) ok = typeof nums[k] === "number";
  if (!ok) {
    ints.length = intStart;
    nums.length = numStart;
  }
  return ok;
}

function str(p: DecodedRecords, index: number): string {
  const v = p.strings[index];
  if (v === undefined) throw new Error("bad string index");
  return v;
}

function modversionAt(p: DecodedRecords, j: number): Modversion {
  let o = p.modversions[j];
  if (o === undefined) {
    if (j >= p.modversionSymbols.length) throw new Error("bad modversion index");
    o = p.modversions[j] = Object.freeze({ crc: p.modversionCrcs[j]!, symbol: str(p, p.modversionSymbols[j]!) });
  }
  return o;
}

function undefinedAt(p: DecodedRecords, j: number): UndefinedSymbol {
  let o = p.undefinedSymbols[j];
  if (o === undefined) {
    if (j >= p.undefinedNames.length) throw new Error("bad undefined symbol index");
    o = p.undefinedSymbols[j] = Object.freeze({ name: str(p, p.undefinedNames[j]!), weak: p.undefinedWeak[j] === 1 });
  }
  return o;
}

function modinfoAt(p: DecodedRecords, j: number): ModinfoEntry {
  let o = p.modinfo[j];
  if (o === undefined) {
    if (j >= p.modinfoKeys.length) throw new Error("bad modinfo index");
    o = p.modinfo[j] = Object.freeze({ key: str(p, p.modinfoKeys[j]!), value: str(p, p.modinfoValues[j]!) });
  }
  return o;
}

/**
 * The record of entry `index`; throws on a malformed body (an index out of range). Its
 * modversions, undefined symbols and modinfo entries are frozen objects shared with the other
 * records decoded from `p`; the record and its arrays are its own.
 */
export function decodeRecord(p: DecodedRecords, index: number): ModuleRecord {
  const ints = p.ints;
  const nums = p.nums;
  let i = p.entries[index * ENTRY_INTS + 1]!;
  let n = p.entries[index * ENTRY_INTS + 2]!;
  const path = str(p, ints[i++]!);
  const compression = COMPRESSIONS[ints[i++]!]!;
  const elfClass = ints[i++] === 32 ? 32 : 64;
  const endianness = ints[i++] === 0 ? "little" : "big";
  const flags = ints[i++]!;
  const machine = nums[n++]!;
  const name = str(p, ints[i++]!);
  const builtFor = str(p, ints[i++]!);
  const vermagic = str(p, ints[i++]!);
  const modversions = new Array<Modversion>(ints[i++]!);
  for (let k = 0; k < modversions.length; k++) modversions[k] = modversionAt(p, ints[i++]!);
  const exports = new Array<ModuleRecord["exports"][number]>(ints[i++]!);
  for (let k = 0; k < exports.length; k++) {
    const c = nums[n++]!;
    const name = str(p, ints[i++]!);
    const namespace = str(p, ints[i++]!);
    exports[k] = { name, crc: Number.isNaN(c) ? null : c, gplOnly: ints[i++] === 1, namespace };
  }
  const undefinedSymbols = new Array<UndefinedSymbol>(ints[i++]!);
  for (let k = 0; k < undefinedSymbols.length; k++) undefinedSymbols[k] = undefinedAt(p, ints[i++]!);
  const modinfo = new Array<ModinfoEntry>(ints[i++]!);
  for (let k = 0; k < modinfo.length; k++) modinfo[k] = modinfoAt(p, ints[i++]!);
  const depends = new Array<string>(ints[i++]!);
  for (let k = 0; k < depends.length; k++) depends[k] = str(p, ints[i++]!);
  const importNamespaces = new Array<string>(ints[i++]!);
  for (let k = 0; k < importNamespaces.length; k++) importNamespaces[k] = str(p, ints[i++]!);
  let signature: ModuleRecord["signature"] = null;
  if (ints[i++] === 1) {
    const signer = str(p, ints[i++]!);
    const keyId = str(p, ints[i++]!);
    const hashAlgorithm = str(p, ints[i++]!);
    const idType = ints[i++]! - 1;
    const invalid = ints[i++] === 1 ? str(p, ints[i++]!) : null;
    signature = { signer, keyId, hashAlgorithm, idType, invalid };
  }
  const thisModuleSize = ints[i++]!;
  if (i > ints.length || n > nums.length) throw new Error("record past the end of the body");
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
    signature,
    thisModuleSize,
  };
}

/** Whether entry `index` was stored under `key`. */
export function entryKeyIs(p: DecodedRecords, index: number, key: FileKey): boolean {
  const k = index * 4;
  return p.keys[k] === key.dev && p.keys[k + 1] === key.ino && p.keys[k + 2] === key.size && p.signedKeys[k + 3] === key.mtimeNs;
}

export function entryKey(p: DecodedRecords, index: number): FileKey {
  const k = index * 4;
  return { dev: p.keys[k]!, ino: p.keys[k + 1]!, size: p.keys[k + 2]!, mtimeNs: p.signedKeys[k + 3]! };
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Where each section starts, from the header's counts. */
function sections(entries: number, nums: number, ints: number, modversions: number, undefinedSymbols: number, modinfo: number) {
  const keysAt = FIXED_BODY;
  const numsAt = keysAt + KEY_SIZE * entries;
  const modversionCrcsAt = numsAt + 8 * nums;
  const entriesAt = modversionCrcsAt + 8 * modversions;
  const intsAt = entriesAt + 4 * ENTRY_INTS * entries;
  const modversionSymbolsAt = intsAt + 4 * ints;
  const undefinedAt = modversionSymbolsAt + 4 * modversions;
  const modinfoAt = undefinedAt + 8 * undefinedSymbols;
  const stringsAt = modinfoAt + 8 * modinfo;
  return { keysAt, numsAt, modversionCrcsAt, entriesAt, intsAt, modversionSymbolsAt, undefinedAt, modinfoAt, stringsAt };
}

/** The body for `items` (those whose record this encoding cannot hold are left out) and the names it holds. */
export function encodeRecords(items: readonly RawItem[]): { raw: Buffer; keptNames: string[] } {
  const w = new RecordWriter();
  const kept: { name: number; key: FileKey; intAt: number; numAt: number }[] = [];
  const keptNames: string[] = [];
  for (const item of items) {
    const intAt = w.ints.length;
    const numAt = w.nums.length;
    w.bad = false;
    const name = w.strIndex(item.name);
    if (w.bad || !encodeRecord(w, item.record)) continue;
    kept.push({ name, key: item.key, intAt, numAt });
    keptNames.push(item.name);
  }
  const text = w.strings.join("\0");
  const stringBytes = Buffer.byteLength(text, "utf8");
  const mvCount = w.modversionSymbols.length;
  const unCount = w.undefinedNames.length;
  const miCount = w.modinfoKeys.length;
  const at = sections(kept.length, w.nums.length, w.ints.length, mvCount, unCount, miCount);
  // Buffer.alloc: its own zeroed ArrayBuffer, never a slice of the shared pool (batches are transferred).
  const raw = Buffer.alloc(align8(at.stringsAt + stringBytes));
  const u32 = new Uint32Array(raw.buffer, raw.byteOffset, at.stringsAt >>> 2);
  const f64 = new Float64Array(raw.buffer, raw.byteOffset, at.entriesAt >>> 3);
  u32.set([BOM, kept.length, w.strings.length, stringBytes, w.nums.length, w.ints.length, mvCount, unCount, miCount], 0);
  const keys = new BigUint64Array(raw.buffer, raw.byteOffset + at.keysAt, 4 * kept.length);
  const signedKeys = new BigInt64Array(raw.buffer, raw.byteOffset + at.keysAt, 4 * kept.length);
  kept.forEach((k, e) => {
    keys[4 * e] = k.key.dev;
    keys[4 * e + 1] = k.key.ino;
    keys[4 * e + 2] = k.key.size;
    signedKeys[4 * e + 3] = k.key.mtimeNs;
    u32.set([k.name, k.intAt, k.numAt], (at.entriesAt >>> 2) + ENTRY_INTS * e);
  });
  f64.set(w.nums, at.numsAt >>> 3);
  f64.set(w.modversionCrcs, at.modversionCrcsAt >>> 3);
  u32.set(w.ints, at.intsAt >>> 2);
  u32.set(w.modversionSymbols, at.modversionSymbolsAt >>> 2);
  u32.set(w.undefinedNames, at.undefinedAt >>> 2);
  u32.set(w.undefinedWeak, (at.undefinedAt >>> 2) + unCount);
  u32.set(w.modinfoKeys, at.modinfoAt >>> 2);
  u32.set(w.modinfoValues, (at.modinfoAt >>> 2) + miCount);
  raw.write(text, at.stringsAt, "utf8");
  return { raw, keptNames };
}

/** A body (8-byte aligned) holding `expected` entries (-1: any number), or null when malformed. */
export function decodeRecords(raw: Buffer, expected: number): DecodedRecords | null {
  try {
    if (raw.length < FIXED_BODY || raw.byteOffset % 8 !== 0) return null;
    const head = new Uint32Array(raw.buffer, raw.byteOffset, FIXED_BODY / 4);
    const [bom, count, stringCount, stringBytes, numCount, intCount, mvCount, unCount, miCount] = head as unknown as number[];
    if (bom !== BOM || (expected >= 0 && count !== expected)) return null;
    const at = sections(count!, numCount!, intCount!, mvCount!, unCount!, miCount!);
    if (raw.length !== align8(at.stringsAt + stringBytes!) || (stringCount === 0 && stringBytes !== 0)) return null;
    const strings = stringCount === 0 ? [] : raw.toString("utf8", at.stringsAt, at.stringsAt + stringBytes!).split("\0");
    if (strings.length !== stringCount) return null;
    const u32 = (from: number, length: number) => new Uint32Array(raw.buffer, raw.byteOffset + from, length);
    const entries = u32(at.entriesAt, ENTRY_INTS * count!);
    const names = new Array<string>(count!);
    for (let k = 0; k < count!; k++) {
      const name = strings[entries[ENTRY_INTS * k]!];
      if (name === undefined || entries[ENTRY_INTS * k + 1]! > intCount! || entries[ENTRY_INTS * k + 2]! > numCount!) return null;
      names[k] = name;
    }
    return {
      names,
      strings,
      nums: new Float64Array(raw.buffer, raw.byteOffset + at.numsAt, numCount!),
      ints: u32(at.intsAt, intCount!),
      entries,
      keys: new BigUint64Array(raw.buffer, raw.byteOffset + at.keysAt, 4 * count!),
      signedKeys: new BigInt64Array(raw.buffer, raw.byteOffset + at.keysAt, 4 * count!),
      modversionCrcs: new Float64Array(raw.buffer, raw.byteOffset + at.modversionCrcsAt, mvCount!),
      modversionSymbols: u32(at.modversionSymbolsAt, mvCount!),
      undefinedNames: u32(at.undefinedAt, unCount!),
      undefinedWeak: u32(at.undefinedAt + 4 * unCount!, unCount!),
      modinfoKeys: u32(at.modinfoAt, miCount!),
      modinfoValues: u32(at.modinfoAt + 4 * miCount!, miCount!),
      modversions: new Array<Modversion | undefined>(mvCount!),
      undefinedSymbols: new Array<UndefinedSymbol | undefined>(unCount!),
      modinfo: new Array<ModinfoEntry | undefined>(miCount!),
    };
  } catch {
    return null;
  }
}

const ZERO_KEY: FileKey = { dev: 0n, ino: 0n, size: 0n, mtimeNs: 0n };

/**
 * Records as one buffer, for handing a batch from a worker thread to the main one. Entry names
 * are the records' positions in `records`; a record the encoding cannot hold is left out (the
 * caller sends it another way).
 */
export function encodeRecordBatch(records: readonly (ModuleRecord | undefined)[]): { batch: Buffer; packed: Set<number> } {
  const items: RawItem[] = [];
  records.forEach((record, k) => record !== undefined && items.push({ name: String(k), key: ZERO_KEY, record }));
  const { raw, keptNames } = encodeRecords(items);
  return { batch: raw, packed: new Set(keptNames.map(Number)) };
}

/** The records of a batch by position (see encodeRecordBatch); throws on a malformed batch. */
export function decodeRecordBatch(batch: Uint8Array): Map<number, ModuleRecord> {
  const raw = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  const decoded = decodeRecords(raw.byteOffset % 8 === 0 ? raw : Buffer.from(raw), -1);
  if (decoded === null) throw new Error("malformed record batch");
  const out = new Map<number, ModuleRecord>();
  decoded.names.forEach((name, index) => out.set(Number(name), decodeRecord(decoded, index)));
  return out;
}
