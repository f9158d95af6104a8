/**
 * The built executables under plain Node (what `npx kabi` and /usr/sbin/weak-modules run), not
 * vitest's module loader: both codec paths on every compressed sample module.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { committedModules, REAL_SAMPLE, ROOT } from "../helpers/paths.js";

const KABI = join(ROOT, "dist/src/cli/kabi.js");

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [KABI, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("built kabi executable", () => {
  it("exists (npm run build precedes the tests in .ci/run)", () => {
    expect(existsSync(KABI), `${KABI} missing: run npm run build first`).toBe(true);
  });

  const compressed = committedModules(REAL_SAMPLE).filter((p) => !p.endsWith(".ko"));

  it("dumps every compressed sample module identically with native and native-free codecs", () => {
    expect(compressed.some((p) => p.endsWith(".xz")) && compressed.some((p) => p.endsWith(".zst")) && compressed.some((p) => p.endsWith(".gz"))).toBe(true);
    const native = run(["dump", "--json", ...compressed], { KABI_NO_NATIVE: "" });
    const fallback = run(["dump", "--json", ...compressed], { KABI_NO_NATIVE: "1" });
    expect(native.stderr).toBe("");
    expect(fallback.stderr).toBe("");
    expect(native.code).toBe(0);
    expect(fallback.code).toBe(0);
    const records = JSON.parse(native.stdout) as { modversions: unknown[] }[];
    expect(records).toHaveLength(compressed.length);
    expect(records.every((r) => r.modversions.length > 0)).toBe(true);
    expect(fallback.stdout).toBe(native.stdout);
  });

  it("prints the weak-modules usage from its own executable", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "dist/src/cli/weak-modules.js"), "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: weak-modules/);
  });
});
