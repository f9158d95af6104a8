/**
 * kabi's public API, audit facet ("kabi/audit"): kernels to judge against, the engine, and the
 * audit report writers; `auditModules` is `kabi audit` in one call.
 */
import type { AuditInput } from "../audit/audit-report.js";
import { evaluate } from "../engine/index.js";
import { findModules } from "../load/find-modules.js";
import { loadKernelTargets, type LoadedKernels } from "../load/kernel-targets.js";
import { readModules, type InputError, type ReadManyResult } from "../load/read-many.js";
import { symversSymbols } from "../symvers/symvers-filter.js";
import { MODULE_SUFFIXES } from "../types/compression.js";
import { toFileError } from "../types/errors.js";

/** Parsed symvers kept between runs, keyed by the file's stat. */
export { SymversCache } from "../cache/symvers-cache.js";
export { chooseCache, type CacheChoice } from "../cache/cache-dir.js";
/** The kernels to judge against: `--symvers K=FILE`, `--kernel K`, else every kernel with symvers under the root. */
export { loadKernelTargets, type KernelRequest, type LoadedKernels } from "../load/kernel-targets.js";
/** Every (module, kernel) verdict, as bitsets with verdicts computed on demand. */
export { evaluate } from "../engine/index.js";
export type { CompatibilityReport, EvaluateOptions, PairVerdict } from "../engine/index.js";
/** The audit report: streamed text or JSON, its exit code (0 compatible, 1 some pair incompatible, 2 input errors). */
export { auditInputExitCode, writeAuditJson, writeAuditText, type AuditInput, type AuditKernel, type TextOptions } from "../audit/audit-report.js";
/** What every report shows: matrix cells, totals per kernel, one headline per pair when a single cause explains it, display names. */
export { auditTotals, cellMark, displayNames, pairHeadline, type AuditTotals, type CellMark, type KernelTotals } from "../audit/audit-summary.js";
/** The audit as one self-contained HTML page (`kabi audit --html FILE`): the page, its data, or the page written to a file. */
export { auditHtml, htmlReportData, writeAuditHtmlFile, type HtmlReportData } from "../audit/html-report.js";

/**
 * Up to this many module files, each symvers is parsed only for the symbols they use. A whole tree
 * uses most of a kernel's exports (the 6.12 tree ~20,000 of 27,000), where filtering first costs
 * more than it saves and parsing the symvers while the modules are read is what pays.
 */
const FEW_MODULES = 100;

/** What to audit: `kabi audit`'s options. */
export interface AuditRequest {
  /** Module files and directories. */
  paths: readonly string[];
  /** `--symvers K=FILE` (see parseSymversOption). */
  explicit?: readonly { release: string; file: string }[];
  /** `--kernel K`: kernels whose symvers are located under basedir. */
  releases?: readonly string[];
  /** The root the kernels are found under (default "/"). */
  basedir?: string;
  /** Judge every kernel as Debian's do (KernelTarget.strictModversions). */
  strictModversions?: boolean;
  /** Use the persistent record and symvers caches (default true). */
  cache?: boolean;
}

/**
 * Finds and reads the modules, loads the kernels and evaluates every pair: the input of
 * writeAuditText / writeAuditJson and auditInputExitCode. Unreadable inputs are in `errors`
 * (one line each, naming the file); malformed symvers lines in `symversProblems`.
 */
export async function auditModules(request: AuditRequest): Promise<AuditInput> {
  const basedir = request.basedir ?? "/";
  const cache = request.cache ?? true;
  const found = await findModules(request.paths);
  const kernelRequest = { explicit: [...(request.explicit ?? [])], releases: [...(request.releases ?? [])], basedir };
  let kernels: LoadedKernels;
  let read: ReadManyResult;
  if (found.files.length <= FEW_MODULES) {
    // A few modules need a few thousand of a kernel's ~27,000 exports: they are read first, then
    // each symvers is parsed for those symbols only (a whole parse would dominate such a run).
    read = await readModules(found.files, { cache });
    kernels = await loadKernelTargets({ ...kernelRequest, wanted: symversSymbols(read.records, []) });
  } else {
    // Symvers are parsed here while the module files are read (mostly by worker threads).
    [kernels, read] = await Promise.all([loadKernelTargets({ ...kernelRequest, cache }), readModules(found.files, { cache })]);
  }
  const errors: InputError[] = [
    ...found.errors.map((e) => ({ path: e.path, message: toFileError(e.path, e.error).message })),
    // A directory given with no module in it is a mistaken input, not an empty (and so compatible) audit.
    ...found.empty.map((path) => ({ path, message: `${path}: no module file (${MODULE_SUFFIXES.map((s) => "*" + s).join(", ")}) in this directory` })),
    ...kernels.errors,
    ...read.errors,
  ];
  if (kernels.kernels.length === 0 && kernels.errors.length === 0) {
    errors.push({ path: basedir, message: `${basedir}: no kernel with symvers found (use --symvers K=FILE or --kernel K)` });
  }
  const strict = request.strictModversions === true;
  const targets = strict ? kernels.kernels.map((k) => ({ ...k, strictModversions: true })) : kernels.kernels;
  const strictField = strict ? { strictModversions: true as const } : {};
  return {
    kernels: targets.map((k) => ({ release: k.release, symvers: k.symversPath, ...strictField })),
    modules: read.records,
    report: evaluate(read.records, targets),
    errors,
    symversProblems: kernels.problems,
    operands: [...request.paths],
  };
}
