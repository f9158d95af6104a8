import type { ExportedSymbol, ModuleRecord } from "../types/module-record.js";
import { explainModule, explainPair, type EngineState } from "./explain.js";
import { InheritedTaint } from "./inherited-taint.js";
import { addKernel, fullSet, hasKernel, isEmpty, kernelsOf, newSet, NO_SET, setsEqual, wordsFor } from "./kernel-set.js";
import { moduleIsGplCompatible } from "./license.js";
import { normalizeModuleName } from "../root/module-file.js";
import { StaticProviderIndex } from "./provider-index.js";
import { ANY_CRC, RequirementBuilder, type Requirements } from "./requirements.js";
import {
  candidateMayProvideWord,
  candidateSatisfiesWord,
  crcAcceptedWord,
  crcAccepts,
  exportSatisfies,
  gplHidden,
  Imports,
  isStrictOnly,
  namespaceAllowed,
  staticSatisfiesWord,
  strictKernels,
  strictOnlyHoldsWord,
} from "./rules.js";
import { sharedInterner, type SymbolInterner } from "./symbol-interner.js";
import type { CompatibilityReport, CrcMismatch, EvaluateOptions, KernelTarget, PairVerdict } from "./verdict.js";
import { vermagicFlags } from "./vermagic.js";
import { enforceSignatures } from "./signature-key.js";

/**
 * A requirement that candidate modules may satisfy on kernels without a static provider; it is
 * re-checked during the fixed-point iteration.
 */
interface DynamicRequirement {
  /** Kernels where the static provider satisfies it (or, when weak, there is none at all). */
  staticSat: Uint32Array;
  /** Kernels with no static provider. */
  noStatic: Uint32Array;
  /** Candidate modules exporting the symbol. */
  candidates: CandidateProvider[];
  weak: boolean;
}

interface CandidateProvider {
  module: number;
  /** Kernels where its export counts (no static provider, or it stands in for the provider). */
  allowed: Uint32Array;
  /**
   * Whether its export satisfies the requirement (CRC and namespace; a GPL-only export is not a
   * candidate at all for a module whose licence is not GPL-compatible).
   */
  matches: boolean;
}

/**
 * Judges every module on every kernel at once.
 *
 * Each module's requirements are AND-ed as kernel bitsets, one set per (symbol, crc) key, so the
 * cost grows with the number of requirements, not with modules × kernels. Requirements that
 * candidate modules can satisfy are resolved to the greatest fixed point: every candidate starts
 * compatible, those that fail are removed, until stable. Detailed reasons are computed lazily.
 *
 * The phases, each a function below: the requirements and the static provider index
 * (indexRequirements), the candidate sets (candidateSets), the candidate modules' exports
 * (candidateExports), the vermagic groups (vermagicGroups), the struct module size groups
 * (moduleSizeGroups), the per-module fast pass (fastPass),
 * the greatest fixed point with the inherited taint (greatestFixedPoint), the report object
 * (reportOf).
 */
export function evaluate(modules: readonly ModuleRecord[], kernels: readonly KernelTarget[], options: EvaluateOptions = {}): CompatibilityReport {
  const indexed = indexRequirements(modules, kernels);
  const candidate = candidateSets(modules.length, kernels.length, options.isCandidate);
  const exports = candidateExports(modules, indexed);
  const vermagic = vermagicGroups(modules, kernels);
  const sizes = moduleSizeGroups(kernels);
  const config = configSets(kernels);
  const { compat, dynamic } = fastPass(modules, indexed, candidate, exports, vermagic, sizes, config);
  // Before the fixed point, so that modules needing a refused one are refused with it.
  enforceSignatures(modules, kernels, compat);
  const taint = InheritedTaint.create(
    modules,
    kernels,
    candidate,
    exports.gplOk,
    indexed.index,
    indexed.interner,
    exports.moduleNames,
    indexed.requirements,
    exports.exporters,
    exports.exportOf,
  );
  greatestFixedPoint(compat, dynamic, taint, indexed.words);
  return reportOf({
    modules,
    kernels,
    kernelFlags: vermagic.kernelFlags,
    moduleFlags: vermagic.moduleFlags,
    gplOk: exports.gplOk,
    requirements: indexed.requirements,
    interner: indexed.interner,
    index: indexed.index,
    moduleNames: exports.moduleNames,
    moduleNameIds: exports.moduleNameIds,
    exporters: exports.exporters,
    candidate,
    compat,
    strict: indexed.strict,
    symversMismatches: new Array<CrcMismatch | undefined>(kernels.length * indexed.symbolCount),
    sharedMismatchCount: 0,
    taint,
  });
}

/** What indexRequirements computes. */
interface IndexedRequirements {
  /** Words of a kernel set. */
  words: number;
  /** Kernels with Debian's strict check_version (KernelTarget.strictModversions), or null when none. */
  strict: Uint32Array | null;
  interner: SymbolInterner;
  requirements: Requirements;
  /** 1 for the symbol ids some module requires; its length is the number of symbol ids indexed. */
  required: Uint8Array;
  symbolCount: number;
  index: StaticProviderIndex;
}

/**
 * Every module's requirements (RequirementBuilder: the strict-only ones too when some kernel is
 * strict) and the static provider index of the symbols they name: what each kernel's symvers and
 * resident modules provide, as kernel sets per (symbol, CRC), so the fast pass reads words, not
 * entries.
 */
function indexRequirements(modules: readonly ModuleRecord[], kernels: readonly KernelTarget[]): IndexedRequirements {
  const kernelCount = kernels.length;
  const words = wordsFor(kernelCount);
  let strict: Uint32Array | null = null;
  for (let k = 0; k < kernelCount; k++) if (kernels[k].strictModversions === true) addKernel((strict ??= newSet(words)), k);

  const interner = sharedInterner();
  const builder = new RequirementBuilder(interner, strict !== null);
  const requirements = builder.buildAll(modules);
  const required = new Uint8Array(interner.size);
  const reqSym = requirements.sym;
  for (let i = 0, end = requirements.start[modules.length]; i < end; i++) required[reqSym[i]] = 1;
  const index = new StaticProviderIndex(interner, kernels, required);
  return { words, strict, interner, requirements, required, symbolCount: required.length, index };
}

/**
 * Per module, the kernels it is a candidate on (EvaluateOptions.isCandidate; by default one shared
 * full set): only there is it judged, and only there do its exports count.
 */
function candidateSets(moduleCount: number, kernelCount: number, isCandidate: EvaluateOptions["isCandidate"]): Uint32Array[] {
  const words = wordsFor(kernelCount);
  const all = fullSet(kernelCount);
  const candidate: Uint32Array[] = new Array<Uint32Array>(moduleCount);
  for (let m = 0; m < moduleCount; m++) {
    if (isCandidate === undefined) {
      candidate[m] = all;
    } else {
      const set = newSet(words);
      for (let k = 0; k < kernelCount; k++) if (isCandidate(m, k)) addKernel(set, k);
      candidate[m] = set;
    }
  }
  return candidate;
}

/** What candidateExports computes. */
interface CandidateExports {
  /** Symbol id → the candidate modules exporting it (required symbols only), in module order. */
  exporters: (number[] | undefined)[];
  /**
   * 1 where the module's licence lets it use GPL-only exports (nearly every module: those skip
   * every GPL-only check).
   */
  gplOk: Uint8Array;
  /** Module names with '-' read as '_'. */
  moduleNames: string[];
  /** index.moduleNameId of each module name (for the stand-in rule). */
  moduleNameIds: Int32Array;
  /** Module m's export of a symbol it exports (a map per module, made on first use). */
  exportOf: (m: number, name: string) => ExportedSymbol;
}

/**
 * What the modules themselves offer: which of them export each required symbol, whether each may
 * use GPL-only exports, and the names a module stands in for an in-tree module by.
 */
function candidateExports(modules: readonly ModuleRecord[], indexed: IndexedRequirements): CandidateExports {
  const { interner, required, symbolCount, index } = indexed;
  const moduleCount = modules.length;
  const exporters = new Array<number[] | undefined>(symbolCount);
  for (let m = 0; m < moduleCount; m++) {
    for (const x of modules[m].exports) {
      const id = interner.lookup(x.name);
      if (id < 0 || id >= symbolCount || required[id] !== 1) continue;
      let list = exporters[id];
      if (list === undefined) exporters[id] = list = [];
      if (list[list.length - 1] !== m) list.push(m);
    }
  }
  const gplOk = new Uint8Array(moduleCount);
  for (let m = 0; m < moduleCount; m++) gplOk[m] = moduleIsGplCompatible(modules[m].modinfo) ? 1 : 0;
  const moduleNames = modules.map((m) => normalizeModuleName(m.name));
  const moduleNameIds = Int32Array.from(moduleNames, (name) => index.moduleNameId(name));
  const exportMaps = new Array<Map<string, ExportedSymbol> | undefined>(moduleCount);
  const exportOf = (m: number, name: string): ExportedSymbol => {
    let map = exportMaps[m];
    if (map === undefined) {
      map = new Map<string, ExportedSymbol>();
      for (const x of modules[m].exports) if (!map.has(x.name)) map.set(x.name, x);
      exportMaps[m] = map;
    }
    return map.get(name)!;
  };
  return { exporters, gplOk, moduleNames, moduleNameIds, exportOf };
}

/** What vermagicGroups computes. */
interface VermagicGroups {
  /** vermagicFlags of each kernel's vermagic, null when unknown. */
  kernelFlags: (string | null)[];
  /** vermagicFlags of each module's vermagic, null when it has none. */
  moduleFlags: (string | null)[];
  /** Kernels without a known vermagic: they accept any module. */
  unknownVermagic: Uint32Array;
  /** Flags → the kernels with those flags. */
  byFlags: Map<string, Uint32Array>;
}

/**
 * The vermagic rule's kernel sets: a module whose vermagic flags differ from a kernel's is refused
 * there, so kernels are grouped by flags and a module keeps the group of its own flags (and the
 * kernels of unknown vermagic).
 */
function vermagicGroups(modules: readonly ModuleRecord[], kernels: readonly KernelTarget[]): VermagicGroups {
  const words = wordsFor(kernels.length);
  const kernelFlags = kernels.map((k) => (k.vermagic === undefined ? null : vermagicFlags(k.vermagic)));
  const moduleFlags = modulesVermagicFlags(modules);
  const unknownVermagic = newSet(words);
  const byFlags = new Map<string, Uint32Array>();
  kernelFlags.forEach((flags, k) => {
    if (flags === null) {
      addKernel(unknownVermagic, k);
      return;
    }
    let set = byFlags.get(flags);
    if (set === undefined) byFlags.set(flags, (set = newSet(words)));
    addKernel(set, k);
  });
  return { kernelFlags, moduleFlags, unknownVermagic, byFlags };
}

/** What moduleSizeGroups computes. */
interface ModuleSizeGroups {
  /** Kernels whose struct module size is unknown (no module tree): the size rule is not applied there. */
  unknownSize: Uint32Array;
  /** Size → the kernels whose own modules have that `.gnu.linkonce.this_module` size. */
  bySize: Map<number, Uint32Array>;
}

/**
 * The struct module size rule's kernel sets: the kernel refuses a module whose
 * `.gnu.linkonce.this_module` section size differs from its own struct module (kernel/module/main.c,
 * elf_validity_cache_index_mod), so a module keeps the kernels of its own size and those of unknown size.
 */
function moduleSizeGroups(kernels: readonly KernelTarget[]): ModuleSizeGroups {
  const words = wordsFor(kernels.length);
  const unknownSize = newSet(words);
  const bySize = new Map<number, Uint32Array>();
  kernels.forEach((kernel, k) => {
    const size = kernel.thisModuleSize;
    if (size === undefined) {
      addKernel(unknownSize, k);
      return;
    }
    let set = bySize.get(size);
    if (set === undefined) bySize.set(size, (set = newSet(words)));
    addKernel(set, k);
  });
  return { unknownSize, bySize };
}

/** What configSets computes: kernel sets of the rules that follow the kernel's configuration. */
interface ConfigSets {
  /**
   * Kernels with CONFIG_MODVERSIONS=y and without CONFIG_MODULE_FORCE_LOAD: they refuse a module
   * without modversions (kernel/module/version.c: check_version, for the first symbol whose
   * exporter has a CRC, and check_modstruct_version, call try_to_force_load, which fails).
   */
  refuseUnversioned: Uint32Array;
  /** Kernels with CONFIG_MODULE_SIG_FORCE=y: they refuse an unsigned module. */
  sigForce: Uint32Array;
}

/** The configuration rules' kernel sets (kernels whose configuration is unknown are in none). */
function configSets(kernels: readonly KernelTarget[]): ConfigSets {
  const words = wordsFor(kernels.length);
  const refuseUnversioned = newSet(words);
  const sigForce = newSet(words);
  kernels.forEach((kernel, k) => {
    const config = kernel.config;
    if (config === undefined) return;
    if (config.modversions && !config.moduleForceLoad) addKernel(refuseUnversioned, k);
    if (config.moduleSigForce) addKernel(sigForce, k);
  });
  return { refuseUnversioned, sigForce };
}

/**
 * vermagicFlags of each module's vermagic, or null when it has none (blank). A tree's modules
 * share one vermagic, so it is split once and reused while the strings are equal.
 */
function modulesVermagicFlags(modules: readonly ModuleRecord[]): (string | null)[] {
  const out = new Array<string | null>(modules.length);
  let last: string | undefined;
  let lastFlags: string | null = null;
  for (let m = 0; m < modules.length; m++) {
    const vermagic = modules[m].vermagic;
    if (vermagic !== last) {
      last = vermagic;
      lastFlags = vermagic.trim() === "" ? null : vermagicFlags(vermagic);
    }
    out[m] = lastFlags;
  }
  return out;
}

/** What fastPass computes. */
interface FastPassResult {
  /** Per module: the kernels where it passes the fast pass (narrowed later by the fixed point). */
  compat: Uint32Array[];
  /** Per module still compatible somewhere: its requirements candidate modules may satisfy. */
  dynamic: (DynamicRequirement[] | undefined)[];
}

/**
 * One pass per module over its requirements, all kernels at once: compat[m] starts as the kernels
 * it is a candidate on with matching vermagic, and each requirement the static providers alone
 * decide narrows it (a module is dropped from the pass as soon as no kernel is left). A
 * requirement some other candidate module may satisfy is kept as a DynamicRequirement for the
 * fixed point instead.
 */
function fastPass(
  modules: readonly ModuleRecord[],
  indexed: IndexedRequirements,
  candidate: readonly Uint32Array[],
  exports: CandidateExports,
  vermagic: VermagicGroups,
  sizes: ModuleSizeGroups,
  config: ConfigSets,
): FastPassResult {
  const { words, strict, interner, requirements, index } = indexed;
  const { moduleFlags, unknownVermagic, byFlags } = vermagic;
  const exporters = exports.exporters;
  const moduleCount = modules.length;
  const pool = index.pool.raw();
  const reqSym = requirements.sym;
  const reqCrc = requirements.crc;
  const reqWeak = requirements.weak;
  const reqStart = requirements.start;
  const compat: Uint32Array[] = new Array<Uint32Array>(moduleCount);
  const dynamic: (DynamicRequirement[] | undefined)[] = new Array<DynamicRequirement[] | undefined>(moduleCount);
  const scratch: Scratch = { sat: newSet(words), refusedNs: newSet(words), allowed: newSet(words) };
  const sat = scratch.sat;
  let lastFlags: string | null = null;
  let lastOk: Uint32Array | undefined;
  for (let m = 0; m < moduleCount; m++) {
    const record = modules[m];
    const acc = candidate[m].slice();
    compat[m] = acc;
    const flags = moduleFlags[m];
    if (flags !== null) {
      if (flags !== lastFlags) {
        lastFlags = flags;
        lastOk = byFlags.get(flags);
      }
      const ok = lastOk;
      for (let w = 0; w < words; w++) acc[w] &= unknownVermagic[w] | (ok === undefined ? 0 : ok[w]);
    }
    const sameSize = sizes.bySize.get(record.thisModuleSize);
    for (let w = 0; w < words; w++) acc[w] &= sizes.unknownSize[w] | (sameSize === undefined ? 0 : sameSize[w]);
    if (!record.hasModversions) for (let w = 0; w < words; w++) acc[w] &= ~config.refuseUnversioned[w];
    if (!record.signed) for (let w = 0; w < words; w++) acc[w] &= ~config.sigForce[w];
    const imports = new Imports(record.importNamespaces);
    let dyn: DynamicRequirement[] | undefined;
    let alive = !isEmpty(acc);
    const gplOk = exports.gplOk[m] === 1;
    const strictMask = strictKernels(strict, record.hasModversions);
    for (let i = reqStart[m], end = reqStart[m + 1]; i < end && alive; i++) {
      const id = reqSym[i];
      const crc = reqCrc[i];
      const weak = reqWeak[i] === 1;
      // A name-only requirement of a module with modversions, where some kernel is strict.
      const strictHere = strictMask !== null && crc === ANY_CRC ? strictMask : null;
      staticSatisfaction(index, pool, words, id, crc, weak, strictHere, gplOk, imports, record.name, scratch);
      const candidates =
        exporters[id] === undefined
          ? undefined
          : candidateProviders(index, interner, pool, words, candidate, exports, m, id, crc, weak, strictHere, gplOk, imports, record.name, acc, scratch);
      if (candidates === undefined) {
        let any = 0;
        for (let w = 0; w < words; w++) any |= acc[w] &= sat[w];
        alive = any !== 0;
      } else {
        const anySlot = index.any[id];
        const ao = anySlot * words;
        const noStatic = newSet(words);
        for (let w = 0; w < words; w++) noStatic[w] = anySlot === NO_SET ? 0xffffffff : ~pool[ao + w];
        (dyn ??= []).push({ staticSat: sat.slice(), noStatic, candidates, weak });
      }
    }
    dynamic[m] = alive ? dyn : undefined;
  }
  return { compat, dynamic };
}

/** The fast pass's work sets, of one kernel set each. */
interface Scratch {
  /** staticSatisfaction's result. */
  sat: Uint32Array;
  refusedNs: Uint32Array;
  allowed: Uint32Array;
}

/**
 * Writes into scratch.sat the kernels where the static provider satisfies requirement (id, crc,
 * weak) of a module: staticSatisfiesWord on each word of the provider index's sets. `strictHere`:
 * the strict kernels, when the requirement is name-only and the module has modversions, else null.
 */
function staticSatisfaction(
  index: StaticProviderIndex,
  pool: Uint32Array,
  words: number,
  id: number,
  crc: number,
  weak: boolean,
  strictHere: Uint32Array | null,
  gplOk: boolean,
  imports: Imports,
  moduleName: string,
  scratch: Scratch,
): void {
  const { sat, refusedNs } = scratch;
  const anySlot = index.any[id];
  // Kernels whose static provider has a matching CRC.
  const matchSlot = crc === ANY_CRC ? anySlot : anySlot === NO_SET ? NO_SET : index.exactSlot(id, crc);
  const wildSlot = index.wild[id];
  // Kernels whose static provider exports it GPL-only, where the module cannot see that.
  const gplSlot = gplHidden(gplOk, true) ? index.gpl[id] : NO_SET;
  const nsNames = index.nsNames[id];
  let refused = false;
  if (nsNames !== undefined) {
    const nsSlots = index.nsSlots[id]!;
    for (let j = 0; j < nsNames.length; j++) {
      if (namespaceAllowed(nsNames[j], imports.get(), moduleName)) continue;
      if (!refused) refusedNs.fill(0);
      refused = true;
      const o = nsSlots[j] * words;
      for (let w = 0; w < words; w++) refusedNs[w] |= pool[o + w];
    }
  }
  const mo = matchSlot * words;
  const wo = wildSlot * words;
  const ao = anySlot * words;
  const go = gplSlot * words;
  const strictOnly = strictHere !== null && isStrictOnly(crc, weak);
  for (let w = 0; w < words; w++) {
    sat[w] = staticSatisfiesWord(
      matchSlot === NO_SET ? 0 : pool[mo + w],
      wildSlot === NO_SET ? 0 : pool[wo + w],
      strictHere === null ? 0 : strictHere[w],
      refused ? refusedNs[w] : 0,
      gplSlot === NO_SET ? 0 : pool[go + w],
      anySlot === NO_SET ? 0 : pool[ao + w],
      weak,
      strictOnly,
    );
  }
}

/**
 * The candidate modules (other than m) whose export of symbol id may serve requirement (id, crc,
 * weak) of module m, each with the kernels where it may (candidateMayProvideWord), or undefined
 * when none does: for a non-weak requirement only exports that satisfy it and only where m is
 * still open and the static provider does not already do (scratch.sat); for a weak one every
 * export it could resolve to (a wrong one refuses the load). `strictHere` as staticSatisfaction's.
 */
function candidateProviders(
  index: StaticProviderIndex,
  interner: SymbolInterner,
  pool: Uint32Array,
  words: number,
  candidate: readonly Uint32Array[],
  exports: CandidateExports,
  m: number,
  id: number,
  crc: number,
  weak: boolean,
  strictHere: Uint32Array | null,
  gplOk: boolean,
  imports: Imports,
  moduleName: string,
  acc: Uint32Array,
  scratch: Scratch,
): CandidateProvider[] | undefined {
  const list = exports.exporters[id];
  if (list === undefined) return undefined;
  const { sat, allowed } = scratch;
  const anySlot = index.any[id];
  const ao = anySlot * words;
  const owned = index.hasOwner(id);
  let candidates: CandidateProvider[] | undefined;
  for (let j = 0; j < list.length; j++) {
    const p = list[j];
    if (p === m) continue;
    const ownerSlot = owned ? index.ownerSlot(id, exports.moduleNameIds[p]) : NO_SET;
    const oo = ownerSlot === NO_SET ? -1 : ownerSlot * words;
    const cp = candidate[p];
    let useful = 0;
    let some = 0;
    for (let w = 0; w < words; w++) {
      const a = candidateMayProvideWord(anySlot === NO_SET ? 0 : pool[ao + w], oo < 0 ? 0 : pool[oo + w], cp[w]);
      allowed[w] = a;
      some |= a;
      // Only kernels still open for m where the static provider does not already do.
      useful |= a & acc[w] & ~sat[w];
    }
    if (weak ? some === 0 : useful === 0) continue;
    (candidates ??= []).push({ module: p, allowed: allowed.slice(), matches: false });
  }
  if (candidates === undefined) return undefined;
  const name = interner.name(id);
  const exportOf = exports.exportOf;
  // A GPL-only export is not there at all for this module (weak or not).
  if (!gplOk) candidates = candidates.filter((c) => !gplHidden(gplOk, exportOf(c.module, name).gplOnly));
  for (const c of candidates) {
    const x = exportOf(c.module, name);
    const provided = x.crc === null ? null : x.crc >>> 0;
    c.matches = exportSatisfies(crc, false, provided, x.namespace, x.gplOnly, imports.get(), moduleName, gplOk);
    if (strictHere !== null) {
      // Strict kernels: an export with a CRC does not satisfy a name-only requirement. A
      // strict-only (weak) requirement only concerns strict kernels; a name-only one is served by
      // such an export on the other kernels only.
      const a = c.allowed;
      if (weak) {
        for (let w = 0; w < words; w++) a[w] &= ~strictOnlyHoldsWord(strictHere[w]);
        if (!crcAccepts(crc, true, provided)) c.matches = false;
      } else if (provided !== null) for (let w = 0; w < words; w++) a[w] &= crcAcceptedWord(0xffffffff, 0, strictHere[w]);
    }
  }
  if (strictHere !== null) candidates = candidates.filter((c) => !isEmpty(c.allowed));
  // A non-weak requirement only cares about exports that satisfy it.
  if (!weak) candidates = candidates.filter((c) => c.matches);
  return candidates.length === 0 ? undefined : candidates;
}

/**
 * Narrows `compat` to the greatest fixed point over the requirements candidate modules can
 * satisfy: a candidate's export counts on a kernel only while that candidate is itself compatible
 * there. A module's set only shrinks (`next` starts from its current set), so this terminates
 * after at most (dependency depth + 1) sweeps. One approximation: a weak requirement that a
 * candidate exported with a wrong CRC stays failed even if that candidate later drops out (the
 * symbol would then be absent, which a weak reference tolerates). Once stable, the inherited
 * proprietary taint (which depends on the modules that load) may refuse more modules, and the
 * sweeps go on.
 */
function greatestFixedPoint(compat: Uint32Array[], dynamic: readonly (DynamicRequirement[] | undefined)[], taint: InheritedTaint | null, words: number): void {
  const dynModules: number[] = [];
  for (let m = 0; m < compat.length; m++) if (dynamic[m] !== undefined) dynModules.push(m);
  const next = newSet(words);
  const aliveSet = newSet(words);
  const aliveAny = newSet(words);
  for (let changed = dynModules.length > 0 || taint !== null; changed; ) {
    changed = false;
    for (const m of dynModules) {
      next.set(compat[m]);
      for (const r of dynamic[m]!) {
        aliveSet.fill(0);
        aliveAny.fill(0);
        for (const c of r.candidates) {
          const cm = compat[c.module];
          if (c.matches) for (let w = 0; w < words; w++) aliveSet[w] |= cm[w] & c.allowed[w];
          if (r.weak) for (let w = 0; w < words; w++) aliveAny[w] |= cm[w] & c.allowed[w] & r.noStatic[w];
        }
        for (let w = 0; w < words; w++) next[w] &= candidateSatisfiesWord(r.staticSat[w], aliveSet[w], aliveAny[w], r.noStatic[w], r.weak);
      }
      if (!setsEqual(next, compat[m])) {
        compat[m].set(next);
        changed = true;
      }
    }
    if (!changed && taint !== null) changed = taint.narrow(compat);
  }
}

/**
 * The CompatibilityReport over the engine's final state: the bitsets answer the cheap questions,
 * and the detailed verdicts are explained on request (explain.ts), those asked for by `verdict`
 * cached by pair.
 */
function reportOf(state: EngineState): CompatibilityReport {
  const { candidate, compat } = state;
  const moduleCount = state.modules.length;
  const kernelCount = state.kernels.length;
  const cache = new Map<number, PairVerdict | null>();
  const releases = state.kernels.map((k) => k.release);

  const report: CompatibilityReport = {
    moduleCount,
    kernelCount,
    releases,
    isCandidate: (m, k) => hasKernel(candidate[m], k),
    isCompatible: (m, k) => hasKernel(compat[m], k),
    compatibleKernels: (m) => kernelsOf(compat[m]),
    verdict(m, k) {
      if (m < 0 || m >= moduleCount || k < 0 || k >= kernelCount) {
        throw new RangeError(`no pair (module ${m}, kernel ${k})`);
      }
      const key = m * kernelCount + k;
      let v = cache.get(key);
      if (v === undefined) {
        v = hasKernel(candidate[m], k) ? explainPair(state, m, k) : null;
        cache.set(key, v);
      }
      return v;
    },
    explain(m, k) {
      if (m < 0 || m >= moduleCount || k < 0 || k >= kernelCount) {
        throw new RangeError(`no pair (module ${m}, kernel ${k})`);
      }
      const v = cache.get(m * kernelCount + k);
      if (v !== undefined) return v;
      return hasKernel(candidate[m], k) ? explainPair(state, m, k) : null;
    },
    explainModule(m) {
      if (m < 0 || m >= moduleCount) throw new RangeError(`no module ${m}`);
      return explainModule(state, m).map((v, k) => cache.get(m * kernelCount + k) ?? v);
    },
    verdicts() {
      const out: (PairVerdict | null)[][] = [];
      for (let m = 0; m < moduleCount; m++) {
        const row: (PairVerdict | null)[] = [];
        for (let k = 0; k < kernelCount; k++) row.push(report.verdict(m, k));
        out.push(row);
      }
      return out;
    },
  };
  return report;
}
