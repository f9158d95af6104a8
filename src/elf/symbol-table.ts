import { FormatError } from "../errors.js";
import { cString, SHT_SYMTAB, type ElfFile } from "./elf-file.js";

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
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB) ?? elf.section(".symtab");
  if (!symtab) return [];
  const layout = elf.layout;
  if (symtab.size % layout.symbolSize !== 0) {
    throw new FormatError(elf.file, `.symtab size ${symtab.size} is not a multiple of ${layout.symbolSize}`, symtab.offset);
  }
  const strtabSection = elf.sections[symtab.link];
  if (!strtabSection || symtab.link === 0) throw new FormatError(elf.file, `.symtab links to missing string table ${symtab.link}`, symtab.offset);
  const data = elf.data(symtab);
  const strings = elf.data(strtabSection);
  const count = symtab.size / layout.symbolSize;
  const out: ElfSymbol[] = [];
  const is64 = layout.elfClass === 64;
  for (let i = 1; i < count; i++) {
    const at = i * layout.symbolSize;
    const nameOff = layout.u32(data, at);
    let value: number, info: number, shndx: number;
    if (is64) {
      info = data[at + 4]!;
      shndx = layout.u16(data, at + 6);
      value = layout.u64(data, at + 8);
    } else {
      value = layout.u32(data, at + 4);
      info = data[at + 12]!;
      shndx = layout.u16(data, at + 14);
    }
    if (nameOff >= strings.length) {
      throw new FormatError(elf.file, `symbol ${i} name offset ${nameOff} outside ${strtabSection.name}`, symtab.offset + at);
    }
    out.push({ name: cString(elf.file, strings, nameOff, strtabSection.offset), value, sectionIndex: shndx, bind: info >> 4, type: info & 0xf });
  }
  return out;
}
