import type { ModuleRecord } from "../types/module-record.js";
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
 *   upstream, so it is required by name (ANY_CRC); Debian patches this to fail closed, which the
 *   engine applies on kernels with `strictModversions` (the provider must then have no CRC);
 * - a weak undefined symbol may stay unresolved, but if it resolves, its CRC is still checked;
 * - `module_layout` is not an undefined symbol but is checked against the kernel's export when the
 *   module lists it, so it is a strict requirement.
 *
 * With `strictOnly` (some kernel has `strictModversions`), a module with modversions also gets a
 * requirement (ANY_CRC, weak) for each weak undefined symbol its modversions do not list, and for
 * `module_layout` when they do not list it: upstream accepts both whatever happens, a strict
 * kernel refuses them when they resolve to an export with a CRC (a weak reference that resolves
 * still goes through check_version; check_modstruct_version checks module_layout). These
 * "strict-only" requirements are exactly those with ANY_CRC and weak = 1 (a name-only requirement
 * is otherwise never weak); on other kernels they are satisfied.
 */
export interface Requirements {
  /** Interned symbol ids. */
  readonly sym: Int32Array;
  /** Required CRC (unsigned 32-bit), or ANY_CRC when checked by name only. */
  readonly crc: Float64Array;
  /** 1 when the symbol may stay unresolved (weak undefined). */
  readonly weak: Uint8Array;
  /**
   * The requirements of every module, back to back in the arrays above (three allocations for a
   * whole tree, not three per module): module m's are at [start[m], start[m + 1]).
   */
  readonly start: Int32Array;
}

/** Undefined-symbol state of a symbol id within the module being built. */
const SEEN_WEAK = 1;
const SEEN_STRONG = 2;
const SEEN_VERSIONED = 4;

/**
 * The symbol kernel/module/version.c check_modstruct_version checks: through check_version (so
 * by CRC, and strictly on strict kernels) and looked up as if the module were GPL.
 */
export const MODULE_LAYOUT = "module_layout";

/**
 * Builds the requirements of many modules with one interner; per-module bookkeeping is done with
 * stamped arrays indexed by symbol id, so each symbol name is hashed once per occurrence.
 */
export class RequirementBuilder {
  private stamp = new Int32Array(1024);
  private state = new Uint8Array(1024);
  /** Position of a symbol id in the current module's undefined symbols (-1: not among them). */
  private position = new Int32Array(1024);
  /** Ids of the current module's undefined symbols, by position (-1 for an empty name). */
  private undefinedAt = new Int32Array(256);
  private generation = 0;
  private readonly undefinedIds: number[] = [];
  /** Interned id of module_layout, once needed. */
  private layoutId = -1;

  constructor(
    private readonly interner: SymbolInterner,
    /** Also build the strict-only requirements (see Requirements). */
    private readonly strictOnly = false,
  ) {}

  /** The requirements of `records`, in one table. */
  buildAll(records: readonly ModuleRecord[]): Requirements {
    let capacity = 0;
    for (const r of records) capacity += (r.hasModversions ? r.modversions.length + (this.strictOnly ? 1 : 0) : 0) + r.undefinedSymbols.length;
    const out: Requirements = {
      sym: new Int32Array(capacity),
      crc: new Float64Array(capacity),
      weak: new Uint8Array(capacity),
      start: new Int32Array(records.length + 1),
    };
    let n = 0;
    for (let m = 0; m < records.length; m++) {
      out.start[m] = n;
      n = this.build(records[m], out, n);
    }
    out.start[records.length] = n;
    return out;
  }

  /** Writes the requirements of `record` into `out` from index n; returns the index after them. */
  private build(record: ModuleRecord, out: Requirements, n: number): number {
    const gen = ++this.generation;
    const interner = this.interner;
    const undefinedIds = this.undefinedIds;
    undefinedIds.length = 0;
    const undefinedSymbols = record.undefinedSymbols;
    const undefinedCount = undefinedSymbols.length;
    if (undefinedCount > this.undefinedAt.length) this.undefinedAt = new Int32Array(Math.max(undefinedCount, 2 * this.undefinedAt.length));
    const undefinedAt = this.undefinedAt;

    for (let j = 0; j < undefinedCount; j++) {
      const u = undefinedSymbols[j];
      if (u.name === "") {
        undefinedAt[j] = -1;
        continue;
      }
      const id = interner.intern(u.name);
      this.ensure(id);
      undefinedAt[j] = id;
      if (this.stamp[id] !== gen) {
        this.stamp[id] = gen;
        this.state[id] = 0;
        this.position[id] = j;
        undefinedIds.push(id);
      }
      this.state[id] |= u.weak ? SEEN_WEAK : SEEN_STRONG;
    }

    const versions = record.hasModversions ? record.modversions : [];
    const { sym, crc, weak } = out;
    // Modversions mostly list the undefined symbols in the same order, in runs: the name at the
    // cursor is compared first (a string comparison, cheaper than a hash lookup), and the cursor
    // follows the last symbol found by lookup.
    let cursor = 0;
    for (let i = 0; i < versions.length; i++) {
      const v = versions[i];
      let id: number;
      if (cursor < undefinedCount && undefinedAt[cursor] >= 0 && undefinedSymbols[cursor].name === v.symbol) {
        id = undefinedAt[cursor++];
      } else {
        id = interner.intern(v.symbol);
        this.ensure(id);
        if (this.stamp[id] !== gen) {
          this.stamp[id] = gen;
          this.state[id] = 0;
          this.position[id] = -1;
        } else if (this.position[id] >= 0) cursor = this.position[id] + 1;
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
    if (this.strictOnly && record.hasModversions) {
      // Strict-only: weak undefined symbols without a modversion, then module_layout if unlisted.
      for (const id of undefinedIds) {
        if (this.state[id] !== SEEN_WEAK) continue;
        sym[n] = id;
        crc[n] = ANY_CRC;
        weak[n] = 1;
        n++;
      }
      if (this.layoutId < 0) {
        this.layoutId = interner.intern(MODULE_LAYOUT);
        this.ensure(this.layoutId);
      }
      const layout = this.layoutId;
      if (this.stamp[layout] !== gen) {
        sym[n] = layout;
        crc[n] = ANY_CRC;
        weak[n] = 1;
        n++;
      }
    }
    return n;
  }

  private ensure(id: number): void {
    if (id < this.stamp.length) return;
    let size = this.stamp.length;
    while (size <= id) size *= 2;
    const stamp = new Int32Array(size);
    stamp.set(this.stamp);
    const state = new Uint8Array(size);
    state.set(this.state);
    const position = new Int32Array(size);
    position.set(this.position);
    this.stamp = stamp;
    this.state = state;
    this.position = position;
  }
}
