/**
 * kabi's public API, audit facet ("kabi/audit"): kernels to judge against, the engine, and the
 * audit report writers; `auditModules` is `kabi audit` in one call.
 */
import type { AuditInput } from "../audit/audit-report.js";
import { evaluate } from "../engine/index.js";
import { findModules } from "../load/find-modules.js";
import { kernelModuleFacts, loadKernelTargets, thisModuleSizeOf, type LoadedKernels } from "../load/kernel-targets.js";
import { readPackageInputs, type PackageInput } from "../load/package-input.js";
import { readModules, type InputError, type ReadManyResult } from "../load/read-many.js";
import { symversSymbols } from "../symvers/symvers-filter.js";
import { MODULE_SUFFIXES } from "../types/compression.js";
import { toFileError } from "../types/errors.js";
import type { KernelTarget } from "../types/kernel-target.js";
import type { ModuleRecord } from "../types/module-record.js";

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
/** The CI formats: JUnit XML (a test case per module and kernel) and SARIF 2.1.0 (a result per incompatible pair). */
export { writeAuditJunit } from "../audit/junit-report.js";
export { writeAuditSarif, type SarifOptions } from "../audit/sarif-report.js";
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
  /** Module files, directories and packages (.deb, .rpm: see docs/packages.md). */
  paths: readonly string[];
  /** `--symvers K=FILE` (see parseSymversOption). */
  explicit?: readonly { release: string; file: string }[];
  /** `--kernel K`: kernels whose symvers are located under basedir. */
  releases?: readonly string[];
  /** The root the kernels are found under (default "/"). */
  basedir?: string;
  /** `--config K=FILE`: explicit kernel configurations (KernelRequest.configs). */
  configs?: { release: string; file: string }[];
  /** Judge every kernel as Debian's do (KernelTarget.strictModversions). */
  strictModversions?: boolean;
  /** Judge every kernel as one that enforces module signatures (KernelTarget.enforceSignatures). */
  enforceSignatures?: boolean;
  /** Use the persistent record and symvers caches (default true). */
  cache?: boolean;
  /** Called as module files are read and kernels' symvers parsed (for a progress line); often: keep it cheap. */
  onProgress?: (progress: AuditProgress) => void;
}

/** How far the load stage of an audit is. */
export interface AuditProgress {
  /** Packages read whole, of packagesTotal given (they are read first, one at a time). */
  packagesRead: number;
  packagesTotal: number;
  /** Module records made from the packages' members so far. */
  packageModules: number;
  /** Module files done (read, from the cache, or found unreadable), of modulesTotal found. */
  modulesRead: number;
  modulesTotal: number;
  /** Kernels whose symvers are parsed, of kernelsTotal to judge against (0 of 0 until they are known). */
  kernelsParsed: number;
  kernelsTotal: number;
}

/**
 * Finds and reads the modules, loads the kernels and evaluates every pair: the input of
 * writeAuditText / writeAuditJson and auditInputExitCode. Unreadable inputs are in `errors`
 * (one line each, naming the file); malformed symvers lines in `symversProblems`.
 */
export async function auditModules(request: AuditRequest): Promise<AuditInput> {
  const basedir = request.basedir ?? "/";
  const cache = request.cache ?? true;
  const found = await findModules(request.paths, { packages: true });
  const tell = request.onProgress;
  const progress: AuditProgress = {
    packagesRead: 0,
    packagesTotal: found.packages.length,
    packageModules: 0,
    modulesRead: 0,
    modulesTotal: found.files.length,
    kernelsParsed: 0,
    kernelsTotal: 0,
  };
  /** Counts changed: passed on as a copy (the caller may keep each one). */
  const advance =
    tell &&
    ((change: Partial<AuditProgress>) => {
      Object.assign(progress, change);
      tell({ ...progress });
    });
  const onPackages = advance && ((packagesRead: number, packageModules: number) => advance({ packagesRead, packageModules }));
  const onModules = advance && ((modulesRead: number, modulesTotal: number) => advance({ modulesRead, modulesTotal }));
  const onKernels = advance && ((kernelsParsed: number, kernelsTotal: number) => advance({ kernelsParsed, kernelsTotal }));
  // Packages first, one at a time (each a stream): their modules count toward FEW_MODULES, and the
  // kernels they hold decide whether the root's kernels are listed at all.
  const packages = await readPackageInputs(
    found.packages.map((p) => p.path),
    onPackages,
  );
  const packageKernels = packages.flatMap((p) => p.kernels);
  const asked = (request.explicit?.length ?? 0) > 0 || (request.releases?.length ?? 0) > 0;
  const kernelRequest = { explicit: [...(request.explicit ?? [])], releases: [...(request.releases ?? [])], configs: [...(request.configs ?? [])], basedir, ...(onKernels ? { onProgress: onKernels } : {}) };
  const readOptions = { cache, ...(onModules ? { onProgress: onModules } : {}) };
  // Kernels given by packages replace the root's: `kabi audit image.deb headers.deb` judges the
  // kernels in hand, whatever is installed on the machine running it.
  const loadKernels = (extra: { cache?: boolean; wanted?: ReadonlySet<string> }): Promise<LoadedKernels> =>
    !asked && packageKernels.length > 0 ? Promise.resolve({ kernels: [], errors: [], problems: [] }) : loadKernelTargets({ ...kernelRequest, ...extra });
  const packageRecords = packages.flatMap((p) => p.records);
  let kernels: LoadedKernels;
  let read: ReadManyResult;
  if (found.files.length + packageRecords.length <= FEW_MODULES) {
    // A few modules need a few thousand of a kernel's ~27,000 exports: they are read first, then
    // each symvers is parsed for those symbols only (a whole parse would dominate such a run).
    read = await readModules(found.files, readOptions);
    kernels = await loadKernels({ wanted: symversSymbols([...read.records, ...packageRecords], []) });
  } else {
    // Symvers are parsed here while the module files are read (mostly by worker threads).
    [kernels, read] = await Promise.all([loadKernels({ cache }), readModules(found.files, readOptions)]);
  }
  const { records, residentOf } = inOperandOrder(found.files, read.records, found.packages, packages);
  const errors: InputError[] = [
    ...found.errors.map((e) => ({ path: e.path, message: toFileError(e.path, e.error).message })),
    // A directory given with no module in it is a mistaken input, not an empty (and so compatible) audit.
    ...found.empty.map((path) => ({ path, message: `${path}: no module file (${MODULE_SUFFIXES.map((s) => "*" + s).join(", ")}) in this directory` })),
    // `--kernel K` with no symvers under the root is no error when a package holds K's symvers.
    ...kernels.errors.filter((e) => !(request.releases?.includes(e.path) === true && packageKernels.some((k) => k.release === e.path) && !kernels.kernels.some((k) => k.release === e.path))),
    ...read.errors,
    ...packages.flatMap((p) => p.errors),
  ];
  // The first symvers of each release counts; a release already loaded keeps its --symvers file.
  const releases = new Set(kernels.kernels.map((k) => k.release));
  const addedKernels = packageKernels.filter((k) => !releases.has(k.release) && releases.add(k.release) !== undefined);
  for (const k of addedKernels) for (const p of k.symvers.problems) kernels.problems.push(p);
  const loaded = await withPackageKernels(kernels.kernels, addedKernels, records, residentOf, basedir);
  if (loaded.length === 0 && kernels.errors.length === 0) {
    errors.push({ path: basedir, message: `${basedir}: no kernel with symvers found (use --symvers K=FILE or --kernel K)` });
  }
  const strict = request.strictModversions === true;
  const enforce = request.enforceSignatures === true;
  const targets = strict || enforce ? loaded.map((k) => ({ ...k, ...(strict ? { strictModversions: true } : {}), ...(enforce ? { enforceSignatures: true } : {}) })) : loaded;
  const strictField = strict ? { strictModversions: true as const } : {};
  // A kernel's own modules (from its package's tree) are its residents, not candidates on it.
  const anyResident = residentOf.some((r) => r !== null);
  const isCandidate = (m: number, k: number) => residentOf[m] !== targets[k]!.release;
  return {
    kernels: targets.map((k) => ({ release: k.release, symvers: k.symversPath, ...strictField, config: k.config ?? null })),
    modules: records,
    report: evaluate(records, targets, anyResident ? { isCandidate } : {}),
    errors,
    symversProblems: kernels.problems,
    operands: [...request.paths],
  };
}

/**
 * The module records in the order of the operands: each package's members where the package was
 * given among the files, with the kernel each one is a resident of (null for files).
 */
function inOperandOrder(
  files: readonly string[],
  fileRecords: readonly ModuleRecord[],
  places: readonly { path: string; at: number }[],
  packages: readonly PackageInput[],
): { records: ModuleRecord[]; residentOf: (string | null)[] } {
  const records: ModuleRecord[] = [];
  const residentOf: (string | null)[] = [];
  // fileRecords follow `files` with the unreadable files left out: file f's record, if any, is the
  // next one whose path is files[f].
  let r = 0;
  const takeFiles = (upTo: number, from: { f: number }) => {
    for (; from.f < upTo; from.f++) {
      if (r < fileRecords.length && fileRecords[r]!.path === files[from.f]) {
        records.push(fileRecords[r++]!);
        residentOf.push(null);
      }
    }
  };
  const cursor = { f: 0 };
  packages.forEach((pkg, p) => {
    takeFiles(places[p]!.at, cursor);
    pkg.records.forEach((rec, i) => {
      records.push(rec);
      residentOf.push(pkg.residentOf[i]!);
    });
  });
  takeFiles(files.length, cursor);
  return { records, residentOf };
}

/**
 * The kernels judged: those loaded (--symvers, --kernel, the root's), then those the packages
 * added. Each gets the modules of its own tree
 * found in the packages as residents, and their vermagic and struct module size (the kernel in
 * hand, over one under the root); a package kernel without them takes both from the root, as
 * --symvers does.
 */
async function withPackageKernels(
  loaded: readonly (KernelTarget & { symversPath: string })[],
  fromPackages: readonly { release: string; symvers: KernelTarget["symvers"]; symversPath: string }[],
  records: readonly ModuleRecord[],
  residentOf: readonly (string | null)[],
  basedir: string,
): Promise<(KernelTarget & { symversPath: string })[]> {
  const out: (KernelTarget & { symversPath: string })[] = [...loaded, ...fromPackages.map((k) => ({ release: k.release, symvers: k.symvers, symversPath: k.symversPath }))];
  const seen = new Set(out.map((k) => k.release));
  const residents = new Map<string, ModuleRecord[]>();
  records.forEach((rec, m) => {
    const release = residentOf[m];
    if (release === null || release === undefined || !seen.has(release)) return;
    const list = residents.get(release);
    if (list === undefined) residents.set(release, [rec]);
    else list.push(rec);
  });
  return Promise.all(
    out.map(async (k, i) => {
      const own = residents.get(k.release);
      const fromRoot = i < loaded.length ? undefined : await kernelModuleFacts(basedir, k.release).catch(() => undefined);
      const vermagic = own?.find((r) => r.vermagic !== "")?.vermagic ?? (i < loaded.length ? k.vermagic : fromRoot?.vermagic);
      const size = own !== undefined ? thisModuleSizeOf(own) : i < loaded.length ? k.thisModuleSize : fromRoot?.thisModuleSize;
      const target: KernelTarget & { symversPath: string } = { ...k };
      if (vermagic !== undefined) target.vermagic = vermagic;
      else delete target.vermagic;
      if (size !== undefined) target.thisModuleSize = size;
      else delete target.thisModuleSize;
      if (own !== undefined) target.resident = own;
      return target;
    }),
  );
}
