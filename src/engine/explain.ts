import type { ModuleRecord } from "../module/module-record.js";
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

  const imports = new Set(record.importNamespaces);
  const blocked = new Map<number, BlockedBy>();
  const providers = new Set<string>();
  const req = state.requirements[m];
  const { index, interner } = state;

  for (let i = 0; i < req.sym.length; i++) {
    const id = req.sym[i];
    const list = state.exporters[id];
    const crc = req.crc[i];
    const weak = req.weak[i] === 1;
    const ownerMap = index.owner[id];
    // Satisfied by the symvers on k (bitsets only, no string work): nothing to report.
    if (index.residentProvided[id] === 0 && index.pool.has(index.any[id], k) && !namespacedOn(index, id, k)) {
      const byCrc = index.exact[id];
      const slot = crc === ANY_CRC ? index.any[id] : byCrc === undefined ? -1 : (byCrc.get(crc) ?? -1);
      if (index.pool.has(slot, k) || index.pool.has(index.wild[id], k)) continue;
    }
    // Compatible pairs: the rest only matters for `providers`.
    if (compatible && index.residentProvided[id] === 0 && list === undefined) continue;
    const symbol = interner.name(id);
    const crcMatches = (providerCrc: number | null) => crc === ANY_CRC || providerCrc === null || providerCrc === crc;
    const exportOf = (p: number) => state.modules[p].exports.find((x) => x.name === symbol)!;
    const alive = (p: number) => hasKernel(state.compat[p], k);
    const satisfies = (p: number) => crcMatches(exportOf(p).crc) && namespaceAllowed(exportOf(p).namespace, imports, record.name);
    const candidates = (list ?? []).filter((p) => p !== m && hasKernel(state.candidate[p], k));

    const provider = index.provider(k, id);
    if (provider !== null) {
      if (crcMatches(provider.crc) && namespaceAllowed(provider.namespace, imports, record.name)) {
        if (provider.resident !== null) providers.add(provider.name);
        continue;
      }
      // A candidate of the same name as the in-tree module behind the symvers entry stands in for it.
      if (provider.resident === null && ownerMap !== undefined && provider.name !== "vmlinux") {
        const owner = symversModuleName(provider.name);
        const standIn = candidates.find((p) => normalizeModuleName(state.modules[p].name) === owner && alive(p) && satisfies(p));
        if (standIn !== undefined) {
          providers.add(state.modules[standIn].name);
          continue;
        }
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
    const good = candidates.filter(satisfies);
    const goodAlive = good.find(alive);
    if (goodAlive !== undefined) {
      providers.add(state.modules[goodAlive].name);
      continue;
    }
    if (weak && !candidates.some(alive)) continue; // resolves to nothing: fine for a weak symbol
    if (good.length > 0) {
      for (const p of good) addBlocked(blocked, state.modules[p], p, symbol);
      continue;
    }
    const crcOk = candidates.filter((p) => crcMatches(exportOf(p).crc));
    const nsOnly = crcOk.find(alive);
    if (nsOnly !== undefined) {
      verdict.missingImportNs.push({ symbol, namespace: exportOf(nsOnly).namespace });
      continue;
    }
    if (crcOk.length > 0) {
      for (const p of crcOk) addBlocked(blocked, state.modules[p], p, symbol);
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

  verdict.blockedBy = [...blocked.values()];
  verdict.providers = [...providers];
  return verdict;
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
