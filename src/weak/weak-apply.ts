import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, type Stats } from "node:fs";
import path from "node:path";
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

/**
 * The host path of an inside-root path whose parent directories are resolved inside the root
 * (so a symlinked /lib → usr/lib works and nothing escapes it); the last component is kept as is.
 * Each directory is resolved once per run (`resolved`): a kernel's links share one or a few.
 */
async function hostOf(root: string, inside: string, resolved: Map<string, Promise<string | null>>): Promise<string> {
  const insideDir = path.posix.dirname(inside);
  let dir = resolved.get(insideDir);
  if (dir === undefined) resolved.set(insideDir, (dir = resolveInRoot(root, insideDir)));
  const hostDir = await dir;
  if (hostDir === null) throw new Error(`${insideDir}: not a directory inside ${root}`);
  return path.join(hostDir, path.posix.basename(inside));
}

/** Whether the host path is below a weak-updates directory (checked before anything is removed). */
function inWeakDir(inside: string): boolean {
  return inside.split("/").includes(WEAK_DIR);
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
  const emptied = new Set<string>();
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
          emptied.add(path.dirname(u.host));
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
    try {
      if (!inWeakDir(action.link)) throw new Error(`${action.link}: not inside a weak-updates directory`);
      const host = await hostOf(root, action.link, resolved);
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
        emptied.add(path.dirname(host));
        const result: ActionResult = { action, ok: true };
        results.push(result);
        if (action.op === "remove") journalOf(journal, action.kernel).push({ host, link: action.link, previous: action.previous, result });
        continue;
      }
      dir = path.dirname(host);
      step(`mkdir -p ${path.posix.dirname(action.link)}`);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
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
      journalOf(journal, action.kernel).push({ host, link: action.link, previous, result });
    } catch (err) {
      if (err instanceof CrashInjected) throw err;
      const code = errorCode(err);
      if (code !== undefined && NO_MORE_WRITES.has(code)) {
        // A directory made only in part (mkdir -p stopped half-way) goes with the rest.
        if (dir !== undefined) emptied.add(dir);
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
    if (!inWeakDir(dir)) continue;
    try {
      const host = await hostOf(root, dir, resolved);
      emptied.add(host);
    } catch {
      // resolves outside the root or no longer there: nothing to remove
    }
  }
  for (const dir of [...emptied].sort(compareCodeUnits).reverse()) {
    let d = dir;
    while (path.basename(d) !== WEAK_DIR && d.split(path.sep).includes(WEAK_DIR)) {
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
