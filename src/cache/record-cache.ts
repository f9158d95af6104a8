import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { compressSync, uncompressSync } from "lz4-napi";
import { KABI_VERSION } from "./kabi-version.js";

/**
 * Persistent cache of module records, so that a second run over the same tree reads no module.
 *
 * Layout: one pack file per directory of modules (a kernel tree of 4,000 modules is a few
 * hundred packs, not 4,000 small files), named by a hash of the directory's absolute path,
 * under `<cache dir>/records-v<FORMAT>/`. A pack holds, per module file of that directory:
 * its name, the key (device, inode, size, mtime in ns) its record was read under, and the
 * record as JSON; the whole entry list is compressed with lz4 as one block.
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
export const CACHE_FORMAT = 1;

const MAGIC = Buffer.from("KABIPCK\n", "latin1");
const FIXED_HEADER = MAGIC.length + 4 + 4 + 4 + 20 + 2; // magic, format, raw length, packed length, sha1, version length

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
  /** The record as JSON text. */
  json: string;
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

  constructor(dir: string = defaultCacheDir()) {
    this.root = join(dir, `records-v${CACHE_FORMAT}`);
  }

  /** The cached record JSON for `path` when `key` still matches, else undefined (a miss). */
  lookup(path: string, key: FileKey): string | undefined {
    const e = this.pack(path).entries.get(basename(path));
    if (e !== undefined && sameKey(e.key, key)) {
      this.stats.hits++;
      return e.json;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Remembers `json` as the record of `path` read under `key`; written by `flush`. */
  store(path: string, key: FileKey, json: string): void {
    const p = this.pack(path);
    p.entries.set(basename(path), { key, json });
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

  private pack(path: string): Pack {
    const dir = resolve(dirname(path));
    let p = this.packs.get(dir);
    if (p === undefined) {
      const file = join(this.root, createHash("sha1").update(dir).digest("hex") + ".pack");
      p = { file, entries: this.readPack(file), dirty: false };
      this.packs.set(dir, p);
    }
    return p;
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
  const parts: Buffer[] = [];
  for (const [name, { key, json }] of entries) {
    const nameBytes = Buffer.from(name, "utf8");
    const jsonBytes = Buffer.from(json, "utf8");
    const head = Buffer.allocUnsafe(2 + nameBytes.length + 32 + 4);
    let o = head.writeUInt16LE(nameBytes.length, 0);
    o += nameBytes.copy(head, o);
    o = head.writeBigUInt64LE(key.dev, o);
    o = head.writeBigUInt64LE(key.ino, o);
    o = head.writeBigUInt64LE(key.size, o);
    o = head.writeBigInt64LE(key.mtimeNs, o);
    head.writeUInt32LE(jsonBytes.length, o);
    parts.push(head, jsonBytes);
  }
  const raw = Buffer.concat(parts);
  const packed = compressSync(raw);
  const version = Buffer.from(KABI_VERSION, "utf8");
  const header = Buffer.alloc(FIXED_HEADER + version.length);
  let o = MAGIC.copy(header, 0);
  o = header.writeUInt32LE(CACHE_FORMAT, o);
  o = header.writeUInt32LE(raw.length, o);
  o = header.writeUInt32LE(packed.length, o);
  o += createHash("sha1").update(packed).digest().copy(header, o);
  o = header.writeUInt16LE(version.length, o);
  version.copy(header, o);
  return Buffer.concat([header, packed]);
}

/** The entries of a pack, or null when it is not a complete, intact pack of this format and kabi version. */
export function decodePack(buf: Buffer): Map<string, Entry> | null {
  if (buf.length < FIXED_HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let o = MAGIC.length;
  const format = buf.readUInt32LE(o);
  const rawLength = buf.readUInt32LE(o + 4);
  const packedLength = buf.readUInt32LE(o + 8);
  const sum = buf.subarray(o + 12, o + 32);
  const versionLength = buf.readUInt16LE(o + 32);
  o = FIXED_HEADER;
  if (format !== CACHE_FORMAT || buf.length !== o + versionLength + packedLength) return null;
  if (buf.toString("utf8", o, o + versionLength) !== KABI_VERSION) return null;
  const packed = buf.subarray(o + versionLength);
  if (!createHash("sha1").update(packed).digest().equals(sum)) return null;
  let raw: Buffer;
  try {
    raw = uncompressSync(packed);
  } catch {
    return null;
  }
  if (raw.length !== rawLength) return null;
  const entries = new Map<string, Entry>();
  let p = 0;
  while (p < raw.length) {
    if (p + 2 > raw.length) return null;
    const nameLength = raw.readUInt16LE(p);
    p += 2;
    if (p + nameLength + 36 > raw.length) return null;
    const name = raw.toString("utf8", p, p + nameLength);
    p += nameLength;
    const key: FileKey = {
      dev: raw.readBigUInt64LE(p),
      ino: raw.readBigUInt64LE(p + 8),
      size: raw.readBigUInt64LE(p + 16),
      mtimeNs: raw.readBigInt64LE(p + 24),
    };
    const jsonLength = raw.readUInt32LE(p + 32);
    p += 36;
    if (p + jsonLength > raw.length) return null;
    entries.set(name, { key, json: raw.toString("utf8", p, p + jsonLength) });
    p += jsonLength;
  }
  return entries;
}
