import { FormatError } from "../types/errors.js";
import type { ElfFile } from "../elf/elf-file.js";
import type { ModversionEntry } from "../types/module-record.js";

const MODVERSION_ENTRY_SIZE = 64;

export interface Modversions {
  /** What the kernel checks: the extended list when the module has one, else `__versions`. */
  entries: ModversionEntry[];
  present: boolean;
}

/**
 * `__versions` is an array of `{ unsigned long crc; char name[64 - sizeof(unsigned long)]; }`
 * in the module's class and byte order. Linux 6.14+ may add `__version_ext_crcs` (u32 each)
 * with `__version_ext_names` (NUL-separated), which holds every symbol and is what
 * kernel/module/version.c consults when present.
 */
export function readModversions(elf: ElfFile): Modversions {
  const ext = readExtendedModversions(elf);
  const basic = readVersionsSection(elf);
  if (ext) return { entries: ext, present: true };
  return { entries: basic ?? [], present: basic !== null };
}

/** The `__versions` entries alone, in file order, as `modprobe --dump-modversions` lists them. */
export function readVersionsSection(elf: ElfFile): ModversionEntry[] | null {
  const section = elf.section("__versions");
  if (!section) return null;
  if (section.size % MODVERSION_ENTRY_SIZE !== 0) {
    throw new FormatError(elf.file, `__versions size ${section.size} is not a multiple of ${MODVERSION_ENTRY_SIZE}`, section.offset);
  }
  const data = elf.data(section);
  const crcSize = elf.layout.wordSize;
  const out: ModversionEntry[] = [];
  for (let at = 0; at < data.length; at += MODVERSION_ENTRY_SIZE) {
    const nameStart = at + crcSize;
    const nameEnd = data.indexOf(0, nameStart);
    if (nameEnd < 0 || nameEnd >= at + MODVERSION_ENTRY_SIZE) {
      throw new FormatError(elf.file, `__versions entry ${at / MODVERSION_ENTRY_SIZE} has a name without NUL terminator`, section.offset + nameStart);
    }
    const skip = data[nameStart] === 0x2e /* '.' */ ? 1 : 0;
    out.push({ crc: elf.layout.word(data, at), symbol: data.toString("latin1", nameStart + skip, nameEnd) });
  }
  return out;
}

function readExtendedModversions(elf: ElfFile): ModversionEntry[] | null {
  const crcSection = elf.section("__version_ext_crcs");
  const nameSection = elf.section("__version_ext_names");
  if (!crcSection || !nameSection) return null;
  if (crcSection.size % 4 !== 0) {
    throw new FormatError(elf.file, `__version_ext_crcs size ${crcSection.size} is not a multiple of 4`, crcSection.offset);
  }
  const crcs = elf.data(crcSection);
  const names = elf.data(nameSection);
  const out: ModversionEntry[] = [];
  let pos = 0;
  for (let at = 0; at < crcs.length; at += 4) {
    const end = names.indexOf(0, pos);
    if (end < 0) {
      throw new FormatError(elf.file, `__version_ext_names has fewer names than __version_ext_crcs has CRCs (${crcs.length / 4})`, nameSection.offset + pos);
    }
    out.push({ crc: elf.layout.u32(crcs, at), symbol: names.toString("latin1", pos, end) });
    pos = end + 1;
  }
  return out;
}
