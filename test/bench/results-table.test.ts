/**
 * bench/results.md is written by `bench/run --update-results` (bench/bench.mjs, bench/results.mjs):
 * the latest full run between the bench-latest markers, and one history row per run between the
 * bench-history markers. This checks the latest run there is one such run's, whole and
 * self-consistent: every case of the suite has a row and its commands, each ratio is its kabi time
 * over its reference time, each verdict follows from its ratio and target, and the history's last
 * row is this run's. A hand edit of one number, or a table from a partial run, fails here.
 * The DKMS transaction (issue 15) has its own block, bench-dkms, checked the same way, and so has
 * the package audit (issue 16), bench-package.
 * Deliberately independent of bench/results.mjs: it reads the file as a reader would.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";

const RESULTS = join(ROOT, "bench/results.md");

/** The row-name prefixes bench.mjs gives its cases (see its `steps`), with their history column. */
const CASES: [prefix: string, column: string][] = [
  ["1. ", "1"],
  ["2. ", "2"],
  ["3a. ", "3a"],
  ["3b. ", "3b"],
  ["weak-modules --add-modules ", "add-modules"],
  ["weak-modules --add-kernel ", "add-kernel"],
  ["5. ", "5"],
  ["6. ", "6"],
];

interface Row {
  name: string;
  kabi: number;
  ref: number;
  ratio: number;
  target: number | undefined;
  verdict: string;
}

function block(text: string, name: string): string {
  const start = `<!-- bench-${name}:start -->`;
  const end = `<!-- bench-${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  expect(a, `bench/results.md has the bench-${name} markers`).toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  expect(text.indexOf(start, a + 1), `one bench-${name} block`).toBe(-1);
  return text.slice(a + start.length, b);
}

const cells = (line: string): string[] => line.split("|").slice(1, -1).map((s) => s.trim());

function rows(block: string): Row[] {
  return block
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| case ") && !l.startsWith("|---"))
    .map((l) => {
      const c = cells(l);
      expect(c, l).toHaveLength(8);
      const target = c[6] === "" ? undefined : Number(c[6].replace(/^≤\s*/, ""));
      return { name: c[0], kabi: Number(c[1]), ref: Number(c[3]), ratio: Number(c[5]), target, verdict: c[7] };
    });
}

/** Each ratio is its kabi time over its reference time (to the printed rounding), each verdict follows from it. */
function expectConsistent(r: Row): void {
  for (const v of [r.kabi, r.ref, r.ratio]) expect(Number.isFinite(v) && v > 0, r.name).toBe(true);
  // The times are printed to 0.01 s: the ratio of the printed times may differ by that rounding.
  const lo = (r.kabi - 0.005) / (r.ref + 0.005);
  const hi = (r.kabi + 0.005) / (r.ref - 0.005);
  expect(r.ratio, r.name).toBeGreaterThanOrEqual(lo - 0.0005);
  expect(r.ratio, r.name).toBeLessThanOrEqual(hi + 0.0005);
  if (r.target === undefined) expect(r.verdict, r.name).toBe("");
  else expect(r.verdict, r.name).toBe(r.ratio <= r.target ? "ok" : "MISSED");
}

/** The kabi and reference commands listed under a row's name. */
function expectCommands(block: string, r: Row): void {
  const at = block.indexOf(`\n- ${r.name}\n`);
  expect(at, `commands of ${r.name}`).toBeGreaterThan(0);
  const [, kabi, ref] = block.slice(at + 1).split("\n");
  expect(kabi, r.name).toMatch(/^ {2}- kabi: `.*(kabi|weak-modules)\.js .+`$/);
  expect(ref, r.name).toMatch(/^ {2}- reference: `.+`$/);
}

describe("bench/results.md", () => {
  const text = readFileSync(RESULTS, "utf8");
  const latest = block(text, "latest");
  const history = block(text, "history");
  const header = /<!-- written by bench\/bench\.mjs --update-results on (\d{4}-\d{2}-\d{2}); (\d+) run\(s\) each; build ([0-9a-f]{7,}(?:-dirty)?) -->/.exec(latest);

  it("says the latest run was written by the bench, with the date, the repetitions and the build", () => {
    expect(header).not.toBeNull();
  });

  it("has one row per case of the suite, none skipped or failed", () => {
    const names = rows(latest).map((r) => r.name);
    expect(names).toHaveLength(CASES.length);
    CASES.forEach(([prefix], i) => expect(names[i]!.startsWith(prefix), `${names[i]} is case ${prefix}`).toBe(true));
    expect(latest).not.toMatch(/FAILED|skipped/);
  });

  it("gives each ratio as kabi over reference, and each verdict from ratio and target", () => {
    for (const r of rows(latest)) expectConsistent(r);
  });

  it("follows the table with the case-2 memory, the add-modules wall time, the machine's speed and the inputs", () => {
    const rss = /- peak RSS, case 2 \(kabi\): (\d+) MB \(target < 256 MB\)( MISSED)?/.exec(latest);
    expect(rss).not.toBeNull();
    expect(rss![2] === undefined).toBe(Number(rss![1]) < 256);
    const wall = /- weak-modules --add-modules wall: ([\d.]+) s \(target < 1 s\)( MISSED)?/.exec(latest);
    expect(wall).not.toBeNull();
    expect(wall![2] === undefined).toBe(Number(wall![1]) < 1);
    expect(latest).toMatch(/- machine speed .*`node -e 0` took [\d.]+ s before the first case and [\d.]+ s after the last/);
    expect(latest).toMatch(/- inputs: corpus .*; xz backend: .*; cores: \d+/);
  });

  it("lists the commands of every case: kabi's and the reference's", () => {
    for (const r of rows(latest)) expectCommands(latest, r);
  });

  it("ends the history with the latest run's row: same date, build, machine speed and ratios", () => {
    const lines = history.split("\n").filter((l) => l.startsWith("| "));
    const head = cells(lines[0]!);
    expect(head.slice(0, 3)).toEqual(["date", "build", "`node -e 0` before / after (s)"]);
    expect(head.slice(3, 3 + CASES.length)).toEqual(CASES.map(([, c]) => c));
    expect(head[3 + CASES.length]).toBe("add-modules wall (s)");
    const body = lines.slice(1).map(cells);
    expect(body.length).toBeGreaterThan(0);
    for (const c of body) {
      expect(c, c.join(" | ")).toHaveLength(head.length);
      expect(c[0]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(c[1]).toMatch(/^`[0-9a-f]{7,}(-dirty)?`$/);
      expect(c[2]).toMatch(/^\d+\.\d{3} \/ \d+\.\d{3}$/);
      for (const v of c.slice(3)) expect(v === "" || /^\d+\.\d+$/.test(v), v).toBe(true);
    }
    const [date, , build] = header!.slice(1);
    const last = body[body.length - 1]!;
    expect(last[0]).toBe(date);
    expect(last[1]).toBe(`\`${build}\``);
    const speed = /`node -e 0` took ([\d.]+) s before the first case and ([\d.]+) s after the last/.exec(latest)!;
    expect(last[2]).toBe(`${speed[1]} / ${speed[2]}`);
    const byPrefix = rows(latest);
    CASES.forEach(([prefix, column], i) => {
      const r = byPrefix.find((x) => x.name.startsWith(prefix))!;
      expect(last[3 + i], column).toBe(r.ratio.toFixed(3));
    });
    const wall = /- weak-modules --add-modules wall: ([\d.]+) s/.exec(latest)!;
    expect(last[3 + CASES.length]).toBe(wall[1]);
  });
});

describe("bench/results.md, the DKMS transaction", () => {
  const dkms = block(readFileSync(RESULTS, "utf8"), "dkms");

  it("says it was written by the bench, with the command, the date, the repetitions and the build", () => {
    expect(dkms).toMatch(/<!-- written by bench\/run .*--update-results.* on \d{4}-\d{2}-\d{2}; \d+ run\(s\) each; build [0-9a-f]{7,}(?:-dirty)? -->/);
  });

  it("has the one transaction row, of the size issue 15 asks, from the full corpus", () => {
    const [r, ...more] = rows(dkms);
    expect(more).toHaveLength(0);
    expect(r!.name).toMatch(/^dkms-transaction: weak-modules --add-modules \(5 modules, 6 kernels, 2 with full trees\) vs depmod -a for each kernel$/);
    expect(dkms).not.toMatch(/FAILED|skipped/);
    expect(dkms).toMatch(/- inputs: corpus .*; xz backend: .*; cores: \d+/);
    // The two full trees are the corpus's, not --ci's 300-module ones.
    const trees = /\(([^:]+): (\d+) modules, ([^:]+): (\d+) modules; the others (\d+)\)/.exec(dkms);
    expect(trees, "the trees' sizes in the note").not.toBeNull();
    expect(Number(trees![2])).toBeGreaterThan(1000);
    expect(Number(trees![4])).toBeGreaterThan(1000);
  });

  it("gives the ratio as kabi over reference, the machine's speed and the commands, with the depmod kabi ran", () => {
    const [r] = rows(dkms);
    expectConsistent(r!);
    expectCommands(dkms, r!);
    expect(dkms).toMatch(/- machine speed .*`node -e 0` took [\d.]+ s before the first case and [\d.]+ s after the last/);
    expect(dkms).toMatch(/kabi's depmod runs \(included in its time\): (none|depmod -a -b \S+ -- \S+(; depmod -a -b \S+ -- \S+)*);/);
  });
});

describe("bench/results.md, the package audit", () => {
  const pkg = block(readFileSync(RESULTS, "utf8"), "package");

  it("says it was written by the bench, with the command, the date, the repetitions and the build", () => {
    expect(pkg).toMatch(/<!-- written by bench\/run .*--update-results.* on \d{4}-\d{2}-\d{2}; \d+ run\(s\) each; build [0-9a-f]{7,}(?:-dirty)? -->/);
  });

  it("has the one row of issue 16: the 6.12 image package, its whole tree, under 300 MB", () => {
    const [r, ...more] = rows(pkg);
    expect(more).toHaveLength(0);
    expect(r!.name).toMatch(/^package-audit: kabi audit of linux-image-6\.12\.\S+_amd64\.deb vs dpkg-deb -x \+ kabi audit of the tree \((\d+) modules\)$/);
    expect(Number(/\((\d+) modules\)$/.exec(r!.name)![1])).toBeGreaterThan(4000);
    expect(pkg).not.toMatch(/FAILED|skipped/);
    const rss = /- peak RSS, package-audit \(kabi\): (\d+) MB \(target < 300 MB\)( MISSED)?/.exec(pkg);
    expect(rss).not.toBeNull();
    expect(rss![2]).toBeUndefined();
    expect(Number(rss![1])).toBeLessThan(300);
    expect(Number(cells(pkg.split("\n").find((l) => l.startsWith("| package-audit"))!)[2])).toBe(Number(rss![1]));
  });

  it("gives the ratio as kabi over reference, the machine's speed, the inputs and the commands", () => {
    const [r] = rows(pkg);
    expectConsistent(r!);
    expectCommands(pkg, r!);
    expect(pkg).toMatch(/- machine speed .*`node -e 0` took [\d.]+ s before the first case and [\d.]+ s after the last/);
    expect(pkg).toMatch(/- inputs: corpus .*; xz backend: .*; cores: \d+/);
  });
});
