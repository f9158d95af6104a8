/**
 * The worker-thread pool gives the same records, in input order, as reading in this thread,
 * and reports unreadable files in their place. It runs the built code (dist/), since workers
 * run compiled JavaScript; CI builds before testing.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fixtureModules, realSampleModules, ROOT } from "../helpers/paths.js";
import { runsWith } from "../helpers/required.js";

const DIST = join(ROOT, "dist/src/load/read-many.js");
const work = mkdtempSync(join(tmpdir(), "kabi-pool-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// dist/ is built, not committed: skipped without `npm run build`; under CI (.ci/run builds first) it must be there.
describe.skipIf(!runsWith(existsSync(DIST)))("read pool", () => {
  it("has the built code (npm run build)", () => {
    expect(existsSync(DIST), `${DIST} missing: run npm run build first`).toBe(true);
  });

  it("matches in-thread reading, in input order, with errors in place", async () => {
    const { readModules } = (await import(DIST)) as typeof import("../../src/load/read-many.js");
    const { poolAvailable } = (await import(join(ROOT, "dist/src/load/read-pool.js"))) as typeof import("../../src/load/read-pool.js");
    expect(poolAvailable()).toBe(true);
    const bad = join(work, "not-a-module.ko");
    writeFileSync(bad, "hello");
    const mods = [...realSampleModules(), ...fixtureModules()];
    // Reversed, so that input order differs from any sorted order.
    const inputs = [...mods, bad, join(work, "missing.ko.xz"), ...mods].reverse();
    const inThread = await readModules(inputs, { workers: 0 });
    for (const workers of [2, 3]) {
      // workers readers: this thread and workers - 1 worker threads.
      const pooled = await readModules(inputs, { workers });
      expect(pooled.records.map((r) => r.path)).toEqual(inThread.records.map((r) => r.path));
      expect(pooled.records).toEqual(inThread.records);
      expect(pooled.errors).toEqual(inThread.errors);
      expect(pooled.errors.map((e) => e.path)).toEqual([join(work, "missing.ko.xz"), bad]);
    }
    // Options reach the workers: a tiny size limit makes every compressed module an error there too.
    const capped = await readModules(inputs, { workers: 3, maxDecompressedSize: 1024 });
    expect(capped.errors).toEqual((await readModules(inputs, { workers: 0, maxDecompressedSize: 1024 })).errors);
    expect(capped.errors.length).toBeGreaterThan(2);
  });
});
