import type { Dirent } from "node:fs";
import { readlink, stat } from "node:fs/promises";
import path from "node:path";
import { defaultCacheDir } from "../cache/record-cache.js";
import { describeInputError } from "../types/errors.js";
import { moduleNameFromFile } from "../root/module-file.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { walkSorted } from "../root/walk.js";
import { compareCodeUnits } from "../root/code-unit-order.js";
import { readSmallFile } from "../root/small-file.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { KnownRecords } from "../load/known-records.js";
import { readModules } from "../load/read-many.js";
import { isUndecodableName, listKernels, UNDECODABLE_NAME, type SkippedKernelEntry } from "../root/kernels.js";
import { resolveInRoot, resolveInRootWhy } from "../root/resolve-in-root.js";
import { listModuleFiles } from "../load/module-file-listing.js";
import { readSearchOrder, type SearchOrder } from "./weak-config.js";

/** The two directories of a kernel that hold external (out-of-tree) modules. */
export const EXTERNAL_AREAS = ["extra", "updates"] as const;
export type ExternalArea = (typeof EXTERNAL_AREAS)[number];

export const WEAK_DIR = "weak-updates";
/** Top-level entries of a kernel directory that hold no module of its own. */
const SKIP_TOP: ReadonlySet<string> = new Set([WEAK_DIR, "build", "source"]);

/** Prefix of the temporary names links are created under before being renamed into place. */
export const TEMP_PREFIX = ".kabi-tmp-";

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
  /**
   * Host path of its weak-updates/ resolved inside the root (what the scan lists and the links are
   * written under), or null when it cannot be used (a symlink loop, not a directory): then nothing
   * is written for this kernel and `problems` says why.
   */
  weakHostDir: string | null;
  /** Host path of its symvers, or null (then it is not a kernel for weak-updates). */
  symvers: string | null;
  external: ExternalModule[];
  weak: WeakEntry[];
  /** Subdirectories of its weak-updates/ with nothing in them (inside paths): left by a run that stopped between removing a link and its emptied directory. */
  emptyWeakDirs: string[];
  /** The module files outside weak-updates (in-tree and external) named like some external module of the tree, filled by scanKernelFiles. */
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
  /**
   * Parts of the root that could not be used, one line each naming the path and the reason (a
   * symlink loop, a directory that cannot be read, a name that is not valid UTF-8): the rest of
   * the root is still processed, and a run reporting any fails (exit 1).
   */
  problems: string[];
  /**
   * Names under lib/modules (or usr/lib/modules) that are not kernel directories inside the root (a
   * symlink dangling there, a loop, a file): each has its line in `problems`; kept so that a
   * command naming such a kernel is not also told it is "not installed".
   */
  skippedKernels: ReadonlySet<string>;
}

export interface ScanOptions {
  /**
   * Inside-root paths of modules that are leaving (--remove-modules): whether or not the file is
   * still there, it is neither an external module of the tree nor one of its kernel's files (so it
   * provides, shadows and supersedes nothing). Matched by kernel, area and sub-path
   * (externalPathKey), whichever spelling of the kernel directory the caller used.
   */
  exclude?: ReadonlySet<string>;
  /** Also list every module file of these kernels (for the search-order check). Default: all. */
  filesFor?: (release: string) => boolean;
  /** Read records through this, one file at a time (tests); default: one readModules call for all external modules. */
  read?: (hostPath: string) => Promise<ModuleRecord>;
  /** The persistent cache (module records, and module file listings of kernel trees): true for the default folder, a folder, or false/absent for none. */
  cache?: boolean | string;
  /** Readers for readModules (see ReadManyOptions.workers); absent: its default. */
  workers?: number;
  /** Records already read (the checked --add-modules inputs), by host path: used while the file is unchanged. */
  known?: KnownRecords;
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
 * "K/area/sub/path" of an external module path: the same for every spelling of one file's kernel
 * directory (/lib/modules/K and /usr/lib/modules/K are one directory on a merged-usr root, and a
 * caller may name either: dkms says /lib/modules, an RPM file list may say /usr/lib/modules), or
 * null when the path is not under a kernel's extra/ or updates/.
 */
export function externalPathKey(insidePath: string): string | null {
  const p = parseExternalPath(insidePath);
  return p === null ? null : `${p.release}/${p.area}/${p.subPath}`;
}

/**
 * The inside-root path a weak-updates symlink at `linkInsidePath` names: `target` resolved
 * lexically (a relative one from the link's directory), as the plan, the status and the managed
 * check all read a link.
 */
export function linkTargetPath(linkInsidePath: string, target: string): string {
  return path.posix.normalize(target.startsWith("/") ? target : path.posix.join(path.posix.dirname(linkInsidePath), target));
}

/**
 * Whether a weak-updates symlink target is one kabi (or weak-modules) would have made: it names,
 * after lexical resolution from the link's directory, a module file under some kernel's extra/ or updates/.
 */
export function isManagedTarget(linkInsidePath: string, target: string): boolean {
  const norm = linkTargetPath(linkInsidePath, target);
  return looksLikeModuleFile(path.posix.basename(norm)) && parseExternalPath(norm) !== null;
}

/**
 * Walks a directory tree depth first in name order (code units), entries and subdirectories
 * interleaved, without following symlinked directories (walkSorted), calling visit for every
 * non-directory entry with its path below hostDir and on the host. A missing directory has no
 * entries; `emptyDir` hears of every directory below the top that has none.
 */
function walkEntries(
  hostDir: string,
  problems: string[],
  visit: (rel: string, e: Dirent, host: string) => void,
  emptyDir?: (rel: string) => void,
): Promise<void> {
  const undecodable: { dir: string; name: string }[] = [];
  walkSorted(
    hostDir,
    (dir, entries, enter) => {
      if (entries.length === 0 && dir.rel !== "") emptyDir?.(dir.rel);
      for (const e of entries) {
        // A name that was not valid UTF-8 reads back with U+FFFD and names nothing: checked below.
        if (e.name.includes("\uFFFD")) undecodable.push({ dir: dir.path, name: e.name });
        else if (e.isDirectory()) enter(e.name);
        else visit(dir.relPrefix + e.name, e, dir.prefix + e.name);
      }
    },
    (p, err) => {
      // A directory that went away or is not one has no entries; any other failure (permission
      // denied, a loop) is one line, and the rest of the tree is still walked.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") problems.push(describeInputError(p, err));
    },
  );
  // Names with a real U+FFFD in them are walked as any other (rare: checked one by one afterwards).
  return (async () => {
    for (const u of undecodable) {
      if (await isUndecodableName(u.dir, u.name)) problems.push(`${path.join(u.dir, u.name)}: ${UNDECODABLE_NAME}`);
      else problems.push(`${path.join(u.dir, u.name)}: names with U+FFFD are not supported; left alone`);
    }
  })();
}

/** A module file found under a kernel's extra/ or updates/, before it is read. */
interface FoundExternal {
  kernel: TreeKernel;
  area: ExternalArea;
  insidePath: string;
  hostPath: string;
  subPath: string;
  fileName: string;
}

/** Lists the module files under a kernel's extra/ and updates/ (a symlinked one is resolved inside the root). */
async function findExternal(root: string, k: TreeKernel, leaving: ReadonlySet<string>, problems: string[]): Promise<FoundExternal[]> {
  const found: FoundExternal[] = [];
  const links: FoundExternal[] = [];
  for (const area of EXTERNAL_AREAS) {
    // Resolved inside the root as the links' targets are: a symlinked extra/ never leads off the root.
    const areaDir = await resolveInRootWhy(root, `${k.dir}/${area}`);
    if (typeof areaDir !== "string") {
      problems.push(`${path.join(root, k.dir, area)}: ${areaDir.reason}; its modules are skipped`);
      continue;
    }
    await walkEntries(areaDir, problems, (rel, e, host) => {
      if (!looksLikeModuleFile(e.name)) return;
      const insidePath = `${k.dir}/${area}/${rel}`;
      if (leaving.has(`${k.release}/${area}/${rel}`)) return;
      const f: FoundExternal = { kernel: k, area, insidePath, hostPath: host, subPath: rel, fileName: e.name };
      if (e.isSymbolicLink()) links.push(f);
      else if (!e.isFile()) return;
      found.push(f);
    });
  }
  if (links.length === 0) return found;
  const drop = new Set<FoundExternal>();
  await Promise.all(
    links.map(async (f) => {
      const resolved = await resolveInRoot(root, f.insidePath);
      let ok = false;
      if (resolved !== null) {
        try {
          ok = (await stat(resolved)).isFile();
        } catch {
          ok = false;
        }
      }
      if (ok) f.hostPath = resolved!;
      else drop.add(f);
    }),
  );
  return found.filter((f) => !drop.has(f));
}

function addExternal(f: FoundExternal, record: ModuleRecord): void {
  f.kernel.external.push({
    insidePath: f.insidePath,
    hostPath: f.hostPath,
    homeKernel: f.kernel.release,
    area: f.area,
    subPath: f.subPath,
    name: moduleNameFromFile(f.fileName),
    buildKernel: record.builtFor !== "" ? record.builtFor : f.kernel.release,
    // Reasons name providers by record path: show them as seen inside the root.
    record: { ...record, path: f.insidePath },
  });
}

/** Reads the records of every found external module: one readModules call (pool, cache), or opts.read per file. */
async function readExternal(found: readonly FoundExternal[], opts: ScanOptions, unreadable: UnreadableModule[]): Promise<void> {
  const results: (ModuleRecord | string)[] = new Array(found.length);
  let todo = found.map((_, i) => i);
  if (opts.known !== undefined && opts.known.size > 0) {
    const known = opts.known;
    todo = todo.filter((i) => {
      const record = known.current(found[i]!.hostPath);
      if (record === undefined) return true;
      results[i] = record;
      return false;
    });
  }
  if (opts.read !== undefined) {
    const read = opts.read;
    await Promise.all(
      todo.map(async (i) => {
        try {
          results[i] = await read(found[i]!.hostPath);
        } catch (err) {
          results[i] = describeInputError(found[i]!.insidePath, err);
        }
      }),
    );
  } else if (todo.length > 0) {
    const byPath = new Map<string, number[]>();
    for (const i of todo) {
      const p = found[i]!.hostPath;
      const l = byPath.get(p);
      if (l === undefined) byPath.set(p, [i]);
      else l.push(i);
    }
    const paths = [...byPath.keys()];
    const many = await readModules(paths, { cache: opts.cache ?? false, workers: opts.workers });
    // Records come back in input order without their index: match them by path (a symlink
    // resolved to the same file twice gives the same path twice; both get the record).
    for (const r of many.records) for (const i of byPath.get(r.path) ?? []) results[i] = r;
    for (const e of many.errors) {
      for (const i of byPath.get(e.path) ?? []) {
        const inside = found[i]!.insidePath;
        results[i] = e.message.startsWith(e.path) ? inside + e.message.slice(e.path.length) : `${inside}: ${e.message}`;
      }
    }
  }
  found.forEach((f, i) => {
    const r = results[i];
    if (r === undefined) unreadable.push({ insidePath: f.insidePath, error: `${f.insidePath}: not read` });
    else if (typeof r === "string") unreadable.push({ insidePath: f.insidePath, error: r });
    else addExternal(f, r);
  });
}

async function scanWeak(k: TreeKernel, problems: string[]): Promise<void> {
  const links: WeakEntry[] = [];
  if (k.weakHostDir === null) return;
  await walkEntries(k.weakHostDir, problems, (rel, e, host) => {
    const insidePath = `${k.dir}/${WEAK_DIR}/${rel}`;
    const temp = e.name.startsWith(TEMP_PREFIX);
    if (e.isSymbolicLink()) {
      const entry: WeakEntry = { insidePath, hostPath: host, subPath: rel, kind: "symlink", target: null, managed: false, temp };
      k.weak.push(entry);
      links.push(entry);
    } else {
      k.weak.push({ insidePath, hostPath: host, subPath: rel, kind: e.isFile() ? "file" : "other", target: null, managed: false, temp });
    }
  }, (rel) => k.emptyWeakDirs.push(`${k.dir}/${WEAK_DIR}/${rel}`));
  await Promise.all(
    links.map(async (entry) => {
      try {
        const target = await readlink(entry.hostPath);
        entry.target = target;
        entry.managed = isManagedTarget(entry.insidePath, target);
      } catch (err) {
        // Gone or replaced since the listing: a foreign entry with no target for this run.
        entry.kind = "other";
        problems.push(describeInputError(entry.hostPath, err));
      }
    }),
  );
}

/**
 * Lists the module files of a kernel outside weak-updates (names and paths only: a directory
 * walk, no file is opened), only those named in `names` when given, and its modules.builtin names.
 * With `cacheDir`, directory listings come from the listing cache there while unchanged (see listModuleFiles).
 */
export async function scanKernelFiles(k: TreeKernel, names?: ReadonlySet<string>, cacheDir: string | null = null, root?: string, problems?: string[]): Promise<void> {
  const files: KernelModuleFile[] = [];
  // The per-file work is only a name test: paths are built for matches only.
  listModuleFiles(
    k.hostDir,
    SKIP_TOP,
    (rel, modules) => {
      for (const m of modules) {
        const name = moduleNameFromFile(m);
        if (names === undefined || names.has(name)) files.push({ relPath: rel === "" ? m : `${rel}/${m}`, name });
      }
    },
    cacheDir,
  );
  k.files = files;
  const builtin = new Set<string>();
  const text = await readBuiltinList(root === undefined ? path.join(k.hostDir, "modules.builtin") : await resolveInRoot(root, `${k.dir}/modules.builtin`), problems);
  for (const line of text.split("\n")) {
    if (line.trim() !== "") builtin.add(moduleNameFromFile(line.trim()));
  }
  k.builtin = builtin;
}

/** Far above a real modules.builtin (a few thousand lines, ~100 KB). */
const MAX_BUILTIN_BYTES = 16 * 1024 * 1024;

/**
 * A kernel's modules.builtin text, "" when it has none. Only a regular file of sane size is read
 * (readSmallFile: a FIFO of that name must not hang the run, a device or a huge file must not be
 * read); such an entry is one line in `problems` and counts as no list.
 */
async function readBuiltinList(host: string | null, problems?: string[]): Promise<string> {
  if (host === null) return "";
  try {
    return await readSmallFile(host, MAX_BUILTIN_BYTES, "a modules.builtin");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") problems?.push(`${describeInputError(host, err)}; ignored`);
    return "";
  }
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
 * each kernel's external modules (all read in one readModules call, or through opts.read), its
 * weak-updates entries, and depmod's search order. `beforeFiles`, when given, is started once
 * the external modules are known and before the module trees are walked for shadowing (so
 * that the caller's own I/O, e.g. symvers, overlaps the walk); it is awaited with the rest.
 */
export async function scanInstalledTree(root: string, opts: ScanOptions = {}, beforeFiles?: (tree: InstalledTree) => Promise<void>): Promise<InstalledTree> {
  const hostRoot = path.resolve(root);
  const unreadable: UnreadableModule[] = [];
  const problems: string[] = [];
  const skippedEntries: SkippedKernelEntry[] = [];
  const installed = await listKernels(hostRoot, problems, skippedEntries);
  const skippedKernels = new Set(skippedEntries.map((e) => e.release));
  const kernels = (
    await Promise.all(
      installed.map(async (ik): Promise<TreeKernel | null> => {
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
        if (hostDir === null) return null;
        // weak-updates/ resolved inside the root, as the writer resolves it (weak-apply.ts).
        const weak = await resolveInRootWhy(hostRoot, `${dir}/${WEAK_DIR}`);
        let weakHostDir: string | null = typeof weak === "string" ? weak : null;
        if (typeof weak !== "string") problems.push(`${path.join(hostRoot, dir, WEAK_DIR)}: ${weak.reason}; kernel ${ik.release} is left as it is`);
        else {
          const st = await stat(weak).catch(() => null);
          if (st !== null && !st.isDirectory()) {
            problems.push(`${path.join(hostRoot, dir, WEAK_DIR)}: not a directory; kernel ${ik.release} is left as it is`);
            weakHostDir = null;
          }
        }
        return {
          release: ik.release,
          dir,
          hostDir,
          weakHostDir,
          symvers: ik.symvers,
          external: [],
          weak: [],
          emptyWeakDirs: [],
          files: null,
          builtin: null,
          initramfs: await findInitramfs(hostRoot, ik.release),
        };
      }),
    )
  ).filter((k): k is TreeKernel => k !== null);
  const leaving = new Set<string>();
  for (const p of opts.exclude ?? []) {
    const key = externalPathKey(p);
    if (key !== null) leaving.add(key);
  }
  const found = (await Promise.all(kernels.map((k) => findExternal(hostRoot, k, leaving, problems)))).flat();
  const tree: InstalledTree = { root: hostRoot, kernels, searchOrder: { entries: [], sources: [], isDefault: true }, unreadable, problems, skippedKernels };
  const reading = readExternal(found, opts, unreadable);
  const weak = Promise.all(kernels.map((k) => scanWeak(k, problems)));
  const order = readSearchOrder(hostRoot, problems);
  const caller = beforeFiles?.(tree);
  // One handler on all of them now, so that none rejects unhandled while the walk below runs.
  const rest = Promise.all([reading, weak, order, caller]);
  rest.catch(() => undefined);
  // Shadowing only concerns names some external module has: keep only those files.
  const names = new Set(found.map((f) => moduleNameFromFile(f.fileName)));
  const listingCache = opts.cache ? (typeof opts.cache === "string" ? opts.cache : defaultCacheDir()) : null;
  for (const k of kernels) {
    if (opts.filesFor !== undefined && !opts.filesFor(k.release)) continue;
    await scanKernelFiles(k, names, listingCache, hostRoot, problems);
    // A leaving file still on disk (dkms calls --remove-modules before deleting) must not shadow
    // the weak link that replaces it, nor count as the kernel's own module.
    if (leaving.size > 0) k.files = k.files!.filter((f) => !leaving.has(`${k.release}/${f.relPath}`));
  }
  tree.searchOrder = (await rest)[2];
  // Found by concurrent walks: in one order on every run.
  problems.sort(compareCodeUnits);
  return tree;
}
