/**
 * The README's bench table is written by `bench/run --update-readme` (bench/bench.mjs) between two
 * markers. This checks the table there is one such run's, whole and self-consistent: every case of
 * the suite has a row, each ratio is its kabi time over its reference time, and each verdict
 * follows from its ratio and target. A hand edit of one number, or a table from a partial run,
 * fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";

const START = "<!-- bench-table:start -->";
const END = "<!-- bench-table:end -->";

/** The row-name prefixes bench.mjs gives its cases (see its `steps`). */
const CASES = ["1. ", "2. ", "3a. ", "3b. ", "weak-modules --add-modules ", "weak-modules --add-kernel ", "5. ", "6. "];

interface Row {
  name: string;
  kabi: number;
  ref: number;
  ratio: number;
  target: number | undefined;
  verdict: string;
}

function readmeBlock(): string {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  expect(a, "README.md has the bench-table markers").toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  return text.slice(a + START.length, b);
}

function rows(block: string): Row[] {
  return block
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| case ") && !l.startsWith("|---"))
    .map((l) => {
      const c = l.split("|").slice(1, -1).map((s) => s.trim());
      expect(c, l).toHaveLength(8);
      const target = c[6] === "" ? undefined : Number(c[6].replace(/^≤\s*/, ""));
      return { name: c[0], kabi: Number(c[1]), ref: Number(c[3]), ratio: Number(c[5]), target, verdict: c[7] };
    });
}

describe("README bench table", () => {
  const block = readmeBlock();

  it("says it was written by the bench, with the date and the repetitions", () => {
    expect(block).toMatch(/<!-- written by bench\/bench\.mjs --update-readme on \d{4}-\d{2}-\d{2}; \d+ run\(s\) each -->/);
  });

  it("has one row per case of the suite, none skipped or failed", () => {
    const names = rows(block).map((r) => r.name);
    expect(names).toHaveLength(CASES.length);
    CASES.forEach((prefix, i) => expect(names[i]!.startsWith(prefix), `${names[i]} is case ${prefix}`).toBe(true));
    expect(block).not.toMatch(/FAILED|skipped/);
  });

  it("gives each ratio as kabi over reference, and each verdict from ratio and target", () => {
    for (const r of rows(block)) {
      for (const v of [r.kabi, r.ref, r.ratio]) expect(Number.isFinite(v) && v > 0, r.name).toBe(true);
      // The times are printed to 0.01 s: the ratio of the printed times may differ by that rounding.
      const lo = (r.kabi - 0.005) / (r.ref + 0.005);
      const hi = (r.kabi + 0.005) / (r.ref - 0.005);
      expect(r.ratio, r.name).toBeGreaterThanOrEqual(lo - 0.0005);
      expect(r.ratio, r.name).toBeLessThanOrEqual(hi + 0.0005);
      if (r.target === undefined) expect(r.verdict, r.name).toBe("");
      else expect(r.verdict, r.name).toBe(r.ratio <= r.target ? "ok" : "MISSED");
    }
  });

  it("ends with the case-2 memory, the add-modules wall time and the machine's speed during the run", () => {
    const rss = /- peak RSS, case 2 \(kabi\): (\d+) MB \(target < 256 MB\)( MISSED)?/.exec(block);
    expect(rss).not.toBeNull();
    expect(rss![2] === undefined).toBe(Number(rss![1]) < 256);
    const wall = /- weak-modules --add-modules wall: ([\d.]+) s \(target < 1 s\)( MISSED)?/.exec(block);
    expect(wall).not.toBeNull();
    expect(wall![2] === undefined).toBe(Number(wall![1]) < 1);
    expect(block).toMatch(/- machine speed .*`node -e 0` took [\d.]+ s before the first case and [\d.]+ s after the last/);
  });
});
