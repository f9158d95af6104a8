import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { KABI_VERSION } from "./kabi-version.js";
import { decodeRecords, encodeRecords, type DecodedRecords, type RawItem } from "./record-codec.js";

/** lz4-napi, loaded when a pack is first read or written (not for --no-cache runs nor the read-pool workers' batches). */
const lz4 = (): typeof import("lz4-napi") => createRequire(import.meta.url)("lz4-napi") as typeof import("lz4-napi");

// A pack file: a header naming the format and the kabi version, then the records' body
// (record-codec.ts) as one lz4 block, whose length and SHA-1 the header holds.

/** The pack encoding within the cache format's folder (5: keys apart, NUL-separated strings; 4: strings by length). */
const PACK_FORMAT = 5;
/** A pack body never decompresses to more than this (checked before lz4 allocates it). */
const MAX_RAW_BODY = 1 << 30;

const MAGIC = Buffer.from("KABIPCK\n", "latin1");
const FIXED_HEADER = MAGIC.length + 4 + 4 + 4 + 20 + 2; // magic, format, entry count, body length, sha1 of the body, version length

export function encodePack(items: readonly RawItem[]): Buffer {
  const { raw, keptNames } = encodeRecords(items);
  const body = lz4().compressSync(raw);
  const version = Buffer.from(KABI_VERSION, "utf8");
  const header = Buffer.alloc(FIXED_HEADER + version.length);
  let h = MAGIC.copy(header, 0);
  h = header.writeUInt32LE(PACK_FORMAT, h);
  h = header.writeUInt32LE(keptNames.length, h);
  h = header.writeUInt32LE(body.length, h);
  h += createHash("sha1").update(body).digest().copy(header, h);
  h = header.writeUInt16LE(version.length, h);
  version.copy(header, h);
  return Buffer.concat([header, body]);
}

/** A pack's contents, or null when it is not a complete, intact pack of this format and kabi version. */
export function decodePack(buf: Buffer): DecodedRecords | null {
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
    return decodeRecords(raw, count);
  } catch {
    return null;
  }
}
