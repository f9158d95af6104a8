import { readFile } from "node:fs/promises";
import { describeInputError } from "../types/errors.js";
import { parseSymvers } from "../symvers/parse-symvers.js";
import { filterSymversText } from "../symvers/symvers-filter.js";
import { decodeSymversText } from "../symvers/read-symvers.js";
import type { SymversTable } from "../types/symvers-table.js";
import type { InstalledTree } from "./installed-tree.js";
import type { SymversSource } from "./weak-assign.js";

/** A kernel's symvers file, read and decoded (not parsed yet), or why it could not be. */
export interface DecodedSymvers {
  release: string;
  file: string;
  text: string | null;
  error: string | null;
}

/**
 * Reads and decodes (plain, gzip, xz) the symvers of the kernels `want` selects, all at once.
 * Never rejects: a kernel whose file cannot be read or decoded gets the reason instead.
 */
export async function readKernelSymvers(tree: InstalledTree, want: (release: string) => boolean): Promise<DecodedSymvers[]> {
  const kernels = tree.kernels.filter((k) => want(k.release) && k.symvers !== null);
  return Promise.all(
    kernels.map(async (k): Promise<DecodedSymvers> => {
      const file = k.symvers!;
      try {
        return { release: k.release, file, text: await decodeSymversText(await readFile(file), file), error: null };
      } catch (err) {
        return { release: k.release, file, text: null, error: `kernel ${k.release}: ${describeInputError(file, err)}` };
      }
    }),
  );
}

/**
 * Decoded symvers as a SymversSource: a kernel whose file could not be read or decoded is absent
 * (its reason becomes a warning, in order, now); the others are parsed when first asked for,
 * keeping only the symbols `wanted` then (see filterSymversText; malformed lines of other symbols
 * are then not reported), so a kernel the engine never judges is never parsed. weak-modules
 * reports no symvers problems, so it blanks the other lines instead of passing `wanted` to
 * parseSymvers, which still checks every line (for audit's problem reports): about 3 ms per
 * kernel against 8-12 ms.
 */
export function parseKernelSymvers(decoded: readonly DecodedSymvers[], warnings: string[]): SymversSource {
  const texts = new Map<string, DecodedSymvers>();
  for (const d of decoded) {
    if (d.text === null) warnings.push(d.error!);
    else texts.set(d.release, d);
  }
  const parsed = new Map<string, SymversTable>();
  return {
    has: (release) => texts.has(release),
    get: (release, wanted) => {
      let table = parsed.get(release);
      const d = texts.get(release);
      if (table === undefined && d !== undefined) {
        table = parseSymvers(wanted === undefined ? d.text! : filterSymversText(d.text!, wanted), d.file);
        parsed.set(release, table);
      }
      return table;
    },
  };
}
