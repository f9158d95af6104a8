/**
 * A minimal, independent ELF section-table reader/editor for crafting malformed inputs in tests.
 * Deliberately shares no code with src/elf/ (a bug there must not hide here).
 */
export interface RawSection {
  index: number;
  name: string;
  offset: number;
  size: number;
  /** File offset of this section's header entry. */
  headerAt: number;
}

export interface RawSections extends Array<RawSection> {
  shoff: number;
  is64: boolean;
  little: boolean;
}

export function elfSections(b: Buffer): RawSections {
  const is64 = b[4] === 2;
  const little = b[5] === 1;
  const u16 = (o: number) => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (o: number) => Number(little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const shoff = is64 ? u64(40) : u32(32);
  const shentsize = u16(is64 ? 58 : 46);
  const shnum = u16(is64 ? 60 : 48);
  const shstrndx = u16(is64 ? 62 : 50);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      index: i,
      nameOff: u32(at),
      offset: is64 ? u64(at + 24) : u32(at + 16),
      size: is64 ? u64(at + 32) : u32(at + 20),
      headerAt: at,
    });
  }
  const strtab = raw[shstrndx]!;
  const out = raw.map((s) => {
    const start = strtab.offset + s.nameOff;
    const end = b.indexOf(0, start);
    return { index: s.index, name: b.toString("latin1", start, end), offset: s.offset, size: s.size, headerAt: s.headerAt };
  }) as RawSections;
  out.shoff = shoff;
  out.is64 = is64;
  out.little = little;
  return out;
}

/** Overwrites sh_offset or sh_size of the named section, in the file's class and byte order. */
export function setSectionField(b: Buffer, section: string, field: "offset" | "size", value: bigint): void {
  const secs = elfSections(b);
  const s = secs.find((x) => x.name === section);
  if (!s) throw new Error(`no section ${section}`);
  if (secs.is64) {
    const at = s.headerAt + (field === "offset" ? 24 : 32);
    if (secs.little) b.writeBigUInt64LE(value, at);
    else b.writeBigUInt64BE(value, at);
  } else {
    const at = s.headerAt + (field === "offset" ? 16 : 20);
    if (secs.little) b.writeUInt32LE(Number(value), at);
    else b.writeUInt32BE(Number(value), at);
  }
}
