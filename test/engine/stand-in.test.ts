/**
 * A candidate module stands in for the kernel's own module of the same name (weak-updates and
 * updates/ shadow kernel/), so its exports count even where the kernel's symvers lists that
 * module's symbols with other CRCs. Real data from the corpus cache (bench/corpus.sh); skipped
 * when the cache is absent.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/engine/index.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { blockingReasons, plainJudge, readModuleCached } from "./real-data.js";

const corpus = process.env.KABI_CORPUS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kabi-corpus");
const kernelDir = join(corpus, "amd64-6.1/lib/modules/6.1.0-53-amd64/kernel");
const provider = join(kernelDir, "net/netfilter/nft_reject.ko");
const consumer = join(kernelDir, "net/ipv4/netfilter/nft_reject_ipv4.ko");
const otherKernel = join(corpus, "symvers/6.1.0-50-amd64/Module.symvers");
const have = [provider, consumer, otherKernel].every((p) => existsSync(p));

// The corpus cache is not part of the repository (bench/corpus.sh fetches it): skipped without it.
describe.skipIf(!have)("a candidate stands in for the kernel's module of the same name (corpus cache)", () => {
  it("nft_reject from 6.1.0-53 provides its own CRCs to its users on 6.1.0-50, whose nft_reject has others", async () => {
    const [p, c] = await Promise.all([readModuleCached(provider), readModuleCached(consumer)]);
    const symvers = await readSymvers(otherKernel);
    const kernel = { release: "6.1.0-50-amd64", symvers };
    const own = symvers.entries.get("nft_reject_init")!;
    expect(own.module).toBe("net/netfilter/nft_reject");
    const wanted = c.modversions.find((v) => v.symbol === "nft_reject_init")!;
    expect(own.crc >>> 0).not.toBe(wanted.crc >>> 0);

    // Alone, the consumer mismatches the kernel's nft_reject.
    const alone = evaluate([c], [kernel]).verdict(0, 0)!;
    expect(alone.mismatched.map((x) => x.symbol)).toContain("nft_reject_init");
    expect(alone.mismatched).toEqual(plainJudge(c, symvers).mismatched);

    // With the provider as a candidate: its symbols no longer count against the consumer when the
    // provider itself loads there; otherwise they stay mismatched against the kernel's module.
    const report = evaluate([p, c], [kernel]);
    const v = report.verdict(1, 0)!;
    const providerSymbols = new Set(p.exports.map((x) => x.name));
    if (report.isCompatible(0, 0)) {
      expect(v.mismatched.filter((x) => providerSymbols.has(x.symbol))).toEqual([]);
      expect(v.mismatched).toEqual(alone.mismatched.filter((x) => !providerSymbols.has(x.symbol)));
      if (v.compatible) expect(v.providers).toEqual(["nft_reject"]);
    } else {
      expect(v.mismatched).toEqual(alone.mismatched);
    }
    expect(v.compatible).toBe(blockingReasons(v) === 0);
  });
});
