import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { KABI_VERSION } from "./kabi-version.js";

/** lz4-napi, loaded when a cache file is first read or written (not for --no-cache runs). */
const lz4 = (): typeof import("lz4-napi") => createRequire(import.meta.url)("lz4-napi") as typeof import("lz4-napi");

// A cache file: a header naming its kind (magic), its format and the kabi version that wrote it,
// then a body as one lz4 block, whose length and SHA-1 the header holds. A file that is torn,
// of another kind, format or version opens as null (a miss).

/** A body never decompresses to more than this (checked before lz4 allocates it). */
const MAX_RAW_BODY = 1 << 30;

/** What kind of cache file, and the body encoding's format number within it. */
export interface SealedKind {
  /** 8 bytes. */
  magic: Buffer;
  format: number;
}

const FIXED_HEADER = 8 + 4 + 4 + 4 + 20 + 2; // magic, format, count, body length, sha1 of the body, version length

/** `raw` sealed as a file of `kind`; `count` is stored beside it (a pack's entry count). */
export function seal(kind: SealedKind, count: number, raw: Buffer): Buffer {
  const body = lz4().compressSync(raw);
  const version = Buffer.from(KABI_VERSION, "utf8");
  const header = Buffer.alloc(FIXED_HEADER + version.length);
  let h = kind.magic.copy(header, 0);
  h = header.writeUInt32LE(kind.format, h);
  h = header.writeUInt32LE(count, h);
  h = header.writeUInt32LE(body.length, h);
  h += createHash("sha1").update(body).digest().copy(header, h);
  h = header.writeUInt16LE(version.length, h);
  version.copy(header, h);
  return Buffer.concat([header, body]);
}

/** The raw body (8-byte aligned) and count of a complete, intact file of `kind` and this kabi version, else null. */
export function unseal(kind: SealedKind, buf: Buffer): { count: number; raw: Buffer } | null {
  if (buf.length < FIXED_HEADER || !buf.subarray(0, 8).equals(kind.magic)) return null;
  const format = buf.readUInt32LE(8);
  const count = buf.readUInt32LE(12);
  const bodyLength = buf.readUInt32LE(16);
  const sum = buf.subarray(20, 40);
  const versionLength = buf.readUInt16LE(40);
  if (format !== kind.format || buf.length !== FIXED_HEADER + versionLength + bodyLength) return null;
  if (buf.toString("utf8", FIXED_HEADER, FIXED_HEADER + versionLength) !== KABI_VERSION) return null;
  const body = buf.subarray(FIXED_HEADER + versionLength);
  if (!createHash("sha1").update(body).digest().equals(sum)) return null;
  try {
    if (body.length < 4 || body.readUInt32LE(0) > MAX_RAW_BODY) return null; // lz4-napi prepends the raw size
    let raw = lz4().uncompressSync(body);
    if (raw.byteOffset % 8 !== 0) raw = Buffer.from(raw); // typed-array views need alignment
    return { count, raw };
  } catch {
    return null;
  }
}
