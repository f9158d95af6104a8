import type { SymversTable } from "../symvers/symvers-table.js";
import type { SymbolInterner } from "./symbol-interner.js";

/** A symvers table as interned symbol ids: parallel arrays, one element per entry. */
export interface ResolvedSymvers {
  readonly ids: Int32Array;
  readonly crcs: Uint32Array;
  /** Namespace per entry ("" when none). */
  readonly namespaces: readonly string[];
}

interface CacheEntry {
  interner: SymbolInterner;
  size: number;
  resolved: ResolvedSymvers;
}

const cache = new WeakMap<SymversTable["entries"], CacheEntry>();

/**
 * Interns every symbol of a symvers table, once per table (cached by the identity of its `entries`
 * map and its size, so a table is expected not to be edited in place after it was evaluated).
 * Later evaluations against the same table do no string work for it at all.
 */
export function resolveSymvers(table: SymversTable, interner: SymbolInterner): ResolvedSymvers {
  const entries = table.entries;
  const hit = cache.get(entries);
  if (hit !== undefined && hit.interner === interner && hit.size === entries.size) return hit.resolved;
  const ids = new Int32Array(entries.size);
  const crcs = new Uint32Array(entries.size);
  const namespaces: string[] = new Array<string>(entries.size);
  let i = 0;
  for (const [name, e] of entries) {
    ids[i] = interner.intern(name);
    crcs[i] = e.crc >>> 0;
    namespaces[i] = e.namespace;
    i++;
  }
  const resolved: ResolvedSymvers = { ids, crcs, namespaces };
  cache.set(entries, { interner, size: entries.size, resolved });
  return resolved;
}
