import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/engine/index.js";
import { sharedMismatchSerial } from "../../src/engine/verdict.js";
import { readModules } from "../../src/load/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { committedModules, MODULE_FIXTURES, REAL_SAMPLE, ROOT } from "../helpers/paths.js";

const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.1.0-55-amd64", "6.12.113+deb12-amd64", "6.12.117+deb12-amd64"];

describe("explainModule", () => {
  it("gives every kernel's verdict of a module equal to the pair-by-pair ones", async () => {
    const kernels = await Promise.all(
      RELEASES.map(async (release) => ({ release, symvers: await readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`)) })),
    );
    const paths = [
      ...committedModules(join(MODULE_FIXTURES, "6.1.0-53-amd64")),
      ...committedModules(join(REAL_SAMPLE, "amd64-6.1")),
      ...committedModules(join(REAL_SAMPLE, "amd64-6.12")),
    ];
    const { records } = await readModules(paths, { workers: 1 });
    // Not every module a candidate everywhere, so null pairs are covered too.
    const options = { isCandidate: (m: number, k: number) => (m + k) % 7 !== 0 };
    const byModule = evaluate(records, kernels, options);
    const byPair = evaluate(records, kernels, options);
    let mismatches = 0;
    for (let m = 0; m < records.length; m++) {
      const all = byModule.explainModule(m);
      expect(all).toHaveLength(kernels.length);
      for (let k = 0; k < kernels.length; k++) {
        expect(all[k], `${records[m]!.path} on ${RELEASES[k]}`).toEqual(byPair.verdict(m, k));
        mismatches += all[k]?.mismatched.length ?? 0;
      }
    }
    expect(mismatches).toBeGreaterThan(0);
  });
});

describe("CRC mismatches against a symvers entry", () => {
  it("are one frozen object per (kernel, symbol, module CRC), shared by the verdicts of every module that has it", async () => {
    // The real 6.1 sample (built for 6.1.0-53) on 6.1.0-55, whose vmlinux CRCs differ for most symbols.
    const kernels = [{ release: "6.1.0-55-amd64", symvers: await readSymvers(join(ROOT, "fixtures/symvers", "6.1.0-55-amd64.symvers.gz")) }];
    const { records } = await readModules(committedModules(join(REAL_SAMPLE, "amd64-6.1")), { workers: 1 });
    const report = evaluate(records, kernels);
    const seen = new Map<string, object>();
    const bySerial = new Map<number, object>();
    let shared = 0;
    for (let m = 0; m < records.length; m++) {
      for (const x of report.explainModule(m)[0]?.mismatched ?? []) {
        expect(Object.isFrozen(x)).toBe(true);
        // A serial per shared object (the report writers index its text by it), not part of its value.
        const serial = sharedMismatchSerial(x);
        expect(serial).toBeTypeOf("number");
        if (!bySerial.has(serial!)) bySerial.set(serial!, x);
        expect(bySerial.get(serial!)).toBe(x);
        expect(Object.keys(x)).toEqual(["symbol", "moduleCrc", "kernelCrc", "provider"]);
        const key = `${x.symbol} ${x.moduleCrc}`;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, x);
        else {
          expect(x).toBe(first);
          shared++;
        }
      }
    }
    // Modules of one build need many of the same symbols (module_layout, _printk, ...).
    expect(shared).toBeGreaterThan(10);
    expect([...bySerial.keys()].sort((a, b) => a - b)).toEqual([...Array(bySerial.size).keys()]);
    // Another module's verdict sees the same entry; nobody can change it under the others.
    const [any] = seen.values();
    expect(() => {
      (any as { kernelCrc: number }).kernelCrc = 0;
    }).toThrow(TypeError);
  });
});

describe("explainModule on an incompatible pair", () => {
  it("does not list a weak reference nobody provides as missing, and lists a strong one (derived: one undefined symbol and its modversion added)", async () => {
    // kabi_consumer built for 6.1.0-53 is incompatible with 6.12.117 (module_layout and other CRCs).
    const release = "6.12.117+deb12-amd64";
    const kernels = [{ release, symvers: await readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`)) }];
    const { records } = await readModules([join(MODULE_FIXTURES, "6.1.0-53-amd64", "kabi_consumer.ko")], { workers: 1 });
    const real = records[0]!;
    // A weak reference is a requirement only when the modversions list it (the CRC is checked if it resolves).
    const derived = (name: string, weak: boolean) => ({
      ...real,
      name: `${real.name}_${name}`,
      modversions: [...real.modversions, { crc: 0x12345678, symbol: name }],
      undefinedSymbols: [...real.undefinedSymbols, { name, weak }],
    });
    const modules = [derived("kabi_absent_weak", true), derived("kabi_absent_strong", false)];
    const report = evaluate(modules, kernels);
    const [weak, strong] = [0, 1].map((m) => report.explainModule(m)[0]!);
    expect(weak.compatible).toBe(false);
    expect(weak.mismatched.length).toBeGreaterThan(0);
    expect(weak.missing).not.toContain("kabi_absent_weak");
    expect(strong.missing).toContain("kabi_absent_strong");
    // The same as the pair-by-pair explanation.
    const again = evaluate(modules, kernels);
    expect([weak, strong]).toEqual([again.verdict(0, 0), again.verdict(1, 0)]);
  });
});
