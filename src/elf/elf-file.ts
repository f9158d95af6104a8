import elfy from "elfy";
import type { ElfyHeader } from "elfy";
import { FormatError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";
import { ElfLayout } from "./elf-layout.js";

export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;

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
 * One elfy parser for every file (parseHeader sets its byte order and word size before the
 * section entries are decoded). Section flags are not used: elfy's mapFlags, which builds an
 * object of flag names for every section entry, is replaced on this instance by a constant.
 */
const parser = new elfy.Parser();
const NO_FLAGS: Record<string, boolean> = Object.freeze({});
(parser as unknown as { mapFlags: () => Record<string, boolean> }).mapFlags = () => NO_FLAGS;
const EMPTY = Buffer.alloc(0);
const TWO_53 = 2 ** 53;
const SECTION_TYPE_NUMBERS: Record<string, number> = { null: 0, progbits: 1, symtab: 2, strtab: 3, rela: 4, hash: 5, dynamic: 6, note: 7, nobits: 8, rel: 9 };

/**
 * An ELF relocatable object (a kernel module): header and section table decoded
 * with elfy, every offset and size checked against the file before it is used.
 */
export class ElfFile {
  readonly file: string;
  readonly layout: ElfLayout;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  private readonly source: ByteSource;
  private readonly byName: Map<string, ElfSection>;

  private constructor(file: string, source: ByteSource, layout: ElfLayout, machine: number, sections: ElfSection[]) {
    this.file = file;
    this.source = source;
    this.layout = layout;
    this.machine = machine;
    this.sections = sections;
    this.byName = new Map();
    // First section of a name wins, as kmod's kmod_elf_get_section does.
    for (const s of sections) if (s.index !== 0 && !this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  static parse(file: string, source: ByteSource): ElfFile {
    const ident = readChecked(file, source, 0, 16, "truncated ELF identification");
    if (!ident.subarray(0, 4).equals(ELF_MAGIC)) throw new FormatError(file, "not an ELF file");
    const elfClass = ident[4] === 1 ? 32 : ident[4] === 2 ? 64 : null;
    if (elfClass === null) throw new FormatError(file, `unknown ELF class ${ident[4]}`, 4);
    const endianness = ident[5] === 1 ? "little" : ident[5] === 2 ? "big" : null;
    if (endianness === null) throw new FormatError(file, `unknown ELF data encoding ${ident[5]}`, 5);
    const layout = new ElfLayout(elfClass, endianness);

    const headerBytes = readChecked(file, source, 0, layout.headerSize, "truncated ELF header");
    const header: ElfyHeader = parser.parseHeader(headerBytes);
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

    const raw: ElfSection[] = [];
    const nameOffsets: number[] = [];
    for (let i = 0; i < header.shnum; i++) {
      const at = i * header.shentsize;
      const entry = table.subarray(at, at + header.shentsize);
      const s = parser.parseSection(entry, header, EMPTY);
      // elfy reads Elf64_Shdr sh_addralign/sh_entsize at 46/54; they are at 48/56.
      const addralign = elfClass === 64 ? layout.u64(entry, 48) : s.addralign;
      const entsize = elfClass === 64 ? layout.u64(entry, 56) : s.entsize;
      const type = typeof s.type === "number" ? s.type : (SECTION_TYPE_NUMBERS[s.type] ?? layout.u32(entry, 4));
      // elfy's 64-bit sh_offset/sh_size are exact below 2^53; past it they count as Infinity (rejected by the range checks), as ElfLayout.u64 does.
      const offset = s.off >= TWO_53 ? Infinity : s.off;
      const size = s.size >= TWO_53 ? Infinity : s.size;
      if (type !== SHT_NOBITS && i !== 0 && (!Number.isSafeInteger(offset + size) || offset + size > source.size)) {
        throw new FormatError(file, `section ${i} data past end of file`, header.shoff + at);
      }
      nameOffsets.push(s.name);
      raw.push({ index: i, name: "", type, offset, size, link: s.link, addralign, entsize });
    }

    if (header.shstrndx === 0 || header.shstrndx >= raw.length) {
      throw new FormatError(file, `section name table index ${header.shstrndx} out of range`, elfClass === 64 ? 62 : 50);
    }
    const strtabSection = raw[header.shstrndx]!;
    const names = source.read(strtabSection.offset, strtabSection.size);
    for (const s of raw) {
      const off = nameOffsets[s.index]!;
      if (s.index === 0) continue;
      if (off >= names.length) throw new FormatError(file, `section ${s.index} name offset ${off} outside the section name table`, header.shoff + s.index * header.shentsize);
      s.name = cString(file, names, off, strtabSection.offset);
    }
    return new ElfFile(file, source, layout, machine, raw);
  }

  section(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  /** A section's bytes (empty for SHT_NOBITS); the range was checked when the table was read. */
  data(section: ElfSection): Buffer {
    if (section.type === SHT_NOBITS || section.size === 0) return Buffer.alloc(0);
    const bytes = this.source.read(section.offset, section.size);
    if (bytes.length !== section.size) throw new FormatError(this.file, `section ${section.name} data past end of file`, section.offset);
    return bytes;
  }

  /** The ELF section at `index`, or undefined for SHN_UNDEF and reserved indexes. */
  sectionAt(index: number): ElfSection | undefined {
    if (index === SHN_UNDEF || index >= SHN_LORESERVE) return undefined;
    return this.sections[index];
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
