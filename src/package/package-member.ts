import { FormatError } from "../types/errors.js";

/** The package formats kabi reads. */
export type PackageFormat = "deb" | "rpm";

/** What a package says about itself (the deb control file; the RPM header). */
export interface PackageInfo {
  format: PackageFormat;
  name: string | null;
  version: string | null;
  arch: string | null;
}

/** One member of a package's payload, visited in archive order. */
export interface PackageMember {
  /** Normalized: no leading "./" or "/", no "." or empty segments; never contains a ".." segment. */
  readonly path: string;
  readonly type: "file" | "directory" | "symlink" | "other";
  /** Bytes of a file member (0 for the others). */
  readonly size: number;
  /** Where a symlink (or a hard link, type "other") points, as stored; never followed. */
  readonly linkTarget: string | null;
  /** A file member's bytes, whole; only before the next member is visited; at most maxMemberSize. */
  bytes(): Promise<Buffer>;
}

export type PackageVisitor = (member: PackageMember, info: PackageInfo) => Promise<void>;

export interface PackageReadOptions {
  /** The largest member whose bytes are read; a larger one is a problem line and is skipped. */
  maxMemberSize?: number;
}

/** The default of PackageReadOptions.maxMemberSize: larger than any kernel module or symvers file. */
export const DEFAULT_MAX_MEMBER_SIZE = 256 * 1024 * 1024;

/**
 * A member path as the archive stores it, normalized for PackageMember.path: "./", "/", "."
 * and empty segments dropped. Null (with the reason) when it must not be used: a ".." segment
 * (it would leave the package's tree) or a NUL byte.
 */
export function normalizeMemberPath(stored: string): { path: string } | { reason: string } {
  if (stored.includes("\0")) return { reason: "member path contains a NUL byte" };
  const segments = stored.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) return { reason: "member path leaves the package" };
  return { path: segments.join("/") };
}

/**
 * An error thrown by the caller's visitor: carried through the readers unchanged (they turn
 * everything else into a FormatError naming the package) and unwrapped by readPackage.
 */
export class VisitorFailure extends Error {
  constructor(readonly error: unknown) {
    super("visitor failed");
    this.name = "VisitorFailure";
  }
}

/** Calls the visitor, marking what it throws as its own. */
export async function callVisitor(visit: PackageVisitor, member: PackageMember, info: PackageInfo): Promise<void> {
  try {
    await visit(member, info);
  } catch (err) {
    throw new VisitorFailure(err);
  }
}

/** `err` as a FormatError naming the package and `part`, unless it already names a file or is the visitor's. */
export function asPackageError(file: string, part: string, err: unknown): unknown {
  if (err instanceof VisitorFailure || err instanceof FormatError) return err;
  if (err instanceof Error && err.name === "FileError") return err;
  return new FormatError(file, `${part}: ${err instanceof Error ? err.message : String(err)}`);
}
