import { decodeRecords, encodeRecords, type DecodedRecords, type RawItem } from "./record-codec.js";
import { seal, unseal, type SealedKind } from "./sealed-file.js";

// A pack file: the records' body (record-codec.ts) sealed (sealed-file.ts) with its entry count.

/** The pack encoding within the cache format's folder (5: keys apart, NUL-separated strings; 4: strings by length). */
const PACK: SealedKind = { magic: Buffer.from("KABIPCK\n", "latin1"), format: 5 };

export function encodePack(items: readonly RawItem[]): Buffer {
  const { raw, keptNames } = encodeRecords(items);
  return seal(PACK, keptNames.length, raw);
}

/** A pack's contents, or null when it is not a complete, intact pack of this format and kabi version. */
export function decodePack(buf: Buffer): DecodedRecords | null {
  const opened = unseal(PACK, buf);
  return opened === null ? null : decodeRecords(opened.raw, opened.count);
}
