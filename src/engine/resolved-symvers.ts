import type { SymversEntry, SymversTable } from "../types/symvers-table.js";
import type { SymbolInterner } from "./symbol-interner.js";

const UNKNOWN = -2;
const ABSENT = -1;

/**
 * A symvers table seen through interned symbol ids, filled lazily: a symbol is looked up by name
 * in the table the first time some evaluation requires it, and remembered, so a table costs one
 * string lookup per distinct required symbol over the life of the process (not one per entry and
 * evaluation). Cached by the identity of the table's `entries` map and its size: a table is
 * expected not to be edited in place once evaluated.
 */
export class ResolvedSymvers {
  /** Per symbol id: UNKNOWN, ABSENT, or the index into `found`. */
  private slots: Int32Array;
  private readonly found: SymversEntry[] = [];

  constructor(
    private readonly table: SymversTable,
    readonly interner: SymbolInterner,
    readonly size: number,
  ) {
    this.slots = new Int32Array(Math.max(1024, interner.size)).fill(UNKNOWN);
  }

  /** Index of symbol id in this table (for `entry`), or -1 when the table lacks it. */
  find(id: number): number {
    if (id >= this.slots.length) {
      let size = this.slots.length;
      while (size <= id) size *= 2;
      const grown = new Int32Array(size).fill(UNKNOWN);
      grown.set(this.slots);
      this.slots = grown;
    }
    let slot = this.slots[id];
    if (slot === UNKNOWN) {
      const e = this.table.entries.get(this.interner.name(id));
      if (e === undefined) slot = ABSENT;
      else {
        slot = this.found.length;
        this.found.push(e);
      }
      this.slots[id] = slot;
    }
    return slot;
  }

  entry(index: number): SymversEntry {
    return this.found[index];
  }
}

const cache = new WeakMap<SymversTable["entries"], ResolvedSymvers>();

export function resolveSymvers(table: SymversTable, interner: SymbolInterner): ResolvedSymvers {
  const hit = cache.get(table.entries);
  if (hit !== undefined && hit.interner === interner && hit.size === table.entries.size) return hit;
  const resolved = new ResolvedSymvers(table, interner, table.entries.size);
  cache.set(table.entries, resolved);
  return resolved;
}
