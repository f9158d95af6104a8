import { lstat, readlink } from "node:fs/promises";
import path from "node:path";

const MAX_SYMLINKS = 40;

/**
 * Resolves `rel` (a path inside `root`) the way the kernel would after chroot(root):
 * symlinks are followed, an absolute link target starts again at `root`, and ".." never
 * climbs above `root`. Returns the host path of the result (which may not exist:
 * components that don't exist are kept as they are), or null when a component that
 * must be a directory is not one, there are too many symlinks, or a component cannot be
 * looked at (resolveInRootWhy says which).
 */
export async function resolveInRoot(root: string, rel: string): Promise<string | null> {
  const r = await resolveInRootWhy(root, rel);
  return typeof r === "string" ? r : null;
}

/**
 * Why resolveInRoot found no path, in the words of the one line a command prints: "not a
 * directory" (a component that must be one is not), "too many levels of symbolic links" (a loop),
 * "permission denied", "file name too long" (symlinks made the path too long), else the error code.
 */
export type UnresolvedReason = { reason: string };

/** resolveInRoot, saying why there is no path: for the one line a command prints about it. */
export async function resolveInRootWhy(root: string, rel: string): Promise<string | UnresolvedReason> {
  const hostRoot = path.resolve(root);
  // Components still to walk, first at the end (we pop).
  const todo = splitComponents(rel).reverse();
  const done: string[] = []; // resolved components below root
  let links = 0;
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (name === ".") continue;
    if (name === "..") {
      done.pop();
      continue;
    }
    const host = path.join(hostRoot, ...done, name);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        // Nothing to follow from here on.
        done.push(name, ...todo.reverse().filter((c) => c !== "."));
        return normaliseUnder(hostRoot, done);
      }
      if (code === "ENOTDIR") return { reason: "not a directory" };
      // Any other failure to look (a folder we may not search, a path made too long by symlinks)
      // is a reason too: callers say it in one line rather than crash.
      if (code === "EACCES") return { reason: "permission denied" };
      if (code === "ENAMETOOLONG") return { reason: "file name too long" };
      if (code === "ELOOP") return { reason: "too many levels of symbolic links" };
      return { reason: code ?? String(err) };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { reason: "too many levels of symbolic links" };
      const target = await readlink(host);
      if (target.startsWith("/")) done.length = 0;
      todo.push(...splitComponents(target).reverse());
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) return { reason: "not a directory" };
    done.push(name);
  }
  return path.join(hostRoot, ...done);
}

function splitComponents(p: string): string[] {
  return p.split("/").filter((c) => c !== "");
}

/** Joins components under root, applying ".." without climbing above root. */
function normaliseUnder(hostRoot: string, comps: string[]): string {
  const out: string[] = [];
  for (const c of comps) {
    if (c === "..") out.pop();
    else if (c !== ".") out.push(c);
  }
  return path.join(hostRoot, ...out);
}
