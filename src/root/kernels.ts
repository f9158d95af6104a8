import { lstat, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { toFileError } from "../types/errors.js";
import { compareKernelReleases, isUsableKernelRelease, unusableReleaseReason } from "./kernel-release.js";
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

/**
 * The kernels under `basedir`: the directory names under <basedir>/lib/modules and
 * <basedir>/usr/lib/modules (each resolved inside basedir, so a usr-merged /lib listed
 * twice is read once; duplicates are merged), with their symvers as locateSymvers finds
 * it, sorted oldest first by compareKernelReleases. Entries that look like kernels but cannot
 * be used (a symlink loop, a name with a control character or not valid UTF-8, an unreadable
 * modules folder) are left out, each with one line naming it in `problems` when given.
 */
export async function listKernels(basedir = "/", problems?: string[]): Promise<InstalledKernel[]> {
  const releases = new Set<string>();
  const seenDirs = new Set<string>();
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
      names = await readdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      problems?.push(toFileError(dir, err).message);
      continue;
    }
    for (const name of names) {
      const host = await resolveInRootWhy(basedir, `${rel}/${name}`);
      if (typeof host !== "string") {
        if (host.reason !== "not a directory") problems?.push(`${path.join(basedir, rel, name)}: ${host.reason}; kernel skipped`);
        continue;
      }
      let isDir = false;
      try {
        isDir = (await stat(host)).isDirectory();
      } catch {
        // dangling entry: not a kernel
      }
      if (!isDir) {
        if (await isUndecodableName(dir, name)) problems?.push(`${path.join(basedir, rel, name)}: ${UNDECODABLE_NAME}`);
        continue;
      }
      const why = unusableReleaseReason(name);
      if (why !== null) {
        problems?.push(`${path.join(basedir, rel, JSON.stringify(name))}: ${why}; kernel skipped`);
        continue;
      }
      releases.add(name);
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
