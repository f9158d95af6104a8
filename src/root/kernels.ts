import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { compareKernelReleases, isUsableKernelRelease } from "./kernel-release.js";
import { resolveInRoot } from "./resolve-in-root.js";

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
 * The kernels under `basedir`: the directory names under <basedir>/lib/modules and
 * <basedir>/usr/lib/modules (each resolved inside basedir, so a usr-merged /lib listed
 * twice is read once; duplicates are merged), with their symvers as locateSymvers finds
 * it, sorted oldest first by compareKernelReleases.
 */
export async function listKernels(basedir = "/"): Promise<InstalledKernel[]> {
  const releases = new Set<string>();
  const seenDirs = new Set<string>();
  for (const rel of ["lib/modules", "usr/lib/modules"]) {
    const dir = await resolveInRoot(basedir, rel);
    if (dir === null || seenDirs.has(dir)) continue;
    seenDirs.add(dir);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      throw err;
    }
    for (const name of names) {
      if (!isUsableKernelRelease(name)) continue;
      const host = await resolveInRoot(basedir, `${rel}/${name}`);
      if (host === null) continue;
      try {
        if ((await stat(host)).isDirectory()) releases.add(name);
      } catch {
        // dangling entry: not a kernel
      }
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
