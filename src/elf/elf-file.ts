import elfy from "elfy";
import type { ElfyHeader, Parser } from "elfy";
import { FormatError } from "../types/errors.js";
import type { ByteSource } from "./byte-source.js";
import { ElfLayout } from "./elf-layout.js";

export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
/** e_type of a relocatable object, which every kernel module is. */
export const ET_REL = 1;

/**
 * The most bytes of one section kabi reads. The largest sections it reads in the corpus of real
 * modules (amdgpu's .symtab and .strtab) are under 1 MiB; a section table claiming more describes
 * no module (a sparse file can make such a claim without the bytes costing anything on disk), and
 * is refused before anything is allocated or read.
 */
export const MAX_SECTION_DATA = 16 * 1024 * 1024;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
  addralign: number;
  entsize: number;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/**
 * One elfy parser per class and byte order. An elfy parser keeps the byte order and word size of
 * the last header it decoded, and section entries are decoded lazily, after other modules' headers
 * may have been read (reads interleave across files), so a parser is never shared between layouts.
 * Section flags are not used: elfy's mapFlags, which builds an object of flag names for every
 * section entry, is replaced on these instances by a constant.
 */
const parsers = new Map<string, Parser>();
const NO_FLAGS: Record<string, boolean> = Object.freeze({});
function parserFor(layout: ElfLayout): Parser {
  const key = `${layout.elfClass}${layout.endianness}`;
  let p = parsers.get(key);
  if (p === undefined) {
    p = new elfy.Parser();
    (p as unknown as { mapFlags: () => Record<string, boolean> }).mapFlags = () => NO_FLAGS;
    parsers.set(key, p);
  }
  return p;
}
const EMPTY = Buffer.alloc(0);
const TWO_53 = 2 ** 53;
const SECTION_TYPE_NUMBERS: Record<string, number> = { null: 0, progbits: 1, symtab: 2, strtab: 3, rela: 4, hash: 5, dynamic: 6, note: 7, nobits: 8, rel: 9 };

/**
 * An ELF relocatable object (a kernel module): the header is decoded with elfy at once, the
 * section table entry by entry when a section is asked for (a module has ~60 sections and the
 * reader uses a handful: decoding all of them cost more than the rest of reading a plain .ko).
 * Every offset and size is checked against the file before it is used.
 */
export class ElfFile {
  readonly file: string;
  readonly layout: ElfLayout;
  readonly machine: number;
  /** e_type: ET_REL (1) for a kernel module. */
  readonly type: number;
  readonly sectionCount: number;
  private readonly source: ByteSource;
  private readonly header: ElfyHeader;
  private readonly table: Buffer;
  private readonly names: Buffer;
  private readonly namesOffset: number;
  private readonly decoded: (ElfSection | undefined)[];
  private readonly sectionData = new Map<number, Buffer>();
  private readonly parser: Parser;

  private constructor(file: string, source: ByteSource, layout: ElfLayout, machine: number, type: number, header: ElfyHeader, table: Buffer) {
    this.file = file;
    this.source = source;
    this.layout = layout;
    this.machine = machine;
    this.type = type;
    this.header = header;
    this.table = table;
    this.sectionCount = header.shnum;
    this.decoded = new Array(header.shnum);
    this.parser = parserFor(layout);
    // The section name table itself, decoded first: every other entry's name points into it.
    const strtab = this.decode(header.shstrndx, "");
    this.names = this.data(strtab);
    this.namesOffset = strtab.offset;
    this.decoded[header.shstrndx] = undefined; // decoded again, with its name, when asked for
  }

  static parse(file: string, source: ByteSource): ElfFile {
    // A file that does not start with the magic is not ELF whatever its length; one that does but
    // stops before the end of e_ident is a truncated ELF file.
    const magic = source.read(0, Math.min(ELF_MAGIC.length, source.size));
    if (!magic.equals(ELF_MAGIC)) throw new FormatError(file, "not an ELF file");
    const ident = readChecked(file, source, 0, 16, "truncated ELF identification");
    const elfClass = ident[4] === 1 ? 32 : ident[4] === 2 ? 64 : null;
    if (elfClass === null) throw new FormatError(file, `unknown ELF class ${ident[4]}`, 4);
    const endianness = ident[5] === 1 ? "little" : ident[5] === 2 ? "big" : null;
    if (endianness === null) throw new FormatError(file, `unknown ELF data encoding ${ident[5]}`, 5);
    const layout = new ElfLayout(elfClass, endianness);

    const headerBytes = readChecked(file, source, 0, layout.headerSize, "truncated ELF header");
    const header: ElfyHeader = parserFor(layout).parseHeader(headerBytes);
    const type = layout.u16(headerBytes, 16);
    const machine = layout.u16(headerBytes, 18);
    if (header.shoff === 0 || header.shnum === 0) {
      if (header.shoff !== 0) throw new FormatError(file, "extended section numbering is not supported", header.shoff);
      throw new FormatError(file, "no section table");
    }
    if (header.shentsize !== layout.sectionHeaderSize) {
      throw new FormatError(file, `section header size ${header.shentsize}, expected ${layout.sectionHeaderSize}`, elfClass === 64 ? 58 : 46);
    }
    const tableSize = header.shnum * header.shentsize;
    if (!Number.isSafeInteger(header.shoff) || header.shoff + tableSize > source.size) {
      throw new FormatError(file, "truncated section table", header.shoff);
    }
    const table = source.read(header.shoff, tableSize);
    if (table.length < tableSize) throw new FormatError(file, "truncated section table", header.shoff);
    if (header.shstrndx === 0 || header.shstrndx >= header.shnum) {
      throw new FormatError(file, `section name table index ${header.shstrndx} out of range`, elfClass === 64 ? 62 : 50);
    }
    return new ElfFile(file, source, layout, machine, type, header, table);
  }

  /** The first section named `name`, as kmod's kmod_elf_get_section finds it (names compared in place). */
  section(name: string): ElfSection | undefined {
    const names = this.names;
    const first = name.charCodeAt(0);
    for (let i = 1; i < this.sectionCount; i++) {
      const off = this.nameOffset(i);
      if (off >= names.length || names[off] !== first) continue;
      let k = 1;
      while (k < name.length && names[off + k] === name.charCodeAt(k)) k++;
      if (k === name.length && names[off + k] === 0) return this.sectionAt(i);
    }
    return undefined;
  }

  /** The first section of type `type` (sh_type is a 32-bit word at offset 4 in both classes). */
  sectionOfType(type: number): ElfSection | undefined {
    const size = this.header.shentsize;
    for (let i = 1; i < this.sectionCount; i++) if (this.layout.u32(this.table, i * size + 4) === type) return this.sectionAt(i);
    return undefined;
  }

  /**
   * A section's bytes. Its range inside the file was checked when its entry was decoded; here its
   * size is checked against `limit` before anything is read, and a section without bytes in the
   * file (SHT_NOBITS, which only reserves memory at load time) is an error when its data is asked for.
   */
  data(section: ElfSection, limit = MAX_SECTION_DATA): Buffer {
    if (section.size === 0) return EMPTY;
    const label = section.name === "" ? `${section.index}` : section.name;
    if (section.type === SHT_NOBITS) {
      throw new FormatError(this.file, `section ${label} has no data in the file (SHT_NOBITS)`, this.headerOffset(section.index));
    }
    if (section.size > limit) {
      throw new FormatError(this.file, `section ${label} size ${section.size} exceeds the limit of ${limit} bytes`, this.headerOffset(section.index));
    }
    // Read once: a symbol table may point into the same section many times (one __crc_ symbol
    // per export), and a section spanning several blocks is a new copy at each read.
    const cached = this.sectionData.get(section.index);
    if (cached !== undefined) return cached;
    const bytes = this.source.read(section.offset, section.size);
    if (bytes.length !== section.size) throw new FormatError(this.file, `section ${section.name} data past end of file`, section.offset);
    this.sectionData.set(section.index, bytes);
    return bytes;
  }

  /** The ELF section at `index`, or undefined for SHN_UNDEF, reserved and out-of-range indexes. */
  sectionAt(index: number): ElfSection | undefined {
    if (index === SHN_UNDEF || index >= SHN_LORESERVE || index >= this.sectionCount) return undefined;
    const s = this.decoded[index];
    if (s !== undefined) return s;
    const off = this.nameOffset(index);
    if (off >= this.names.length) {
      throw new FormatError(this.file, `section ${index} name offset ${off} outside the section name table`, this.header.shoff + index * this.header.shentsize);
    }
    return this.decode(index, cString(this.file, this.names, off, this.namesOffset));
  }

  /** The file offset of section `index`'s entry in the section table. */
  headerOffset(index: number): number {
    return this.header.shoff + index * this.header.shentsize;
  }

  private nameOffset(index: number): number {
    return this.layout.u32(this.table, index * this.header.shentsize);
  }

  private decode(i: number, name: string): ElfSection {
    const header = this.header;
    const at = i * header.shentsize;
    const entry = this.table.subarray(at, at + header.shentsize);
    const s = this.parser.parseSection(entry, header, EMPTY);
    const is64 = this.layout.elfClass === 64;
    // elfy reads Elf64_Shdr sh_addralign/sh_entsize at 46/54; they are at 48/56.
    const addralign = is64 ? this.layout.u64(entry, 48) : s.addralign;
    const entsize = is64 ? this.layout.u64(entry, 56) : s.entsize;
    const type = typeof s.type === "number" ? s.type : (SECTION_TYPE_NUMBERS[s.type] ?? this.layout.u32(entry, 4));
    // elfy's 64-bit sh_offset/sh_size are exact below 2^53; past it they count as Infinity (rejected by the range check), as ElfLayout.u64 does.
    const offset = s.off >= TWO_53 ? Infinity : s.off;
    const size = s.size >= TWO_53 ? Infinity : s.size;
    if (type !== SHT_NOBITS && (!Number.isSafeInteger(offset + size) || offset + size > this.source.size)) {
      throw new FormatError(this.file, `section ${i} data past end of file`, header.shoff + at);
    }
    const section: ElfSection = { index: i, name, type, offset, size, link: s.link, addralign, entsize };
    this.decoded[i] = section;
    return section;
  }
}

function readChecked(file: string, source: ByteSource, offset: number, length: number, reason: string): Buffer {
  if (source.size < offset + length) throw new FormatError(file, reason, source.size);
  return source.read(offset, length);
}

/** A NUL-terminated string at `off` in `buf`; a missing NUL is a format error. */
export function cString(file: string, buf: Buffer, off: number, fileOffsetOfBuf: number): string {
  const end = buf.indexOf(0, off);
  if (end < 0) throw new FormatError(file, "string without NUL terminator", fileOffsetOfBuf + off);
  return buf.toString("latin1", off, end);
}
