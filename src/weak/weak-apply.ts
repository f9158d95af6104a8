import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, type Stats } from "node:fs";
import path from "node:path";
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
  const emptied = new Set<string>();
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
        results.push({ action, ok: true });
        continue;
      }
      const dir = path.dirname(host);
      step(`mkdir -p ${path.posix.dirname(action.link)}`);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
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
