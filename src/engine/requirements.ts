import type { ModuleRecord } from "../module/module-record.js";
import type { SymbolInterner } from "./symbol-interner.js";

/** CRC value of a requirement checked by name only. */
export const ANY_CRC = -1;

/**
 * What one module needs from a kernel, as parallel arrays in a deterministic order: first its
 * modversions in file order, then (by name only) its non-weak undefined symbols that have no
 * modversion entry.
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

export function moduleRequirements(record: ModuleRecord, interner: SymbolInterner): Requirements {
  const undefinedWeak = new Map<string, boolean>();
  for (const u of record.undefinedSymbols) {
    if (u.name === "") continue;
    // A symbol listed twice counts as weak only if every listing is weak.
    const prev = undefinedWeak.get(u.name);
    undefinedWeak.set(u.name, prev === undefined ? u.weak : prev && u.weak);
  }

  const syms: number[] = [];
  const crcs: number[] = [];
  const weaks: number[] = [];
  const seen = new Set<string>();

  if (record.hasModversions) {
    for (const v of record.modversions) {
      if (seen.has(v.symbol)) continue;
      seen.add(v.symbol);
      syms.push(interner.intern(v.symbol));
      crcs.push(v.crc >>> 0);
      weaks.push(undefinedWeak.get(v.symbol) === true ? 1 : 0);
    }
  }
  for (const [name, weak] of undefinedWeak) {
    if (weak || seen.has(name)) continue;
    seen.add(name);
    syms.push(interner.intern(name));
    crcs.push(ANY_CRC);
    weaks.push(0);
  }
  return {
    sym: Int32Array.from(syms),
    crc: Float64Array.from(crcs),
    weak: Uint8Array.from(weaks),
  };
}
