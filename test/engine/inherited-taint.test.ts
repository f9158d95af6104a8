/**
 * The kernel's inherited proprietary taint (src/engine/inherited-taint.ts), on the kbuild fixtures
 * of fixtures/modules/proprietary-taint/<release>/:
 * - kabi_prop_provider: MODULE_LICENSE("Proprietary"), EXPORT_SYMBOL(kabi_prop_value);
 * - kabi_taint_consumer: GPL, uses kabi_prop_value and cpu_mitigations_off (EXPORT_SYMBOL_GPL of
 *   vmlinux on every fixture kernel), the latter first in its symbol table;
 * - kabi_taint_relay: GPL, uses kabi_prop_value only, exports kabi_relay_value (EXPORT_SYMBOL);
 * - kabi_taint_relay_user: GPL, uses kabi_relay_value and then cpu_mitigations_off.
 * Records marked "derived" are real fixture records with one field of their plain data edited (a
 * licence, a weak flag, an export type, the symbol-table order), because kbuild does not build
 * those variants; "derived symvers" is a real symvers with one entry added.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { evaluate, type KernelTarget, type PairVerdict, type ProprietaryTaintConflict } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { captureIO } from "../helpers/capture-io.js";
import { withGplOnlyExport, withGplOnlyExportAdded, withLicense, withReferenceAdded, withSymbolTableReversed, withWeakReference } from "../helpers/record-edit.js";
import { expectAgreesWithPlainJoin, expectManyKernelsAgreeWithEachAlone, kernelSymvers, MODULE_FIXTURES, readModuleCached, REAL_SAMPLE, realSampleCases, ROOT } from "./real-data.js";

const K53 = "6.1.0-53-amd64";
const K54 = "6.1.0-54-amd64";
const K612 = "6.12.117+deb12-amd64";
const GPL_ONLY = "cpu_mitigations_off";
const TAINT_DIR = join(MODULE_FIXTURES, "proprietary-taint");

interface TaintFixtures {
  provider: ModuleRecord;
  consumer: ModuleRecord;
  relay: ModuleRecord;
  relayUser: ModuleRecord;
}

async function fixtures(release: string): Promise<TaintFixtures> {
  const read = (name: string) => readModuleCached(join(TAINT_DIR, release, `${name}.ko`));
  const [provider, consumer, relay, relayUser] = await Promise.all(["kabi_prop_provider", "kabi_taint_consumer", "kabi_taint_relay", "kabi_taint_relay_user"].map(read));
  return { provider, consumer, relay, relayUser };
}

async function kernel(release: string, resident?: ModuleRecord[], symvers?: SymversTable): Promise<KernelTarget> {
  return { release, symvers: symvers ?? (await kernelSymvers(release)), resident };
}

/** The consumer's conflict: cpu_mitigations_off comes first, so inherit_taint refuses kabi_prop_value. */
const CONSUMER_CONFLICT: ProprietaryTaintConflict = {
  symbol: "kabi_prop_value",
  provider: "kabi_prop_provider",
  taintedBy: "kabi_prop_provider",
  gplOnlySymbol: GPL_ONLY,
  gplOnlyProvider: "vmlinux",
};
/** The relay user's: kabi_relay_value comes first and taints it, so cpu_mitigations_off is not found. */
const RELAY_USER_CONFLICT: ProprietaryTaintConflict = {
  symbol: "kabi_relay_value",
  provider: "kabi_taint_relay",
  taintedBy: "kabi_prop_provider",
  gplOnlySymbol: GPL_ONLY,
  gplOnlyProvider: "vmlinux",
};

/** Refused for the taint only: every other reason empty. */
function expectRefusedForTaint(v: PairVerdict | null, conflicts: ProprietaryTaintConflict[]): void {
  expect(v).toMatchObject({ compatible: false, missing: [], mismatched: [], noSymbolVersion: [], blockedBy: [], missingImportNs: [], gplOnly: [], vermagicMismatch: null });
  expect(v!.proprietaryTaint).toEqual(conflicts);
}

const modules = (f: TaintFixtures) => [f.provider, f.consumer, f.relay, f.relayUser];

describe("inherited proprietary taint: kbuild fixtures", () => {
  it("the fixture data: licences, exports, symbol-table order, and a GPL-only export of vmlinux with the modules' CRC", async () => {
    for (const release of [K53, K54, K612]) {
      const f = await fixtures(release);
      const license = (r: ModuleRecord) => r.modinfo.find((e) => e.key === "license")?.value;
      expect(modules(f).map(license)).toEqual(["Proprietary", "GPL", "GPL", "GPL"]);
      expect(f.provider.exports).toEqual([expect.objectContaining({ name: "kabi_prop_value", gplOnly: false })]);
      expect(f.relay.exports).toEqual([expect.objectContaining({ name: "kabi_relay_value", gplOnly: false })]);
      const used = (r: ModuleRecord) => r.undefinedSymbols.map((u) => u.name).filter((n) => n.startsWith("kabi_") || n === GPL_ONLY);
      expect(used(f.consumer)).toEqual([GPL_ONLY, "kabi_prop_value"]);
      expect(used(f.relay)).toEqual(["kabi_prop_value"]);
      expect(used(f.relayUser)).toEqual(["kabi_relay_value", GPL_ONLY]);
      const e = (await kernelSymvers(release)).entries.get(GPL_ONLY)!;
      expect([e.module, e.exportType]).toEqual(["vmlinux", "EXPORT_SYMBOL_GPL"]);
      for (const r of [f.consumer, f.relayUser]) expect(r.modversions.find((v) => v.symbol === GPL_ONLY)!.crc >>> 0).toBe(e.crc >>> 0);
    }
  });

  it("judged together: the provider and the relay load, the consumer and the relay's user are refused", async () => {
    for (const [built, releases] of [
      [K53, [K53, K54]],
      [K612, [K612]],
    ] as const) {
      const f = await fixtures(built);
      const kernels = await Promise.all(releases.map((r) => kernel(r)));
      const report = evaluate(modules(f), kernels);
      const all = kernels.map((_, k) => k);
      expect([0, 1, 2, 3].map((m) => report.compatibleKernels(m)), built).toEqual([all, [], all, []]);
      for (let k = 0; k < kernels.length; k++) {
        expectRefusedForTaint(report.verdict(1, k), [CONSUMER_CONFLICT]);
        expect(report.verdict(1, k)!.providers).toEqual(["kabi_prop_provider"]);
        expectRefusedForTaint(report.verdict(3, k), [RELAY_USER_CONFLICT]);
        expect(report.verdict(2, k)).toMatchObject({ compatible: true, proprietaryTaint: [], providers: ["kabi_prop_provider"] });
        expect(report.verdict(0, k)).toMatchObject({ compatible: true, proprietaryTaint: [] });
      }
      const again = evaluate(modules(f), kernels);
      for (let m = 0; m < 4; m++) expect(again.explainModule(m)).toEqual(kernels.map((_, k) => report.verdict(m, k)));
    }
  });

  it("with the proprietary module, or it and the relay, resident on the kernel: the same, and the plain join agrees", async () => {
    const f = await fixtures(K53);
    const alone = async (module: ModuleRecord, resident: ModuleRecord[]) => {
      const kernels = [await kernel(K53, resident), await kernel(K54, resident)];
      const report = evaluate([module], kernels);
      return expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
    };
    for (const v of await alone(f.consumer, [f.provider])) expectRefusedForTaint(v, [CONSUMER_CONFLICT]);
    for (const v of await alone(f.relay, [f.provider])) expect(v).toMatchObject({ compatible: true, providers: ["kabi_prop_provider"] });
    for (const v of await alone(f.relayUser, [f.provider, f.relay])) expectRefusedForTaint(v, [RELAY_USER_CONFLICT]);
    // The relay's resident order does not matter: its taint is found whichever is listed first.
    for (const v of await alone(f.relayUser, [f.relay, f.provider])) expectRefusedForTaint(v, [RELAY_USER_CONFLICT]);
    // A resident proprietary module, a candidate relay: the relay passes the resident's taint on.
    const mixed = evaluate([f.relay, f.relayUser], [await kernel(K53, [f.provider])]);
    expect(mixed.isCompatible(0, 0)).toBe(true);
    expectRefusedForTaint(mixed.verdict(1, 0), [RELAY_USER_CONFLICT]);
  });

  it("under a GPL-compatible licence the provider taints nobody (derived: its licence)", async () => {
    const f = await fixtures(K53);
    const kernels = [await kernel(K53), await kernel(K54)];
    for (const license of ["GPL", "Dual MIT/GPL"]) {
      const report = evaluate([withLicense(f.provider, license), f.consumer, f.relay, f.relayUser], kernels);
      for (let m = 0; m < 4; m++) expect(report.compatibleKernels(m), license).toEqual([0, 1]);
    }
  });

  it("a consumer that is proprietary itself is refused the GPL-only export for its licence, with no taint conflict (derived: its licence)", async () => {
    const f = await fixtures(K53);
    const report = evaluate([f.provider, withLicense(f.consumer, "Proprietary")], [await kernel(K53)]);
    expect(report.verdict(1, 0)).toMatchObject({
      compatible: false,
      gplOnly: [{ symbol: GPL_ONLY, provider: "vmlinux", license: "Proprietary" }],
      proprietaryTaint: [],
    });
  });

  it("weak references: the symbol-table order decides which one is dropped (derived: one reference weak, the table reversed)", async () => {
    const f = await fixtures(K53);
    const kernels = [await kernel(K53)];
    const judge = (consumer: ModuleRecord, relay = f.relay) => evaluate([f.provider, consumer, relay, f.relayUser], kernels);
    // GPL-only first, then the tainted export weakly: inherit_taint refuses it, which a weak reference tolerates.
    let report = judge(withWeakReference(f.consumer, "kabi_prop_value"));
    expect(report.verdict(1, 0)).toMatchObject({ compatible: true, proprietaryTaint: [] });
    // The tainted export first, weakly: it taints the module, and the GPL-only one is then not found.
    report = judge(withSymbolTableReversed(withWeakReference(f.consumer, "kabi_prop_value")));
    expectRefusedForTaint(report.verdict(1, 0), [CONSUMER_CONFLICT]);
    // The GPL-only export weakly, first: it is found and used, so the tainted export is refused.
    report = judge(withWeakReference(f.consumer, GPL_ONLY));
    expectRefusedForTaint(report.verdict(1, 0), [CONSUMER_CONFLICT]);
    // The GPL-only export weakly, after the tainted one: not found, tolerated.
    report = judge(withSymbolTableReversed(withWeakReference(f.consumer, GPL_ONLY)));
    expect(report.verdict(1, 0)).toMatchObject({ compatible: true, proprietaryTaint: [] });
    // The relay's reference weak: still resolved, so the relay is tainted and its user refused.
    report = judge(f.consumer, withWeakReference(f.relay, "kabi_prop_value"));
    expect(report.isCompatible(2, 0)).toBe(true);
    expectRefusedForTaint(report.verdict(3, 0), [RELAY_USER_CONFLICT]);
  });

  it("a GPL-only export of a tainted module is refused on its own; users of a refused module are blocked by it (derived: the export's type)", async () => {
    const f = await fixtures(K53);
    const provider = withGplOnlyExport(f.provider, "kabi_prop_value");
    const kernels = [await kernel(K53)];
    const report = evaluate([provider, f.consumer, f.relay, f.relayUser], kernels);
    // The relay finds kabi_prop_value GPL-only (using_gplonly_symbols), then from a tainted owner.
    const self: ProprietaryTaintConflict = { ...CONSUMER_CONFLICT, gplOnlySymbol: "kabi_prop_value", gplOnlyProvider: "kabi_prop_provider" };
    expectRefusedForTaint(report.verdict(2, 0), [self]);
    expectRefusedForTaint(report.verdict(1, 0), [CONSUMER_CONFLICT]);
    expect(report.verdict(3, 0)).toMatchObject({
      compatible: false,
      blockedBy: [{ provider: "kabi_taint_relay", providerPath: f.relay.path, symbols: ["kabi_relay_value"] }],
      proprietaryTaint: [],
    });
    // As a resident, checked against the plain join.
    const resident = [await kernel(K53, [provider])];
    const alone = evaluate([f.relay], resident);
    const [v] = expectAgreesWithPlainJoin(f.relay, resident, (k) => alone.verdict(0, k)!, (k) => alone.isCompatible(0, k));
    expectRefusedForTaint(v, [self]);
  });

  it("a module refused for the taint passes none on: its weak user loads once it is gone (derived: a reference added, a weak reference)", async () => {
    // A relay that also uses cpu_mitigations_off, after kabi_prop_value: tainted first, then refused.
    // Its user references kabi_relay_value weakly, first: while the relay counts as loaded, that
    // reference taints the user and hides cpu_mitigations_off; once it is gone, nothing does.
    const f = await fixtures(K53);
    const relay = withReferenceAdded(f.relay, GPL_ONLY);
    const report = evaluate([f.provider, relay, withWeakReference(f.relayUser, "kabi_relay_value")], [await kernel(K53)]);
    expectRefusedForTaint(report.verdict(1, 0), [CONSUMER_CONFLICT]);
    expect(report.verdict(2, 0)).toMatchObject({ compatible: true, proprietaryTaint: [], blockedBy: [], providers: [] });
  });

  it("two modules refused for each other's exports both go (derived: exports and a reference added)", async () => {
    // The relay, tainted by kabi_prop_value, exports kabi_relay_value GPL-only and uses kabi_user_gpl,
    // a GPL-only export given to the relay's user: each refusal involves the other module.
    const f = await fixtures(K53);
    const relay = withReferenceAdded(withGplOnlyExport(f.relay, "kabi_relay_value"), "kabi_user_gpl");
    const user = withGplOnlyExportAdded(f.relayUser, "kabi_user_gpl");
    const report = evaluate([f.provider, relay, user], [await kernel(K53)]);
    expect(report.compatibleKernels(1)).toEqual([]);
    expect(report.compatibleKernels(2)).toEqual([]);
    expect(report.verdict(1, 0)!.blockedBy.map((b) => b.provider)).toEqual(["kabi_taint_relay_user"]);
    expect(report.verdict(2, 0)!.blockedBy.map((b) => b.provider)).toEqual(["kabi_taint_relay"]);
  });

  it("a candidate standing in for the in-tree module of its name passes its taint on (derived symvers: kabi_prop_value listed as that module's)", async () => {
    const f = await fixtures(K53);
    const own = await kernelSymvers(K53);
    const crc = f.provider.exports[0].crc!;
    const entries = new Map(own.entries);
    entries.set("kabi_prop_value", { symbol: "kabi_prop_value", crc, module: "extra/kabi_prop_provider", exportType: "EXPORT_SYMBOL", namespace: "" });
    const kernels = [await kernel(K53, undefined, { ...own, entries })];
    // Alone, the symvers entry provides: an in-tree module, taken as untainted.
    const alone = evaluate([f.consumer], kernels);
    const [v] = expectAgreesWithPlainJoin(f.consumer, kernels, (k) => alone.verdict(0, k)!, (k) => alone.isCompatible(0, k));
    expect(v.compatible).toBe(true);
    // With the proprietary module of that name as a candidate, it is what the kernel loads.
    const report = evaluate([f.provider, f.consumer], kernels);
    expect(report.isCompatible(0, 0)).toBe(true);
    expectRefusedForTaint(report.verdict(1, 0), [CONSUMER_CONFLICT]);
  });

  it("70 kernels at once (multi-word bitsets) give the verdicts of each kernel alone", async () => {
    const base = await Promise.all([K53, K54, K612].map((r) => kernel(r)));
    const records = [...modules(await fixtures(K53)), ...modules(await fixtures(K612))];
    const { verdicts } = expectManyKernelsAgreeWithEachAlone(records, base);
    expect(verdicts.reduce((n, v) => n + v.proprietaryTaint.length, 0)).toBeGreaterThan(0);
  });
});

describe("inherited proprietary taint: kabi audit", () => {
  it("names the conflict in JSON and in the text reasons", async () => {
    const symvers = `${K53}=${join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`)}`;
    const dir = join(TAINT_DIR, K53);
    let io = captureIO();
    expect(await main(["audit", "--json", "--symvers", symvers, dir], io)).toBe(1);
    const report = JSON.parse(io.stdout) as { modules: { name: string; kernels: Record<string, { compatible: boolean; proprietaryTaint: unknown[] }> }[] };
    expect(Object.fromEntries(report.modules.map((m) => [m.name, m.kernels[K53]!]))).toEqual({
      kabi_prop_provider: expect.objectContaining({ compatible: true, proprietaryTaint: [] }),
      kabi_taint_consumer: expect.objectContaining({ compatible: false, proprietaryTaint: [CONSUMER_CONFLICT] }),
      kabi_taint_relay: expect.objectContaining({ compatible: true, proprietaryTaint: [] }),
      kabi_taint_relay_user: expect.objectContaining({ compatible: false, proprietaryTaint: [RELAY_USER_CONFLICT] }),
    });
    io = captureIO();
    expect(await main(["audit", "--symvers", symvers, dir], io)).toBe(1);
    expect(io.stdout).toMatch(
      /kabi_taint_consumer\.ko on 6\.1\.0-53-amd64:\n\s+uses kabi_prop_value from proprietary module kabi_prop_provider and GPL-only cpu_mitigations_off \(vmlinux\): the kernel refuses one of the two \(inherited proprietary taint\)\n/,
    );
    expect(io.stdout).toMatch(/kabi_taint_relay_user\.ko on 6\.1\.0-53-amd64:\n\s+uses kabi_relay_value from kabi_taint_relay \(tainted proprietary by kabi_prop_provider\) and GPL-only cpu_mitigations_off/);
    expect(io.stdout).not.toMatch(/kabi_taint_relay\.ko on|kabi_prop_provider\.ko on/);
  });
});

// Committed: realSampleCases() throws when the sample is lost.
describe("inherited proprietary taint: real Debian modules, one relicensed (derived records)", () => {
  /**
   * The case's kernel without its own copies of the sample's modules (their symvers entries
   * removed), the sample's other modules resident, one of them relicensed proprietary.
   */
  it("each module judged alone agrees with the plain join, whichever resident is proprietary", async () => {
    let conflicts = 0;
    let judged = 0;
    for (const c of realSampleCases()) {
      const records = await Promise.all(c.paths.map((p) => readModuleCached(p)));
      const own = await kernelSymvers(c.release);
      const columns = new Set(c.paths.map((p) => p.slice(join(REAL_SAMPLE, c.id).length + 1).replace(/\.ko(\.\w+)?$/, "")));
      const withoutSample = { ...own, entries: new Map([...own.entries].filter(([, e]) => !columns.has(e.module))) };
      expect(withoutSample.entries.size, c.id).toBeLessThan(own.entries.size);
      for (const proprietary of records.filter((r) => r.exports.length > 0)) {
        for (const module of records) {
          if (module === proprietary) continue;
          const resident = records.filter((r) => r !== module).map((r) => (r === proprietary ? withLicense(r, "Proprietary") : r));
          const kernels = [{ release: c.release, symvers: withoutSample, resident }];
          const report = evaluate([module], kernels);
          const [v] = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
          conflicts += v.proprietaryTaint.length;
          judged++;
        }
      }
    }
    expect(judged).toBeGreaterThan(100);
    expect(conflicts).toBeGreaterThan(0);
  });

  it("amd64 6.1: with mii proprietary, the candidate usbnet is refused (as with mii resident) and cdc_ether is blocked by it", async () => {
    const c = realSampleCases().find((x) => x.id === "amd64-6.1")!;
    const real = await Promise.all(c.paths.map((p) => readModuleCached(p)));
    const [mii, usbnet, cdc] = ["mii", "usbnet", "cdc_ether"].map((n) => real.find((r) => r.name === n)!);
    const columns = new Set(["drivers/net/usb/usbnet", "drivers/net/usb/cdc_ether", "drivers/net/mii"]);
    const own = await kernelSymvers(c.release);
    const symvers = { ...own, entries: new Map([...own.entries].filter(([, e]) => !columns.has(e.module))) };
    const closedMii = withLicense(mii, "Proprietary");
    const report = evaluate([closedMii, usbnet, cdc], [{ release: c.release, symvers }]);
    expect(report.isCompatible(0, 0)).toBe(true);
    const v = report.verdict(1, 0)!;
    expect(v.compatible).toBe(false);
    expect(v.proprietaryTaint.length).toBeGreaterThan(0);
    const miiExports = new Set(mii.exports.map((x) => x.name));
    for (const t of v.proprietaryTaint) {
      expect(miiExports.has(t.symbol), t.symbol).toBe(true);
      expect(t).toMatchObject({ provider: "mii", taintedBy: "mii" });
    }
    expect(v).toMatchObject({ missing: [], mismatched: [], blockedBy: [], gplOnly: [], missingImportNs: [] });
    expect(report.verdict(2, 0)).toMatchObject({ compatible: false, blockedBy: [expect.objectContaining({ provider: "usbnet" })], proprietaryTaint: [] });
    const resident = evaluate([usbnet], [{ release: c.release, symvers, resident: [closedMii] }]);
    expect(resident.verdict(0, 0)!.proprietaryTaint).toEqual(v.proprietaryTaint);
  });
});
