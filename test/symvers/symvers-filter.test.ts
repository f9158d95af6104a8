/**
 * A kernel's symvers filtered to the symbols weak-modules will look up gives exactly the full
 * parse's entries for those symbols, and problems on kept lines name their line in the file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseSymvers } from "../../src/symvers/parse-symvers.js";
import { filterSymversText } from "../../src/symvers/symvers-filter.js";
import { ROOT } from "../helpers/paths.js";

const text = gunzipSync(readFileSync(join(ROOT, "fixtures/symvers/6.1.0-53-amd64.symvers.gz"))).toString("utf8");

describe("filterSymversText", () => {
  const full = parseSymvers(text, "Module.symvers");
  const symbols = [...full.entries.keys()];
  const wanted = new Set(symbols.filter((_, i) => i % 7 === 0));

  it("keeps exactly the wanted symbols' entries of the real 6.1.0-53 symvers", () => {
    const filtered = parseSymvers(filterSymversText(text, wanted), "Module.symvers");
    expect([...filtered.entries.keys()].sort()).toEqual([...wanted].sort());
    for (const s of wanted) expect(filtered.entries.get(s)).toEqual(full.entries.get(s));
    expect(filtered.problems).toEqual([]);
    // parseSymvers with `wanted` (a small audit) keeps the same entries, in file order.
    expect([...parseSymvers(text, "Module.symvers", wanted).entries.values()]).toEqual([...full.entries.values()].filter((e) => wanted.has(e.symbol)));
  });

  it("a malformed line of a wanted symbol is reported at its line in the file", () => {
    const lines = text.split("\n");
    const at = 1000; // 0-based: line 1001 of the file
    const symbol = lines[at]!.split("\t")[1]!;
    lines[at] = `0xnothex\t${symbol}\tvmlinux\tEXPORT_SYMBOL\t`;
    const edited = lines.join("\n");
    const filtered = parseSymvers(filterSymversText(edited, new Set([symbol, ...wanted])), "Module.symvers");
    expect(filtered.problems).toEqual(parseSymvers(edited, "Module.symvers").problems);
    expect(filtered.problems.map((p) => p.line)).toEqual([at + 1]);
  });
});
