/**
 * The struct module size rule (kernel/module/main.c, elf_validity_cache_index_mod): the size of
 * `.gnu.linkonce.this_module` read into the record equals what `readelf -S` says, a kernel's size
 * comes from its own in-tree modules under the root, and a module of another size is refused there
 * with a reason naming both sizes; a kernel without a module tree leaves the check unknown.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { evaluate } from "../../src/engine/index.js";
import { verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import { loadKernelTargets } from "../../src/load/kernel-targets.js";
import { readModule } from "../../src/module/read-module.js";
import { corpusDir } from "../helpers/corpus.js";
import { MODULE_FIXTURES, modulesUnder, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import { blockingReasons, expectAgreesWithPlainJoin } from "./real-data.js";

const K61 = "6.1.0-53-amd64";
const K612 = "6.12.113+deb12-amd64";
const K612_FIXTURES = "6.12.117+deb12-amd64";
const SIZE_MESSAGE = ".gnu.linkonce.this_module section size must match the kernel's built struct module size at run time";

const scratch = mkdtempSync(join(tmpdir(), "kabi-modsize-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The plain ELF of a module file (compressed ones decompressed with xz, the independent tool). */
function plainElf(path: string): string {
  if (!path.endsWith(".xz")) return path;
  const out = join(scratch, "elf-" + relative(ROOT, path).replace(/[/+]/g, "_").replace(/\.xz$/, ""));
  const r = spawnSync("xz", ["-dc", path], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`xz -dc ${path}: ${r.stderr.toString()}`);
  writeFileSync(out, r.stdout);
  return out;
}

/** sh_size of `.gnu.linkonce.this_module` as binutils' readelf prints it. */
function readelfThisModuleSize(path: string): number {
  const r = spawnSync("readelf", ["-S", "-W", plainElf(path)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`readelf -S ${path}: ${r.stderr}`);
  // "  [nr] .gnu.linkonce.this_module PROGBITS  address  offset  size  ..." (-W: one line per section)
  const line = r.stdout.split("\n").find((l) => /\]\s+\.gnu\.linkonce\.this_module\s/.test(l));
  if (line === undefined) throw new Error(`readelf -S ${path}: no .gnu.linkonce.this_module`);
  const fields = line.slice(line.indexOf("]") + 1).trim().split(/\s+/);
  return parseInt(fields[4]!, 16);
}

/** A root with kernel `release`'s tree (the given module files, under kernel/) and its symvers. */
function kernelRoot(name: string, release: string, modules: readonly string[], from: string, symversGz: string): string {
  const root = join(scratch, name);
  const tree = join(root, "lib/modules", release, "kernel");
  for (const m of modules) {
    const to = join(tree, relative(from, m));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(m, to);
  }
  const headers = join(root, "usr/src", `linux-headers-${release}`);
  mkdirSync(headers, { recursive: true });
  writeFileSync(join(headers, "Module.symvers"), gunzipSync(readFileSync(symversGz)));
  return root;
}

const readelfPresent = commandPresent("readelf", ["--version"]);

describe("struct module size in the record", () => {
  const files = [
    ...readdirSync(join(MODULE_FIXTURES, K61)).filter((f) => f.endsWith(".ko")).map((f) => join(MODULE_FIXTURES, K61, f)),
    ...readdirSync(join(MODULE_FIXTURES, K612_FIXTURES)).filter((f) => f.endsWith(".ko")).map((f) => join(MODULE_FIXTURES, K612_FIXTURES, f)),
    ...modulesUnder(join(REAL_SAMPLE, "amd64-6.1")),
    ...modulesUnder(join(REAL_SAMPLE, "amd64-6.12")),
    ...modulesUnder(join(REAL_SAMPLE, "i386-6.1")),
  ];

  it("equals readelf -S's size of .gnu.linkonce.this_module, fixtures and real Debian modules", async (ctx) => {
    requireUnderCi(readelfPresent, "readelf (binutils)", () => ctx.skip());
    expect(files.length).toBeGreaterThan(30);
    const sizes = new Set<number>();
    for (const f of files) {
      const r = await readModule(f);
      expect(r.thisModuleSize, f).toBe(readelfThisModuleSize(f));
      sizes.add(r.thisModuleSize);
    }
    // 6.1 and 6.12 (amd64) and i386 differ: the rule has something to tell apart.
    expect(sizes.size).toBeGreaterThanOrEqual(3);
  });
});

describe("struct module size rule", () => {
  it("real 6.1 modules on a 6.12 kernel whose tree is under the root: the size reason besides the CRC mismatches", async (ctx) => {
    requireUnderCi(readelfPresent, "readelf (binutils)", () => ctx.skip());
    const tree612 = modulesUnder(join(REAL_SAMPLE, "amd64-6.12"));
    const root = kernelRoot("root-612", K612, tree612, join(REAL_SAMPLE, "amd64-6.12"), join(ROOT, "fixtures/symvers", `${K612}.symvers.gz`));
    const loaded = await loadKernelTargets({ explicit: [], releases: [K612], basedir: root, cache: false });
    expect(loaded.errors).toEqual([]);
    const kernel = loaded.kernels[0]!;
    // The kernel's size: what readelf says of its first in-tree module (path order).
    const first = modulesUnder(join(root, "lib/modules", K612, "kernel"))[0]!;
    expect(kernel.thisModuleSize).toBe(readelfThisModuleSize(first));
    const modules = await Promise.all(modulesUnder(join(REAL_SAMPLE, "amd64-6.1")).map((p) => readModule(p)));
    expect(modules.length).toBeGreaterThan(5);
    for (const module of modules) {
      const report = evaluate([module], [kernel]);
      const [v] = expectAgreesWithPlainJoin(module, [kernel], (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
      expect(v!.compatible).toBe(false);
      expect(v!.moduleSizeMismatch, module.path).toEqual({ module: readelfThisModuleSize(module.path), kernel: readelfThisModuleSize(first) });
      expect(v!.moduleSizeUnknown).toBe(false);
      const lines = verdictReasonLines(v!);
      expect(lines.some((l) => l.startsWith("CRC mismatch "))).toBe(true);
      expect(lines.filter((l) => l.includes(SIZE_MESSAGE))).toEqual([
        `struct module size differs: module .gnu.linkonce.this_module 0x${v!.moduleSizeMismatch!.module.toString(16)} bytes, kernel 0x${v!.moduleSizeMismatch!.kernel.toString(16)} (the kernel refuses it: "${SIZE_MESSAGE}")`,
      ]);
      // Only the size differs: the CRCs left out, the pair is still refused for it.
      expect(blockingReasons(v!, ["mismatched", "missing"])).toBeGreaterThan(0);
    }
    // The 6.12 tree's own modules pass the size rule on their kernel.
    const own = await Promise.all(tree612.map((p) => readModule(p)));
    const report = evaluate(own, [kernel]);
    own.forEach((_, m) => expect(report.verdict(m, 0)!.moduleSizeMismatch).toBeNull());
  });

  it("kbuild fixtures: 6.1.0-53 modules against a 6.12.117 root of its own fixtures are refused for size, and no tree means unknown", async (ctx) => {
    requireUnderCi(readelfPresent, "readelf (binutils)", () => ctx.skip());
    const dir612 = join(MODULE_FIXTURES, K612_FIXTURES);
    const own = readdirSync(dir612).filter((f) => f.endsWith(".ko")).map((f) => join(dir612, f));
    const root = kernelRoot("root-fixtures", K612_FIXTURES, own, dir612, join(ROOT, "fixtures/symvers", `${K612_FIXTURES}.symvers.gz`));
    const withTree = await loadKernelTargets({ explicit: [], releases: [K612_FIXTURES], basedir: root, cache: false });
    const noTree = await loadKernelTargets({ explicit: [{ release: K612_FIXTURES, file: join(ROOT, "fixtures/symvers", `${K612_FIXTURES}.symvers.gz`) }], releases: [], basedir: scratch, cache: false });
    expect(noTree.kernels[0]!.thisModuleSize).toBeUndefined();
    const kernels = [withTree.kernels[0]!, noTree.kernels[0]!];
    const provider61 = join(MODULE_FIXTURES, K61, "kabi_provider.ko");
    const module = await readModule(provider61);
    const report = evaluate([module], kernels);
    const [onTree, unknown] = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
    expect(onTree!.moduleSizeMismatch).toEqual({ module: readelfThisModuleSize(provider61), kernel: readelfThisModuleSize(join(dir612, "kabi_consumer.ko")) });
    expect(onTree!.compatible).toBe(false);
    expect(unknown!.moduleSizeMismatch).toBeNull();
    expect(unknown!.moduleSizeUnknown).toBe(true);
  });

  it("the size alone refuses: 6.1.0-53 fixtures, every CRC matching, on 6.1.0-53 whose tree holds modules of another size", async (ctx) => {
    requireUnderCi(readelfPresent, "readelf (binutils)", () => ctx.skip());
    const dir61 = join(MODULE_FIXTURES, K61);
    const dir612 = join(MODULE_FIXTURES, K612_FIXTURES);
    const symvers = join(ROOT, "fixtures/symvers", `${K61}.symvers.gz`);
    // The same symvers, a tree of its own fixtures, and a tree of 6.12-built ones (a struct module that grew).
    const same = kernelRoot("root-61-same", K61, [join(dir61, "kabi_consumer.ko")], dir61, symvers);
    const grown = kernelRoot("root-61-grown", K61, [join(dir612, "kabi_consumer.ko")], dir612, symvers);
    const kernels = [
      (await loadKernelTargets({ explicit: [], releases: [K61], basedir: same, cache: false })).kernels[0]!,
      (await loadKernelTargets({ explicit: [], releases: [K61], basedir: grown, cache: false })).kernels[0]!,
    ];
    const path = join(dir61, "kabi_provider.ko");
    const module = await readModule(path);
    const report = evaluate([module], kernels);
    const [onSame, onGrown] = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
    expect(onSame!.compatible).toBe(true);
    expect(onGrown!.compatible).toBe(false);
    expect(report.isCompatible(0, 1)).toBe(false);
    expect(onGrown!.mismatched).toEqual([]);
    expect(onGrown!.moduleSizeMismatch).toEqual({ module: readelfThisModuleSize(path), kernel: readelfThisModuleSize(join(dir612, "kabi_consumer.ko")) });
    expect(verdictReasonLines(onGrown!)).toHaveLength(1);
  });

  it("a tree whose modules disagree: the most common size is the kernel's", async () => {
    const dir61 = join(MODULE_FIXTURES, K61);
    const dir612 = join(MODULE_FIXTURES, K612_FIXTURES);
    // Path order: a_... (6.12), b_... (6.1), c_... (6.1): the 6.1 size holds two of three.
    const root = join(scratch, "mixed");
    const tree = join(root, "lib/modules", K61, "kernel");
    mkdirSync(tree, { recursive: true });
    copyFileSync(join(dir612, "kabi_provider.ko"), join(tree, "a_provider.ko"));
    copyFileSync(join(dir61, "kabi_provider.ko"), join(tree, "b_provider.ko"));
    copyFileSync(join(dir61, "kabi_consumer.ko"), join(tree, "c_consumer.ko"));
    const loaded = await loadKernelTargets({ explicit: [{ release: K61, file: join(ROOT, "fixtures/symvers", `${K61}.symvers.gz`) }], releases: [], basedir: root, cache: false });
    expect(loaded.kernels[0]!.thisModuleSize).toBe((await readModule(join(dir61, "kabi_provider.ko"))).thisModuleSize);
    expect(loaded.kernels[0]!.thisModuleSize).not.toBe((await readModule(join(dir612, "kabi_provider.ko"))).thisModuleSize);
  });

  const corpus612 = join(corpusDir(), "amd64-6.12");
  it.runIf(existsSync(join(corpus612, "Module.symvers")) && existsSync(join(corpusDir(), "amd64-6.1")))(
    "corpus: 6.1 modules against the 6.12 root (lib/modules and its Module.symvers)",
    async () => {
      const loaded = await loadKernelTargets({ explicit: [{ release: K612, file: join(corpus612, "Module.symvers") }], releases: [], basedir: corpus612, cache: false });
      const kernel = loaded.kernels[0]!;
      const first = modulesUnder(join(corpus612, "lib/modules", K612, "kernel"))[0]!;
      expect(kernel.thisModuleSize).toBe(readelfThisModuleSize(first));
      const sample = modulesUnder(join(corpusDir(), "amd64-6.1/lib/modules", K61, "kernel")).filter((_, i) => i % 400 === 0);
      for (const p of sample) {
        const module = await readModule(p);
        const v = evaluate([module], [kernel]).verdict(0, 0)!;
        expect(v.moduleSizeMismatch, p).toEqual({ module: readelfThisModuleSize(p), kernel: kernel.thisModuleSize });
      }
    },
  );
});

describe("struct module size headline", () => {
  it("a pair refused for its size alone has the size headline (audit JSON and text)", async () => {
    const dir61 = join(MODULE_FIXTURES, K61);
    const dir612 = join(MODULE_FIXTURES, K612_FIXTURES);
    const grown = kernelRoot("root-61-headline", K61, [join(dir612, "kabi_consumer.ko")], dir612, join(ROOT, "fixtures/symvers", `${K61}.symvers.gz`));
    const { main } = await import("../../src/cli/main.js");
    const { captureIO } = await import("../helpers/capture-io.js");
    const io = captureIO();
    expect(await main(["audit", "--json", "--no-cache", "--basedir", grown, "--kernel", K61, join(dir61, "kabi_provider.ko")], io)).toBe(1);
    const doc = JSON.parse(io.stdout) as { modules: { kernels: Record<string, { headline: string; moduleSizeMismatch: { module: number; kernel: number } }> }[] };
    const pair = doc.modules[0]!.kernels[K61]!;
    const hex = (n: number) => "0x" + n.toString(16);
    expect(pair.headline).toBe(`built for another kernel ABI (struct module size: module ${hex(pair.moduleSizeMismatch.module)}, kernel ${hex(pair.moduleSizeMismatch.kernel)})`);
    expect(pair.moduleSizeMismatch.module).not.toBe(pair.moduleSizeMismatch.kernel);
  });
});
