import type { ExportedSymbol, ModuleRecord } from "../types/module-record.js";
import { KernelSetPool, NO_SET } from "./kernel-set.js";
import { isGplOnlyExportType } from "./license.js";
import { MODULE_LAYOUT } from "./requirements.js";
import { resolveSymvers, type ResolvedSymvers } from "./resolved-symvers.js";
import type { SymversEntry } from "../types/symvers-table.js";
import type { SymbolInterner } from "./symbol-interner.js";
import type { KernelTarget } from "./verdict.js";
import { normalizeModuleName } from "../root/module-file.js";

/** The provider the kernel finds first for a symbol: its symvers entry, else a resident module. */
export interface StaticProvider {
  /** Symvers module column ("vmlinux", "drivers/...") or the resident module's name. */
  name: string;
  /** null: exported without CRC (accepted for any CRC). */
  crc: number | null;
  namespace: string;
  /** Exported GPL-only (a GPL-only symvers export type, or a resident's `__ksymtab_gpl` entry). */
  gplOnly: boolean;
  /** The resident module, when the provider is one. */
  resident: ModuleRecord | null;
}

interface ResidentExport {
  record: ModuleRecord;
  symbol: ExportedSymbol;
}

/**
 * Per interned symbol, which kernels provide it statically (symvers, then resident modules; at
 * most one provider per kernel and symbol, like the kernel's find_symbol):
 * - `exact` (`exactSlot`): crc → set of kernels whose provider has that CRC (one set per (symbol, crc) key);
 * - `wild`: kernels whose provider has no CRC (matches any CRC);
 * - `any`: kernels with a provider of any CRC (tells missing from mismatched);
 * - `ns` (`nsNames`, `nsSlots`): namespace → kernels whose provider exports it in that namespace (only non-empty ones);
 * - `gpl`: kernels whose provider exports it GPL-only (hidden from modules whose licence is not
 *   GPL-compatible; never set for module_layout, which the kernel looks up as if GPL);
 * - `owner` (`ownerSlot`): module name → kernels whose provider is the symvers entry of that (in-tree, modular)
 *   module. A candidate module of the same name stands in for it there (weak-updates/updates
 *   shadow the kernel's own module), so its exports count on those kernels too.
 * Only symbols some module requires are indexed; arrays are indexed by symbol id below
 * `required.length`.
 */
export class StaticProviderIndex {
  readonly pool: KernelSetPool;
  readonly wild: Int32Array;
  readonly any: Int32Array;
  readonly gpl: Int32Array;
  /** Per symbol id, the namespaces (non-empty) its providers export it in, and their kernel sets. */
  readonly nsNames: (string[] | undefined)[];
  readonly nsSlots: (number[] | undefined)[];
  /** 1 when some resident module is the provider on some kernel. */
  readonly residentProvided: Uint8Array;
  /**
   * At k * symbolCount + id: the CRC (unsigned) of kernel k's symvers entry of symbol id, -1 when
   * it has none; and the entry's module column. Dense copies of what the CRC-mismatch reports
   * need, so that path does not chase the scattered entry objects.
   */
  readonly symversCrc: Float64Array;
  readonly symversModule: string[];
  readonly symbolCount: number;
  private readonly residentByKernel: Map<string, ResidentExport>[];
  private readonly tables: ResolvedSymvers[] = [];
  /** `exact`: per symbol id, CRC → set. */
  private readonly exact: SlotsByKey;
  /** `owner`: per symbol id, module name id → set. */
  private readonly owner: SlotsByKey;
  /** Module names (as symversModuleName gives them) → small ids, for `ownerSlot`. */
  private readonly nameIds = new Map<string, number>();
  private readonly lastOwnerColumn: (string | undefined)[];
  private readonly lastOwnerSlot: Int32Array;

  constructor(
    private readonly interner: SymbolInterner,
    kernels: readonly KernelTarget[],
    /** 1 for the symbol ids some module requires (indexed up to its length). */
    required: Uint8Array,
  ) {
    const symbolCount = required.length;
    const requiredIds: number[] = [];
    for (let id = 0; id < symbolCount; id++) if (required[id] === 1) requiredIds.push(id);
    this.pool = new KernelSetPool(kernels.length, symbolCount + 64);
    this.wild = new Int32Array(symbolCount).fill(NO_SET);
    this.any = new Int32Array(symbolCount).fill(NO_SET);
    this.gpl = new Int32Array(symbolCount).fill(NO_SET);
    const gplExempt = interner.lookup(MODULE_LAYOUT);
    this.nsNames = new Array<string[] | undefined>(symbolCount);
    this.nsSlots = new Array<number[] | undefined>(symbolCount);
    this.residentProvided = new Uint8Array(symbolCount);
    this.symbolCount = symbolCount;
    this.symversCrc = new Float64Array(kernels.length * symbolCount).fill(-1);
    this.symversModule = new Array<string>(kernels.length * symbolCount).fill("");
    this.exact = new SlotsByKey(symbolCount);
    this.owner = new SlotsByKey(symbolCount);
    this.lastOwnerColumn = new Array<string | undefined>(symbolCount);
    this.lastOwnerSlot = new Int32Array(symbolCount);
    this.residentByKernel = [];

    for (let k = 0; k < kernels.length; k++) {
      const entries = kernels[k].symvers.entries;
      const table = resolveSymvers(kernels[k].symvers, interner);
      // A kernel built without CONFIG_MODVERSIONS checks no CRC (check_version is a stub that
      // accepts): its exports satisfy any CRC, as exports without a CRC do.
      const crcsChecked = kernels[k].config?.modversions !== false;
      this.tables.push(table);
      for (let j = 0; j < requiredIds.length; j++) {
        const id = requiredIds[j];
        const at = table.find(id);
        if (at >= 0) {
          const e = table.entry(at);
          this.symversCrc[k * symbolCount + id] = e.crc >>> 0;
          this.symversModule[k * symbolCount + id] = e.module;
          this.record(id, k, crcsChecked ? e.crc >>> 0 : null, e.namespace);
          if (isGplOnlyExportType(e.exportType) && id !== gplExempt) this.recordGpl(id, k);
          if (e.module !== "vmlinux") this.recordOwner(id, k, e.module);
        }
      }
      const residentMap = new Map<string, ResidentExport>();
      for (const record of kernels[k].resident ?? []) {
        for (const symbol of record.exports) {
          if (entries.has(symbol.name) || residentMap.has(symbol.name)) continue;
          residentMap.set(symbol.name, { record, symbol });
          const id = interner.lookup(symbol.name);
          if (id < 0 || id >= symbolCount || required[id] !== 1) continue;
          this.record(id, k, symbol.crc === null || !crcsChecked ? null : symbol.crc >>> 0, symbol.namespace);
          if (symbol.gplOnly && id !== gplExempt) this.recordGpl(id, k);
          this.residentProvided[id] = 1;
        }
      }
      this.residentByKernel.push(residentMap);
    }
  }

  private record(id: number, k: number, crc: number | null, namespace: string): void {
    const pool = this.pool;
    if (this.any[id] === NO_SET) this.any[id] = pool.alloc();
    pool.add(this.any[id], k);
    if (crc === null) {
      if (this.wild[id] === NO_SET) this.wild[id] = pool.alloc();
      pool.add(this.wild[id], k);
    } else {
      let slot = this.exact.get(id, crc);
      if (slot === NO_SET) this.exact.add(id, crc, (slot = pool.alloc()));
      pool.add(slot, k);
    }
    if (namespace !== "") {
      let names = this.nsNames[id];
      let slots = this.nsSlots[id];
      if (names === undefined || slots === undefined) {
        this.nsNames[id] = names = [];
        this.nsSlots[id] = slots = [];
      }
      let at = names.indexOf(namespace);
      if (at < 0) {
        at = names.length;
        names.push(namespace);
        slots.push(pool.alloc());
      }
      pool.add(slots[at], k);
    }
  }

  private recordGpl(id: number, k: number): void {
    if (this.gpl[id] === NO_SET) this.gpl[id] = this.pool.alloc();
    this.pool.add(this.gpl[id], k);
  }

  private recordOwner(id: number, k: number, column: string): void {
    // Most kernels list a symbol under the same module as the previous kernel that has it.
    if (this.lastOwnerColumn[id] === column) {
      this.pool.add(this.lastOwnerSlot[id], k);
      return;
    }
    const name = symversModuleName(column);
    let nameId = this.nameIds.get(name);
    if (nameId === undefined) this.nameIds.set(name, (nameId = this.nameIds.size));
    let slot = this.owner.get(id, nameId);
    if (slot === NO_SET) this.owner.add(id, nameId, (slot = this.pool.alloc()));
    this.pool.add(slot, k);
    this.lastOwnerColumn[id] = column;
    this.lastOwnerSlot[id] = slot;
  }

  /** The set of kernels whose provider of symbol id has CRC `crc` (unsigned), or NO_SET. */
  exactSlot(id: number, crc: number): number {
    return this.exact.get(id, crc);
  }

  /** Whether some kernel's provider of symbol id is the symvers entry of an in-tree module. */
  hasOwner(id: number): boolean {
    return this.owner.has(id);
  }

  /**
   * The id `ownerSlot` knows a module name by (names compare as symversModuleName gives them, '-'
   * read as '_'), or -1 when no symvers entry of any indexed symbol belongs to a module of that name.
   */
  moduleNameId(normalizedName: string): number {
    return this.nameIds.get(normalizedName) ?? -1;
  }

  /**
   * The kernels whose provider of symbol id is the symvers entry of the module with name id
   * `nameId` (from `moduleNameId`), or NO_SET.
   */
  ownerSlot(id: number, nameId: number): number {
    return nameId < 0 ? NO_SET : this.owner.get(id, nameId);
  }

  /** The symvers entry of symbol id on kernel k (the static provider when present), or undefined. */
  symversEntry(k: number, id: number): SymversEntry | undefined {
    const table = this.tables[k];
    const at = table.find(id);
    return at >= 0 ? table.entry(at) : undefined;
  }

  /** Slow path: the static provider of symbol id on kernel k, or null. */
  provider(k: number, id: number): StaticProvider | null {
    const table = this.tables[k];
    const at = table.find(id);
    if (at >= 0) {
      const e = table.entry(at);
      return { name: e.module, crc: e.crc >>> 0, namespace: e.namespace, gplOnly: isGplOnlyExportType(e.exportType), resident: null };
    }
    const r = this.residentByKernel[k].get(this.interner.name(id));
    if (r !== undefined) {
      return {
        name: r.record.name,
        crc: r.symbol.crc === null ? null : r.symbol.crc >>> 0,
        namespace: r.symbol.namespace,
        gplOnly: r.symbol.gplOnly,
        resident: r.record,
      };
    }
    return null;
  }
}

/**
 * Per symbol id, a few (key, set slot) pairs with keys >= 0: the first in typed arrays (most
 * symbols have one), any further ones in a list. Kept out of a Map: a CRC read from a
 * Float64Array would be boxed for every Map lookup.
 */
class SlotsByKey {
  private readonly key0: Float64Array;
  private readonly slot0: Int32Array;
  private readonly more: (number[] | undefined)[];

  constructor(symbolCount: number) {
    this.key0 = new Float64Array(symbolCount).fill(-1);
    this.slot0 = new Int32Array(symbolCount).fill(NO_SET);
    this.more = new Array<number[] | undefined>(symbolCount);
  }

  /** The slot of `key` for symbol id, or NO_SET. */
  get(id: number, key: number): number {
    if (this.key0[id] === key) return this.slot0[id];
    const more = this.more[id];
    if (more !== undefined) for (let i = 0; i < more.length; i += 2) if (more[i] === key) return more[i + 1];
    return NO_SET;
  }

  /** Files `slot` under a key symbol id does not have yet. */
  add(id: number, key: number, slot: number): void {
    if (this.key0[id] < 0) {
      this.key0[id] = key;
      this.slot0[id] = slot;
    } else (this.more[id] ??= []).push(key, slot);
  }

  /** Whether symbol id has any key. */
  has(id: number): boolean {
    return this.key0[id] >= 0;
  }
}

/** kmod's module name of a symvers module column ("drivers/net/usb/usbnet" → "usbnet"). */
export function symversModuleName(column: string): string {
  return normalizeModuleName(column.slice(column.lastIndexOf("/") + 1));
}
