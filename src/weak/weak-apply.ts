import { lstatSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, type Stats } from "node:fs";
import path from "node:path";
import { makeDirs } from "../root/replace-file.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { toFileError } from "../types/errors.js";
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
  /**
   * The action is not in effect because its kernel's changes were rolled back after another of
   * its actions met a full or read-only file system (that action's result carries the one error).
   */
  rolledBack?: boolean;
}

let tempCounter = 0;

/**
 * The system errors after which the file system holding a kernel's weak-updates takes no more
 * writes: every later change there would fail the same way, so the kernel's changes of this run
 * are rolled back (see applyPlan) instead of leaving a part of them.
 */
const NO_MORE_WRITES: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT", "EROFS"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The reason part of a failure ("no space left on device"), without the host paths Node's message carries. */
function reasonOf(err: unknown): string {
  return errorCode(err) !== undefined ? toFileError("", err).reason : err instanceof Error ? err.message : String(err);
}

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

/** A symlink `host` -> `target`, made under a temporary name in its directory and renamed into place (atomic); no temporary name survives a failure. */
function placeLink(host: string, target: string, step: (what: string) => void, shown: string): void {
  const tmp = path.join(path.dirname(host), `${TEMP_PREFIX}${process.pid}-${++tempCounter}-${path.basename(host)}`);
  step(`symlink ${target} ${path.posix.dirname(shown)}/${path.basename(tmp)}`);
  symlinkSync(target, tmp);
  try {
    step(`rename into ${shown}`);
    renameSync(tmp, host);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

/** How to take back one change this run made: remove the link (`previous` null) or point it at `previous` again. */
interface Undo {
  host: string;
  /** The host weak-updates/ it is under (where emptied directories stop). */
  weakHost: string;
  link: string;
  previous: string | null;
  result: ActionResult;
}

/**
 * Applies a plan: removals (only symlinks that are still managed and still point where the plan
 * saw them), then creations and replacements, each made under a temporary name in the link's
 * directory and renamed into place (atomic), then empty weak-updates subdirectories (emptied now,
 * or found empty when the plan was made) are removed.
 * A failing action is reported and the others go on, except when the file system refuses all
 * writes (no space or inodes left, quota, read-only): then that kernel's changes of this run are
 * rolled back, its remaining actions are not tried, and the one failing action carries the error.
 * A kernel's links are a set judged together (a module and the providers it needs), and depmod
 * and the initramfs follow them: a packager gets either the whole new set or the old one, and a
 * re-run once there is room converges. Expects the caller to hold the lock.
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
  const noStep = (): void => undefined;
  const results: ActionResult[] = [];
  /** Host directories a link was removed from → the host weak-updates/ they are under (never removed itself). */
  const emptied = new Map<string, string>();
  const resolved = new Map<string, Promise<string | null>>();
  /** Host directories this run has made sure exist. */
  const made = new Set<string>();
  /** Per kernel, the changes made so far, to take back if its file system stops taking writes. */
  const journal = new Map<string, Undo[]>();
  /** Kernels rolled back: the reason, for their actions not tried. */
  const stopped = new Map<string, string>();
  const rollBack = (kernel: string): string[] => {
    const failures: string[] = [];
    for (const u of (journal.get(kernel) ?? []).reverse()) {
      try {
        if (u.previous === null) {
          unlinkSync(u.host);
          emptied.set(path.dirname(u.host), u.weakHost);
        } else placeLink(u.host, u.previous, noStep, u.link);
        u.result.ok = false;
        u.result.rolledBack = true;
        u.result.error = "rolled back";
      } catch (err) {
        failures.push(`could not restore ${u.link}: ${reasonOf(err)}`);
      }
    }
    journal.delete(kernel);
    return failures;
  };
  const ordered = [
    ...plan.actions.filter((a) => a.op === "clean-temp"),
    ...plan.actions.filter((a) => a.op === "remove"),
    ...plan.actions.filter((a) => a.op === "create" || a.op === "replace"),
  ];
  for (const action of ordered) {
    const why = stopped.get(action.kernel);
    if (why !== undefined) {
      results.push({ action, ok: false, rolledBack: true, error: `not tried: ${why}` });
      continue;
    }
    let dir: string | undefined;
    let dirWeakHost: string | undefined;
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
        const result: ActionResult = { action, ok: true };
        results.push(result);
        if (action.op === "remove") journalOf(journal, action.kernel).push({ host, weakHost, link: action.link, previous: action.previous, result });
        continue;
      }
      dir = path.dirname(host);
      dirWeakHost = weakHost;
      step(`mkdir -p ${path.posix.dirname(action.link)}`);
      if (!made.has(dir)) {
        // Not mkdirSync's recursive mode: it reports ENOENT where mkdir failed with EPERM (an immutable folder).
        makeDirs(dir);
        made.add(dir);
      }
      const cur = lstatOrNull(host);
      let previous: string | null = null;
      if (cur !== null) {
        previous = cur.isSymbolicLink() ? readlinkSync(host) : null;
        if (previous === null || !isManagedTarget(action.link, previous)) throw new Error(`${action.link}: an entry kabi does not manage is in the way; left alone`);
      }
      placeLink(host, action.target!, step, action.link);
      const result: ActionResult = { action, ok: true };
      results.push(result);
      journalOf(journal, action.kernel).push({ host, weakHost, link: action.link, previous, result });
    } catch (err) {
      if (err instanceof CrashInjected) throw err;
      const code = errorCode(err);
      if (code !== undefined && NO_MORE_WRITES.has(code)) {
        // A directory made only in part (mkdir -p stopped half-way) goes with the rest.
        if (dir !== undefined && dirWeakHost !== undefined) emptied.set(dir, dirWeakHost);
        const reason = reasonOf(err);
        const failures = rollBack(action.kernel);
        stopped.set(action.kernel, `${reason} at ${action.link}`);
        const undone = failures.length === 0 ? `nothing changed in ${action.kernel}'s weak-updates (this run's changes there were rolled back)` : failures.join("; ");
        results.push({ action, ok: false, error: `${reason}; ${undone}` });
        continue;
      }
      results.push({ action, ok: false, error: code !== undefined ? reasonOf(err) : err instanceof Error ? err.message : String(err) });
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
        // A directory a failed mkdir -p never made: its parents may still be empty.
        if (errorCode(err) !== "ENOENT") break;
      }
      d = path.dirname(d);
    }
  }
  return results;
}

function journalOf(journal: Map<string, Undo[]>, kernel: string): Undo[] {
  let list = journal.get(kernel);
  if (list === undefined) journal.set(kernel, (list = []));
  return list;
}

/** What a crash-injection hook throws (it escapes applyPlan, like a crash would). */
export class CrashInjected extends Error {
  constructor(what: string) {
    super(`crash injected before: ${what}`);
    this.name = "CrashInjected";
  }
}
