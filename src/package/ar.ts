import { FormatError } from "../types/errors.js";
import type { ByteSource } from "./byte-source.js";

/** The global header of a Unix ar archive (a .deb is one). */
export const AR_MAGIC = Buffer.from("!<arch>\n", "latin1");
const HEADER_SIZE = 60;
const HEADER_END = "`\n";

/** One member of an ar archive, as its 60-byte header describes it. */
export interface ArMember {
  /** The member name: trailing spaces and a GNU-style trailing "/" removed. */
  readonly name: string;
  /** Bytes of content (the padding byte after an odd size not counted). */
  readonly size: number;
  /** File offset of the member's header. */
  readonly headerOffset: number;
  /** File offset of its first content byte. */
  readonly dataOffset: number;
}

/**
 * Reads the ar archive in `source` member by member: `visit` gets each member's header and may
 * read its contents from `source` (`source.take(member.dataOffset + member.size, ...)`); what it
 * leaves is skipped, with the even padding, before the next header. `visit` returns false to stop.
 *
 * Only what dpkg writes is read: short names in the header (up to 15 characters, BSD style, or
 * GNU style ending in "/"); the GNU symbol table ("/") is skipped. GNU long names ("//" table,
 * "/123" references) and BSD long names ("#1/N") are refused by name, since no .deb has them.
 */
export async function readAr(source: ByteSource, visit: (member: ArMember) => Promise<boolean>): Promise<void> {
  const magic = await source.peek(AR_MAGIC.length);
  if (!magic.equals(AR_MAGIC)) throw new FormatError(source.file, "not an ar archive (no \"!<arch>\" magic)", 0);
  await source.read(AR_MAGIC.length, "ar magic");
  while (!(await source.atEnd())) {
    const headerOffset = source.offset;
    const header = await source.read(HEADER_SIZE, "ar member header");
    const member = parseHeader(source.file, header, headerOffset);
    const end = member.dataOffset + member.size;
    const carryOn = member.name === "/" ? true : await visit(member);
    await source.skipTo(end, `ar member ${member.name}`);
    // Members start at even offsets: an odd-sized member is followed by one padding byte
    // (dpkg writes "\n"), absent only at the very end of a file some tools write.
    if (end % 2 === 1 && !(await source.atEnd())) await source.skipTo(end + 1, `padding of ar member ${member.name}`);
    if (!carryOn) return;
  }
}

function parseHeader(file: string, h: Buffer, at: number): ArMember {
  if (h.toString("latin1", 58, 60) !== HEADER_END) throw new FormatError(file, "bad ar member header (no \"`\\n\" at its end)", at + 58);
  const rawName = h.toString("latin1", 0, 16).replace(/ +$/, "");
  if (rawName === "//") throw new FormatError(file, "ar archive with a GNU long-name table (not written by dpkg): not supported", at);
  if (/^\/\d+$/.test(rawName)) throw new FormatError(file, `ar member with a GNU long name (${rawName}): not supported`, at);
  if (rawName.startsWith("#1/")) throw new FormatError(file, `ar member with a BSD long name (${rawName}): not supported`, at);
  const name = rawName === "/" ? "/" : rawName.replace(/\/$/, "");
  if (name === "" || name.includes("/") || name.includes("\0")) throw new FormatError(file, `bad ar member name ${JSON.stringify(rawName)}`, at);
  const sizeField = h.toString("latin1", 48, 58);
  // Decimal, left-aligned, space-padded: anything else (a sign, hex, embedded garbage) is not a size.
  if (!/^\d+ *$/.test(sizeField)) throw new FormatError(file, `ar member ${name}: size field ${JSON.stringify(sizeField)} is not a number`, at + 48);
  const size = Number.parseInt(sizeField, 10);
  return { name, size, headerOffset: at, dataOffset: at + HEADER_SIZE };
}
