/**
 * The whole `kabi audit --json` document as one object, for tests: the program streams it
 * (writeAuditJson, writeAuditText in src/audit/audit-report.ts), and the tests check the streamed
 * bytes against this plain model (JSON.stringify of it, formatAuditText of it).
 */
import { writeText, type AuditInput, type AuditKernel, type TextOptions } from "../../src/audit/audit-report.js";
import { pairHeadline, type AuditTotals } from "../../src/audit/audit-summary.js";
import type { CompatibilityReport, PairVerdict } from "../../src/engine/verdict.js";
import { hexCrc, verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import type { InputError } from "../../src/load/read-many.js";

// Named through AuditInput, so this file does not depend on where those types live.
type ModuleRecord = AuditInput["modules"][number];
type SymversProblem = AuditInput["symversProblems"][number];

export interface AuditPair {
  compatible: boolean;
  headline: string | null;
  missing: string[];
  mismatched: { symbol: string; moduleCrc: string; kernelCrc: string; provider: string }[];
  noSymbolVersion: { symbol: string; provider: string }[];
  blockedBy: { provider: string; providerPath: string; symbols: string[] }[];
  missingImportNs: { symbol: string; namespace: string }[];
  gplOnly: { symbol: string; provider: string; license: string | null }[];
  proprietaryTaint: { symbol: string; provider: string; taintedBy: string; gplOnlySymbol: string; gplOnlyProvider: string }[];
  vermagicMismatch: { module: string; kernel: string } | null;
  noModversions: boolean;
  providers: string[];
  signatureKey: "kernel-build-key" | "foreign-build-key" | "other-key" | "unsigned" | "invalid-signature" | "unknown";
  signatureRefused: boolean;
  moduleSizeMismatch: { module: number; kernel: number } | null;
  moduleSizeUnknown: boolean;
  crcsNotChecked: boolean;
  noModversionsRefused: { config: string } | null;
  forcedLoad: boolean;
  unsignedRefused: { config: string } | null;
}

export interface AuditModule {
  path: string;
  name: string;
  builtFor: string;
  hasModversions: boolean;
  kernels: Record<string, AuditPair>;
}

/** The `kabi audit --json` document. */
export interface AuditReport {
  version: number;
  kernels: AuditKernel[];
  totals: AuditTotals;
  modules: AuditModule[];
  errors: InputError[];
  symversProblems: SymversProblem[];
}

export function buildAuditReport(
  kernels: readonly AuditKernel[],
  modules: readonly ModuleRecord[],
  report: CompatibilityReport,
  errors: InputError[],
  symversProblems: SymversProblem[],
): AuditReport {
  const auditModules = modules.map((m, mi) => {
    const perKernel: Record<string, AuditPair> = {};
    kernels.forEach((k, ki) => {
      const v = report.verdict(mi, ki);
      if (v) perKernel[k.release] = auditPair(v, pairHeadline(v, m, k));
    });
    return { path: m.path, name: m.name, builtFor: m.builtFor, hasModversions: m.hasModversions, kernels: perKernel };
  });
  return { version: 2, kernels: [...kernels], totals: pairTotals(kernels, auditModules, errors.length), modules: auditModules, errors, symversProblems };
}

/** The totals counted from the pairs themselves (not from the engine's bitsets, as auditTotals does). */
function pairTotals(kernels: readonly AuditKernel[], modules: readonly AuditModule[], errors: number): AuditTotals {
  return {
    modules: modules.length,
    kernels: kernels.map((k) => {
      const pairs = modules.map((m) => m.kernels[k.release]);
      return {
        release: k.release,
        compatible: pairs.filter((p) => p?.compatible === true && !p.noModversions).length,
        namesOnly: pairs.filter((p) => p?.compatible === true && p.noModversions).length,
        incompatible: pairs.filter((p) => p?.compatible === false).length,
        notJudged: pairs.filter((p) => p === undefined).length,
      };
    }),
    errors,
  };
}

function auditPair(v: PairVerdict, headline: string | null): AuditPair {
  return {
    compatible: v.compatible,
    headline,
    missing: v.missing,
    mismatched: v.mismatched.map((x) => ({ symbol: x.symbol, moduleCrc: hexCrc(x.moduleCrc), kernelCrc: hexCrc(x.kernelCrc), provider: x.provider })),
    noSymbolVersion: v.noSymbolVersion,
    blockedBy: v.blockedBy,
    missingImportNs: v.missingImportNs,
    gplOnly: v.gplOnly,
    proprietaryTaint: v.proprietaryTaint,
    vermagicMismatch: v.vermagicMismatch,
    noModversions: v.noModversions,
    providers: v.providers,
    signatureKey: v.signatureKey,
    signatureRefused: v.signatureRefused,
    moduleSizeMismatch: v.moduleSizeMismatch,
    moduleSizeUnknown: v.moduleSizeUnknown,
    crcsNotChecked: v.crcsNotChecked,
    noModversionsRefused: v.noModversionsRefused,
    forcedLoad: v.forcedLoad,
    unsignedRefused: v.unsignedRefused,
  };
}

/** 0 when every module is compatible with every kernel, 1 when some pair is not, 2 on input errors. */
export function auditExitCode(r: AuditReport): number {
  if (r.errors.length > 0) return 2;
  return r.modules.every((m) => Object.values(m.kernels).every((p) => p.compatible)) ? 0 : 1;
}

/** The text report of the whole model; `names`: the modules' display names (displayNames). */
export function formatAuditText(r: AuditReport, names: readonly string[], options: TextOptions = {}): string {
  const parts: Buffer[] = [];
  const pair = (m: number, k: number): AuditPair | undefined => r.modules[m].kernels[r.kernels[k].release];
  writeText(
    {
      kernels: r.kernels,
      modules: r.modules.map((m, i) => ({ name: names[i], builtFor: m.builtFor, hasModversions: m.hasModversions })),
      mark: (m, k) => {
        const p = pair(m, k);
        return !p ? "-" : p.compatible ? (p.noModversions ? "ok?" : "ok") : "NO";
      },
      headline: (m, k) => pair(m, k)!.headline,
      reasons: (m, k) => verdictReasonLines(pair(m, k)!),
      totals: r.totals,
    },
    (t) => parts.push(t),
    options,
  );
  return Buffer.concat(parts).toString("utf8");
}
