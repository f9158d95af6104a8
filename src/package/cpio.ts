import type { ByteSource } from "./byte-source.js";
import { callVisitor, normalizeMemberPath, type PackageInfo, type PackageMember, type PackageVisitor } from "./package-member.js";

const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
/** Longer names are not paths any file system takes (PATH_MAX). */
const MAX_NAME_SIZE = 4096;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export interface CpioReadOptions {
  readonly maxMemberSize: number;
  readonly problems: string[];
}

/**
 * Reads a cpio archive (an RPM payload) from `source`, visiting each member as a PackageMember,
 * up to the "TRAILER!!!" entry, then reads the rest of the stream (the padding rpm adds) so that
 * the decompressor sees its end. Only the "new ASCII" formats rpm writes are read: newc
 * ("070701") and crc ("070702", whose checksum is not verified); odc ("070707"), the binary
 * format and rpm's stripped large-file format ("07070X") are refused by name.
 *
 * A header is 110 ASCII bytes of 8-digit hex fields; the name follows (its size counting the
 * NUL), padded so that header and name end on a 4-byte boundary; then the contents, padded to
 * 4 bytes. A symlink's contents are its target. A hard-linked file's contents come with one of
 * its links only (newc: the last): the links before it are visited right after it, as files
 * with the same bytes (so hard links are visited out of archive order).
 */
export async function readCpio(source: ByteSource, info: PackageInfo, visit: PackageVisitor, options: CpioReadOptions): Promise<void> {
  const where = source.part ?? "payload";
  /** Hard links met before the link that carries their contents (newc: the last one), by device and inode. */
  const waitingLinks = new Map<string, string[]>();
  const visitOne = async (path: string, type: PackageMember["type"], size: number, linkTarget: string | null, read: () => Promise<Buffer>): Promise<void> => {
    let current = true;
    const member: PackageMember = {
      path,
      type,
      size,
      linkTarget,
      bytes: () => {
        if (!current) return Promise.reject(new Error(`${path}: bytes() called after the visit moved on`));
        return type === "file" ? read() : Promise.resolve(Buffer.alloc(0));
      },
    };
    try {
      await callVisitor(visit, member, info);
    } finally {
      current = false;
    }
  };
  for (;;) {
    const at = source.offset;
    const header = await source.read(HEADER_SIZE, "cpio header");
    const magic = header.toString("latin1", 0, 6);
    if (magic !== "070701" && magic !== "070702") throw source.error(`${describeMagic(magic)}: not supported`, at);
    const field = (k: number, name: string): number => {
      const text = header.toString("latin1", 6 + 8 * k, 14 + 8 * k);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw source.error(`cpio header field ${name} ${JSON.stringify(text)} is not a hex number`, at + 6 + 8 * k);
      return Number.parseInt(text, 16);
    };
    const ino = field(0, "ino");
    const mode = field(1, "mode");
    const nlink = field(4, "nlink");
    const fileSize = field(6, "filesize");
    const inode = `${field(7, "devmajor")}:${field(8, "devminor")}:${ino}`;
    const nameSize = field(11, "namesize");
    if (nameSize === 0 || nameSize > MAX_NAME_SIZE) throw source.error(`cpio member name size ${nameSize} (not between 1 and ${MAX_NAME_SIZE})`, at + 94);
    const nameBytes = await source.read(nameSize, "cpio member name");
    if (nameBytes[nameSize - 1] !== 0) throw source.error("cpio member name without its NUL", at + HEADER_SIZE);
    const stored = nameBytes.toString("utf8", 0, nameSize - 1);
    await source.skipTo(pad4(at + HEADER_SIZE + nameSize), "cpio name padding");
    const dataEnd = source.offset + fileSize;
    if (stored === TRAILER) {
      await source.skipTo(dataEnd, "cpio trailer");
      break;
    }
    const normalized = normalizeMemberPath(stored);
    const format = mode & S_IFMT;
    const regular = format === S_IFREG;
    const type: PackageMember["type"] = regular ? "file" : format === S_IFDIR ? "directory" : format === S_IFLNK ? "symlink" : "other";
    if ("reason" in normalized) {
      options.problems.push(`${source.file}: ${where}: ${JSON.stringify(stored).slice(1, -1)}: ${normalized.reason}`);
    } else if (normalized.path === "") {
      // The archive's root directory itself.
    } else if (regular && nlink > 1 && fileSize === 0) {
      // A hard link whose contents come later, with another link of the same inode: visited then.
      waitingLinks.set(inode, [...(waitingLinks.get(inode) ?? []), normalized.path]);
    } else if (regular && fileSize > options.maxMemberSize) {
      for (const path of [...(waitingLinks.get(inode) ?? []), normalized.path]) {
        options.problems.push(`${source.file}: ${where}: ${path}: member of ${fileSize} bytes, past the limit of ${options.maxMemberSize}: skipped`);
      }
      waitingLinks.delete(inode);
    } else if (type === "symlink" && fileSize > MAX_NAME_SIZE) {
      throw source.error(`${normalized.path}: symlink target of ${fileSize} bytes`, at + 54);
    } else {
      const linkTarget = type === "symlink" ? (await source.read(fileSize, `symlink target of ${normalized.path}`)).toString("utf8") : null;
      let body: Promise<Buffer> | null = null;
      const read = () => (body ??= source.read(fileSize, `contents of ${normalized.path}`));
      try {
        await visitOne(normalized.path, type, regular ? fileSize : 0, linkTarget, read);
      } catch (err) {
        // A read the visitor started and left: its failure is not what the caller hears about.
        (body as Promise<Buffer> | null)?.catch(() => undefined);
        throw err;
      }
      const links = regular && nlink > 1 ? waitingLinks.get(inode) : undefined;
      if (links !== undefined) {
        waitingLinks.delete(inode);
        // The contents are read once (at most maxMemberSize) and given to each waiting link.
        const bytes = await read();
        for (const path of links) await visitOne(path, "file", fileSize, null, () => Promise.resolve(bytes));
      }
      if (body !== null) await body;
    }
    await source.skipTo(pad4(dataEnd), `contents of ${"path" in normalized ? normalized.path : "a skipped member"}`);
  }
  // Hard links whose contents never came: all links of an empty file.
  for (const links of waitingLinks.values()) for (const path of links) await visitOne(path, "file", 0, null, () => Promise.resolve(Buffer.alloc(0)));
  // rpm pads the archive; what follows the trailer is read (and dropped) to the end of the stream.
  await source.drain();
}

function pad4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}

function describeMagic(magic: string): string {
  if (magic === "070707") return "cpio archive in the old portable (odc) format";
  if (magic === "07070X") return "cpio archive in rpm's stripped large-file format";
  const b = Buffer.from(magic, "latin1");
  if (b.length >= 2 && ((b[0] === 0xc7 && b[1] === 0x71) || (b[0] === 0x71 && b[1] === 0xc7))) return "cpio archive in the old binary format";
  return `not a cpio archive (magic ${JSON.stringify(magic)})`;
}
