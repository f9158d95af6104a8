/**
 * Malformed ELF input: each defect of fixtures/malformed/ (one per file, made from a real module
 * by make.sh) gives a FormatError naming the file, the reason and the offset, with native and
 * with fallback codecs (which must not matter for a plain .ko). Also the same defects made
 * in-test on the 32-bit and big-endian real modules, so the bounds checks are exercised in
 * every layout.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../../src/types/errors.js";
import { ElfFile } from "../../src/elf/elf-file.js";
import { BufferSource } from "../../src/elf/byte-source.js";
import { readModule } from "../../src/module/read-module.js";
import { ELF_CASES } from "../helpers/malformed.js";
import { elfSections, setSectionField } from "../helpers/elf-edit.js";
import { PROVIDER_61, realSampleModules } from "../helpers/paths.js";

describe.each([false, true])("malformed ELF (forceFallback=%s)", (forceFallback) => {
  it.each(ELF_CASES)("$title", async ({ file, reason, offset }) => {
    const err = await readModule(file, { forceFallback }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    const fe = err as FormatError;
    expect(fe.file).toBe(file);
    expect(fe.reason).toMatch(reason);
    expect(fe.message.startsWith(`${file}: `)).toBe(true);
    if (offset !== undefined) expect(fe.offset).toBe(offset);
  });
});

describe("ElfFile.parse bounds checks on in-memory edits", () => {
  const provider = readFileSync(PROVIDER_61);
  const parse = (b: Buffer) => ElfFile.parse("mem.ko", new BufferSource(b));

  it("the unedited module parses, with its section names", () => {
    const elf = parse(provider);
    expect(elf.sectionCount).toBe(39);
    expect(elf.section("__versions")).toMatchObject({ index: 25, offset: 0x380, size: 0x1c0 });
  });

  it("a section table entry size other than the class's", () => {
    const b = Buffer.from(provider);
    b.writeUInt16LE(40, 58); // e_shentsize
    expect(() => parse(b)).toThrow(/section header size 40, expected 64/);
  });

  it("a section name table index out of range", () => {
    const b = Buffer.from(provider);
    b.writeUInt16LE(200, 62); // e_shstrndx
    expect(() => parse(b)).toThrow(/section name table index 200 out of range/);
  });

  it("unknown data encoding", () => {
    const b = Buffer.from(provider);
    b[5] = 7;
    expect(() => parse(b)).toThrow(/unknown ELF data encoding 7/);
  });

  it("a section size so large offset+size is not a safe integer", () => {
    const b = Buffer.from(provider);
    setSectionField(b, "__versions", "size", 0xffff_ffff_ffff_fff0n);
    expect(() => parse(b).section("__versions")).toThrow(/section 25 data past end of file/);
  });

  it("a section table offset past 2^53 is rejected, not wrapped", () => {
    const b = Buffer.from(provider);
    b.writeBigUInt64LE(0xffff_ffff_ffff_0000n, 40); // e_shoff
    expect(() => parse(b)).toThrow(FormatError);
  });
});

// The same defects on real 32-bit (i386) and big-endian (s390x) modules of the committed sample.
const byLayout = new Map<string, string>();
for (const p of realSampleModules()) {
  const arch = /\/(i386|s390x)[^/]*\//.exec(p)?.[1];
  if (arch !== undefined && p.endsWith(".ko") && !byLayout.has(arch)) byLayout.set(arch, p);
}
// The committed real sample has both (fixtures/real-sample/i386-6.1 and s390x-6.1): a lost one fails.
describe("malformed 32-bit and big-endian modules", () => {
  it("has an i386 and an s390x module from the committed real sample", () => {
    expect([...byLayout.keys()].sort()).toEqual(["i386", "s390x"]);
  });

  const dir = mkdtempSync(join(tmpdir(), "kabi-elf-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [arch, src] of byLayout) {
    const bytes = readFileSync(src);
    const secs = elfSections(bytes);
    const versions = secs.find((s) => s.name === "__versions")!;

    it(`${arch}: section table past end of file`, async () => {
      const f = join(dir, `${arch}-shtab.ko`);
      writeFileSync(f, bytes.subarray(0, secs.shoff + 10));
      await expect(readModule(f)).rejects.toThrow(new RegExp(`^${f}: truncated section table at offset ${secs.shoff}$`));
    });

    it(`${arch}: __versions data past end of file`, async () => {
      const f = join(dir, `${arch}-data.ko`);
      const b = Buffer.from(bytes);
      setSectionField(b, "__versions", "offset", BigInt(b.length - 8));
      writeFileSync(f, b);
      await expect(readModule(f)).rejects.toThrow(new RegExp(`^${f}: section ${versions.index} data past end of file`));
    });

    it(`${arch}: __versions size not a multiple of 64`, async () => {
      const f = join(dir, `${arch}-size.ko`);
      const b = Buffer.from(bytes);
      setSectionField(b, "__versions", "size", BigInt(versions.size - 4));
      writeFileSync(f, b);
      await expect(readModule(f)).rejects.toThrow(`${f}: __versions size ${versions.size - 4} is not a multiple of 64`);
    });

    it(`${arch}: a __versions name without NUL`, async () => {
      const f = join(dir, `${arch}-nul.ko`);
      const b = Buffer.from(bytes);
      const crcSize = secs.is64 ? 8 : 4;
      b.fill(0x41, versions.offset + crcSize, versions.offset + 64);
      writeFileSync(f, b);
      await expect(readModule(f)).rejects.toThrow(`${f}: __versions entry 0 has a name without NUL terminator at offset ${versions.offset + crcSize}`);
    });
  }
});
