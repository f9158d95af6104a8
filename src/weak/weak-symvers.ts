import { openSymvers, type OpenedSymvers } from "../load/load-symvers.js";
import type { SymversTable } from "../types/symvers-table.js";
import type { InstalledTree } from "./installed-tree.js";
import type { SymversSource } from "./weak-assign.js";

/** A kernel's symvers file, read and decoded (not parsed yet), or why it could not be. */
export interface KernelSymvers {
  release: string;
  symvers: OpenedSymvers;
}

/**
 * Reads and decodes the symvers of the kernels `want` selects, all at once (openSymvers).
 * Never rejects: a kernel whose file cannot be read or decoded gets the reason instead.
 */
export async function readKernelSymvers(tree: InstalledTree, want: (release: string) => boolean): Promise<KernelSymvers[]> {
  const kernels = tree.kernels.filter((k) => want(k.release) && k.symvers !== null);
  const opened = await openSymvers(kernels.map((k) => k.symvers!));
  return kernels.map((k, i) => ({ release: k.release, symvers: opened[i]! }));
}

/**
 * Decoded symvers as a SymversSource: a kernel whose file could not be read or decoded is absent
 * (its reason becomes a warning, in order, now); the others are parsed when first asked for,
 * keeping only the symbols `wanted` then, so a kernel the engine never judges is never parsed.
 * weak-modules reports no symvers problems, so the lines of other symbols are not even checked
 * (OpenedSymvers.parse).
 */
export function parseKernelSymvers(decoded: readonly KernelSymvers[], warnings: string[]): SymversSource {
  const opened = new Map<string, OpenedSymvers>();
  for (const d of decoded) {
    if (d.symvers.error !== null) warnings.push(`kernel ${d.release}: ${d.symvers.error}`);
    else opened.set(d.release, d.symvers);
  }
  const parsed = new Map<string, SymversTable>();
  return {
    has: (release) => opened.has(release),
    get: (release, wanted) => {
      let table = parsed.get(release);
      const d = opened.get(release);
      if (table === undefined && d !== undefined) {
        table = d.parse(wanted)!;
        parsed.set(release, table);
      }
      return table;
    },
  };
}
