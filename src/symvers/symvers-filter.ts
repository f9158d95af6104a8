import type { ModuleRecord } from "../types/module-record.js";

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
 * has written) is in `wanted`, the others blanked (the parser skips blank lines). Parsing only
 * those gives the same entries for those symbols (each line is parsed on its own; a repeated
 * symbol keeps its first line) for a fraction of the work: a kernel exports ~27,000 symbols, a
 * set of external modules needs a few thousand.
 */
export function filterSymversText(text: string, wanted: ReadonlySet<string>): string {
  const out: string[] = [];
  const n = text.length;
  // The next tab at or after a position, kept between lines: a line without a tab must not make
  // the search run to the end of the text (once per line, that was quadratic in the file's size).
  let tab = -1;
  const tabFrom = (from: number): number => {
    if (tab < from) {
      tab = text.indexOf("\t", from);
      if (tab < 0) tab = n;
    }
    return tab;
  };
  let pos = 0;
  while (pos < n) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = n;
    const t1 = tabFrom(pos);
    if (t1 < eol) {
      let end = tabFrom(t1 + 1);
      if (end > eol) end = eol;
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
