/**
 * bench/results.mjs, the writer of bench/results.md: a run of the DKMS transaction alone
 * (`bench/run --cases dkms-transaction --update-results`) rewrites its own block and nothing else,
 * adding its section once when the file has none; a full run rewrites the suite's blocks and the
 * DKMS block. (results-table.test.ts checks the committed file as a reader would.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DKMS_END, DKMS_START, HISTORY_END, LATEST_START, updatedResults, type BenchRun } from "../../bench/results.mjs";
import { ROOT } from "../helpers/paths.js";

const committed = readFileSync(join(ROOT, "bench/results.md"), "utf8");

const dkmsRow = "| dkms-transaction: weak-modules --add-modules (5 modules, 6 kernels, 2 with full trees) vs depmod -a for each kernel | 0.40 | 80 | 8.00 | 70 | 0.050 |  |  |";
const dkmsOnly: BenchRun = {
  date: "2026-12-04",
  repeat: 3,
  build: "abcdef1",
  inputs: "corpus $CORPUS; xz backend: x; cores: 2",
  command: "bench/run --cases dkms-transaction --repeat 3 --update-results",
  dkms: { table: ["| case | ... |", dkmsRow], commands: ["Commands:", "- dkms-transaction: ..."] },
};

const between = (text: string, start: string, end: string): string => text.slice(text.indexOf(start), text.indexOf(end) + end.length);
const withoutDkms = (text: string): string => text.slice(0, text.indexOf("## DKMS transaction"));

describe("bench/results.mjs", () => {
  it("rewrites only the DKMS block for a run of that case alone", () => {
    const out = updatedResults(committed, dkmsOnly);
    expect(withoutDkms(out)).toBe(withoutDkms(committed));
    const block = between(out, DKMS_START, DKMS_END);
    expect(block).toContain(dkmsRow);
    expect(block).toContain("<!-- written by bench/run --cases dkms-transaction --repeat 3 --update-results on 2026-12-04; 3 run(s) each; build abcdef1 -->");
    expect(block).toContain("- inputs: corpus $CORPUS; xz backend: x; cores: 2");
    // Everything after the block (nothing, or hand-written notes) is kept.
    expect(out.slice(out.indexOf(DKMS_END))).toBe(committed.slice(committed.indexOf(DKMS_END)));
  });

  it("adds the DKMS section once to a file that has none", () => {
    const before = withoutDkms(committed).trimEnd() + "\n";
    const once = updatedResults(before, dkmsOnly);
    expect(once.startsWith(before.trimEnd())).toBe(true);
    expect(once.split(DKMS_START)).toHaveLength(2);
    const twice = updatedResults(once, { ...dkmsOnly, date: "2026-12-05" });
    expect(twice.split(DKMS_START)).toHaveLength(2);
    expect(twice).toContain("on 2026-12-05;");
    expect(twice).not.toContain("on 2026-12-04;");
  });

  it("rewrites the suite's blocks and the DKMS block for a full run", () => {
    const full: BenchRun = {
      ...dkmsOnly,
      command: "bench/run --repeat 3 --update-results",
      table: ["| case | ... |", "| 1. x | 1.00 | 1 | 2.00 | 1 | 0.500 |  |  |"],
      commands: ["Commands:"],
      rows: [{ name: "1. x", ratio: 0.5 }],
      startup: { before: 0.1, after: 0.2 },
    };
    const out = updatedResults(committed, full);
    expect(between(out, LATEST_START, HISTORY_END)).toContain("| 1. x | 1.00 |");
    const history = between(out, LATEST_START, HISTORY_END).split("\n");
    expect(history[history.length - 2]).toMatch(/^\| 2026-12-04 \| `abcdef1` \| 0\.100 \/ 0\.200 \| 0\.500 \|/);
    expect(between(out, DKMS_START, DKMS_END)).toContain("<!-- written by bench/run --repeat 3 --update-results on 2026-12-04;");
    expect(between(out, DKMS_START, DKMS_END)).toContain(dkmsRow);
  });
});
