import type { ElfClass, Endianness } from "../types/module-record.js";

/**
 * Class and byte order in one place: every multi-byte read of an ELF field goes through here,
 * the symbol table's loop included. There is one ElfLayout class, so each call site sees one
 * shape and V8 inlines u16/u32 with their byte-order test; no per-file specialised readers are needed.
 */
export class ElfLayout {
  readonly elfClass: ElfClass;
  readonly endianness: Endianness;
  /** Size of an address-sized word (and of a CRC in `__versions`): 4 or 8. */
  readonly wordSize: 4 | 8;
  readonly headerSize: number;
  readonly sectionHeaderSize: number;
  readonly symbolSize: number;
  private readonly little: boolean;

  constructor(elfClass: ElfClass, endianness: Endianness) {
    this.elfClass = elfClass;
    this.endianness = endianness;
    this.little = endianness === "little";
    this.wordSize = elfClass === 64 ? 8 : 4;
    this.headerSize = elfClass === 64 ? 64 : 52;
    this.sectionHeaderSize = elfClass === 64 ? 64 : 40;
    this.symbolSize = elfClass === 64 ? 24 : 16;
  }

  u16(buf: Buffer, off: number): number {
    return this.little ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
  }

  u32(buf: Buffer, off: number): number {
    return this.little ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  }

  /** A 64-bit field as a number; values past 2^53 come back as Infinity so range checks reject them. */
  u64(buf: Buffer, off: number): number {
    const lo = this.little ? buf.readUInt32LE(off) : buf.readUInt32BE(off + 4);
    const hi = this.little ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off);
    return hi >= 0x200000 ? Infinity : hi * 0x100000000 + lo;
  }

  word(buf: Buffer, off: number): number {
    return this.wordSize === 8 ? this.u64(buf, off) : this.u32(buf, off);
  }

  /** The low 32 bits of a word-sized field, as modversion CRCs are compared. */
  crcWord(buf: Buffer, off: number): number {
    if (this.wordSize === 4) return this.u32(buf, off);
    return this.little ? buf.readUInt32LE(off) : buf.readUInt32BE(off + 4);
  }
}
