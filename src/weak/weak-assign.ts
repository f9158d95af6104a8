import { evaluate, type KernelTarget, type PairVerdict } from "../engine/index.js";
import { verdictReasonLines } from "../engine/verdict-reasons.js";
import type { ModuleRecord } from "../types/module-record.js";
import { compareKernelReleases } from "../root/kernel-release.js";
import type { SymversTable } from "../types/symvers-table.js";
import { WEAK_DIR, type ExternalModule, type InstalledTree, type TreeKernel } from "./installed-tree.js";
import { searchPriority } from "./weak-config.js";
import { symversSymbols } from "../symvers/symvers-filter.js";
import { compareCodeUnits } from "../root/code-unit-order.js";

/** What one external module (build) is on one kernel. */
export type BuildState =
  /** The file lives in this kernel's own extra/ or updates/. */
  | { state: "installed" }
  /** The build wins on this kernel and is compatible: it gets (or keeps) a weak link. */
  | { state: "linked"; verdict: PairVerdict }
  /** Built for this kernel (vermagic) but installed in another kernel's directory: never weak-linked here. */
  | { state: "own-build-kernel" }
  /** The kernel has a module of the same name in its own extra/ or updates/ (a build for it wins). */
  | { state: "kernel-has-own"; by: string }
  /** A same-named module earlier in depmod's search order would shadow the weak link. */
  | { state: "shadowed"; by: string }
  /** The kernel has the module built in (modules.builtin). */
  | { state: "built-in" }
  /** Judged on this kernel (as the winning build at some point) and found incompatible. */
  | { state: "incompatible"; verdict: PairVerdict }
  /** Another build of the module wins on this kernel. */
  | { state: "other-build-wins"; winner: string; winnerCompatible: boolean };

export interface BuildDecision {
  kernel: string;
  module: ExternalModule;
  decision: BuildState;
}

/** A weak link the assignment wants: inside-root link path → inside-root target. */
export interface DesiredLink {
  kernel: string;
  link: string;
  target: string;
  module: ExternalModule;
  verdict: PairVerdict;
}

export interface WeakAssignment {
  /** Kernels judged (those with symvers, in scope), oldest first. */
  kernels: string[];
  /** Kernels skipped because they have no symvers. */
  noSymvers: string[];
  decisions: BuildDecision[];
  links: DesiredLink[];
  /** Rounds of the winner/engine iteration (for --verbose). */
  rounds: number;
}

/**
 * The kernels' symvers tables by release: `has` tells which kernels have a usable one, `get` is
 * asked only for kernels where some module is judged, with the only symbols the assignment will
 * look up there (so a lazy source parses only those kernels, and only those lines). A Map serves.
 */
export interface SymversSource {
  has(release: string): boolean;
  get(release: string, wanted?: ReadonlySet<string>): SymversTable | undefined;
}

export interface AssignOptions {
  /** Kernels to judge (default: every kernel with symvers). */
  kernels?: (release: string) => boolean;
}

/** Every external module of the tree, in a fixed order (kernel order, then path). */
export function allExternal(tree: InstalledTree): ExternalModule[] {
  const out: ExternalModule[] = [];
  for (const k of tree.kernels) out.push(...[...k.external].sort((a, b) => compareCodeUnits(a.insidePath, b.insidePath)));
  return out;
}

/** Kernel release order (compareKernelReleases), each distinct pair compared once. */
export function memoizedReleaseOrder(): (a: string, b: string) => number {
  const known = new Map<string, number>();
  return (a, b) => {
    if (a === b) return 0;
    const key = `${a}\0${b}`;
    let c = known.get(key);
    if (c === undefined) known.set(key, (c = compareKernelReleases(a, b)));
    return c;
  };
}

/**
 * The preference order of builds of one module for kernel K: builds for the newest kernel not
 * newer than K first (newest first), then builds for newer kernels (oldest first). Ties (same
 * build kernel): a build installed under its own build kernel first, then updates/ before extra/,
 * then by inside path.
 */
export function preferenceOrder(builds: readonly ExternalModule[], release: string, compare: (a: string, b: string) => number = compareKernelReleases): ExternalModule[] {
  if (builds.length === 1) return [...builds];
  const older = builds.filter((b) => compare(b.buildKernel, release) <= 0);
  const newer = builds.filter((b) => compare(b.buildKernel, release) > 0);
  const tie = (a: ExternalModule, b: ExternalModule): number => {
    const ha = a.homeKernel === a.buildKernel ? 0 : 1;
    const hb = b.homeKernel === b.buildKernel ? 0 : 1;
    if (ha !== hb) return ha - hb;
    if (a.area !== b.area) return a.area === "updates" ? -1 : 1;
    return compareCodeUnits(a.insidePath, b.insidePath);
  };
  older.sort((a, b) => compare(b.buildKernel, a.buildKernel) || tie(a, b));
  newer.sort((a, b) => compare(a.buildKernel, b.buildKernel) || tie(a, b));
  return [...older, ...newer];
}

/** The winner among a kernel's real files of one name by search order (lowest priority, then path). */
function realWinners(k: TreeKernel, order: InstalledTree["searchOrder"]["entries"]): Map<string, { relPath: string; prio: number }> {
  const best = new Map<string, { relPath: string; prio: number }>();
  for (const f of k.files ?? k.external.map((e) => ({ relPath: `${e.area}/${e.subPath}`, name: e.name }))) {
    const prio = searchPriority(order, f.relPath);
    const cur = best.get(f.name);
    if (cur === undefined || prio < cur.prio || (prio === cur.prio && compareCodeUnits(f.relPath, cur.relPath) < 0)) {
      best.set(f.name, { relPath: f.relPath, prio });
    }
  }
  return best;
}

/**
 * Decides, for every kernel with symvers and every external module, whether it gets a weak link
 * and why (see docs/weak-modules.md). The winning build per module name and kernel is chosen by preference
 * order; the engine then judges all winners at once (K's symvers, K's own winning external
 * modules as resident providers, the other winners as candidate providers, to a fixed point).
 * A winner found incompatible is replaced by the next build in preference order: first those
 * failing on their own (nothing blocked by another module), and only when none of those is left,
 * those blocked by other modules; repeated until nothing changes (each step moves a pointer
 * forward, so it ends).
 */
export function assignWeakLinks(
  tree: InstalledTree,
  symvers: SymversSource,
  options: AssignOptions = {},
): WeakAssignment {
  const order = tree.searchOrder.entries;
  const noSymvers: string[] = [];
  const judged: TreeKernel[] = [];
  for (const k of tree.kernels) {
    if (options.kernels !== undefined && !options.kernels(k.release)) continue;
    if (k.symvers === null || !symvers.has(k.release)) noSymvers.push(k.release);
    else judged.push(k);
  }
  const modules = allExternal(tree);
  const indexOf = new Map<ExternalModule, number>();
  modules.forEach((m, i) => indexOf.set(m, i));
  const byName = new Map<string, ExternalModule[]>();
  for (const m of modules) {
    let list = byName.get(m.name);
    if (list === undefined) byName.set(m.name, (list = []));
    list.push(m);
  }
  const names = [...byName.keys()].sort(compareCodeUnits);

  const decisions: BuildDecision[] = [];
  // Per judged kernel: name → ordered builds still in the running, and the pointer.
  const queues: Map<string, { builds: ExternalModule[]; at: number }>[] = [];
  const weakPrio = (sub: string) => searchPriority(order, `${WEAK_DIR}/${sub}`);
  const releaseOrder = memoizedReleaseOrder();
  const winnersOf: ReturnType<typeof realWinners>[] = [];

  for (const k of judged) {
    const winners = realWinners(k, order);
    winnersOf.push(winners);
    const own = new Map<string, ExternalModule[]>();
    for (const e of k.external) {
      let l = own.get(e.name);
      if (l === undefined) own.set(e.name, (l = []));
      l.push(e);
    }
    const queue = new Map<string, { builds: ExternalModule[]; at: number }>();
    for (const name of names) {
      const builds = byName.get(name)!;
      const ownHere = own.get(name);
      if (ownHere !== undefined) {
        const winner = winners.get(name);
        const by = winner !== undefined ? `${k.dir}/${winner.relPath}` : ownHere[0].insidePath;
        for (const b of builds) {
          decisions.push({ kernel: k.release, module: b, decision: b.homeKernel === k.release ? { state: "installed" } : { state: "kernel-has-own", by } });
        }
        continue;
      }
      const eligible: ExternalModule[] = [];
      for (const b of builds) {
        if (b.buildKernel === k.release) decisions.push({ kernel: k.release, module: b, decision: { state: "own-build-kernel" } });
        else eligible.push(b);
      }
      if (eligible.length === 0) continue;
      if (k.builtin?.has(name)) {
        for (const b of eligible) decisions.push({ kernel: k.release, module: b, decision: { state: "built-in" } });
        continue;
      }
      const real = winners.get(name);
      const ordered = preferenceOrder(eligible, k.release, releaseOrder);
      if (real !== undefined) {
        // Shadowing depends on the sub-path of the link, so it is judged per build.
        const unshadowed: ExternalModule[] = [];
        for (const b of ordered) {
          if (real.prio <= weakPrio(b.subPath)) {
            decisions.push({ kernel: k.release, module: b, decision: { state: "shadowed", by: `${k.dir}/${real.relPath}` } });
          } else unshadowed.push(b);
        }
        if (unshadowed.length > 0) queue.set(name, { builds: unshadowed, at: 0 });
      } else queue.set(name, { builds: ordered, at: 0 });
    }
    queues.push(queue);
  }

  // The engine judges only kernels where some build is in the running: a kernel whose every
  // module name is its own (the home kernel of --add-modules) needs neither its symvers nor the engine.
  const targets: KernelTarget[] = [];
  const targetOf: number[] = judged.map((k, ki) => {
    if (queues[ki].size === 0) return -1;
    const own = [...k.external].sort((a, b) => compareCodeUnits(a.insidePath, b.insidePath));
    const winners = winnersOf[ki];
    const resident: ModuleRecord[] = [];
    for (const e of own) {
      const w = winners.get(e.name);
      if (w === undefined || w.relPath === `${e.area}/${e.subPath}`) resident.push(e.record);
    }
    const vermagicSource = own.find((e) => e.record.builtFor === k.release);
    const judgedHere = [...queues[ki].values()].flatMap((q) => q.builds.map((b) => b.record));
    const table = symvers.get(k.release, symversSymbols(judgedHere, resident))!;
    targets.push({ release: k.release, symvers: table, vermagic: vermagicSource?.record.vermagic, resident });
    return targets.length - 1;
  });
  const judgedOf = judged.map((_, ki) => ki).filter((ki) => targetOf[ki] >= 0);

  // Winner choice and engine, to a fixed point. Kernels below are target indices.
  const tried = new Map<string, PairVerdict>(); // `${m}:${k}` → verdict when it was given up
  const chosen = (k: number): Map<number, true> => {
    const s = new Map<number, true>();
    for (const q of queues[judgedOf[k]].values()) s.set(indexOf.get(q.builds[q.at])!, true);
    return s;
  };
  const records = modules.map((m) => m.record);
  let rounds = 0;
  let report;
  for (;;) {
    if (targets.length === 0) break;
    rounds++;
    const chosenSets = targets.map((_, k) => chosen(k));
    report = evaluate(records, targets, { isCandidate: (m, k) => chosenSets[k].has(m) });
    const own: [number, { at: number }, number][] = [];
    const blocked: [number, { at: number }, number][] = [];
    targets.forEach((_, k) => {
      for (const q of queues[judgedOf[k]].values()) {
        const m = indexOf.get(q.builds[q.at])!;
        if (report!.isCompatible(m, k) || q.at + 1 >= q.builds.length) continue;
        const v = report!.verdict(m, k)!;
        (v.blockedBy.length === 0 ? own : blocked).push([k, q, m]);
      }
    });
    const step = own.length > 0 ? own : blocked;
    if (step.length === 0) break;
    for (const [k, q, m] of step) {
      tried.set(`${m}:${k}`, report.verdict(m, k)!);
      q.at++;
    }
  }

  // The final verdicts, module by module: explainModule does one pass over a module's requirements
  // for all its kernels, where verdict() does one per pair.
  const finalVerdicts = new Map<number, (PairVerdict | null)[]>();
  const finalVerdict = (m: number, k: number): PairVerdict => {
    let all = finalVerdicts.get(m);
    if (all === undefined) finalVerdicts.set(m, (all = report!.explainModule(m)));
    return all[k]!;
  };
  const links: DesiredLink[] = [];
  judged.forEach((k, j) => {
    const ki = targetOf[j];
    for (const q of queues[j].values()) {
      const winner = q.builds[q.at];
      const wm = indexOf.get(winner)!;
      const ok = report!.isCompatible(wm, ki);
      q.builds.forEach((b, i) => {
        const m = indexOf.get(b)!;
        if (i < q.at) decisions.push({ kernel: k.release, module: b, decision: { state: "incompatible", verdict: tried.get(`${m}:${ki}`)! } });
        else if (i === q.at) {
          const verdict = finalVerdict(m, ki);
          decisions.push({ kernel: k.release, module: b, decision: ok ? { state: "linked", verdict } : { state: "incompatible", verdict } });
          if (ok) links.push({ kernel: k.release, link: `${k.dir}/${WEAK_DIR}/${b.subPath}`, target: b.insidePath, module: b, verdict });
        } else {
          decisions.push({ kernel: k.release, module: b, decision: { state: "other-build-wins", winner: winner.insidePath, winnerCompatible: ok } });
        }
      });
    }
  });
  return { kernels: judged.map((k) => k.release), noSymvers, decisions, links, rounds };
}

/** One line describing why a pair is incompatible: verdictReasonLines (the audit's wording) joined with "; ". */
export function describeIncompatibility(v: PairVerdict): string {
  return verdictReasonLines(v).join("; ");
}

/** How many "; "-separated reasons a text line keeps (shortReason). */
export const REASONS_SHOWN = 5;

/**
 * A reason for a line of text output: at most `keep` of its "; "-separated parts, then
 * "and N more" (a module built for another kernel series can list thousands of symbols; the
 * full list stays in the JSON outputs).
 */
export function shortReason(text: string, keep: number = REASONS_SHOWN): string {
  const parts = text.split("; ");
  if (parts.length <= keep + 1) return text;
  return `${parts.slice(0, keep).join("; ")}; and ${parts.length - keep} more`;
}
