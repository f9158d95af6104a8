/**
 * The manifest of a system install: every change `kabi install-system` made, so that
 * `kabi uninstall-system` undoes exactly those and nothing else.
 *
 * A change is recorded BEFORE it is made (and the record written to disk with replaceFile), so
 * that a run killed half-way leaves a manifest naming at least everything it did. Undoing checks
 * each entry against the system (a file is removed only while it holds content kabi wrote there,
 * a diversion only while it is the local one to kabi's name, a folder only when empty), so an
 * entry for a change that was never made undoes nothing.
 */
import { replaceFileOrError } from "../root/replace-file.js";
import { readSmallFile } from "../root/small-file.js";
import { FileError } from "../types/errors.js";

/**
 * The largest manifest read: one holds a few dozen entries (a few KiB); anything far larger is not
 * one, and is refused before it is read whole.
 */
export const MAX_MANIFEST_BYTES = 1 << 20;

/** A file kabi wrote. `sha256`: every content kabi wrote there (a run killed between recording a new content and writing it leaves the old one). */
export interface FileEntry {
  readonly kind: "file";
  readonly path: string;
  sha256: string[];
}

/** A folder kabi made (removed on uninstall when empty). */
export interface DirEntry {
  readonly kind: "dir";
  readonly path: string;
}

/** A local dpkg diversion kabi added: `path` set aside to `divertTo`. */
export interface DiversionEntry {
  readonly kind: "diversion";
  readonly path: string;
  readonly divertTo: string;
}

export type ManifestEntry = FileEntry | DirEntry | DiversionEntry;

export interface InstallManifest {
  readonly format: 1;
  /** kabi's version of the last run that wrote it. */
  kabi: string;
  /** --prefix of the last install. */
  prefix: string;
  /** In the order the changes were made (uninstall goes backwards). */
  entries: ManifestEntry[];
}

/** The manifest cannot be read or is not one: the one line to print. */
export class ManifestError extends Error {}

function isEntry(e: unknown): e is ManifestEntry {
  if (typeof e !== "object" || e === null) return false;
  const r = e as Record<string, unknown>;
  if (typeof r.path !== "string" || !r.path.startsWith("/")) return false;
  if (r.kind === "dir") return true;
  if (r.kind === "file") return Array.isArray(r.sha256) && r.sha256.every((h) => typeof h === "string");
  return r.kind === "diversion" && typeof r.divertTo === "string" && r.divertTo.startsWith("/");
}

/** The manifest at `file`, null when there is none; throws ManifestError when it is unreadable or malformed. */
export async function readManifest(file: string): Promise<InstallManifest | null> {
  let text: string;
  try {
    // readSmallFile: a FIFO in its place is not waited on, a device or a huge file is not read.
    text = await readSmallFile(file, MAX_MANIFEST_BYTES, "an install manifest");
  } catch (err) {
    if (err instanceof FileError) throw new ManifestError(`${err.message}: not a kabi install manifest`);
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") return null;
    throw new ManifestError(`${file}: cannot be read (${e.code ?? e.message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ManifestError(`${file}: not a kabi install manifest (not JSON)`);
  }
  const m = data as Partial<InstallManifest> | null;
  if (typeof m !== "object" || m === null || m.format !== 1 || typeof m.kabi !== "string" || typeof m.prefix !== "string" || !Array.isArray(m.entries) || !m.entries.every(isEntry)) {
    throw new ManifestError(`${file}: not a kabi install manifest (format 1)`);
  }
  return m as InstallManifest;
}

/** Writes the manifest whole (replaceFile: the old one or the new one, never part of one); the error, or null. */
export function writeManifest(file: string, manifest: InstallManifest): NodeJS.ErrnoException | null {
  return replaceFileOrError(file, () => JSON.stringify(manifest, null, 2) + "\n", 0o644);
}
