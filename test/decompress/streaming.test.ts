/**
 * Codec.stream, the streaming decompression of package payloads: both implementations of each
 * codec give exactly what the system tools (gzip, xz, zstd) decompress, from input chunked at
 * odd sizes; truncated, corrupt and empty streams are DecodeErrors; an error of the input comes
 * out unchanged; and output comes in pieces, never the whole stream at once.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadCodec } from "../../src/decompress/codec-table.js";
import { CODEC_NAMES, DecodeError, STREAM_INPUT_SLICE, type CodecName } from "../../src/types/compression.js";
import { FormatError } from "../../src/types/errors.js";

const COMPRESSORS: Record<CodecName, string[]> = {
  gzip: ["gzip", "-6", "-n", "-c"],
  xz: ["xz", "-6", "-T1", "-c"],
  zstd: ["zstd", "-19", "-q", "-c"],
};

function run(argv: string[], input: Uint8Array): Buffer {
  const r = spawnSync(argv[0]!, argv.slice(1), { input, maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.error?.message ?? r.stderr.toString()}`);
  return r.stdout;
}

/** Multi-MB, compressible but not trivially: text from random bytes, and some runs of zeros. */
const PLAIN = Buffer.concat([randomBytes(1 << 20).toString("base64"), "\0".repeat(3 << 20), randomBytes(700_001).toString("hex")].map((s) => Buffer.from(s)));
const COMPRESSED = Object.fromEntries(CODEC_NAMES.map((n) => [n, run(COMPRESSORS[n], PLAIN)])) as Record<CodecName, Buffer>;
/** What the tool itself decompresses (the oracle), and its digest. */
const TOOL_OUTPUT = Object.fromEntries(CODEC_NAMES.map((n) => [n, run([COMPRESSORS[n][0]!, "-d", "-c"], COMPRESSED[n])])) as Record<CodecName, Buffer>;

async function* chunked(buf: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let k = 0; at < buf.length; k++) {
    const n = sizes[k % sizes.length]!;
    yield buf.subarray(at, at + n);
    at += n;
  }
}

async function drain(pieces: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number; largest: number }> {
  const hash = createHash("sha256");
  let size = 0;
  let largest = 0;
  for await (const p of pieces) {
    hash.update(p);
    size += p.length;
    largest = Math.max(largest, p.length);
  }
  return { digest: hash.digest("hex"), size, largest };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.each(CODEC_NAMES.flatMap((name) => [[name, false] as const, [name, true] as const]))("%s stream (fallback: %s)", (name, fallback) => {
  it("gives what the system tool decompresses, from chunks of odd sizes, in bounded pieces", async () => {
    const codec = await loadCodec(name, fallback);
    expect(codec.kind).toBe(fallback ? "fallback" : "native");
    expect(TOOL_OUTPUT[name].equals(PLAIN)).toBe(true);
    for (const sizes of [[1, 7, 4093, 65537], [COMPRESSED[name].length], [3 * STREAM_INPUT_SLICE + 1, 0, 13]]) {
      const got = await drain(codec.stream(chunked(COMPRESSED[name], sizes)));
      expect({ digest: got.digest, size: got.size }).toEqual({ digest: sha(TOOL_OUTPUT[name]), size: TOOL_OUTPUT[name].length });
      // Pieces, not the whole: what one input slice may inflate to (deflate's ~1032x for zlib) at most.
      expect(got.largest).toBeLessThan(1032 * STREAM_INPUT_SLICE + 1);
      expect(got.largest).toBeLessThan(TOOL_OUTPUT[name].length / 2);
    }
  });

  it("refuses a truncated stream (many cut points), a corrupt one and an empty one with a DecodeError", async () => {
    const codec = await loadCodec(name, fallback);
    const whole = COMPRESSED[name];
    const cuts = [1, 5, 11, 100, 4096, whole.length >> 1, whole.length - 9, whole.length - 1];
    for (const cut of cuts) {
      const err = await drain(codec.stream(chunked(whole.subarray(0, cut), [777]))).catch((e: unknown) => e);
      expect(err, `cut at ${cut}`).toBeInstanceOf(DecodeError);
      expect((err as Error).message).toMatch(new RegExp(`corrupt ${name} stream`));
    }
    const corrupt = Buffer.from(whole);
    for (let at = 64; at < corrupt.length - 64; at += 997) corrupt[at] ^= 0x55;
    const err = await drain(codec.stream(chunked(corrupt, [4096]))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    const empty = await drain(codec.stream(chunked(Buffer.alloc(0), [1]))).catch((e: unknown) => e);
    expect(empty).toBeInstanceOf(DecodeError);
  });

  it("passes an error of its input on unchanged, and stops reading when the consumer stops", async () => {
    const codec = await loadCodec(name, fallback);
    const failure = new FormatError("x.deb", "data.tar: truncated member", 123);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield COMPRESSED[name].subarray(0, 20_000);
      throw failure;
    }
    await expect(drain(codec.stream(failing()))).rejects.toBe(failure);
    let pulled = 0;
    let returned = false;
    async function* counting(): AsyncGenerator<Uint8Array> {
      try {
        for await (const c of chunked(COMPRESSED[name], [1000])) {
          pulled += c.length;
          yield c;
        }
      } finally {
        returned = true;
      }
    }
    for await (const piece of codec.stream(counting())) {
      expect(piece.length).toBeGreaterThan(0);
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(returned).toBe(true);
    expect(pulled).toBeLessThan(COMPRESSED[name].length);
  });
});

describe("zstd streams of several frames", () => {
  const part1 = PLAIN.subarray(0, 1_500_000);
  const part2 = PLAIN.subarray(1_500_000);
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from("hello")]);
  // Two checksummed frames (one without a content size: from a pipe) and a skippable frame between them.
  const stream = Buffer.concat([run(["zstd", "-3", "-q", "-c", "--check"], part1), skippable, run(["sh", "-c", "cat | zstd -q -c --check --no-content-size"], part2)]);

  it.each([false, true])("decode whole through both implementations (fallback: %s); a wrong checksum in the second frame is a DecodeError", async (fallback) => {
    const codec = await loadCodec("zstd", fallback);
    expect(run(["zstd", "-d", "-q", "-c"], stream).equals(PLAIN)).toBe(true);
    const got = await drain(codec.stream(chunked(stream, [5, 999, 65536])));
    expect(got.digest).toBe(sha(PLAIN));
    const bad = Buffer.from(stream);
    bad[bad.length - 1] ^= 1; // the last byte is the second frame's checksum
    const err = await drain(codec.stream(chunked(bad, [4096]))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as Error).message).toMatch(/checksum/i);
  });
});
