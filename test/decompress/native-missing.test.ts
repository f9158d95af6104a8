/**
 * When a native codec's addon cannot be loaded (node-liblzma is an optional dependency), the
 * codec table uses the native-free implementation by itself, and modules and symvers read the same.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { chooseImplementation, loadCodec } from "../../src/decompress/codec-table.js";
import { readModule } from "../../src/module/read-module.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { realSampleModules, ROOT } from "../helpers/paths.js";

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
    const fallback = { name: "xz", kind: "fallback", decompress: async () => Buffer.alloc(0), stream: async function* () {} } as const;
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

/**
 * The real case, under plain Node and the built CLI: a copy of the installation whose zstd-napi and
 * node-liblzma have lost their compiled addons (every `.node` file), as when an install skipped
 * their build. Before, zstd-napi's `require('./build/Release/binding.node')` failing inside an ES
 * module import rejected twice under Node 20, and the second, unhandled rejection killed the run
 * with a raw "Cannot find module" stack trace.
 */
describe("the built CLI with the native addons missing", () => {
  const ADDON_PACKAGES = ["zstd-napi", "node-liblzma"];
  const KABI = join(ROOT, "dist/src/cli/kabi.js");

  it("reads .ko.zst and .ko.xz modules through the fallback: same output, nothing on stderr, exit 0", () => {
    expect(existsSync(KABI), `${KABI} missing: run npm run build first`).toBe(true);
    const install = mkdtempSync(join(tmpdir(), "kabi-no-addons-"));
    try {
      cpSync(join(ROOT, "dist"), join(install, "dist"), { recursive: true });
      cpSync(join(ROOT, "package.json"), join(install, "package.json"));
      const modules = join(ROOT, "node_modules");
      mkdirSync(join(install, "node_modules"));
      let removed = 0;
      for (const name of readdirSync(modules)) {
        if (!ADDON_PACKAGES.includes(name)) {
          symlinkSync(join(modules, name), join(install, "node_modules", name));
          continue;
        }
        cpSync(join(modules, name), join(install, "node_modules", name), {
          recursive: true,
          filter: (src) => !(src.endsWith(".node") && ++removed > 0),
        });
      }
      expect(removed).toBeGreaterThanOrEqual(ADDON_PACKAGES.length);
      const sample = realSampleModules().filter((p) => p.endsWith(".ko.zst") || p.endsWith(".ko.xz"));
      expect(sample.some((p) => p.endsWith(".zst")) && sample.some((p) => p.endsWith(".xz"))).toBe(true);
      const run = (kabi: string) => spawnSync(process.execPath, [kabi, "dump", "--json", ...sample], { encoding: "utf8", env: { ...process.env, KABI_NO_NATIVE: "" } });
      const missing = run(join(install, "dist/src/cli/kabi.js"));
      const installed = run(KABI);
      expect(missing.stderr).toBe("");
      expect(missing.status).toBe(0);
      expect(installed.status).toBe(0);
      expect(missing.stdout).toBe(installed.stdout);
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
});
