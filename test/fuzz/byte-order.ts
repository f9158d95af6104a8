/**
 * An ELF32 big-endian module made from a real ELF32 little-endian one (Debian i386), for the one
 * class and byte order no committed module has (32-bit big-endian kernels: mips, powerpc, ...):
 * every field a module reader reads is rewritten in big-endian order (ELF header, section
 * headers, symbols, relocations, __versions CRCs, __kcrctab and __ksymtab words); strings and
 * code are left as they are. The machine stays i386 (relocation types keep their meaning).
 * A seed, checked by the caller against the little-endian original (same record but for the
 * byte order) before it is used.
 */
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_REL = 9;

function swap32(b: Buffer, at: number, end: number): void {
  for (let k = at; k + 4 <= end; k += 4) b.writeUInt32BE(b.readUInt32LE(k), k);
}

export function elf32LittleToBig(le: Buffer): Buffer | null {
  if (le.length < 52 || le[4] !== 1 || le[5] !== 1) return null;
  const b = Buffer.from(le);
  const shoff = le.readUInt32LE(32);
  const shentsize = le.readUInt16LE(46);
  const shnum = le.readUInt16LE(48);
  const shstrndx = le.readUInt16LE(50);
  if (shentsize !== 40 || shoff + shnum * 40 > le.length || shstrndx >= shnum) return null;
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * 40;
    return { at, name: le.readUInt32LE(at), type: le.readUInt32LE(at + 4), offset: le.readUInt32LE(at + 16), size: le.readUInt32LE(at + 20) };
  });
  const str = sections[shstrndx]!;
  const nameOf = (s: { name: number }): string => {
    const start = str.offset + s.name;
    return le.toString("latin1", start, le.indexOf(0, start));
  };
  b[5] = 2;
  // ELF header: e_type, e_machine (u16), e_version .. e_flags (u32), e_ehsize .. e_shstrndx (u16).
  for (const at of [16, 18]) b.writeUInt16BE(le.readUInt16LE(at), at);
  swap32(b, 20, 40);
  for (let at = 40; at < 52; at += 2) b.writeUInt16BE(le.readUInt16LE(at), at);
  for (const s of sections) {
    swap32(b, s.at, s.at + 40);
    const end = s.offset + s.size;
    if (s.type === 8 /* NOBITS */ || end > le.length) continue;
    const name = nameOf(s);
    if (s.type === SHT_SYMTAB) {
      for (let e = s.offset; e + 16 <= end; e += 16) {
        swap32(b, e, e + 12);
        b.writeUInt16BE(le.readUInt16LE(e + 14), e + 14);
      }
    } else if (s.type === SHT_REL || s.type === SHT_RELA) swap32(b, s.offset, end);
    else if (name === "__versions") for (let e = s.offset; e + 64 <= end; e += 64) swap32(b, e, e + 4);
    else if (name.startsWith("__kcrctab") || (name.startsWith("__ksymtab") && name !== "__ksymtab_strings")) swap32(b, s.offset, end);
  }
  return b;
}
