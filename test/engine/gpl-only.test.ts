/**
 * The kernel's GPL-only export rule (src/engine/license.ts), on the kbuild fixtures
 * kabi_proprietary.ko (MODULE_LICENSE("Proprietary")) and kabi_gpl_twin.ko (the same source with
 * MODULE_LICENSE("GPL")), both built against the 6.1.0-53 headers and calling recalibrate_cpu_khz:
 * EXPORT_SYMBOL on Debian's 6.1 kernels, EXPORT_SYMBOL_GPL (same CRC) on its 6.12 kernels.
 *
 * "6.1.0-54 as 6.12 exports it" below is derived data: the real 6.1.0-54 symvers with only the
 * export type of recalibrate_cpu_khz changed to the one 6.12.117's symvers gives it. Records marked
 * "derived" are real fixture records with one field of their plain data edited (a licence, a weak
 * flag), because modpost refuses to build such modules.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import {
  evaluate,
  GPL_COMPATIBLE_LICENSES,
  licenseIsGplCompatible,
  moduleIsGplCompatible,
  moduleLicense,
  type KernelTarget,
} from "../../src/engine/index.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { captureIO } from "../helpers/capture-io.js";
import { withLicense, withWeakReference } from "../helpers/record-edit.js";
import { MODULE_FIXTURES } from "../helpers/paths.js";
import { fixtureSymversText, symversLine, withExportType } from "../helpers/symvers-edit.js";
import { blockingReasons, expectAgreesWithPlainJoin, expectManyKernelsAgreeWithEachAlone, fixtureModule, kernelSymvers, readModuleCached, realSampleCases, symversReleases } from "./real-data.js";

const K53 = "6.1.0-53-amd64";
const K54 = "6.1.0-54-amd64";
const K612 = "6.12.117+deb12-amd64";
const SYMBOL = "recalibrate_cpu_khz";

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kabi-gpl-"));
  temps.push(dir);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** fixtures/symvers/<release> with `symbol`'s export type replaced, written to a file and read back. */
async function derivedSymvers(release: string, symbol: string, exportType: string): Promise<{ file: string; table: SymversTable }> {
  const file = tempFile(`${release}.symvers`, withExportType(fixtureSymversText(release), symbol, exportType));
  return { file, table: await readSymvers(file) };
}

/** 6.1.0-54 with recalibrate_cpu_khz exported as 6.12.117 exports it (EXPORT_SYMBOL_GPL, same CRC). */
async function k54AsK612(): Promise<{ file: string; table: SymversTable }> {
  const [, , , type612] = symversLine(fixtureSymversText(K612), SYMBOL);
  return derivedSymvers(K54, SYMBOL, type612);
}

describe("license_is_gpl_compatible (include/linux/license.h)", () => {
  it("accepts exactly the kernel's six strings: those of every installed kernel header's license.h", () => {
    expect([...GPL_COMPATIBLE_LICENSES]).toEqual(["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]);
    for (const l of GPL_COMPATIBLE_LICENSES) expect(licenseIsGplCompatible(l), l).toBe(true);
    // The header's strcmp list, wherever headers are installed (Debian: linux-headers-*-common).
    const headers = existsSync("/usr/src") ? readdirSync("/usr/src").map((d) => join("/usr/src", d, "include/linux/license.h")).filter(existsSync) : [];
    for (const h of headers) {
      const strings = [...readFileSync(h, "utf8").matchAll(/strcmp\(license, "([^"]*)"\) == 0/g)].map((x) => x[1]);
      expect(strings, h).toEqual([...GPL_COMPATIBLE_LICENSES]);
    }
  });

  it("is an exact, case-sensitive comparison: SPDX ids, spellings and padding are not GPL-compatible", () => {
    for (const l of ["", "gpl", "GPLv2", "GPL-2.0", "GPL-2.0-only", "GPL v2+", " GPL", "GPL ", "Dual BSD/GPL\n", "Dual MIT/GPL v2", "MIT", "BSD", "Proprietary", "NVIDIA", "unspecified"]) {
      expect(licenseIsGplCompatible(l), JSON.stringify(l)).toBe(false);
    }
  });

  it("reads the first license= of .modinfo; a module without one is not GPL-compatible", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    expect(moduleLicense(proprietary.modinfo)).toBe("Proprietary");
    expect(moduleLicense(twin.modinfo)).toBe("GPL");
    expect(moduleIsGplCompatible(proprietary.modinfo)).toBe(false);
    expect(moduleIsGplCompatible(twin.modinfo)).toBe(true);
    expect(moduleLicense([])).toBeNull();
    expect(moduleIsGplCompatible([])).toBe(false);
    const twice = [...twin.modinfo, { key: "license", value: "Proprietary" }];
    expect(moduleLicense(twice)).toBe("GPL");
    expect(moduleLicense([{ key: "license", value: "Proprietary" }, ...twin.modinfo])).toBe("Proprietary");
  });
});

describe("GPL-only exports and the module's licence", () => {
  it("the fixture data: both modules need recalibrate_cpu_khz with the CRC every kernel exports it with; 6.12 exports it GPL-only", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    expect(proprietary.modversions).toEqual(twin.modversions);
    const wanted = proprietary.modversions.find((v) => v.symbol === SYMBOL)!.crc >>> 0;
    for (const [release, type] of [
      [K53, "EXPORT_SYMBOL"],
      [K54, "EXPORT_SYMBOL"],
      [K612, "EXPORT_SYMBOL_GPL"],
    ]) {
      const e = (await kernelSymvers(release)).entries.get(SYMBOL)!;
      expect(e.crc >>> 0, release).toBe(wanted);
      expect(e.exportType, release).toBe(type);
      expect(e.module).toBe("vmlinux");
    }
  });

  it("a proprietary module is refused where the kernel exports a symbol it needs GPL-only; its GPL twin is not", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    const derived = await k54AsK612();
    expect(derived.table.entries.get(SYMBOL)!.exportType).toBe("EXPORT_SYMBOL_GPL");
    const kernels: KernelTarget[] = [
      { release: K54, symvers: await kernelSymvers(K54) },
      { release: `${K54} as 6.12 exports ${SYMBOL}`, symvers: derived.table },
    ];
    const report = evaluate([proprietary, twin], kernels);
    // The real 6.1.0-54 exports it plainly: both load.
    expect(report.isCompatible(0, 0)).toBe(true);
    expect(report.isCompatible(1, 0)).toBe(true);
    // GPL-only: only the twin loads.
    expect(report.isCompatible(1, 1)).toBe(true);
    expect(report.isCompatible(0, 1)).toBe(false);
    expect(report.compatibleKernels(0)).toEqual([0]);
    const v = report.verdict(0, 1)!;
    expect(v.compatible).toBe(false);
    expect(v.gplOnly).toEqual([{ symbol: SYMBOL, provider: "vmlinux", license: "Proprietary" }]);
    expect(v.missing).toEqual([]);
    expect(v.mismatched).toEqual([]);
    expect(v.missingImportNs).toEqual([]);
    expect(report.verdict(1, 1)!.gplOnly).toEqual([]);
    expect(report.verdict(0, 0)!.gplOnly).toEqual([]);
    // explainModule agrees with the pair verdicts.
    expect(evaluate([proprietary, twin], kernels).explainModule(0)).toEqual([report.verdict(0, 0), report.verdict(0, 1)]);
  });

  it("on the real 6.12.117 symvers the proprietary build is also refused for the GPL-only export, not only for its CRCs", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    const report = evaluate([proprietary, twin], [{ release: K612, symvers: await kernelSymvers(K612) }]);
    const p = report.verdict(0, 0)!;
    const t = report.verdict(1, 0)!;
    expect(t.compatible).toBe(false);
    expect(t.gplOnly).toEqual([]);
    expect(t.mismatched.map((x) => x.symbol).sort()).toEqual(["_printk", "module_layout"]);
    expect(p.compatible).toBe(false);
    expect(p.gplOnly).toEqual([{ symbol: SYMBOL, provider: "vmlinux", license: "Proprietary" }]);
    expect(p.mismatched).toEqual(t.mismatched);
  });

  it("licence variants (derived records): none, or a misspelt one, is refused; every kernel spelling is accepted", async () => {
    const twin = await fixtureModule(K53, "kabi_gpl_twin.ko");
    const derived = await k54AsK612();
    const variants: [string | null, boolean][] = [[null, false], ["GPLv2", false], ["GPL-2.0", false], ["gpl", false], ...GPL_COMPATIBLE_LICENSES.map((l): [string, boolean] => [l, true])];
    const records = variants.map(([l]) => withLicense(twin, l));
    const report = evaluate(records, [{ release: "derived", symvers: derived.table }]);
    variants.forEach(([license, ok], m) => {
      expect(report.isCompatible(m, 0), String(license)).toBe(ok);
      expect(report.verdict(m, 0)!.gplOnly, String(license)).toEqual(ok ? [] : [{ symbol: SYMBOL, provider: "vmlinux", license }]);
    });
  });

  it("a weak reference to a GPL-only export stays unresolved, which the kernel accepts (derived: the reference made weak)", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const weak = withWeakReference(proprietary, SYMBOL);
    expect(weak.undefinedSymbols.filter((u) => u.weak).map((u) => u.name)).toEqual([SYMBOL]);
    const derived = await k54AsK612();
    const report = evaluate([proprietary, weak], [{ release: "derived", symvers: derived.table }]);
    expect(report.isCompatible(0, 0)).toBe(false);
    expect(report.isCompatible(1, 0)).toBe(true);
    expect(report.verdict(1, 0)!.gplOnly).toEqual([]);
  });

  it("module_layout is looked up as if GPL: a GPL-only module_layout does not refuse a proprietary module", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const derived = await derivedSymvers(K54, "module_layout", "EXPORT_SYMBOL_GPL");
    expect(evaluate([proprietary], [{ release: "derived", symvers: derived.table }]).verdict(0, 0)).toMatchObject({ compatible: true, gplOnly: [] });
  });

  it("EXPORT_SYMBOL_GPL_FUTURE only warned: it counts as a plain export; EXPORT_UNUSED_SYMBOL_GPL as GPL-only", async () => {
    const proprietary = await fixtureModule(K53, "kabi_proprietary.ko");
    const future = await derivedSymvers(K54, SYMBOL, "EXPORT_SYMBOL_GPL_FUTURE");
    const unusedGpl = await derivedSymvers(K54, SYMBOL, "EXPORT_UNUSED_SYMBOL_GPL");
    const unused = await derivedSymvers(K54, SYMBOL, "EXPORT_UNUSED_SYMBOL");
    const report = evaluate([proprietary], [
      { release: "future", symvers: future.table },
      { release: "unused-gpl", symvers: unusedGpl.table },
      { release: "unused", symvers: unused.table },
    ]);
    expect(report.compatibleKernels(0)).toEqual([0, 2]);
    expect(report.verdict(0, 1)!.gplOnly.map((g) => g.symbol)).toEqual([SYMBOL]);
  });

  it("a candidate or resident module's GPL-only export does not satisfy a proprietary module (derived: the consumer's licence)", async () => {
    // kabi_provider exports kabi_provider_gpl_mul (EXPORT_SYMBOL_GPL) and kabi_provider_ns_sub
    // (EXPORT_SYMBOL_NS_GPL) GPL-only, kabi_provider_add plainly; kabi_consumer uses all three.
    const provider = await fixtureModule(K53, "kabi_provider.ko");
    const consumer = await fixtureModule(K53, "kabi_consumer.ko");
    const gplOnly = new Set(provider.exports.filter((x) => x.gplOnly).map((x) => x.name));
    expect([...gplOnly].sort()).toEqual(["kabi_provider_gpl_mul", "kabi_provider_ns_sub"]);
    const closed = withLicense(consumer, "Proprietary");
    const symvers = await kernelSymvers(K53);
    // In the consumer's modversions order.
    const expected = consumer.modversions.filter((v) => gplOnly.has(v.symbol)).map((v) => ({ symbol: v.symbol, provider: "kabi_provider", license: "Proprietary" }));
    expect(expected).toHaveLength(2);

    // As a candidate provider (judged together).
    const together = evaluate([provider, consumer, closed], [{ release: K53, symvers }]);
    expect(together.isCompatible(0, 0)).toBe(true);
    expect(together.verdict(1, 0)).toMatchObject({ compatible: true, providers: ["kabi_provider"], gplOnly: [] });
    expect(together.isCompatible(2, 0)).toBe(false);
    expect(together.verdict(2, 0)).toMatchObject({ compatible: false, gplOnly: expected, missing: [], blockedBy: [] });

    // As a resident module of the kernel.
    const resident = evaluate([consumer, closed], [{ release: K53, symvers, resident: [provider] }]);
    expect(resident.isCompatible(0, 0)).toBe(true);
    expect(resident.isCompatible(1, 0)).toBe(false);
    expect(resident.verdict(1, 0)).toMatchObject({ compatible: false, gplOnly: expected, missing: [] });
  });
});

// Committed: realSampleCases() throws when the sample is lost.
describe("real Debian modules relicensed (derived records)", () => {
  it("each module alone agrees with a plain join that hides GPL-only exports; judged together, verdicts and bitsets agree", async () => {
    const kernels: KernelTarget[] = await Promise.all(symversReleases().map(async (release) => ({ release, symvers: await kernelSymvers(release) })));
    let refused = 0;
    for (const c of realSampleCases()) {
      const real = await Promise.all(c.paths.map((p) => readModuleCached(p)));
      // The shipped modules are GPL-compatible: nothing changes for them.
      for (const r of real) expect(moduleIsGplCompatible(r.modinfo), r.path).toBe(true);
      const relicensed = real.map((r) => withLicense(r, "Proprietary"));
      for (const module of relicensed) {
        const report = evaluate([module], kernels);
        const verdicts = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
        for (const v of verdicts) refused += v.gplOnly.length;
      }
      // Together (real and relicensed side by side, so relicensed ones can be providers).
      const all = [...real, ...relicensed];
      const together = evaluate(all, kernels);
      const again = evaluate(all, kernels);
      all.forEach((module, m) => {
        expect(again.explainModule(m)).toEqual(kernels.map((_, k) => together.verdict(m, k)));
        kernels.forEach((_, k) => {
          const v = together.verdict(m, k)!;
          expect(v.compatible, `${module.path} #${m} on ${kernels[k].release}`).toBe(blockingReasons(v) === 0);
          if (m < real.length) expect(v.gplOnly).toEqual([]);
        });
      });
    }
    expect(refused).toBeGreaterThan(0);
  });

  it("70 kernels at once (multi-word bitsets) give the verdicts of each kernel alone", async () => {
    const base: KernelTarget[] = await Promise.all(symversReleases().map(async (release) => ({ release, symvers: await kernelSymvers(release) })));
    const real = (await Promise.all(realSampleCases().map((c) => Promise.all(c.paths.map((p) => readModuleCached(p)))))).flat();
    const modules = [...real, ...real.map((r) => withLicense(r, "Proprietary"))];
    const { verdicts } = expectManyKernelsAgreeWithEachAlone(modules, base);
    expect(verdicts.reduce((n, v) => n + v.gplOnly.length, 0)).toBeGreaterThan(0);
  });

  it("amd64 6.1: a proprietary cdc_ether cannot use the GPL-only exports of the candidate usbnet", async () => {
    const c = realSampleCases().find((x) => x.id === "amd64-6.1")!;
    const real = await Promise.all(c.paths.map((p) => readModuleCached(p)));
    const usbnet = real.find((r) => r.name === "usbnet")!;
    const cdc = real.find((r) => r.name === "cdc_ether")!;
    const mii = real.find((r) => r.name === "mii")!;
    // The kernel of the sample without its usbnet, cdc_ether and mii: only the candidates provide them.
    const columns = new Set(["drivers/net/usb/usbnet", "drivers/net/usb/cdc_ether", "drivers/net/mii"]);
    const own = await kernelSymvers(c.release);
    const symvers = { ...own, entries: new Map([...own.entries].filter(([, e]) => !columns.has(e.module))) };
    expect(symvers.entries.has("usbnet_probe")).toBe(false);
    const usbnetGpl = new Set(usbnet.exports.filter((x) => x.gplOnly).map((x) => x.name));
    const needed = cdc.modversions.map((v) => v.symbol).filter((s) => usbnet.exports.some((x) => x.name === s));
    expect(needed.length).toBeGreaterThan(0);
    const closedCdc = withLicense(cdc, "Proprietary");
    const report = evaluate([mii, usbnet, cdc, closedCdc], [{ release: c.release, symvers }]);
    expect(report.isCompatible(1, 0)).toBe(true);
    expect(report.verdict(2, 0)).toMatchObject({ compatible: true, providers: ["usbnet"] });
    const v = report.verdict(3, 0)!;
    const expected = needed.filter((s) => usbnetGpl.has(s)).map((symbol) => ({ symbol, provider: "usbnet", license: "Proprietary" }));
    expect(expected.length).toBeGreaterThan(0);
    // Plain exports of usbnet still serve it; the GPL-only ones do not (nor vmlinux's GPL-only ones).
    expect(v.gplOnly.filter((g) => g.provider === "usbnet")).toEqual(expected);
    expect(v.compatible).toBe(false);
    expect(v.missing).toEqual([]);
    expect(report.isCompatible(3, 0)).toBe(false);
  });
});

describe("kabi audit names the GPL-only symbol", () => {
  it("in JSON and in the text reasons", async () => {
    const derived = await k54AsK612();
    const dir = join(MODULE_FIXTURES, K53);
    const files = [join(dir, "kabi_proprietary.ko"), join(dir, "kabi_gpl_twin.ko")];
    let io = captureIO();
    expect(await main(["audit", "--json", "--symvers", `${K54}=${derived.file}`, ...files], io)).toBe(1);
    const report = JSON.parse(io.stdout) as { modules: { name: string; kernels: Record<string, { compatible: boolean; gplOnly: unknown[] }> }[] };
    expect(report.modules.map((m) => [m.name, m.kernels[K54]!.compatible])).toEqual([
      ["kabi_proprietary", false],
      ["kabi_gpl_twin", true],
    ]);
    expect(report.modules[0]!.kernels[K54]!.gplOnly).toEqual([{ symbol: SYMBOL, provider: "vmlinux", license: "Proprietary" }]);
    io = captureIO();
    expect(await main(["audit", "--symvers", `${K54}=${derived.file}`, ...files], io)).toBe(1);
    expect(io.stdout).toMatch(/kabi_proprietary\.ko on 6\.1\.0-54-amd64:\n\s+uses GPL-only recalibrate_cpu_khz \(vmlinux\) under license "Proprietary", not GPL-compatible\n/);
    expect(io.stdout).not.toMatch(/kabi_gpl_twin\.ko on/);
  });
});
