/** One exported symbol as a kernel's Module.symvers lists it. */
export interface SymversEntry {
  symbol: string;
  crc: number;
  /** The module that exports it ("vmlinux" for the core kernel). */
  module: string;
  /** EXPORT_SYMBOL, EXPORT_SYMBOL_GPL, ... */
  exportType: string;
  /** Symbol namespace ("" when none). */
  namespace: string;
}

/** A line of a symvers file that could not be used, with its 1-based line number. */
export interface SymversProblem {
  file: string;
  line: number;
  reason: string;
}

/** A kernel's exported symbols, keyed by symbol name. */
export interface SymversTable {
  /** The file it was read from. */
  path: string;
  entries: Map<string, SymversEntry>;
  /** Malformed lines, each reported; the rest of the file is still used. */
  problems: SymversProblem[];
}
