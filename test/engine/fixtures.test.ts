import { describe, expect, it } from "vitest";
import { evaluate, vermagicFlags, type KernelTarget } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { expectAgreesWithPlainJoin, fixtureModule, fixtureReleases, kernelSymvers, plainBlocking, plainJudge } from "./real-data.js";

const releases = fixtureReleases();
const PROVIDER_SYMBOLS = ["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"];

async function kernels(resident?: (release: string) => Promise<ModuleRecord[]>): Promise<KernelTarget[]> {
  return Promise.all(
    releases.map(async (release) => ({
      release,
      symvers: await kernelSymvers(release),
      // The fixtures were built against each kernel's own headers: their vermagic is the kernel's.
      vermagic: (await fixtureModule(release, "kabi_provider.ko")).vermagic,
      resident: resident === undefined ? undefined : await resident(release),
    })),
  );
}

/** The module's non-provider requirements, judged against the kernel symvers by plain loops (every reason of the plain join). */
function ownKernelSymbolsOk(module: ModuleRecord, symvers: KernelTarget["symvers"]): boolean {
  const j = plainJudge(module, symvers);
  return plainBlocking(j, ["missing"]) === 0 && j.missing.every((s) => PROVIDER_SYMBOLS.includes(s));
}

/**
 * Where the provider built for `built` loads (fixtures/modules/README.md): only on its own kernel,
 * since its skb_put/__alloc_skb CRCs differ between every pair of fixture kernels.
 */
const providerLoads = (built: string, release: string): boolean => built === release;

// Committed: fixtureReleases() throws when a release's fixtures or symvers are lost.
describe("engine on the real out-of-tree fixtures", () => {
  it("has fixtures for several kernels (6.1 and 6.12)", () => {
    expect(releases.some((r) => r.startsWith("6.1."))).toBe(true);
    expect(releases.some((r) => r.startsWith("6.12."))).toBe(true);
  });

  it("a module alone agrees with a plain join of its modversions and the kernel symvers (every verdict field)", async () => {
    const ks = await kernels();
    for (const built of releases) {
      // kabi_proprietary is only built for the 6.1 kernels: modpost refuses it where its symbol is GPL-only.
      const files = ["kabi_provider.ko", "kabi_consumer.ko", "kabi_no_import_ns.ko", "kabi_ext_modversions.ko", "kabi_gpl_twin.ko", "kabi_noversions.ko", "kabi_consumer_nosymvers.ko"];
      if (built.startsWith("6.1.")) files.push("kabi_proprietary.ko");
      for (const file of files) {
        const module = await fixtureModule(built, file);
        const report = evaluate([module], ks);
        expectAgreesWithPlainJoin(module, ks, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
      }
    }
  });

  it("each provider loads on its own kernel only (its skb CRCs differ between the fixture kernels)", async () => {
    const ks = await kernels();
    const providers = await Promise.all(releases.map((r) => fixtureModule(r, "kabi_provider.ko")));
    const report = evaluate(providers, ks);
    releases.forEach((built, m) => {
      expect(report.compatibleKernels(m)).toEqual([m]);
      expect(report.verdict(m, m)).toEqual({
        compatible: true,
        missing: [],
        mismatched: [],
        noSymbolVersion: [],
        blockedBy: [],
        missingImportNs: [],
        gplOnly: [],
        proprietaryTaint: [],
        vermagicMismatch: null,
        noModversions: false,
        providers: [],
        // kbuild builds without a signing key.
        signatureKey: "unsigned",
        signatureRefused: false,
        // The kernels come from symvers alone: no tree, no struct module size.
        moduleSizeMismatch: null,
        moduleSizeUnknown: true,
        crcsNotChecked: false,
        noModversionsRefused: null,
        forcedLoad: false,
        unsignedRefused: null,
      });
      for (let k = 0; k < ks.length; k++) {
        if (k === m) continue;
        const v = report.verdict(m, k)!;
        expect(v.compatible, `${built} provider on ${ks[k].release}`).toBe(false);
        expect(v.mismatched.map((x) => x.symbol)).toContain("skb_put");
        expect(v.mismatched.find((x) => x.symbol === "skb_put")!.provider).toBe("vmlinux");
      }
    });
  });

  it("the consumer is compatible exactly where its provider is; blockedBy names the provider elsewhere", async () => {
    const ks = await kernels();
    for (const built of releases) {
      const provider = await fixtureModule(built, "kabi_provider.ko");
      const consumer = await fixtureModule(built, "kabi_consumer.ko");
      const report = evaluate([provider, consumer], ks);
      expect(report.isCompatible(0, releases.indexOf(built))).toBe(true);
      expect(report.isCompatible(1, releases.indexOf(built))).toBe(true);
      ks.forEach((k, ki) => {
        const p = report.verdict(0, ki)!;
        const c = report.verdict(1, ki)!;
        const own = ownKernelSymbolsOk(consumer, k.symvers);
        expect(p.compatible, `${built} provider on ${k.release}`).toBe(providerLoads(built, k.release));
        expect(c.compatible, `${built} consumer on ${k.release}`).toBe(providerLoads(built, k.release) && own);
        if (p.compatible) {
          expect(c.providers).toEqual(["kabi_provider"]);
          expect(c.blockedBy).toEqual([]);
        } else {
          // The provider's symbols are nowhere else: the consumer is blocked by it, in modversions order.
          const order = consumer.modversions.map((v) => v.symbol).filter((s) => PROVIDER_SYMBOLS.includes(s));
          expect(c.blockedBy).toEqual([{ provider: "kabi_provider", providerPath: provider.path, symbols: order }]);
          expect(c.missing).toEqual([]);
          expect(c.providers).toEqual([]);
          if (own) {
            expect(c.mismatched).toEqual([]);
            expect(c.missingImportNs).toEqual([]);
          }
        }
      });
      // On the other 6.1 kernel (same vmlinux CRCs for the consumer's own symbols) it is only blocked.
      const sibling = releases.find((r) => r !== built && r.startsWith("6.1.") === built.startsWith("6.1."));
      if (sibling !== undefined) {
        const c = report.verdict(1, releases.indexOf(sibling))!;
        expect(c.compatible).toBe(false);
        expect(c.blockedBy.map((b) => b.provider)).toEqual(["kabi_provider"]);
        expect(c.mismatched).toEqual([]);
      }
    }
  });

  it("a provider built for another kernel with the same export CRCs satisfies the consumer", async () => {
    const ks = await kernels();
    const modules = await Promise.all(releases.flatMap((r) => [fixtureModule(r, "kabi_provider.ko"), fixtureModule(r, "kabi_consumer.ko")]));
    const report = evaluate(modules, ks);
    releases.forEach((built, i) => {
      const consumer = modules[2 * i + 1];
      ks.forEach((k, ki) => {
        // Some provider compatible on k exports all three symbols with the consumer's CRCs?
        const crcs = new Map(consumer.modversions.map((v) => [v.symbol, v.crc]));
        // Only the provider built for k loads there (see providerLoads).
        const providerOk = modules.some(
          (p, pi) =>
            p.name === "kabi_provider" &&
            providerLoads(releases[Math.floor(pi / 2)]!, k.release) &&
            PROVIDER_SYMBOLS.every((s) => p.exports.find((x) => x.name === s)?.crc === crcs.get(s)),
        );
        expect(report.isCompatible(2 * i + 1, ki), `${built} consumer on ${k.release}`).toBe(
          providerOk && ownKernelSymbolsOk(consumer, k.symvers),
        );
      });
    });
  });

  it("resident modules provide, and are not judged", async () => {
    const ks = await kernels(async (r) => [await fixtureModule(r, "kabi_provider.ko")]);
    const consumers = await Promise.all(releases.map((r) => fixtureModule(r, "kabi_consumer.ko")));
    const report = evaluate(consumers, ks);
    expect(report.moduleCount).toBe(consumers.length);
    consumers.forEach((consumer, m) => {
      ks.forEach((k, ki) => {
        const v = report.verdict(m, ki)!;
        expect(v.compatible).toBe(ownKernelSymbolsOk(consumer, k.symvers));
        expect(v.providers).toEqual(["kabi_provider"]);
        expect(v.blockedBy).toEqual([]);
        expect(v.missing).toEqual([]);
      });
    });
  });

  it("non-candidates are not judged and provide nothing", async () => {
    const ks = await kernels();
    const built = releases[0];
    const home = 0;
    const provider = await fixtureModule(built, "kabi_provider.ko");
    const consumer = await fixtureModule(built, "kabi_consumer.ko");
    const report = evaluate([provider, consumer], ks, { isCandidate: (m, k) => m === 1 || k === home });
    expect(report.verdict(1, home)!.compatible).toBe(true);
    for (let k = 0; k < ks.length; k++) {
      if (k === home) continue;
      expect(report.verdict(0, k)).toBeNull();
      expect(report.isCandidate(0, k)).toBe(false);
      const v = report.verdict(1, k)!;
      expect(v.compatible).toBe(false);
      const order = consumer.modversions.map((x) => x.symbol).filter((s) => PROVIDER_SYMBOLS.includes(s));
      expect(v.missing).toEqual(order);
      expect(v.blockedBy).toEqual([]);
    }
  });

  it("a namespaced symbol used without import_ns is reported and blocks the load", async () => {
    const ks = await kernels();
    for (const built of releases) {
      const provider = await fixtureModule(built, "kabi_provider.ko");
      const noImport = await fixtureModule(built, "kabi_no_import_ns.ko");
      expect(noImport.importNamespaces).toEqual([]);
      expect(provider.exports.find((x) => x.name === "kabi_provider_ns_sub")?.namespace).toBe("KABI_TEST");
      const report = evaluate([provider, noImport], ks);
      const home = releases.indexOf(built);
      const v = report.verdict(1, home)!;
      expect(report.isCompatible(0, home)).toBe(true);
      expect(v.compatible).toBe(false);
      expect(v.missingImportNs).toEqual([{ symbol: "kabi_provider_ns_sub", namespace: "KABI_TEST" }]);
      expect(v.missing).toEqual([]);
      expect(v.mismatched).toEqual([]);
      expect(v.blockedBy).toEqual([]);
    }
  });

  it("a module without modversions is judged by symbol presence and says so", async () => {
    const ks = await kernels();
    for (const built of releases) {
      const provider = await fixtureModule(built, "kabi_provider.ko");
      const noVersions = await fixtureModule(built, "kabi_noversions.ko");
      expect(noVersions.hasModversions).toBe(false);
      const report = evaluate([provider, noVersions], ks);
      ks.forEach((k, ki) => {
        const v = report.verdict(1, ki)!;
        expect(v.noModversions).toBe(true);
        expect(v.mismatched).toEqual([]);
        const kernelNamesOk = noVersions.undefinedSymbols
          .filter((u) => !u.weak && !PROVIDER_SYMBOLS.includes(u.name))
          .every((u) => k.symvers.entries.has(u.name));
        expect(report.isCompatible(0, ki)).toBe(providerLoads(built, k.release));
        expect(v.compatible, `${built} noversions on ${k.release}`).toBe(kernelNamesOk && providerLoads(built, k.release));
        if (!providerLoads(built, k.release)) expect(v.blockedBy.map((b) => b.provider)).toEqual(["kabi_provider"]);
        else expect(v.providers).toEqual(["kabi_provider"]);
      });
      // By name only: it stays compatible where the CRC-checked consumer is not (another series).
      const other = releases.findIndex((r) => r.startsWith("6.12.") !== built.startsWith("6.12."));
      const otherProvider = await fixtureModule(releases[other], "kabi_provider.ko");
      const cross = evaluate([otherProvider, noVersions], ks);
      expect(cross.verdict(1, other)!.compatible).toBe(true);
      expect(cross.verdict(1, other)!.providers).toEqual(["kabi_provider"]);
    }
  });

  it("vermagic flags after the release are compared", async () => {
    const ks = await kernels();
    const consumer = await fixtureModule(releases[0], "kabi_consumer.ko");
    expect(vermagicFlags(consumer.vermagic)).toBe("SMP preempt mod_unload modversions");
    // Same release, other flags: the kernel refuses the module whatever its symbols.
    const rt = ks.map((k) => ({ ...k, vermagic: `${k.release} SMP preempt_rt mod_unload modversions` }));
    const provider = await fixtureModule(releases[0], "kabi_provider.ko");
    const report = evaluate([provider, consumer], rt);
    for (let k = 0; k < rt.length; k++) {
      const v = report.verdict(1, k)!;
      expect(v.compatible).toBe(false);
      expect(v.vermagicMismatch).toEqual({ module: consumer.vermagic, kernel: rt[k].vermagic });
    }
    // Whitespace differences do not count.
    const spaced = ks.map((k) => ({ ...k, vermagic: `${k.release}   SMP  preempt mod_unload modversions` }));
    expect(evaluate([provider, consumer], spaced).isCompatible(1, 0)).toBe(true);
  });
});
