/** Real module records with one field of their plain data edited (derived test data for cases kbuild cannot build). */
import type { ModuleRecord } from "../../src/types/module-record.js";

/** The record with its licence (the first `license=`) replaced, or every `license=` removed (null). */
export function withLicense(r: ModuleRecord, license: string | null): ModuleRecord {
  const modinfo = r.modinfo.map((e) => ({ ...e }));
  return { ...r, modinfo: license === null ? modinfo.filter((e) => e.key !== "license") : modinfo.map((e) => (e.key === "license" ? { key: e.key, value: license } : e)) };
}

/** The record with its undefined symbol `name` made weak (STB_WEAK). */
export function withWeakReference(r: ModuleRecord, name: string): ModuleRecord {
  if (!r.undefinedSymbols.some((u) => u.name === name)) throw new Error(`${r.name} does not reference ${name}`);
  return { ...r, undefinedSymbols: r.undefinedSymbols.map((u) => (u.name === name ? { ...u, weak: true } : u)) };
}

/** The record with a strong reference to `name` added at the end of its symbol table (no modversion entry). */
export function withReferenceAdded(r: ModuleRecord, name: string): ModuleRecord {
  if (r.undefinedSymbols.some((u) => u.name === name)) throw new Error(`${r.name} already references ${name}`);
  return { ...r, undefinedSymbols: [...r.undefinedSymbols, { name, weak: false }] };
}

/** The record with its export `name` made GPL-only (as EXPORT_SYMBOL_GPL would). */
export function withGplOnlyExport(r: ModuleRecord, name: string): ModuleRecord {
  if (!r.exports.some((x) => x.name === name)) throw new Error(`${r.name} does not export ${name}`);
  return { ...r, exports: r.exports.map((x) => (x.name === name ? { ...x, gplOnly: true } : x)) };
}

/** The record with a GPL-only export `name` (without CRC) added. */
export function withGplOnlyExportAdded(r: ModuleRecord, name: string): ModuleRecord {
  return { ...r, exports: [...r.exports, { name, crc: null, gplOnly: true, namespace: "" }] };
}

/** The record with its symbol table's undefined symbols in reverse order. */
export function withSymbolTableReversed(r: ModuleRecord): ModuleRecord {
  return { ...r, undefinedSymbols: [...r.undefinedSymbols].reverse() };
}
