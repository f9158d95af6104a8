/**
 * The HTML report (`kabi audit --html FILE`) in a real browser: Debian's chromium, headless, driven
 * by playwright-core, the page opened from its file with every network request refused. What the
 * page shows is checked against independent sources: the JSON report of the same audit (the
 * verdicts, so the colours and the totals) and the text report (each cell's reason lines).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditInput } from "../../src/audit/audit-report.js";
import { auditHtml } from "../../src/audit/html-report.js";
import { main } from "../../src/cli/main.js";
import { evaluate } from "../../src/engine/index.js";
import { loadKernelTargets } from "../../src/load/kernel-targets.js";
import { readModules } from "../../src/load/read-many.js";
import { chromiumPresent, launchChromium, openOffline } from "../helpers/browser.js";
import { captureIO } from "../helpers/capture-io.js";
import { committedModules, MALFORMED, MODULE_FIXTURES, PROVIDER_61, ROOT } from "../helpers/paths.js";
import { requireUnderCi } from "../helpers/required.js";
import type { AuditReport } from "./whole-report.js";

// The inputs of `npm run demo` (package.json): the fixtures' audit.
const KERNELS = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64"];
const SYMVERS = KERNELS.map((k) => ({ release: k, file: join(ROOT, "fixtures/symvers", `${k}.symvers.gz`) }));
const DEMO_ARGS = [...SYMVERS.flatMap((s) => ["--symvers", `${s.release}=${s.file}`]), join(MODULE_FIXTURES, KERNELS[0]), join(MODULE_FIXTURES, KERNELS[2])];
const ARTIFACTS = join(ROOT, "test-artifacts");

type Hue = "green" | "amber" | "red" | "grey" | "other";

/** The hue of a CSS colour ("rgb(r, g, b)"), by its channels: what a reader sees, not a palette entry. */
function hue(css: string): Hue {
  const m = /^rgba?\((\d+), (\d+), (\d+)/.exec(css);
  if (m === null) return "other";
  const [r, g, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (Math.max(r, g, b) - Math.min(r, g, b) < 24) return "grey";
  if (g > r + 40 && g > b + 40) return "green";
  if (r > 180 && g > 120 && b < 110 && r > g) return "amber";
  if (r > 150 && g < 110 && b < 110) return "red";
  return "other";
}

/** The verdict JSON says for a pair, as the colour a reader should see: ok green, ok? amber, incompatible red, not judged grey. */
function expectedHue(report: AuditReport, m: number, release: string): Hue {
  const module = report.modules[m]!;
  const pair = module.kernels[release];
  if (pair === undefined) return "grey";
  if (!pair.compatible) return "red";
  return module.hasModversions ? "green" : "amber";
}

/** A pair's block in the text report (`--verbose`): its headline, if any, and every reason line. */
interface TextBlock {
  headline: string | null;
  lines: string[];
}

/**
 * The text report's blocking reasons, "<module> on <release>" → its block. Under `--verbose` a
 * pair with a headline prints it (indented 4) with every reason line under it (indented 6); a pair
 * without one prints its reason lines (indented 4).
 */
function blockingSections(text: string): Map<string, TextBlock> {
  const out = new Map<string, TextBlock>();
  const lines = text.split("\n");
  let at = lines.indexOf("blocking:");
  expect(at).toBeGreaterThan(0);
  let raw: string[] = [];
  let key: string | null = null;
  const close = () => {
    if (key === null) return;
    const nested = raw.some((l) => l.startsWith("  "));
    out.set(key, nested ? { headline: raw[0]!, lines: raw.slice(1).map((l) => l.slice(2)) } : { headline: null, lines: raw });
  };
  for (at++; at < lines.length; at++) {
    const line = lines[at]!;
    if (line.startsWith("    ") && key !== null) raw.push(line.slice(4));
    else if (line.startsWith("  ") && line.endsWith(":")) {
      close();
      key = line.slice(2, -1);
      raw = [];
    } else break;
  }
  close();
  return out;
}

interface DrawnCell {
  m: number;
  k: number;
  mark: string;
  background: string;
  title: string;
}

const drawnCells = (page: Page): Promise<DrawnCell[]> =>
  page.$$eval("#body .cell", (cells) =>
    cells.map((c) => {
      const e = c as HTMLElement;
      return { m: Number(e.dataset.m), k: Number(e.dataset.k), mark: e.dataset.mark ?? "", background: getComputedStyle(e).backgroundColor, title: e.title };
    }),
  );

const drawnRowPaths = (page: Page): Promise<string[]> => page.$$eval("#body .row .name", (names) => names.map((n) => (n as HTMLElement).title));

let browser: Browser | null = null;
const temps: string[] = [];
beforeAll(async () => {
  if (chromiumPresent()) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  temps.forEach((t) => rmSync(t, { recursive: true, force: true }));
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kabi-html-"));
  temps.push(dir);
  return dir;
}

describe("kabi audit --html in chromium", () => {
  it("shows the fixtures' audit: every cell coloured by its verdict, the totals, the filters and each cell's reasons, with no network request", async (ctx) => {
    requireUnderCi(chromiumPresent(), "chromium (/usr/bin/chromium, Debian package chromium)", () => ctx.skip());
    const file = join(tempDir(), "report.html");
    const htmlRun = captureIO();
    const code = await main(["audit", "--html", file, ...DEMO_ARGS], htmlRun);
    expect(htmlRun.stderr).toBe("");
    expect(code).toBe(1);
    // The independent sources: the JSON report and the text report of the same audit.
    const jsonRun = captureIO();
    expect(await main(["audit", "--json", ...DEMO_ARGS], jsonRun)).toBe(1);
    const report = JSON.parse(jsonRun.stdout) as AuditReport;
    // Every reason line of every pair: the text report with --verbose (the same audit).
    const textRun = captureIO();
    expect(await main(["audit", "--verbose", ...DEMO_ARGS], textRun)).toBe(1);
    const blocking = blockingSections(textRun.stdout);
    const releases = report.kernels.map((k) => k.release);
    expect(releases).toEqual(KERNELS);

    const { page, attempted, pageErrors } = await openOffline(browser!, file);

    // Every module a row, every pair a cell, each coloured as its verdict says.
    expect(await drawnRowPaths(page)).toEqual(report.modules.map((m) => m.path));
    const cells = await drawnCells(page);
    expect(cells).toHaveLength(report.modules.length * releases.length);
    const colours = cells.map((c) => ({ m: c.m, k: c.k, hue: hue(c.background) }));
    const expected = cells.map((c) => ({ m: c.m, k: c.k, hue: expectedHue(report, c.m, releases[c.k]!) }));
    expect(colours).toEqual(expected);
    // The fixtures' audit has each of ok, ok? and incompatible (a colour check over one hue would prove little).
    expect(new Set(expected.map((e) => e.hue))).toEqual(new Set(["green", "amber", "red"]));

    // Per-kernel totals (header) and per-module totals (last column), counted from the JSON.
    const kinds = ["ok", "names", "no", "none"] as const;
    const kindOf = (h: Hue): (typeof kinds)[number] => (h === "green" ? "ok" : h === "amber" ? "names" : h === "red" ? "no" : "none");
    const kernelTotals = await page.$$eval("[data-totals-kernel]", (boxes) =>
      boxes.map((b) => Object.fromEntries([...b.querySelectorAll(".pill")].map((p) => [(p as HTMLElement).dataset.kind, Number(p.textContent)]))),
    );
    expect(kernelTotals).toEqual(
      releases.map((release) => {
        const counts: Record<string, number> = { ok: 0, names: 0, no: 0, none: 0 };
        report.modules.forEach((_, m) => counts[kindOf(expectedHue(report, m, release))]!++);
        return counts;
      }),
    );
    const moduleTotals = await page.$$eval("[data-totals-module]", (boxes) =>
      boxes.map((b) => Object.fromEntries([...b.querySelectorAll(".pill")].map((p) => [(p as HTMLElement).dataset.kind, Number(p.textContent)]))),
    );
    expect(moduleTotals).toEqual(
      report.modules.map((_, m) => {
        const counts: Record<string, number> = {};
        for (const release of releases) {
          const kind = kindOf(expectedHue(report, m, release));
          counts[kind] = (counts[kind] ?? 0) + 1;
        }
        return counts;
      }),
    );

    // Each incompatible cell: a click shows the text report's lines for that pair, its title starts with them.
    let clicked = 0;
    for (const cell of cells) {
      const module = report.modules[cell.m]!;
      const pair = module.kernels[releases[cell.k]!];
      if (pair === undefined || pair.compatible) continue;
      const name = await page.textContent(`#body .row[data-m="${cell.m}"] .name`);
      const block = blocking.get(`${name} on ${releases[cell.k]}`) ?? blocking.get(`${module.path} on ${releases[cell.k]}`);
      expect(block, `${module.path} on ${releases[cell.k]}`).toBeDefined();
      await page.click(`#body .cell[data-m="${cell.m}"][data-k="${cell.k}"]`);
      expect(await page.$$eval("#pane-reasons li", (li) => li.map((l) => l.textContent))).toEqual(block!.lines);
      expect(await page.$$eval("#pane-headline", (h) => h.map((e) => e.textContent))).toEqual(block!.headline === null ? [] : [block!.headline]);
      expect(await page.textContent("#pane-verdict")).toContain("NO");
      // The hover title: the verdict, then the headline and the first lines.
      const title = cell.title.split("\n").slice(1).map((l) => l.trim());
      expect(title).toEqual([...(block!.headline === null ? [] : [block!.headline]), ...block!.lines.slice(0, 12)]);
      clicked++;
    }
    expect(clicked).toBe(cells.filter((c) => expectedHue(report, c.m, releases[c.k]!) === "red").length);

    // By keyboard: a cell focused opens its pane with Enter.
    await page.focus('#body .cell[data-m="0"][data-k="1"]');
    await page.keyboard.press("Enter");
    expect(await page.$eval("#pane", (p) => [(p as HTMLElement).dataset.m, (p as HTMLElement).dataset.k])).toEqual(["0", "1"]);
    expect(await page.$eval("#body .cell.selected", (c) => [(c as HTMLElement).dataset.m, (c as HTMLElement).dataset.k, c === document.activeElement])).toEqual(["0", "1", true]);

    // The module filter: typing narrows the rows to the modules whose name holds the text.
    await page.fill("#filter", "consumer");
    await page.waitForFunction(() => document.querySelectorAll("#body .row").length < 10);
    expect(await drawnRowPaths(page)).toEqual(report.modules.map((m) => m.path).filter((p) => basename(p).includes("consumer")));
    await page.fill("#filter", "");
    await page.waitForFunction((n) => document.querySelectorAll("#body .row").length === n, report.modules.length);

    // A kernel unticked hides its column (cells and header), and comes back when ticked.
    await page.uncheck('input[data-kernel="1"]');
    const narrowed = await drawnCells(page);
    expect(narrowed).toHaveLength(report.modules.length * (releases.length - 1));
    expect(narrowed.some((c) => c.k === 1)).toBe(false);
    expect(await page.$$eval("#head .kernel", (hs) => hs.map((h) => (h as HTMLElement).dataset.k))).toEqual(["0", "2"]);
    await page.check('input[data-kernel="1"]');
    expect(await drawnCells(page)).toHaveLength(report.modules.length * releases.length);

    // The screenshot of the run: a cell with a headline and several reasons selected.
    const shown = cells.find((c) => report.modules[c.m]!.path.endsWith("6.1.0-53-amd64/kabi_no_import_ns.ko") && c.k === 2)!;
    await page.click(`#body .cell[data-m="${shown.m}"][data-k="${shown.k}"]`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, "html-report.png");
    await page.screenshot({ path: screenshot });
    console.log(`screenshot of the fixtures' HTML report: ${screenshot}`);

    expect(pageErrors).toEqual([]);
    expect(attempted).toEqual([]);
  });

  it("lists the input errors, as stderr words them, in a colour of their own", async (ctx) => {
    requireUnderCi(chromiumPresent(), "chromium (/usr/bin/chromium, Debian package chromium)", () => ctx.skip());
    const file = join(tempDir(), "errors.html");
    const io = captureIO();
    const bad = [join(MALFORMED, "not-elf.ko"), join(MALFORMED, "empty.ko")];
    expect(await main(["audit", "--html", file, "--symvers", `${SYMVERS[0]!.release}=${SYMVERS[0]!.file}`, PROVIDER_61, ...bad], io)).toBe(2);
    const stderrLines = io.stderr.split("\n").filter((l) => l !== "").map((l) => l.replace(/^kabi audit: /, ""));
    expect(stderrLines).toHaveLength(2);
    const { page, attempted, pageErrors } = await openOffline(browser!, file);
    expect(await page.$$eval("#errors li", (li) => li.map((l) => l.textContent))).toEqual(stderrLines);
    const colours = await page.$eval("#errors", (e) => [getComputedStyle(e).borderTopColor, getComputedStyle(e.querySelector("summary")!).color]);
    // Violet: red and blue well above green, unlike any verdict colour.
    for (const c of colours) {
      const [r, g, b] = /\d+/g[Symbol.match](c)!.map(Number);
      expect(b! > g! + 60 && r! > g! + 30, c).toBe(true);
    }
    expect(await page.textContent("#summary")).toContain("2 input errors");
    expect(await drawnRowPaths(page)).toEqual([PROVIDER_61]);
    expect(pageErrors).toEqual([]);
    expect(attempted).toEqual([]);
  });

  it("keeps a 4,500-module report to a bounded number of row elements, and scrolling to the end shows the last module", async (ctx) => {
    requireUnderCi(chromiumPresent(), "chromium (/usr/bin/chromium, Debian package chromium)", () => ctx.skip());
    // A whole tree's worth of modules: the fixtures' modules once, then their consumers (those that
    // export nothing, so that every copy is judged against the same providers) over and over, each
    // copy in a folder of its own.
    const files = [...committedModules(join(MODULE_FIXTURES, KERNELS[0])), ...committedModules(join(MODULE_FIXTURES, KERNELS[2]))];
    const read = await readModules(files, { cache: false });
    expect(read.errors).toEqual([]);
    const tree = "/synthetic/tree";
    const copy = (records: typeof read.records, n: number) => records.map((r) => ({ ...r, path: `${tree}/copy${String(n).padStart(3, "0")}/${r.builtFor}/${basename(r.path)}` }));
    const consumers = read.records.filter((r) => r.exports.length === 0);
    const copies = Math.ceil(4500 / consumers.length);
    const modules = [...copy(read.records, 0), ...Array.from({ length: copies }, (_, n) => copy(consumers, n + 1)).flat()];
    expect(modules.length).toBeGreaterThanOrEqual(4000);
    const kernels = await loadKernelTargets({ explicit: SYMVERS, releases: [], basedir: "/", cache: false });
    expect(kernels.errors).toEqual([]);
    const input: AuditInput = {
      kernels: kernels.kernels.map((k) => ({ release: k.release, symvers: k.symversPath })),
      modules,
      report: evaluate(modules, kernels.kernels),
      errors: [],
      symversProblems: [],
      operands: [tree],
    };
    const file = join(tempDir(), "large.html");
    writeFileSync(file, auditHtml(input));
    const { page, attempted, pageErrors } = await openOffline(browser!, file);
    const rowCount = () => page.$$eval("#body .row", (rows) => rows.length);
    const bounded = 120;
    expect(await rowCount()).toBeLessThanOrEqual(bounded);
    expect(await page.textContent("#shown-count")).toBe(`${modules.length} modules`);
    // Scrolled to the end: the last module's row is drawn and in view, still with few rows in the DOM.
    await page.$eval("#matrix", (m) => (m.scrollTop = m.scrollHeight));
    const last = modules.length - 1;
    await page.waitForSelector(`#body .row[data-m="${last}"]`);
    expect(await page.textContent(`#body .row[data-m="${last}"] .name`)).toBe(modules[last]!.path.slice(tree.length + 1));
    const inView = await page.$eval(`#body .row[data-m="${last}"]`, (row) => {
      const r = row.getBoundingClientRect();
      const box = document.getElementById("matrix")!.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom + 1;
    });
    expect(inView).toBe(true);
    expect(await rowCount()).toBeLessThanOrEqual(bounded);
    expect(pageErrors).toEqual([]);
    expect(attempted).toEqual([]);
    // The reason lines are stored once each: the copies repeat the same lines, the page holds them once.
    const data = JSON.parse(/<script type="application\/json" id="kabi-data">([^<]*)<\/script>/.exec(readFileSync(file, "utf8"))![1]!) as { strings: string[]; lists: number[][]; cells: number[] };
    let lineRefs = 0;
    for (let at = 0; at < data.cells.length; at += 4) if (data.cells[at + 2]! >= 0) lineRefs += data.lists[data.cells[at + 2]!]!.length;
    expect(lineRefs).toBeGreaterThan(10_000);
    expect(data.strings.length).toBeLessThan(200);
  });
});
