// bench/results.md: what `bench/run --update-results` writes (see bench/bench.mjs).
//
// The file has two blocks the bench owns, each between markers, and hand-written notes around them:
// - the latest run: its table, its summary lines, its inputs and every command it measured;
// - the history: one row per full run written (date, build, machine speed, each case's ratio,
//   the add-modules wall time), oldest first, the latest run's row last.
// Everything outside the markers is kept as it is. test/bench/results-table.test.ts checks that
// the latest block is one whole, self-consistent run and that the history's last row is its.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const LATEST_START = "<!-- bench-latest:start -->";
export const LATEST_END = "<!-- bench-latest:end -->";
export const HISTORY_START = "<!-- bench-history:start -->";
export const HISTORY_END = "<!-- bench-history:end -->";

/** The history's columns: the row-name prefix bench.mjs gives each case, and the column's title. */
export const CASE_COLUMNS = [
  ["1. ", "1"],
  ["2. ", "2"],
  ["3a. ", "3a"],
  ["3b. ", "3b"],
  ["weak-modules --add-modules ", "add-modules"],
  ["weak-modules --add-kernel ", "add-kernel"],
  ["5. ", "5"],
  ["6. ", "6"],
];

export const HISTORY_HEAD = [
  `| date | build | \`node -e 0\` before / after (s) | ${CASE_COLUMNS.map(([, t]) => t).join(" | ")} | add-modules wall (s) |`,
  `|---|---|---|${CASE_COLUMNS.map(() => "---:").join("|")}|---:|`,
];

const TEMPLATE = `# Benchmark results

Written by \`bench/run --update-results\` (bench/bench.mjs); the two blocks between markers are
the bench's, the rest is kept as it is. test/bench/results-table.test.ts checks that the latest run
is one whole, self-consistent run: do not edit its numbers by hand.

## Latest run

${LATEST_START}
${LATEST_END}

## History

Every full run written here, oldest first: each case's ratio (kabi over its reference; lower is
better), and the speed of the machine during the run (\`node -e 0\` before the first case and after
the last).

${HISTORY_START}
${HISTORY_END}
`;

/**
 * The text of results.md after a full run: `run` = { date, repeat, build, inputs, table (lines),
 * commands (lines), rows (bench.mjs rows), startup: { before, after } }.
 */
export function updatedResults(text, run) {
  const latest = [
    LATEST_START,
    `<!-- written by bench/bench.mjs --update-results on ${run.date}; ${run.repeat} run(s) each; build ${run.build} -->`,
    "",
    ...run.table,
    `- inputs: ${run.inputs}`,
    "",
    ...run.commands,
    LATEST_END,
  ].join("\n");
  text = replaceBlock(text, LATEST_START, LATEST_END, latest);
  const ratio = (prefix) => {
    const r = run.rows.find((x) => !x.skipped && x.name.startsWith(prefix));
    return r === undefined ? "" : r.ratio.toFixed(3);
  };
  const add = run.rows.find((x) => x.absolute);
  const row = `| ${run.date} | \`${run.build}\` | ${run.startup.before.toFixed(3)} / ${run.startup.after.toFixed(3)} | ${CASE_COLUMNS.map(([p]) => ratio(p)).join(" | ")} | ${add === undefined ? "" : add.absolute.value.toFixed(2)} |`;
  const a = text.indexOf(HISTORY_START);
  const b = text.indexOf(HISTORY_END);
  const old = text
    .slice(a + HISTORY_START.length, b)
    .split("\n")
    .filter((l) => l.startsWith("| ") && !HISTORY_HEAD.includes(l));
  return replaceBlock(text, HISTORY_START, HISTORY_END, [HISTORY_START, ...HISTORY_HEAD, ...old, row, HISTORY_END].join("\n"));
}

function replaceBlock(text, start, end, block) {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`bench/results.md has no ${start} ... ${end} block`);
  return text.slice(0, a) + block + text.slice(b + end.length);
}

/** Writes `run` into the results file (created from the template when missing). */
export function writeResults(file, run) {
  const text = existsSync(file) ? readFileSync(file, "utf8") : TEMPLATE;
  writeFileSync(file, updatedResults(text, run));
}
