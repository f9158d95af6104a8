import { stat } from "node:fs/promises";
import path from "node:path";
import type { ModuleRecord } from "../types/module-record.js";
import { loadSymvers } from "../load/load-symvers.js";
import { moduleNameFromFile } from "../root/module-file.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import type { SymversTable } from "../types/symvers-table.js";
import { blockingSymbols } from "../engine/verdict-reasons.js";
import { allExternal, assignWeakLinks, describeIncompatibility } from "./weak-assign.js";
import { scanInstalledTree } from "./installed-tree.js";

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

export interface StatusReport {
  kernels: { release: string; symvers: string | null }[];
  entries: StatusEntry[];
  /** Parts of the root that could not be used (InstalledTree.problems): `kabi status` exits 1 when there are any. */
  errors: string[];
  warnings: string[];
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
  const warnings = tree.unreadable.map((u) => `skipping unreadable module ${u.error}`);
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
      const t = e.target!;
      linkTo.set(path.posix.normalize(t.startsWith("/") ? t : path.posix.join(path.posix.dirname(e.insidePath), t)), e.insidePath);
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
          entries.push({ ...base, state: "incompatible", text: `incompatible: ${describeIncompatibility(x.verdict)}`, symbols: blockingSymbols(x.verdict), detail: describeIncompatibility(x.verdict) });
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
      const t = e.target!;
      const abs = path.posix.normalize(t.startsWith("/") ? t : path.posix.join(path.posix.dirname(e.insidePath), t));
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
  return { kernels: tree.kernels.map((k) => ({ release: k.release, symvers: k.symvers })), entries, errors: [...tree.problems], warnings };
}
