import type { ExportedSymbol, ModuleRecord } from "../types/module-record.js";
import type { InheritedTaint } from "./inherited-taint.js";
import { hasKernel, NO_SET } from "./kernel-set.js";
import { moduleLicense } from "./license.js";
import type { StaticProviderIndex } from "./provider-index.js";
import { ANY_CRC, type Requirements } from "./requirements.js";
import {
  candidateMayProvide,
  crcAccepts,
  exportSatisfies,
  gplHidden,
  Imports,
  isStrictOnly,
  mayStayUnresolved,
  namespaceAllowed,
  staticSatisfiesWord,
  strictKernels,
  strictOnlyHoldsWord,
} from "./rules.js";
import type { SymbolInterner } from "./symbol-interner.js";
import { buildKeysOf, refusedWhenEnforced, signatureKeyOf } from "./signature-key.js";
import { shareMismatch, type BlockedBy, type CrcMismatch, type GplOnlyUse, type KernelTarget, type PairVerdict } from "./verdict.js";

/** What `evaluate` computed, kept for the lazily computed detailed verdicts. */
export interface EngineState {
  modules: readonly ModuleRecord[];
  kernels: readonly KernelTarget[];
  kernelFlags: (string | null)[];
  /** vermagicFlags of each module's vermagic, null when it has none. */
  moduleFlags: (string | null)[];
  /** 1 where the module's licence is GPL-compatible (it may use GPL-only exports). */
  gplOk: Uint8Array;
  requirements: Requirements;
  interner: SymbolInterner;
  index: StaticProviderIndex;
  /** Module names with '-' read as '_', by module index. */
  moduleNames: readonly string[];
  /** index.moduleNameId of each module name. */
  moduleNameIds: Int32Array;
  /** Symbol id → candidate modules exporting it. */
  exporters: (number[] | undefined)[];
  candidate: Uint32Array[];
  /** Fixed-point result: module → kernels it is compatible on. */
  compat: Uint32Array[];
  /** Kernels with strictModversions, or null when there are none. */
  strict: Uint32Array | null;
  /**
   * At k * index.symbolCount + id: the last CRC mismatch reported against kernel k's symvers entry
   * of symbol id (see symversMismatch).
   */
  symversMismatches: (CrcMismatch | undefined)[];
  /** How many mismatches have been shared (the next one's serial: see shareMismatch). */
  sharedMismatchCount: number;
  /** The inherited-taint refusals, or null when no module can be refused for that. */
  taint: InheritedTaint | null;
}

const BUILD_KEYS = new WeakMap<readonly KernelTarget[], Set<string>>();

/** buildKeysOf(kernels), computed once per kernel list. */
function buildKeys(kernels: readonly KernelTarget[]): Set<string> {
  let keys = BUILD_KEYS.get(kernels);
  if (keys === undefined) BUILD_KEYS.set(kernels, (keys = buildKeysOf(kernels)));
  return keys;
}

/** One pair being explained: its verdict and what is collected before it is finished. */
interface PairWork {
  verdict: PairVerdict;
  blocked: Map<number, BlockedBy> | undefined;
  providers: Set<string> | undefined;
}

function startPair(state: EngineState, m: number, k: number): PairWork {
  const record = state.modules[m];
  const verdict: PairVerdict = {
    compatible: hasKernel(state.compat[m], k),
    missing: [],
    mismatched: [],
    noSymbolVersion: [],
    blockedBy: [],
    missingImportNs: [],
    gplOnly: [],
    proprietaryTaint: state.taint === null ? [] : state.taint.conflictsOf(m, k),
    vermagicMismatch: null,
    noModversions: !record.hasModversions,
    providers: [],
    signatureKey: signatureKeyOf(record, state.kernels[k], buildKeys(state.kernels)),
    signatureRefused: false,
    moduleSizeMismatch: null,
    moduleSizeUnknown: state.kernels[k].thisModuleSize === undefined,
    crcsNotChecked: state.kernels[k].config?.modversions === false,
    noModversionsRefused: null,
    forcedLoad: false,
    unsignedRefused: null,
  };
  verdict.signatureRefused = state.kernels[k].enforceSignatures === true && refusedWhenEnforced(verdict.signatureKey);
  const config = state.kernels[k].config;
  if (config !== undefined) {
    if (!record.hasModversions && config.modversions) {
      if (config.moduleForceLoad) verdict.forcedLoad = true;
      else verdict.noModversionsRefused = { config: config.path };
    }
    if (!record.signed && config.moduleSigForce) verdict.unsignedRefused = { config: config.path };
  }
  const kernelSize = state.kernels[k].thisModuleSize;
  if (kernelSize !== undefined && kernelSize !== record.thisModuleSize) verdict.moduleSizeMismatch = { module: record.thisModuleSize, kernel: kernelSize };
  const kernelFlags = state.kernelFlags[k];
  const moduleFlags = state.moduleFlags[m];
  if (kernelFlags !== null && moduleFlags !== null && moduleFlags !== kernelFlags) {
    verdict.vermagicMismatch = { module: record.vermagic, kernel: state.kernels[k].vermagic ?? "" };
  }
  return { verdict, blocked: undefined, providers: undefined };
}

function finishPair(work: PairWork): PairVerdict {
  if (work.blocked !== undefined) work.verdict.blockedBy = [...work.blocked.values()];
  if (work.providers !== undefined) work.verdict.providers = [...work.providers];
  return work.verdict;
}

/**
 * The detailed verdict of module m on kernel k (a candidate there), following the same rules as the
 * bitset pass: the static provider (symvers, then resident modules) wins; otherwise candidate
 * modules compatible on k provide. For compatible pairs only the requirements modules could provide
 * are looked at (to list `providers`).
 */
export function explainPair(state: EngineState, m: number, k: number): PairVerdict {
  const work = startPair(state, m, k);
  const imports = new Imports(state.modules[m].importNamespaces);
  const req = state.requirements;
  const strict = strictKernels(state.strict, state.modules[m].hasModversions);
  const gplOk = state.gplOk[m] === 1;
  const w = k >>> 5;
  const bit = 1 << (k & 31);
  for (let i = req.start[m], end = req.start[m + 1]; i < end; i++) {
    const crc = req.crc[i];
    const strictReq = strict !== null && crc === ANY_CRC;
    // Only kernel k's bit of the word counts.
    const st = strictReq ? strict[w] & bit : 0;
    if ((symversSatisfiedWord(state, gplOk, i, w, st) & bit) !== 0) continue;
    explainRequirement(state, m, k, i, work, imports, (st & bit) !== 0);
  }
  return finishPair(work);
}

/**
 * The kernels (word w) where requirement i is satisfied by the symvers entry alone, so there is
 * nothing to report: staticSatisfiesWord, for a symbol no resident module provides on any kernel,
 * taking every namespace as refused (which namespaces are imported is left to explainRequirement)
 * and without the weak rule (an unresolved weak reference may still be served by a candidate, a
 * provider to list); a strict-only requirement holds off the strict kernels. `st`: the strict
 * kernels of a name-only requirement, else 0. Bitsets only, no string work.
 */
function symversSatisfiedWord(state: EngineState, gplOk: boolean, i: number, w: number, st: number): number {
  const req = state.requirements;
  const { index } = state;
  const id = req.sym[i];
  const crc = req.crc[i];
  let ok = 0;
  const anySlot = index.any[id];
  if (index.residentProvided[id] === 0 && anySlot !== NO_SET) {
    const raw = index.pool.raw();
    const words = index.pool.words;
    const matchSlot = crc === ANY_CRC ? anySlot : index.exactSlot(id, crc);
    const wildSlot = index.wild[id];
    const nsSlots = index.nsSlots[id];
    let namespaced = 0;
    if (nsSlots !== undefined) for (let j = 0; j < nsSlots.length; j++) namespaced |= raw[nsSlots[j] * words + w];
    const gplSlot = gplHidden(gplOk, true) ? index.gpl[id] : NO_SET;
    ok =
      raw[anySlot * words + w] &
      staticSatisfiesWord(
        matchSlot === NO_SET ? 0 : raw[matchSlot * words + w],
        wildSlot === NO_SET ? 0 : raw[wildSlot * words + w],
        st,
        namespaced,
        gplSlot === NO_SET ? 0 : raw[gplSlot * words + w],
        0,
        false,
        false,
      );
  }
  if (isStrictOnly(crc, req.weak[i] === 1)) ok |= strictOnlyHoldsWord(st);
  return ok;
}

/**
 * The detailed verdicts of module m on every kernel (null where it is not a candidate), equal to
 * explainPair's: each requirement's symvers check is done for all kernels at once with the
 * bitsets, and only the kernels where it fails are looked at one by one.
 */
export function explainModule(state: EngineState, m: number): (PairVerdict | null)[] {
  const kernelCount = state.kernels.length;
  const works: (PairWork | null)[] = new Array<PairWork | null>(kernelCount);
  for (let k = 0; k < kernelCount; k++) works[k] = hasKernel(state.candidate[m], k) ? startPair(state, m, k) : null;
  const imports = new Imports(state.modules[m].importNamespaces);
  const req = state.requirements;
  const words = state.index.pool.words;
  const open = Uint32Array.from(state.candidate[m]);
  const gplOk = state.gplOk[m] === 1;
  const strict = strictKernels(state.strict, state.modules[m].hasModversions);
  for (let i = req.start[m], end = req.start[m + 1]; i < end; i++) {
    const strictReq = strict !== null && req.crc[i] === ANY_CRC;
    for (let w = 0; w < words; w++) {
      const st = strictReq ? strict[w] : 0;
      // Kernels satisfied by their symvers entry: as explainPair's first check, for all kernels.
      let todo = open[w] & ~symversSatisfiedWord(state, gplOk, i, w, st);
      while (todo !== 0) {
        const low = todo & -todo;
        const k = (w << 5) + (31 - Math.clz32(low));
        todo ^= low;
        const strictK = (st & low) !== 0;
        if (!plainOnKernel(state, m, k, i, works[k]!, strictK)) explainRequirement(state, m, k, i, works[k]!, imports, strictK);
      }
    }
  }
  return works.map((w) => (w === null ? null : finishPair(w)));
}

/**
 * explainRequirement's two common outcomes on an incompatible pair, decided from the dense arrays
 * alone: a CRC mismatch against the symvers entry, and a symbol nobody provides. A tree against
 * kernels of another ABI has ~1.3 million of them (6.12 tree, 12 kernels). Only when no candidate
 * module exports the symbol and no resident module provides it, the export is not hidden from a
 * non-GPL module and the requirement is not name-only on a strict kernel; returns false (nothing
 * done) otherwise, and explainRequirement decides.
 */
function plainOnKernel(state: EngineState, m: number, k: number, i: number, work: PairWork, strict: boolean): boolean {
  const verdict = work.verdict;
  const req = state.requirements;
  const { index } = state;
  const id = req.sym[i];
  if (verdict.compatible || strict || state.exporters[id] !== undefined || index.residentProvided[id] === 1) return false;
  const crc = req.crc[i];
  const entryAt = k * index.symbolCount + id;
  const entryCrc = index.symversCrc[entryAt];
  if (entryCrc < 0) {
    // No provider at all on k (the resident and candidate cases are excluded above).
    if (!mayStayUnresolved(req.weak[i] === 1, false, false)) verdict.missing.push(state.interner.name(id));
    return true;
  }
  if (crcAccepts(crc, false, entryCrc) || hiddenOn(state, m, id, k)) return false;
  verdict.mismatched.push(symversMismatch(state, entryAt, state.interner.name(id), crc, entryCrc, index.symversModule[entryAt]));
  return true;
}

/**
 * Whether the static provider of symbol id on kernel k exports it GPL-only while module m's licence
 * is not GPL-compatible: the kernel does not show m that export.
 */
function hiddenOn(state: EngineState, m: number, id: number, k: number): boolean {
  return gplHidden(state.gplOk[m] === 1, state.index.pool.has(state.index.gpl[id], k));
}

/**
 * Requirement i of module m on kernel k, when its symvers entry on k does not simply satisfy it.
 * `strict`: it is name-only and k is strict for m, so only a provider without CRC satisfies it
 * (one with a CRC is reported in noSymbolVersion).
 */
function explainRequirement(state: EngineState, m: number, k: number, i: number, work: PairWork, imp: Imports, strict: boolean): void {
  const record = state.modules[m];
  const verdict = work.verdict;
  const compatible = verdict.compatible;
  const req = state.requirements;
  const { index, interner } = state;
  const pool = index.pool;
  const candidateOn = state.candidate;
  const id = req.sym[i];
  const list = state.exporters[id];
  const crc = req.crc[i];
  const weak = req.weak[i] === 1;
  const gplOk = state.gplOk[m] === 1;
  const residentProvided = index.residentProvided[id] === 1;
  // Compatible pairs: the rest only matters for `providers`.
  if (compatible && !residentProvided && list === undefined) return;
  // The static provider on k exports it GPL-only and this module may not use that: the kernel does
  // not see the export (a weak reference then stays unresolved, which is fine).
  const hidden = hiddenOn(state, m, id, k);

  // The symvers entry, when k's symvers lists the symbol: it is the static provider (the common
  // case of a CRC mismatch; no candidate list is needed unless a candidate may stand in for it).
  const entryAt = k * index.symbolCount + id;
  const entryCrc = index.symversCrc[entryAt];
  if (entryCrc >= 0) {
    // A symvers entry always has a CRC.
    const crcOk = crcAccepts(crc, strict, entryCrc);
    let namespace = "";
    if (crcOk && !hidden) {
      namespace = index.symversEntry(k, id)!.namespace;
      if (namespace === "" || namespaceAllowed(namespace, imp.get(), record.name)) return;
    }
    const entryModule = index.symversModule[entryAt];
    const symbol = interner.name(id);
    // A candidate of the same name as the in-tree module behind the symvers entry stands in for it.
    if (list !== undefined && index.hasOwner(id) && entryModule !== "vmlinux") {
      const imports = imp.get();
      let standIn = -1;
      for (const p of list) {
        if (p === m || !hasKernel(candidateOn[p], k)) continue;
        // Whether k's entry is that of p's namesake, which p stands in for.
        const standsIn = pool.has(index.ownerSlot(id, state.moduleNameIds[p]), k);
        if (candidateMayProvide(true, standsIn, true) && hasKernel(state.compat[p], k) && satisfies(state.modules[p], symbol, crc, strict, imports, record.name, gplOk)) {
          standIn = p;
          break;
        }
      }
      if (standIn >= 0) {
        (work.providers ??= new Set<string>()).add(state.modules[standIn].name);
        return;
      }
    }
    if (hidden) {
      if (!mayStayUnresolved(weak, true, true)) verdict.gplOnly.push(gplOnlyUse(record, symbol, entryModule));
    } else if (strict) verdict.noSymbolVersion.push({ symbol, provider: entryModule });
    else if (!crcOk) verdict.mismatched.push(symversMismatch(state, entryAt, symbol, crc, entryCrc, entryModule));
    else verdict.missingImportNs.push({ symbol, namespace });
    return;
  }

  const imports = imp.get();
  const symbol = interner.name(id);
  // A provider without CRC matches any requirement; on a strict kernel nothing else matches a name-only one.
  const crcMatches = (providerCrc: number | null) => crcAccepts(crc, strict, providerCrc);
  const exportOf = (p: number) => exportNamed(state.modules[p], symbol);
  const alive = (p: number) => hasKernel(state.compat[p], k);
  const sat = (p: number) => satisfies(state.modules[p], symbol, crc, strict, imports, record.name, gplOk);
  // No static provider on k once past the resident one below: a candidate may provide wherever it is one.
  const reachable = (list ?? []).filter((p) => p !== m && candidateMayProvide(false, false, hasKernel(candidateOn[p], k)));
  // A GPL-only export of a candidate is not there at all for a module that may not use it.
  const candidates = gplOk ? reachable : reachable.filter((p) => !gplHidden(gplOk, exportOf(p).gplOnly));

  // A resident module as the static provider.
  const provider = index.provider(k, id);
  if (provider !== null) {
    if (hidden) {
      if (!mayStayUnresolved(weak, true, true)) verdict.gplOnly.push(gplOnlyUse(record, symbol, provider.name));
      return;
    }
    // Visible (not hidden), so its GPL-only flag does not count.
    if (exportSatisfies(crc, strict, provider.crc, provider.namespace, false, imports, record.name, gplOk)) {
      if (provider.resident !== null) (work.providers ??= new Set<string>()).add(provider.name);
      return;
    }
    if (strict && provider.crc !== null) {
      verdict.noSymbolVersion.push({ symbol, provider: provider.name });
    } else if (!crcMatches(provider.crc)) {
      verdict.mismatched.push({ symbol, moduleCrc: crc, kernelCrc: provider.crc ?? 0, provider: provider.name });
    } else {
      verdict.missingImportNs.push({ symbol, namespace: provider.namespace });
    }
    return;
  }

  // No static provider: candidate modules on k.
  if (candidates.length === 0) {
    // Nothing it can see provides it.
    if (mayStayUnresolved(weak, reachable.length > 0, reachable.length > 0)) return;
    if (reachable.length > 0) {
      const p = reachable.find(alive) ?? reachable[0];
      verdict.gplOnly.push(gplOnlyUse(record, symbol, state.modules[p].name));
    } else verdict.missing.push(symbol);
    return;
  }
  const good = candidates.filter(sat);
  const goodAlive = good.find(alive);
  if (goodAlive !== undefined) {
    (work.providers ??= new Set<string>()).add(state.modules[goodAlive].name);
    return;
  }
  if (weak && mayStayUnresolved(weak, candidates.some(alive), false)) return; // resolves to nothing: fine for a weak symbol
  if (good.length > 0) {
    for (const p of good) addBlocked((work.blocked ??= new Map()), state.modules[p], p, symbol);
    return;
  }
  const crcOk = candidates.filter((p) => crcMatches(exportOf(p).crc));
  const nsOnly = crcOk.find(alive);
  if (nsOnly !== undefined) {
    verdict.missingImportNs.push({ symbol, namespace: exportOf(nsOnly).namespace });
    return;
  }
  if (crcOk.length > 0) {
    for (const p of crcOk) addBlocked((work.blocked ??= new Map()), state.modules[p], p, symbol);
    return;
  }
  const wrong = candidates.find(alive) ?? candidates[0];
  if (strict) {
    verdict.noSymbolVersion.push({ symbol, provider: state.modules[wrong].name });
    return;
  }
  verdict.mismatched.push({
    symbol,
    moduleCrc: crc,
    kernelCrc: exportOf(wrong).crc ?? 0,
    provider: state.modules[wrong].name,
  });
}

/**
 * The mismatch of a required CRC against the symvers entry at `entryAt` (k * symbolCount + id). A
 * tree's modules mostly need a symbol with the same CRC, so one frozen object per (kernel, symbol,
 * CRC) is shared by their verdicts: a 6.12 tree against 12 kernels lists ~1.1 million mismatches,
 * ~130,000 of them distinct, and the report writers cache each one's text by its serial.
 */
function symversMismatch(state: EngineState, entryAt: number, symbol: string, moduleCrc: number, kernelCrc: number, provider: string): CrcMismatch {
  const last = state.symversMismatches[entryAt];
  if (last !== undefined && last.moduleCrc === moduleCrc) return last;
  const made = shareMismatch({ symbol, moduleCrc, kernelCrc, provider }, state.sharedMismatchCount++);
  state.symversMismatches[entryAt] = made;
  return made;
}

function exportNamed(record: ModuleRecord, symbol: string): ExportedSymbol {
  return record.exports.find((x) => x.name === symbol)!;
}

/**
 * Whether module `provider`'s export of `symbol` satisfies a requirement (CRC, namespace, and not
 * GPL-only when the requiring module may not use that). `strict`: a name-only requirement on a
 * strict kernel, which only an export without CRC satisfies.
 */
function satisfies(provider: ModuleRecord, symbol: string, crc: number, strict: boolean, imports: ReadonlySet<string>, moduleName: string, gplOk: boolean): boolean {
  const x = exportNamed(provider, symbol);
  return exportSatisfies(crc, strict, x.crc, x.namespace, x.gplOnly, imports, moduleName, gplOk);
}

/** The GPL-only reason of `record` needing `symbol` from `provider`. */
function gplOnlyUse(record: ModuleRecord, symbol: string, provider: string): GplOnlyUse {
  return { symbol, provider, license: moduleLicense(record.modinfo) };
}

function addBlocked(blocked: Map<number, BlockedBy>, record: ModuleRecord, p: number, symbol: string): void {
  let entry = blocked.get(p);
  if (entry === undefined) {
    entry = { provider: record.name, providerPath: record.path, symbols: [] };
    blocked.set(p, entry);
  }
  entry.symbols.push(symbol);
}
