/**
 * Section tables that lie (issue 14), each made in-test from the real provider module: a section
 * without bytes in the file (SHT_NOBITS) where data is read, sizes claiming gigabytes in a sparse
 * file, a wrong symbol entry size, symbols repeating one long name, files that are not ELF and ELF
 * files that are not kernel modules. Each is one FormatError naming the file and the reason,
 * found before anything the size claims is allocated or read.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError } from "../../src/types/errors.js";
import { MAX_SECTION_DATA } from "../../src/elf/elf-file.js";
import { KEPT_NAME_BYTES_PER_STRING_BYTE } from "../../src/elf/symbol-table.js";
import { MAX_MODINFO_SIZE } from "../../src/module/modinfo.js";
import { readKmodListings } from "../../src/module/dump-listings.js";
import { readModule } from "../../src/module/read-module.js";
import { elfSections, setSectionField } from "../helpers/elf-edit.js";
import { PROVIDER_61 } from "../helpers/paths.js";

const dir = mkdtempSync(join(tmpdir(), "kabi-hostile-sections-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const provider = readFileSync(PROVIDER_61);
let n = 0;
function write(bytes: Buffer | string, name = `m${n++}.ko`): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** The error reading `file` fails with (record and kmod listings alike), or null. */
async function failure(file: string, read: "record" | "listings" = "record"): Promise<FormatError> {
  const p = read === "record" ? readModule(file) : readKmodListings(file);
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `${file} was read`).toBeInstanceOf(FormatError);
  const fe = err as FormatError;
  expect(fe.file).toBe(file);
  expect(fe.message.startsWith(`${file}: `)).toBe(true);
  expect(fe.message).not.toContain("\n");
  return fe;
}

const SHT_NOBITS = 8;
function withType(name: string, type: number): Buffer {
  const b = Buffer.from(provider);
  const s = elfSections(b).find((x) => x.name === name)!;
  b.writeUInt32LE(type, s.headerAt + 4); // sh_type (the provider is ELF64 little-endian)
  return b;
}

describe("a section of type SHT_NOBITS where data is read", () => {
  // Before: "Attempt to access memory outside buffer bounds" (a RangeError, no file named).
  it.each([".symtab", ".strtab", "__versions", ".modinfo", "__kcrctab", "__kcrctab_gpl"])("%s", async (name) => {
    const file = write(withType(name, SHT_NOBITS));
    const header = elfSections(provider).find((x) => x.name === name)!.headerAt;
    const fe = await failure(file);
    expect(fe.reason).toBe(`section ${name} has no data in the file (SHT_NOBITS)`);
    expect(fe.offset).toBe(header);
  });

  it.each(["__ksymtab_strings", "__kcrctab"])("%s, in the kmod listings", async (name) => {
    const b = withType(name, SHT_NOBITS);
    if (name === "__ksymtab_strings") {
      // kmod lists __ksymtab_strings only for a module without __crc_ symbols: rename them.
      const strtab = elfSections(b).find((x) => x.name === ".strtab")!;
      let at = b.indexOf("__crc_", strtab.offset);
      while (at >= 0 && at < strtab.offset + strtab.size) {
        b.write("__xrc_", at, "latin1");
        at = b.indexOf("__crc_", at);
      }
    }
    const fe = await failure(write(b), "listings");
    expect(fe.reason).toBe(`section ${name} has no data in the file (SHT_NOBITS)`);
  });
});

describe("a section size claiming gigabytes of a sparse file", () => {
  // Before: 2.1-4.4 GB of memory and 5-33 s, then `kabi dump --json` ended in a RangeError.
  const GIB2 = 2 ** 31;
  it.each([
    ["__versions", GIB2, MAX_SECTION_DATA],
    [".modinfo", GIB2, MAX_MODINFO_SIZE],
    [".symtab", 24 * 2 ** 26, MAX_SECTION_DATA],
    [".strtab", GIB2, MAX_SECTION_DATA],
  ] as const)("%s of %d bytes", async (name, size, limit) => {
    const b = Buffer.from(provider);
    setSectionField(b, name, "size", BigInt(size));
    const file = write(b);
    truncateSync(file, b.length + size); // a hole: the bytes exist, cost nothing on disk, are zeros
    const before = process.memoryUsage().rss;
    const fe = await failure(file);
    expect(fe.reason).toBe(`section ${name} size ${size} exceeds the limit of ${limit} bytes`);
    expect(fe.offset).toBe(elfSections(provider).find((x) => x.name === name)!.headerAt);
    // Refused before reading: nothing near the claimed size was allocated.
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
  });

  it("a section past the end of the file is refused as before (offset + size checked without overflow)", async () => {
    const b = Buffer.from(provider);
    setSectionField(b, "__versions", "offset", 2n ** 64n - 64n);
    expect((await failure(write(b))).reason).toBe("section 25 data past end of file");
  });
});

describe("symbol tables whose entries are not what they claim", () => {
  it("an entry size other than the class's symbol size", async () => {
    const b = Buffer.from(provider);
    const symtab = elfSections(b).find((x) => x.name === ".symtab")!;
    b.writeBigUInt64LE(16n, symtab.headerAt + 56); // sh_entsize
    const fe = await failure(write(b));
    expect(fe.reason).toBe(".symtab entry size 16, expected 24");
  });

  it("every symbol an undefined one naming the same long string", async () => {
    // .strtab narrowed to one name, every symbol pointing at it: the record would hold that name
    // once per symbol, far more than the file holds.
    const b = Buffer.from(provider);
    const secs = elfSections(b);
    const symtab = secs.find((x) => x.name === ".symtab")!;
    const strtab = secs.find((x) => x.name === ".strtab")!;
    const name = "kabi_a_rather_long_symbol_name_repeated";
    b.write(`\0${name}\0`, strtab.offset, "latin1");
    setSectionField(b, ".strtab", "size", BigInt(name.length + 2));
    const count = symtab.size / 24;
    for (let i = 1; i < count; i++) {
      b.writeUInt32LE(1, symtab.offset + i * 24); // st_name
      b.writeUInt16LE(0, symtab.offset + i * 24 + 6); // st_shndx = SHN_UNDEF
    }
    expect((count - 1) * name.length).toBeGreaterThan(KEPT_NAME_BYTES_PER_STRING_BYTE * (name.length + 2));
    const fe = await failure(write(b));
    expect(fe.reason).toMatch(new RegExp(`^names of the symbols up to \\d+ add up to more than ${KEPT_NAME_BYTES_PER_STRING_BYTE} times the size of .strtab$`));
  });
});

describe("symbols pointing into one section many times", () => {
  /** The provider with `section` moved to `sectionData` at the end, and a .symtab of `count` symbols `prefix<i>` defined in it at `value(i)`. */
  function manySymbols(section: string, sectionData: Buffer, prefix: string, count: number, value: (i: number) => number): string {
    const index = elfSections(provider).find((x) => x.name === section)!.index;
    const syms = Buffer.alloc(24 * (count + 1));
    const names = ["", ...Array.from({ length: count }, (_, i) => `${prefix}${i}`)];
    let at = 1;
    for (let i = 1; i <= count; i++) {
      syms.writeUInt32LE(at, i * 24); // st_name
      syms[i * 24 + 4] = 0x11; // STB_GLOBAL, STT_OBJECT
      syms.writeUInt16LE(index, i * 24 + 6); // st_shndx
      syms.writeBigUInt64LE(BigInt(value(i - 1)), i * 24 + 8); // st_value
      at += names[i]!.length + 1;
    }
    const strings = Buffer.from(names.join("\0") + "\0", "latin1");
    const b = Buffer.concat([provider, sectionData, syms, strings]);
    setSectionField(b, section, "offset", BigInt(provider.length));
    setSectionField(b, section, "size", BigInt(sectionData.length));
    setSectionField(b, ".symtab", "offset", BigInt(provider.length + sectionData.length));
    setSectionField(b, ".symtab", "size", BigInt(syms.length));
    setSectionField(b, ".strtab", "offset", BigInt(provider.length + sectionData.length + syms.length));
    setSectionField(b, ".strtab", "size", BigInt(strings.length));
    return write(b);
  }

  it("50,000 __crc_ symbols into a 2 MiB __kcrctab: the section is read once", { timeout: 30_000 }, async () => {
    // Before: each CRC read copied the whole section out of its blocks again (100 GB of copies).
    const file = manySymbols("__kcrctab", Buffer.alloc(2 * 2 ** 20, 0x5a), "__crc_s", 50_000, (i) => i * 4);
    const started = Date.now();
    const listings = await readKmodListings(file);
    expect(listings.exports).toHaveLength(50_000);
    expect(listings.exports.every((e) => e.crc === 0x5a5a5a5a)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("__kstrtabns_ symbols all naming one long namespace string", async () => {
    const text = Buffer.from("N".repeat(1000) + "\0", "latin1");
    const file = manySymbols("__ksymtab_strings", text, "__kstrtabns_s", 10, () => 0);
    const fe = await failure(file);
    expect(fe.reason).toBe(`namespace strings in __ksymtab_strings add up to more than ${KEPT_NAME_BYTES_PER_STRING_BYTE} times its size`);
  });
});

describe("files that are not kernel modules", () => {
  it("a file not starting with \\x7fELF is not an ELF file, however short", async () => {
    for (const text of ["hello\n", "", "\x7fEL", "MZ"]) expect((await failure(write(text))).reason).toBe("not an ELF file");
  });

  it("the ELF magic cut short of the identification bytes is a truncated ELF file", async () => {
    expect((await failure(write(provider.subarray(0, 6)))).reason).toBe("truncated ELF identification");
  });

  it("an executable (e_type ET_EXEC) built from the module", async () => {
    const b = Buffer.from(provider);
    b.writeUInt16LE(2, 16); // e_type
    const fe = await failure(write(b));
    expect(fe.reason).toBe("not a kernel module (ELF type 2, a module is relocatable, type 1)");
    expect((await failure(write(b), "listings")).reason).toBe(fe.reason);
  });

  it("a relocatable object without .gnu.linkonce.this_module", async () => {
    const b = Buffer.from(provider);
    const shstrtab = elfSections(b).find((x) => x.name === ".shstrtab")!;
    const at = b.indexOf(".gnu.linkonce.this_module\0", shstrtab.offset, "latin1");
    b.write(".gnu.linkonce.this_modulx", at, "latin1");
    expect((await failure(write(b))).reason).toBe("not a kernel module (no .gnu.linkonce.this_module section)");
  });

  it("/bin/true copied to t.ko", async () => {
    const file = join(dir, "t.ko");
    copyFileSync("/bin/true", file);
    expect((await failure(file)).reason).toMatch(/^not a kernel module \(ELF type [23], a module is relocatable, type 1\)$/);
  });
});
