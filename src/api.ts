/**
 * kabi's public API: what `import ... from "kabi"` gives (package.json "exports"), and all that the
 * command-line tools use. Everything below this file (src/load, src/engine, src/weak, ...) is an
 * implementation detail that may change between versions.
 *
 * The flow: find and read modules (ModuleRecord), load the kernels to judge them against
 * (KernelTarget: release, symvers table, vermagic), evaluate every (module, kernel) pair, then
 * write an audit report, or plan and apply Red Hat style weak-updates links.
 */
import type { AuditInput } from "./audit/audit-report.js";
import { evaluate } from "./engine/index.js";
import { findModules } from "./load/find-modules.js";
import { loadKernelTargets, type LoadedKernels } from "./load/kernel-targets.js";
import { readModules, type InputError, type ReadManyResult } from "./load/read-many.js";
import { symversSymbols } from "./symvers/symvers-filter.js";
import type { ModuleRecord, ModversionEntry } from "./types/module-record.js";
import type { ReadModuleOptions } from "./module/read-module.js";
import { toFileError } from "./types/errors.js";

// Errors: every unusable input is one FileError (file, reason, offset when known).
export { FileError, FormatError, describeInputError, toFileError } from "./types/errors.js";

// The records.
export type { ElfClass, Endianness, ExportedSymbol, ModinfoEntry, ModuleRecord, ModversionEntry, UndefinedSymbol } from "./types/module-record.js";
export type { SymversEntry, SymversProblem, SymversTable } from "./types/symvers-table.js";
export type { KernelTarget } from "./types/kernel-target.js";

export type { ReadModuleOptions } from "./module/read-module.js";
/** A line of a kmod listing (see readKmodListings), as modprobe prints it. */
export { formatKmodLine } from "./module/kmod-line.js";
/** A symvers file (plain, gzip or xz) as a SymversTable; malformed lines are listed as problems. */
export { readSymvers } from "./symvers/read-symvers.js";
/** The symbols a set of modules needs from a kernel's symvers (to parse only those). */
export { symversSymbols } from "./symvers/symvers-filter.js";
/** Parsed symvers kept between runs, keyed by the file's stat. */
export { SymversCache } from "./cache/symvers-cache.js";

/** PATH arguments expanded: files as given, directories searched for *.ko[.xz|.gz|.zst] in sorted order. */
export { findModules, type FoundModules } from "./load/find-modules.js";
/** Many module files read at once (record cache, worker threads); unreadable ones are reported, the rest read. */
export { readModules, type InputError, type ReadManyOptions, type ReadManyResult } from "./load/read-many.js";
/** The kernels to judge against: `--symvers K=FILE`, `--kernel K`, else every kernel with symvers under the root. */
export { loadKernelTargets, type KernelRequest, type LoadedKernels } from "./load/kernel-targets.js";
/** Kernel releases: the installed ones, a `--symvers K=FILE` value, whether a string is a usable release. */
export { listKernels, parseSymversOption, SymversOptionError, type InstalledKernel } from "./root/kernels.js";
export { compareKernelReleases, isUsableKernelRelease } from "./root/kernel-release.js";
export { compareCodeUnits } from "./root/code-unit-order.js";
export { loadSymvers } from "./load/load-symvers.js";

/** Every (module, kernel) verdict, as bitsets with verdicts computed on demand. */
export { evaluate } from "./engine/index.js";
export type { CompatibilityReport, EvaluateOptions, PairVerdict } from "./engine/index.js";

/** The audit report: streamed text or JSON, its exit code (0 compatible, 1 some pair incompatible, 2 input errors). */
export { auditInputExitCode, writeAuditJson, writeAuditText, type AuditInput, type AuditKernel } from "./audit/audit-report.js";

/** weak-modules: the module paths given on standard input checked, the link plan, and the whole run (lock, apply, depmod, initramfs). */
export { checkInputPaths, type InputCheck, type InputCheckOptions, type InputModule } from "./weak/input-paths.js";
export { computePlan, runWeakModules, type WeakMode, type WeakRunOptions, type WeakRunResult } from "./weak/weak-run.js";
export type { WeakLinkPlan } from "./weak/weak-plan.js";
/** `kabi status`: every external module's state on every installed kernel. */
export { weakStatus, type StatusEntry, type StatusReport, type StatusState } from "./weak/weak-status.js";

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
  const errors: InputError[] = [...found.errors.map((e) => ({ path: e.path, message: toFileError(e.path, e.error).message })), ...kernels.errors, ...read.errors];
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
  };
}


// The ELF reader and the codecs are loaded on the first read, as the load stage does: the
// weak-modules executable imports this file and must not pay for them when every record comes
// from the cache.

/** One module file as a ModuleRecord (ELF header, modversions, exports, modinfo, undefined symbols); throws FileError. */
export async function readModule(path: string, options: ReadModuleOptions = {}): Promise<ModuleRecord> {
  return (await import("./module/read-module.js")).readModule(path, options);
}

/** The listings `modprobe --dump-modversions` and `modprobe --show-exports` print for a file (see formatKmodLine); throws FileError. */
export async function readKmodListings(path: string, options: ReadModuleOptions = {}): Promise<{ modversions: ModversionEntry[]; exports: ModversionEntry[] }> {
  return (await import("./module/dump-listings.js")).readKmodListings(path, options);
}
