/**
 * The text report people read: names relative to the paths given, headlines standing for their
 * reasons (all of them with --verbose), --summary, the totals block, colours on a terminal only.
 * Expected values come from the JSON document's pairs (the detailed verdicts and their old reason
 * lines), a walk of the directory of our own, kmod's modprobe, and Node's own colour decision.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { styleText } from "node:util";
import { Writable } from "node:stream";
import { WriteStream } from "node:tty";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { writeText } from "../../src/audit/audit-report.js";
import { main } from "../../src/cli/main.js";
import { streamTakesColors } from "../../src/cli/color.js";
import { verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import { captureIO } from "../helpers/capture-io.js";
import { haveModprobe } from "../helpers/kmod.js";
import { MODULE_FIXTURES, modulesUnder, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import type { AuditReport } from "./whole-report.js";

const K53 = "6.1.0-53-amd64";
const K54 = "6.1.0-54-amd64";
const K612 = "6.12.113+deb12-amd64";
const symversFile = (k: string): string => join(ROOT, "fixtures/symvers", `${k}.symvers.gz`);
const symversArgs = (...ks: string[]): string[] => ks.flatMap((k) => ["--symvers", `${k}=${symversFile(k)}`]);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIO();
  const code = await main(["audit", ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

async function both(args: string[]): Promise<{ text: string; json: AuditReport; code: number }> {
  const t = await run(args);
  const j = await run(["--json", ...args]);
  expect(j.code).toBe(t.code);
  return { text: t.stdout, json: JSON.parse(j.stdout) as AuditReport, code: t.code };
}

/** Per kernel, the counts of the JSON document's pairs. */
function pairCounts(r: AuditReport): { release: string; ok: number; namesOnly: number; no: number; none: number }[] {
  return r.kernels.map((k) => {
    const pairs = r.modules.map((m) => m.kernels[k.release]);
    return {
      release: k.release,
      ok: pairs.filter((p) => p?.compatible === true && !p.noModversions).length,
      namesOnly: pairs.filter((p) => p?.compatible === true && p.noModversions).length,
      no: pairs.filter((p) => p?.compatible === false).length,
      none: pairs.filter((p) => p === undefined).length,
    };
  });
}

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

describe("kabi audit text", () => {
  it("ends with the totals of the JSON pairs, the input errors counted, also when there are some (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kabi-text-"));
    temps.push(dir);
    writeFileSync(join(dir, "junk.ko"), "not a module");
    const args = [...symversArgs(K53, K54, K612), join(MODULE_FIXTURES, K53), join(dir, "junk.ko")];
    const { text, json, code } = await both(args);
    expect(code).toBe(2);
    expect(json.version).toBe(2);
    expect(json.errors).toHaveLength(1);
    const counts = pairCounts(json);
    const width = Math.max(...counts.map((c) => c.release.length));
    const expected = [
      `totals: ${json.modules.length} modules, 3 kernels, 1 input error (not audited: see the messages on stderr)`,
      // The kernel numbers as wide as the largest ([1] to [3] here).
      ...counts.map((c, i) => `  [${i + 1}] ${c.release.padEnd(width)}  ${c.ok} compatible, ${c.namesOnly} judged by names only, ${c.no} incompatible`),
    ];
    expect(text.endsWith("\n\n" + expected.join("\n") + "\n")).toBe(true);
    // The JSON totals: the same counts.
    expect(json.totals).toEqual({
      modules: json.modules.length,
      kernels: counts.map((c) => ({ release: c.release, compatible: c.ok, namesOnly: c.namesOnly, incompatible: c.no, notJudged: c.none })),
      errors: 1,
    });
    // Each kind of count is there (kabi_noversions: by names; 6.1 modules on 6.12: incompatible).
    expect(counts.some((c) => c.ok > 0) && counts.some((c) => c.namesOnly > 0) && counts.some((c) => c.no > 0)).toBe(true);
  });

  it("the totals' kernel names start in one column with ten kernels or more, and not-judged cells are counted", () => {
    const kernels = Array.from({ length: 12 }, (_, i) => ({ release: `6.1.0-${40 + i}-amd64`, symvers: "-" }));
    const parts: Buffer[] = [];
    writeText(
      {
        kernels,
        modules: [{ name: "a.ko", builtFor: "x", hasModversions: true }],
        mark: (_m, k) => (k === 0 ? "-" : "ok"),
        headline: () => null,
        reasons: () => [],
        totals: { modules: 1, kernels: kernels.map((k, i) => ({ release: k.release, compatible: i === 0 ? 0 : 1, namesOnly: 0, incompatible: 0, notJudged: i === 0 ? 1 : 0 })), errors: 0 },
      },
      (b) => parts.push(b),
    );
    const text = Buffer.concat(parts).toString("utf8");
    const lines = text.slice(text.indexOf("\ntotals: ")).split("\n").slice(2, -1);
    expect(lines).toHaveLength(12);
    expect(new Set(lines.map((l, i) => l.indexOf(kernels[i].release))).size).toBe(1);
    expect(lines[0]).toMatch(/ 0 incompatible, 1 not judged$/);
    expect(lines[1]).toMatch(/ 0 incompatible$/);
  });

  it("names modules relative to the directory given, in a column as wide as the longest of those names", async () => {
    const dir = join(REAL_SAMPLE, "amd64-6.1");
    const files = modulesUnder(dir);
    const names = files.map((f) => relative(dir, f));
    const { text } = await both([...symversArgs(K53), dir]);
    const width = Math.max(6, ...names.map((n) => n.length));
    const lines = text.split("\n");
    const header = lines.findIndex((l) => l.startsWith("module "));
    expect(lines[header]).toBe(`${"module".padEnd(width)}  built for       [1]`);
    const rows = lines.slice(header + 1, header + 1 + files.length);
    expect(rows.map((l) => l.slice(0, width + 2))).toEqual(names.sort().map((n) => n.padEnd(width) + "  "));
    expect(text).not.toContain(dir);
  });

  it("without --verbose a pair shows its headline alone (its old reason lines when it has none); with it, the headline and every reason line", async () => {
    // A kernel on which pcspkr has two kinds of reason (no headline): 6.1.0-53's symvers with one
    // symbol it lists (modprobe --dump-modversions) removed and another's CRC changed.
    const dir = mkdtempSync(join(tmpdir(), "kabi-text-"));
    temps.push(dir);
    const lines53 = gunzipSync(readFileSync(symversFile(K53))).toString("utf8").split("\n");
    const altered = lines53
      .filter((l) => l.split("\t")[1] !== "platform_driver_unregister")
      .map((l) => (l.split("\t")[1] === "input_register_device" ? "0x00000001" + l.slice(10) : l));
    expect(altered.length).toBe(lines53.length - 1);
    writeFileSync(join(dir, "altered.symvers"), altered.join("\n"));
    const args = [...symversArgs(K53, K54, K612), "--symvers", `altered=${join(dir, "altered.symvers")}`, join(MODULE_FIXTURES, K53), join(REAL_SAMPLE, "amd64-6.1")];
    const { text, json } = await both(args);
    const verbose = (await run(["--verbose", ...args])).stdout;
    let headlines = 0;
    let plain = 0;
    for (const m of json.modules) {
      for (const k of json.kernels) {
        const p = m.kernels[k.release];
        if (p === undefined || p.compatible) continue;
        const name = m.path.startsWith(join(MODULE_FIXTURES, K53)) ? relative(join(MODULE_FIXTURES, K53), m.path) : relative(join(REAL_SAMPLE, "amd64-6.1"), m.path);
        const head = `  ${name} on ${k.release}:\n`;
        const lines = verdictReasonLines(p);
        if (p.headline === null) {
          plain++;
          const block = head + lines.map((l) => `    ${l}\n`).join("");
          expect(text).toContain(block);
          expect(verbose).toContain(block);
        } else {
          headlines++;
          expect(text).toContain(head + `    ${p.headline}\n`);
          expect(text).not.toContain(head + `    ${p.headline}\n      `);
          expect(verbose).toContain(head + `    ${p.headline}\n` + lines.map((l) => `      ${l}\n`).join(""));
        }
      }
    }
    expect(headlines).toBeGreaterThan(0);
    expect(plain).toBeGreaterThan(0);
  });

  it("--summary: the kernels, the headlines grouped per kernel (counts adding up to the NO pairs) and the totals; no matrix, no reason lines", async (ctx) => {
    requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
    const dir = join(REAL_SAMPLE, "amd64-6.1");
    const args = [...symversArgs(K54, K612), dir];
    const { text, json } = await both(args);
    const summary = (await run(["--summary", ...args])).stdout;
    // The kernels and the totals are those of the full report; between them only the groups.
    const kernelsBlock = text.slice(0, text.indexOf("\n\n") + 2);
    const totalsBlock = text.slice(text.lastIndexOf("\n\ntotals: "));
    expect(summary.startsWith(kernelsBlock + "blocking:\n")).toBe(true);
    expect(summary.endsWith(totalsBlock)).toBe(true);
    const groups = summary.slice(kernelsBlock.length + "blocking:\n".length, summary.length - totalsBlock.length).split("\n");
    expect(summary).not.toMatch(/^module |^ {4}/m);
    json.kernels.forEach((k) => {
      const byHeadline = new Map<string, number>();
      for (const m of json.modules) {
        const p = m.kernels[k.release];
        if (p !== undefined && !p.compatible) byHeadline.set(p.headline ?? "more than one cause (the report without --summary lists them)", (byHeadline.get(p.headline ?? "more than one cause (the report without --summary lists them)") ?? 0) + 1);
      }
      const mine = groups.filter((g) => g.includes(` on ${k.release}: `));
      expect(mine).toHaveLength(byHeadline.size);
      for (const [headline, n] of byHeadline) {
        const who = n === 1 ? "[^ ]+" : `${n} modules`;
        expect(mine.some((g) => new RegExp(`^  ${who} on ${k.release.replace(/[.+]/g, "\\$&")}: `).test(g) && g.endsWith(`: ${headline}`)), headline).toBe(true);
      }
    });
    // Every 6.1.0-53 module on 6.12: one line, with kmod's and the symvers' module_layout CRCs.
    const layout = spawnSync("modprobe", ["--dump-modversions", modulesUnder(dir)[0]!], { encoding: "utf8" }).stdout.match(/^(0x[0-9a-f]{8})\tmodule_layout$/m)![1];
    const kernelLayout = gunzipSync(readFileSync(symversFile(K612))).toString("utf8").match(/^(0x[0-9a-f]{8})\tmodule_layout\t/m)![1];
    expect(groups).toContain(`  ${modulesUnder(dir).length} modules on ${K612}: built for another kernel ABI (module_layout: module ${layout}, kernel ${kernelLayout})`);
  });
});

describe("colours", () => {
  const ESC = /\x1b\[[0-9;]*m/g;
  const args = [...symversArgs(K53, K54), join(MODULE_FIXTURES, K53)];

  it("a writer asked for colours: the same text once the escapes are removed, each cell in its colour (NO red, ok green, ok? yellow)", async () => {
    const plain = await run(args);
    const io = Object.assign(captureIO(), { outColors: true });
    await main(["audit", ...args], io);
    expect(io.stdout).not.toBe(plain.stdout);
    expect(io.stdout.replace(ESC, "")).toBe(plain.stdout);
    const colored = [...io.stdout.matchAll(/\x1b\[(\d+)m([^\x1b]*)\x1b\[39m/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(new Set(colored)).toEqual(new Set(["31 NO", "32 ok", "33 ok?"]));
    // As many coloured cells as the matrix has cells.
    const lines = plain.stdout.split("\n");
    const header = lines.findIndex((l) => l.startsWith("module "));
    const rows = lines.indexOf("", header) - header - 1;
    expect(rows).toBe(modulesUnder(join(MODULE_FIXTURES, K53)).length);
    expect(colored).toHaveLength(rows * 2);
  });

  it("decided as Node's util.styleText decides for a stream: a terminal, NO_COLOR, TERM=dumb, FORCE_COLOR", () => {
    const saved = { ...process.env };
    const envs: NodeJS.ProcessEnv[] = [
      { TERM: "xterm-256color" },
      { TERM: "xterm-256color", NO_COLOR: "1" },
      { TERM: "xterm-256color", NO_COLOR: "" },
      { TERM: "dumb" },
      { TERM: "xterm", NODE_DISABLE_COLORS: "1" },
      { FORCE_COLOR: "1" },
      { FORCE_COLOR: "" },
      { FORCE_COLOR: "0", TERM: "xterm" },
      { FORCE_COLOR: "3" },
      { FORCE_COLOR: "false", TERM: "xterm" },
      {},
    ];
    try {
      for (const env of envs) {
        for (const isTTY of [true, false]) {
          const stream = Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY, getColorDepth: WriteStream.prototype.getColorDepth });
          for (const key of ["TERM", "NO_COLOR", "FORCE_COLOR", "NODE_DISABLE_COLORS", "COLORTERM", "CI", "TERM_PROGRAM", "TMUX"]) delete process.env[key];
          Object.assign(process.env, env);
          const node = styleText("red", "x", { stream }) !== "x";
          expect(streamTakesColors(stream, { ...env }), `${JSON.stringify(env)} isTTY=${isTTY}`).toBe(node);
        }
      }
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("the built CLI on a terminal (a pty from util-linux's script): coloured; with NO_COLOR or through a pipe: not", (ctx) => {
    requireUnderCi(commandPresent("script", ["--version"]), "util-linux's script", () => ctx.skip());
    const kabi = join(ROOT, "dist/src/cli/kabi.js");
    const command = [process.execPath, kabi, "audit", ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color" };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    // A CI run sets CI, and Node's colour depth is then 2 (no colours) on a terminal too, unless a
    // known CI vendor's variable is set: the pty run is a person's terminal.
    delete env.CI;
    const onPty = (extra: NodeJS.ProcessEnv) => spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", env: { ...env, ...extra } }).stdout.replace(/\r\n/g, "\n");
    const piped = spawnSync(process.execPath, [kabi, "audit", ...args], { encoding: "utf8", env }).stdout;
    const tty = onPty({});
    expect(tty).toMatch(/\x1b\[31mNO\x1b\[39m/);
    expect(tty.replace(ESC, "")).toBe(piped);
    expect(piped).not.toMatch(ESC);
    expect(onPty({ NO_COLOR: "1" })).toBe(piped);
  });
});
