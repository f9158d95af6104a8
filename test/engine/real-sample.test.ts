import { describe, expect, it } from "vitest";
import { evaluate, type KernelTarget } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { blockingReasons, expectAgreesWithPlainJoin, expectManyKernelsAgreeWithEachAlone, plainBlocking, plainJudge, readModuleCached, realSampleCases, symversByRelease, symversReleases } from "./real-data.js";

const cases = realSampleCases();
const releases = symversReleases();

async function allKernels(): Promise<KernelTarget[]> {
  return Promise.all(releases.map(async (release) => ({ release, symvers: await symversByRelease(release) })));
}

async function caseModules(paths: string[]): Promise<ModuleRecord[]> {
  return Promise.all(paths.map((p) => readModuleCached(p)));
}

/** The same kernel without the given in-tree modules installed: their symvers entries left out (a real subset). */
function without(table: SymversTable, moduleColumns: ReadonlySet<string>): SymversTable {
  return { ...table, entries: new Map([...table.entries].filter(([, e]) => !moduleColumns.has(e.module))) };
}

// Committed: realSampleCases() and symversReleases() throw when the sample or the symvers are lost.
describe("engine on real Debian modules and kernel symvers", () => {
  it("has samples for several architectures and kernels", () => {
    expect(cases.map((c) => c.id)).toEqual(expect.arrayContaining(["amd64-6.1", "amd64-6.12"]));
    for (const c of cases) expect(releases).toContain(c.release);
  });

  for (const c of cases) {
    it(`${c.id}: each module alone agrees with a plain join of its modversions and each symvers`, async () => {
      const modules = await caseModules(c.paths);
      const kernels = await allKernels();
      let compatible = 0;
      let incompatible = 0;
      for (const module of modules) {
        const report = evaluate([module], kernels);
        expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k)).forEach((v) => {
          expect(v.blockedBy, module.path).toEqual([]);
          expect(v.vermagicMismatch).toBeNull();
          expect(v.noModversions).toBe(!module.hasModversions);
          if (v.compatible) compatible++;
          else incompatible++;
        });
        // Shipped with its kernel: it loads there.
        expect(report.verdict(0, releases.indexOf(c.release))!.compatible, `${module.path} on its own kernel`).toBe(true);
      }
      // Both verdicts occur on real data.
      expect(compatible).toBeGreaterThan(0);
      expect(incompatible).toBeGreaterThan(0);
    });

    it(`${c.id}: judged together, a module loadable alone stays loadable and CRC failures stay failures`, async () => {
      const modules = await caseModules(c.paths);
      const kernels = await allKernels();
      const together = evaluate(modules, kernels);
      modules.forEach((module, m) => {
        kernels.forEach((k, ki) => {
          const plain = plainJudge(module, k.symvers);
          const v = together.verdict(m, ki)!;
          if (plain.ok) expect(v.compatible).toBe(true);
          if (plain.mismatched.length > 0) {
            expect(v.compatible).toBe(false);
            expect(v.mismatched.map((x) => x.symbol)).toEqual(plain.mismatched.map((x) => x.symbol));
          }
          // Every incompatible verdict says why; compatible ones report nothing blocking (every verdict field).
          expect(v.compatible).toBe(blockingReasons(v) === 0);
        });
      });
    });
  }

  it("amd64 6.1: dependency chains through candidate modules when the kernels lack them (greatest fixed point)", async () => {
    const c = cases.find((x) => x.id === "amd64-6.1")!;
    const modules = await caseModules(c.paths);
    // Symvers module column of each sample module: its path under lib/modules/<K>/kernel without ".ko".
    const columns = new Set(c.paths.map((p) => p.slice(p.indexOf("/amd64-6.1/") + "/amd64-6.1/".length).replace(/\.ko.*$/, "")));
    expect(columns).toContain("drivers/net/mii");
    const byName = (name: string) => modules.findIndex((m) => m.name === name);
    const [mii, usbnet, cdc] = [byName("mii"), byName("usbnet"), byName("cdc_ether")];
    expect(Math.min(mii, usbnet, cdc)).toBeGreaterThanOrEqual(0);
    const kernels = (await allKernels())
      .filter((k) => k.release.startsWith("6.1.0-") && k.release.endsWith("-amd64"))
      .map((k) => ({ ...k, symvers: without(k.symvers, columns) }));
    for (const k of kernels) expect(k.symvers.entries.has("mii_link_ok")).toBe(false);
    const home = kernels.findIndex((k) => k.release === c.release);
    const report = evaluate(modules, kernels);

    // On its own kernel the chain resolves through the candidates.
    expect(report.verdict(mii, home)!.compatible).toBe(true);
    expect(report.verdict(usbnet, home)!.providers).toContain("mii");
    expect(report.verdict(usbnet, home)!.compatible).toBe(true);
    expect(report.verdict(cdc, home)!.providers).toContain("usbnet");
    expect(report.verdict(cdc, home)!.compatible).toBe(true);

    // Elsewhere each link is compatible exactly when it is alone-compatible with vmlinux and its provider is.
    kernels.forEach((k, ki) => {
      const own = (m: number) => {
        const plain = plainJudge(modules[m], k.symvers);
        const provided = new Set(modules.flatMap((x, xi) => (xi === m ? [] : x.exports.map((e) => e.name))));
        return plainBlocking(plain, ["missing"]) === 0 && plain.missing.every((s) => provided.has(s));
      };
      const miiOk = own(mii);
      const usbnetOk = own(usbnet) && miiOk;
      expect(report.isCompatible(mii, ki), `mii on ${k.release}`).toBe(miiOk);
      expect(report.isCompatible(usbnet, ki), `usbnet on ${k.release}`).toBe(usbnetOk);
      expect(report.isCompatible(cdc, ki), `cdc_ether on ${k.release}`).toBe(own(cdc) && usbnetOk);
      if (!miiOk && own(usbnet)) {
        const v = report.verdict(usbnet, ki)!;
        expect(v.blockedBy.map((b) => b.provider)).toEqual(["mii"]);
        expect(v.blockedBy[0].providerPath).toBe(modules[mii].path);
      }
      if (own(cdc) && !usbnetOk) {
        expect(report.verdict(cdc, ki)!.blockedBy.map((b) => b.provider)).toContain("usbnet");
      }
    });
  });

  it("amd64 6.1: a module whose only problem is its provider is reported as blocked by it", async () => {
    const c = cases.find((x) => x.id === "amd64-6.1")!;
    const modules = await caseModules(c.paths);
    const columns = new Set(c.paths.map((p) => p.slice(p.indexOf("/amd64-6.1/") + "/amd64-6.1/".length).replace(/\.ko.*$/, "")));
    const kernels = (await allKernels())
      .filter((k) => k.release.startsWith("6.1.0-") && k.release.endsWith("-amd64"))
      .map((k) => ({ ...k, symvers: without(k.symvers, columns) }));
    const report = evaluate(modules, kernels);
    const onlyBlocked: string[] = [];
    modules.forEach((module, m) => {
      kernels.forEach((k, ki) => {
        const v = report.verdict(m, ki)!;
        if (v.compatible || v.blockedBy.length === 0) return;
        // Independently: against the kernel alone, everything it lacks is exported by the blocking providers.
        const plain = plainJudge(module, k.symvers);
        const blockedSymbols = v.blockedBy.flatMap((b) => b.symbols);
        expect(plain.missing).toEqual(expect.arrayContaining(blockedSymbols));
        for (const b of v.blockedBy) {
          const p = modules.findIndex((x) => x.path === b.providerPath);
          expect(report.isCompatible(p, ki)).toBe(false);
          for (const s of b.symbols) expect(modules[p].exports.map((e) => e.name)).toContain(s);
        }
        if (blockingReasons(v, ["blockedBy"]) === 0) {
          onlyBlocked.push(`${module.name}@${k.release}`);
        }
      });
    });
    // e.g. dm_zero on 6.1.0-54 (same module_layout as -53): its own vmlinux CRCs match, dm_mod's do not.
    expect(onlyBlocked.length).toBeGreaterThan(0);
  });

  it("70 kernels at once (multi-word bitsets) give the same verdicts as each kernel alone", async () => {
    const base = await allKernels();
    const modules = (await Promise.all(cases.map((c) => caseModules(c.paths)))).flat();
    const { together } = expectManyKernelsAgreeWithEachAlone(modules, base);
    // Module 0 (amd64 6.1's st_sensors) is provided for by no other sample module: the plain join
    // of its modversions with each base kernel's symvers says where it loads, for all 70 copies.
    const first = modules[0]!;
    const expected = Array.from({ length: 70 }, (_, ki) => ki).filter((ki) => plainJudge(first, base[ki % base.length]!.symvers).ok);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(70);
    expect(together.compatibleKernels(0)).toEqual(expected);
  });

  it("i386 and s390x modules are judged against their own kernels (32-bit, big-endian)", async () => {
    for (const id of ["i386-6.1", "s390x-6.1"]) {
      const c = cases.find((x) => x.id === id)!;
      const modules = await caseModules(c.paths);
      const kernels = await allKernels();
      const report = evaluate(modules, kernels);
      const home = releases.indexOf(c.release);
      modules.forEach((m, mi) => {
        expect(report.verdict(mi, home)!.compatible, `${m.path}`).toBe(true);
        // Not loadable on any amd64 kernel.
        kernels.forEach((k, ki) => {
          if (k.release.endsWith("-amd64")) expect(report.isCompatible(mi, ki)).toBe(false);
        });
      });
    }
  });
});
