import type { Stats } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { toFileError } from "../types/errors.js";
import { compareCodeUnits } from "./code-unit-order.js";
import { compareKernelReleases, isUsableKernelRelease, unusableReleaseReason } from "./kernel-release.js";
import { fileKind } from "./file-kind.js";
import { resolveInRoot, resolveInRootWhy } from "./resolve-in-root.js";

/** Where distributions ship a kernel's symvers, relative to the root, in the order tried. */
export function symversCandidates(release: string): string[] {
  checkRelease(release);
  const K = release;
  return [
    `boot/symvers-${K}.gz`, // RHEL, SUSE
    `lib/modules/${K}/symvers.gz`,
    `lib/modules/${K}/symvers.xz`, // newer RHEL / Fedora
    `usr/lib/modules/${K}/symvers.gz`, // usr-merged
    `usr/lib/modules/${K}/symvers.xz`,
    `usr/src/linux-headers-${K}/Module.symvers`, // Debian / Ubuntu
    `lib/modules/${K}/build/Module.symvers`, // any kernel with its build tree installed
  ];
}

function checkRelease(release: string): void {
  if (!isUsableKernelRelease(release)) {
    throw new Error(`invalid kernel release ${JSON.stringify(release)}: must be non-empty, not "." or "..", and contain no "/"`);
  }
}

async function isFileInRoot(root: string, rel: string): Promise<string | null> {
  const host = await resolveInRoot(root, rel);
  if (host === null) return null;
  try {
    // The path has no symlinks left, so stat == lstat here.
    const st = await stat(host);
    return st.isFile() ? host : null;
  } catch {
    return null;
  }
}

/**
 * The host path of the symvers for kernel `release` under `basedir` (default "/"), trying
 * symversCandidates(release) in order, each resolved inside basedir (resolveInRoot), or
 * null when there is none. Throws for a release that can't name a directory ("", "..",
 * anything with "/").
 */
export async function locateSymvers(release: string, basedir = "/"): Promise<string | null> {
  for (const rel of symversCandidates(release)) {
    const found = await isFileInRoot(basedir, rel);
    if (found !== null) return found;
  }
  return null;
}

/** An installed kernel and its symvers (host path), or null when it has none. */
export interface InstalledKernel {
  release: string;
  symvers: string | null;
}

/**
 * Whether `name`, read by readdir in `dir`, names no entry there: readdir's bytes were not valid
 * UTF-8 and came back with U+FFFD in their place. kabi handles paths as strings, so such a file
 * cannot be opened, linked or named exactly: it is reported (the name as read) and left alone.
 */
export async function isUndecodableName(dir: string, name: string): Promise<boolean> {
  if (!name.includes("\uFFFD")) return false;
  try {
    await lstat(path.join(dir, name));
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** The reason kabi gives for a file name that is not valid UTF-8. */
export const UNDECODABLE_NAME = "its name is not valid UTF-8: not supported, left alone (rename it)";

/** An entry under lib/modules or usr/lib/modules that names no kernel directory inside the root. */
export interface SkippedKernelEntry {
  /** The entry's name: the release it would be. */
  release: string;
  /** Its host path (under the root, not resolved). */
  path: string;
  /** The one line naming it and the reason (also pushed to listKernels' `problems`). */
  line: string;
}

/**
 * Why the entry `rel` (a name under lib/modules or usr/lib/modules) is not a kernel directory once
 * resolved inside `root`, or null when it is one. A symlink is resolved inside the root (never
 * followed out of it, see resolveInRoot), so one whose target exists only on the host dangles here:
 * the reason names the target, so that whoever made the link sees why kabi does not follow it.
 */
async function kernelDirProblem(root: string, rel: string): Promise<string | null> {
  const given = path.join(root, rel);
  let target: string | null = null;
  try {
    const own = await lstat(given);
    if (!own.isSymbolicLink()) return own.isDirectory() ? null : `${fileKind(own)}, not a kernel directory`;
    target = await readlink(given);
  } catch (err) {
    // Gone since readdir: nothing to report.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return toFileError(given, err).reason;
  }
  const link = `symbolic link to ${target}`;
  const resolved = await resolveInRootWhy(root, rel);
  // A loop is said as for any other path ("too many levels of symbolic links").
  if (typeof resolved !== "string") return resolved.reason;
  let st: Stats;
  try {
    st = await stat(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return `${link}, which does not exist inside the root (links are resolved inside the root, never followed out of it)`;
    }
    return `${link}: ${toFileError(resolved, err).reason}`;
  }
  return st.isDirectory() ? null : `${link}, ${fileKind(st)} inside the root, not a kernel directory`;
}

/**
 * The kernels under `basedir`: the directory names under <basedir>/lib/modules and
 * <basedir>/usr/lib/modules (each resolved inside basedir, so a usr-merged /lib listed
 * twice is read once; duplicates are merged), with their symvers as locateSymvers finds
 * it, sorted oldest first by compareKernelReleases. Every other entry there cannot be a kernel
 * (a symlink dangling inside the root, a loop, a symlink to a file, a file, a name with a control
 * character or not valid UTF-8; an unreadable modules folder): each is left out with one line
 * naming it and the reason in `problems` when given, and listed in `skipped` (unless the
 * same name is a kernel directory under the other modules folder: then the kernel is used from
 * there, and the post-step rule of weak-post.ts deals with the odd entry). A kernel left out in
 * silence would be the worst answer: its links would simply never be made. Hidden entries that
 * are not directories (kabi's lock) are passed over in silence.
 */
export async function listKernels(basedir = "/", problems?: string[], skipped?: SkippedKernelEntry[]): Promise<InstalledKernel[]> {
  const releases = new Set<string>();
  const seenDirs = new Set<string>();
  const unusable = new Map<string, SkippedKernelEntry[]>();
  for (const rel of ["lib/modules", "usr/lib/modules"]) {
    const resolved = await resolveInRootWhy(basedir, rel);
    if (typeof resolved !== "string") {
      if (resolved.reason !== "not a directory") problems?.push(`${path.join(basedir, rel)}: ${resolved.reason}`);
      continue;
    }
    const dir = resolved;
    if (seenDirs.has(dir)) continue;
    seenDirs.add(dir);
    let names: string[];
    try {
      // In one order on every run (readdir's is the file system's): the lines about odd entries too.
      names = (await readdir(dir)).sort(compareCodeUnits);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      problems?.push(toFileError(dir, err).message);
      continue;
    }
    for (const name of names) {
      if (await isUndecodableName(dir, name)) {
        problems?.push(`${path.join(basedir, rel, name)}: ${UNDECODABLE_NAME}`);
        continue;
      }
      const why = unusableReleaseReason(name);
      // A control character is never printed raw: the name is JSON-quoted.
      const shown = path.join(basedir, rel, why === null ? name : JSON.stringify(name));
      const notDir = await kernelDirProblem(basedir, `${rel}/${name}`);
      // A hidden entry that is no directory is not a kernel either, but not worth a line: kabi's own
      // lock lives there (lib/modules/.kabi-weak-modules.lock), and a release never starts with ".".
      if (notDir !== null && name.startsWith(".")) continue;
      if (notDir !== null) {
        const entries = unusable.get(name) ?? [];
        entries.push({ release: name, path: path.join(basedir, rel, name), line: `${shown}: ${notDir}; kernel skipped` });
        unusable.set(name, entries);
        continue;
      }
      if (why !== null) {
        problems?.push(`${shown}: ${why}; kernel skipped`);
        continue;
      }
      releases.add(name);
    }
  }
  for (const [name, entries] of unusable) {
    if (releases.has(name)) continue;
    for (const e of entries) {
      problems?.push(e.line);
      skipped?.push(e);
    }
  }
  const sorted = [...releases].sort(compareKernelReleases);
  const out: InstalledKernel[] = [];
  for (const release of sorted) out.push({ release, symvers: await locateSymvers(release, basedir) });
  return out;
}

/** A malformed --symvers argument. */
export class SymversOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SymversOptionError";
  }
}

/**
 * Parses a `--symvers K=FILE` value: split at the first "=", so FILE may itself contain
 * "=" (a kernel release never does). FILE is returned as given (not resolved, not
 * re-rooted).
 */
export function parseSymversOption(value: string): { release: string; file: string } {
  const eq = value.indexOf("=");
  if (eq < 0) throw new SymversOptionError(`--symvers ${JSON.stringify(value)}: expected KERNEL_RELEASE=FILE`);
  const release = value.slice(0, eq);
  const file = value.slice(eq + 1);
  if (release === "") throw new SymversOptionError(`--symvers ${JSON.stringify(value)}: empty kernel release before "="`);
  if (!isUsableKernelRelease(release)) {
    throw new SymversOptionError(`--symvers ${JSON.stringify(value)}: ${JSON.stringify(release)} is not a kernel release`);
  }
  if (file === "") throw new SymversOptionError(`--symvers ${JSON.stringify(value)}: empty file name after "="`);
  return { release, file };
}
