// bench/results.md: what `bench/run --update-results` writes (see bench/bench.mjs).
//
// The file has two blocks the bench owns, each between markers, and hand-written notes around them:
// - the latest run: its table, its summary lines, its inputs and every command it measured;
// - the history: one row per full run written (date, build, machine speed, each case's ratio,
//   the add-modules wall time), oldest first, the latest run's row last.
// - the DKMS transaction (bench.mjs's dkmsCase): its table, inputs and commands, written by a full
//   run or by `--cases dkms-transaction` alone; its section is added at the end when missing.
// - the package audit (bench.mjs's packageCase): the same, with `--cases package-audit`.
// Everything outside the markers is kept as it is. test/bench/results-table.test.ts checks that
// the latest block is one whole, self-consistent run and that the history's last row is its.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const LATEST_START = "<!-- bench-latest:start -->";
export const LATEST_END = "<!-- bench-latest:end -->";
export const HISTORY_START = "<!-- bench-history:start -->";
export const HISTORY_END = "<!-- bench-history:end -->";
export const DKMS_START = "<!-- bench-dkms:start -->";
export const DKMS_END = "<!-- bench-dkms:end -->";
export const PACKAGE_START = "<!-- bench-package:start -->";
export const PACKAGE_END = "<!-- bench-package:end -->";

const PACKAGE_SECTION = `## Package audit

A kernel package audited as downloaded (\`kabi audit linux-image-*.deb\`, docs/packages.md), against
unpacking it with \`dpkg-deb -x\` and auditing the tree (bench.mjs, \`packageCase\`): time, and peak
memory, which must stay under 300 MB. Not part of the history's columns; a run of this case alone
(\`--cases package-audit --update-results\`) rewrites only this block.

${PACKAGE_START}
${PACKAGE_END}
`;

const DKMS_SECTION = `## DKMS transaction

What one \`dkms install\` of a package of 5 modules costs with kabi's \`weak-modules --add-modules\`
(its own \`depmod -a\` runs included) on a root with 6 installed kernels, against the \`depmod -a\` per
kernel that Red Hat's weak-modules and dkms run (bench.mjs, \`dkmsCase\`). Not part of the history's
columns; a run of this case alone (\`--cases dkms-transaction --update-results\`) rewrites only this block.

${DKMS_START}
${DKMS_END}
`;

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
 * The text of results.md after a run: `run` = { date, repeat, build, inputs, command, table (lines),
 * commands (lines), rows (bench.mjs rows of the suite), startup: { before, after }, dkms: { table,
 * commands } }. Without `table` (the DKMS case alone) only the DKMS block is written; without
 * `dkms` it is left as it is.
 */
export function updatedResults(text, run) {
  if (run.table !== undefined) text = updatedSuite(text, run);
  if (run.dkms !== undefined) text = updatedBlock(text, run, run.dkms, DKMS_START, DKMS_END, DKMS_SECTION);
  if (run.package !== undefined) text = updatedBlock(text, run, run.package, PACKAGE_START, PACKAGE_END, PACKAGE_SECTION);
  return text;
}

/** A case's own block (its section added at the end when missing). */
function updatedBlock(text, run, part, start, end, section) {
  if (!text.includes(start)) text = `${text.trimEnd()}\n\n${section}`;
  const block = [
    start,
    `<!-- written by ${run.command} on ${run.date}; ${run.repeat} run(s) each; build ${run.build} -->`,
    "",
    ...part.table,
    `- inputs: ${run.inputs}`,
    "",
    ...part.commands,
    end,
  ].join("\n");
  return replaceBlock(text, start, end, block);
}

function updatedSuite(text, run) {
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
