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

/** Releases with both built fixture modules and the kernel's symvers. */
export function fixtureReleases(): string[] {
  if (!existsSync(MODULE_FIXTURES)) return [];
  return readdirSync(MODULE_FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "src")
    .map((d) => d.name)
    .filter((r) => existsSync(join(SYMVERS_FIXTURES, `${r}.symvers.gz`)))
    .sort();
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
 * engine code).
 */
export function plainJudge(module: ModuleRecord, symvers: SymversTable, resident: readonly ModuleRecord[] = []): PlainJudgement {
  const out: PlainJudgement = { ok: true, missing: [], mismatched: [], missingImportNs: [], gplOnly: [], proprietaryTaint: [] };
  const license = module.modinfo.find((e) => e.key === "license")?.value ?? null;
  const gplOk = isGplCompatible(module);
  const weak = new Set(module.undefinedSymbols.filter((u) => u.weak).map((u) => u.name));
  const strong = new Set(module.undefinedSymbols.filter((u) => !u.weak).map((u) => u.name));
  const versioned = new Set<string>();
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
  out.proprietaryTaint = plainInheritTaint(module, symvers, resident);
  out.ok = out.missing.length === 0 && out.mismatched.length === 0 && out.missingImportNs.length === 0 && out.gplOnly.length === 0 && out.proprietaryTaint.length === 0;
  return out;
}

/** Every kernel symvers under fixtures/symvers, by release, sorted. */
export function symversReleases(): string[] {
  if (!existsSync(SYMVERS_FIXTURES)) return [];
  return readdirSync(SYMVERS_FIXTURES)
    .filter((f) => f.endsWith(".symvers.gz"))
    .map((f) => f.slice(0, -".symvers.gz".length))
    .sort();
}

export interface RealSampleCase {
  id: string;
  /** The kernel the modules were shipped with. */
  release: string;
  paths: string[];
}

/** The real Debian module samples: fixtures/real-sample/<case>/ with a RELEASE file. */
export function realSampleCases(): RealSampleCase[] {
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
 * Asserts that the engine's verdict of `module` (judged alone) on each kernel agrees with
 * plainJudge against that kernel's symvers and resident modules; returns the verdicts by kernel
 * index.
 */
export function expectAgreesWithPlainJoin(module: ModuleRecord, kernels: readonly KernelTarget[], verdict: (k: number) => PairVerdict, isCompatible: (k: number) => boolean): PairVerdict[] {
  return kernels.map((k, ki) => {
    const plain = plainJudge(module, k.symvers, k.resident);
    const v = verdict(ki);
    const label = `${module.path} on ${k.release}`;
    expect(v.compatible, label).toBe(plain.ok);
    expect(isCompatible(ki), label).toBe(plain.ok);
    expect(v.missing, label).toEqual(plain.missing);
    expect(v.mismatched, label).toEqual(plain.mismatched);
    expect(v.missingImportNs, label).toEqual(plain.missingImportNs);
    expect(v.gplOnly, label).toEqual(plain.gplOnly);
    expect(v.proprietaryTaint, label).toEqual(plain.proprietaryTaint);
    return v;
  });
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
      verdicts.push(v);
    });
  });
  return { together, alone, verdicts };
}
