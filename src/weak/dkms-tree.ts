/**
 * Reading a DKMS tree (dkms 3.0.10's layout, /var/lib/dkms by default):
 *
 *   <tree>/<module>/<version>/source                  -> /usr/src/<module>-<version> ("added")
 *   <tree>/<module>/<version>/<kernel>/<arch>/module/  the built module files ("built")
 *   <tree>/<module>/<version>/<kernel>/<arch>/log/     make.log, .config
 *   <tree>/<module>/kernel-<kernel>-<arch>             -> <version>/<kernel>/<arch> ("installed")
 *
 * Only what dkms itself looks at is read; nothing is written. dkms.conf is a shell script that
 * only dkms can evaluate, so a build counts as built when its module/ folder holds module files
 * (dkms also checks every BUILT_MODULE_NAME is there; a partial build shows as fewer files).
 */
import type { Dirent } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { compareCodeUnits } from "../root/code-unit-order.js";
import { isUndecodableName, UNDECODABLE_NAME } from "../root/kernels.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { FileError, toFileError } from "../types/errors.js";
import { looksLikeModuleFile } from "../types/compression.js";

/** Where dkms keeps its tree, inside a root. */
export const DKMS_TREE = "/var/lib/dkms";

/** One module file of a build: <build>/module/<name>. */
export interface DkmsBuiltFile {
  /** File name as dkms wrote it ("kabi_dkms_user.ko", "x.ko.xz"). */
  name: string;
  hostPath: string;
  size: number;
}

/** One build of a module version: <tree>/<module>/<version>/<kernel>/<arch>/. */
export interface DkmsBuild {
  kernel: string;
  arch: string;
  hostDir: string;
  /** The module files of module/, in code-unit order (regular files only, as dkms's `find -type f`). */
  files: DkmsBuiltFile[];
  /** Whether <tree>/<module>/kernel-<kernel>-<arch> points to this build: dkms's "installed". */
  marked: boolean;
}

/** One version of a DKMS module: <tree>/<module>/<version>/ with its source (dkms's "added"). */
export interface DkmsModuleVersion {
  module: string;
  version: string;
  hostDir: string;
  /** Builds with at least one module file, by kernel then arch. */
  builds: DkmsBuild[];
}

export interface DkmsTree {
  /** Host path of the tree. */
  hostDir: string;
  /** Every added module version, by module then version (code-unit order). */
  versions: DkmsModuleVersion[];
  /** Entries that could not be used, one line each naming the path and why: the rest is still read. */
  problems: string[];
}

/** dkms's glob for the kernel folders of a version ("+([0-9]).*"). */
const KERNEL_DIR = /^[0-9]+\./;

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The one problem line for an entry of `dir` whose name cannot stand in a dkms status line (the
 * format has no quoting), or null when it can. A name with a control character is shown quoted
 * (JSON), so that the line stays one line.
 */
async function badName(dir: string, name: string): Promise<string | null> {
  if (await isUndecodableName(dir, name)) return `${path.join(dir, name)}: ${UNDECODABLE_NAME}`;
  if (CONTROL.test(name)) return `${path.join(dir, JSON.stringify(name))}: its name holds a control character (a newline, a tab, ...); left out`;
  if (name.includes(", ") || name.includes(": ")) return `${path.join(dir, name)}: its name would make an ambiguous status line (', ' or ': '); left out`;
  return null;
}

async function listDir(dir: string, problems: string[]): Promise<Dirent[] | null> {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareCodeUnits(a.name, b.name));
  } catch (err) {
    problems.push(toFileError(dir, err).message);
    return null;
  }
}

/** The entries of `dir` that are directories (not symlinks to one: dkms makes real folders), named usably. */
async function subDirs(dir: string, problems: string[], skip: (name: string) => boolean = () => false): Promise<string[]> {
  const entries = await listDir(dir, problems);
  if (entries === null) return [];
  const out: string[] = [];
  for (const e of entries) {
    if (skip(e.name) || !e.isDirectory()) continue;
    const problem = await badName(dir, e.name);
    if (problem !== null) problems.push(problem);
    else out.push(e.name);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Whether <moduleDir>/kernel-<kernel>-<arch> leads to <version>/<kernel>/<arch> (dkms's _is_module_installed). */
async function isMarked(root: string, moduleDir: string, version: string, kernel: string, arch: string): Promise<boolean> {
  let target: string;
  try {
    target = await readlink(path.join(moduleDir, `kernel-${kernel}-${arch}`));
  } catch {
    return false;
  }
  // dkms writes the link relative ("1.0/6.1.0-53-amd64/x86_64"); an absolute one is read inside the root.
  const host = target.startsWith("/") ? await resolveInRoot(root, target) : path.resolve(moduleDir, target);
  return host !== null && path.normalize(host) === path.join(moduleDir, version, kernel, arch);
}

async function readBuild(root: string, moduleDir: string, version: string, kernel: string, arch: string, problems: string[]): Promise<DkmsBuild | null> {
  const hostDir = path.join(moduleDir, version, kernel, arch);
  const moduleFolder = path.join(hostDir, "module");
  if (!(await exists(moduleFolder))) return null; // a failed build leaves only log/
  const entries = await listDir(moduleFolder, problems);
  if (entries === null) return null;
  const files: DkmsBuiltFile[] = [];
  for (const e of entries) {
    if (!e.isFile() || !looksLikeModuleFile(e.name)) continue;
    const problem = await badName(moduleFolder, e.name);
    if (problem !== null) {
      problems.push(problem);
      continue;
    }
    const hostPath = path.join(moduleFolder, e.name);
    try {
      files.push({ name: e.name, hostPath, size: (await lstat(hostPath)).size });
    } catch (err) {
      problems.push(toFileError(hostPath, err).message);
    }
  }
  if (files.length === 0) return null;
  return { kernel, arch, hostDir, files, marked: await isMarked(root, moduleDir, version, kernel, arch) };
}

/**
 * Reads the DKMS tree at host path `hostDir` (for `root`, where absolute links in it lead). Throws a
 * FileError naming the tree when it cannot be listed at all (missing, not a folder, unreadable).
 */
export async function readDkmsTree(root: string, hostDir: string): Promise<DkmsTree> {
  let top: Dirent[];
  try {
    if (!(await stat(hostDir)).isDirectory()) {
      throw new FileError(hostDir, "not a directory (no DKMS tree here)");
    }
    top = (await readdir(hostDir, { withFileTypes: true })).sort((a, b) => compareCodeUnits(a.name, b.name));
  } catch (err) {
    const e = toFileError(hostDir, err);
    if (e.code === "ENOENT") throw new FileError(hostDir, "no such directory (no DKMS tree here; --dkms-tree DIR names another)", undefined, e.code);
    throw e;
  }
  const problems: string[] = [];
  const versions: DkmsModuleVersion[] = [];
  for (const m of top) {
    // Files at the top (mok.key, mok.pub, dkms_dbversion) are dkms's own, not modules.
    if (!m.isDirectory()) continue;
    const problem = await badName(hostDir, m.name);
    if (problem !== null) {
      problems.push(problem);
      continue;
    }
    const moduleDir = path.join(hostDir, m.name);
    // kernel-<K>-<arch> are symlinks (skipped as non-folders); original_module keeps replaced in-tree modules.
    for (const version of await subDirs(moduleDir, problems, (n) => n === "original_module" || n.startsWith("kernel-"))) {
      const versionDir = path.join(moduleDir, version);
      // dkms's is_module_added: a version without source/ is a leftover dkms itself does not list.
      if (!(await exists(path.join(versionDir, "source")))) continue;
      const builds: DkmsBuild[] = [];
      // dkms takes only "+([0-9]).*" here as kernels; source/ is the source, build/ its scratch folder.
      for (const kernel of await subDirs(versionDir, problems, (n) => !KERNEL_DIR.test(n))) {
        for (const arch of await subDirs(path.join(versionDir, kernel), problems)) {
          const b = await readBuild(root, moduleDir, version, kernel, arch, problems);
          if (b !== null) builds.push(b);
        }
      }
      versions.push({ module: m.name, version, hostDir: versionDir, builds });
    }
  }
  return { hostDir, versions, problems };
}
