import type { ExportedSymbol, ModuleRecord } from "../types/module-record.js";
import type { InheritedTaint } from "./inherited-taint.js";
import { hasKernel, NO_SET } from "./kernel-set.js";
import { moduleLicense } from "./license.js";
import { namespaceAllowed } from "./namespace.js";
import type { StaticProviderIndex } from "./provider-index.js";
import { ANY_CRC, crcAccepts, type Requirements } from "./requirements.js";
import type { SymbolInterner } from "./symbol-interner.js";
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
  };
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
  const { index } = state;
  const pool = index.pool;
  // Name-only requirements of this module are strict on k (see strictOn).
  const strictK = strictOn(state, m) !== null && hasKernel(state.strict!, k);
  for (let i = req.start[m], end = req.start[m + 1]; i < end; i++) {
    const id = req.sym[i];
    const crc = req.crc[i];
    // A strict-only requirement (name-only and weak) on a kernel that is not strict.
    if (crc === ANY_CRC && !strictK && req.weak[i] === 1) continue;
    // Satisfied by the symvers on k (bitsets only, no string work): nothing to report.
    if (index.residentProvided[id] === 0 && pool.has(index.any[id], k) && !namespacedOn(index, id, k) && !hiddenOn(state, m, id, k)) {
      const slot = crc === ANY_CRC ? (strictK ? NO_SET : index.any[id]) : index.exactSlot(id, crc);
      if (pool.has(slot, k) || pool.has(index.wild[id], k)) continue;
    }
    explainRequirement(state, m, k, i, work, imports, crc === ANY_CRC && strictK);
  }
  return finishPair(work);
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
  const { index } = state;
  const pool = index.pool;
  const words = pool.words;
  const open = Uint32Array.from(state.candidate[m]);
  const gplHidden = state.gplOk[m] === 0;
  const strict = strictOn(state, m);
  for (let i = req.start[m], end = req.start[m + 1]; i < end; i++) {
    const id = req.sym[i];
    const crc = req.crc[i];
    const strictReq = strict !== null && crc === ANY_CRC;
    const raw = pool.raw();
    for (let w = 0; w < words; w++) {
      // Kernels satisfied by their symvers entry: as explainPair's first check, for all kernels.
      let ok = 0;
      const anySlot = index.any[id];
      // Name-only on strict kernels: only a provider without CRC satisfies it there.
      const st = strictReq ? strict[w] : 0;
      if (index.residentProvided[id] === 0 && anySlot !== NO_SET) {
        const matchSlot = crc === ANY_CRC ? anySlot : index.exactSlot(id, crc);
        const wildSlot = index.wild[id];
        ok = raw[anySlot * words + w] & ((matchSlot === NO_SET ? 0 : raw[matchSlot * words + w] & ~st) | (wildSlot === NO_SET ? 0 : raw[wildSlot * words + w]));
        const nsSlots = index.nsSlots[id];
        if (ok !== 0 && nsSlots !== undefined) for (let j = 0; j < nsSlots.length; j++) ok &= ~raw[nsSlots[j] * words + w];
        const gplSlot = index.gpl[id];
        if (ok !== 0 && gplHidden && gplSlot !== NO_SET) ok &= ~raw[gplSlot * words + w];
      }
      // A strict-only requirement (name-only and weak) holds on the kernels that are not strict.
      if (strictReq && req.weak[i] === 1) ok |= ~st;
      let todo = open[w] & ~ok;
      while (todo !== 0) {
        const low = todo & -todo;
        const k = (w << 5) + (31 - Math.clz32(low));
        todo ^= low;
        const strictK = strictReq && (st & low) !== 0;
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
    if (req.weak[i] !== 1) verdict.missing.push(state.interner.name(id));
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
  return state.gplOk[m] === 0 && state.index.pool.has(state.index.gpl[id], k);
}

/** A module's import_ns set, made on first use. */
class Imports {
  private set: ReadonlySet<string> | undefined;
  constructor(private readonly list: readonly string[]) {}
  get(): ReadonlySet<string> {
    return (this.set ??= new Set(this.list));
  }
}

/**
 * The kernels on which module m's name-only requirements are strict (a module with modversions,
 * on kernels with strictModversions), or null when there are none.
 */
function strictOn(state: EngineState, m: number): Uint32Array | null {
  return state.strict !== null && state.modules[m].hasModversions ? state.strict : null;
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
        // The kernels whose entry is that of p's namesake.
        const slot = index.ownerSlot(id, state.moduleNameIds[p]);
        if (pool.has(slot, k) && hasKernel(state.compat[p], k) && satisfies(state.modules[p], symbol, crc, strict, imports, record.name, gplOk)) {
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
      if (!weak) verdict.gplOnly.push(gplOnlyUse(record, symbol, entryModule));
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
  const reachable = (list ?? []).filter((p) => p !== m && hasKernel(candidateOn[p], k));
  // A GPL-only export of a candidate is not there at all for a module that may not use it.
  const candidates = gplOk ? reachable : reachable.filter((p) => !exportOf(p).gplOnly);

  // A resident module as the static provider.
  const provider = index.provider(k, id);
  if (provider !== null) {
    if (hidden) {
      if (!weak) verdict.gplOnly.push(gplOnlyUse(record, symbol, provider.name));
      return;
    }
    if (crcMatches(provider.crc) && namespaceAllowed(provider.namespace, imports, record.name)) {
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
    if (weak) return;
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
  if (weak && !candidates.some(alive)) return; // resolves to nothing: fine for a weak symbol
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
  return crcAccepts(crc, strict, x.crc) && namespaceAllowed(x.namespace, imports, moduleName) && (gplOk || !x.gplOnly);
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

/** Whether the static provider of symbol id on kernel k exports it in a namespace. */
function namespacedOn(index: StaticProviderIndex, id: number, k: number): boolean {
  const nsSlots = index.nsSlots[id];
  if (nsSlots === undefined) return false;
  for (let j = 0; j < nsSlots.length; j++) if (index.pool.has(nsSlots[j], k)) return true;
  return false;
}
