import type { ModuleRecord } from "../types/module-record.js";
import { moduleNameFromFile, normalizeModuleName } from "../root/module-file.js";
import type { InputModule } from "./input-paths.js";
import type { KnownRecords } from "../load/known-records.js";
import { scanInstalledTree, type InstalledTree } from "./installed-tree.js";
import { applyPlan, type ActionResult, type ApplyHooks } from "./weak-apply.js";
import { assignWeakLinks, type WeakAssignment } from "./weak-assign.js";
import { acquireLock, type LockOptions } from "../root/lock.js";
import { changedKernels, planWeakLinks, type WeakLinkPlan } from "./weak-plan.js";
import { parseKernelSymvers, readKernelSymvers, type KernelSymvers } from "./weak-symvers.js";
import { runPostActions, type PostOptions, type PostResult } from "./weak-post.js";

export type WeakMode =
  | { kind: "add-modules"; modules: InputModule[] }
  | { kind: "remove-modules"; modules: InputModule[] }
  | { kind: "add-kernel"; release: string }
  | { kind: "remove-kernel"; release: string };

export interface WeakRunOptions {
  root: string;
  mode: WeakMode;
  dryRun: boolean;
  lock?: LockOptions;
  hooks?: ApplyHooks;
  /** External commands after the change; null: run none. */
  post: Omit<PostOptions, "root" | "initramfsOf" | "moduleDirOf"> | null;
  read?: (hostPath: string) => Promise<ModuleRecord>;
  /** The persistent record cache for external modules (see ReadManyOptions.cache); never used by --dry-run, which writes nothing. */
  cache?: boolean | string;
  /** Records already read (checked --add-modules inputs), see ScanOptions.known. */
  known?: KnownRecords;
  /** Progress messages (--verbose): waiting for the lock, depmod and the initramfs step; not the link changes (see WeakRunResult.applied). */
  log?: (line: string) => void;
}

export interface WeakRunResult {
  plan: WeakLinkPlan;
  /** Empty for --dry-run. */
  applied: ActionResult[];
  post: PostResult[];
  /** Problems that make the run fail (exit status 1). */
  errors: string[];
  /** Problems reported without failing (unreadable files elsewhere, foreign entries). */
  warnings: string[];
}

/** Names affected by a change to `names`: those names and every module that depends on one of them, transitively. */
export function dependentClosure(tree: InstalledTree, names: Iterable<string>): Set<string> {
  const out = new Set(names);
  const mods = tree.kernels.flatMap((k) => k.external);
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of mods) {
      if (out.has(m.name)) continue;
      if (m.record.depends.some((d) => out.has(normalizeModuleName(d)))) {
        out.add(m.name);
        changed = true;
      }
    }
  }
  return out;
}

/**
 * The plan without changes to kernels whose weak-updates/ cannot be used (tree.problems names
 * each): nothing is written where the scan could not look.
 */
function withoutUnusableWeakDirs(tree: InstalledTree, plan: WeakLinkPlan): WeakLinkPlan {
  const unusable = new Set(tree.kernels.filter((k) => k.weakHostDir === null).map((k) => k.release));
  if (unusable.size === 0) return plan;
  return { ...plan, actions: plan.actions.filter((a) => !unusable.has(a.kernel)), emptyDirs: plan.emptyDirs.filter((d) => !tree.kernels.some((k) => unusable.has(k.release) && d.startsWith(`${k.dir}/`))) };
}

/** Scans the root and computes the plan for a mode (no lock, no writes). */
export async function computePlan(opts: Pick<WeakRunOptions, "root" | "mode" | "read" | "cache" | "known">): Promise<{ tree: InstalledTree; assignment: WeakAssignment | null; plan: WeakLinkPlan; errors: string[]; warnings: string[] }> {
  const { root, mode } = opts;
  const errors: string[] = [];
  const warnings: string[] = [];
  const exclude = mode.kind === "remove-modules" ? new Set(mode.modules.map((m) => m.insidePath)) : undefined;
  const kernelScope =
    mode.kind === "add-kernel" || mode.kind === "remove-kernel" ? (r: string) => r === mode.release : () => true;
  // Symvers are read and decoded while the module trees are walked: every kernel in scope (for
  // --add-kernel K only K: choosing builds needs release order only, never another kernel's
  // symvers); parsed by the assignment only for kernels it judges, keeping only the symbols it looks up there.
  let decoded: Promise<KernelSymvers[]> | undefined;
  const tree = await scanInstalledTree(root, { exclude, filesFor: kernelScope, read: opts.read, cache: opts.cache, known: opts.known }, async (t) => {
    if (mode.kind !== "remove-kernel") decoded = readKernelSymvers(t, kernelScope);
  });
  for (const u of tree.unreadable) warnings.push(`skipping unreadable module ${u.error}`);
  // Each unusable part of the root is one error line (exit 1); the rest is still processed.
  errors.push(...tree.problems);

  if (mode.kind === "remove-kernel") {
    // Every managed link of K goes; nothing is judged.
    const assignment: WeakAssignment = { kernels: [mode.release], noSymvers: [], decisions: [], links: [], rounds: 0 };
    const plan = withoutUnusableWeakDirs(tree, planWeakLinks(tree, assignment, { kernels: kernelScope, leaving: { kernel: mode.release } }));
    return { tree, assignment, plan, errors, warnings };
  }
  if (mode.kind === "add-kernel") {
    const k = tree.kernels.find((x) => x.release === mode.release);
    // A skipped kernel directory already has its line (in tree.problems), naming it and why.
    if (k === undefined) {
      if (!tree.skippedKernels.has(mode.release)) errors.push(`kernel ${mode.release}: not installed (no lib/modules/${mode.release} in the root)`);
    }
    else if (k.symvers === null && tree.kernels.some((x) => x.release !== mode.release && x.external.length > 0)) {
      // Without symvers no module can be judged for K. That is only a failure when some other
      // kernel has an external module to link into K: a system without any (Debian's kernel hook
      // runs on every kernel install, headers or not) is not told so on every upgrade.
      errors.push(`kernel ${mode.release}: no symvers found (boot/symvers-K.gz, lib/modules/K/symvers.*, usr/src/linux-headers-K/Module.symvers, lib/modules/K/build/Module.symvers)`);
    }
  }
  let given = mode.kind === "add-modules" || mode.kind === "remove-modules" ? mode.modules : [];
  if (mode.kind === "add-modules") {
    const found = (m: InputModule) => tree.kernels.some((k) => k.external.some((e) => e.insidePath === m.insidePath));
    given = mode.modules.filter(found);
    for (const m of mode.modules) {
      if (!found(m)) {
        const bad = tree.unreadable.find((u) => u.insidePath === m.insidePath);
        errors.push(bad !== undefined ? `${m.given}: not a readable kernel module: ${bad.error}` : `${m.given}: kernel ${m.release} is not installed in the root`);
      }
    }
  }
  const unusable: string[] = [];
  const symvers = parseKernelSymvers((await decoded) ?? [], unusable);
  // A symvers that cannot be used is as none: for --add-kernel K that is an error (exit 1, as a K
  // without symvers), for the other modes the kernel is passed over with a warning.
  for (const u of unusable) (mode.kind === "add-kernel" ? errors : warnings).push(u);
  const assignment = assignWeakLinks(tree, symvers, { kernels: kernelScope });
  let names: ((n: string) => boolean) | undefined;
  if (mode.kind === "add-modules" || mode.kind === "remove-modules") {
    const closure = dependentClosure(tree, given.map((m) => moduleNameFromFile(m.insidePath)));
    names = (n) => closure.has(n);
  }
  const leaving = mode.kind === "remove-modules" ? { modules: mode.modules.map((m) => m.insidePath) } : undefined;
  const plan = withoutUnusableWeakDirs(tree, planWeakLinks(tree, assignment, { kernels: kernelScope, names, leaving }));
  return { tree, assignment, plan, errors, warnings };
}

/**
 * One weak-modules run: takes the lock (not for --dry-run), scans the root, computes the plan,
 * applies it, then runs depmod and the initramfs step for kernels whose links changed.
 */
export async function runWeakModules(opts: WeakRunOptions): Promise<WeakRunResult> {
  const log = opts.log ?? (() => undefined);
  if (opts.dryRun) {
    const { plan, errors, warnings } = await computePlan({ ...opts, cache: false });
    return { plan, applied: [], post: [], errors, warnings };
  }
  const lock = await acquireLock(opts.root, {
    ...opts.lock,
    onWait: (pid, file) => {
      // The caller's onWait says it (the CLI always does); else the --verbose log.
      if (opts.lock?.onWait !== undefined) opts.lock.onWait(pid, file);
      else log(`waiting for the lock held by process ${pid}`);
    },
  });
  try {
    const { tree, plan, errors, warnings } = await computePlan(opts);
    const applied = await applyPlan(tree.root, plan, opts.hooks);
    // The changes made are in `applied` (the CLI lists them once, on standard output); the log only
    // hears of what happens around them.
    for (const r of applied) {
      // A rolled-back action is accounted for by the one failure that caused the rollback.
      if (!r.ok && r.rolledBack !== true) errors.push(`${r.action.op} ${r.action.link}: ${r.error}`);
    }
    const changed = changedKernels({ ...plan, actions: applied.filter((r) => r.ok).map((r) => r.action) });
    let post: PostResult[] = [];
    if (opts.post !== null && changed.length > 0) {
      post = await runPostActions(changed, {
        ...opts.post,
        root: tree.root,
        initramfsOf: (r) => tree.kernels.find((k) => k.release === r)?.initramfs ?? null,
        moduleDirOf: (r) => tree.kernels.find((k) => k.release === r)?.dir ?? `/lib/modules/${r}`,
      });
      for (const p of post) {
        if (!p.ok) warnings.push(`${p.step} for ${p.kernel} failed (links kept): ${p.message}`);
        else if (p.message !== "") log(`${p.step} for ${p.kernel}: ${p.message}`);
        else log(`${p.command.join(" ")}`);
      }
    }
    return { plan, applied, post, errors, warnings };
  } finally {
    await lock.release();
  }
}
