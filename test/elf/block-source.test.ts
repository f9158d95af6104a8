/** BlockFileSource returns exactly the file's bytes for any range, reading each block once. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlockFileSource } from "../../src/elf/block-source.js";

const work = mkdtempSync(join(tmpdir(), "kabi-blocks-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("BlockFileSource", () => {
  it("serves any range, across blocks and at the end of the file", () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff));
    const file = join(work, "f.bin");
    writeFileSync(file, bytes);
    const src = BlockFileSource.open(file, 64);
    expect(src.size).toBe(1000);
    let seed = 1;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let k = 0; k < 500; k++) {
      const off = rnd(1000);
      const len = rnd(300);
      expect(src.read(off, len).equals(bytes.subarray(off, off + len))).toBe(true);
    }
    expect(src.read(990, 50)).toEqual(bytes.subarray(990)); // short at end of file, like FileSource
    expect(src.read(0, 1000)).toEqual(bytes);
    expect(src.bytesRead).toBe(1000); // every block read once
    src.close();
  });

  it("refuses a directory", () => {
    expect(() => BlockFileSource.open(work)).toThrow(expect.objectContaining({ code: "EISDIR" }));
  });
});
