import { DecodeError } from "../types/compression.js";

const FOOTER_MAGIC = [0x59, 0x5a]; // "YZ"
const HEADER_SIZE = 12;
const FOOTER_SIZE = 12;

/**
 * The uncompressed size an .xz file declares in its index (summed over concatenated
 * streams), read from the end without decoding anything. Lets a whole-buffer decoder
 * refuse a decompression bomb before it allocates.
 */
export function xzDeclaredSize(buf: Uint8Array): number {
  let end = buf.length;
  let total = 0;
  while (end > 0) {
    while (end >= 4 && buf[end - 1] === 0 && buf[end - 2] === 0 && buf[end - 3] === 0 && buf[end - 4] === 0) end -= 4; // stream padding
    if (end === 0) break;
    if (end < HEADER_SIZE + FOOTER_SIZE) throw new DecodeError("corrupt xz stream (truncated)");
    const footer = end - FOOTER_SIZE;
    if (buf[footer + 10] !== FOOTER_MAGIC[0] || buf[footer + 11] !== FOOTER_MAGIC[1]) {
      throw new DecodeError("corrupt xz stream (no stream footer)");
    }
    const backwardSize = (readU32LE(buf, footer + 4) + 1) * 4;
    const indexStart = footer - backwardSize;
    if (indexStart < HEADER_SIZE || buf[indexStart] !== 0) throw new DecodeError("corrupt xz stream (bad index)");
    let pos = indexStart + 1;
    const records = readVarint(buf, pos, footer);
    pos = records.next;
    let blocksSize = 0;
    for (let i = 0; i < records.value; i++) {
      const unpadded = readVarint(buf, pos, footer);
      const uncompressed = readVarint(buf, unpadded.next, footer);
      pos = uncompressed.next;
      blocksSize += Math.ceil(unpadded.value / 4) * 4;
      total += uncompressed.value;
    }
    const streamStart = indexStart - blocksSize - HEADER_SIZE;
    if (streamStart < 0) throw new DecodeError("corrupt xz stream (bad index)");
    end = streamStart;
  }
  return total;
}

function readU32LE(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
}

function readVarint(buf: Uint8Array, at: number, limit: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 9; i++) {
    if (at + i >= limit) break;
    const b = buf[at + i]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
    scale *= 128;
  }
  throw new DecodeError("corrupt xz stream (bad index)");
}
