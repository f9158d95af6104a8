import { constants, createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { FormatError, toFileError } from "../types/errors.js";
import { AR_MAGIC } from "./ar.js";
import { ByteSource } from "./byte-source.js";
import { readDeb } from "./deb.js";
import { readRpm } from "./rpm.js";
import {
  DEFAULT_MAX_MEMBER_SIZE,
  VisitorFailure,
  type PackageFormat,
  type PackageInfo,
  type PackageMember,
  type PackageReadOptions,
  type PackageVisitor,
} from "./package-member.js";

export type { PackageFormat, PackageInfo, PackageMember, PackageReadOptions, PackageVisitor } from "./package-member.js";
export { DEFAULT_MAX_MEMBER_SIZE } from "./package-member.js";

/** The RPM lead's magic (rpm's lib/rpmlead.c). */
export const RPM_LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb] as const;
/** A deb's first ar member header starts with this name (dpkg writes it BSD style, padded with spaces; GNU ar adds "/"). */
const DEBIAN_BINARY = Buffer.from("debian-binary", "latin1");

/** How many leading bytes detectPackage needs to see. */
export const PACKAGE_HEAD_LENGTH = AR_MAGIC.length + 16;

/**
 * The package format `head` (the first bytes of a file) starts with, or null: an ar archive
 * whose first member is "debian-binary" is a deb, a file starting with the RPM lead magic an RPM.
 * The contents decide, never the file name.
 */
export function detectPackage(head: Uint8Array): PackageFormat | null {
  if (head.length >= 4 && RPM_LEAD_MAGIC.every((b, i) => head[i] === b)) return "rpm";
  if (head.length < PACKAGE_HEAD_LENGTH) return null;
  if (!AR_MAGIC.every((b, i) => head[i] === b)) return null;
  const name = Buffer.from(head.buffer, head.byteOffset + AR_MAGIC.length, 16);
  if (!name.subarray(0, DEBIAN_BINARY.length).equals(DEBIAN_BINARY)) return null;
  const rest = name.toString("latin1", DEBIAN_BINARY.length);
  return rest === "   " || rest === "/  " ? "deb" : null;
}

/**
 * The package format of the file at `path` (its first PACKAGE_HEAD_LENGTH bytes), or null: for a
 * caller deciding whether a path given as input is a package before reading it. A file that is
 * not regular is null (opened without blocking, so a FIFO is no wait); a file that cannot be
 * opened is a FileError.
 */
export async function detectPackageFile(path: string): Promise<PackageFormat | null> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) return null;
    const head = Buffer.alloc(PACKAGE_HEAD_LENGTH);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectPackage(head.subarray(0, bytesRead));
  } catch (err) {
    throw toFileError(path, err);
  } finally {
    await handle?.close();
  }
}

export interface PackageRead {
  info: PackageInfo;
  /** One line per member skipped ("<package>: <part>: <member>: <reason>"); the rest was read. */
  problems: string[];
}

/**
 * Streams the payload of the package at `path`: each member visited in archive order, never
 * unpacked to disk, a member's bytes held only while it is visited (PackageMember.bytes).
 * Rejects with a FormatError naming the package (and the part, and the member) on a fatal
 * problem (truncation, bad magic, a corrupt compressed stream), with a FileError when the file
 * cannot be read, and with whatever `visit` throws, unchanged. Members that cannot be used
 * (a path leaving the package, larger than options.maxMemberSize) are problem lines, skipped.
 */
export async function readPackage(path: string, visit: PackageVisitor, options: PackageReadOptions = {}): Promise<PackageRead> {
  const maxMemberSize = options.maxMemberSize ?? DEFAULT_MAX_MEMBER_SIZE;
  let handle;
  try {
    // O_NONBLOCK: a FIFO named *.deb would block the open until a writer comes; fstat then decides.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FormatError(path, "not a regular file");
  } catch (err) {
    await handle?.close();
    throw toFileError(path, err);
  }
  const stream = createReadStream(path, { fd: handle, highWaterMark: 64 * 1024, autoClose: true });
  const source = ByteSource.from(stream, path);
  const problems: string[] = [];
  try {
    const head = await source.peek(PACKAGE_HEAD_LENGTH);
    const format = detectPackage(head);
    if (format === "deb") return { info: await readDeb(source, visit, maxMemberSize, problems), problems };
    if (format === "rpm") return { info: await readRpm(source, visit, maxMemberSize, problems), problems };
    throw new FormatError(path, "not a Debian or RPM package");
  } catch (err) {
    if (err instanceof VisitorFailure) throw err.error;
    throw toFileError(path, err);
  } finally {
    stream.destroy();
    await source.close().catch(() => undefined);
  }
}
