import type { ElfFile } from "../elf/elf-file.js";
import type { ModinfoEntry } from "../types/module-record.js";

/**
 * The most bytes of `.modinfo` read: the largest in the corpus of real modules (amdgpu's, with
 * thousands of aliases) is 41 KB. Each entry becomes an object and two strings, and a JSON record
 * prints it in some 45 bytes: two bytes of file ("a\0") cost ~300 bytes of memory, so this section
 * has a tighter bound than the others (its worst case is a constant ~40 MiB, see docs/architecture.md).
 */
export const MAX_MODINFO_SIZE = 256 * 1024;

/** `.modinfo`: NUL-separated `key=value` strings, zero padding between them skipped as kmod does. */
export function readModinfo(elf: ElfFile): ModinfoEntry[] {
  const section = elf.section(".modinfo");
  if (!section) return [];
  const data = elf.data(section, MAX_MODINFO_SIZE);
  const out: ModinfoEntry[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i < data.length && data[i] !== 0) continue;
    if (i > start) {
      const text = data.toString("utf8", start, i);
      const eq = text.indexOf("=");
      out.push(eq < 0 ? { key: text, value: "" } : { key: text.slice(0, eq), value: text.slice(eq + 1) });
    }
    start = i + 1;
  }
  return out;
}

export function modinfoValue(entries: readonly ModinfoEntry[], key: string): string | undefined {
  return entries.find((e) => e.key === key)?.value;
}

export function modinfoValues(entries: readonly ModinfoEntry[], key: string): string[] {
  return entries.filter((e) => e.key === key).map((e) => e.value);
}
