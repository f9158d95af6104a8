import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { describeInputError } from "../errors.js";
import type { ModuleRecord } from "../module/module-record.js";
import { moduleNameFromPath } from "../module/module-name.js";
import { readModule } from "../module/read-module.js";
import { listKernels, resolveInRoot } from "../symvers/locate-symvers.js";
import { readSearchOrder, type SearchOrder } from "./weak-config.js";

/** The two directories of a kernel that hold external (out-of-tree) modules. */
export const EXTERNAL_AREAS = ["extra", "updates"] as const;
export type ExternalArea = (typeof EXTERNAL_AREAS)[number];

export const WEAK_DIR = "weak-updates";
/** Prefix of the temporary names links are created under before being renamed into place. */
export const TEMP_PREFIX = ".kabi-tmp-";

/** Whether a file name looks like a kernel module (`.ko`, `.ko.xz`, `.ko.gz`, `.ko.zst`). */
export function isModuleFileName(name: string): boolean {
  return name.endsWith(".ko") || name.endsWith(".ko.xz") || name.endsWith(".ko.gz") || name.endsWith(".ko.zst");
}

/** One external module file found under a kernel's extra/ or updates/. */
export interface ExternalModule {
  /** Path as seen inside the root ("/lib/modules/K/extra/x/foo.ko"): what a weak link points to. */
  insidePath: string;
  /** Path on this host (under the basedir). */
  hostPath: string;
  /** The kernel whose directory holds it. */
  homeKernel: string;
  area: ExternalArea;
  /** Path below extra/ or updates/ ("x/foo.ko"): the weak link gets the same sub-path. */
  subPath: string;
  /** Module name as depmod/modprobe see it (file name, '-' read as '_'). */
  name: string;
  /** The kernel it was built for: vermagic's release, else homeKernel. */
  buildKernel: string;
  record: ModuleRecord;
}

/** An entry found in a kernel's weak-updates/. */
export interface WeakEntry {
  /** Inside-root path of the entry. */
  insidePath: string;
  hostPath: string;
  /** Path below weak-updates/. */
  subPath: string;
  kind: "symlink" | "file" | "other";
  /** readlink() result for symlinks. */
  target: string | null;
  /** For symlinks: true when the target is (lexically, inside the root) a module under some kernel's extra/ or updates/. */
  managed: boolean;
  /** A leftover `.kabi-tmp-*` entry from an interrupted run. */
  temp: boolean;
}

/** A real (non weak-updates) module file of a kernel, anywhere under /lib/modules/K, for depmod's search order. */
export interface KernelModuleFile {
  /** Path below /lib/modules/K. */
  relPath: string;
  name: string;
}

export interface TreeKernel {
  release: string;
  /** Inside-root directory of the kernel ("/lib/modules/K" or "/usr/lib/modules/K"). */
  dir: string;
  hostDir: string;
  /** Host path of its symvers, or null (then it is not a kernel for weak-updates). */
  symvers: string | null;
  external: ExternalModule[];
  weak: WeakEntry[];
  /** Every module file outside weak-updates (in-tree and external), filled by scanKernelFiles. */
  files: KernelModuleFile[] | null;
  /** Names of modules built into the kernel (modules.builtin), filled by scanKernelFiles. */
  builtin: Set<string> | null;
  /** Host path of its initramfs, when it has one. */
  initramfs: string | null;
}

/** A file under extra/ or updates/ that looks like a module but could not be read. */
export interface UnreadableModule {
  insidePath: string;
  error: string;
}

export interface InstalledTree {
  root: string;
  kernels: TreeKernel[];
  searchOrder: SearchOrder;
  unreadable: UnreadableModule[];
}

export interface ScanOptions {
  /** Inside-root paths to leave out of the scan (modules being removed). */
  exclude?: ReadonlySet<string>;
  /** Also list every module file of these kernels (for the search-order check). Default: all. */
  filesFor?: (release: string) => boolean;
  /** Read records through this (tests, caching); default readModule. */
  read?: (hostPath: string) => Promise<ModuleRecord>;
}

/** "/lib/modules/K/extra/a.ko" → its kernel, area and sub-path, or null. Purely lexical. */
export function parseExternalPath(insidePath: string): { modulesDir: string; release: string; area: ExternalArea; subPath: string } | null {
  const comps = insidePath.split("/").filter((c) => c !== "");
  let i: number;
  if (comps[0] === "lib" && comps[1] === "modules") i = 2;
  else if (comps[0] === "usr" && comps[1] === "lib" && comps[2] === "modules") i = 3;
  else return null;
  if (comps.length < i + 3) return null;
  const release = comps[i];
  const area = comps[i + 1];
  if (area !== "extra" && area !== "updates") return null;
  if (comps.includes("..") || comps.includes(".")) return null;
  return { modulesDir: "/" + comps.slice(0, i).join("/"), release, area, subPath: comps.slice(i + 2).join("/") };
}

/**
 * Whether a weak-updates symlink target is one kabi (or weak-modules) would have made: it names,
 * after lexical resolution from the link's directory, a module file under some kernel's extra/ or updates/.
 */
export function isManagedTarget(linkInsidePath: string, target: string): boolean {
  const abs = target.startsWith("/") ? target : path.posix.join(path.posix.dirname(linkInsidePath), target);
  const norm = path.posix.normalize(abs);
  return isModuleFileName(path.posix.basename(norm)) && parseExternalPath(norm) !== null;
}

async function walk(hostDir: string, rel: string, visit: (rel: string, name: string, host: string) => Promise<void>, skipTop?: ReadonlySet<string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(hostDir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (rel === "" && skipTop?.has(e.name)) continue;
    const host = path.join(hostDir, e.name);
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await walk(host, r, visit);
    else await visit(r, e.name, host);
  }
}

async function scanExternal(
  root: string,
  k: TreeKernel,
  area: ExternalArea,
  opts: ScanOptions,
  unreadable: UnreadableModule[],
): Promise<void> {
  const read = opts.read ?? ((p: string) => readModule(p));
  await walk(path.join(k.hostDir, area), "", async (rel, name, host) => {
    if (!isModuleFileName(name)) return;
    const insidePath = `${k.dir}/${area}/${rel}`;
    if (opts.exclude?.has(insidePath)) return;
    let hostPath = host;
    const st = await lstat(host);
    if (st.isSymbolicLink()) {
      const resolved = await resolveInRoot(root, insidePath);
      if (resolved === null) return;
      try {
        if (!(await stat(resolved)).isFile()) return;
      } catch {
        return;
      }
      hostPath = resolved;
    } else if (!st.isFile()) return;
    let record: ModuleRecord;
    try {
      record = await read(hostPath);
    } catch (err) {
      unreadable.push({ insidePath, error: describeInputError(insidePath, err) });
      return;
    }
    k.external.push({
      insidePath,
      hostPath,
      homeKernel: k.release,
      area,
      subPath: rel,
      name: moduleNameFromPath(name),
      buildKernel: record.builtFor !== "" ? record.builtFor : k.release,
      // Reasons name providers by record path: show them as seen inside the root.
      record: { ...record, path: insidePath },
    });
  });
}

async function scanWeak(k: TreeKernel): Promise<void> {
  await walk(path.join(k.hostDir, WEAK_DIR), "", async (rel, name, host) => {
    const insidePath = `${k.dir}/${WEAK_DIR}/${rel}`;
    const st = await lstat(host);
    const temp = name.startsWith(TEMP_PREFIX);
    if (st.isSymbolicLink()) {
      const target = await readlink(host);
      k.weak.push({ insidePath, hostPath: host, subPath: rel, kind: "symlink", target, managed: isManagedTarget(insidePath, target), temp });
    } else {
      k.weak.push({ insidePath, hostPath: host, subPath: rel, kind: st.isFile() ? "file" : "other", target: null, managed: false, temp });
    }
  });
}

/** Lists every module file of a kernel outside weak-updates, and its modules.builtin names. */
export async function scanKernelFiles(k: TreeKernel): Promise<void> {
  const files: KernelModuleFile[] = [];
  await walk(
    k.hostDir,
    "",
    async (rel, name) => {
      if (isModuleFileName(name)) files.push({ relPath: rel, name: moduleNameFromPath(name) });
    },
    new Set([WEAK_DIR, "build", "source"]),
  );
  k.files = files;
  const builtin = new Set<string>();
  try {
    for (const line of (await readFile(path.join(k.hostDir, "modules.builtin"), "utf8")).split("\n")) {
      if (line.trim() !== "") builtin.add(moduleNameFromPath(line.trim()));
    }
  } catch {
    // no modules.builtin
  }
  k.builtin = builtin;
}

async function findInitramfs(root: string, release: string): Promise<string | null> {
  for (const rel of [`boot/initramfs-${release}.img`, `boot/initrd.img-${release}`]) {
    const host = await resolveInRoot(root, rel);
    if (host === null) continue;
    try {
      if ((await stat(host)).isFile()) return host;
    } catch {
      // absent
    }
  }
  return null;
}

/**
 * Scans a root: its kernels (listKernels; those without symvers are listed with symvers null),
 * each kernel's external modules (read), its weak-updates entries, and depmod's search order.
 */
export async function scanInstalledTree(root: string, opts: ScanOptions = {}): Promise<InstalledTree> {
  const hostRoot = path.resolve(root);
  const unreadable: UnreadableModule[] = [];
  const kernels: TreeKernel[] = [];
  for (const ik of await listKernels(hostRoot)) {
    // The kernel's directory as seen inside the root: /lib/modules unless only /usr/lib/modules has it.
    let dir = `/lib/modules/${ik.release}`;
    let hostDir = await resolveInRoot(hostRoot, dir);
    let isDir = false;
    try {
      isDir = hostDir !== null && (await stat(hostDir)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      dir = `/usr/lib/modules/${ik.release}`;
      hostDir = await resolveInRoot(hostRoot, dir);
    }
    if (hostDir === null) continue;
    const k: TreeKernel = {
      release: ik.release,
      dir,
      hostDir,
      symvers: ik.symvers,
      external: [],
      weak: [],
      files: null,
      builtin: null,
      initramfs: await findInitramfs(hostRoot, ik.release),
    };
    for (const area of EXTERNAL_AREAS) await scanExternal(hostRoot, k, area, opts, unreadable);
    await scanWeak(k);
    if (opts.filesFor === undefined || opts.filesFor(k.release)) await scanKernelFiles(k);
    kernels.push(k);
  }
  return { root: hostRoot, kernels, searchOrder: await readSearchOrder(hostRoot), unreadable };
}
