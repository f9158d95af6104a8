/**
 * The symvers cache: a hit gives the table the parser gives (entries in order, problems with
 * their lines), a changed file or a torn or foreign cache file is a miss (and is rewritten), an
 * unusable cache folder only means no caching, and `kabi audit --no-cache` writes none (nor does an
 * audit of a few modules, which parses only their symbols' entries).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { fileKey } from "../../src/cache/file-key.js";
import { seal } from "../../src/cache/sealed-file.js";
import { encodeTable, SymversCache, SYMVERS_CACHE_FORMAT } from "../../src/cache/symvers-cache.js";
import { LISTED_PROBLEMS } from "../../src/symvers/parse-symvers.js";
import { auditCommand } from "../../src/cli/audit.js";
import { MAX_SYMVERS_FILE_SIZE, readSymvers } from "../../src/symvers/read-symvers.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { captureIO } from "../helpers/capture-io.js";
import { fixtureModules, ROOT } from "../helpers/paths.js";

const work = mkdtempSync(join(tmpdir(), "kabi-symvers-cache-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const REAL = join(ROOT, "fixtures/symvers/6.1.0-53-amd64.symvers.gz");

let n = 0;
/** A fresh folder with a copy of a real symvers (gzip, as /boot/symvers-K.gz) and a fresh cache folder. */
function setup(): { file: string; cacheDir: string; dir: string } {
  const dir = join(work, `case${++n}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "symvers.gz");
  copyFileSync(REAL, file);
  return { file, cacheDir: join(dir, "cache"), dir };
}

function cacheFiles(cacheDir: string): string[] {
  const root = join(cacheDir, `symvers-v${SYMVERS_CACHE_FORMAT}`);
  return existsSync(root) ? readdirSync(root).map((f) => join(root, f)) : [];
}

/** Equal as tables: the same entries in the same order, the same problems. */
function expectSameTable(a: SymversTable, b: SymversTable): void {
  expect(a.path).toBe(b.path);
  expect([...a.entries.keys()]).toEqual([...b.entries.keys()]);
  expect([...a.entries.values()]).toEqual([...b.entries.values()]);
  expect(a.problems).toEqual(b.problems);
}

describe("symvers cache", () => {
  it("misses and stores, then hits with the parser's table; a changed file is a miss", async () => {
    const { file, cacheDir } = setup();
    const cold = new SymversCache(cacheDir);
    const first = await cold.read(file);
    expect(cold.stats).toEqual({ hits: 0, misses: 1, written: 1 });
    expect(first.entries.size).toBeGreaterThan(20000);
    expect(cacheFiles(cacheDir)).toHaveLength(1);

    const warm = new SymversCache(cacheDir);
    const second = await warm.read(file);
    expect(warm.stats).toEqual({ hits: 1, misses: 0, written: 0 });
    expectSameTable(second, await readSymvers(file));

    // Same size, new mtime: a miss, and the new contents are what is returned.
    const text = gunzipSync(readFileSync(file)).toString("utf8");
    const plain = join(file.replace(/\.gz$/, ""));
    writeFileSync(plain, text);
    const before = await new SymversCache(cacheDir).read(plain);
    writeFileSync(plain, text.replace(/^0x[0-9a-f]{8}/, "0x00000000"));
    const t = statSync(plain).mtime;
    utimesSync(plain, t, new Date(t.getTime() + 5000));
    const changed = new SymversCache(cacheDir);
    const after = await changed.read(plain);
    expect(changed.stats.misses).toBe(1);
    const firstSymbol = [...before.entries.keys()][0]!;
    expect(before.entries.get(firstSymbol)!.crc).not.toBe(0);
    expect(after.entries.get(firstSymbol)!.crc).toBe(0);
    expectSameTable(after, await readSymvers(plain));
  });

  it("keeps the problems of malformed lines, with their line numbers and the file as named", async () => {
    const { dir, cacheDir } = setup();
    const file = join(dir, "Module.symvers");
    const lines = gunzipSync(readFileSync(REAL)).toString("utf8").split("\n").slice(0, 200);
    lines.splice(10, 0, "0x1234\tonly_three\tvmlinux");
    lines.splice(20, 0, "0xnothex\tbad_crc\tvmlinux\tEXPORT_SYMBOL\t");
    lines.splice(30, 0, lines[40]!); // a repeated symbol
    writeFileSync(file, lines.join("\n"));
    const parsed = await readSymvers(file);
    expect(parsed.problems.map((p) => p.line)).toEqual([11, 21, 42]);
    await new SymversCache(cacheDir).read(file);
    const warm = new SymversCache(cacheDir);
    expectSameTable(await warm.read(file), parsed);
    expect(warm.stats.hits).toBe(1);
  });

  it("takes a torn or foreign cache file as a miss and rewrites it", async () => {
    const { file, cacheDir } = setup();
    const expected = await readSymvers(file);
    await new SymversCache(cacheDir).read(file);
    const [entry] = cacheFiles(cacheDir);
    const whole = readFileSync(entry!);
    for (const damage of [() => truncateSync(entry!, Math.floor(whole.length / 2)), () => writeFileSync(entry!, Buffer.from("KABIPCK\nnot a symvers entry"))]) {
      damage();
      const c = new SymversCache(cacheDir);
      expectSameTable(await c.read(file), expected);
      expect(c.stats).toEqual({ hits: 0, misses: 1, written: 1 });
      expect(readFileSync(entry!).equals(whole)).toBe(true);
    }
  });

  // A cache entry holds a table and the stat key it was parsed under; one forged (or left by an
  // older kabi) for a file the reader refuses must not stand in for it.
  it("never lets a cached entry stand in for a file the reader refuses: oversized, empty, or a table no file gives", async () => {
    const { file, cacheDir, dir } = setup();
    const table = await readSymvers(file);
    const kind = { magic: Buffer.from("KABISYM\n", "latin1"), format: SYMVERS_CACHE_FORMAT };
    const entryOf = (f: string): string => join(cacheDir, `symvers-v${SYMVERS_CACHE_FORMAT}`, createHash("sha1").update(resolve(f)).digest("hex") + ".symvers");
    const forge = (f: string, t: SymversTable): void => {
      mkdirSync(join(cacheDir, `symvers-v${SYMVERS_CACHE_FORMAT}`), { recursive: true });
      writeFileSync(entryOf(f), seal(kind, t.entries.size, encodeTable(t, fileKey(f)!)!));
    };
    // The forgery is well made: on the file it was made for it is a hit.
    forge(file, table);
    const c = new SymversCache(cacheDir);
    expectSameTable(await c.read(file), table);
    expect(c.stats.hits).toBe(1);

    const huge = join(dir, "huge.symvers");
    copyFileSync(file, huge);
    truncateSync(huge, MAX_SYMVERS_FILE_SIZE + 1);
    forge(huge, table);
    await expect(new SymversCache(cacheDir).read(huge)).rejects.toMatchObject({ reason: expect.stringMatching(/^33554433 bytes, more than the 33554432 bytes/) });

    const empty = join(dir, "empty.symvers");
    writeFileSync(empty, "");
    forge(empty, { path: empty, entries: new Map(), problems: [] });
    await expect(new SymversCache(cacheDir).read(empty)).rejects.toMatchObject({ reason: "empty symvers file (no line, so no symbol)" });

    const many = { ...table, problems: Array.from({ length: LISTED_PROBLEMS + 2 }, (_, i) => ({ file, line: i + 1, reason: "forged" })) };
    forge(file, many);
    const d = new SymversCache(cacheDir);
    expectSameTable(await d.read(file), table);
    expect(d.stats).toEqual({ hits: 0, misses: 1, written: 1 });
  });

  it("still reads when the cache folder cannot be made, and reports a missing symvers as readSymvers does", async () => {
    const { file, dir } = setup();
    const notADir = join(dir, "a-file");
    writeFileSync(notADir, "");
    const c = new SymversCache(notADir);
    expectSameTable(await c.read(file), await readSymvers(file));
    expect(c.stats).toEqual({ hits: 0, misses: 1, written: 0 });
    const missing = join(dir, "missing.symvers");
    await expect(c.read(missing)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("is used by kabi audit of a tree, with the same output; --no-cache writes none; a few modules do without", async () => {
    const { file, cacheDir, dir } = setup();
    // A tree: past audit's few-modules threshold (100), links to the 6.1.0-53 kbuild fixtures.
    const fixtures = fixtureModules().filter((f) => f.includes("6.1.0-53-amd64"));
    const tree = join(dir, "tree");
    mkdirSync(tree);
    for (let i = 0; i < 120; i++) symlinkSync(fixtures[i % fixtures.length]!, join(tree, `m${i}.ko`));
    const run = async (...extra: string[]) => {
      const io = captureIO();
      const code = await auditCommand([...extra, "--symvers", `6.1.0-53-amd64=${file}`, ...(extra.includes("--few") ? fixtures : [tree])].filter((a) => a !== "--few"), io);
      return { code, out: io.stdout, err: io.stderr };
    };
    const previous = process.env.KABI_CACHE_DIR;
    process.env.KABI_CACHE_DIR = cacheDir;
    try {
      const bypassed = await run("--no-cache");
      expect(cacheFiles(cacheDir)).toHaveLength(0);
      const cold = await run();
      expect(cacheFiles(cacheDir)).toHaveLength(1);
      const warm = await run();
      expect(cold).toEqual(bypassed);
      expect(warm).toEqual(bypassed);
      expect(cold.out).toContain("m119.ko");
      // A few modules: their symbols' entries are parsed out of the symvers, the cache is not read.
      rmSync(join(cacheDir, `symvers-v${SYMVERS_CACHE_FORMAT}`), { recursive: true });
      await run("--few");
      expect(cacheFiles(cacheDir)).toHaveLength(0);
    } finally {
      if (previous === undefined) delete process.env.KABI_CACHE_DIR;
      else process.env.KABI_CACHE_DIR = previous;
    }
  });
});
