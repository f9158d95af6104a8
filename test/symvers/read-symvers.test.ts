import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { xz } from "@napi-rs/lzma";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../../src/errors.js";
import { parseSymvers } from "../../src/symvers/parse-symvers.js";
import { detectSymversEncoding, readSymvers, readSymversSync } from "../../src/symvers/read-symvers.js";

const dataFile = fileURLToPath(new URL("./data/current-6.1-gki-arm64.symvers", import.meta.url));
const plain = readFileSync(dataFile);
// The same file compressed by xz(1) with --check=crc64 (committed, so no xz binary is needed).
const realXz = fileURLToPath(new URL("./data/current-6.1-gki-arm64.symvers.xz", import.meta.url));
const expected = parseSymvers(plain.toString("utf8"), "x").entries;

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
    xz: put("symvers-plain", xz.compressSync(plain)),
  };

  for (const [kind, file] of Object.entries(files)) {
    it(`reads ${kind} data whatever the file is called`, async () => {
      const t = await readSymvers(file);
      expect(t.path).toBe(file);
      expect(t.problems).toEqual([]);
      expect(t.entries).toEqual(expected);
      expect(t.entries.get("system_state")?.crc).toBe(0xf7370f56);
      expect(readSymversSync(file).entries).toEqual(expected);
    });
  }

  it("detects encodings by magic", () => {
    expect(detectSymversEncoding(plain, "f")).toBe("plain");
    expect(detectSymversEncoding(gzipSync(plain), "f")).toBe("gzip");
    expect(detectSymversEncoding(xz.compressSync(plain), "f")).toBe("xz");
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
    expect(() => readSymversSync(file)).toThrow(FormatError);
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
    // Made by xz(1) with a CRC64 check. (@napi-rs/lzma's own compressor writes check type
    // None, so flipped bytes in its output would decode silently to garbage.)
    const x = readFileSync(realXz);
    await expectFormatError(put("trunc.xz", x.subarray(0, x.length >> 1)), /^corrupt xz stream/);
    for (const off of [x.length - 40, x.length - 30, 200]) {
      const flipped = Buffer.from(x);
      flipped[off] ^= 0x55;
      await expectFormatError(put(`flipped-${off}.xz`, flipped), /^corrupt xz stream/);
    }
    await expectFormatError(put("magic-only.xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2])), /^corrupt xz stream/);
  });

  it("refuses other compressions and binary data by name", async () => {
    await expectFormatError(put("z.zst", Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), /zstd/);
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
