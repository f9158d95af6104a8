/**
 * The one way symvers are loaded (audit, status, weak-modules): the cache gives the parser's
 * tables, `wanted` keeps those symbols with the whole file's problems and bypasses the cache, an
 * unreadable file is one line, and the deferred parse keeps the same entries for the wanted symbols.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SYMVERS_CACHE_FORMAT } from "../../src/cache/symvers-cache.js";
import { loadSymvers, openSymvers } from "../../src/load/load-symvers.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { ROOT } from "../helpers/paths.js";

const work = mkdtempSync(join(tmpdir(), "kabi-load-symvers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const REAL = join(work, "symvers.gz");
copyFileSync(join(ROOT, "fixtures/symvers/6.1.0-53-amd64.symvers.gz"), REAL);
const BAD = join(work, "bad.symvers");
writeFileSync(BAD, "0x12345678\tgood_symbol\tvmlinux\tEXPORT_SYMBOL\t\nnot a symvers line\n0x1\tother\tvmlinux\tEXPORT_SYMBOL\t\n");

function same(a: SymversTable, b: SymversTable): void {
  expect(a.path).toBe(b.path);
  expect([...a.entries.entries()]).toEqual([...b.entries.entries()]);
  expect(a.problems).toEqual(b.problems);
}

describe("loadSymvers", () => {
  it("gives the parser's tables, cold and warm through the cache, in the order given, with errors as one line", async () => {
    const cacheDir = join(work, "cache");
    const missing = join(work, "missing.symvers");
    for (const cache of [false, cacheDir, cacheDir]) {
      const [real, bad, gone] = await loadSymvers([REAL, BAD, missing], { cache });
      same(real!.table!, await readSymvers(REAL));
      same(bad!.table!, await readSymvers(BAD));
      expect(gone).toEqual({ file: missing, error: `${missing}: no such file` });
    }
    expect(existsSync(join(cacheDir, `symvers-v${SYMVERS_CACHE_FORMAT}`))).toBe(true);
  });

  it("with `wanted`, keeps those symbols with the whole file's problems, and leaves the cache alone", async () => {
    const cacheDir = join(work, "cache-wanted");
    const wanted = new Set(["other"]);
    const [bad] = await loadSymvers([BAD], { cache: cacheDir, wanted });
    same(bad!.table!, await readSymvers(BAD, wanted));
    expect([...bad!.table!.entries.keys()]).toEqual(["other"]);
    expect(bad!.table!.problems).toHaveLength(1);
    expect(existsSync(cacheDir)).toBe(false);
  });
});

describe("openSymvers", () => {
  it("parses on demand: whole, or the wanted symbols' lines only (their entries as a whole parse gives them)", async () => {
    const [real, bad, gone] = await openSymvers([REAL, BAD, join(work, "missing")]);
    same(real!.parse()!, await readSymvers(REAL));
    const full = await readSymvers(REAL);
    const wanted = new Set([...full.entries.keys()].filter((_, i) => i % 97 === 0));
    expect([...real!.parse(wanted)!.entries.entries()]).toEqual([...(await readSymvers(REAL, wanted)).entries.entries()]);
    expect(bad!.parse(new Set(["other"]))!.problems).toEqual([]);
    expect(gone!.error).toMatch(/missing: no such file$/);
    expect(gone!.parse()).toBeNull();
  });
});
