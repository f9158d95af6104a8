import type { ExportedSymbol, ModuleRecord } from "../module/module-record.js";
import { hasKernel } from "./kernel-set.js";
import { namespaceAllowed } from "./namespace.js";
import { normalizeModuleName, symversModuleName, type StaticProviderIndex } from "./provider-index.js";
import { ANY_CRC, type Requirements } from "./requirements.js";
import type { SymbolInterner } from "./symbol-interner.js";
import type { BlockedBy, KernelTarget, PairVerdict } from "./verdict.js";
import { vermagicFlags } from "./vermagic.js";

/** What `evaluate` computed, kept for the lazily computed detailed verdicts. */
export interface EngineState {
  modules: readonly ModuleRecord[];
  kernels: readonly KernelTarget[];
  kernelFlags: (string | null)[];
  requirements: Requirements[];
  interner: SymbolInterner;
  index: StaticProviderIndex;
  /** Module names with '-' read as '_', by module index. */
  moduleNames: readonly string[];
  /** Symbol id → candidate modules exporting it. */
  exporters: (number[] | undefined)[];
  candidate: Uint32Array[];
  /** Fixed-point result: module → kernels it is compatible on. */
  compat: Uint32Array[];
}

/**
 * The detailed verdict of module m on kernel k (a candidate there), following the same rules as the
 * bitset pass: the static provider (symvers, then resident modules) wins; otherwise candidate
 * modules compatible on k provide. For compatible pairs only the requirements modules could provide
 * are looked at (to list `providers`).
 */
export function explainPair(state: EngineState, m: number, k: number): PairVerdict {
  const record = state.modules[m];
  const compatible = hasKernel(state.compat[m], k);
  const verdict: PairVerdict = {
    compatible,
    missing: [],
    mismatched: [],
    blockedBy: [],
    missingImportNs: [],
    vermagicMismatch: null,
    noModversions: !record.hasModversions,
    providers: [],
  };

  const kernelFlags = state.kernelFlags[k];
  if (kernelFlags !== null && record.vermagic.trim() !== "" && vermagicFlags(record.vermagic) !== kernelFlags) {
    verdict.vermagicMismatch = { module: record.vermagic, kernel: state.kernels[k].vermagic ?? "" };
  }

  let imports: ReadonlySet<string> | undefined;
  let blocked: Map<number, BlockedBy> | undefined;
  let providers: Set<string> | undefined;
  const req = state.requirements[m];
  const { index, interner } = state;
  const pool = index.pool;
  const candidateOn = state.candidate;

  for (let i = 0; i < req.sym.length; i++) {
    const id = req.sym[i];
    const list = state.exporters[id];
    const crc = req.crc[i];
    const residentProvided = index.residentProvided[id] === 1;
    // Satisfied by the symvers on k (bitsets only, no string work): nothing to report.
    if (!residentProvided && pool.has(index.any[id], k) && !namespacedOn(index, id, k)) {
      const byCrc = index.exact[id];
      const slot = crc === ANY_CRC ? index.any[id] : byCrc === undefined ? -1 : (byCrc.get(crc) ?? -1);
      if (pool.has(slot, k) || pool.has(index.wild[id], k)) continue;
    }
    // Compatible pairs: the rest only matters for `providers`.
    if (compatible && !residentProvided && list === undefined) continue;

    // The symvers entry, when k's symvers lists the symbol: it is the static provider (the common
    // case of a CRC mismatch; no candidate list is needed unless a candidate may stand in for it).
    const entry = index.symversEntry(k, id);
    if (entry !== undefined) {
      const entryCrc = entry.crc >>> 0;
      const crcOk = crc === ANY_CRC || entryCrc === crc;
      if (crcOk && (entry.namespace === "" || namespaceAllowed(entry.namespace, (imports ??= new Set(record.importNamespaces)), record.name))) continue;
      const symbol = interner.name(id);
      // A candidate of the same name as the in-tree module behind the symvers entry stands in for it.
      if (list !== undefined && index.owner[id] !== undefined && entry.module !== "vmlinux") {
        imports ??= new Set(record.importNamespaces);
        // The owner map holds, per module name, the kernels whose entry is that module's.
        const ownerMap = index.owner[id]!;
        let standIn = -1;
        for (const p of list) {
          if (p === m || !hasKernel(candidateOn[p], k)) continue;
          const slot = ownerMap.get(state.moduleNames[p]);
          if (slot !== undefined && pool.has(slot, k) && hasKernel(state.compat[p], k) && satisfies(state.modules[p], symbol, crc, imports, record.name)) {
            standIn = p;
            break;
          }
        }
        if (standIn >= 0) {
          (providers ??= new Set<string>()).add(state.modules[standIn].name);
          continue;
        }
      }
      if (!crcOk) verdict.mismatched.push({ symbol, moduleCrc: crc, kernelCrc: entryCrc, provider: entry.module });
      else verdict.missingImportNs.push({ symbol, namespace: entry.namespace });
      continue;
    }

    imports ??= new Set(record.importNamespaces);
    const imp = imports;
    const symbol = interner.name(id);
    const weak = req.weak[i] === 1;
    const crcMatches = (providerCrc: number | null) => crc === ANY_CRC || providerCrc === null || providerCrc === crc;
    const exportOf = (p: number) => exportNamed(state.modules[p], symbol);
    const alive = (p: number) => hasKernel(state.compat[p], k);
    const sat = (p: number) => satisfies(state.modules[p], symbol, crc, imp, record.name);
    const candidates = (list ?? []).filter((p) => p !== m && hasKernel(candidateOn[p], k));

    // A resident module as the static provider.
    const provider = index.provider(k, id);
    if (provider !== null) {
      if (crcMatches(provider.crc) && namespaceAllowed(provider.namespace, imp, record.name)) {
        if (provider.resident !== null) (providers ??= new Set<string>()).add(provider.name);
        continue;
      }
      if (!crcMatches(provider.crc)) {
        verdict.mismatched.push({ symbol, moduleCrc: crc, kernelCrc: provider.crc ?? 0, provider: provider.name });
      } else {
        verdict.missingImportNs.push({ symbol, namespace: provider.namespace });
      }
      continue;
    }

    // No static provider: candidate modules on k.
    if (candidates.length === 0) {
      if (!weak) verdict.missing.push(symbol);
      continue;
    }
    const good = candidates.filter(sat);
    const goodAlive = good.find(alive);
    if (goodAlive !== undefined) {
      (providers ??= new Set<string>()).add(state.modules[goodAlive].name);
      continue;
    }
    if (weak && !candidates.some(alive)) continue; // resolves to nothing: fine for a weak symbol
    if (good.length > 0) {
      for (const p of good) addBlocked((blocked ??= new Map()), state.modules[p], p, symbol);
      continue;
    }
    const crcOk = candidates.filter((p) => crcMatches(exportOf(p).crc));
    const nsOnly = crcOk.find(alive);
    if (nsOnly !== undefined) {
      verdict.missingImportNs.push({ symbol, namespace: exportOf(nsOnly).namespace });
      continue;
    }
    if (crcOk.length > 0) {
      for (const p of crcOk) addBlocked((blocked ??= new Map()), state.modules[p], p, symbol);
      continue;
    }
    const wrong = candidates.find(alive) ?? candidates[0];
    verdict.mismatched.push({
      symbol,
      moduleCrc: crc,
      kernelCrc: exportOf(wrong).crc ?? 0,
      provider: state.modules[wrong].name,
    });
  }

  if (blocked !== undefined) verdict.blockedBy = [...blocked.values()];
  if (providers !== undefined) verdict.providers = [...providers];
  return verdict;
}

function exportNamed(record: ModuleRecord, symbol: string): ExportedSymbol {
  return record.exports.find((x) => x.name === symbol)!;
}

/** Whether module `provider`'s export of `symbol` satisfies a requirement (CRC and namespace). */
function satisfies(provider: ModuleRecord, symbol: string, crc: number, imports: ReadonlySet<string>, moduleName: string): boolean {
  const x = exportNamed(provider, symbol);
  return (crc === ANY_CRC || x.crc === null || x.crc === crc) && namespaceAllowed(x.namespace, imports, moduleName);
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
  const byNs = index.ns[id];
  if (byNs === undefined) return false;
  for (const slot of byNs.values()) if (index.pool.has(slot, k)) return true;
  return false;
}
