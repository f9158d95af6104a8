import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../../src/types/errors.js";
import { parseSymvers } from "../../src/symvers/parse-symvers.js";
import { detectSymversEncoding, MAX_SYMVERS_TEXT_SIZE, readSymvers } from "../../src/symvers/read-symvers.js";

const dataFile = fileURLToPath(new URL("./data/current-6.1-gki-arm64.symvers", import.meta.url));
const plain = readFileSync(dataFile);
// The same file compressed by xz(1) with --check=crc64 (committed, so no xz binary is needed).
const realXz = fileURLToPath(new URL("./data/current-6.1-gki-arm64.symvers.xz", import.meta.url));
const expected = parseSymvers(plain.toString("utf8"), "x").entries;
const xzBytes = readFileSync(realXz);
// zstd as `zstd -19` writes it (with a content checksum), made here: a .zst symvers is read like the others.
const zstdOf = (bytes: Uint8Array): Buffer => {
  const r = spawnSync("zstd", ["-19", "-q", "--check", "-c"], { input: bytes });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
  return r.stdout;
};
const zstdBytes = zstdOf(plain);

const dir = mkdtempSync(path.join(tmpdir(), "kabi-read-symvers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const put = (name: string, bytes: Uint8Array): string => {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe("readSymvers", () => {
  // Names deliberately lie about the contents: detection is by magic bytes.
  const files = {
    plain: put("symvers.gz", plain),
    gzip: put("Module.symvers", gzipSync(plain)),
    xz: put("symvers-plain", xzBytes),
    zstd: put("symvers.xz", zstdBytes),
  };

  for (const [kind, file] of Object.entries(files)) {
    it(`reads ${kind} data whatever the file is called`, async () => {
      const t = await readSymvers(file);
      expect(t.path).toBe(file);
      expect(t.problems).toEqual([]);
      expect(t.entries).toEqual(expected);
      expect(t.entries.get("system_state")?.crc).toBe(0xf7370f56);
    });
  }

  it("reads each compressed form the same with the native-free codecs (KABI_NO_NATIVE=1)", async () => {
    const saved = process.env.KABI_NO_NATIVE;
    process.env.KABI_NO_NATIVE = "1";
    try {
      for (const file of [files.gzip, files.xz, files.zstd]) expect((await readSymvers(file)).entries).toEqual(expected);
    } finally {
      if (saved === undefined) delete process.env.KABI_NO_NATIVE;
      else process.env.KABI_NO_NATIVE = saved;
    }
  });

  it("detects encodings by magic", () => {
    expect(detectSymversEncoding(plain, "f")).toBe("plain");
    expect(detectSymversEncoding(gzipSync(plain), "f")).toBe("gzip");
    expect(detectSymversEncoding(xzBytes, "f")).toBe("xz");
    expect(detectSymversEncoding(zstdBytes, "f")).toBe("zstd");
  });

  it("reports malformed lines of compressed files with their line numbers", async () => {
    const text = plain.toString("utf8").split("\n");
    text[4] = "0xnothex\tbroken\tvmlinux\tEXPORT_SYMBOL\t";
    const file = put("broken-line.gz", gzipSync(Buffer.from(text.join("\n"))));
    const t = await readSymvers(file);
    expect(t.problems).toEqual([{ file, line: 5, reason: expect.stringMatching(/bad CRC/) }]);
    expect(t.entries.size).toBe(expected.size - 1);
  });

  const expectFormatError = async (file: string, reason: RegExp): Promise<void> => {
    const err = await readSymvers(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    const fe = err as FormatError;
    expect(fe.file).toBe(file);
    expect(fe.reason).toMatch(reason);
    expect(fe.message).toContain(file);
  };

  it("gives a FormatError naming the file for a truncated gzip stream", async () => {
    const gz = gzipSync(plain);
    await expectFormatError(put("trunc.gz", gz.subarray(0, gz.length >> 1)), /^corrupt gzip stream/);
  });

  it("gives a FormatError naming the file for a gzip stream with a bad CRC", async () => {
    const gz = Buffer.from(gzipSync(plain));
    gz[gz.length - 6] ^= 0xff; // the CRC32 in the trailer
    await expectFormatError(put("badcrc.gz", gz), /^corrupt gzip stream/);
  });

  it("reads an xz file made by xz(1) (CRC64 check), as distributions ship them", async () => {
    const t = await readSymvers(realXz);
    expect(t.problems).toEqual([]);
    expect(t.entries).toEqual(expected);
  });

  it("gives a FormatError naming the file for a corrupt xz stream", async () => {
    // Made by xz(1) with a CRC64 check (without a check, flipped bytes could decode silently to garbage).
    const x = xzBytes;
    await expectFormatError(put("trunc.xz", x.subarray(0, x.length >> 1)), /^corrupt xz stream/);
    for (const off of [x.length - 40, x.length - 30, 200]) {
      const flipped = Buffer.from(x);
      flipped[off] ^= 0x55;
      await expectFormatError(put(`flipped-${off}.xz`, flipped), /^corrupt xz stream/);
    }
    await expectFormatError(put("magic-only.xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2])), /^corrupt xz stream/);
  });

  it("gives a FormatError naming the file for a corrupt zstd stream", async () => {
    await expectFormatError(put("trunc.zst", zstdBytes.subarray(0, zstdBytes.length >> 1)), /^corrupt zstd stream/);
    const flipped = Buffer.from(zstdBytes);
    flipped[flipped.length - 2] ^= 0x55; // the content checksum
    await expectFormatError(put("badsum.zst", flipped), /^corrupt zstd stream/);
    await expectFormatError(put("z.zst", Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), /^corrupt zstd stream/);
  });

  it("refuses a symvers file decompressing past MAX_SYMVERS_TEXT_SIZE (32 MiB), in each format", { timeout: 60_000 }, async () => {
    expect(MAX_SYMVERS_TEXT_SIZE).toBe(32 * 1024 * 1024);
    const over = Buffer.alloc(MAX_SYMVERS_TEXT_SIZE + 1, 0x0a);
    await expectFormatError(put("bomb.gz", gzipSync(over, { level: 1 })), /^decompressed size exceeds the limit of 33554432 bytes$/);
    await expectFormatError(put("bomb.zst", zstdOf(over)), /exceeds the limit of 33554432 bytes$/);
    // Just at the limit is read (all blank lines: refused as empty, so decoded in full first).
    await expectFormatError(put("full.gz", gzipSync(over.subarray(1), { level: 1 })), /^empty symvers file/);
  });

  it("refuses other compressions and binary data by name", async () => {
    await expectFormatError(put("z.bz2", Buffer.from("BZh91AY&SY")), /^bzip2 data is not a supported symvers encoding \(plain, xz, gzip or zstd\)$/);
    await expectFormatError(put("z.lz4", Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7])), /^lz4 data/);
    await expectFormatError(put("z.lzma", Buffer.from([0x5d, 0x00, 0x00, 0x80, 0x00])), /^lzma \(legacy \.lzma\) data/);
    await expectFormatError(put("elf", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])), /ELF/);
    await expectFormatError(put("bin", Buffer.from("0x1234\0\0\0")), /binary data/);
    await expectFormatError(put("bin.gz", gzipSync(Buffer.from([0, 1, 2, 3]))), /binary data/);
  });

  it("passes I/O errors through", async () => {
    await expect(readSymvers(path.join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

// Real distribution symvers files, committed to fixtures/symvers/: a lost folder fails (readdirSync
// throws), and so does one that lost its files.
const fixtureDir = fileURLToPath(new URL("../../fixtures/symvers/", import.meta.url));
const fixtures = readdirSync(fixtureDir).filter((n) => n.endsWith(".symvers.gz"));
describe("fixtures/symvers/*.symvers.gz", () => {
  it("are the nine committed kernels' (fixtures/modules/README.md and fixtures/real-sample)", () => {
    expect(fixtures).toHaveLength(9);
  });
  for (const name of fixtures) {
    it(`reads ${name} without problems`, async () => {
      const t = await readSymvers(path.join(fixtureDir, name));
      expect(t.problems).toEqual([]);
      expect(t.entries.size).toBeGreaterThan(1000);
      expect(t.entries.get("printk")?.module ?? t.entries.get("_printk")?.module).toBe("vmlinux");
      let bad = 0;
      for (const e of t.entries.values()) if (!(e.crc >= 0 && e.crc <= 0xffffffff && Number.isInteger(e.crc))) bad++;
      expect(bad).toBe(0);
    });
  }
});
