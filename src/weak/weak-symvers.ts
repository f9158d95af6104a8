import { readFile } from "node:fs/promises";
import { describeInputError } from "../errors.js";
import type { ModuleRecord } from "../module/module-record.js";
import { parseSymvers } from "../symvers/parse-symvers.js";
import { decodeSymversText } from "../symvers/read-symvers.js";
import type { SymversTable } from "../symvers/symvers-table.js";
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
 * Every symbol name the engine can look up in a kernel's symvers when judging `judged` there with
 * `resident` resident: the symbols the judged modules were built against (modversions) and
 * reference (undefined symbols), and the residents' exports (a resident module's export counts
 * only where the symvers has no entry of that name). Modules not judged on a kernel are not
 * looked up there, nor are candidates' exports (they count through the requirements that name them).
 */
export function symversSymbols(judged: Iterable<ModuleRecord>, resident: Iterable<ModuleRecord>): Set<string> {
  const out = new Set<string>();
  for (const r of judged) {
    for (const m of r.modversions) out.add(m.symbol);
    for (const u of r.undefinedSymbols) out.add(u.name);
  }
  for (const r of resident) for (const x of r.exports) out.add(x.name);
  return out;
}

/**
 * The lines of a symvers text whose symbol (second tab-separated field, in every layout modpost
 * has written) is in `wanted`, the others blanked (the parser skips blank lines). Parsing only those gives the same entries for those symbols (each
 * line is parsed on its own; a repeated symbol keeps its first line) for a fraction of the work:
 * a kernel exports ~27,000 symbols, a set of external modules needs a few thousand.
 */
export function filterSymversText(text: string, wanted: ReadonlySet<string>): string {
  const out: string[] = [];
  const n = text.length;
  let pos = 0;
  while (pos < n) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = n;
    const t1 = text.indexOf("\t", pos);
    if (t1 >= 0 && t1 < eol) {
      let end = text.indexOf("\t", t1 + 1);
      if (end < 0 || end > eol) end = eol;
      if (end > t1 + 1 && text.charCodeAt(end - 1) === 13) end--;
      if (wanted.has(text.slice(t1 + 1, end))) {
        out.push(text.slice(pos, eol));
        pos = eol + 1;
        continue;
      }
    }
    // Dropped lines stay as blank ones, so that a problem on a kept line names its line in the file.
    out.push("");
    pos = eol + 1;
  }
  return out.join("\n");
}

/**
 * Decoded symvers as a SymversSource: a kernel whose file could not be read or decoded is absent
 * (its reason becomes a warning, in order, now); the others are parsed when first asked for,
 * keeping only the symbols `wanted` then (see filterSymversText; malformed lines of other symbols
 * are then not reported), so a kernel the engine never judges is never parsed.
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
