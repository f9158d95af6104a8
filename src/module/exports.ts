import { cString, SHN_ABS, SHN_UNDEF, type ElfFile } from "../elf/elf-file.js";
import { KEPT_NAME_BYTES_PER_STRING_BYTE, type ElfSymbol } from "../elf/symbol-table.js";
import { FormatError } from "../types/errors.js";
import type { ExportedSymbol, ModversionEntry } from "../types/module-record.js";

const KSYMTAB = "__ksymtab_";
const KSTRTABNS = "__kstrtabns_";
const CRC = "__crc_";

/**
 * A module's exports from its symbol table: `__ksymtab_<sym>` labels name each export and
 * sit in `__ksymtab` or `__ksymtab_gpl` (which says GPL-only); `__kstrtabns_<sym>` points
 * at the namespace string in `__ksymtab_strings`; `__crc_<sym>` holds the CRC, either as an
 * absolute value (older kernels) or as an offset into `__kcrctab*` (newer ones).
 */
export function readExports(elf: ElfFile, symbols: readonly ElfSymbol[]): ExportedSymbol[] {
  const crcs = new Map<string, number>();
  const namespaces = new Map<string, string>();
  const strings = new NamespaceStrings(elf);
  const entries: { name: string; gplOnly: boolean }[] = [];
  for (const sym of symbols) {
    const name = sym.name;
    if (name.startsWith(KSYMTAB)) {
      const section = elf.sectionAt(sym.sectionIndex);
      if (!section || !section.name.startsWith("__ksymtab") || section.name === "__ksymtab_strings") continue;
      entries.push({ name: name.slice(KSYMTAB.length), gplOnly: section.name.startsWith("__ksymtab_gpl") });
    } else if (name.startsWith(CRC)) {
      const crc = resolveCrc(elf, sym);
      if (crc !== null) crcs.set(name.slice(CRC.length), crc);
    } else if (name.startsWith(KSTRTABNS)) {
      const ns = strings.at(sym);
      if (ns !== null) namespaces.set(name.slice(KSTRTABNS.length), ns);
    }
  }
  return entries.map((e) => ({ name: e.name, crc: crcs.get(e.name) ?? null, gplOnly: e.gplOnly, namespace: namespaces.get(e.name) ?? "" }));
}

/** The CRC a `__crc_` symbol stands for, or null when it cannot be resolved (kmod prints -1 then). */
export function resolveCrc(elf: ElfFile, sym: ElfSymbol): number | null {
  if (sym.sectionIndex === SHN_ABS || sym.sectionIndex === SHN_UNDEF) return sym.value;
  const section = elf.sectionAt(sym.sectionIndex);
  if (!section || section.size < 4 || sym.value > section.size - 4) return null;
  return elf.layout.u32(elf.data(section), sym.value);
}

/**
 * The strings `__kstrtabns_` symbols point at. One string per (section, offset), each section's
 * bytes read once; and the strings taken may add up to at most KEPT_NAME_BYTES_PER_STRING_BYTE
 * times their section, as symbol names may (src/elf/symbol-table.ts): symbols pointing again and
 * again at one long string would make each export carry it.
 */
class NamespaceStrings {
  private readonly made = new Map<string, string>();
  private readonly taken = new Map<number, number>();
  constructor(private readonly elf: ElfFile) {}

  at(sym: ElfSymbol): string | null {
    const elf = this.elf;
    const section = elf.sectionAt(sym.sectionIndex);
    if (!section || sym.value >= section.size) return null;
    const key = `${section.index}:${sym.value}`;
    let text = this.made.get(key);
    if (text === undefined) {
      text = cString(elf.file, elf.data(section), sym.value, section.offset);
      this.made.set(key, text);
    }
    const taken = (this.taken.get(section.index) ?? 0) + text.length;
    if (taken > KEPT_NAME_BYTES_PER_STRING_BYTE * section.size) {
      throw new FormatError(elf.file, `namespace strings in ${section.name} add up to more than ${KEPT_NAME_BYTES_PER_STRING_BYTE} times its size`, section.offset + sym.value);
    }
    this.taken.set(section.index, taken);
    return text;
  }
}

/**
 * What `modprobe --show-exports` lists (kmod's kmod_elf_get_symbols): every `__crc_` symbol in
 * symbol-table order with its resolved CRC; without any, every string of `__ksymtab_strings`
 * with CRC 0.
 */
export function kmodExportListing(elf: ElfFile, symbols: readonly ElfSymbol[]): ModversionEntry[] {
  const out: ModversionEntry[] = [];
  for (const sym of symbols) {
    if (!sym.name.startsWith(CRC)) continue;
    out.push({ crc: resolveCrc(elf, sym) ?? -1, symbol: sym.name.slice(CRC.length) });
  }
  if (out.length > 0) return out;
  const strings = elf.section("__ksymtab_strings");
  if (!strings) return out;
  const data = elf.data(strings);
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i === data.length || data[i] === 0) {
      if (i > start) out.push({ crc: 0, symbol: data.toString("latin1", start, i) });
      start = i + 1;
    }
  }
  return out;
}
