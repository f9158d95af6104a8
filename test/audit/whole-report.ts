/**
 * The whole `kabi audit --json` document as one object, for tests: the program streams it
 * (writeAuditJson, writeAuditText in src/audit/audit-report.ts), and the tests check the streamed
 * bytes against this plain model (JSON.stringify of it, formatAuditText of it).
 */
import { writeText, type AuditInput, type AuditKernel } from "../../src/audit/audit-report.js";
import type { CompatibilityReport, PairVerdict } from "../../src/engine/verdict.js";
import { hexCrc, verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import type { InputError } from "../../src/load/read-many.js";

// Named through AuditInput, so this file does not depend on where those types live.
type ModuleRecord = AuditInput["modules"][number];
type SymversProblem = AuditInput["symversProblems"][number];

export interface AuditPair {
  compatible: boolean;
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
  kernels: AuditKernel[];
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
  return {
    kernels: [...kernels],
    modules: modules.map((m, mi) => {
      const perKernel: Record<string, AuditPair> = {};
      kernels.forEach((k, ki) => {
        const v = report.verdict(mi, ki);
        if (v) perKernel[k.release] = auditPair(v);
      });
      return { path: m.path, name: m.name, builtFor: m.builtFor, hasModversions: m.hasModversions, kernels: perKernel };
    }),
    errors,
    symversProblems,
  };
}

function auditPair(v: PairVerdict): AuditPair {
  return {
    compatible: v.compatible,
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
  };
}

/** 0 when every module is compatible with every kernel, 1 when some pair is not, 2 on input errors. */
export function auditExitCode(r: AuditReport): number {
  if (r.errors.length > 0) return 2;
  return r.modules.every((m) => Object.values(m.kernels).every((p) => p.compatible)) ? 0 : 1;
}

/** A compact matrix (modules × kernels), then the blocking reasons per incompatible pair. */
export function formatAuditText(r: AuditReport): string {
  const parts: Buffer[] = [];
  writeText(
    {
      kernels: r.kernels,
      modules: r.modules,
      mark: (m, k) => {
        const p = r.modules[m].kernels[r.kernels[k].release];
        return !p ? "-" : p.compatible ? (p.noModversions ? "ok?" : "ok") : "NO";
      },
      reasons: (m, k) => {
        const p = r.modules[m].kernels[r.kernels[k].release];
        return !p || p.compatible ? null : verdictReasonLines(p);
      },
    },
    (t) => parts.push(t),
  );
  return Buffer.concat(parts).toString("utf8");
}
