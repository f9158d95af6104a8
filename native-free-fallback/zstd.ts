import { decompress as decompressFrame, Decompress } from "fzstd";
import { BoundedSink, DecodeError, type Codec } from "../src/types/compression.js";
import { xxh64 } from "./xxh64.js";

/**
 * zstd in pure JavaScript (fzstd), streaming. fzstd does not check the frames' content
 * checksums, so they are checked here afterwards, as libzstd (the native codec) does.
 */
export const zstdCodec: Codec = {
  name: "zstd",
  kind: "fallback",
  async decompress(chunks, maxOutput) {
    const sink = new BoundedSink(maxOutput);
    const decoder = new Decompress((chunk) => sink.push(chunk));
    const input: Uint8Array[] = [];
    try {
      for await (const c of chunks) {
        if (c.length === 0) continue;
        input.push(c);
        decoder.push(c);
      }
      if (input.length === 0) throw new DecodeError("corrupt zstd stream (empty input)");
      decoder.push(new Uint8Array(0), true);
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
    }
    const output = sink.result();
    verifyChecksums(Buffer.concat(input), output);
    return output;
  },
};

interface Frame {
  start: number;
  end: number;
  /** The stored checksum (low 32 bits of XXH64 of the frame's content), when the frame has one. */
  checksum: number | null;
}

/** Walks the frames (RFC 8878 section 3.1) of a stream fzstd has already decoded without error. */
function dataFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let p = 0;
  while (p + 8 <= buf.length) {
    const magic = buf.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      p += 8 + buf.readUInt32LE(p + 4); // skippable frame
      continue;
    }
    if (magic !== 0xfd2fb528) break;
    const start = p;
    const fhd = buf[p + 4]!;
    const singleSegment = (fhd >> 5) & 1;
    const hasChecksum = (fhd >> 2) & 1;
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]!;
    p += 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + fcsSize;
    for (;;) {
      if (p + 3 > buf.length) throw new DecodeError("corrupt zstd stream (truncated block header)");
      const header = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16);
      const type = (header >> 1) & 3;
      p += 3 + (type === 1 ? 1 : header >>> 3);
      if (header & 1) break;
    }
    let checksum: number | null = null;
    if (hasChecksum) {
      if (p + 4 > buf.length) throw new DecodeError("corrupt zstd stream (truncated checksum)");
      checksum = buf.readUInt32LE(p);
      p += 4;
    }
    frames.push({ start, end: p, checksum });
  }
  return frames;
}

function verifyChecksums(input: Buffer, output: Buffer): void {
  const frames = dataFrames(input);
  for (const f of frames) {
    if (f.checksum === null) continue;
    const content = frames.length === 1 ? output : decompressFrame(input.subarray(f.start, f.end));
    if (xxh64(content).lo !== f.checksum) throw new DecodeError("corrupt zstd stream (content checksum mismatch)");
  }
}
