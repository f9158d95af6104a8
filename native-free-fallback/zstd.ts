import { Decompress } from "fzstd";
import { BoundedSink, collectInput, DecodeError, inputSlices, type Codec } from "../src/types/compression.js";
import { xxh64, Xxh64 } from "./xxh64.js";

/**
 * zstd in pure JavaScript (fzstd). fzstd trusts what a frame header says: it allocates the window
 * the header declares (up to 2 GiB, from six bytes of input), copies that whole window once per
 * block, and does not check the frames' content checksums. So the stream is walked first, frame by
 * frame and block by block, without decoding (RFC 8878 section 3.1), and refused when a frame needs
 * more than libzstd (the native codec) would allow or more work than its output could justify;
 * then each frame is decoded, its output bounded by the size limit as it is produced, and its
 * declared content size and checksum checked, as libzstd does. Any error inside fzstd is a corrupt stream.
 */
export const zstdCodec: Codec = {
  name: "zstd",
  kind: "fallback",
  async decompress(chunks, maxOutput) {
    const input = await collectInput(chunks, maxOutput);
    if (input.length === 0) throw new DecodeError("corrupt zstd stream (empty input)");
    const sink = new BoundedSink(maxOutput);
    try {
      const frames = walkFrames(input, maxOutput);
      // Frames are independent: one decoder each, given the whole frame as its final chunk (fzstd
      // holds back a short chunk that is not final), so each frame's output ends where it says.
      const ends: number[] = [];
      for (const f of frames) {
        new Decompress((chunk) => sink.push(chunk)).push(input.subarray(f.start, f.end), true);
        ends.push(sink.size);
      }
      const output = sink.result();
      let start = 0;
      frames.forEach((f, k) => {
        const end = ends[k]!;
        if (f.contentSize !== null && end - start !== f.contentSize) {
          throw new DecodeError(`corrupt zstd stream (frame content size ${f.contentSize}, decoded ${end - start})`);
        }
        if (f.checksum !== null && xxh64(output.subarray(start, end)).lo !== f.checksum) {
          throw new DecodeError("corrupt zstd stream (content checksum mismatch)");
        }
        start = end;
      });
      return output;
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
    }
  },
  /**
   * A stream too large to hold: the bytes pass a FrameScanner (the same checks as walkFrames,
   * made as the headers go by) before fzstd sees them, and fzstd's output is handed on after
   * each slice; each frame's output is hashed as it goes and checked, at the frame's end,
   * against its content checksum and declared content size, as libzstd does.
   */
  async *stream(chunks) {
    const scanner = new FrameScanner();
    let pending: Uint8Array[] = [];
    const newDecoder = () => new Decompress((piece) => pending.push(piece));
    let decoder = newDecoder();
    let hash = new Xxh64();
    let frameOutput = 0;
    let sawInput = false;
    for await (const slice of inputSlices(chunks)) {
      sawInput = true;
      // fzstd decodes one frame per decoder: a slice is split where a frame ends, and the next frame gets a new decoder.
      let rest = slice;
      while (rest.length > 0) {
        const { used, frame } = scanner.feed(rest);
        try {
          decoder.push(rest.subarray(0, used), frame !== null);
        } catch (err) {
          throw new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
        }
        rest = rest.subarray(used);
        const out = pending;
        pending = [];
        for (const piece of out) {
          hash.update(piece);
          frameOutput += piece.length;
        }
        if (frame !== null) {
          if (frame.contentSize !== null && frameOutput !== frame.contentSize) {
            throw new DecodeError(`corrupt zstd stream (frame content size ${frame.contentSize}, decoded ${frameOutput})`);
          }
          if (frame.checksum !== null && hash.digest().lo !== frame.checksum) throw new DecodeError("corrupt zstd stream (content checksum mismatch)");
          decoder = newDecoder();
          hash = new Xxh64();
          frameOutput = 0;
        }
        for (const piece of out) if (piece.length > 0) yield piece;
      }
    }
    if (!sawInput) throw new DecodeError("corrupt zstd stream (empty input)");
    if (!scanner.atFrameBoundary) throw new DecodeError(`corrupt zstd stream (truncated ${scanner.partName} at offset ${scanner.offset})`);
  },
};

/** What the frame header and end say about a frame's content, for the checks at its end. */
interface FrameEnd {
  checksum: number | null;
  contentSize: number | null;
}

/**
 * walkFrames (below) as a state machine fed piece by piece: it never holds more than a frame
 * header, and says where in a piece the current frame ends, so each frame can go to its own
 * decoder.
 */
class FrameScanner {
  /** Bytes of the stream seen so far. */
  offset = 0;
  private part: "magic" | "frame header" | "skippable frame" | "block header" | "block" | "checksum" = "magic";
  /** Header bytes gathered for the current part (magic, frame header, block header). */
  private header: number[] = [];
  /** Bytes still to pass before the current part ends. */
  private remaining = 4;
  private hasChecksum = false;
  private window = 0;

  get atFrameBoundary(): boolean {
    return this.part === "magic" && this.header.length === 0;
  }

  get partName(): string {
    return this.part === "magic" ? "frame header" : this.part;
  }

  /** Consumes a prefix of `piece`: all of it, or up to and including the end of the current frame (then `frame` says what to check). */
  feed(piece: Uint8Array): { used: number; frame: FrameEnd | null } {
    let i = 0;
    while (i < piece.length) {
      if (this.part === "skippable frame" || this.part === "block") {
        const take = Math.min(this.remaining, piece.length - i);
        i += take;
        this.offset += take;
        this.remaining -= take;
        if (this.remaining > 0) break;
        if (this.part === "skippable frame") {
          this.startFrame();
          return { used: i, frame: { checksum: null, contentSize: 0 } };
        }
        if (this.lastBlock) {
          if (this.endOfBlocks()) return { used: i, frame: this.ended() };
          continue;
        }
        this.part = "block header";
        this.remaining = 3;
        continue;
      }
      this.header.push(piece[i]!);
      i++;
      this.offset++;
      this.remaining--;
      if (this.remaining > 0) continue;
      const ended = this.headerComplete();
      if (ended) return { used: i, frame: this.ended() };
    }
    return { used: i, frame: null };
  }

  /** The frame that just ended. */
  private ended(): FrameEnd {
    const end = this.lastEnd;
    this.lastEnd = { checksum: null, contentSize: null };
    return end;
  }

  private lastEnd: FrameEnd = { checksum: null, contentSize: null };
  private contentSize: number | null = null;

  private startFrame(): void {
    this.part = "magic";
    this.header = [];
    this.remaining = 4;
  }

  /** The current header part is complete: checks it and moves on; true when that ends a frame. */
  private headerComplete(): boolean {
    const h = this.header;
    const at = this.offset - h.length;
    if (this.part === "magic") {
      const magic = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        this.header = [];
        this.remaining = 4;
        // The size word is read as a header, then the frame's content is skipped.
        this.part = "frame header";
        this.skippableSize = true;
        return false;
      }
      if (magic !== 0xfd2fb528) throw new DecodeError(`corrupt zstd stream (unknown frame magic 0x${magic.toString(16)} at offset ${at})`);
      this.part = "frame header";
      this.remaining = 1;
      return false;
    }
    if (this.part === "frame header") {
      if (this.skippableSize) {
        this.skippableSize = false;
        this.part = "skippable frame";
        this.remaining = (h[0]! | (h[1]! << 8) | (h[2]! << 16)) + h[3]! * 0x1000000;
        this.header = [];
        if (this.remaining === 0) {
          this.startFrame();
          this.lastEnd = { checksum: null, contentSize: 0 };
          return true;
        }
        return false;
      }
      const fhd = h[4]!;
      const singleSegment = (fhd >> 5) & 1;
      const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
      const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]!;
      const headerSize = 5 + (singleSegment ? 0 : 1) + dictIdSize + fcsSize;
      if (h.length < headerSize) {
        if (fhd & 8) throw new DecodeError(`corrupt zstd stream (reserved frame header bit set at offset ${at + 4})`);
        this.remaining = headerSize - h.length;
        return false;
      }
      this.hasChecksum = ((fhd >> 2) & 1) === 1;
      let fcs: number | null = null;
      if (fcsSize > 0) {
        fcs = 0;
        const fcsAt = 5 + (singleSegment ? 0 : 1) + dictIdSize;
        for (let k = fcsSize - 1; k >= 0; k--) fcs = fcs * 256 + h[fcsAt + k]!;
        if (fcsSize === 2) fcs += 256;
      }
      this.contentSize = fcs;
      if (singleSegment) {
        this.window = fcs!;
      } else {
        const wd = h[5]!;
        const base = 2 ** (10 + (wd >> 3));
        this.window = base + (base / 8) * (wd & 7);
      }
      if (this.window > MAX_WINDOW) throw new DecodeError(`corrupt zstd stream (window of ${this.window} bytes, past the ${MAX_WINDOW} libzstd accepts, at offset ${at})`);
      this.part = "block header";
      this.header = [];
      this.remaining = 3;
      return false;
    }
    if (this.part === "checksum") {
      this.lastEnd = { checksum: (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0, contentSize: this.contentSize };
      this.startFrame();
      return true;
    }
    // A block header.
    const header = h[0]! | (h[1]! << 8) | (h[2]! << 16);
    const type = (header >> 1) & 3;
    if (type === 3) throw new DecodeError(`corrupt zstd stream (reserved block type at offset ${at})`);
    const size = header >>> 3;
    const last = (header & 1) === 1;
    this.header = [];
    this.part = "block";
    this.remaining = type === 1 ? 1 : size;
    if (this.remaining === 0) {
      if (!last) {
        this.part = "block header";
        this.remaining = 3;
        return false;
      }
      return this.endOfBlocks();
    }
    if (last) this.lastBlock = true;
    return false;
  }

  private skippableSize = false;
  private lastBlock = false;

  private endOfBlocks(): boolean {
    this.lastBlock = false;
    if (this.hasChecksum) {
      this.part = "checksum";
      this.header = [];
      this.remaining = 4;
      return false;
    }
    this.lastEnd = { checksum: null, contentSize: this.contentSize };
    this.startFrame();
    return true;
  }
}

/** libzstd's default ZSTD_WINDOWLOG_LIMIT_DEFAULT: a frame needing a larger window is refused by the native codec too. */
const MAX_WINDOW = 2 ** 27;
/**
 * fzstd moves its whole window once per block. A module at the size limit compressed with an
 * 8 MiB window (zstd -19) has 2048 blocks: 16 GiB moved. Past twice that, a stream is not a
 * module but a way (a few megabytes of tiny blocks and a large window) to keep the decoder busy
 * for hours.
 */
const MAX_WINDOW_WORK = 2 ** 35;

interface Frame {
  start: number;
  end: number;
  /** The stored checksum (low 32 bits of XXH64 of the frame's content), when the frame has one. */
  checksum: number | null;
  /** The content size the frame header declares, when it does. */
  contentSize: number | null;
}

/** The frames of `buf`, each checked against what can be true before fzstd sees any of it. */
function walkFrames(buf: Buffer, maxOutput: number): Frame[] {
  const frames: Frame[] = [];
  const need = (at: number, n: number, what: string) => {
    if (at + n > buf.length) throw new DecodeError(`corrupt zstd stream (truncated ${what} at offset ${at})`);
  };
  let work = 0;
  let blocks = 0;
  let knownOutput = 0;
  let p = 0;
  while (p < buf.length) {
    need(p, 4, "frame header");
    const magic = buf.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      need(p, 8, "skippable frame");
      const skip = 8 + buf.readUInt32LE(p + 4);
      need(p, skip, "skippable frame");
      frames.push({ start: p, end: p + skip, checksum: null, contentSize: 0 });
      p += skip;
      continue;
    }
    if (magic !== 0xfd2fb528) throw new DecodeError(`corrupt zstd stream (unknown frame magic 0x${magic.toString(16)} at offset ${p})`);
    const start = p;
    need(p, 5, "frame header");
    const fhd = buf[p + 4]!;
    if (fhd & 8) throw new DecodeError(`corrupt zstd stream (reserved frame header bit set at offset ${p + 4})`);
    const singleSegment = (fhd >> 5) & 1;
    const hasChecksum = (fhd >> 2) & 1;
    const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]!;
    const headerSize = 5 + (singleSegment ? 0 : 1) + dictIdSize + fcsSize;
    need(p, headerSize, "frame header");
    let window: number;
    const fcsAt = p + 5 + (singleSegment ? 0 : 1) + dictIdSize;
    const fcs = fcsSize === 0 ? null : readLE(buf, fcsAt, fcsSize) + (fcsSize === 2 ? 256 : 0);
    if (singleSegment) {
      window = fcs!;
    } else {
      const wd = buf[p + 5]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    if (fcs !== null && fcs > maxOutput) throw new DecodeError(`decompressed size ${fcs} exceeds the limit of ${maxOutput} bytes`);
    if (window > MAX_WINDOW) throw new DecodeError(`corrupt zstd stream (window of ${window} bytes, past the ${MAX_WINDOW} libzstd accepts, at offset ${p})`);
    p += headerSize;
    for (;;) {
      need(p, 3, "block header");
      const header = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16);
      const type = (header >> 1) & 3;
      if (type === 3) throw new DecodeError(`corrupt zstd stream (reserved block type at offset ${p})`);
      const size = header >>> 3;
      const stored = type === 1 ? 1 : size;
      need(p, 3 + stored, "block");
      p += 3 + stored;
      blocks++;
      // Raw and RLE blocks say how much they decode to: a stream whose output is known to pass
      // the limit is refused as such before anything is decoded.
      if (type !== 2) {
        knownOutput += size;
        if (knownOutput > maxOutput) throw new DecodeError(`decompressed size exceeds the limit of ${maxOutput} bytes`);
      }
      work += window;
      if (work > MAX_WINDOW_WORK) {
        throw new DecodeError(`zstd stream too costly for the native-free decoder (${blocks} blocks with a window of ${window} bytes)`);
      }
      if (header & 1) break;
    }
    let checksum: number | null = null;
    if (hasChecksum) {
      need(p, 4, "checksum");
      checksum = buf.readUInt32LE(p);
      p += 4;
    }
    frames.push({ start, end: p, checksum, contentSize: fcs });
  }
  return frames;
}

function readLE(buf: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + buf[at + i]!;
  return v;
}
