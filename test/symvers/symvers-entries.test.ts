import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseSymvers, symversLineLayout } from "../../src/symvers/parse-symvers.js";
import { SymversEntries } from "../../src/symvers/symvers-entries.js";
import type { SymversEntry } from "../../src/symvers/symvers-table.js";

// The committed symvers of real Debian kernels (amd64, i386, s390x; 6.1 and 6.12).
const dir = fileURLToPath(new URL("../../fixtures/symvers/", import.meta.url));
const real = readdirSync(dir)
  .filter((f) => f.endsWith(".symvers.gz"))
  .map((f) => ({ name: f, text: gunzipSync(readFileSync(dir + f)).toString("utf8") }));

/** The table as a Map built line by line with split(), the first listing of a name kept. */
function splitReference(text: string): Map<string, SymversEntry> {
  const out = new Map<string, SymversEntry>();
  for (const line of text.split("\n")) {
    const layout = symversLineLayout(line);
    if (layout === undefined) continue;
    const f = line.split("\t");
    const [crc, symbol] = [Number.parseInt(f[0]!, 16), f[1]!];
    const [module, exportType, namespace] = layout === "5.4" ? [f[3]!, f[4]!, f[2]!] : [f[2]!, f[3]!, f[4] ?? ""];
    if (!out.has(symbol)) out.set(symbol, { symbol, crc, module, exportType, namespace });
  }
  return out;
}

describe("SymversEntries: a real kernel's symvers read in place", () => {
  it("has the fixtures it needs", () => {
    expect(real.length).toBeGreaterThanOrEqual(5);
  });

  for (const { name, text } of real) {
    it(`${name}: the same entries, in the same order, as a Map built with split()`, () => {
      const table = parseSymvers(text, name);
      const expected = splitReference(text);
      expect(table.problems).toEqual([]);
      expect(table.entries.size).toBe(expected.size);
      expect([...table.entries.keys()]).toEqual([...expected.keys()]);
      expect([...table.entries.values()]).toEqual([...expected.values()]);
      for (const [symbol, e] of expected) {
        expect(table.entries.get(symbol)).toEqual(e);
        expect(table.entries.has(symbol)).toBe(true);
      }
    });
  }

  it("finds no name that is only a prefix, an extension or a case variant of a listed one", () => {
    const { text, name } = real[0]!;
    const entries = parseSymvers(text, name).entries;
    const reference = splitReference(text);
    let checked = 0;
    for (const symbol of [...entries.keys()].slice(0, 2000)) {
      for (const other of [symbol.slice(0, -1), symbol + "_", symbol.toUpperCase(), " " + symbol, symbol + "\t"]) {
        if (other === symbol) continue;
        expect(entries.get(other)).toEqual(reference.get(other));
        expect(entries.has(other)).toBe(reference.has(other));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(8000);
  });

  it("grows from a tiny start (rehashing) without losing or duplicating an entry", () => {
    const { text, name } = real[0]!;
    const entries = new SymversEntries(text, 0);
    const expected = parseSymvers(text, name).entries;
    // Symbol fields of the real lines, each added twice: the second add must be refused.
    let added = 0;
    for (let pos = 0; pos < text.length; ) {
      let eol = text.indexOf("\n", pos);
      if (eol < 0) eol = text.length;
      const t1 = text.indexOf("\t", pos);
      const t2 = text.indexOf("\t", t1 + 1);
      const t3 = text.indexOf("\t", t2 + 1);
      if (entries.add(t1 + 1, t2, t2 + 1, t3, -1, -1, 7, "EXPORT_SYMBOL")) added++;
      expect(entries.add(t1 + 1, t2, t2 + 1, t3, -1, -1, 8, "EXPORT_SYMBOL")).toBe(false);
      pos = eol + 1;
    }
    expect(added).toBe(expected.size);
    expect(entries.size).toBe(expected.size);
    for (const [symbol, e] of expected) {
      expect(entries.get(symbol)).toEqual({ symbol, crc: 7, module: e.module, exportType: "EXPORT_SYMBOL", namespace: "" });
    }
  });

  it("hands out the same entry object each time, and forEach visits in file order", () => {
    const { text, name } = real[0]!;
    const entries = parseSymvers(text, name).entries;
    const some = [...entries.keys()][100]!;
    expect(entries.get(some)).toBe(entries.get(some));
    const visited: string[] = [];
    entries.forEach((e, key, map) => {
      expect(e.symbol).toBe(key);
      expect(map).toBe(entries);
      visited.push(key);
    });
    expect(visited).toEqual([...entries.keys()]);
  });
});
