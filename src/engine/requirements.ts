import type { ModuleRecord } from "../module/module-record.js";
import type { SymbolInterner } from "./symbol-interner.js";

/** CRC value of a requirement checked by name only. */
export const ANY_CRC = -1;

/**
 * What one module needs from a kernel, as parallel arrays in a deterministic order: first its
 * modversions in file order, then (by name only) its non-weak undefined symbols that have no
 * modversion entry, in symbol-table order.
 *
 * Kernel semantics (kernel/module/main.c resolve_symbol, kernel/module/version.c check_version):
 * - a symbol listed in `__versions` must be exported with the same CRC, unless the exporter has no
 *   CRCs (then it is accepted);
 * - a resolved symbol absent from `__versions` only warns ("no symbol version for") and loads
 *   upstream, so it is required by name (note: Debian patches this to fail closed);
 * - a weak undefined symbol may stay unresolved, but if it resolves, its CRC is still checked;
 * - `module_layout` is not an undefined symbol but is checked against the kernel's export when the
 *   module lists it, so it is a strict requirement.
 */
export interface Requirements {
  /** Interned symbol ids. */
  readonly sym: Int32Array;
  /** Required CRC (unsigned 32-bit), or ANY_CRC when checked by name only. */
  readonly crc: Float64Array;
  /** 1 when the symbol may stay unresolved (weak undefined). */
  readonly weak: Uint8Array;
}

/** Undefined-symbol state of a symbol id within the module being built. */
const SEEN_WEAK = 1;
const SEEN_STRONG = 2;
const SEEN_VERSIONED = 4;

/**
 * Builds the requirements of many modules with one interner; per-module bookkeeping is done with
 * stamped arrays indexed by symbol id, so each symbol name is hashed once per occurrence.
 */
export class RequirementBuilder {
  private stamp = new Int32Array(1024);
  private state = new Uint8Array(1024);
  private generation = 0;
  private readonly undefinedIds: number[] = [];

  constructor(private readonly interner: SymbolInterner) {}

  build(record: ModuleRecord): Requirements {
    const gen = ++this.generation;
    const interner = this.interner;
    const undefinedIds = this.undefinedIds;
    undefinedIds.length = 0;

    for (const u of record.undefinedSymbols) {
      if (u.name === "") continue;
      const id = interner.intern(u.name);
      this.ensure(id);
      if (this.stamp[id] !== gen) {
        this.stamp[id] = gen;
        this.state[id] = 0;
        undefinedIds.push(id);
      }
      this.state[id] |= u.weak ? SEEN_WEAK : SEEN_STRONG;
    }

    const versions = record.hasModversions ? record.modversions : [];
    const count = versions.length + undefinedIds.length;
    const sym = new Int32Array(count);
    const crc = new Float64Array(count);
    const weak = new Uint8Array(count);
    let n = 0;
    for (const v of versions) {
      const id = interner.intern(v.symbol);
      this.ensure(id);
      if (this.stamp[id] !== gen) {
        this.stamp[id] = gen;
        this.state[id] = 0;
      }
      const st = this.state[id];
      if ((st & SEEN_VERSIONED) !== 0) continue; // listed twice: the first entry counts
      this.state[id] = st | SEEN_VERSIONED;
      sym[n] = id;
      crc[n] = v.crc >>> 0;
      // Weak only when every undefined listing is weak.
      weak[n] = st === SEEN_WEAK ? 1 : 0;
      n++;
    }
    for (const id of undefinedIds) {
      const st = this.state[id];
      if ((st & SEEN_VERSIONED) !== 0 || (st & SEEN_STRONG) === 0) continue;
      sym[n] = id;
      crc[n] = ANY_CRC;
      weak[n] = 0;
      n++;
    }
    return n === count ? { sym, crc, weak } : { sym: sym.slice(0, n), crc: crc.slice(0, n), weak: weak.slice(0, n) };
  }

  private ensure(id: number): void {
    if (id < this.stamp.length) return;
    let size = this.stamp.length;
    while (size <= id) size *= 2;
    const stamp = new Int32Array(size);
    stamp.set(this.stamp);
    const state = new Uint8Array(size);
    state.set(this.state);
    this.stamp = stamp;
    this.state = state;
  }
}

/** The requirements of one module. */
export function moduleRequirements(record: ModuleRecord, interner: SymbolInterner): Requirements {
  return new RequirementBuilder(interner).build(record);
}
