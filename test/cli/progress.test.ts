/**
 * The progress line of `kabi audit`: on a terminal's stderr only, after about a second, erased
 * before the report; never on a pipe, never with --quiet. The end-to-end cases run the built CLI
 * under a real pseudo-terminal (util-linux's `script`) on a whole kernel's module tree (the
 * 6.1.0-53-amd64 tree fixtures/dkms/fetch-kernels.sh unpacks; CI runs it), read without the caches,
 * with the load stage held open for 3 s by strace's fault injection (the open of one symvers file
 * is delayed), so that the line must appear however fast the machine reads.
 */
import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { auditModules, type AuditProgress } from "../../src/api/audit.js";
import { ProgressLine, progressText } from "../../src/cli/progress.js";
import { modulesUnder, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

/** A stand-in terminal stream: what was written, and its width. */
function fakeTerminal(columns: number): { stream: NodeJS.WriteStream; written: () => string } {
  const parts: string[] = [];
  const stream = {
    columns,
    write: (chunk: string, cb?: () => void) => {
      parts.push(chunk);
      cb?.();
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, written: () => parts.join("") };
}

const CLEAR_LINE = "\x1b[1G\x1b[2K";
const at = (modulesRead: number) => ({ packagesRead: 0, packagesTotal: 0, packageModules: 0, modulesRead, modulesTotal: 4230, kernelsParsed: 2, kernelsTotal: 3 });

describe("ProgressLine", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("shows nothing in the first second, then the latest counts, redrawn at most every 100 ms, and erases itself", () => {
    const t = fakeTerminal(120);
    const p = new ProgressLine(t.stream);
    p.update(at(10));
    vi.advanceTimersByTime(999);
    expect(t.written()).toBe("");
    p.update(at(20));
    vi.advanceTimersByTime(1);
    expect(t.written()).toBe(`\x1b[1G${progressText(at(20))}\x1b[0K`);
    expect(progressText(at(20))).toBe("reading modules 20/4230, kernels 2/3 parsed");
    p.update(at(30));
    expect(t.written()).not.toContain("30/4230");
    // A stage completing is drawn at once.
    p.update({ ...at(35), kernelsParsed: 3 });
    expect(t.written()).toContain("35/4230, kernels 3/3");
    vi.advanceTimersByTime(100);
    p.update(at(40));
    expect(t.written()).toContain("40/4230");
    p.stop();
    expect(t.written().endsWith(CLEAR_LINE)).toBe(true);
    p.update(at(50));
    vi.advanceTimersByTime(5000);
    expect(t.written()).not.toContain("50/4230");
  });

  it("a run that ends within the second leaves the terminal untouched", () => {
    const t = fakeTerminal(120);
    const p = new ProgressLine(t.stream);
    p.update(at(10));
    vi.advanceTimersByTime(500);
    p.stop();
    vi.advanceTimersByTime(5000);
    expect(t.written()).toBe("");
  });

  it("is cut to the terminal's width (a wrapped line could not be erased)", () => {
    const t = fakeTerminal(20);
    const p = new ProgressLine(t.stream);
    p.update(at(10));
    vi.advanceTimersByTime(1000);
    expect(t.written()).toBe(`\x1b[1G${progressText(at(10)).slice(0, 19)}\x1b[0K`);
    p.stop();
  });
});

describe("AuditRequest.onProgress", () => {
  it("counts every module file and every kernel, never down, and ends at the totals", async () => {
    const files = modulesUnder(join(ROOT, "fixtures/modules"));
    const releases = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64"];
    const seen: AuditProgress[] = [];
    for (const few of [true, false]) {
      seen.length = 0;
      // Few files: modules first, then the symvers (filtered); many: both at once (the two paths of auditModules).
      const paths = few ? files : Array<string>(Math.ceil(120 / files.length)).fill(join(ROOT, "fixtures/modules"));
      const total = few ? files.length : paths.length * files.length;
      await auditModules({
        paths,
        explicit: releases.map((release) => ({ release, file: join(ROOT, "fixtures/symvers", `${release}.symvers.gz`) })),
        cache: false,
        onProgress: (p) => seen.push(p),
      });
      expect(seen.length).toBeGreaterThan(0);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.modulesRead).toBeGreaterThanOrEqual(seen[i - 1]!.modulesRead);
        expect(seen[i]!.kernelsParsed).toBeGreaterThanOrEqual(seen[i - 1]!.kernelsParsed);
      }
      expect(seen.every((p) => p.modulesTotal === total && p.modulesRead <= total && p.kernelsParsed <= p.kernelsTotal)).toBe(true);
      expect(seen.at(-1)).toEqual({ packagesRead: 0, packagesTotal: 0, packageModules: 0, modulesRead: total, modulesTotal: total, kernelsParsed: releases.length, kernelsTotal: releases.length });
    }
  });

  it("counts the packages read and the module records made from them, module by module", async (ctx) => {
    requireUnderCi(commandPresent("dpkg-deb", ["--version"]), "dpkg-deb", () => ctx.skip());
    const files = modulesUnder(join(ROOT, "fixtures/modules/6.1.0-53-amd64"));
    const work = mkdtempSync(join(tmpdir(), "kabi-progress-deb-"));
    try {
      // Two packages of the fixtures' modules, built by dpkg-deb itself.
      const debs = ["one", "two"].map((name) => {
        const tree = join(work, name);
        mkdirSync(join(tree, "DEBIAN"), { recursive: true });
        const extra = join(tree, "lib/modules/6.1.0-53-amd64/extra");
        mkdirSync(extra, { recursive: true });
        for (const f of files) copyFileSync(f, join(extra, basename(f)));
        const control = `Package: kabi-progress-${name}\nVersion: 1\nArchitecture: amd64\nMaintainer: kabi <kabi@example.org>\nDescription: progress test\n`;
        spawnSync("sh", ["-c", `printf '%s' "$1" > "$2"`, "sh", control, join(tree, "DEBIAN/control")]);
        const deb = join(work, `${name}.deb`);
        const r = spawnSync("dpkg-deb", ["--root-owner-group", "--build", tree, deb], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        return deb;
      });
      const seen: AuditProgress[] = [];
      const input = await auditModules({
        paths: debs,
        explicit: [{ release: "6.1.0-54-amd64", file: join(ROOT, "fixtures/symvers/6.1.0-54-amd64.symvers.gz") }],
        cache: false,
        onProgress: (p) => seen.push(p),
      });
      expect(input.modules.length).toBe(2 * files.length);
      // A call per module record and one per package done, never counting down.
      expect(seen.filter((p) => p.packagesTotal === 2).length).toBeGreaterThanOrEqual(2 * files.length + 2);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.packagesRead).toBeGreaterThanOrEqual(seen[i - 1]!.packagesRead);
        expect(seen[i]!.packageModules).toBeGreaterThanOrEqual(seen[i - 1]!.packageModules);
      }
      expect(seen.find((p) => p.packagesRead === 1)?.packageModules).toBe(files.length);
      expect(seen.at(-1)).toMatchObject({ packagesRead: 2, packagesTotal: 2, packageModules: 2 * files.length, modulesTotal: 0 });
      expect(progressText(seen.at(-1)!)).toBe(`reading packages 2/2 (${2 * files.length} modules), kernels 1/1 parsed`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

const KABI_JS = join(ROOT, "dist/src/cli/kabi.js");
const RELEASE = "6.1.0-53-amd64";
const SYMVERS = ["6.1.0-53-amd64", "6.12.117+deb12-amd64"];

/** The unpacked 6.1.0-53-amd64 tree (its kernel/ folder), when fetched. */
function fetchedTree(): string | undefined {
  const r = spawnSync("bash", [join(ROOT, "fixtures/dkms/fetch-kernels.sh"), "--check", RELEASE], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const dir = r.stdout.trim().split("\t")[1];
  return dir === undefined ? undefined : join(dir, "lib/modules", RELEASE, "kernel");
}

/** How long the load stage is held open (strace's delay_exit, microseconds). */
const HOLD_US = 3_000_000;
/** A command run to its end without blocking the test runner's event loop (it reports to its parent meanwhile). */
function run(file: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 28 }, (error, stdout, stderr) =>
      done({ status: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }),
    );
  });
}

const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

describe("kabi audit's progress line, end to end", () => {
  const work = mkdtempSync(join(tmpdir(), "kabi-progress-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const tree = fetchedTree();
  const symvers = (k: string): string => join(ROOT, "fixtures/symvers", `${k}.symvers.gz`);
  /** kabi audit under strace, which delays the open of the first kernel's symvers by 3 s and prints nothing. */
  const slowAudit = (tree: string): string[] => [
    ...["strace", "-f", "-qq", "-o", "/dev/null", "-P", symvers(SYMVERS[0]!), "-e", "trace=openat", "-e", `inject=openat:delay_exit=${HOLD_US}`],
    ...[process.execPath, KABI_JS, "audit", "--no-cache", "--format", "junit", ...SYMVERS.map((k) => `--symvers=${k}=${symvers(k)}`), tree],
  ];

  /** Runs the audit with stderr (and stdin) on a pseudo-terminal, stdout to a file: what the terminal showed, and the report. */
  async function underTerminal(tree: string, extra: string[]): Promise<{ terminal: string; report: string; status: number | null }> {
    const report = join(work, "report.xml");
    const command = [...slowAudit(tree), ...extra].map(q).join(" ") + ` > ${q(report)}`;
    const r = await run("script", ["-qefc", command, "/dev/null"]);
    return { terminal: r.stdout, report: readFileSync(report, "utf8"), status: r.status };
  }

  const needs = (ctx: { skip: () => void }): string => {
    requireUnderCi(commandPresent("script", ["--version"]), "script (Debian: util-linux)", () => ctx.skip());
    requireUnderCi(commandPresent("strace", ["-V"]), "strace", () => ctx.skip());
    requireUnderCi(tree !== undefined, `the module tree of ${RELEASE} (fixtures/dkms/fetch-kernels.sh)`, () => ctx.skip());
    return tree!;
  };

  it("on a terminal: counts of the whole tree and of the kernels, erased before the report, which stays clean", async (ctx) => {
    const dir = needs(ctx);
    const { terminal, report, status } = await underTerminal(dir, []);
    expect(status).toBe(1);
    const lines = [...terminal.matchAll(/reading modules (\d+)\/(\d+), kernels (\d+)\/(\d+) parsed/g)];
    // Drawn while the first kernel was held, and again once it was parsed.
    expect(lines.length).toBeGreaterThan(1);
    expect(Number(lines[0]![3])).toBeLessThan(SYMVERS.length);
    // The totals: the module files under the tree (the test's own walk) and the kernels given.
    const files = modulesUnder(dir).length;
    for (const [, read, total, parsed, kernels] of lines) {
      expect(Number(total)).toBe(files);
      expect(Number(read)).toBeLessThanOrEqual(files);
      expect(Number(kernels)).toBe(SYMVERS.length);
      expect(Number(parsed)).toBeLessThanOrEqual(SYMVERS.length);
    }
    // The load's end is always drawn (the line then stays while the verdicts are computed).
    expect(lines.at(-1)!.slice(1, 5).map(Number)).toEqual([files, files, SYMVERS.length, SYMVERS.length]);
    // Erased last: nothing after the clearing sequence, and it comes after the last count drawn.
    expect(terminal.endsWith(CLEAR_LINE)).toBe(true);
    expect(terminal.lastIndexOf(CLEAR_LINE)).toBeGreaterThan(lines.at(-1)!.index);
    expect(report.startsWith('<?xml version="1.0"')).toBe(true);
    expect(report).not.toContain("\x1b");
  });

  it("--quiet: nothing on the terminal", async (ctx) => {
    const dir = needs(ctx);
    const { terminal, report, status } = await underTerminal(dir, ["--quiet"]);
    expect(status).toBe(1);
    expect(terminal).toBe("");
    expect(report.startsWith('<?xml version="1.0"')).toBe(true);
  });

  it("stderr on a pipe: no progress byte", async (ctx) => {
    const dir = needs(ctx);
    const [strace, ...args] = slowAudit(dir);
    const r = await run(strace!, args);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.stdout.startsWith('<?xml version="1.0"')).toBe(true);
  });
});
