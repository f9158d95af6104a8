/**
 * Debian's stricter check_version, as a per-kernel option (KernelTarget.strictModversions;
 * `kabi audit --strict-modversions`).
 *
 * Upstream (kernel/module/version.c check_version), a module with `__versions` that resolves a
 * symbol those do not list only gets "no symbol version for X" (warned once) and loads. Debian's
 * patch "module: Disable matching missing version CRC" turns that into `pr_warn(...); return 0;`:
 * resolve_symbol then fails the symbol with -EINVAL, weak or not. Unchanged: an exporter without
 * CRCs (`if (!crc) return 1;` comes first) and a module without `__versions` (try_to_force_load).
 *
 * Data: the kbuild fixtures kabi_provider.ko (A), kabi_consumer.ko (B built with A's
 * Module.symvers), kabi_consumer_nosymvers.ko (the same source built without it, as a DKMS module
 * whose build lacks KBUILD_EXTRA_SYMBOLS: its __versions has no entry for A's symbols) and
 * no-modversions/<release>/kabi_provider_nocrc.ko (A's source built with CONFIG_MODVERSIONS unset:
 * exports without CRCs); see fixtures/modules/README.md. Records marked "derived" are real records
 * with one field of their plain data edited (an undefined symbol made weak, modversion entries
 * dropped), for cases modpost does not produce from these sources.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate, type CompatibilityReport, type KernelTarget } from "../../src/engine/index.js";
import { verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { readModules } from "../../src/load/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { caseModules, corpusCases, type CorpusCase } from "../helpers/corpus.js";
import { blockingReasons, expectAgreesWithPlainJoin, fixtureModule, fixtureReleases, kernelSymvers, MODULE_FIXTURES, readModuleCached, realSampleCases } from "./real-data.js";

const K53 = "6.1.0-53-amd64";
const releases = fixtureReleases();
const PROVIDER_SYMBOLS = ["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"];

const noCrcProvider = (release: string): Promise<ModuleRecord> => readModuleCached(join(MODULE_FIXTURES, "no-modversions", release, "kabi_provider_nocrc.ko"));

async function kernel(release: string, strict: boolean, resident?: ModuleRecord[]): Promise<KernelTarget> {
  return { release, symvers: await kernelSymvers(release), strictModversions: strict, resident };
}

/**
 * explainPair (verdict) and explainModule agree on every pair, and the bitset pass's `compatible`
 * (which verdict.compatible and isCompatible both read) holds exactly when the reasons, collected
 * apart from it, list nothing blocking (over every PairVerdict field: see blockingReasons).
 */
function consistent(report: CompatibilityReport): void {
  for (let m = 0; m < report.moduleCount; m++) {
    const all = report.explainModule(m);
    for (let k = 0; k < report.kernelCount; k++) {
      const v = report.verdict(m, k);
      expect(all[k]).toEqual(v);
      if (v !== null) expect(v.compatible, `module ${m} on kernel ${k}`).toBe(blockingReasons(v) === 0);
    }
  }
}

/** The symbols a module resolves by name only: undefined, not weak, not in its modversions (in symbol-table order). */
function unversioned(record: ModuleRecord): string[] {
  const listed = new Set(record.modversions.map((v) => v.symbol));
  return [...new Set(record.undefinedSymbols.filter((u) => !u.weak && !listed.has(u.name)).map((u) => u.name))];
}

describe("the strict-modversions fixtures", () => {
  it("kabi_consumer_nosymvers has modversions without the provider's symbols; kabi_consumer lists them; kabi_provider_nocrc exports without CRCs", async () => {
    for (const release of releases) {
      const [withSymvers, without, nocrc, provider] = await Promise.all([
        fixtureModule(release, "kabi_consumer.ko"),
        fixtureModule(release, "kabi_consumer_nosymvers.ko"),
        noCrcProvider(release),
        fixtureModule(release, "kabi_provider.ko"),
      ]);
      expect(without.hasModversions).toBe(true);
      expect(unversioned(without).sort()).toEqual(PROVIDER_SYMBOLS);
      expect(unversioned(withSymvers)).toEqual([]);
      // Same code, same imports; only the provider's entries are missing.
      expect(without.modversions).toEqual(withSymvers.modversions.filter((v) => !PROVIDER_SYMBOLS.includes(v.symbol)));
      expect(without.undefinedSymbols.map((u) => u.name).sort()).toEqual(withSymvers.undefinedSymbols.map((u) => u.name).sort());
      expect(nocrc.hasModversions).toBe(false);
      expect(nocrc.exports.map((x) => [x.name, x.crc])).toEqual(PROVIDER_SYMBOLS.map((s) => [s, null]));
      expect(provider.exports.every((x) => x.crc !== null)).toBe(true);
    }
  });
});

describe("strict modversions on the kbuild fixtures", () => {
  it("B without A's versions loads with A upstream, and is refused by a strict kernel, naming each symbol and A", async () => {
    for (const release of releases) {
      const [provider, consumer] = await Promise.all([fixtureModule(release, "kabi_provider.ko"), fixtureModule(release, "kabi_consumer_nosymvers.ko")]);
      const report = evaluate([provider, consumer], [await kernel(release, false), await kernel(release, true)]);
      consistent(report);
      // Upstream: the provider's symbols are required by name only.
      expect(report.verdict(1, 0)).toMatchObject({ compatible: true, noSymbolVersion: [], providers: ["kabi_provider"] });
      // Strict: every resolved symbol without a modversion, whose exporter has a CRC, blocks.
      const strict = report.verdict(1, 1)!;
      expect(strict.compatible, release).toBe(false);
      expect(strict.noSymbolVersion).toEqual(unversioned(consumer).map((symbol) => ({ symbol, provider: "kabi_provider" })));
      expect(strict).toMatchObject({ missing: [], mismatched: [], blockedBy: [], missingImportNs: [], gplOnly: [], providers: [] });
      expect(verdictReasonLines(strict)).toEqual(
        unversioned(consumer).map((s) => `no symbol version for ${s}: kabi_provider exports it with a CRC the module does not list (strict modversions)`),
      );
      // The provider's own requirements are all versioned: strictness changes nothing for it.
      expect(report.compatibleKernels(0)).toEqual([0, 1]);
    }
  });

  it("B built with A's Module.symvers loads in both modes", async () => {
    for (const release of releases) {
      const [provider, consumer] = await Promise.all([fixtureModule(release, "kabi_provider.ko"), fixtureModule(release, "kabi_consumer.ko")]);
      const report = evaluate([provider, consumer], [await kernel(release, false), await kernel(release, true)]);
      consistent(report);
      expect(report.compatibleKernels(1)).toEqual([0, 1]);
      expect(report.verdict(1, 1)).toMatchObject({ compatible: true, noSymbolVersion: [], providers: ["kabi_provider"] });
    }
  });

  it("an exporter without CRCs (A built without modversions) still satisfies B on a strict kernel", async () => {
    for (const release of releases) {
      const [nocrc, consumer, versioned] = await Promise.all([
        noCrcProvider(release),
        fixtureModule(release, "kabi_consumer_nosymvers.ko"),
        fixtureModule(release, "kabi_consumer.ko"),
      ]);
      const report = evaluate([nocrc, consumer, versioned], [await kernel(release, false), await kernel(release, true)]);
      consistent(report);
      expect(report.compatibleKernels(1)).toEqual([0, 1]);
      expect(report.verdict(1, 1)).toMatchObject({ compatible: true, noSymbolVersion: [], providers: ["kabi_provider_nocrc"] });
      // As for any CRC the module lists (check_version returns 1 before looking at __versions).
      expect(report.verdict(2, 1)).toMatchObject({ compatible: true, providers: ["kabi_provider_nocrc"] });
      // A itself has no modversions: judged by names, strict or not.
      expect(report.verdict(0, 1)).toMatchObject({ compatible: true, noModversions: true });
    }
  });

  it("as resident modules: A with CRCs blocks B on a strict kernel, A without CRCs does not", async () => {
    const [provider, nocrc, consumer] = await Promise.all([fixtureModule(K53, "kabi_provider.ko"), noCrcProvider(K53), fixtureModule(K53, "kabi_consumer_nosymvers.ko")]);
    const report = evaluate(
      [consumer],
      [await kernel(K53, false, [provider]), await kernel(K53, true, [provider]), await kernel(K53, true, [nocrc])],
    );
    consistent(report);
    expect(report.compatibleKernels(0)).toEqual([0, 2]);
    expect(report.verdict(0, 1)!.noSymbolVersion).toEqual(unversioned(consumer).map((symbol) => ({ symbol, provider: "kabi_provider" })));
    expect(report.verdict(0, 2)).toMatchObject({ compatible: true, providers: ["kabi_provider_nocrc"] });
  });

  it("a module without modversions is not affected (try_to_force_load, not the missing-CRC path)", async () => {
    const [provider, noversions] = await Promise.all([fixtureModule(K53, "kabi_provider.ko"), fixtureModule(K53, "kabi_noversions.ko")]);
    expect(noversions.hasModversions).toBe(false);
    const report = evaluate([provider, noversions], [await kernel(K53, true)]);
    consistent(report);
    expect(report.verdict(1, 0)).toMatchObject({ compatible: true, noModversions: true, noSymbolVersion: [], providers: ["kabi_provider"] });
  });

  it("is per kernel: strict and upstream kernels in one evaluation, across bitset words (40 kernels)", async () => {
    const [provider, consumer, versioned] = await Promise.all([
      fixtureModule(K53, "kabi_provider.ko"),
      fixtureModule(K53, "kabi_consumer_nosymvers.ko"),
      fixtureModule(K53, "kabi_consumer.ko"),
    ]);
    const symvers = await kernelSymvers(K53);
    const kernels: KernelTarget[] = Array.from({ length: 40 }, (_, k) => ({ release: `${K53}#${k}`, symvers, strictModversions: k % 3 === 1 }));
    const report = evaluate([provider, consumer, versioned], kernels);
    consistent(report);
    const upstream = kernels.flatMap((k, i) => (k.strictModversions ? [] : [i]));
    expect(report.compatibleKernels(1)).toEqual(upstream);
    expect(report.compatibleKernels(0)).toEqual(kernels.map((_, i) => i));
    expect(report.compatibleKernels(2)).toEqual(kernels.map((_, i) => i));
  });
});

describe("strict modversions: static providers, weak references, module_layout (derived records)", () => {
  it("a vmlinux symbol dropped from the modversions: refused on a strict kernel, the provider named vmlinux", async () => {
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    const dropped: ModuleRecord = { ...twin, modversions: twin.modversions.filter((v) => v.symbol !== "recalibrate_cpu_khz") };
    expect(dropped.modversions.length).toBe(twin.modversions.length - 1);
    const report = evaluate([twin, dropped], [await kernel(K53, false), await kernel(K53, true)]);
    consistent(report);
    expect(report.compatibleKernels(0)).toEqual([0, 1]);
    expect(report.compatibleKernels(1)).toEqual([0]);
    expect(report.verdict(1, 1)!.noSymbolVersion).toEqual([{ symbol: "recalibrate_cpu_khz", provider: "vmlinux" }]);
  });

  it("an in-tree module's symbol (real cdc_ether without its usbnet entries): the provider is the symvers module; a candidate usbnet stands in only without CRCs", async () => {
    const sample = realSampleCases().find((c) => c.id === "amd64-6.1")!;
    const cdcPath = sample.paths.find((p) => p.endsWith("/cdc_ether.ko"))!;
    const usbnetPath = sample.paths.find((p) => p.endsWith("/usbnet.ko"))!;
    const [cdc, usbnet] = await Promise.all([readModuleCached(cdcPath), readModuleCached(usbnetPath)]);
    const fromUsbnet = new Set(usbnet.exports.map((x) => x.name));
    const dropped: ModuleRecord = { ...cdc, modversions: cdc.modversions.filter((v) => !fromUsbnet.has(v.symbol)) };
    const needed = unversioned(dropped);
    expect(needed.length).toBeGreaterThan(3);
    expect(needed.every((s) => fromUsbnet.has(s))).toBe(true);
    const kernels = [await kernel(sample.release, false), await kernel(sample.release, true)];
    const alone = evaluate([dropped], kernels);
    consistent(alone);
    expect(alone.compatibleKernels(0)).toEqual([0]);
    expect(alone.verdict(0, 1)!.noSymbolVersion).toEqual(needed.map((symbol) => ({ symbol, provider: "drivers/net/usb/usbnet" })));
    const withCandidate = evaluate([usbnet, dropped], kernels);
    consistent(withCandidate);
    expect(withCandidate.compatibleKernels(1)).toEqual([0]);
    expect(withCandidate.verdict(1, 1)!.noSymbolVersion).toEqual(alone.verdict(0, 1)!.noSymbolVersion);
    // Derived: the same usbnet with its exports' CRCs removed (as a build without modversions) does stand in.
    const usbnetNoCrc: ModuleRecord = { ...usbnet, exports: usbnet.exports.map((x) => ({ ...x, crc: null })) };
    const standIn = evaluate([usbnetNoCrc, dropped], kernels);
    consistent(standIn);
    expect(standIn.verdict(1, 1)).toMatchObject({ compatible: true, noSymbolVersion: [], providers: ["usbnet"] });
  });

  it("a weak reference without a modversion: refused where it resolves to an export with a CRC, fine where it resolves to nothing or to one without", async () => {
    const [provider, nocrc, consumer] = await Promise.all([fixtureModule(K53, "kabi_provider.ko"), noCrcProvider(K53), fixtureModule(K53, "kabi_consumer_nosymvers.ko")]);
    // Derived: the three provider symbols referenced weakly.
    const weak: ModuleRecord = { ...consumer, undefinedSymbols: consumer.undefinedSymbols.map((u) => ({ ...u, weak: u.weak || PROVIDER_SYMBOLS.includes(u.name) })) };
    const both = [await kernel(K53, false), await kernel(K53, true)];
    const cases: [string, ModuleRecord[], number[]][] = [
      ["no provider", [weak], [0, 1]],
      ["A with CRCs", [provider, weak], [0]],
      ["A without CRCs", [nocrc, weak], [0, 1]],
    ];
    for (const [label, modules, expected] of cases) {
      const report = evaluate(modules, both);
      consistent(report);
      const m = modules.length - 1;
      expect(report.compatibleKernels(m), label).toEqual(expected);
    }
    const refused = evaluate([provider, weak], both).verdict(1, 1)!;
    expect(refused.noSymbolVersion.map((x) => x.symbol).sort()).toEqual(PROVIDER_SYMBOLS);
    // The same with A resident, and with a vmlinux symbol made weak and unversioned.
    const resident = evaluate([weak], [await kernel(K53, true, [provider]), await kernel(K53, true, [nocrc])]);
    consistent(resident);
    expect(resident.compatibleKernels(0)).toEqual([1]);
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    const weakTwin: ModuleRecord = {
      ...twin,
      modversions: twin.modversions.filter((v) => v.symbol !== "recalibrate_cpu_khz"),
      undefinedSymbols: twin.undefinedSymbols.map((u) => (u.name === "recalibrate_cpu_khz" ? { ...u, weak: true } : u)),
    };
    const vmlinux = evaluate([weakTwin], both);
    consistent(vmlinux);
    expect(vmlinux.compatibleKernels(0)).toEqual([0]);
    expect(vmlinux.verdict(0, 1)!.noSymbolVersion).toEqual([{ symbol: "recalibrate_cpu_khz", provider: "vmlinux" }]);
  });

  it("module_layout missing from the modversions: check_modstruct_version refuses it on a strict kernel", async () => {
    const consumer = await fixtureModule(K53, "kabi_consumer.ko");
    const dropped: ModuleRecord = { ...consumer, modversions: consumer.modversions.filter((v) => v.symbol !== "module_layout") };
    const provider = await fixtureModule(K53, "kabi_provider.ko");
    const report = evaluate([provider, dropped], [await kernel(K53, false), await kernel(K53, true)]);
    consistent(report);
    expect(report.compatibleKernels(1)).toEqual([0]);
    expect(report.verdict(1, 1)!.noSymbolVersion).toEqual([{ symbol: "module_layout", provider: "vmlinux" }]);
  });
});

describe("strict modversions against a plain join (each record alone, every verdict field)", () => {
  it("the fixtures and derived records, with A resident (with and without CRCs), upstream and strict, on every fixture kernel", async () => {
    let refused = 0;
    for (const release of releases) {
      const [provider, nocrc, consumer, nosymvers, twin] = await Promise.all([
        fixtureModule(release, "kabi_provider.ko"),
        noCrcProvider(release),
        fixtureModule(release, "kabi_consumer.ko"),
        fixtureModule(release, "kabi_consumer_nosymvers.ko"),
        fixtureModule(release, "kabi_gpl_twin.ko"),
      ]);
      const records: ModuleRecord[] = [
        consumer,
        nosymvers,
        twin,
        // Derived: a vmlinux symbol dropped from the modversions, then also made weak.
        { ...twin, path: `${twin.path} (derived: without the modversion of recalibrate_cpu_khz)`, modversions: twin.modversions.filter((v) => v.symbol !== "recalibrate_cpu_khz") },
        {
          ...twin,
          path: `${twin.path} (derived: recalibrate_cpu_khz weak and without its modversion)`,
          modversions: twin.modversions.filter((v) => v.symbol !== "recalibrate_cpu_khz"),
          undefinedSymbols: twin.undefinedSymbols.map((u) => (u.name === "recalibrate_cpu_khz" ? { ...u, weak: true } : u)),
        },
        // Derived: the provider's symbols referenced weakly; module_layout dropped.
        { ...nosymvers, path: `${nosymvers.path} (derived: the provider's symbols weak)`, undefinedSymbols: nosymvers.undefinedSymbols.map((u) => ({ ...u, weak: u.weak || PROVIDER_SYMBOLS.includes(u.name) })) },
        { ...consumer, path: `${consumer.path} (derived: without module_layout's modversion)`, modversions: consumer.modversions.filter((v) => v.symbol !== "module_layout") },
      ];
      const kernels: KernelTarget[] = [];
      for (const strict of [false, true]) for (const resident of [undefined, [provider], [nocrc]]) kernels.push(await kernel(release, strict, resident));
      for (const module of records) {
        const report = evaluate([module], kernels);
        consistent(report);
        const verdicts = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
        refused += verdicts.filter((v) => v.noSymbolVersion.length > 0).length;
      }
    }
    // Not vacuous: per release, nosymvers and the weak one with A (CRCs) resident, the two twins and the module_layout one on every strict kernel.
    expect(refused).toBe(releases.length * (2 + 3 * 3));
  });
});

describe("strict modversions on real Debian modules", () => {
  // Debian's kernels fail closed, and these modules are what they ship and load: every one must
  // be compatible with its own kernel in strict mode, exactly as upstream.
  it("every module of the committed real sample loads on its own kernel in strict mode", async () => {
    for (const c of realSampleCases()) {
      // Committed with the sample: a lost symvers fails here.
      const symvers = await kernelSymvers(c.release);
      const { records } = await readModules(c.paths, { workers: 1 });
      const kernels: KernelTarget[] = [
        { release: c.release, symvers },
        { release: c.release, symvers, strictModversions: true },
      ];
      const report = evaluate(records, kernels);
      consistent(report);
      for (let m = 0; m < records.length; m++) expect(report.compatibleKernels(m), records[m]!.path).toEqual([0, 1]);
      // Each alone, field by field against the plain join (strict: unversioned symbols with a CRC).
      for (const module of records) {
        const alone = evaluate([module], kernels);
        expectAgreesWithPlainJoin(module, kernels, (k) => alone.verdict(0, k)!, (k) => alone.isCompatible(0, k));
      }
    }
  });

  // The corpus cache (bench/corpus.sh, ~/.cache/kabi-corpus) is not part of the repository: this
  // runs where it has been fetched and is skipped elsewhere.
  const corpus = corpusCases().filter((c) => c.compression === "none");
  it.skipIf(corpus.length === 0)("every module of the corpus cache's plain Debian trees loads on its own kernel in strict mode", { timeout: 300_000 }, async () => {
    for (const c of corpus) {
      const symvers = await readSymvers((c as CorpusCase & { symvers: string }).symvers);
      const { records } = await readModules(caseModules(c));
      const report = evaluate(records, [
        { release: c.release, symvers },
        { release: c.release, symvers, strictModversions: true },
      ]);
      const refused = records.filter((_, m) => !report.isCompatible(m, 0) || !report.isCompatible(m, 1)).map((r) => r.path);
      expect(refused, c.id).toEqual([]);
      expect(records.length, c.id).toBeGreaterThan(1000);
    }
  });
});
