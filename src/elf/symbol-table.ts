import { FormatError } from "../types/errors.js";
import { cString, SHN_UNDEF, SHT_SYMTAB, type ElfFile, type ElfSection } from "./elf-file.js";

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export interface ElfSymbol {
  name: string;
  value: number;
  /** st_shndx: the section index, or SHN_UNDEF / SHN_ABS / another reserved index. */
  sectionIndex: number;
  bind: number;
  type: number;
}

/** `.symtab` decoded, entry 0 (the null symbol) left out; empty when the module has none. */
export function readSymbolTable(elf: ElfFile): ElfSymbol[] {
  return decodeSymbols(elf, false);
}

/**
 * The symbols a module record is built from, in table order: every undefined (SHN_UNDEF)
 * symbol with a name, and every `__ksymtab_*`, `__crc_*` and `__kstrtabns_*` label. The same
 * checks as readSymbolTable, but no string is made for the other symbols (a module's table is
 * mostly local labels: 823k symbols in the Debian 6.1 tree, of which a few percent are kept).
 */
export function readRecordSymbols(elf: ElfFile): ElfSymbol[] {
  return decodeSymbols(elf, true);
}

const UNDERSCORE = 0x5f;
const PREFIXES = ["__ksymtab_", "__crc_", "__kstrtabns_"].map((p) => Buffer.from(p, "latin1"));

function hasPrefix(strings: Buffer, at: number, prefix: Buffer): boolean {
  if (at + prefix.length > strings.length) return false;
  for (let k = 2; k < prefix.length; k++) if (strings[at + k] !== prefix[k]) return false;
  return true;
}

function wanted(strings: Buffer, at: number): boolean {
  if (strings[at] !== UNDERSCORE || strings[at + 1] !== UNDERSCORE) return false;
  for (const p of PREFIXES) if (hasPrefix(strings, at, p)) return true;
  return false;
}

/**
 * How many bytes of names the symbols a record keeps (readRecordSymbols) may add up to, per byte
 * of the string table. Names can share bytes (the linker merges a name that is the tail of
 * another), so the sum could pass the table's size, but in the corpus of real modules it stays
 * under 0.75; symbols pointing again and again at one long name are a crafted table, and would
 * make records (and their JSON) far larger than the file. Every symbol (readSymbolTable) may share
 * more (local labels do: 1.8 in the corpus), and nothing is printed for most of them: one string
 * per name offset keeps those in memory once.
 */
export const KEPT_NAME_BYTES_PER_STRING_BYTE = 4;

function decodeSymbols(elf: ElfFile, filtered: boolean): ElfSymbol[] {
  const symtab = elf.sectionOfType(SHT_SYMTAB) ?? elf.section(".symtab");
  if (!symtab) return [];
  const layout = elf.layout;
  if (symtab.size % layout.symbolSize !== 0) {
    throw new FormatError(elf.file, `.symtab size ${symtab.size} is not a multiple of ${layout.symbolSize}`, symtab.offset);
  }
  if (symtab.entsize !== 0 && symtab.entsize !== layout.symbolSize) {
    throw new FormatError(elf.file, `.symtab entry size ${symtab.entsize}, expected ${layout.symbolSize}`, elf.headerOffset(symtab.index));
  }
  const strtabSection: ElfSection | undefined = elf.sectionAt(symtab.link);
  if (!strtabSection || symtab.link === 0) throw new FormatError(elf.file, `.symtab links to missing string table ${symtab.link}`, symtab.offset);
  const data = elf.data(symtab);
  const strings = elf.data(strtabSection);
  const stringsLength = strings.length;
  // Each kept name is checked by cString and, when filtering, each skipped one here (the same
  // error either way). A name at or before the table's last NUL is terminated: one test per skipped name, where a
  // search for its NUL would cost the whole table each time.
  const lastNul = strings.lastIndexOf(0);
  // One string per name offset: symbols sharing a name share it, and each name is scanned once.
  const names = new Map<number, string>();
  const keptNameLimit = filtered ? KEPT_NAME_BYTES_PER_STRING_BYTE * stringsLength : Infinity;
  let keptNameBytes = 0;
  const count = symtab.size / layout.symbolSize;
  const size = layout.symbolSize;
  const out: ElfSymbol[] = [];
  const is64 = layout.elfClass === 64;
  for (let i = 1; i < count; i++) {
    const at = i * size;
    const nameOff = layout.u32(data, at);
    if (nameOff >= stringsLength) {
      throw new FormatError(elf.file, `symbol ${i} name offset ${nameOff} outside ${strtabSection.name}`, symtab.offset + at);
    }
    const shndxAt = is64 ? at + 6 : at + 14;
    const shndx = layout.u16(data, shndxAt);
    if (filtered && !(shndx === SHN_UNDEF ? strings[nameOff] !== 0 : wanted(strings, nameOff))) {
      if (nameOff > lastNul) cString(elf.file, strings, nameOff, strtabSection.offset);
      continue;
    }
    let value: number, info: number;
    if (is64) {
      info = data[at + 4]!;
      value = layout.u64(data, at + 8);
    } else {
      value = layout.u32(data, at + 4);
      info = data[at + 12]!;
    }
    let name = names.get(nameOff);
    if (name === undefined) {
      name = cString(elf.file, strings, nameOff, strtabSection.offset);
      names.set(nameOff, name);
    }
    keptNameBytes += name.length;
    if (keptNameBytes > keptNameLimit) {
      throw new FormatError(elf.file, `names of the symbols up to ${i} add up to more than ${KEPT_NAME_BYTES_PER_STRING_BYTE} times the size of ${strtabSection.name}`, symtab.offset + at);
    }
    out.push({ name, value, sectionIndex: shndx, bind: info >> 4, type: info & 0xf });
  }
  return out;
}
