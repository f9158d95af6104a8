import { readSymbolTable } from "../elf/symbol-table.js";
import { kmodExportListing } from "./exports.js";
import { readVersionsSection } from "./modversions.js";
import type { ModversionEntry } from "../types/module-record.js";
import { openModule, type ReadModuleOptions } from "./read-module.js";

/** The listings `modprobe --dump-modversions` and `modprobe --show-exports` print for a file. */
export async function readKmodListings(path: string, options: ReadModuleOptions = {}): Promise<{ modversions: ModversionEntry[]; exports: ModversionEntry[] }> {
  const { elf, source } = await openModule(path, options);
  try {
    return { modversions: readVersionsSection(elf) ?? [], exports: kmodExportListing(elf, readSymbolTable(elf)) };
  } finally {
    source.close();
  }
}

