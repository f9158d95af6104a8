import { moduleNameFromFile } from "../root/module-file.js";
import { externalPathKey, linkTargetPath, WEAK_DIR, type InstalledTree, type TreeKernel, type WeakEntry } from "./installed-tree.js";
import { blockingSymbols } from "../engine/verdict-reasons.js";
import { describeIncompatibility, type BuildDecision, type WeakAssignment } from "./weak-assign.js";
import { compareCodeUnits } from "../root/code-unit-order.js";

/** One change to a kernel's weak-updates/. Paths are as seen inside the root. */
export interface LinkAction {
  kernel: string;
  op: "create" | "replace" | "remove" | "clean-temp";
  /** Module name the link is for. */
  module: string;
  link: string;
  /** New target (create/replace). */
  target: string | null;
  /** Target before (replace/remove/clean-temp). */
  previous: string | null;
  reason: string;
}

/** A module that gets no link on a kernel, and why. */
export interface SkippedModule {
  kernel: string;
  module: string;
  path: string;
  reason: "incompatible" | "shadowed" | "kernel-has-own" | "own-build-kernel" | "other-build-wins" | "built-in" | "foreign-entry";
  detail: string;
  /** For `incompatible`: the blocking symbols. */
  symbols?: string[];
}

/** Something in weak-updates/ kabi does not manage: left alone, reported. */
export interface ForeignEntry {
  kernel: string;
  path: string;
  kind: "file" | "symlink" | "other";
  target: string | null;
}

export interface KeptLink {
  kernel: string;
  module: string;
  link: string;
  target: string;
}

/** What a run will do: pure data, computed from the current filesystem state. */
export interface WeakLinkPlan {
  /** Kernels whose weak-updates/ the plan covers. */
  kernels: string[];
  actions: LinkAction[];
  kept: KeptLink[];
  skipped: SkippedModule[];
  foreign: ForeignEntry[];
  /** Kernels in scope that have no symvers (nothing computed for them). */
  noSymvers: string[];
  /** Empty subdirectories of the covered kernels' weak-updates/ (inside paths), removed when the plan is applied. */
  emptyDirs: string[];
}

export interface PlanScope {
  /** Kernels whose links may change. */
  kernels: (release: string) => boolean;
  /** Module names whose links may change (default: all). */
  names?: (name: string) => boolean;
  /**
   * What leaves in this run, for the reasons of the changes it causes: a kernel (--remove-kernel:
   * all its managed links go), or module files (--remove-modules: inside paths, any spelling).
   */
  leaving?: { kernel: string } | { modules: readonly string[] };
}

function skipOf(d: BuildDecision): SkippedModule | null {
  const base = { kernel: d.kernel, module: d.module.name, path: d.module.insidePath };
  const x = d.decision;
  switch (x.state) {
    case "installed":
    case "linked":
      return null;
    case "incompatible":
      return { ...base, reason: "incompatible", detail: describeIncompatibility(x.verdict), symbols: blockingSymbols(x.verdict) };
    case "shadowed":
      return { ...base, reason: "shadowed", detail: `shadowed by ${x.by}` };
    case "kernel-has-own":
      return { ...base, reason: "kernel-has-own", detail: `${d.kernel} has its own ${x.by}` };
    case "own-build-kernel":
      return { ...base, reason: "own-build-kernel", detail: `built for ${d.kernel} itself` };
    case "other-build-wins":
      return { ...base, reason: "other-build-wins", detail: `the build ${x.winner} wins` };
    case "built-in":
      return { ...base, reason: "built-in", detail: `built into ${d.kernel}` };
  }
}

/**
 * The changes that take the weak-updates/ of the kernels in scope from what `tree` holds to what
 * `assignment` wants, for the module names in scope. Only managed symlinks are ever replaced or
 * removed; foreign entries are reported (and block a link at their path); leftover temporary
 * links of an interrupted run are cleaned.
 */
export function planWeakLinks(tree: InstalledTree, assignment: WeakAssignment, scope: PlanScope): WeakLinkPlan {
  const inNames = scope.names ?? (() => true);
  const leaving: Leaving = {
    kernel: scope.leaving !== undefined && "kernel" in scope.leaving ? scope.leaving.kernel : null,
    // Keyed as the scan keys them (any spelling of the kernel directory), once for the whole plan.
    modules: new Set(scope.leaving !== undefined && "modules" in scope.leaving ? scope.leaving.modules.map(externalPathKey).filter((x): x is string => x !== null) : []),
  };
  const plan: WeakLinkPlan = { kernels: [], actions: [], kept: [], skipped: [], foreign: [], noSymvers: [], emptyDirs: [] };
  for (const k of tree.kernels) {
    if (!scope.kernels(k.release)) continue;
    plan.kernels.push(k.release);
    plan.emptyDirs.push(...k.emptyWeakDirs);
    if (assignment.noSymvers.includes(k.release) || !assignment.kernels.includes(k.release)) {
      plan.noSymvers.push(k.release);
      continue;
    }
    const existing = new Map<string, WeakEntry>();
    for (const e of k.weak) {
      if (e.temp) {
        plan.actions.push({ kernel: k.release, op: "clean-temp", module: "", link: e.insidePath, target: null, previous: e.target, reason: "leftover of an interrupted run" });
        continue;
      }
      existing.set(e.insidePath, e);
      if (!(e.kind === "symlink" && e.managed)) plan.foreign.push({ kernel: k.release, path: e.insidePath, kind: e.kind, target: e.target });
    }
    const whyNotTarget = (link: string, target: string): string => removalReason(tree, k, assignment, leaving, link, linkTargetPath(link, target));
    const wanted = new Map<string, (typeof assignment.links)[number]>();
    for (const l of assignment.links) if (l.kernel === k.release && inNames(l.module.name)) wanted.set(l.link, l);

    for (const [link, l] of [...wanted].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
      const e = existing.get(link);
      const providers = l.verdict.providers.length > 0 ? ` with ${l.verdict.providers.join(", ")}` : "";
      const reason = `compatible with ${k.release}${providers} (built for ${l.module.buildKernel})`;
      if (e === undefined) {
        plan.actions.push({ kernel: k.release, op: "create", module: l.module.name, link, target: l.target, previous: null, reason });
      } else if (e.kind === "symlink" && e.managed) {
        if (e.target === l.target) plan.kept.push({ kernel: k.release, module: l.module.name, link, target: l.target });
        else if (linkTargetPath(link, e.target!) === l.target) {
          // The same file spelled another way ("../../K/extra/x.ko"): pointed at it as kabi spells it.
          plan.actions.push({ kernel: k.release, op: "replace", module: l.module.name, link, target: l.target, previous: e.target, reason: `${reason}; the link pointed to it as ${e.target}` });
        } else plan.actions.push({ kernel: k.release, op: "replace", module: l.module.name, link, target: l.target, previous: e.target, reason: `${reason}; ${whyNotTarget(link, e.target!)}` });
      } else {
        plan.skipped.push({
          kernel: k.release,
          module: l.module.name,
          path: l.module.insidePath,
          reason: "foreign-entry",
          detail: `${link} is a ${e.kind === "symlink" ? `foreign symlink to ${e.target}` : e.kind === "file" ? "regular file" : "non-link entry"} kabi does not manage`,
        });
      }
    }
    for (const [link, e] of [...existing].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
      if (wanted.has(link) || !(e.kind === "symlink" && e.managed)) continue;
      const name = moduleNameFromFile(link);
      if (!inNames(name)) continue;
      const target = e.target!;
      plan.actions.push({ kernel: k.release, op: "remove", module: name, link, target: null, previous: target, reason: whyNotTarget(link, target) });
    }
    for (const d of assignment.decisions) {
      if (d.kernel !== k.release || !inNames(d.module.name)) continue;
      const s = skipOf(d);
      if (s !== null) plan.skipped.push(s);
    }
  }
  return plan;
}

/** What leaves in a run (PlanScope.leaving), as removalReason asks it. */
interface Leaving {
  kernel: string | null;
  /** externalPathKey of each leaving module file. */
  modules: ReadonlySet<string>;
}

/**
 * Why the managed link `link` in k's weak-updates/ no longer points to `abs`: one clause that
 * names what changed (the kernel or the file leaving, the file gone, or what the assignment decided
 * for that file on k).
 */
function removalReason(tree: InstalledTree, k: TreeKernel, assignment: WeakAssignment, leaving: Leaving, link: string, abs: string): string {
  if (leaving.kernel === k.release) return `kernel ${k.release} is being removed`;
  const key = externalPathKey(abs);
  if (key !== null && leaving.modules.has(key)) return `${abs} is being removed`;
  const d = assignment.decisions.find((x) => x.kernel === k.release && x.module.insidePath === abs);
  if (d === undefined) {
    const bad = tree.unreadable.find((u) => u.insidePath === abs);
    return bad !== undefined ? `${abs} cannot be read (${bad.error})` : `${abs} is no longer installed`;
  }
  const x = d.decision;
  switch (x.state) {
    case "installed":
      return `${abs} is ${k.release}'s own module`;
    case "linked":
      return `the link to ${abs} belongs at ${k.dir}/${WEAK_DIR}/${d.module.subPath}`;
    case "incompatible":
      return `${abs} is incompatible with ${k.release}: ${describeIncompatibility(x.verdict)}`;
    case "shadowed":
      return `${abs} would be shadowed by ${x.by}`;
    case "kernel-has-own":
      return `${k.release} has its own ${x.by}`;
    case "own-build-kernel":
      return `${abs} is built for ${k.release} itself but installed under ${d.module.homeKernel}`;
    case "other-build-wins":
      return `the build ${x.winner} wins over ${abs}`;
    case "built-in":
      return `${k.release} has ${d.module.name} built in`;
  }
}

/** Kernels whose links the plan changes (temp cleaning alone does not count). */
export function changedKernels(plan: WeakLinkPlan): string[] {
  const out: string[] = [];
  for (const a of plan.actions) if (a.op !== "clean-temp" && !out.includes(a.kernel)) out.push(a.kernel);
  return out;
}
