/**
 * Decompression: both codec implementations (native, and native-free-fallback/) give
 * byte-identical module records; corrupt and truncated streams and decompression bombs are
 * errors naming the file, with either implementation; the codec is chosen by magic bytes.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMPLEMENTATIONS, loadCodec } from "../../src/decompress/codec-table.js";
import { CODEC_NAMES, COMPRESSION_FORMATS, detectCodec, looksLikeModuleFile, MODULE_SUFFIXES, type CodecName } from "../../src/types/compression.js";
import { FormatError } from "../../src/types/errors.js";
import { readModule } from "../../src/module/read-module.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { caseModules, corpusCases, fullCorpus, spread } from "../helpers/corpus.js";
import { STREAM_CASES } from "../helpers/malformed.js";
import { fixtureModules, PROVIDER_61, realSampleModules, shortName } from "../helpers/paths.js";

const COMPRESSED = /\.ko\.(xz|gz|zst)$/;

/** CRC-32 (IEEE), as the xz index uses; zlib.crc32 needs Node >= 20.15. */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

async function* once(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

async function bothPaths(file: string): Promise<[ModuleRecord, ModuleRecord]> {
  return [await readModule(file), await readModule(file, { forceFallback: true })];
}

describe("codec table", () => {
  it("has a native and a distinct fallback implementation of each codec", async () => {
    expect([...CODEC_NAMES].sort()).toEqual(["gzip", "xz", "zstd"]);
    for (const name of CODEC_NAMES) {
      const native = await loadCodec(name, false);
      const fallback = await loadCodec(name, true);
      expect([native.name, native.kind]).toEqual([name, "native"]);
      expect([fallback.name, fallback.kind]).toEqual([name, "fallback"]);
      expect(fallback).not.toBe(native);
    }
  });

  // How each format's sample is made here; a new format row needs a line (and both decoders).
  const COMPRESSORS: Record<CodecName, [string, string[]]> = {
    xz: ["xz", ["-6", "-T1", "-c"]],
    gzip: ["gzip", ["-9", "-n", "-c"]],
    zstd: ["zstd", ["-19", "-q", "-c"]],
  };

  it("every format row has a native and a native-free decoder, and they decode a sample identically", async () => {
    expect(Object.keys(IMPLEMENTATIONS).sort()).toEqual([...CODEC_NAMES].sort());
    const sample = readFileSync(PROVIDER_61);
    for (const format of COMPRESSION_FORMATS) {
      const [tool, args] = COMPRESSORS[format.name];
      const r = spawnSync(tool, args, { input: sample });
      expect(r.status, tool).toBe(0);
      expect(detectCodec(r.stdout)).toBe(format.name);
      const native = await IMPLEMENTATIONS[format.name].native();
      const fallback = await IMPLEMENTATIONS[format.name].fallback();
      expect([native.kind, fallback.kind]).toEqual(["native", "fallback"]);
      const a = await native.decompress(once(r.stdout), 1 << 24);
      const b = await fallback.decompress(once(r.stdout), 1 << 24);
      expect(a.equals(sample), `${format.name} native`).toBe(true);
      expect(b.equals(sample), `${format.name} fallback`).toBe(true);
    }
  });

  it("derives the module file suffixes from the format rows", () => {
    expect(MODULE_SUFFIXES).toEqual([".ko", ".ko.xz", ".ko.gz", ".ko.zst"]);
    for (const name of ["a.ko", "a.ko.xz", "a.ko.gz", "a.ko.zst"]) expect(looksLikeModuleFile(name), name).toBe(true);
    for (const name of ["a.ko.bz2", "a.o", "a.ko.xz.sig", "ko"]) expect(looksLikeModuleFile(name), name).toBe(false);
  });

  it("detects by magic bytes", () => {
    expect(detectCodec(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe("xz");
    expect(detectCodec(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]))).toBe("zstd");
    expect(detectCodec(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]))).toBe("gzip");
    expect(detectCodec(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]))).toBeNull();
    expect(detectCodec(Buffer.from([0xfd, 0x37, 0x7a]))).toBeNull(); // too short to tell
  });
});

// The kbuild fixtures compressed here with each tool, plus the sample's own compressed modules.
describe("native and fallback decoders give the same records", () => {
  const dir = mkdtempSync(join(tmpdir(), "kabi-codecs-"));
  const made: { file: string; plain: string; codec: string }[] = [];
  beforeAll(() => {
    const tools: [string, string[], string][] = [
      ["xz", ["-9", "-T1", "-c"], "xz"],
      ["zstd", ["-19", "-q", "-c"], "zst"],
      ["gzip", ["-9", "-n", "-c"], "gz"],
    ];
    for (const plain of fixtureModules()) {
      for (const [tool, args, ext] of tools) {
        const r = spawnSync(tool, [...args, plain]);
        if (r.status !== 0) throw new Error(`${tool} failed on ${plain}`);
        const file = join(dir, relative(join(plain, "../.."), plain).replace(/\//g, "__") + "." + ext);
        writeFileSync(file, r.stdout);
        made.push({ file, plain, codec: tool === "gzip" ? "gzip" : tool });
      }
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("on every kbuild fixture compressed with xz, zstd and gzip (and equal to the plain .ko's record)", async () => {
    expect(made).toHaveLength(114); // 38 fixtures x 3 codecs
    for (const { file, plain, codec } of made) {
      const [native, fallback] = await bothPaths(file);
      expect(fallback).toEqual(native);
      const p = await readModule(plain);
      expect(native).toEqual({ ...p, path: file, compression: codec, name: p.name });
    }
  });

  it("chooses the codec by magic, not by file name", async () => {
    const xzAsKo = join(dir, "really-xz.ko");
    copyFileSync(made.find((m) => m.codec === "xz")!.file, xzAsKo);
    expect((await readModule(xzAsKo)).compression).toBe("xz");
    const koAsZst = join(dir, "really-plain.ko.zst");
    copyFileSync(PROVIDER_61, koAsZst);
    expect((await readModule(koAsZst)).compression).toBe("none");
    expect((await readModule(koAsZst)).exports).toHaveLength(3);
  });

  // Committed: realSampleModules() throws when the sample is lost.
  const sample = realSampleModules().filter((p) => COMPRESSED.test(p));
  it("on every compressed module of the real sample", async () => {
    expect(sample.length).toBeGreaterThan(0);
    const kinds = new Set<string>();
    for (const file of sample) {
      const [native, fallback] = await bothPaths(file);
      expect(fallback, shortName(file)).toEqual(native);
      expect(native.modversions.length, shortName(file)).toBeGreaterThan(0);
      kinds.add(native.compression);
    }
    expect([...kinds].sort()).toEqual(["gzip", "xz", "zstd"]);
  });

  it("the sample's .ko.gz/.ko.zst give the record of the .ko they were made from", async () => {
    const recompressed = sample.filter((p) => /\/amd64-6\.1-(gz|zst)\//.test(p));
    expect(recompressed.length).toBeGreaterThan(0);
    for (const file of recompressed) {
      const plain = file.replace(/\/amd64-6\.1-(gz|zst)\//, "/amd64-6.1/").replace(COMPRESSED, ".ko");
      const [a, b] = [await readModule(file), await readModule(plain)];
      expect({ ...a, path: "", compression: "none" }).toEqual({ ...b, path: "" });
      expect(a.signed).toBe(true);
    }
  });

  // The corpus cache (bench/corpus.sh) is not part of the repository: skipped without it.
  const compressedCases = corpusCases().filter((c) => c.compression !== "none");
  describe.skipIf(compressedCases.length === 0)("on the corpus cache", () => {
    for (const c of compressedCases) {
      const all = caseModules(c);
      const files = fullCorpus() ? all : spread(all, 60);
      it(`${c.id}: ${files.length} of ${all.length} modules`, { timeout: fullCorpus() ? 900_000 : 120_000 }, async () => {
        for (const file of files) {
          const [native, fallback] = await bothPaths(file);
          expect(fallback, file).toEqual(native);
          expect(native.compression).toBe(c.compression);
        }
      });
    }
  });
});

describe.each([false, true])("broken streams (forceFallback=%s)", (forceFallback) => {
  it.each(STREAM_CASES)("$title", async ({ file, reason }) => {
    const err = await readModule(file, { forceFallback }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(file);
    expect((err as FormatError).message).toMatch(new RegExp(`^${file.replace(/[.+]/g, "\\$&")}: `));
    expect((err as FormatError).reason).toMatch(reason);
  });

  it("the committed bombs really are small files expanding past 256 MiB", () => {
    for (const name of ["bomb.ko.xz", "bomb.ko.zst"]) {
      const file = STREAM_CASES.find((c) => c.file.endsWith(name))!.file;
      expect(readFileSync(file).length).toBeLessThan(100 * 1024);
    }
  });

  it("a gzip bomb (300 MiB of zeros, made here) is refused", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "kabi-bomb-"));
    try {
      const file = join(dir, "bomb.ko.gz");
      writeFileSync(file, gzipSync(Buffer.alloc(300 * 1024 * 1024), { level: 1 }));
      await expect(readModule(file, { forceFallback })).rejects.toThrow(`${file}: decompressed size exceeds the limit of 268435456 bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an xz bomb whose index under-declares its size (256 MiB declared, 300 MiB inside) is refused", { timeout: 60_000 }, async () => {
    const b = Buffer.from(readFileSync(STREAM_CASES.find((c) => c.file.endsWith("bomb.ko.xz"))!.file));
    // Index (xz format 1.0.4 section 4): 0x00, record count, then per block unpadded and uncompressed
    // size as varints, padding, CRC32. Rewrite the one uncompressed size (5 bytes) as 2^28 and fix the CRC.
    const footer = b.length - 12;
    const indexStart = footer - (b.readUInt32LE(footer + 4) + 1) * 4;
    let p = indexStart + 1;
    const varint = () => {
      let v = 0;
      for (let scale = 1; ; scale *= 128) {
        const x = b[p++]!;
        v += (x & 0x7f) * scale;
        if (!(x & 0x80)) return v;
      }
    };
    expect(varint()).toBe(1);
    varint();
    const at = p;
    expect(varint()).toBe(300 * 1024 * 1024);
    expect(p - at).toBe(5);
    for (let i = 0, v = 2 ** 28; i < 5; i++, v = Math.floor(v / 128)) b[at + i] = (v % 128) | (i < 4 ? 0x80 : 0);
    b.writeUInt32LE(crc32(b.subarray(indexStart, footer - 4)), footer - 4);
    const dir = mkdtempSync(join(tmpdir(), "kabi-liar-"));
    try {
      const file = join(dir, "liar.ko.xz");
      writeFileSync(file, b);
      expect(spawnSync("xz", ["--robot", "-l", file], { encoding: "utf8" }).stdout).toMatch(/\t268435456\t/);
      await expect(readModule(file, { forceFallback })).rejects.toThrow(new RegExp(`^${file}: (corrupt xz stream|decompressed size exceeds the limit)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maxDecompressedSize: a real module one byte over the limit is refused, at the limit it is read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kabi-limit-"));
    try {
      const size = readFileSync(PROVIDER_61).length;
      for (const [tool, args, ext] of [["xz", ["-T1"], "xz"], ["zstd", ["-q"], "zst"], ["gzip", ["-n"], "gz"]] as const) {
        const file = join(dir, `p.ko.${ext}`);
        writeFileSync(file, spawnSync(tool, [...args, "-c", PROVIDER_61]).stdout);
        await expect(readModule(file, { forceFallback, maxDecompressedSize: size - 1 })).rejects.toThrow(/exceeds the limit of \d+ bytes/);
        const ok = await readModule(file, { forceFallback, maxDecompressedSize: size });
        expect(ok.exports).toHaveLength(3);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
