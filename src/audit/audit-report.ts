import type { CompatibilityReport, PairVerdict } from "../engine/verdict.js";
import type { ModuleRecord } from "../module/module-record.js";
import type { InputError } from "../module/read-many.js";
import type { SymversProblem } from "../symvers/symvers-table.js";

export function hexCrc(crc: number): string {
  return `0x${crc.toString(16).padStart(8, "0")}`;
}

export interface AuditKernel {
  release: string;
  symvers: string;
}

export interface AuditPair {
  compatible: boolean;
  missing: string[];
  mismatched: { symbol: string; moduleCrc: string; kernelCrc: string; provider: string }[];
  blockedBy: { provider: string; providerPath: string; symbols: string[] }[];
  missingImportNs: { symbol: string; namespace: string }[];
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
    blockedBy: v.blockedBy,
    missingImportNs: v.missingImportNs,
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

/** Why one pair fails, one reason per line. */
export function pairReasons(p: AuditPair): string[] {
  const out: string[] = [];
  for (const b of p.blockedBy) out.push(`needs ${b.provider} (${b.providerPath}), itself incompatible here, for: ${b.symbols.join(", ")}`);
  for (const s of p.missing) out.push(`missing symbol ${s}`);
  for (const x of p.mismatched) out.push(`CRC mismatch ${x.symbol}: module ${x.moduleCrc}, ${x.provider} ${x.kernelCrc}`);
  for (const n of p.missingImportNs) out.push(`uses ${n.symbol} from namespace ${n.namespace} without MODULE_IMPORT_NS(${n.namespace})`);
  if (p.vermagicMismatch) out.push(`vermagic flags differ: module "${p.vermagicMismatch.module}", kernel "${p.vermagicMismatch.kernel}"`);
  return out;
}

/** A compact matrix (modules × kernels), then the blocking reasons per incompatible pair. */
export function formatAuditText(r: AuditReport): string {
  const lines: string[] = [];
  lines.push("kernels:");
  r.kernels.forEach((k, i) => lines.push(`  [${i + 1}] ${k.release}  (${k.symvers})`));
  const nameWidth = Math.max(6, ...r.modules.map((m) => m.path.length));
  const builtWidth = Math.max(9, ...r.modules.map((m) => m.builtFor.length));
  const colWidth = Math.max(3, String(r.kernels.length).length + 2);
  const cols = r.kernels.map((_, i) => `[${i + 1}]`.padStart(colWidth)).join(" ");
  lines.push("");
  lines.push(`${"module".padEnd(nameWidth)}  ${"built for".padEnd(builtWidth)}  ${cols}`);
  for (const m of r.modules) {
    const cells = r.kernels.map((k) => {
      const p = m.kernels[k.release];
      const mark = !p ? "-" : p.compatible ? (p.noModversions ? "ok?" : "ok") : "NO";
      return mark.padStart(colWidth);
    });
    lines.push(`${m.path.padEnd(nameWidth)}  ${m.builtFor.padEnd(builtWidth)}  ${cells.join(" ")}`);
  }
  const blocked: string[] = [];
  for (const m of r.modules) {
    for (const k of r.kernels) {
      const p = m.kernels[k.release];
      if (!p || p.compatible) continue;
      blocked.push(`${m.path} on ${k.release}:`);
      for (const reason of pairReasons(p)) blocked.push(`  ${reason}`);
    }
  }
  if (blocked.length > 0) {
    lines.push("", "blocking:");
    for (const l of blocked) lines.push(`  ${l}`);
  }
  const unjudged = r.modules.filter((m) => !m.hasModversions);
  if (unjudged.length > 0) {
    lines.push("", "without modversions (judged by symbol names only, marked ok?):");
    for (const m of unjudged) lines.push(`  ${m.path}`);
  }
  return lines.join("\n") + "\n";
}
