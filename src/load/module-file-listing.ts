import { createHash } from "node:crypto";
import { lstatSync, readFileSync, type Dirent, type Stats } from "node:fs";
import path from "node:path";
import { replaceFile } from "../root/replace-file.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { missingIsEmpty, readDirSorted, walkTree, type WalkedDir } from "../root/walk.js";

/**
 * The module files of a kernel's directory tree, by directory, optionally through a cache of the
 * listings validated by each directory's stat.
 *
 * Listing a kernel tree is one readdir per directory (~850 for a distribution kernel); an
 * unchanged directory is told by one lstat instead: adding, removing or renaming an entry changes
 * the directory's mtime and ctime, and ctime cannot be set back by anyone. A directory whose
 * ctime was within RACY_MS of the clock when it was read could still change within the same
 * timestamp tick, so its listing is kept without a key (read again next time). The top
 * directory, where weak-updates/ comes and goes, is always read.
 */

/** What a directory held, and the stat fields that tell it has not changed since (ctimeMs -1: never matches). */
interface CachedDir {
  dev: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Names of its entries that are not directories and look like modules, in code-unit order. */
  modules: string[];
  /** Names of its subdirectories (not symlinks to one), in code-unit order. */
  dirs: string[];
}

interface CacheFile {
  format: number;
  dir: string;
  dirs: Record<string, CachedDir>;
}

const FORMAT = 1;
const RACY_MS = 2000;

/** A directory's entries in code-unit order; none when it is missing or not a directory. */
function entries(hostDir: string): Dirent[] {
  try {
    return readDirSorted(hostDir);
  } catch (err) {
    missingIsEmpty(hostDir, err);
    return [];
  }
}

/** Reads a directory's listing; `st` (null for the top directory, never cached) is its lstat, taken before. */
function readDir(hostDir: string, st: Stats | null, now: number): CachedDir {
  const modules: string[] = [];
  const dirs: string[] = [];
  // Entries come sorted, so both lists are in code-unit order.
  for (const e of entries(hostDir)) {
    if (e.isDirectory()) dirs.push(e.name);
    else if (looksLikeModuleFile(e.name)) modules.push(e.name);
  }
  const settled = st !== null && st.ctimeMs < now - RACY_MS;
  return { dev: st?.dev ?? 0, ino: st?.ino ?? 0, mtimeMs: st?.mtimeMs ?? 0, ctimeMs: settled ? st.ctimeMs : -1, modules, dirs };
}

function cacheFileOf(cacheDir: string, hostDir: string): string {
  return path.join(cacheDir, `weak-listings-v${FORMAT}`, createHash("sha1").update(hostDir).digest("hex") + ".json");
}

function load(file: string, hostDir: string): Record<string, CachedDir> | undefined {
  try {
    const data = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
    return data.format === FORMAT && data.dir === hostDir && typeof data.dirs === "object" && data.dirs !== null ? data.dirs : undefined;
  } catch {
    return undefined;
  }
}

/** A plain name of an entry in a directory: no separator, not "." or "..". */
const isEntryName = (x: unknown): x is string => typeof x === "string" && x !== "" && x !== "." && x !== ".." && !x.includes("/");

/**
 * Whether a cached listing has the shape kabi writes, with plain entry names only: a cache file
 * edited or damaged into other valid JSON is then read afresh, never walked out of the tree.
 */
function wellFormed(c: CachedDir): boolean {
  return Array.isArray(c.modules) && Array.isArray(c.dirs) && c.modules.every(isEntryName) && c.dirs.every(isEntryName);
}

/** Written to a temporary file and renamed into place; errors are ignored (a cache is optional). */
function save(file: string, hostDir: string, dirs: Record<string, CachedDir>): void {
  replaceFile(file, () => JSON.stringify({ format: FORMAT, dir: hostDir, dirs } satisfies CacheFile));
}

/**
 * Walks `hostDir` depth first in name order (code units), without following symlinked
 * directories and without entering the top-level directories in `skipTop`, calling `visit` with
 * each directory's path below hostDir ("" for the top) and the names of its module files. With
 * `cacheDir`, unchanged directories are taken from the listing cache there, which is updated
 * when some directory was read afresh. `now` is the clock the racy window is measured on (tests).
 */
export function listModuleFiles(
  hostDir: string,
  skipTop: ReadonlySet<string>,
  visit: (rel: string, modules: readonly string[]) => void,
  cacheDir: string | null,
  now: () => number = Date.now,
): void {
  const file = cacheDir === null ? null : cacheFileOf(cacheDir, hostDir);
  const old = file === null ? undefined : load(file, hostDir);
  const fresh: Record<string, CachedDir> = {};
  let changed = false;
  // A directory's listing: the top always read afresh, any other from the cache while its stat matches.
  const list = ({ path: host, rel }: WalkedDir): CachedDir => {
    if (rel === "") return readDir(host, null, 0);
    let listing: CachedDir;
    const st = lstatSync(host, { throwIfNoEntry: false }) ?? null;
    const c = old?.[rel];
    if (st !== null && c !== undefined && c.ctimeMs === st.ctimeMs && c.mtimeMs === st.mtimeMs && c.ino === st.ino && c.dev === st.dev && wellFormed(c)) listing = c;
    else {
      // Gone or replaced since its parent was listed: nothing to list (a symlink is not followed).
      listing = st === null || !st.isDirectory() ? { dev: 0, ino: 0, mtimeMs: 0, ctimeMs: -1, modules: [], dirs: [] } : readDir(host, st, now());
      changed = true;
    }
    fresh[rel] = listing;
    return listing;
  };
  // A directory's module files, then its subdirectories, each in code-unit order.
  walkTree(hostDir, list, ({ rel }, listing, enter) => {
    visit(rel, rel === "" ? listing.modules.filter((m) => !skipTop.has(m)) : listing.modules);
    for (const d of listing.dirs) {
      if (rel === "" && skipTop.has(d)) continue;
      enter(d);
    }
  });
  if (file !== null && (changed || old === undefined)) save(file, hostDir, fresh);
}
