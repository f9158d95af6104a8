/**
 * audit-summary: cells and totals against the detailed verdicts, headlines on real Debian modules
 * against real symvers (the CRCs expected from kmod's `modprobe --dump-modversions`, `modinfo` and
 * the symvers text itself), display names against path.relative.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { AuditInput } from "../../src/audit/audit-report.js";
import { auditTotals, cellMark, displayNames, pairHeadline, type CellMark } from "../../src/audit/audit-summary.js";
import { evaluate } from "../../src/engine/index.js";
import type { KernelTarget } from "../../src/types/kernel-target.js";
import { findModules } from "../../src/load/find-modules.js";
import { readModules } from "../../src/load/read-many.js";
import { parseSymvers } from "../../src/symvers/parse-symvers.js";
import { haveModprobe } from "../helpers/kmod.js";
import { committedModules, MODULE_FIXTURES, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

const K53 = "6.1.0-53-amd64";
const K54 = "6.1.0-54-amd64";
const K612 = "6.12.113+deb12-amd64";
const RELEASES = [K53, K54, "6.1.0-55-amd64", K612, "6.12.117+deb12-amd64"];

const symversText = (release: string): string => gunzipSync(readFileSync(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`))).toString("utf8");

/** The symvers lines of `text`, by symbol: [crc, symbol, provider, export type, namespace]. */
function symversLines(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (f.length >= 4) out.set(f[1]!, f);
  }
  return out;
}

/** kmod's list of a module's modversions: symbol → `0x%08x`. */
function kmodModversions(path: string): Map<string, string> {
  const r = spawnSync("modprobe", ["--dump-modversions", path], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return new Map(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split("\t"))
      .map(([crc, sym]) => [sym!, crc!]),
  );
}

async function auditOf(paths: string[], kernels: KernelTarget[], operands: string[] = paths): Promise<AuditInput> {
  const read = await readModules(paths, { workers: 1 });
  expect(read.errors).toEqual([]);
  return {
    kernels: kernels.map((k) => ({ release: k.release, symvers: `${k.release}.symvers` })),
    modules: read.records,
    report: evaluate(read.records, kernels),
    errors: read.errors,
    symversProblems: [],
    operands,
  };
}

const kernel = (release: string, text = symversText(release), extra: Partial<KernelTarget> = {}): KernelTarget => ({ release, symvers: parseSymvers(text, `${release}.symvers`), ...extra });

/** Every incompatible pair's headline. */
function headlines(a: AuditInput): { m: number; k: number; headline: string | null }[] {
  const out: { m: number; k: number; headline: string | null }[] = [];
  for (let m = 0; m < a.modules.length; m++) {
    for (let k = 0; k < a.kernels.length; k++) {
      const v = a.report.verdict(m, k);
      if (v !== null && !v.compatible) out.push({ m, k, headline: pairHeadline(v, a.modules[m], a.kernels[k]) });
    }
  }
  return out;
}

const REAL_61 = () => committedModules(join(REAL_SAMPLE, "amd64-6.1"));

describe("cellMark and auditTotals", () => {
  it("agree with the detailed verdicts of a fresh evaluation, on fixtures and the real sample against five kernels", async () => {
    const paths = [...committedModules(join(MODULE_FIXTURES, K53)), ...REAL_61(), ...committedModules(join(REAL_SAMPLE, "amd64-6.12"))];
    const kernels = RELEASES.map((r) => kernel(r));
    const a = await auditOf(paths, kernels);
    const b = await auditOf(paths, kernels);
    const counted = new Map<string, number>();
    for (let m = 0; m < a.modules.length; m++) {
      for (let k = 0; k < a.kernels.length; k++) {
        const v = b.report.verdict(m, k);
        const expected: CellMark = v === null ? "-" : !v.compatible ? "NO" : v.noModversions ? "ok?" : "ok";
        expect(cellMark(a, m, k), `${a.modules[m].path} on ${RELEASES[k]}`).toBe(expected);
        counted.set(`${k} ${expected}`, (counted.get(`${k} ${expected}`) ?? 0) + 1);
      }
    }
    const totals = auditTotals(a);
    expect(totals.modules).toBe(paths.length);
    expect(totals.errors).toBe(0);
    expect(totals.kernels).toEqual(
      RELEASES.map((release, k) => ({
        release,
        compatible: counted.get(`${k} ok`) ?? 0,
        namesOnly: counted.get(`${k} ok?`) ?? 0,
        incompatible: counted.get(`${k} NO`) ?? 0,
        notJudged: counted.get(`${k} -`) ?? 0,
      })),
    );
    // Each kind of cell is there (kabi_noversions is judged by names; 6.1 modules fail on 6.12).
    for (const mark of ["ok", "ok?", "NO"]) expect([...counted.keys()].some((key) => key.endsWith(" " + mark))).toBe(true);
  });

  it("a module not a candidate on a kernel is '-' and counted as not judged there", async () => {
    const paths = REAL_61();
    const read = await readModules(paths, { workers: 1 });
    const kernels = [kernel(K53), kernel(K612)];
    const a: AuditInput = {
      kernels: kernels.map((k) => ({ release: k.release, symvers: "" })),
      modules: read.records,
      report: evaluate(read.records, kernels, { isCandidate: (m, k) => !(m === 0 && k === 1) }),
      errors: [{ path: "x.ko", message: "x.ko: not an ELF file" }],
      symversProblems: [],
      operands: paths,
    };
    expect(cellMark(a, 0, 1)).toBe("-");
    const totals = auditTotals(a);
    expect(totals.kernels[1].notJudged).toBe(1);
    expect(totals.kernels[0].notJudged).toBe(0);
    expect(totals.kernels[1].compatible + totals.kernels[1].namesOnly + totals.kernels[1].incompatible).toBe(paths.length - 1);
    expect(totals.errors).toBe(1);
  });
});

describe("pairHeadline", () => {
  it("6.1.0-53 modules against 6.12 symvers: built for another kernel ABI, with kmod's and the symvers' module_layout CRCs", async (ctx) => {
    requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
    const paths = REAL_61();
    const kernelLayout = symversLines(symversText(K612)).get("module_layout")![0];
    const a = await auditOf(paths, [kernel(K612)]);
    const hs = headlines(a);
    expect(hs.length).toBe(paths.length);
    for (const { m, headline } of hs) {
      const moduleLayout = kmodModversions(a.modules[m].path).get("module_layout");
      expect(moduleLayout).toBeDefined();
      expect(moduleLayout).not.toBe(kernelLayout);
      expect(headline).toBe(`built for another kernel ABI (module_layout: module ${moduleLayout}, kernel ${kernelLayout})`);
    }
  });

  it("6.1.0-53 and 6.1.0-54 share module_layout (per their symvers): no pair headlines another kernel ABI", async () => {
    const layout53 = symversLines(symversText(K53)).get("module_layout")![0];
    expect(symversLines(symversText(K54)).get("module_layout")![0]).toBe(layout53);
    const a = await auditOf([...committedModules(join(MODULE_FIXTURES, K53)), ...REAL_61()], [kernel(K54)]);
    for (const { headline } of headlines(a)) expect(headline ?? "").not.toMatch(/another kernel ABI/);
  });

  it("a kernel that does not export module_layout (its line removed from the 6.12 symvers): the module's CRC and that the kernel has none", async (ctx) => {
    requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
    const text = symversText(K612)
      .split("\n")
      .filter((l) => l.split("\t")[1] !== "module_layout")
      .join("\n");
    const path = REAL_61()[0];
    const a = await auditOf([path], [kernel(K612, text)]);
    const [h] = headlines(a);
    expect(h.headline).toBe(`built for another kernel ABI (module_layout: module ${kmodModversions(path).get("module_layout")}, ${K612} does not export it)`);
  });

  it("vermagic flags that differ, on the module's own kernel: another kernel ABI, with modinfo's vermagic", async (ctx) => {
    requireUnderCi(commandPresent("modinfo", ["--version"]), "kmod's modinfo", () => ctx.skip());
    const path = REAL_61()[0];
    const vermagic = spawnSync("modinfo", ["-F", "vermagic", path], { encoding: "utf8" }).stdout.replace(/\n$/, "");
    expect(vermagic).toMatch(/^6\.1\.0-53-amd64 SMP .*modversions/);
    const kernelVermagic = vermagic.replace(/ modversions/, "");
    const a = await auditOf([path], [kernel(K53, undefined, { vermagic: kernelVermagic })]);
    const [h] = headlines(a);
    const flags = (s: string): string => s.slice(s.indexOf(" ") + 1).trimEnd();
    expect(h.headline).toBe(`built for another kernel ABI (vermagic flags: module "${flags(vermagic)}", kernel "${flags(kernelVermagic)}")`);
  });

  it("each real 6.1.0-53 module alone against four real kernels: the headline kmod's modversions joined with the symvers text gives", async (ctx) => {
    requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
    const releases = [K53, K54, "6.1.0-55-amd64", K612];
    const kernels = releases.map((r) => kernel(r));
    const lines = releases.map((r) => symversLines(symversText(r)));
    const seen = new Set<string>();
    for (const path of REAL_61()) {
      const a = await auditOf([path], kernels);
      const listed = [...kmodModversions(path)];
      releases.forEach((release, k) => {
        // The join: a listed symbol the symvers lacks is missing; one it has with another CRC, a mismatch.
        const missing = listed.filter(([sym]) => !lines[k].has(sym)).map(([sym]) => sym);
        const mismatched = listed.filter(([sym, crc]) => lines[k].has(sym) && lines[k].get(sym)![0] !== crc).map(([sym, crc]) => ({ sym, crc, kernelCrc: lines[k].get(sym)![0], provider: lines[k].get(sym)![2] }));
        let expected: string | null;
        const layout = mismatched.find((x) => x.sym === "module_layout");
        if (layout !== undefined) expected = `built for another kernel ABI (module_layout: module ${layout.crc}, kernel ${layout.kernelCrc})`;
        else if (missing.length > 0 && mismatched.length > 0) expected = null;
        else if (missing.length > 0) expected = missing.length === 1 ? `missing symbol ${missing[0]}` : `${missing.length} missing symbols`;
        else if (mismatched.length === 1) expected = `CRC mismatch ${mismatched[0].sym}: module ${mismatched[0].crc}, ${mismatched[0].provider} ${mismatched[0].kernelCrc}`;
        else if (mismatched.length > 1) {
          const providers = [...new Set(mismatched.map((x) => x.provider))].map((p) => [p, mismatched.filter((x) => x.provider === p).length] as const);
          expected =
            providers.length === 1
              ? `${mismatched.length} CRC mismatches against ${providers[0][0]}`
              : `${mismatched.length} CRC mismatches (${providers
                  .slice()
                  .sort((x, y) => y[1] - x[1])
                  .map(([p, n]) => `${p} ${n}`)
                  .join(", ")})`;
        } else expected = "compatible";
        const v = a.report.verdict(0, k)!;
        expect(v.compatible ? "compatible" : pairHeadline(v, a.modules[0], a.kernels[k]), `${basename(path)} on ${release}`).toBe(expected);
        seen.add(expected === null ? "none" : /^\d+ CRC mismatches \(/.test(expected) ? "several providers" : /^\d+ CRC mismatches against/.test(expected) ? "one provider" : expected.split(" ")[0]);
      });
    }
    // The sample covers these kinds of headline (the test would check little without them).
    expect([...seen].sort()).toEqual(expect.arrayContaining(["CRC", "built", "compatible", "one provider", "several providers"]));
  });

  describe("single causes, on the module's own kernel with its symvers changed", () => {
    /** A real module, the vmlinux symbols it lists (per kmod) other than module_layout, and the 6.1.0-53 symvers lines. */
    async function subject() {
      const path = REAL_61().find((p) => basename(p) === "pcspkr.ko")!;
      const lines = symversLines(symversText(K53));
      const listed = [...kmodModversions(path)].filter(([sym]) => sym !== "module_layout" && lines.get(sym)?.[2] === "vmlinux");
      expect(listed.length).toBeGreaterThanOrEqual(3);
      return { path, lines, listed };
    }
    const rewrite = (lines: Map<string, string[]>, change: (f: string[]) => string[] | null): string =>
      [...lines.values()].flatMap((f) => {
        const g = change(f);
        return g === null ? [] : [g.join("\t")];
      }).join("\n") + "\n";
    const otherCrc = (crc: string): string => "0x" + ((parseInt(crc, 16) ^ 0x5a5a5a5a) >>> 0).toString(16).padStart(8, "0");

    it("one symbol gone: 'missing symbol X'; three gone: '3 missing symbols'", async (ctx) => {
      requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
      const { path, lines, listed } = await subject();
      const one = await auditOf([path], [kernel(K53, rewrite(lines, (f) => (f[1] === listed[0][0] ? null : f)))]);
      expect(headlines(one).map((h) => h.headline)).toEqual([`missing symbol ${listed[0][0]}`]);
      const gone = new Set(listed.slice(0, 3).map(([s]) => s));
      const three = await auditOf([path], [kernel(K53, rewrite(lines, (f) => (gone.has(f[1]) ? null : f)))]);
      expect(headlines(three).map((h) => h.headline)).toEqual(["3 missing symbols"]);
    });

    it("one CRC changed: that reason line; three changed (all vmlinux): '3 CRC mismatches against vmlinux'", async (ctx) => {
      requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
      const { path, lines, listed } = await subject();
      const [sym, crc] = listed[0];
      const one = await auditOf([path], [kernel(K53, rewrite(lines, (f) => (f[1] === sym ? [otherCrc(f[0]), ...f.slice(1)] : f)))]);
      expect(headlines(one).map((h) => h.headline)).toEqual([`CRC mismatch ${sym}: module ${crc}, vmlinux ${otherCrc(crc)}`]);
      const changed = new Set(listed.slice(0, 3).map(([s]) => s));
      const three = await auditOf([path], [kernel(K53, rewrite(lines, (f) => (changed.has(f[1]) ? [otherCrc(f[0]), ...f.slice(1)] : f)))]);
      expect(headlines(three).map((h) => h.headline)).toEqual(["3 CRC mismatches against vmlinux"]);
    });

    it("a symbol gone and a CRC changed: two causes, no headline", async (ctx) => {
      requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
      const { path, lines, listed } = await subject();
      const text = rewrite(lines, (f) => (f[1] === listed[0][0] ? null : f[1] === listed[1][0] ? [otherCrc(f[0]), ...f.slice(1)] : f));
      const a = await auditOf([path], [kernel(K53, text)]);
      expect(headlines(a).map((h) => h.headline)).toEqual([null]);
    });

    it("a compatible pair has none", async () => {
      const path = REAL_61().find((p) => basename(p) === "pcspkr.ko")!;
      const a = await auditOf([path], [kernel(K53)]);
      const v = a.report.verdict(0, 0)!;
      expect(v.compatible).toBe(true);
      expect(pairHeadline(v, a.modules[0], a.kernels[0])).toBeNull();
    });
  });
});

describe("displayNames", () => {
  it("paths below a directory operand, file names of file operands, as path.relative / basename give them", async () => {
    const dir = join(REAL_SAMPLE, "amd64-6.1");
    const file = join(MODULE_FIXTURES, K53, "kabi_provider.ko");
    const found = await findModules([dir, file]);
    const a = await auditOf(found.files, [kernel(K53)], [dir, file]);
    expect(displayNames(a)).toEqual([...found.files.slice(0, -1).map((p) => relative(dir, p)), basename(file)]);
  });

  it("an operand given with a trailing slash or a ./ prefix: the same names", async () => {
    const dir = "./" + relative(process.cwd(), join(REAL_SAMPLE, "amd64-6.1")) + "/";
    const found = await findModules([dir]);
    const a = await auditOf(found.files, [kernel(K53)], [dir]);
    expect(displayNames(a)).toEqual(found.files.map((p) => relative(dir, p)));
    expect(displayNames(a).some((n) => n.startsWith("/") || n.startsWith("."))).toBe(false);
  });

  it("names two modules would share (one tree given twice, two files of one name) are paths as read", async () => {
    const dir = join(REAL_SAMPLE, "amd64-6.1");
    const twice = await findModules([dir, dir]);
    const a = await auditOf(twice.files, [kernel(K53)], [dir, dir]);
    expect(displayNames(a)).toEqual(twice.files);
    const files = [join(REAL_SAMPLE, "amd64-6.1/drivers/net/mii.ko"), join(REAL_SAMPLE, "amd64-6.1-gz/drivers/net/mii.ko.gz"), join(REAL_SAMPLE, "amd64-6.1/drivers/md/dm-zero.ko")];
    const b = await auditOf(files, [kernel(K53)]);
    expect(displayNames(b)).toEqual(["mii.ko", "mii.ko.gz", "dm-zero.ko"]);
    const c = await auditOf([files[0], files[0], files[2]], [kernel(K53)]);
    expect(displayNames(c)).toEqual([files[0], files[0], "dm-zero.ko"]);
  });

  it("two trees of one layout: every module of both after its tree's own name (path.relative to the tree's parent)", async () => {
    const dirs = [join(MODULE_FIXTURES, K53), join(MODULE_FIXTURES, "6.12.117+deb12-amd64")];
    const found = await findModules(dirs);
    const a = await auditOf(found.files, [kernel(K53)], dirs);
    const dirOf = (p: string): string => dirs.find((d) => p.startsWith(d + "/"))!;
    const short = found.files.map((p) => relative(dirOf(p), p));
    const twice = short.filter((n, i) => short.indexOf(n) !== i);
    expect(twice.length).toBeGreaterThan(0);
    expect(short.length).toBeGreaterThan(twice.length * 2); // kabi_proprietary.ko is in one tree only
    expect(displayNames(a)).toEqual(found.files.map((p) => relative(join(dirOf(p), ".."), p)));
    // With a file beside them, that file keeps its own name.
    const other = join(REAL_SAMPLE, "amd64-6.1/drivers/net/mii.ko");
    const withFile = await auditOf([...found.files, other], [kernel(K53)], [...dirs, other]);
    expect(displayNames(withFile).at(-1)).toBe("mii.ko");
    // Two files of one name given by themselves: after their folder's name.
    const files = dirs.map((d) => join(d, "kabi_provider.ko"));
    const b = await auditOf(files, [kernel(K53)]);
    expect(displayNames(b)).toEqual(files.map((f) => relative(join(f, "../.."), f)));
  });

  it("a package member: its member path; a path under no operand: as it is", async () => {
    const path = REAL_61()[0];
    const a = await auditOf([path], [kernel(K53)], []);
    const pkg = "/tmp/linux-image_1_amd64.deb";
    const member = "lib/modules/6.1.0-53-amd64/kernel/drivers/net/mii.ko";
    const withMember: AuditInput = { ...a, modules: [{ ...a.modules[0], path: `${pkg}!/${member}` }], operands: [pkg] };
    expect(displayNames(withMember)).toEqual([member]);
    expect(displayNames(a)).toEqual([path]);
  });
});
