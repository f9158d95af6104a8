import { loadCodec } from "../decompress/codec-table.js";
import { DecodeError, detectCodec, MAGIC_LENGTH, type CodecName } from "../types/compression.js";
import { FormatError } from "../types/errors.js";
import { ByteSource } from "./byte-source.js";
import { readCpio } from "./cpio.js";
import type { PackageInfo, PackageVisitor } from "./package-member.js";

const LEAD_SIZE = 96;
const LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb];
/** The only signature type rpm has written since version 3: a header structure. */
const RPMSIGTYPE_HEADERSIG = 5;
const HEADER_MAGIC = [0x8e, 0xad, 0xe8, 0x01];
const INTRO_SIZE = 16;
const ENTRY_SIZE = 16;
/** rpm's own bounds (lib/header.c hdrchkTags, hdrchkData): a header past them is refused by rpm too. */
const MAX_ENTRIES = 0xffff;
const MAX_STORE = 0x0fffffff;

const RPMTAG_NAME = 1000;
const RPMTAG_VERSION = 1001;
const RPMTAG_RELEASE = 1002;
const RPMTAG_ARCH = 1022;
const RPMTAG_PAYLOADFORMAT = 1124;
const RPMTAG_PAYLOADCOMPRESSOR = 1125;

const RPM_STRING_TYPE = 6;
const RPM_STRING_ARRAY_TYPE = 8;
const RPM_I18NSTRING_TYPE = 9;
const RPM_MAX_TYPE = 9;

/** The payload compressors kabi decodes, by the name rpm stores in PAYLOADCOMPRESSOR ("lzma", "bzip2" are refused). */
const COMPRESSORS: Readonly<Record<string, CodecName>> = { gzip: "gzip", xz: "xz", zstd: "zstd" };

interface IndexEntry {
  tag: number;
  type: number;
  offset: number;
  count: number;
}

/** A header structure (signature or main header): its index entries and its data store. */
interface RpmHeader {
  entries: Map<number, IndexEntry>;
  store: Buffer;
  /** File offset of the store, for errors. */
  storeOffset: number;
}

/**
 * Reads an RPM package (rpm's lib/rpmlead.c, lib/header.c; the "RPM file format" of rpm.org):
 * the 96-byte lead, the signature header (padded to 8 bytes), the main header (NAME, VERSION,
 * RELEASE, ARCH give PackageInfo; PAYLOADFORMAT and PAYLOADCOMPRESSOR the payload's format),
 * then the payload: a cpio archive, compressed. The compression is the one the payload's magic
 * bytes say (the header's PAYLOADCOMPRESSOR must agree), and it is decompressed as the cpio
 * reader pulls. Signatures and digests are not checked: kabi reads what a package contains, it
 * does not decide whether to trust it.
 */
export async function readRpm(source: ByteSource, visit: PackageVisitor, maxMemberSize: number, problems: string[]): Promise<PackageInfo> {
  const file = source.file;
  const lead = await source.read(LEAD_SIZE, "RPM lead");
  if (!LEAD_MAGIC.every((b, i) => lead[i] === b)) throw new FormatError(file, "not an RPM package (no lead magic)", 0);
  const major = lead[4]!;
  if (major !== 3 && major !== 4) throw new FormatError(file, `RPM lead of format version ${major} (3 or 4 expected)`, 4);
  const sigType = lead.readUInt16BE(78);
  if (sigType !== RPMSIGTYPE_HEADERSIG) throw new FormatError(file, `RPM lead with signature type ${sigType} (only header signatures, type 5, exist since rpm 3)`, 78);

  await readHeader(source, "signature header");
  await source.skipTo(source.offset + ((8 - (source.offset % 8)) % 8), "padding after the signature header");
  const header = await readHeader(source, "header");
  const tag = (t: number, name: string) => headerString(file, header, t, name);
  const info: PackageInfo = { format: "rpm", name: tag(RPMTAG_NAME, "NAME"), version: null, arch: tag(RPMTAG_ARCH, "ARCH") };
  const version = tag(RPMTAG_VERSION, "VERSION");
  const release = tag(RPMTAG_RELEASE, "RELEASE");
  info.version = version === null ? null : release === null ? version : `${version}-${release}`;

  const payloadFormat = tag(RPMTAG_PAYLOADFORMAT, "PAYLOADFORMAT") ?? "cpio";
  if (payloadFormat !== "cpio") throw new FormatError(file, `payload format ${JSON.stringify(payloadFormat)}: only cpio payloads are read`, source.offset);
  // Without the tag (older packages; rpmbuild's uncompressed "w0.ufdio" payloads) rpm reads the
  // payload through zlib's gzip reader, which passes uncompressed data through: gzip or nothing.
  const compressor = tag(RPMTAG_PAYLOADCOMPRESSOR, "PAYLOADCOMPRESSOR");
  const payloadOffset = source.offset;
  const head = await source.peek(MAGIC_LENGTH);
  const sniffed = detectCodec(head);
  if (compressor === null) {
    if (sniffed !== null && sniffed !== "gzip") throw new FormatError(file, `payload: the header names no compressor, the payload starts like ${sniffed}`, payloadOffset);
  } else {
    const declared = COMPRESSORS[compressor];
    if (declared === undefined) throw new FormatError(file, `payload compressed with ${JSON.stringify(compressor)}: only gzip, xz and zstd are read`, payloadOffset);
    if (sniffed === null && head.length < MAGIC_LENGTH) throw new FormatError(file, `truncated payload (${head.length} bytes)`, payloadOffset);
    if (declared !== sniffed) {
      throw new FormatError(file, `payload: the header says ${compressor}, the payload starts like ${sniffed ?? "no compressed stream kabi reads"}`, payloadOffset);
    }
  }
  const part = `payload (cpio${sniffed === null ? "" : `, ${sniffed}`})`;
  // The payload runs to the end of the file: where it stops short, the codec (or the cpio reader) says so.
  const raw = source.rest();
  const payload = sniffed === null ? raw : decodeAsFormatErrors(file, part, (await loadCodec(sniffed)).stream(raw));
  const cpio = ByteSource.from(payload, file, part);
  await readCpio(cpio, info, visit, { maxMemberSize, problems });
  return info;
}

async function readHeader(source: ByteSource, what: string): Promise<RpmHeader> {
  const file = source.file;
  const at = source.offset;
  const intro = await source.read(INTRO_SIZE, `RPM ${what}`);
  if (!HEADER_MAGIC.every((b, i) => intro[i] === b)) throw new FormatError(file, `RPM ${what}: bad magic`, at);
  const count = intro.readUInt32BE(8);
  const storeSize = intro.readUInt32BE(12);
  if (count === 0 || count > MAX_ENTRIES) throw new FormatError(file, `RPM ${what}: ${count} index entries (1 to ${MAX_ENTRIES} allowed)`, at + 8);
  if (storeSize > MAX_STORE) throw new FormatError(file, `RPM ${what}: data store of ${storeSize} bytes (at most ${MAX_STORE} allowed)`, at + 12);
  const index = await source.read(count * ENTRY_SIZE, `RPM ${what} index`);
  const storeOffset = source.offset;
  const store = await source.read(storeSize, `RPM ${what} data store`);
  const entries = new Map<number, IndexEntry>();
  for (let k = 0; k < count; k++) {
    const e = { tag: index.readUInt32BE(k * 16), type: index.readUInt32BE(k * 16 + 4), offset: index.readUInt32BE(k * 16 + 8), count: index.readUInt32BE(k * 16 + 12) };
    const entryAt = at + INTRO_SIZE + k * ENTRY_SIZE;
    if (e.type > RPM_MAX_TYPE) throw new FormatError(file, `RPM ${what}: index entry ${k} (tag ${e.tag}) of unknown type ${e.type}`, entryAt + 4);
    if (e.offset >= storeSize && !(e.offset === storeSize && e.count === 0)) {
      throw new FormatError(file, `RPM ${what}: index entry ${k} (tag ${e.tag}) points past the data store (${e.offset} of ${storeSize} bytes)`, entryAt + 8);
    }
    if (!entries.has(e.tag)) entries.set(e.tag, e);
  }
  return { entries, store, storeOffset };
}

/** The string value of `tag` (the first one of an array), or null when the header has no such tag. */
function headerString(file: string, header: RpmHeader, tag: number, name: string): string | null {
  const e = header.entries.get(tag);
  if (e === undefined) return null;
  if (e.type !== RPM_STRING_TYPE && e.type !== RPM_STRING_ARRAY_TYPE && e.type !== RPM_I18NSTRING_TYPE) {
    throw new FormatError(file, `RPM header: ${name} is of type ${e.type}, not a string`, header.storeOffset + e.offset);
  }
  const end = header.store.indexOf(0, e.offset);
  if (end < 0) throw new FormatError(file, `RPM header: ${name} runs past the data store (no NUL)`, header.storeOffset + e.offset);
  return header.store.toString("utf8", e.offset, end);
}

async function* decodeAsFormatErrors(file: string, part: string, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (err) {
    throw err instanceof DecodeError ? new FormatError(file, `${part}: ${err.message}`) : err;
  }
}
