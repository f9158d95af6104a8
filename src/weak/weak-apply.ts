import { lstat, mkdir, readdir, readlink, rename, rmdir, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { resolveInRoot } from "../symvers/locate-symvers.js";
import { isManagedTarget, TEMP_PREFIX, WEAK_DIR } from "./installed-tree.js";
import type { LinkAction, WeakLinkPlan } from "./weak-plan.js";

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

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * The host path of an inside-root path whose parent directories are resolved inside the root
 * (so a symlinked /lib → usr/lib works and nothing escapes it); the last component is kept as is.
 */
async function hostOf(root: string, inside: string): Promise<string> {
  const dir = await resolveInRoot(root, path.posix.dirname(inside));
  if (dir === null) throw new Error(`${path.posix.dirname(inside)}: not a directory inside ${root}`);
  return path.join(dir, path.posix.basename(inside));
}

/** Whether the host path is below a weak-updates directory (checked before anything is removed). */
function inWeakDir(inside: string): boolean {
  return inside.split("/").includes(WEAK_DIR);
}

/**
 * Applies a plan: removals (only symlinks that are still managed and still point where the plan
 * saw them), then creations and replacements, each made under a temporary name in the link's
 * directory and renamed into place (atomic), then empty weak-updates subdirectories are removed.
 * A failing action is reported and the others go on. Expects the caller to hold the lock.
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
  const ordered = [
    ...plan.actions.filter((a) => a.op === "clean-temp"),
    ...plan.actions.filter((a) => a.op === "remove"),
    ...plan.actions.filter((a) => a.op === "create" || a.op === "replace"),
  ];
  for (const action of ordered) {
    try {
      if (!inWeakDir(action.link)) throw new Error(`${action.link}: not inside a weak-updates directory`);
      const host = await hostOf(root, action.link);
      if (action.op === "clean-temp" || action.op === "remove") {
        const st = await lstatOrNull(host);
        if (st === null) {
          results.push({ action, ok: true });
          continue;
        }
        if (action.op === "remove") {
          if (!st.isSymbolicLink()) throw new Error(`${action.link}: no longer a symlink; left alone`);
          const now = await readlink(host);
          if (now !== action.previous || !isManagedTarget(action.link, now)) throw new Error(`${action.link}: changed since it was read; left alone`);
        } else if (st.isDirectory()) throw new Error(`${action.link}: a directory; left alone`);
        step(`unlink ${action.link}`);
        await unlink(host);
        emptied.add(path.dirname(host));
        results.push({ action, ok: true });
        continue;
      }
      const dir = path.dirname(host);
      step(`mkdir -p ${path.posix.dirname(action.link)}`);
      await mkdir(dir, { recursive: true });
      const cur = await lstatOrNull(host);
      if (cur !== null) {
        const ok = cur.isSymbolicLink() && isManagedTarget(action.link, await readlink(host));
        if (!ok) throw new Error(`${action.link}: an entry kabi does not manage is in the way; left alone`);
      }
      const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${++tempCounter}-${path.basename(host)}`);
      step(`symlink ${action.target} ${path.posix.dirname(action.link)}/${path.basename(tmp)}`);
      await symlink(action.target!, tmp);
      try {
        step(`rename into ${action.link}`);
        await rename(tmp, host);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      results.push({ action, ok: true });
    } catch (err) {
      if (err instanceof CrashInjected) throw err;
      results.push({ action, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  // Remove subdirectories of weak-updates left empty (never weak-updates itself).
  for (const dir of [...emptied].sort().reverse()) {
    let d = dir;
    while (path.basename(d) !== WEAK_DIR && d.split(path.sep).includes(WEAK_DIR)) {
      try {
        if ((await readdir(d)).length > 0) break;
        step(`rmdir ${d}`);
        await rmdir(d);
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
