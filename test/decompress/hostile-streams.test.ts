/**
 * Compressed streams built to hurt (issue 14): bombs whose whole output comes from one small
 * input chunk, refused while decoding with memory bounded by the limit (measured in a child
 * process running the built codecs, for each format and both implementations); zstd frame headers
 * that lie to fzstd (a content size with its top bit set, a window of gigabytes, many tiny blocks
 * under a large window), each a DecodeError, never an error of the decoder's own.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadCodec } from "../../src/decompress/codec-table.js";
import { DecodeError, singleChunk, type CodecName } from "../../src/types/compression.js";
import { MALFORMED, ROOT } from "../helpers/paths.js";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** A zstd block header: 3 bytes, little-endian (last flag, type, size). */
const blockHeader = (last: boolean, type: 0 | 1 | 2, size: number) => {
  const h = (size << 3) | (type << 1) | (last ? 1 : 0);
  return [h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff];
};

/** One frame without a content size: a window descriptor, then `blocks` RLE blocks of `size` zeros. */
function zstdRleFrame(windowDescriptor: number, blocks: number, size: number): Buffer {
  const out: number[] = [...ZSTD_MAGIC, 0x00, windowDescriptor];
  for (let i = 0; i < blocks; i++) out.push(...blockHeader(i === blocks - 1, 1, size), 0);
  return Buffer.from(out);
}

async function decodeError(name: CodecName, fallback: boolean, input: Buffer, max: number): Promise<DecodeError> {
  const codec = await loadCodec(name, fallback);
  const err = await codec.decompress(singleChunk(input), max).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `${name} (${codec.kind}) decoded it`).toBeInstanceOf(DecodeError);
  return err as DecodeError;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

describe("bombs: the limit holds while decoding, in memory too", () => {
  const DIST_TABLE = join(ROOT, "dist/src/decompress/codec-table.js");
  const LIMIT = 8 * MIB;
  /** Peak RSS (KiB) of a child decoding `file`'s bytes with the built codec, and the error it gave. */
  function childDecode(name: CodecName, fallback: boolean, file: string): { maxRssKiB: number; message: string } {
    const script = `
      import { readFileSync } from "node:fs";
      const { loadCodec } = await import(${JSON.stringify(pathToFileURL(DIST_TABLE).href)});
      const codec = await loadCodec(${JSON.stringify(name)}, ${fallback});
      const input = readFileSync(${JSON.stringify(file)});
      let message = "decoded";
      try { await codec.decompress((async function* () { yield input; })(), ${LIMIT}); } catch (e) { message = e.name + ": " + e.message; }
      process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, message }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout) as { maxRssKiB: number; message: string };
  }

  const dir = mkdtempSync(join(tmpdir(), "kabi-bombs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bombs: [CodecName, string, () => Buffer][] = [
    // 1 GiB of zeros in 32 KiB: one chunk of input, gigabytes of output.
    ["zstd", "1 GiB of RLE blocks", () => zstdRleFrame(7 << 3, 8192, 128 * KIB)],
    // 1 GiB of zeros as 64 gzip members of 16 MiB each (about 1 MiB).
    ["gzip", "64 members of 16 MiB of zeros", () => Buffer.concat(Array(64).fill(gzipSync(Buffer.alloc(16 * MIB), { level: 1 })))],
  ];

  it.each([false, true])("zstd, gzip and xz bombs (fallback=%s): refused at the limit, peak memory far below the bomb", (fallback) => {
    expect(existsSync(DIST_TABLE), `${DIST_TABLE} missing: run npm run build first`).toBe(true);
    const files: [CodecName, string][] = [["xz", join(MALFORMED, "bomb.ko.xz")]];
    for (const [name, , make] of bombs) {
      const file = join(dir, `bomb.${name}`);
      if (!existsSync(file)) writeFileSync(file, make());
      files.push([name, file]);
    }
    for (const [name, file] of files) {
      const { maxRssKiB, message } = childDecode(name, fallback, file);
      expect(message, `${name} fallback=${fallback}`).toMatch(new RegExp(`^DecodeError: decompressed size (\\d+ )?exceeds the limit of ${LIMIT} bytes$`));
      // Node itself is ~50 MB; the limit is 8 MiB; the bombs are 300 MiB (xz) and 1 GiB.
      expect(maxRssKiB * KIB, `${name} fallback=${fallback}`).toBeLessThan(200 * MIB);
    }
  });
});

describe("zstd frame headers that lie", () => {
  /** A frame declaring a 4-byte content size (not single-segment, 128 KiB window), one raw block of "a", with or without a checksum field. */
  const lyingFrame = (contentSize: number, checksum: boolean) => {
    const fcs = [contentSize & 0xff, (contentSize >>> 8) & 0xff, (contentSize >>> 16) & 0xff, contentSize >>> 24];
    return Buffer.from([...ZSTD_MAGIC, 0x80 | (checksum ? 0x04 : 0), 7 << 3, ...fcs, ...blockHeader(true, 0, 1), 0x61, ...(checksum ? [0, 0, 0, 0] : [])]);
  };

  it.each([false, true])("two frames declaring 3.8 GB each (top bit set), with checksums: a DecodeError (fallback=%s)", async (fallback) => {
    // Before: the fallback threw "RangeError: Invalid typed array length: -452984819" (fzstd's
    // signed read of the size, while its checksums were checked), not a DecodeError.
    const frame = lyingFrame(0xe5000001, true);
    const err = await decodeError("zstd", fallback, Buffer.concat([frame, frame]), 16 * MIB);
    expect(err.message).toMatch(/^(decompressed size 3841982465 exceeds the limit of 16777216 bytes|corrupt zstd stream \(.+\))$/);
  });

  it.each([false, true])("a declared content size the frame does not decode to (fallback=%s)", async (fallback) => {
    // fzstd does not compare them; libzstd does.
    const err = await decodeError("zstd", fallback, lyingFrame(5, false), 16 * MIB);
    expect(err.message).toMatch(fallback ? /^corrupt zstd stream \(frame content size 5, decoded 1\)$/ : /^corrupt zstd stream \(.+\)$/);
  });

  it.each([false, true])("a window past libzstd's 128 MiB (fallback=%s)", async (fallback) => {
    // 6 header bytes: fzstd would allocate the 2 GiB window they declare.
    const err = await decodeError("zstd", fallback, zstdRleFrame(21 << 3, 1, 1), 16 * MIB);
    expect(err.message).toMatch(/^corrupt zstd stream \(.+\)$/);
  });

  it("many one-byte blocks under a 128 MiB window: refused before fzstd copies its window for each", async () => {
    const started = Date.now();
    const err = await decodeError("zstd", true, zstdRleFrame(17 << 3, 300, 1), 16 * MIB);
    expect(err.message).toBe("zstd stream too costly for the native-free decoder (257 blocks with a window of 134217728 bytes)");
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
