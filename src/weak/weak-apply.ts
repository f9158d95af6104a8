import { lstatSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, type Stats } from "node:fs";
import path from "node:path";
import { makeDirs } from "../root/replace-file.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { isManagedTarget, TEMP_PREFIX, WEAK_DIR } from "./installed-tree.js";
import type { LinkAction, WeakLinkPlan } from "./weak-plan.js";
import { compareCodeUnits } from "../root/code-unit-order.js";

export interface ApplyHooks {
  /** Called before each filesystem operation with its running number (from 1): throw to simulate a crash. */
  beforeOp?: (n: number, what: string) => void;
}

export interface ActionResult {
  action: LinkAction;
  ok: boolean;
  error?: string;
}

let tempCounter = 0;

function lstatOrNull(p: string): Stats | null {
  return lstatSync(p, { throwIfNoEntry: false }) ?? null;
}

/** A path in some kernel's weak-updates/: that folder (inside the root) and the components below it. */
interface WeakPath {
  weakDir: string;
  below: string[];
}

/** "/lib/modules/K/weak-updates/a/b.ko" → ("/lib/modules/K/weak-updates", ["a", "b.ko"]), or null for any other path. Lexical. */
function splitWeakPath(inside: string): WeakPath | null {
  const comps = inside.split("/").filter((c) => c !== "");
  const i = comps[0] === "lib" && comps[1] === "modules" ? 2 : comps[0] === "usr" && comps[1] === "lib" && comps[2] === "modules" ? 3 : -1;
  if (i < 0 || comps[i + 1] !== WEAK_DIR || comps.length < i + 3) return null;
  if (comps.includes(".") || comps.includes("..")) return null;
  return { weakDir: "/" + comps.slice(0, i + 2).join("/"), below: comps.slice(i + 2) };
}

/** Where an inside path of weak-updates/ is on this host, and the weak-updates/ folder (host) it is under. */
interface WeakHostPath {
  host: string;
  weakHost: string;
}

/**
 * The host path of a path in a kernel's weak-updates/, resolved exactly as the scan lists it
 * (installed-tree.ts): weak-updates/ itself inside the root (resolveInRoot: an absolute symlink
 * restarts at the root, ".." never climbs above it), and below it real directories only: a
 * symlink (or other non-directory) where a directory is expected is a foreign entry, never
 * written through. `upTo` components of the path are checked (all but the last for a link; all
 * for a directory). Each weak-updates/ is resolved once per run (`resolved`).
 */
async function weakHostOf(root: string, inside: string, resolved: Map<string, Promise<string | null>>, upTo: "parent" | "all"): Promise<WeakHostPath> {
  const w = splitWeakPath(inside);
  if (w === null) throw new Error(`${inside}: not inside a weak-updates directory`);
  let dir = resolved.get(w.weakDir);
  if (dir === undefined) resolved.set(w.weakDir, (dir = resolveInRoot(root, w.weakDir)));
  const weakHost = await dir;
  if (weakHost === null) throw new Error(`${w.weakDir}: cannot be resolved inside ${root} (a symlink loop, or not a directory)`);
  let host = weakHost;
  const dirs = upTo === "parent" ? w.below.length - 1 : w.below.length;
  for (let i = 0; i < w.below.length; i++) {
    host = path.join(host, w.below[i]!);
    if (i >= dirs) continue;
    const st = lstatOrNull(host);
    if (st === null) {
      // Missing from here on: made by mkdir below, as real directories.
      for (let j = i + 1; j < w.below.length; j++) host = path.join(host, w.below[j]!);
      break;
    }
    if (!st.isDirectory()) {
      const what = st.isSymbolicLink() ? "a symbolic link" : "not a directory";
      throw new Error(`${w.weakDir}/${w.below.slice(0, i + 1).join("/")}: ${what} where a directory is expected; left alone`);
    }
  }
  return { host, weakHost };
}

/**
 * Applies a plan: removals (only symlinks that are still managed and still point where the plan
 * saw them), then creations and replacements, each made under a temporary name in the link's
 * directory and renamed into place (atomic), then empty weak-updates subdirectories (emptied now,
 * or found empty when the plan was made) are removed.
 * A failing action is reported and the others go on. Expects the caller to hold the lock.
 * The link operations are synchronous on purpose: each is one short syscall, and awaiting the
 * thread pool for each (mkdir, lstat, symlink, rename per link, in sequence) is mostly waiting.
 */
export async function applyPlan(root: string, plan: WeakLinkPlan, hooks: ApplyHooks = {}): Promise<ActionResult[]> {
  let n = 0;
  const step = (what: string): void => {
    try {
      hooks.beforeOp?.(++n, what);
    } catch (err) {
      throw err instanceof CrashInjected ? err : new CrashInjected(what);
    }
  };
  const results: ActionResult[] = [];
  /** Host directories a link was removed from → the host weak-updates/ they are under (never removed itself). */
  const emptied = new Map<string, string>();
  const resolved = new Map<string, Promise<string | null>>();
  /** Host directories this run has made sure exist. */
  const made = new Set<string>();
  const ordered = [
    ...plan.actions.filter((a) => a.op === "clean-temp"),
    ...plan.actions.filter((a) => a.op === "remove"),
    ...plan.actions.filter((a) => a.op === "create" || a.op === "replace"),
  ];
  for (const action of ordered) {
    try {
      const { host, weakHost } = await weakHostOf(root, action.link, resolved, "parent");
      if (action.op === "clean-temp" || action.op === "remove") {
        const st = lstatOrNull(host);
        if (st === null) {
          results.push({ action, ok: true });
          continue;
        }
        if (action.op === "remove") {
          if (!st.isSymbolicLink()) throw new Error(`${action.link}: no longer a symlink; left alone`);
          const now = readlinkSync(host);
          if (now !== action.previous || !isManagedTarget(action.link, now)) throw new Error(`${action.link}: changed since it was read; left alone`);
        } else if (st.isDirectory()) throw new Error(`${action.link}: a directory; left alone`);
        step(`unlink ${action.link}`);
        unlinkSync(host);
        emptied.set(path.dirname(host), weakHost);
        results.push({ action, ok: true });
        continue;
      }
      const dir = path.dirname(host);
      step(`mkdir -p ${path.posix.dirname(action.link)}`);
      if (!made.has(dir)) {
        // Not mkdirSync's recursive mode: it reports ENOENT where mkdir failed with EPERM (an immutable folder).
        makeDirs(dir);
        made.add(dir);
      }
      const cur = lstatOrNull(host);
      if (cur !== null) {
        const ok = cur.isSymbolicLink() && isManagedTarget(action.link, readlinkSync(host));
        if (!ok) throw new Error(`${action.link}: an entry kabi does not manage is in the way; left alone`);
      }
      const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${++tempCounter}-${path.basename(host)}`);
      step(`symlink ${action.target} ${path.posix.dirname(action.link)}/${path.basename(tmp)}`);
      symlinkSync(action.target!, tmp);
      try {
        step(`rename into ${action.link}`);
        renameSync(tmp, host);
      } catch (err) {
        try {
          unlinkSync(tmp);
        } catch {
          // already gone
        }
        throw err;
      }
      results.push({ action, ok: true });
    } catch (err) {
      if (err instanceof CrashInjected) throw err;
      results.push({ action, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  // Remove subdirectories of weak-updates left empty, by this run or by one that stopped before
  // it could (never weak-updates itself).
  for (const dir of plan.emptyDirs) {
    try {
      const { host, weakHost } = await weakHostOf(root, dir, resolved, "all");
      emptied.set(host, weakHost);
    } catch {
      // not a real directory below weak-updates/ (any more): nothing to remove
    }
  }
  for (const [dir, weakHost] of [...emptied].sort((a, b) => compareCodeUnits(a[0], b[0])).reverse()) {
    let d = dir;
    // Up to, never including, the kernel's weak-updates/ (wherever it resolved to).
    while (d !== weakHost && d.startsWith(weakHost + path.sep)) {
      try {
        if (readdirSync(d).length > 0) break;
        step(`rmdir ${d}`);
        rmdirSync(d);
      } catch (err) {
        if (err instanceof CrashInjected) throw err;
        break;
      }
      d = path.dirname(d);
    }
  }
  return results;
}

/** What a crash-injection hook throws (it escapes applyPlan, like a crash would). */
export class CrashInjected extends Error {
  constructor(what: string) {
    super(`crash injected before: ${what}`);
    this.name = "CrashInjected";
  }
}
