/**
 * What a reader of an audit wants before the detail: the matrix cell of a pair, the totals per
 * kernel, one headline line per incompatible pair when a single cause explains it, and module
 * names short enough for a column. Shared by every report writer (text, JSON, JUnit, SARIF, HTML).
 */
import { basename, dirname, join, resolve } from "node:path";
import { MODULE_LAYOUT } from "../engine/requirements.js";
import { vermagicFlags } from "../engine/vermagic.js";
import { hexCrc, VERDICT_FIELDS, type VerdictField } from "../engine/verdict-reasons.js";
import type { PairVerdict } from "../engine/verdict.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { AuditInput, AuditKernel } from "./audit-input.js";

/** A matrix cell: not a candidate, compatible, compatible judged by symbol names only, incompatible. */
export type CellMark = "-" | "ok" | "ok?" | "NO";

/** The cell of module m on kernel k, from the engine's bitsets (no verdict is computed). */
export function cellMark(input: AuditInput, m: number, k: number): CellMark {
  const { report } = input;
  if (!report.isCandidate(m, k)) return "-";
  if (!report.isCompatible(m, k)) return "NO";
  const config = input.kernels[k]!.config;
  // A known configuration decides: without CONFIG_MODVERSIONS every module is judged by names
  // only; with it, a module without modversions is refused or force-loaded (tainting), a verdict.
  if (config !== null && config !== undefined) return config.modversions ? "ok" : "ok?";
  return input.modules[m].hasModversions ? "ok" : "ok?";
}

/** The cells of one kernel's column, counted. */
export interface KernelTotals {
  release: string;
  /** `ok`: compatible, judged by CRC. */
  compatible: number;
  /** `ok?`: compatible, but the module has no modversions, so judged by symbol names only. */
  namesOnly: number;
  /** `NO`. */
  incompatible: number;
  /** `-`: modules that are not candidates on this kernel (a package's own residents). */
  notJudged: number;
}

export interface AuditTotals {
  /** Modules read (each counted once per kernel in `kernels`). */
  modules: number;
  kernels: KernelTotals[];
  /** Inputs that could not be read or used (input.errors: files, directories, symvers): exit code 2. */
  errors: number;
}

/** The counts of every kernel's column, from the engine's bitsets (no verdict is computed). */
export function auditTotals(input: AuditInput): AuditTotals {
  const { report, modules } = input;
  const kernels = input.kernels.map((k, ki): KernelTotals => {
    const totals = { release: k.release, compatible: 0, namesOnly: 0, incompatible: 0, notJudged: 0 };
    for (let m = 0; m < modules.length; m++) {
      if (!report.isCandidate(m, ki)) totals.notJudged++;
      else if (!report.isCompatible(m, ki)) totals.incompatible++;
      else if (modules[m].hasModversions) totals.compatible++;
      else totals.namesOnly++;
    }
    return totals;
  });
  return { modules: modules.length, kernels, errors: input.errors.length };
}

/** The blocking fields (those with reason lines), in VERDICT_FIELDS order. */
const BLOCKING_FIELDS: readonly VerdictField[] = VERDICT_FIELDS.filter((f) => f.reason !== null);

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The headline of a pair whose only blocking field is `field` (non-empty), or null. */
function singleFieldHeadline(v: PairVerdict, field: VerdictField): string | null {
  switch (field.key) {
    case "missing":
      return v.missing.length === 1 ? `missing symbol ${v.missing[0]}` : `${v.missing.length} missing symbols`;
    case "mismatched": {
      if (v.mismatched.length === 1) break;
      const byProvider = new Map<string, number>();
      for (const x of v.mismatched) byProvider.set(x.provider, (byProvider.get(x.provider) ?? 0) + 1);
      if (byProvider.size === 1) return `${v.mismatched.length} CRC mismatches against ${v.mismatched[0].provider}`;
      // Most first; equal counts in the order first met.
      const counts = [...byProvider].sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${n}`);
      return `${v.mismatched.length} CRC mismatches (${counts.join(", ")})`;
    }
    case "blockedBy":
      // The path and the symbols stay in the detail; the headline groups the modules one provider blocks.
      return v.blockedBy.length === 1 ? `needs ${v.blockedBy[0].provider}, itself incompatible here` : null;
    case "gplOnly": {
      const license = v.gplOnly[0].license;
      if (v.gplOnly.some((g) => g.license !== license)) return null;
      if (v.gplOnly.length > 1) return `${plural(v.gplOnly.length, "GPL-only symbol", "GPL-only symbols")} used ${license === null ? "with no MODULE_LICENSE" : `under license ${JSON.stringify(license)}`}`;
      break;
    }
    default:
      break;
  }
  // One reason line: the line is the headline.
  const lines: string[] = [];
  field.reason!.lines(v, lines);
  return lines.length === 1 ? lines[0] : null;
}

/**
 * One line saying why module `module` cannot be loaded on `kernel`, when a single cause explains
 * it; null for a compatible pair and when no single line does. In this order:
 * 1. "built for another kernel ABI": the module lists `module_layout` (the CRC of the module
 *    loader's structures, which check_modstruct_version checks before any symbol) and the kernel
 *    exports it with another CRC (both CRCs given) or not at all; else the vermagic flags (after
 *    the release) differ (both given). Every other reason of such a pair follows from it: the
 *    module was built for another kernel, and rebuilding is the fix. When the module does not
 *    list `module_layout` there is no such evidence, and the rules below apply.
 * 2. A single kind of reason: "missing symbol X" / "N missing symbols"; "N CRC mismatches against
 *    P" when one provider P has every mismatch, else "N CRC mismatches (P a, Q b)" with the count
 *    per provider, most first; "needs P, itself incompatible here" when one provider blocks it;
 *    "N GPL-only symbols used under license L"; any kind with one reason line: that line.
 * Headlines name no module, so identical ones group (`--summary`).
 */
export function pairHeadline(v: PairVerdict, module: ModuleRecord, kernel: AuditKernel): string | null {
  if (v.compatible) return null;
  for (const x of v.mismatched) {
    if (x.symbol === MODULE_LAYOUT) return `built for another kernel ABI (module_layout: module ${hexCrc(x.moduleCrc)}, kernel ${hexCrc(x.kernelCrc)})`;
  }
  if (v.missing.includes(MODULE_LAYOUT)) {
    const listed = module.modversions.find((e) => e.symbol === MODULE_LAYOUT);
    return `built for another kernel ABI (module_layout: module ${listed === undefined ? "needs it" : hexCrc(listed.crc)}, ${kernel.release} does not export it)`;
  }
  if (v.vermagicMismatch !== null) {
    // The flags only: the releases may differ anyway (the kernel compares what follows them).
    return `built for another kernel ABI (vermagic flags: module "${vermagicFlags(v.vermagicMismatch.module)}", kernel "${vermagicFlags(v.vermagicMismatch.kernel)}")`;
  }
  if (v.moduleSizeMismatch !== null) {
    return `built for another kernel ABI (struct module size: module 0x${v.moduleSizeMismatch.module.toString(16)}, kernel 0x${v.moduleSizeMismatch.kernel.toString(16)})`;
  }
  let only: VerdictField | null = null;
  for (const f of BLOCKING_FIELDS) {
    if (f.isEmpty(v)) continue;
    if (only !== null) return null;
    only = f;
  }
  return only === null ? null : singleFieldHeadline(v, only);
}

/** A module's name under an operand, and the same name with the operand's own last part before it. */
interface NameUnder {
  name: string;
  qualified: string;
}

/** The name a path gets under an operand (a directory, a file, a package), or null when it was not found there. */
function nameUnder(path: string, operand: string, dirPrefix: string): NameUnder | null {
  if (path === operand) {
    const full = resolve(operand);
    return { name: basename(full), qualified: `${basename(dirname(full))}/${basename(full)}` };
  }
  // A package member: `<package path>!/<member path>`.
  if (path.startsWith(operand) && path.startsWith("!/", operand.length)) {
    const name = path.slice(operand.length + 2);
    return { name, qualified: `${basename(resolve(operand))}!/${name}` };
  }
  if (path.startsWith(dirPrefix) && path.length > dirPrefix.length) {
    const name = path.slice(dirPrefix.length);
    return { name, qualified: `${basename(resolve(operand))}/${name}` };
  }
  return null;
}

/** Which of `names` occur more than once. */
function repeated(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const n of names) (seen.has(n) ? twice : seen).add(n);
  return twice;
}

/**
 * Module names for display: each path relative to the operand it was found under (a directory:
 * the path below it; a file given by itself: its file name; a package member: its member path).
 * When two modules would show the same name (two trees of one layout audited together, two files
 * of one name), every module of the operands they came from shows its name after the last part
 * of its operand (`6.1.0-53-amd64/kabi_provider.ko`, `6.12.117+deb12-amd64/kabi_provider.ko`; of
 * a file, its folder's name), and where that still does not tell two apart (one tree given
 * twice), those show their paths as read, so every name says which file it is. A path under none of the operands (an
 * AuditInput built without them) shows as it is.
 */
export function displayNames(input: AuditInput): string[] {
  // The prefix findModules puts before a directory's entries: join(dir, "x") minus its "x".
  const operands = input.operands.map((op) => ({ op, dirPrefix: join(op, "x").slice(0, -1) }));
  const found = input.modules.map((r) => {
    let best: (NameUnder & { operand: number }) | null = null;
    operands.forEach(({ op, dirPrefix }, operand) => {
      const under = nameUnder(r.path, op, dirPrefix);
      // The deepest operand wins (a tree and a folder of it both given): the shorter name.
      if (under !== null && (best === null || under.name.length < best.name.length)) best = { ...under, operand };
    });
    return best ?? { name: r.path, qualified: r.path, operand: -1 };
  });
  // Every module of an operand involved in a shared name is qualified, so one tree's names read alike.
  const shared = repeated(found.map((f) => f.name));
  const qualify = new Set(found.filter((f) => shared.has(f.name)).map((f) => f.operand));
  const names = found.map((f) => (qualify.has(f.operand) && f.operand !== -1 ? f.qualified : f.name));
  const still = repeated(names);
  return names.map((n, m) => (still.has(n) ? input.modules[m].path : n));
}
