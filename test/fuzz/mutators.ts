/**
 * Structure-aware mutations of kabi's inputs: ELF modules (header and section header fields,
 * counts, truncations, overlaps, huge and sparse sizes, `.modinfo`, the signature trailer),
 * compressed containers (headers, blocks, truncations, bombs), symvers text in its layouts and
 * depmod.d configuration text. Each mutator returns new bytes and a short note of what it did
 * (kept with a failing input). The ELF view here is deliberately independent of src/elf/: a bug
 * there must not shape the inputs that look for it.
 */
import { Rng } from "./rng.js";

/** One generated case: the bytes, and the size to extend the written file to (a sparse tail). */
export interface FuzzInput {
  bytes: Buffer;
  /** Extend the file to this size with a hole (a file whose section table claims gigabytes). */
  sparseSize?: number;
  /** The decompression limit to pass to the reader (readModule's maxDecompressedSize), when not its default. */
  maxOutput?: number;
  /** The mutations applied, for the failure report. */
  note: string;
}

/** Values that sit on the edges of what readers check: zero, one, sign and size boundaries. */
const INTERESTING_32 = [0, 1, 2, 7, 8, 0x3f, 0x40, 0x41, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_64 = [...INTERESTING_32.map(BigInt), 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 1n << 53n, (1n << 53n) + 1n];
/** 2 GiB: the size the sparse modules claimed for __versions, .modinfo and .symtab. */
export const TWO_GIB = 0x80000000;

// ---------------------------------------------------------------------------------------------
// Bytes

export function bitFlips(rng: Rng, b: Buffer, count = rng.between(1, 8)): Buffer {
  const out = Buffer.from(b);
  if (out.length === 0) return out;
  for (let i = 0; i < count; i++) out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
}

export function truncate(rng: Rng, b: Buffer): Buffer {
  return Buffer.from(b.subarray(0, rng.below(b.length + 1)));
}

/** Copies a chunk of `donor` over (or into) `b` at a random place. */
export function splice(rng: Rng, b: Buffer, donor: Buffer): Buffer {
  if (donor.length === 0 || b.length === 0) return Buffer.from(b);
  const len = rng.between(1, Math.min(donor.length, 4096));
  const from = rng.below(donor.length - len + 1);
  const at = rng.below(b.length);
  const chunk = donor.subarray(from, from + len);
  if (rng.chance(0.5)) {
    const out = Buffer.from(b);
    chunk.copy(out, at);
    return out;
  }
  return Buffer.concat([b.subarray(0, at), chunk, b.subarray(at)]);
}

/** Removes a chunk. */
export function cut(rng: Rng, b: Buffer): Buffer {
  if (b.length === 0) return Buffer.from(b);
  const at = rng.below(b.length);
  const len = rng.between(1, Math.min(b.length - at, 4096));
  return Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
}

/** Writes an interesting 8-, 16-, 32- or 64-bit value at a random (or given) offset. */
export function interestingWrite(rng: Rng, b: Buffer, at = rng.below(Math.max(1, b.length))): Buffer {
  const out = Buffer.from(b);
  const width = rng.pick([1, 2, 4, 8]);
  if (at + width > out.length) return out;
  writeUint(out, at, width, rng.chance(0.5), width === 8 ? rng.pick(INTERESTING_64) : BigInt(rng.pick(INTERESTING_32)) & ((1n << BigInt(width * 8)) - 1n));
  return out;
}

/** One of the generic byte mutations, `donor` giving spliced chunks. */
export function byteMutation(rng: Rng, b: Buffer, donor: Buffer): { bytes: Buffer; note: string } {
  switch (rng.below(5)) {
    case 0:
      return { bytes: bitFlips(rng, b), note: "bit flips" };
    case 1:
      return { bytes: truncate(rng, b), note: "truncated" };
    case 2:
      return { bytes: splice(rng, b, donor), note: "chunk splice" };
    case 3:
      return { bytes: cut(rng, b), note: "chunk cut" };
    default:
      return { bytes: interestingWrite(rng, b), note: "interesting value" };
  }
}

function writeUint(b: Buffer, at: number, width: number, little: boolean, value: bigint): void {
  if (at < 0 || at + width > b.length) return;
  const v = value & ((1n << BigInt(width * 8)) - 1n);
  if (width === 1) b[at] = Number(v);
  else if (width === 2) little ? b.writeUInt16LE(Number(v), at) : b.writeUInt16BE(Number(v), at);
  else if (width === 4) little ? b.writeUInt32LE(Number(v), at) : b.writeUInt32BE(Number(v), at);
  else little ? b.writeBigUInt64LE(v, at) : b.writeBigUInt64BE(v, at);
}

// ---------------------------------------------------------------------------------------------
// ELF

/** Where each header field is, per class: [offset, width]. */
const EHDR = {
  64: { shoff: [40, 8], shentsize: [58, 2], shnum: [60, 2], shstrndx: [62, 2], ehsize: [52, 2], phoff: [32, 8], phnum: [56, 2] },
  32: { shoff: [32, 4], shentsize: [46, 2], shnum: [48, 2], shstrndx: [50, 2], ehsize: [40, 2], phoff: [28, 4], phnum: [44, 2] },
} as const;
const SHDR = {
  64: { name: [0, 4], type: [4, 4], flags: [8, 8], addr: [16, 8], offset: [24, 8], size: [32, 8], link: [40, 4], info: [44, 4], addralign: [48, 8], entsize: [56, 8] },
  32: { name: [0, 4], type: [4, 4], flags: [8, 4], addr: [12, 4], offset: [16, 4], size: [20, 4], link: [24, 4], info: [28, 4], addralign: [32, 4], entsize: [36, 4] },
} as const;
type HeaderField = keyof (typeof EHDR)[64];
type SectionField = keyof (typeof SHDR)[64];

export const SHT_NULL = 0;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;

export interface ElfView {
  bits: 32 | 64;
  little: boolean;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  sections: { index: number; name: string; type: number; offset: number; size: number; headerAt: number }[];
}

/** The section table of a well-formed ELF file (a seed), or null when `b` is not one. */
export function viewElf(b: Buffer): ElfView | null {
  if (b.length < 52 || b.readUInt32BE(0) !== 0x7f454c46) return null;
  const bits = b[4] === 2 ? 64 : b[4] === 1 ? 32 : null;
  if (bits === null || (b[5] !== 1 && b[5] !== 2)) return null;
  const little = b[5] === 1;
  const read = (at: number, width: number): number => {
    if (at + width > b.length) return -1;
    if (width === 2) return little ? b.readUInt16LE(at) : b.readUInt16BE(at);
    if (width === 4) return little ? b.readUInt32LE(at) : b.readUInt32BE(at);
    return Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
  };
  const h = EHDR[bits];
  const shoff = read(h.shoff[0], h.shoff[1]);
  const shentsize = read(h.shentsize[0], h.shentsize[1]);
  const shnum = read(h.shnum[0], h.shnum[1]);
  const shstrndx = read(h.shstrndx[0], h.shstrndx[1]);
  if (shoff <= 0 || shentsize < (bits === 64 ? 64 : 40) || shoff + shnum * shentsize > b.length) return null;
  const s = SHDR[bits];
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({ index: i, nameOff: read(at + s.name[0], 4), type: read(at + s.type[0], 4), offset: read(at + s.offset[0], s.offset[1]), size: read(at + s.size[0], s.size[1]), headerAt: at });
  }
  const strtab = raw[shstrndx];
  const sections = raw.map((r) => {
    let name = "";
    if (strtab && strtab.offset + r.nameOff < b.length) {
      const start = strtab.offset + r.nameOff;
      const end = b.indexOf(0, start);
      name = b.toString("latin1", start, end < 0 ? b.length : end);
    }
    return { index: r.index, name, type: r.type, offset: r.offset, size: r.size, headerAt: r.headerAt };
  });
  return { bits, little, shoff, shentsize, shnum, shstrndx, sections };
}

export function setHeaderField(b: Buffer, v: ElfView, field: HeaderField, value: bigint): void {
  const [at, width] = EHDR[v.bits][field];
  writeUint(b, at, width, v.little, value);
}

export function setSectionField(b: Buffer, v: ElfView, index: number, field: SectionField, value: bigint): void {
  const s = v.sections[index];
  if (!s) return;
  const [at, width] = SHDR[v.bits][field];
  writeUint(b, s.headerAt + at, width, v.little, value);
}

/** The sections a module reader looks into, where a wrong header does the most harm. */
const DATA_SECTIONS = [".symtab", ".strtab", "__versions", ".modinfo", "__ksymtab", "__ksymtab_gpl", "__ksymtab_strings", "__kcrctab", "__kcrctab_gpl", ".gnu.linkonce.this_module", ".shstrtab"];

/** A section index that exists (callers check the table has sections). */
function pickSection(rng: Rng, v: ElfView): number {
  const named = v.sections.filter((s) => DATA_SECTIONS.includes(s.name) || s.name.startsWith("__kcrctab"));
  if (named.length > 0 && rng.chance(0.75)) return rng.pick(named).index;
  return rng.below(v.sections.length);
}

function pickNamed(v: ElfView, names: readonly string[]): number | undefined {
  return v.sections.find((s) => names.includes(s.name))?.index;
}

function interestingFor(rng: Rng, v: ElfView, fileSize: number, other: number): bigint {
  const choices = [BigInt(rng.pick(INTERESTING_32)), BigInt(fileSize), BigInt(Math.max(0, fileSize - 1)), BigInt(fileSize + 1), BigInt(other), BigInt(TWO_GIB), BigInt(rng.u32())];
  if (v.bits === 64) choices.push(rng.pick(INTERESTING_64));
  return rng.pick(choices);
}

/**
 * One structural mutation of an ELF module. `heavy` allows the cases that cost a reader time or
 * memory when it is wrong (2 GiB claims backed by a sparse file, megabytes of .modinfo).
 */
export function mutateElfOnce(rng: Rng, input: FuzzInput, donor: Buffer, heavy: boolean): FuzzInput {
  const v = viewElf(input.bytes);
  // Structure-aware only while there is a structure left (a section table with sections).
  if (v === null || v.sections.length === 0) {
    const m = byteMutation(rng, input.bytes, donor);
    return { ...input, bytes: m.bytes, note: `${input.note}; ${m.note}` };
  }
  const b = Buffer.from(input.bytes);
  const size = b.length;
  const other = v.sections[rng.below(v.shnum)]?.offset ?? 0;
  const choice = heavy ? 12 : rng.below(12);
  switch (choice) {
    case 0: {
      const field = rng.pick(["shoff", "shentsize", "shnum", "shstrndx", "ehsize", "phoff", "phnum"] as const);
      const value = field === "shentsize" ? BigInt(rng.pick([0, 1, 39, 40, 63, 64, 65, 128, 0xffff])) : field === "shnum" || field === "shstrndx" ? BigInt(rng.pick([0, 1, v.shnum - 1, v.shnum, v.shnum + 1, 0xff00, 0xffff, rng.below(0x10000)])) : interestingFor(rng, v, size, other);
      setHeaderField(b, v, field, value);
      return { ...input, bytes: b, note: `${input.note}; e_${field}=${value}` };
    }
    case 1: {
      b[4] = rng.pick([0, 1, 2, 3, 0xff]);
      b[5] = rng.pick([0, 1, 2, 3]);
      return { ...input, bytes: b, note: `${input.note}; EI_CLASS=${b[4]} EI_DATA=${b[5]}` };
    }
    case 2: {
      const i = pickSection(rng, v);
      const type = rng.pick([SHT_NOBITS, SHT_NOBITS, SHT_NULL, SHT_SYMTAB, SHT_STRTAB, 0x6ffffff6, rng.u32()]);
      setSectionField(b, v, i, "type", BigInt(type));
      return { ...input, bytes: b, note: `${input.note}; ${v.sections[i]?.name || i}.sh_type=${type}` };
    }
    case 3:
    case 4: {
      const i = pickSection(rng, v);
      const field = rng.pick(["offset", "size", "link", "info", "entsize", "name", "addralign"] as const);
      const value = field === "link" || field === "info" ? BigInt(rng.pick([0, 1, v.shstrndx, v.shnum - 1, v.shnum, 0xffff, 0xffffffff, rng.below(v.shnum + 4)])) : field === "entsize" ? BigInt(rng.pick([0, 1, 8, 16, 24, 64, 0xffffffff])) : interestingFor(rng, v, size, other);
      setSectionField(b, v, i, field, value);
      return { ...input, bytes: b, note: `${input.note}; ${v.sections[i]?.name || i}.sh_${field}=${value}` };
    }
    case 5: {
      // Overlap: a section placed on another one, or on the section table itself.
      const i = pickSection(rng, v);
      const target = rng.chance(0.3) ? v.shoff : other;
      setSectionField(b, v, i, "offset", BigInt(target));
      if (rng.chance(0.5)) setSectionField(b, v, i, "size", BigInt(rng.between(1, Math.max(1, size - target))));
      return { ...input, bytes: b, note: `${input.note}; ${v.sections[i]?.name || i} overlaps offset ${target}` };
    }
    case 6: {
      // Counts: a table whose size is not a multiple of its entries, or one entry too many.
      const i = pickNamed(v, [".symtab", "__versions", "__ksymtab", "__ksymtab_gpl", "__kcrctab", "__kcrctab_gpl"]) ?? pickSection(rng, v);
      const s = v.sections[i]!;
      const delta = rng.pick([-64, -24, -16, -8, -1, 1, 8, 24, 64]);
      setSectionField(b, v, i, "size", BigInt(Math.max(0, s.size + delta)));
      return { ...input, bytes: b, note: `${input.note}; ${s.name}.sh_size${delta > 0 ? "+" : ""}${delta}` };
    }
    case 7: {
      // Truncation at a structural boundary: inside the section table, or inside a section.
      const i = pickSection(rng, v);
      const s = v.sections[i]!;
      const cutAt = rng.pick([v.shoff + rng.below(Math.max(1, v.shnum * v.shentsize)), s.offset + rng.below(Math.max(1, s.size)), rng.below(64)]);
      return { ...input, bytes: Buffer.from(b.subarray(0, Math.min(cutAt, size))), note: `${input.note}; truncated at ${cutAt}` };
    }
    case 8:
      return mutateModinfo(rng, { ...input, bytes: b }, v, false);
    case 9:
      return mutateSignature(rng, { ...input, bytes: b });
    case 10: {
      // A 2 GiB claim without the bytes behind it: must be refused from the size alone.
      const i = pickNamed(v, [rng.pick(["__versions", ".modinfo", ".symtab", ".strtab", "__ksymtab_strings"])]) ?? pickSection(rng, v);
      setSectionField(b, v, i, "size", BigInt(rng.pick([TWO_GIB, TWO_GIB - 1, 0xffffffff, TWO_GIB * 2])));
      return { ...input, bytes: b, note: `${input.note}; ${v.sections[i]?.name || i} claims 2 GiB` };
    }
    case 11: {
      const m = byteMutation(rng, b, donor);
      return { ...input, bytes: m.bytes, note: `${input.note}; ${m.note}` };
    }
    default: {
      // Heavy: the same claim backed by a sparse file of that size (reads succeed, with zeros).
      const name = rng.pick(["__versions", ".modinfo", ".symtab"]);
      const i = pickNamed(v, [name]) ?? pickSection(rng, v);
      const s = v.sections[i]!;
      const claim = rng.pick([TWO_GIB, TWO_GIB - 64, 0x40000000]);
      setSectionField(b, v, i, "size", BigInt(claim));
      if (rng.chance(0.5)) return mutateModinfo(rng, { ...input, bytes: b }, v, true);
      return { ...input, bytes: b, sparseSize: s.offset + claim, note: `${input.note}; ${s.name || i} claims ${claim} bytes of a sparse file` };
    }
  }
}

/** `.modinfo` rewritten: no NUL terminator, no '=', non-UTF-8 bytes, or (heavy) megabytes placed past the end. */
export function mutateModinfo(rng: Rng, input: FuzzInput, v: ElfView, heavy: boolean): FuzzInput {
  const i = pickNamed(v, [".modinfo"]);
  if (i === undefined) return input;
  const s = v.sections[i]!;
  const b = input.bytes;
  if (heavy || rng.chance(0.2)) {
    // New contents appended at the end of the file and the section pointed there.
    const len = heavy ? rng.pick([1 << 20, 8 << 20]) : rng.between(1, 65536);
    const filler = rng.pick(["vermagic=", "a", "\xff", "=", "depends=x,"]);
    const body = Buffer.from(filler.repeat(Math.ceil(len / filler.length)).slice(0, len), "latin1");
    const out = Buffer.concat([b, body]);
    setSectionField(out, v, i, "offset", BigInt(b.length));
    setSectionField(out, v, i, "size", BigInt(body.length));
    return { ...input, bytes: out, note: `${input.note}; .modinfo replaced by ${len} bytes of ${JSON.stringify(filler)}` };
  }
  const out = Buffer.from(b);
  const end = Math.min(out.length, s.offset + s.size);
  const how = rng.below(4);
  for (let k = s.offset; k < end; k++) {
    if (how === 0 && out[k] === 0) out[k] = 0x41; // no NUL anywhere
    else if (how === 1 && out[k] === 0x3d) out[k] = 0x2d; // no '='
    else if (how === 2 && rng.chance(0.1)) out[k] = 0x80 | rng.below(0x80); // not UTF-8
    else if (how === 3 && rng.chance(0.05)) out[k] = 0;
  }
  return { ...input, bytes: out, note: `${input.note}; .modinfo contents mutated (${["no NUL", "no =", "non-UTF-8", "extra NULs"][how]})` };
}

const SIGNATURE_MARKER = "~Module signature appended~\n";

/** The signature trailer: the marker alone, cut, doubled, or after a garbled signature block. */
export function mutateSignature(rng: Rng, input: FuzzInput): FuzzInput {
  const marker = Buffer.from(SIGNATURE_MARKER, "latin1");
  const kind = rng.below(5);
  const tails = [
    Buffer.concat([rng.bytes(rng.below(600)), Buffer.alloc(12), marker]),
    marker.subarray(0, rng.below(marker.length)),
    Buffer.concat([marker, marker]),
    Buffer.concat([rng.bytes(rng.below(40)), marker, rng.bytes(1 + rng.below(4))]),
    marker,
  ];
  const bytes = kind === 4 && rng.chance(0.3) ? Buffer.from(marker) : Buffer.concat([input.bytes, tails[kind]!]);
  return { ...input, bytes, note: `${input.note}; signature trailer ${["after a random block", "cut", "doubled", "followed by bytes", "alone"][kind]}` };
}

// ---------------------------------------------------------------------------------------------
// Compressed containers

/** The container's own structure damaged: header bytes, a block, the end, or streams joined. */
export function mutateContainer(rng: Rng, c: Buffer, donor: Buffer): { bytes: Buffer; note: string } {
  switch (rng.below(7)) {
    case 0: {
      const out = Buffer.from(c);
      const n = rng.between(1, 4);
      for (let k = 0; k < n; k++) if (out.length > 0) out[rng.below(Math.min(out.length, 32))] = rng.u32() & 0xff;
      return { bytes: out, note: "container header bytes" };
    }
    case 1:
      return { bytes: bitFlips(rng, c), note: "container bit flips" };
    case 2:
      return { bytes: truncate(rng, c), note: "container truncated" };
    case 3: {
      const cutAt = Math.max(0, c.length - rng.between(1, 16));
      return { bytes: Buffer.from(c.subarray(0, cutAt)), note: "container footer cut" };
    }
    case 4:
      return { bytes: Buffer.concat([c, rng.chance(0.5) ? c : rng.bytes(rng.between(1, 64))]), note: "data after the stream" };
    case 5: {
      const out = Buffer.from(c);
      const at = rng.below(Math.max(1, out.length));
      out.fill(rng.pick([0, 0xff]), at, Math.min(out.length, at + rng.between(1, 512)));
      return { bytes: out, note: "container block overwritten" };
    }
    default:
      return { bytes: splice(rng, c, donor), note: "container chunk splice" };
  }
}

// ---------------------------------------------------------------------------------------------
// Symvers text

const EXPORT_TYPES = ["EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL", "EXPORT_SYMBOL_GPL_FUTURE", "EXPORT_UNUSED_SYMBOL", "(unknown)"];
const BAD_CRCS = ["", "0x", "0X", "0xZZZZ", "0x1234567890abcdef1", "-0x1", "0x+1", "12ab", "0x 12", "0x00000000000000000000000001", "\u00a0"];

/** Lines in the 7.x layout: a `module:` namespace (EXPORT_SYMBOL_FOR_MODULES). */
export function moduleNamespaceLines(rng: Rng, n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const crc = `0x${rng.u32().toString(16).padStart(8, "0")}`;
    out.push(`${crc}\tsym_${k}_${rng.u32().toString(36)}\tvmlinux\t${rng.pick(EXPORT_TYPES)}\tmodule:${rng.pick(["kvm", "kvm,kvm_intel", "kvm-*", "", "a,,b"])}`);
  }
  return out;
}

/**
 * One line-level mutation of symvers (or any line-based) text. `heavy` allows the sizes that
 * hurt a reader that is quadratic, unbounded or recursive: megabyte lines, hundreds of
 * thousands of lines.
 */
export function mutateSymversLines(rng: Rng, lines: string[], heavy: boolean): { lines: string[]; note: string } {
  const out = lines.slice();
  const at = rng.below(out.length + 1);
  const line = out[Math.min(at, out.length - 1)] ?? "";
  const fields = line.split("\t");
  const put = (l: string): void => {
    if (at < out.length) out[at] = l;
    else out.push(l);
  };
  switch (heavy ? rng.pick([12, 13]) : rng.below(12)) {
    case 0:
      put(line.replace(/\t/g, rng.pick([" ", "", "  "])));
      return { lines: out, note: "a line without tabs" };
    case 1:
      fields[0] = rng.pick(BAD_CRCS);
      put(fields.join("\t"));
      return { lines: out, note: "a bad CRC" };
    case 2:
      fields.splice(rng.below(fields.length), 1);
      put(fields.join("\t"));
      return { lines: out, note: "a field missing" };
    case 3:
      fields.splice(rng.below(fields.length + 1), 0, rng.pick(["", "EXPORT_SYMBOL", "vmlinux", "module:x", "extra"]));
      put(fields.join("\t"));
      return { lines: out, note: "a field added" };
    case 4: {
      const k = rng.below(line.length + 1);
      put(line.slice(0, k) + "\0" + line.slice(k));
      return { lines: out, note: "a NUL in a line" };
    }
    case 5:
      put(line + "\xff\xfe" + "\ud800");
      return { lines: out, note: "bytes that are not UTF-8" };
    case 6: {
      const n = rng.between(1000, 20000);
      put("x".repeat(n));
      return { lines: out, note: `a ${n}-byte line` };
    }
    case 7: {
      const n = rng.between(100, 3000);
      const kind = rng.below(3);
      const extra = Array.from({ length: n }, (_, k) => (kind === 0 ? `t${k % 10}` : kind === 1 ? `0xqq\tsym${k}\tvmlinux\tEXPORT_SYMBOL\t` : `0x${(k * 2654435761 >>> 0).toString(16)}\tdup\tvmlinux\tEXPORT_SYMBOL\t`));
      out.splice(at, 0, ...extra);
      return { lines: out, note: `${n} ${["short tab-less", "bad-CRC", "duplicate-symbol"][kind]} lines` };
    }
    case 8:
      out.splice(at, 0, ...moduleNamespaceLines(rng, rng.between(1, 20)));
      return { lines: out, note: "module: namespaces (7.x layout)" };
    case 9:
      return { lines: out.map((l) => l + "\r"), note: "CRLF line ends" };
    case 10:
      fields[rng.below(fields.length)] = rng.pick(["", " ", "sym bol", "EXPORT_SYMBOL_GPLX", "(unknown)", "vmlinux\u2028", "a".repeat(300)]);
      put(fields.join("\t"));
      return { lines: out, note: "an odd field" };
    case 11:
      return { lines: out.slice(0, at), note: "cut after a line" };
    case 12: {
      // Heavy: the 10 MB of short tab-less lines, or 200,000 bad-CRC lines.
      if (rng.chance(0.5)) {
        const n = rng.pick([1_000_000, 2_000_000]);
        for (let k = 0; k < n; k++) out.push(`l${k % 100}`);
        return { lines: out, note: `${n} short tab-less lines` };
      }
      const n = rng.pick([200_000, 300_000]);
      for (let k = 0; k < n; k++) out.push(`0xqq\ts${k}\tvmlinux\tEXPORT_SYMBOL\t`);
      return { lines: out, note: `${n} bad-CRC lines` };
    }
    default: {
      const n = rng.pick([4 << 20, 16 << 20]);
      put("y".repeat(n));
      return { lines: out, note: `a ${n}-byte line` };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// depmod.d configuration

const DEPMOD_LINES = ["search updates extra built-in weak-updates", "search built-in", "search updates", "override foo * weak-updates", "include /etc/depmod.d/other.conf", "# comment", "", "search ../../etc", "search /", "search . ./ ..", "search updates/../../x", "external 6.1 /x", "exclude .debug"];

export function depmodText(rng: Rng, heavy: boolean): { bytes: Buffer; note: string } {
  const lines: string[] = [];
  const n = rng.between(0, 12);
  for (let k = 0; k < n; k++) lines.push(rng.pick(DEPMOD_LINES));
  const notes: string[] = [];
  const rounds = heavy ? 1 : rng.between(0, 3);
  for (let r = 0; r < rounds; r++) {
    switch (heavy && r === 0 ? 7 : rng.below(7)) {
      case 0:
        lines.push("search " + Array.from({ length: rng.between(1, 2000) }, (_, k) => `d${k}`).join(" "));
        notes.push("many search words");
        break;
      case 1:
        lines.push("search " + "a/".repeat(rng.between(1, 5000)));
        notes.push("a deep search path");
        break;
      case 2:
        lines.push("search\tupdates\t\textra\x00built-in");
        notes.push("tabs and NUL");
        break;
      case 3:
        lines.push("\xff\xfesearch \udc80");
        notes.push("non-UTF-8");
        break;
      case 4:
        lines.push("search" + " ".repeat(rng.between(1, 10000)) + "x");
        notes.push("long blank run");
        break;
      case 5:
        for (let k = 0; k < rng.between(100, 5000); k++) lines.push(`search s${k}`);
        notes.push("many search lines");
        break;
      case 6:
        lines.push("x".repeat(rng.between(1000, 100000)));
        notes.push("a long line");
        break;
      default:
        lines.push("search " + Array.from({ length: 300_000 }, (_, k) => `w${k}`).join(" "));
        notes.push("300,000 search words on one line");
    }
  }
  const text = lines.join(rng.chance(0.1) ? "\r\n" : "\n");
  return { bytes: Buffer.from(text, rng.chance(0.2) ? "latin1" : "utf8"), note: notes.join("; ") || "search lines" };
}
