import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import type { ModuleRecord } from "../types/module-record.js";
import { sameKey, type FileKey } from "./file-key.js";
import { decodePack, encodePack } from "./pack-file.js";
import { decodeRecord, entryKey, entryKeyIs, type DecodedRecords, type RawItem } from "./record-codec.js";
import { replaceFile } from "../root/replace-file.js";

export { fileKey, type FileKey } from "./file-key.js";
export { decodePack } from "./pack-file.js";
export { decodeRecordBatch, encodeRecordBatch } from "./record-codec.js";

/**
 * Persistent cache of module records, so that a second run over the same tree reads no module.
 *
 * Layout: one pack file per tree: the deepest directory holding all the files of one call
 * (`scope`), else each file's own directory; named by a hash of that directory's absolute
 * path, under `<cache dir>/records-v<FORMAT>/`. A kernel tree of 4,000 modules is one pack of
 * a few MB, read in one go, not 4,000 small files (a pack per directory, hundreds for a kernel
 * tree, made a warm run measurably slower: bench/results.md). A pack holds, per module file: its path
 * relative to the pack's directory, the key (device, inode, size, mtime in ns) its record was
 * read under, and the record, encoded against one table of distinct strings per pack (symbol
 * names repeat across a tree's modules) as flat number arrays (record-codec.ts); the body is
 * one lz4 block (pack-file.ts).
 * Why not JSON per entry: a pack is a quarter of the size, and decoding it makes one string per
 * distinct name instead of one per occurrence (JSON.parse's strings and their GC were most of a
 * warm run; the numbers are in bench/results.md; see also record-codec.ts).
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
export const CACHE_FORMAT = 5;

/** The cache folder of runs as root that name none (FHS: a system program's cache). */
export const SYSTEM_CACHE_DIR = "/var/cache/kabi";

/**
 * `$KABI_CACHE_DIR`, else `$XDG_CACHE_HOME/kabi` (an absolute XDG_CACHE_HOME), else, as root,
 * /var/cache/kabi, else `~/.cache/kabi`. Root's runs are kernel package scriptlets, DKMS and
 * kernel-install: their HOME is whatever the caller left (/root, or the invoking user's home
 * under `sudo` without -H), so a cache under it would be root's files in a home folder, or a
 * second cache of the same system modules per way of calling.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, euid: number | undefined = process.geteuid?.()): string {
  if (env.KABI_CACHE_DIR) return env.KABI_CACHE_DIR;
  if (env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/")) return join(env.XDG_CACHE_HOME, "kabi");
  if (euid === 0) return SYSTEM_CACHE_DIR;
  return join(homedir(), ".cache", "kabi");
}

/** A record stored by this run, written to the pack by `flush`. */
interface StoredEntry {
  key: FileKey;
  record: ModuleRecord;
}

/**
 * One pack: the entries read from its file (decoded only when looked up, or when the pack is
 * rewritten) and those stored by this run, which replace a read entry of the same name.
 */
interface Pack {
  file: string;
  read: DecodedRecords | null;
  /** Entry name -> its index in `read`. */
  readIndex: Map<string, number>;
  stored: Map<string, StoredEntry>;
  dirty: boolean;
}

/** Where the files of one directory (as the caller spelled it) go: a pack and their entry names' prefix. */
interface DirPlace {
  pack: Pack;
  namePrefix: string;
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
  /** The last directory looked up, as spelled in the path: files of one folder come together. */
  private lastDir: string | undefined;
  private lastPlace: DirPlace | undefined;

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
    this.lastDir = undefined;
    this.lastPlace = undefined;
  }

  /**
   * The cached record for `path` when `key` still matches, else undefined (a miss). The caller
   * owns the record and its arrays; its modversion, undefined-symbol and modinfo entries are
   * frozen objects shared with other records of the same pack.
   */
  lookupRecord(path: string, key: FileKey): ModuleRecord | undefined {
    const [p, name] = this.locate(path);
    const record = lookupIn(p, name, key);
    if (record !== undefined) this.stats.hits++;
    else this.stats.misses++;
    return record;
  }

  /** The cached record JSON for `path` when `key` still matches, else undefined (a miss). */
  lookup(path: string, key: FileKey): string | undefined {
    const r = this.lookupRecord(path, key);
    return r === undefined ? undefined : JSON.stringify(r);
  }

  /** Remembers `record` as the record of `path` read under `key`; written by `flush`. The record must not change until then. */
  storeRecord(path: string, key: FileKey, record: ModuleRecord): void {
    const [p, name] = this.locate(path);
    p.stored.set(name, { key, record });
    p.dirty = true;
  }

  /** Remembers `json` as the record of `path` read under `key`; written by `flush`. */
  store(path: string, key: FileKey, json: string): void {
    this.storeRecord(path, key, JSON.parse(json) as ModuleRecord);
  }

  /** Writes every pack that got new entries (temporary file, then rename). Errors are ignored: a cache is optional. */
  flush(): void {
    for (const p of this.packs.values()) {
      if (!p.dirty || !replaceFile(p.file, () => encodePack(packItems(p)))) continue;
      p.dirty = false;
      this.stats.packsWritten++;
    }
  }

  /** The pack for `path` and the entry name within it. */
  private locate(path: string): [Pack, string] {
    const slash = path.lastIndexOf(sep);
    const base = path.slice(slash + 1);
    if (base === "" || base === "." || base === "..") {
      const abs = resolve(path);
      return abs === sep ? [this.place(abs).pack, ""] : this.locate(abs);
    }
    const dir = path.slice(0, slash + 1); // with its trailing separator: "" and "/" differ
    if (dir !== this.lastDir) {
      this.lastDir = dir;
      this.lastPlace = this.place(resolve(dir === "" ? "." : dir));
    }
    const place = this.lastPlace!;
    return [place.pack, place.namePrefix === "" ? base : place.namePrefix + base];
  }

  /** Where files of the absolute directory `abs` go: the scope's pack (named relative to the scope) or their folder's own. */
  private place(abs: string): DirPlace {
    const withSep = abs.endsWith(sep) ? abs : abs + sep;
    const prefix = this.scopePrefix;
    if (prefix !== undefined && withSep.startsWith(prefix)) return { pack: this.pack(this.scopeDir!), namePrefix: withSep.slice(prefix.length) };
    return { pack: this.pack(abs), namePrefix: "" };
  }

  private pack(dir: string): Pack {
    let p = this.packs.get(dir);
    if (p === undefined) {
      const file = join(this.root, createHash("sha1").update(dir).digest("hex") + ".pack");
      p = { file, read: null, readIndex: new Map(), stored: new Map(), dirty: false };
      this.readPack(p);
      this.packs.set(dir, p);
    }
    return p;
  }

  private readPack(p: Pack): void {
    let buf: Buffer;
    try {
      buf = readFileSync(p.file);
    } catch {
      return;
    }
    const decoded = decodePack(buf);
    if (decoded === null) {
      this.stats.packsBad++;
      return;
    }
    this.stats.packsRead++;
    p.read = decoded;
    const names = decoded.names;
    for (let k = 0; k < names.length; k++) p.readIndex.set(names[k]!, k);
  }
}

/** The record of `name` in `p` if stored under `key`: decoded afresh (the caller owns it), or a copy of one stored by this run. */
function lookupIn(p: Pack, name: string, key: FileKey): ModuleRecord | undefined {
  const stored = p.stored.get(name);
  if (stored !== undefined) return sameKey(stored.key, key) ? (JSON.parse(JSON.stringify(stored.record)) as ModuleRecord) : undefined;
  const index = p.readIndex.get(name);
  if (index === undefined || !entryKeyIs(p.read!, index, key)) return undefined;
  try {
    return decodeRecord(p.read!, index);
  } catch {
    return undefined;
  }
}

/** Every entry of a pack to write: those read (unless replaced) and those stored. */
function packItems(p: Pack): RawItem[] {
  const items: RawItem[] = [];
  if (p.read !== null) {
    const read = p.read;
    for (const [name, index] of p.readIndex) {
      if (p.stored.has(name)) continue;
      try {
        items.push({ name, key: entryKey(read, index), record: decodeRecord(read, index) });
      } catch {
        /* a malformed entry is dropped */
      }
    }
  }
  for (const [name, e] of p.stored) items.push({ name, key: e.key, record: e.record });
  return items;
}
