import { readdirSync, type Dirent } from "node:fs";
import { compareCodeUnits } from "./code-unit-order.js";

/** A directory reached by walkSorted, with the prefixes its entries' paths are made of. */
export interface WalkedDir {
  /** Its path on this host (the top as given). */
  path: string;
  /** What an entry's host path starts with: an entry's path is `prefix + name`. */
  prefix: string;
  /** Its path below the top, "/"-separated ("" for the top). */
  rel: string;
  /** What an entry's path below the top starts with ("" for the top, else `rel + "/"`). */
  relPrefix: string;
  /** How far below the top it is (0 for the top). */
  depth: number;
}

/**
 * Visits one directory: its entries in code-unit order, and `enter`, which walks one of its
 * subdirectories (by entry name) at once, depth first, before returning. The visitor decides
 * which subdirectories to enter and when, so one walker serves a search that interleaves files
 * and subdirectories by name and one that takes a directory's files before its subdirectories.
 */
export type DirVisitor<L> = (dir: WalkedDir, listing: L, enter: (name: string) => void) => void;

/** A directory's entries with their types, in code-unit order of their names. Throws as readdir does. */
export function readDirSorted(path: string): Dirent[] {
  return readdirSync(path, { withFileTypes: true }).sort((a, b) => compareCodeUnits(a.name, b.name));
}

/** An `unreadable` handler for walkSorted: a directory that is missing or not one has no entries; other errors are thrown. */
export function missingIsEmpty(_path: string, err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
}

export interface WalkOptions {
  /** The top's entries' path prefix (default: `top + "/"`), for callers that spell paths as path.join would. */
  prefix?: string;
  /** Separator between a subdirectory's path and its entries' names (default "/"). */
  sep?: string;
}

/**
 * Walks a directory tree from `top`, one directory at a time: `list` gives a directory's listing,
 * `visit` sees it and enters the subdirectories it chooses. Paths are built by concatenation (one
 * prefix per directory, never a path.join per entry: a kernel tree has tens of thousands of entries).
 */
export function walkTree<L>(top: string, list: (dir: WalkedDir) => L, visit: DirVisitor<L>, options: WalkOptions = {}): void {
  const sep = options.sep ?? "/";
  const walk = (dir: WalkedDir): void => {
    const listing = list(dir);
    visit(dir, listing, (name) => {
      const path = dir.prefix + name;
      const rel = dir.relPrefix + name;
      walk({ path, prefix: path + sep, rel, relPrefix: rel + "/", depth: dir.depth + 1 });
    });
  };
  walk({ path: top, prefix: options.prefix ?? top + sep, rel: "", relPrefix: "", depth: 0 });
}

/**
 * Walks the directories under `top` as they are on disk: each read once, synchronously (a kernel tree
 * is ~900 directories; one readdir each costs several times less than through the thread pool),
 * its entries in code-unit order of their names. A directory that cannot be read is handed to
 * `unreadable` with the error (which may throw to end the walk) and then has no entries. Symlinks
 * are entries like others (Dirent.isSymbolicLink()): a symlink to a directory is never entered, as
 * `enter` is meant for entries whose Dirent.isDirectory() is true.
 */
export function walkSorted(
  top: string,
  visit: DirVisitor<readonly Dirent[]>,
  unreadable: (path: string, err: unknown) => void,
  options: WalkOptions = {},
): void {
  const list = (dir: WalkedDir): Dirent[] => {
    try {
      return readDirSorted(dir.path);
    } catch (err) {
      unreadable(dir.path, err);
      return [];
    }
  };
  walkTree(top, list, visit, options);
}
