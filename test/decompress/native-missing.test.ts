/**
 * When a native codec's addon cannot be loaded (node-liblzma is an optional dependency), the
 * codec table uses the native-free implementation by itself, and modules and symvers read the same.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { chooseImplementation, loadCodec } from "../../src/decompress/codec-table.js";
import { readModule } from "../../src/module/read-module.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { realSampleModules } from "../helpers/paths.js";

// As when node-liblzma's addon is missing or built for another Node: importing src/decompress/xz.ts fails.
vi.mock("../../src/decompress/xz.js", () => {
  throw new Error("Cannot find module 'node-liblzma'");
});

describe("an xz native codec that does not load", () => {
  it("falls back to native-free-fallback/xz.ts without KABI_NO_NATIVE", async () => {
    expect(process.env.KABI_NO_NATIVE ?? "").toBe("");
    const codec = await loadCodec("xz");
    expect([codec.name, codec.kind]).toEqual(["xz", "fallback"]);
  });

  it("still reads .ko.xz modules, as the native-free codec does", async () => {
    const sample = realSampleModules().filter((p) => p.endsWith(".ko.xz"));
    expect(sample.length).toBeGreaterThan(0);
    for (const file of sample) expect(await readModule(file)).toEqual(await readModule(file, { forceFallback: true }));
  });

  it("still reads an xz symvers file", async () => {
    const file = fileURLToPath(new URL("../symvers/data/current-6.1-gki-arm64.symvers.xz", import.meta.url));
    const plain = fileURLToPath(new URL("../symvers/data/current-6.1-gki-arm64.symvers", import.meta.url));
    expect(readFileSync(plain).length).toBeGreaterThan(0);
    expect((await readSymvers(file)).entries).toEqual((await readSymvers(plain)).entries);
  });

  it("chooseImplementation: a native loader that throws gives the fallback; forced, the native one is not tried", async () => {
    const fallback = { name: "xz", kind: "fallback", decompress: async () => Buffer.alloc(0) } as const;
    let nativeTried = 0;
    const impl = {
      native: async () => {
        nativeTried++;
        throw new Error("addon failed");
      },
      fallback: async () => fallback,
    };
    expect(await chooseImplementation(impl, false)).toBe(fallback);
    expect(nativeTried).toBe(1);
    expect(await chooseImplementation(impl, true)).toBe(fallback);
    expect(nativeTried).toBe(1);
  });
});
