/** Loading the real fixtures, and an independent (engine-free) check of a module against a symvers. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluate, type CompatibilityReport, type KernelTarget, type PairVerdict } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { readModule } from "../../src/module/read-module.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const MODULE_FIXTURES = join(ROOT, "fixtures/modules");
export const SYMVERS_FIXTURES = join(ROOT, "fixtures/symvers");
export const REAL_SAMPLE = join(ROOT, "fixtures/real-sample");

/**
 * The kernel releases the kbuild fixtures were built for (fixtures/modules/README.md's table):
 * fixtures/modules/<release>/ and fixtures/symvers/<release>.symvers.gz are committed for each.
 */
export const FIXTURE_RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64"];

/**
 * Releases with both built fixture modules and the kernel's symvers, sorted. These are committed:
 * a lost directory or symvers file throws (the test file fails to load) instead of leaving the
 * tests that loop over the releases with nothing to check.
 */
export function fixtureReleases(): string[] {
  const notReleases = new Set(["src", "no-modversions", "proprietary-taint"]);
  const found = existsSync(MODULE_FIXTURES)
    ? readdirSync(MODULE_FIXTURES, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !notReleases.has(d.name))
        .map((d) => d.name)
        .sort()
    : [];
  const lost = [
    ...FIXTURE_RELEASES.filter((r) => !found.includes(r)).map((r) => join(MODULE_FIXTURES, r)),
    ...found.map((r) => join(SYMVERS_FIXTURES, `${r}.symvers.gz`)).filter((f) => !existsSync(f)),
  ];
  if (lost.length > 0) throw new Error(`committed kbuild fixtures missing: ${lost.join(", ")}`);
  return found;
}

const moduleCache = new Map<string, Promise<ModuleRecord>>();
export function fixtureModule(release: string, file: string): Promise<ModuleRecord> {
  const path = join(MODULE_FIXTURES, release, file);
  let p = moduleCache.get(path);
  if (p === undefined) moduleCache.set(path, (p = readModule(path)));
  return p;
}

const symversCache = new Map<string, Promise<SymversTable>>();
export function kernelSymvers(release: string): Promise<SymversTable> {
  const path = join(SYMVERS_FIXTURES, `${release}.symvers.gz`);
  let p = symversCache.get(path);
  if (p === undefined) symversCache.set(path, (p = readSymvers(path)));
  return p;
}

export interface PlainJudgement {
  ok: boolean;
  missing: string[];
  mismatched: { symbol: string; moduleCrc: number; kernelCrc: number; provider: string }[];
  /** Strict kernels only: resolved symbols the modversions do not list, whose provider has a CRC. */
  noSymbolVersion: { symbol: string; provider: string }[];
  missingImportNs: { symbol: string; namespace: string }[];
  gplOnly: { symbol: string; provider: string; license: string | null }[];
  proprietaryTaint: { symbol: string; provider: string; taintedBy: string; gplOnlySymbol: string; gplOnlyProvider: string }[];
}

/**
 * An independent copy of the kernel's licence rule (include/linux/license.h; the first license=
 * of .modinfo): a module outside this list does not see GPL-only exports (but module_layout).
 */
const KERNEL_GPL_LICENSES = ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"];

const isGplCompatible = (r: ModuleRecord): boolean => {
  const license = r.modinfo.find((e) => e.key === "license")?.value;
  return license !== undefined && KERNEL_GPL_LICENSES.includes(license);
};

/** What the kernel finds for a symbol: its symvers entry, else the first resident module exporting it. */
interface PlainExport {
  provider: string;
  crc: number | null;
  gplOnly: boolean;
  namespace: string;
  resident: ModuleRecord | null;
}

function plainFind(symbol: string, symvers: SymversTable, resident: readonly ModuleRecord[]): PlainExport | undefined {
  const e = symvers.entries.get(symbol);
  if (e !== undefined) {
    const gplOnly = e.exportType === "EXPORT_SYMBOL_GPL" || e.exportType === "EXPORT_UNUSED_SYMBOL_GPL";
    return { provider: e.module, crc: e.crc >>> 0, gplOnly, namespace: e.namespace, resident: null };
  }
  for (const r of resident) {
    const x = r.exports.find((y) => y.name === symbol);
    if (x !== undefined) return { provider: r.name, crc: x.crc === null ? null : x.crc >>> 0, gplOnly: x.gplOnly, namespace: x.namespace, resident: r };
  }
  return undefined;
}

/**
 * The module whose licence taints resident `r` (itself, or, by plain recursion, a resident whose
 * export it uses), or null when it is not tainted.
 */
function plainResidentTaint(r: ModuleRecord, symvers: SymversTable, resident: readonly ModuleRecord[], visiting = new Set<ModuleRecord>()): string | null {
  if (!isGplCompatible(r)) return r.name;
  if (visiting.has(r)) return null;
  visiting.add(r);
  for (const u of r.undefinedSymbols) {
    const owner = plainFind(u.name, symvers, resident)?.resident;
    const from = owner === undefined || owner === null ? null : plainResidentTaint(owner, symvers, resident, visiting);
    if (from !== null) return from;
  }
  return null;
}

/**
 * The kernel's inherit_taint (kernel/module/main.c resolve_symbol, simplify_symbols) for a module
 * with a GPL-compatible licence, written out: each undefined symbol in symbol-table order; once the
 * module is tainted a GPL-only export is not found; once it used a GPL-only export a tainted owner's
 * is refused; a refused strong symbol is a conflict, a weak one is dropped.
 */
function plainInheritTaint(module: ModuleRecord, symvers: SymversTable, resident: readonly ModuleRecord[]): PlainJudgement["proprietaryTaint"] {
  const out: PlainJudgement["proprietaryTaint"] = [];
  if (!isGplCompatible(module)) return out;
  let tainted: { symbol: string; provider: string; taintedBy: string } | null = null;
  let gplOnly: { symbol: string; provider: string } | null = null;
  const done = new Set<string>();
  for (const u of module.undefinedSymbols) {
    if (done.has(u.name)) continue;
    done.add(u.name);
    const weak = module.undefinedSymbols.every((x) => x.name !== u.name || x.weak);
    const e = plainFind(u.name, symvers, resident);
    if (e === undefined) continue;
    if (e.gplOnly && tainted !== null) {
      if (!weak) out.push({ ...tainted, gplOnlySymbol: u.name, gplOnlyProvider: e.provider });
      continue;
    }
    if (e.gplOnly && gplOnly === null) gplOnly = { symbol: u.name, provider: e.provider };
    const taintedBy = e.resident === null ? null : plainResidentTaint(e.resident, symvers, resident);
    if (taintedBy === null) continue;
    if (gplOnly !== null) {
      if (!weak) out.push({ symbol: u.name, provider: e.provider, taintedBy, gplOnlySymbol: gplOnly.symbol, gplOnlyProvider: gplOnly.provider });
    } else if (tainted === null) tainted = { symbol: u.name, provider: e.provider, taintedBy };
  }
  return out;
}

/**
 * A module against one symvers table and the kernel's resident modules (taken as loaded; symvers
 * entries as untainted), by plain loops over the module's modversions and undefined symbols (no
 * engine code). `strict`: Debian's check_version (kernel/module/version.c with the patch "module:
 * Disable matching missing version CRC"): a module with modversions that resolves a symbol (weak
 * or not) its modversions do not list, from an exporter with a CRC, is refused; so is one whose
 * modversions do not list module_layout (check_modstruct_version).
 */
export function plainJudge(module: ModuleRecord, symvers: SymversTable, resident: readonly ModuleRecord[] = [], options: { strict?: boolean } = {}): PlainJudgement {
  const out: PlainJudgement = { ok: true, missing: [], mismatched: [], noSymbolVersion: [], missingImportNs: [], gplOnly: [], proprietaryTaint: [] };
  const license = module.modinfo.find((e) => e.key === "license")?.value ?? null;
  const gplOk = isGplCompatible(module);
  const strict = options.strict === true && module.hasModversions;
  const weak = new Set(module.undefinedSymbols.filter((u) => u.weak).map((u) => u.name));
  const strong = new Set(module.undefinedSymbols.filter((u) => !u.weak).map((u) => u.name));
  const versioned = new Set<string>();
  // crc: the module's modversion CRC, or null when its modversions do not list the symbol.
  const check = (symbol: string, crc: number | null) => {
    const e = plainFind(symbol, symvers, resident);
    if (e === undefined) {
      if (!weak.has(symbol) || strong.has(symbol)) out.missing.push(symbol);
      return;
    }
    if (!gplOk && symbol !== "module_layout" && e.gplOnly) {
      // Not found by the kernel: refused, unless only weakly referenced.
      if (!weak.has(symbol) || strong.has(symbol)) out.gplOnly.push({ symbol, provider: e.provider, license });
      return;
    }
    if (crc !== null && e.crc !== null && e.crc !== crc >>> 0) {
      out.mismatched.push({ symbol, moduleCrc: crc >>> 0, kernelCrc: e.crc, provider: e.provider });
    } else if (crc === null && strict && e.crc !== null) {
      out.noSymbolVersion.push({ symbol, provider: e.provider });
    } else if (e.namespace !== "" && !module.importNamespaces.includes(e.namespace)) {
      out.missingImportNs.push({ symbol, namespace: e.namespace });
    }
  };
  if (module.hasModversions) {
    for (const v of module.modversions) {
      if (versioned.has(v.symbol)) continue;
      versioned.add(v.symbol);
      check(v.symbol, v.crc);
    }
  }
  for (const name of strong) if (!versioned.has(name)) check(name, null);
  if (strict) {
    // Only a strict kernel cares: weak references that resolve go through check_version too.
    for (const name of weak) if (!strong.has(name) && !versioned.has(name)) check(name, null);
    if (!versioned.has("module_layout")) {
      const e = plainFind("module_layout", symvers, resident);
      if (e !== undefined && e.crc !== null) out.noSymbolVersion.push({ symbol: "module_layout", provider: e.provider });
    }
  }
  out.proprietaryTaint = plainInheritTaint(module, symvers, resident);
  out.ok = plainBlocking(out) === 0;
  return out;
}

/**
 * How many reasons in a plain judgement block the load (every list of PlainJudgement; `except`
 * leaves some out). A Record over the keys, so a new field does not compile until it is counted.
 */
export function plainBlocking(j: PlainJudgement, except: readonly (keyof PlainJudgement)[] = []): number {
  const counts: Record<Exclude<keyof PlainJudgement, "ok">, number> = {
    missing: j.missing.length,
    mismatched: j.mismatched.length,
    noSymbolVersion: j.noSymbolVersion.length,
    missingImportNs: j.missingImportNs.length,
    gplOnly: j.gplOnly.length,
    proprietaryTaint: j.proprietaryTaint.length,
  };
  return Object.entries(counts).reduce((n, [field, c]) => (except.includes(field as keyof PlainJudgement) ? n : n + c), 0);
}

type VerdictField = Exclude<keyof PairVerdict, "compatible">;

/**
 * Every field of PairVerdict but `compatible`: how many blocking reasons it holds, or null for the
 * fields that are not reasons (noModversions: judged by names only, not blocking by itself;
 * providers). A Record over PairVerdict's keys: a new verdict field does not compile (tsconfig.test.json)
 * until it is listed here, and blockingReasons fails at run time on a verdict with a field it lacks.
 */
const VERDICT_FIELDS: { readonly [F in VerdictField]: ((value: PairVerdict[F]) => number) | null } = {
  missing: (x) => x.length,
  mismatched: (x) => x.length,
  noSymbolVersion: (x) => x.length,
  blockedBy: (x) => x.length,
  missingImportNs: (x) => x.length,
  gplOnly: (x) => x.length,
  proprietaryTaint: (x) => x.length,
  vermagicMismatch: (x) => (x === null ? 0 : 1),
  noModversions: null,
  providers: null,
  signatureKey: null,
  signatureRefused: (x) => (x ? 1 : 0),
  moduleSizeMismatch: (x) => (x === null ? 0 : 1),
  moduleSizeUnknown: null,
  crcsNotChecked: null,
  noModversionsRefused: (x) => (x === null ? 0 : 1),
  forcedLoad: null,
  unsignedRefused: (x) => (x === null ? 0 : 1),
};

/** The names of every PairVerdict field, `compatible` included, sorted. */
export const PAIR_VERDICT_KEYS: readonly string[] = ["compatible", ...Object.keys(VERDICT_FIELDS)].sort();

/**
 * How many blocking reasons a verdict gives, over every field of PairVerdict (`except` leaves some
 * out). Throws on a verdict whose fields are not exactly PAIR_VERDICT_KEYS, so that a new field
 * cannot go uncounted.
 */
export function blockingReasons(v: PairVerdict, except: readonly VerdictField[] = []): number {
  const keys = Object.keys(v).sort();
  if (keys.join() !== PAIR_VERDICT_KEYS.join()) throw new Error(`verdict fields ${keys.join(", ")} are not the ones counted: ${PAIR_VERDICT_KEYS.join(", ")}`);
  let n = 0;
  for (const field of Object.keys(VERDICT_FIELDS) as VerdictField[]) {
    const count = VERDICT_FIELDS[field] as ((value: PairVerdict[VerdictField]) => number) | null;
    if (count !== null && !except.includes(field)) n += count(v[field]);
  }
  return n;
}

/** Whose key `module`'s signature rests on for kernel `k`, written out apart from the engine's (docs/audit.md). */
function plainSignatureKey(module: ModuleRecord, k: KernelTarget, kernels: readonly KernelTarget[]): PairVerdict["signatureKey"] {
  const s = module.signature;
  if (s === null) return "unsigned";
  if (s.invalid !== null) return "invalid-signature";
  if (k.buildKeyId === undefined) return "unknown";
  if (k.buildKeyId === s.keyId) return "kernel-build-key";
  const foreign = kernels.some((o) => o.buildKeyId === s.keyId) || s.signer === "Build time autogenerated kernel key";
  return foreign ? "foreign-build-key" : "other-key";
}

/** The flags of a vermagic after its first word (the release), written out apart from the engine's. */
const plainVermagicFlags = (vermagic: string): string => vermagic.split(" ").filter((w) => w !== "").slice(1).join(" ");

/** Every kernel symvers under fixtures/symvers, by release, sorted (committed: none throws). */
export function symversReleases(): string[] {
  const found = existsSync(SYMVERS_FIXTURES)
    ? readdirSync(SYMVERS_FIXTURES)
        .filter((f) => f.endsWith(".symvers.gz"))
        .map((f) => f.slice(0, -".symvers.gz".length))
        .sort()
    : [];
  if (found.length === 0) throw new Error(`committed kernel symvers missing: no ${SYMVERS_FIXTURES}/*.symvers.gz`);
  return found;
}

export interface RealSampleCase {
  id: string;
  /** The kernel the modules were shipped with. */
  release: string;
  paths: string[];
}

/** The committed real Debian samples (fixtures/real-sample/README.md). */
export const REAL_SAMPLE_IDS = ["amd64-6.1", "amd64-6.1-gz", "amd64-6.1-zst", "amd64-6.12", "i386-6.1", "s390x-6.1"];

/**
 * The real Debian module samples: fixtures/real-sample/<case>/ with a RELEASE file. They are
 * committed: a lost sample throws (the test file fails to load) instead of being skipped.
 */
export function realSampleCases(): RealSampleCase[] {
  const cases = findRealSampleCases();
  const lost = REAL_SAMPLE_IDS.filter((id) => !cases.some((c) => c.id === id));
  if (lost.length > 0) throw new Error(`committed real sample missing (or without modules or RELEASE): ${lost.map((id) => join(REAL_SAMPLE, id)).join(", ")}`);
  return cases;
}

function findRealSampleCases(): RealSampleCase[] {
  if (!existsSync(REAL_SAMPLE)) return [];
  const cases: RealSampleCase[] = [];
  for (const d of readdirSync(REAL_SAMPLE, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    const dir = join(REAL_SAMPLE, d.name);
    const releaseFile = join(dir, "RELEASE");
    if (!existsSync(releaseFile)) continue;
    const paths = walkModules(dir, []).sort();
    if (paths.length > 0) cases.push({ id: d.name, release: readFileSync(releaseFile, "utf8").trim(), paths });
  }
  return cases.sort((a, b) => a.id.localeCompare(b.id));
}

function walkModules(dir: string, out: string[]): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkModules(p, out);
    else if (/\.ko(\.(xz|gz|zst))?$/.test(e.name)) out.push(p);
  }
  return out;
}

export function readModuleCached(path: string): Promise<ModuleRecord> {
  let p = moduleCache.get(path);
  if (p === undefined) moduleCache.set(path, (p = readModule(path)));
  return p;
}

export function symversByRelease(release: string): Promise<SymversTable> {
  return kernelSymvers(release);
}

/**
 * Asserts that the engine's verdict of `module` (judged alone) on each kernel equals, field by
 * field, one made by plainJudge against that kernel's symvers and resident modules (strict where
 * the kernel is), with the vermagic flags compared by hand; returns the verdicts by kernel index.
 * The expected verdict is a PairVerdict literal, so a new verdict field does not compile until it
 * has a plain value here, and toEqual fails at run time on a field the engine adds.
 */
export function expectAgreesWithPlainJoin(module: ModuleRecord, kernels: readonly KernelTarget[], verdict: (k: number) => PairVerdict, isCompatible: (k: number) => boolean): PairVerdict[] {
  return kernels.map((k, ki) => {
    const plain = plainJudge(module, k.symvers, k.resident, { strict: k.strictModversions === true });
    const vermagicMismatch =
      k.vermagic !== undefined && module.vermagic !== "" && plainVermagicFlags(module.vermagic) !== plainVermagicFlags(k.vermagic) ? { module: module.vermagic, kernel: k.vermagic } : null;
    const signatureKey = plainSignatureKey(module, k, kernels);
    const signatureRefused = k.enforceSignatures === true && ["foreign-build-key", "unsigned", "invalid-signature"].includes(signatureKey);
    const moduleSizeMismatch = k.thisModuleSize !== undefined && k.thisModuleSize !== module.thisModuleSize ? { module: module.thisModuleSize, kernel: k.thisModuleSize } : null;
    // The configuration's rules, read off the config facts by hand (kernel/module/version.c: check_version, try_to_force_load).
    const noModversionsRefused = k.config !== undefined && k.config.modversions && !k.config.moduleForceLoad && !module.hasModversions ? { config: k.config.path } : null;
    const unsignedRefused = k.config !== undefined && k.config.moduleSigForce && !module.signed ? { config: k.config.path } : null;
    const expected: PairVerdict = {
      compatible: plain.ok && vermagicMismatch === null && !signatureRefused && moduleSizeMismatch === null && noModversionsRefused === null && unsignedRefused === null,
      missing: plain.missing,
      mismatched: plain.mismatched,
      noSymbolVersion: plain.noSymbolVersion,
      // Judged alone: no candidate module can block it.
      blockedBy: [],
      missingImportNs: plain.missingImportNs,
      gplOnly: plain.gplOnly,
      proprietaryTaint: plain.proprietaryTaint,
      vermagicMismatch,
      noModversions: !module.hasModversions,
      providers: plainProviders(module, k, plain),
      signatureKey,
      signatureRefused,
      moduleSizeMismatch,
      moduleSizeUnknown: k.thisModuleSize === undefined,
      crcsNotChecked: k.config?.modversions === false,
      noModversionsRefused,
      forcedLoad: k.config !== undefined && k.config.modversions && k.config.moduleForceLoad && !module.hasModversions,
      unsignedRefused,
    };
    const v = verdict(ki);
    const label = `${module.path} on ${k.release} (kernel ${ki}${k.strictModversions === true ? ", strict" : ""}${k.resident === undefined ? "" : `, resident ${k.resident.map((r) => r.name).join(" ")}`})`;
    expect(v, label).toEqual(expected);
    expect(isCompatible(ki), label).toBe(expected.compatible);
    expect(v.compatible, label).toBe(blockingReasons(v) === 0);
    return v;
  });
}

/**
 * The resident modules that provide a requirement of the module on kernel k (symbols the symvers
 * does not have, and that the plain judgement does not refuse), in the order of its requirements:
 * modversions, then undefined symbols (weak ones only on a strict kernel).
 */
function plainProviders(module: ModuleRecord, k: KernelTarget, plain: PlainJudgement): string[] {
  // A weak reference its modversions do not list is a requirement on strict kernels only (upstream never refuses it).
  const strict = k.strictModversions === true && module.hasModversions;
  const needs = [...(module.hasModversions ? module.modversions.map((v) => v.symbol) : []), ...module.undefinedSymbols.filter((u) => strict || !u.weak).map((u) => u.name)];
  const refused = new Set([
    ...plain.missing,
    ...[...plain.mismatched, ...plain.noSymbolVersion, ...plain.missingImportNs, ...plain.gplOnly].map((x) => x.symbol),
  ]);
  const out = new Set<string>();
  for (const s of needs) {
    if (k.symvers.entries.has(s) || refused.has(s)) continue;
    const r = (k.resident ?? []).find((x) => x.exports.some((e) => e.name === s));
    if (r !== undefined) out.add(r.name);
  }
  return [...out];
}

/**
 * Judges `modules` against 70 kernels at once, copies of `base` under other names (70 kernels take
 * three words of kernel bits), and asserts that every pair's verdict equals that of the module on
 * its base kernel alone. Returns the 70-kernel report, the single-kernel ones (by base index) and
 * every verdict of the 70-kernel report, for the caller's own checks.
 */
export function expectManyKernelsAgreeWithEachAlone(
  modules: readonly ModuleRecord[],
  base: readonly KernelTarget[],
): { together: CompatibilityReport; alone: CompatibilityReport[]; verdicts: PairVerdict[] } {
  const kernels = Array.from({ length: 70 }, (_, i) => ({ ...base[i % base.length], release: `${base[i % base.length].release}#${i}` }));
  const together = evaluate(modules, kernels);
  expect(together.kernelCount).toBe(70);
  const alone = base.map((k) => evaluate(modules, [k]));
  const verdicts: PairVerdict[] = [];
  modules.forEach((_, m) => {
    kernels.forEach((_, ki) => {
      const v = together.verdict(m, ki)!;
      expect(v).toEqual(alone[ki % base.length].verdict(m, 0));
      // The bitset pass decided `compatible`; the reasons were collected apart from it.
      expect(v.compatible).toBe(blockingReasons(v) === 0);
      verdicts.push(v);
    });
  });
  return { together, alone, verdicts };
}
