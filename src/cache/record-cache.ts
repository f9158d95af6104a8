import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { compressSync, uncompressSync } from "lz4-napi";
import { KABI_VERSION } from "./kabi-version.js";

/**
 * Persistent cache of module records, so that a second run over the same tree reads no module.
 *
 * Layout: one pack file per tree: the deepest directory holding all the files of one call
 * (`scope`), else each file's own directory; named by a hash of that directory's absolute
 * path, under `<cache dir>/records-v<FORMAT>/`. A kernel tree of 4,000 modules is one pack of
 * a few MB, read in one go, not 4,000 small files (per-directory packs, 863 of them for the
 * Debian 6.12 tree, cost ~150 ms more on a warm run). A pack holds, per module file: its path
 * relative to the pack's directory, the key (device, inode, size, mtime in ns) its record was
 * read under, and the record as JSON compressed with lz4 (per entry, so that a run holds only
 * compressed records while it reads, and a warm run decompresses only what it looks up).
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

interface Entry {
  key: FileKey;
  /** The record as JSON text, lz4-compressed (compressed as soon as it is stored, to keep memory low). */
  packed: Buffer;
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

  constructor(dir: string = defaultCacheDir()) {
    this.root = join(dir, `records-v${CACHE_FORMAT}`);
  }

  /** Keeps the records of `paths` in one pack, that of their deepest common directory. */
  scope(paths: readonly string[]): void {
    let common: string | undefined;
    for (const p of paths) {
      const d = resolve(dirname(p));
      if (common === undefined) common = d;
      else while (common !== d && !d.startsWith(common.endsWith(sep) ? common : common + sep)) common = dirname(common);
    }
    this.scopeDir = common;
  }

  /** The cached record JSON for `path` when `key` still matches, else undefined (a miss). */
  lookup(path: string, key: FileKey): string | undefined {
    const [p, name] = this.pack(path);
    const e = p.entries.get(name);
    if (e !== undefined && sameKey(e.key, key)) {
      try {
        const json = uncompressSync(e.packed).toString("utf8");
        this.stats.hits++;
        return json;
      } catch {
        /* cannot happen past the checksum; a miss all the same */
      }
    }
    this.stats.misses++;
    return undefined;
  }

  /** Remembers `json` as the record of `path` read under `key`; written by `flush`. */
  store(path: string, key: FileKey, json: string): void {
    const [p, name] = this.pack(path);
    p.entries.set(name, { key, packed: compressSync(Buffer.from(json, "utf8")) });
    p.dirty = true;
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
    const abs = resolve(path);
    const scope = this.scopeDir;
    const dir = scope !== undefined && abs.startsWith(scope.endsWith(sep) ? scope : scope + sep) ? scope : dirname(abs);
    let p = this.packs.get(dir);
    if (p === undefined) {
      const file = join(this.root, createHash("sha1").update(dir).digest("hex") + ".pack");
      p = { file, entries: this.readPack(file), dirty: false };
      this.packs.set(dir, p);
    }
    return [p, relative(dir, abs)];
  }

  private readPack(file: string): Map<string, Entry> {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      return new Map();
    }
    const entries = decodePack(buf);
    if (entries === null) {
      this.stats.packsBad++;
      return new Map();
    }
    this.stats.packsRead++;
    return entries;
  }
}

function encodePack(entries: Map<string, Entry>): Buffer {
  let total = 0;
  for (const [name, { packed }] of entries) total += 2 + Buffer.byteLength(name) + 36 + packed.length;
  const body = Buffer.allocUnsafe(total);
  let w = 0;
  for (const [name, { key, packed }] of entries) {
    const nameLength = body.write(name, w + 2, "utf8");
    body.writeUInt16LE(nameLength, w);
    w += 2 + nameLength;
    w = body.writeBigUInt64LE(key.dev, w);
    w = body.writeBigUInt64LE(key.ino, w);
    w = body.writeBigUInt64LE(key.size, w);
    w = body.writeBigInt64LE(key.mtimeNs, w);
    w = body.writeUInt32LE(packed.length, w);
    w += packed.copy(body, w);
  }
  const version = Buffer.from(KABI_VERSION, "utf8");
  const header = Buffer.alloc(FIXED_HEADER + version.length);
  let o = MAGIC.copy(header, 0);
  o = header.writeUInt32LE(CACHE_FORMAT, o);
  o = header.writeUInt32LE(entries.size, o);
  o = header.writeUInt32LE(body.length, o);
  o += createHash("sha1").update(body).digest().copy(header, o);
  o = header.writeUInt16LE(version.length, o);
  version.copy(header, o);
  return Buffer.concat([header, body]);
}

/** The entries of a pack, or null when it is not a complete, intact pack of this format and kabi version. */
export function decodePack(buf: Buffer): Map<string, Entry> | null {
  if (buf.length < FIXED_HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let o = MAGIC.length;
  const format = buf.readUInt32LE(o);
  const count = buf.readUInt32LE(o + 4);
  const bodyLength = buf.readUInt32LE(o + 8);
  const sum = buf.subarray(o + 12, o + 32);
  const versionLength = buf.readUInt16LE(o + 32);
  o = FIXED_HEADER;
  if (format !== CACHE_FORMAT || buf.length !== o + versionLength + bodyLength) return null;
  if (buf.toString("utf8", o, o + versionLength) !== KABI_VERSION) return null;
  const body = buf.subarray(o + versionLength);
  if (!createHash("sha1").update(body).digest().equals(sum)) return null;
  const entries = new Map<string, Entry>();
  let p = 0;
  while (p < body.length) {
    if (p + 2 > body.length) return null;
    const nameLength = body.readUInt16LE(p);
    p += 2;
    if (p + nameLength + 36 > body.length) return null;
    const name = body.toString("utf8", p, p + nameLength);
    p += nameLength;
    const key: FileKey = {
      dev: body.readBigUInt64LE(p),
      ino: body.readBigUInt64LE(p + 8),
      size: body.readBigUInt64LE(p + 16),
      mtimeNs: body.readBigInt64LE(p + 24),
    };
    const packedLength = body.readUInt32LE(p + 32);
    p += 36;
    if (p + packedLength > body.length) return null;
    entries.set(name, { key, packed: body.subarray(p, p + packedLength) });
    p += packedLength;
  }
  return entries.size === count ? entries : null;
}
