import { stat } from "node:fs/promises";
import type { ModuleRecord } from "../types/module-record.js";
import { loadSymvers } from "../load/load-symvers.js";
import { moduleNameFromFile } from "../root/module-file.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import type { SymversTable } from "../types/symvers-table.js";
import { blockingSymbols } from "../engine/verdict-reasons.js";
import { allExternal, assignWeakLinks, describeIncompatibility, shortReason } from "./weak-assign.js";
import { linkTargetPath, scanInstalledTree } from "./installed-tree.js";
import type { ForeignEntry } from "./weak-plan.js";
import { compareCodeUnits } from "../root/code-unit-order.js";

export type StatusState =
  | "installed"
  | "installed-weak"
  | "compatible, not linked"
  | "incompatible"
  | "broken link"
  | "shadowed"
  | "superseded"
  | "built-in"
  | "unknown";

/** One (module, kernel) line of `kabi status`. */
export interface StatusEntry {
  module: string;
  /** Inside-root path of the module file (for a broken link: its target). */
  path: string;
  /** The kernel the module was built for ("" for a broken link). */
  builtFor: string;
  kernel: string;
  state: StatusState;
  /** The state as one phrase: "installed-weak from 6.1.0-54-amd64", "shadowed by /lib/...". */
  text: string;
  /** The weak link, when there is one. */
  link?: string;
  /** For incompatible: the blocking symbols, and the reason. */
  symbols?: string[];
  detail?: string;
}

/** A module that cannot be loaded from where it should on a kernel: no build of it is usable there. */
export interface UnusableModule {
  module: string;
  kernel: string;
  /** The states of its builds (and links) on that kernel. */
  states: StatusState[];
}

export interface StatusReport {
  kernels: { release: string; symvers: string | null }[];
  entries: StatusEntry[];
  /**
   * (module, kernel) pairs, for kernels with a usable symvers, where no build of the module is
   * usable: every build is incompatible, compatible but not linked, or only a broken link.
   */
  unusable: UnusableModule[];
  /** Entries of weak-updates/ kabi does not manage (left alone by weak-modules). */
  foreign: ForeignEntry[];
  /**
   * What could not be checked: parts of the root that could not be used (InstalledTree.problems)
   * and module files that could not be read; `kabi status` exits 2. (A kernel whose symvers cannot
   * be used is a warning: its modules are "unknown" there, as for a kernel without one.)
   */
  errors: string[];
  warnings: string[];
}

/** States in which a module is there for its kernel: loaded from its own file, a weak link, the kernel's own module or build. */
const USABLE: ReadonlySet<StatusState> = new Set<StatusState>(["installed", "installed-weak", "shadowed", "superseded", "built-in"]);

/**
 * `kabi status`'s exit code: 2 when something could not be checked (errors), 1 when a module is
 * not usable on some kernel or a link is broken or stale, else 0.
 */
export function statusExitCode(report: StatusReport): 0 | 1 | 2 {
  if (report.errors.length > 0) return 2;
  const staleOrBroken = report.entries.some((e) => e.state === "broken link" || (e.link !== undefined && e.state === "incompatible"));
  return report.unusable.length > 0 || staleOrBroken ? 1 : 0;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * The text report: each module file with its state on every kernel, the foreign entries of
 * weak-updates/, and a last line that is always there for a root with kernels (also when there is
 * nothing to list).
 */
export function statusText(report: StatusReport): string {
  // No kernel at all: the error line (standard error) is the whole report.
  if (report.kernels.length === 0) return "";
  const out: string[] = [];
  const byModule = new Map<string, StatusEntry[]>();
  for (const e of report.entries) {
    const key = `${e.module}\t${e.path}`;
    let l = byModule.get(key);
    if (l === undefined) byModule.set(key, (l = []));
    l.push(e);
  }
  for (const [key, list] of [...byModule].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
    const [name, file] = key.split("\t");
    out.push(`${name} (${file}${list[0]!.builtFor !== "" ? `, built for ${list[0]!.builtFor}` : ""})\n`);
    for (const e of list) out.push(`  ${e.kernel}: ${e.text}\n`);
  }
  if (report.foreign.length > 0) {
    out.push("not managed by kabi (left alone by weak-modules):\n");
    for (const f of report.foreign) {
      out.push(`  ${f.kernel}: ${f.path} (${f.kind === "symlink" ? `symlink to ${f.target}` : f.kind === "file" ? "regular file" : f.kind})\n`);
    }
  }
  const names = new Set(report.entries.filter((e) => e.state !== "broken link").map((e) => e.module));
  const kernels = plural(report.kernels.length, "kernel");
  const broken = report.entries.filter((e) => e.state === "broken link").length;
  const stale = report.entries.filter((e) => e.link !== undefined && e.state === "incompatible").length;
  const problems: string[] = [];
  if (report.unusable.length > 0) {
    const modules = new Set(report.unusable.map((u) => u.module)).size;
    problems.push(`${plural(modules, "module")} not usable on ${plural(new Set(report.unusable.map((u) => u.kernel)).size, "kernel")}`);
  }
  if (broken > 0) problems.push(plural(broken, "broken link"));
  if (stale > 0) problems.push(plural(stale, "stale link") + " (to an incompatible module)");
  if (report.errors.length > 0) problems.push(`${plural(report.errors.length, "part")} of the root not checked`);
  if (names.size === 0 && broken === 0) out.push(`no external modules in ${kernels}${problems.length > 0 ? `; ${problems.join(", ")}` : ""}\n`);
  else out.push(`${plural(names.size, "external module")}, ${kernels}: ${problems.length > 0 ? problems.join(", ") : "every module usable on every kernel it was checked for"}\n`);
  return out.join("");
}

async function exists(p: string | null): Promise<boolean> {
  if (p === null) return false;
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Every external module's state on every installed kernel (see StatusState). */
export async function weakStatus(
  root: string,
  read?: (hostPath: string) => Promise<ModuleRecord>,
  options: { cache?: boolean | string } = {},
): Promise<StatusReport> {
  const tree = await scanInstalledTree(root, { read, cache: options.cache });
  const warnings: string[] = [];
  const errors = [...tree.problems, ...tree.unreadable.map((u) => `unreadable module ${u.error}`)];
  // A root with no kernel at all is a wrong --basedir far more often than an empty system: an
  // error (exit 2), for `kabi status` and `--dkms` alike.
  if (tree.kernels.length === 0) errors.push(`${root}: no kernels (no directory under lib/modules or usr/lib/modules)`);
  const symvers = new Map<string, SymversTable>();
  const withSymvers = tree.kernels.filter((k) => k.symvers !== null);
  const loaded = await loadSymvers(
    withSymvers.map((k) => k.symvers!),
    { cache: options.cache },
  );
  withSymvers.forEach((k, i) => {
    const l = loaded[i]!;
    if (l.table !== undefined) symvers.set(k.release, l.table);
    else warnings.push(`kernel ${k.release}: ${l.error}`);
  });
  const assignment = assignWeakLinks(tree, symvers);
  const modules = allExternal(tree);
  const entries: StatusEntry[] = [];
  for (const k of tree.kernels) {
    // Links in K's weak-updates by normalised target.
    const linkTo = new Map<string, string>();
    for (const e of k.weak) {
      if (e.kind !== "symlink" || !e.managed || e.temp) continue;
      linkTo.set(linkTargetPath(e.insidePath, e.target!), e.insidePath);
    }
    const covered = new Set<string>();
    for (const m of modules) {
      const base = { module: m.name, path: m.insidePath, builtFor: m.buildKernel, kernel: k.release };
      const link = linkTo.get(m.insidePath);
      if (link !== undefined) covered.add(m.insidePath);
      const d = assignment.decisions.find((x) => x.kernel === k.release && x.module === m);
      if (m.homeKernel === k.release) {
        entries.push({ ...base, state: "installed", text: "installed" });
        continue;
      }
      if (link !== undefined) {
        if (d !== undefined && d.decision.state === "incompatible") {
          const v = d.decision.verdict;
          entries.push({ ...base, link, state: "incompatible", text: "incompatible (but linked: stale link)", symbols: blockingSymbols(v), detail: describeIncompatibility(v) });
        } else entries.push({ ...base, link, state: "installed-weak", text: `installed-weak from ${m.buildKernel}` });
        continue;
      }
      if (d === undefined) {
        entries.push({ ...base, state: "unknown", text: symvers.has(k.release) ? "not judged" : "unknown (no symvers for this kernel)" });
        continue;
      }
      const x = d.decision;
      switch (x.state) {
        case "installed":
          entries.push({ ...base, state: "installed", text: "installed" });
          break;
        case "linked":
          entries.push({ ...base, state: "compatible, not linked", text: "compatible, not linked" });
          break;
        case "other-build-wins":
          entries.push({ ...base, state: "compatible, not linked", text: `not linked: the build ${x.winner} wins`, detail: x.winnerCompatible ? "another build wins" : "another build is preferred" });
          break;
        case "incompatible":
          {
            const detail = describeIncompatibility(x.verdict);
            entries.push({ ...base, state: "incompatible", text: `incompatible: ${shortReason(detail)}`, symbols: blockingSymbols(x.verdict), detail });
          }
          break;
        case "shadowed":
          entries.push({ ...base, state: "shadowed", text: `shadowed by ${x.by}` });
          break;
        case "kernel-has-own":
          entries.push({ ...base, state: "superseded", text: `superseded by ${x.by}` });
          break;
        case "own-build-kernel":
          entries.push({ ...base, state: "superseded", text: `built for ${k.release} but installed under ${m.homeKernel}` });
          break;
        case "built-in":
          entries.push({ ...base, state: "built-in", text: `built into ${k.release}` });
          break;
      }
    }
    // Links whose module file is gone (or unreadable): broken.
    for (const e of k.weak) {
      if (e.kind !== "symlink" || !e.managed || e.temp) continue;
      const abs = linkTargetPath(e.insidePath, e.target!);
      if (covered.has(abs)) continue;
      const ok = await exists(await resolveInRoot(tree.root, abs));
      entries.push({
        module: moduleNameFromFile(e.insidePath),
        path: abs,
        builtFor: "",
        kernel: k.release,
        state: "broken link",
        text: ok ? "broken link (target is not a readable module)" : "broken link",
        link: e.insidePath,
      });
    }
  }
  const foreign: ForeignEntry[] = [];
  for (const k of tree.kernels) {
    for (const e of k.weak) if (!e.temp && !(e.kind === "symlink" && e.managed)) foreign.push({ kernel: k.release, path: e.insidePath, kind: e.kind, target: e.target });
  }
  // By module name and kernel: usable when some build (or the kernel's own module) is there.
  const unusable: UnusableModule[] = [];
  for (const k of tree.kernels) {
    if (!symvers.has(k.release)) continue;
    const states = new Map<string, StatusState[]>();
    for (const e of entries) {
      if (e.kernel !== k.release) continue;
      let l = states.get(e.module);
      if (l === undefined) states.set(e.module, (l = []));
      l.push(e.state);
    }
    for (const [module, list] of [...states].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
      if (!list.some((x) => USABLE.has(x) || x === "unknown")) unusable.push({ module, kernel: k.release, states: list });
    }
  }
  return { kernels: tree.kernels.map((k) => ({ release: k.release, symvers: k.symvers })), entries, unusable, foreign, errors, warnings };
}
