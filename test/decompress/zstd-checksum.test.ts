/**
 * The fallback zstd decoder checks frame content checksums (fzstd itself does not): XXH64
 * against an independent BigInt transcription of the spec, and multi-frame streams.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { xxh64, Xxh64 } from "../../native-free-fallback/xxh64.js";
import { readModule } from "../../src/module/read-module.js";
import { PROVIDER_61 } from "../helpers/paths.js";

const M = (1n << 64n) - 1n;
const P = [0x9e3779b185ebca87n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0x85ebca77c2b2ae63n, 0x27d4eb2f165667c5n] as const;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, i: bigint) => (rotl((acc + i * P[1]) & M, 31n) * P[0]) & M;

/** XXH64, seed 0, straight from the specification with BigInt. */
function referenceXxh64(b: Buffer): bigint {
  let p = 0;
  let h: bigint;
  const len = b.length;
  if (len >= 32) {
    let v = [(P[0] + P[1]) & M, P[1], 0n, (0n - P[0]) & M];
    for (; p + 32 <= len; p += 32) v = v.map((x, i) => round(x, b.readBigUInt64LE(p + 8 * i)));
    h = (rotl(v[0]!, 1n) + rotl(v[1]!, 7n) + rotl(v[2]!, 12n) + rotl(v[3]!, 18n)) & M;
    for (const x of v) h = (((h ^ round(0n, x)) * P[0]) + P[3]) & M;
  } else h = P[4];
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = (rotl(h ^ round(0n, b.readBigUInt64LE(p)), 27n) * P[0] + P[3]) & M;
  if (p + 4 <= len) {
    h = (rotl(h ^ ((BigInt(b.readUInt32LE(p)) * P[0]) & M), 23n) * P[1] + P[2]) & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P[4]) & M), 11n) * P[0]) & M;
  h ^= h >> 33n;
  h = (h * P[1]) & M;
  h ^= h >> 29n;
  h = (h * P[2]) & M;
  return h ^ (h >> 32n);
}

const asBig = ({ hi, lo }: { hi: number; lo: number }) => (BigInt(hi) << 32n) | BigInt(lo);

describe("xxh64", () => {
  it("known values", () => {
    expect(asBig(xxh64(Buffer.alloc(0)))).toBe(0xef46db3751d8e999n);
    expect(asBig(xxh64(Buffer.from("a")))).toBe(0xd24ec4f1a98c6e5bn);
    expect(asBig(xxh64(Buffer.from("abc")))).toBe(0x44bc2cf5ad770999n);
  });

  it("equals the BigInt reference on every length 0..200 and on longer inputs", () => {
    // A fixed pseudo-random pattern, so a failure reproduces.
    const data = Buffer.alloc(5000);
    let x = 0x12345678;
    for (let i = 0; i < data.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    for (const n of [...Array(201).keys(), 255, 256, 257, 1023, 4096, 4999]) {
      const b = data.subarray(0, n);
      expect(asBig(xxh64(b)), `length ${n}`).toBe(referenceXxh64(b));
    }
    expect(asBig(xxh64(Buffer.alloc(100, 0xff)))).toBe(referenceXxh64(Buffer.alloc(100, 0xff)));
  });

  it("Xxh64 given the input in pieces of every small size equals the reference (the streaming zstd checksum)", () => {
    const data = Buffer.alloc(3001);
    let x = 0x9e3779b9;
    for (let i = 0; i < data.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    for (const n of [0, 1, 31, 32, 33, 95, 3001]) {
      const b = data.subarray(0, n);
      for (const piece of [1, 3, 7, 31, 32, 33, 64, 1000]) {
        const h = new Xxh64();
        for (let at = 0; at < n; at += piece) h.update(b.subarray(at, at + piece));
        expect(asBig(h.digest()), `length ${n} in pieces of ${piece}`).toBe(referenceXxh64(b));
      }
    }
  });
});

describe("multi-frame zstd streams", () => {
  const dir = mkdtempSync(join(tmpdir(), "kabi-zstd-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const zstd = (input: Buffer, ...args: string[]) => spawnSync("zstd", ["-q", "-c", ...args], { input }).stdout as Buffer;

  it("a module split over two checksummed frames and a skippable frame reads the same both ways", async () => {
    const ko = Buffer.from(spawnSync("cat", [PROVIDER_61]).stdout);
    const half = 4000;
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
    const stream = Buffer.concat([zstd(ko.subarray(0, half)), skippable, zstd(ko.subarray(half))]);
    const file = join(dir, "two-frames.ko.zst");
    writeFileSync(file, stream);
    const native = await readModule(file);
    const fallback = await readModule(file, { forceFallback: true });
    expect(fallback).toEqual(native);
    expect(native.exports).toHaveLength(3);

    // Break the second frame's checksum: both decoders must refuse.
    const bad = Buffer.from(stream);
    bad[bad.length - 1]! ^= 0xff;
    const badFile = join(dir, "two-frames-bad.ko.zst");
    writeFileSync(badFile, bad);
    await expect(readModule(badFile)).rejects.toThrow(/corrupt zstd stream.*checksum/i);
    await expect(readModule(badFile, { forceFallback: true })).rejects.toThrow(`${badFile}: corrupt zstd stream (content checksum mismatch)`);
  });

  it("a frame without a checksum (zstd --no-check) is read by both", async () => {
    const file = join(dir, "nocheck.ko.zst");
    writeFileSync(file, zstd(Buffer.from(spawnSync("cat", [PROVIDER_61]).stdout), "--no-check"));
    expect(await readModule(file, { forceFallback: true })).toEqual(await readModule(file));
  });
});
