/**
 * The persistent record cache: hit and miss on a stat change, a torn (truncated) pack is a miss
 * and is rewritten, concurrent writers leave a valid cache, and bypassing it writes nothing.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CACHE_FORMAT, decodePack, RecordCache, fileKey } from "../../src/cache/record-cache.js";
import { auditCommand } from "../../src/cli/audit.js";
import { readModules } from "../../src/load/read-many.js";
import { readModule } from "../../src/module/read-module.js";
import { captureIO } from "../helpers/capture-io.js";
import { fixtureModules, ROOT } from "../helpers/paths.js";
import { requireUnderCi } from "../helpers/required.js";

const work = mkdtempSync(join(tmpdir(), "kabi-cache-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh folder of module copies and a fresh cache folder. */
function setup(): { files: string[]; cacheDir: string } {
  const dir = join(work, `case${++n}`);
  const mods = join(dir, "modules");
  mkdirSync(mods, { recursive: true });
  const files = fixtureModules()
    .filter((f) => f.includes("6.1.0-53-amd64"))
    .map((f) => {
      const to = join(mods, basename(f));
      copyFileSync(f, to);
      return to;
    });
  return { files, cacheDir: join(dir, "cache") };
}

function packFiles(cacheDir: string): string[] {
  const root = join(cacheDir, `records-v${CACHE_FORMAT}`);
  return existsSync(root) ? readdirSync(root).filter((f) => f.endsWith(".pack")).map((f) => join(root, f)) : [];
}

async function fresh(files: string[]) {
  return Promise.all(files.map((f) => readModule(f)));
}

describe("record cache", () => {
  it("misses, then hits; a changed mtime or size is a miss for that file only", async () => {
    const { files, cacheDir } = setup();
    expect(files.length).toBeGreaterThan(3);
    const cold = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(cold.cache).toMatchObject({ hits: 0, misses: files.length });
    expect(packFiles(cacheDir)).toHaveLength(1); // one pack for the one folder
    const warm = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(warm.cache).toMatchObject({ hits: files.length, misses: 0, packsWritten: 0 });
    expect(warm.records).toEqual(cold.records);
    expect(warm.records).toEqual(await fresh(files));

    const t = statSync(files[0]!).mtime;
    utimesSync(files[0]!, t, new Date(t.getTime() + 5000));
    writeFileSync(files[1]!, Buffer.concat([readFileSync(files[1]!), Buffer.alloc(16)])); // new size (and mtime)
    const after = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(after.cache).toMatchObject({ hits: files.length - 2, misses: 2 });
    expect(after.records).toEqual(await fresh(files));
    const again = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(again.cache).toMatchObject({ hits: files.length, misses: 0 });
  });

  it("a file replaced by a copy (new inode, same size) is a miss", async () => {
    const { files, cacheDir } = setup();
    await readModules(files, { cache: cacheDir, workers: 0 });
    const st = statSync(files[2]!);
    const copy = files[2]! + ".new";
    copyFileSync(files[2]!, copy);
    rmSync(files[2]!);
    copyFileSync(copy, files[2]!);
    rmSync(copy);
    utimesSync(files[2]!, st.atime, st.mtime);
    const key = fileKey(files[2]!)!;
    expect(key.size).toBe(BigInt(st.size));
    const r = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(r.cache!.misses).toBeGreaterThanOrEqual(1);
    expect(r.records).toEqual(await fresh(files));
  });

  it("a torn (truncated) pack is a miss and is rewritten whole", async () => {
    const { files, cacheDir } = setup();
    await readModules(files, { cache: cacheDir, workers: 0 });
    const [pack] = packFiles(cacheDir);
    const size = statSync(pack!).size;
    for (const cut of [size - 1, Math.floor(size / 2), 10, 0]) {
      truncateSync(pack!, cut);
      expect(decodePack(readFileSync(pack!))).toBeNull();
      const torn = await readModules(files, { cache: cacheDir, workers: 0 });
      expect(torn.cache).toMatchObject({ hits: 0, misses: files.length, packsWritten: 1 });
      expect(torn.records).toEqual(await fresh(files));
      const repaired = await readModules(files, { cache: cacheDir, workers: 0 });
      expect(repaired.cache).toMatchObject({ hits: files.length, misses: 0, packsBad: 0 });
    }
    // A flipped byte inside the compressed payload fails the checksum.
    const bytes = readFileSync(pack!);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(pack!, bytes);
    const flipped = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(flipped.cache).toMatchObject({ hits: 0, packsBad: 1 });
    expect(flipped.records).toEqual(await fresh(files));
  });

  it("two writers of one pack: the last rename wins, the pack stays valid", async () => {
    const { files, cacheDir } = setup();
    const a = new RecordCache(cacheDir);
    const b = new RecordCache(cacheDir);
    const keys = files.map((f) => fileKey(f)!);
    const records = await fresh(files);
    // Both load the (absent) pack, then store different halves and flush one after the other.
    files.forEach((f, i) => expect(a.lookup(f, keys[i]!) ?? b.lookup(f, keys[i]!)).toBeUndefined());
    files.forEach((f, i) => (i % 2 === 0 ? a : b).store(f, keys[i]!, JSON.stringify(records[i])));
    a.flush();
    b.flush();
    const r = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(r.cache!.packsBad).toBe(0);
    expect(r.cache!.hits).toBe(files.filter((_, i) => i % 2 === 1).length);
    expect(r.records).toEqual(records);
    expect(readdirSync(join(cacheDir, `records-v${CACHE_FORMAT}`)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("concurrent processes writing the same cache leave it valid", async (context) => {
    const dist = join(ROOT, "dist/src/load/read-many.js");
    // dist/ is built, not committed: skipped without `npm run build`, failed under CI (.ci/run builds first).
    requireUnderCi(existsSync(dist), dist, () => context.skip());
    const { files, cacheDir } = setup();
    const script = `import { readModules } from ${JSON.stringify(dist)};
      const files = JSON.parse(process.argv[1]);
      for (let k = 0; k < 20; k++) {
        const r = await readModules(files, { cache: process.argv[2], workers: 0 });
        if (r.errors.length || r.records.length !== files.length) process.exit(3);
      }`;
    const run = (subset: string[]) =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(subset), cacheDir], { stdio: "inherit" });
        p.on("exit", (code) => resolve(code ?? 1));
      });
    // Different subsets, so each writer has entries the other lacks and rewrites the pack often.
    const codes = await Promise.all([run(files.filter((_, i) => i % 2 === 0)), run(files.filter((_, i) => i % 2 === 1)), run(files)]);
    expect(codes).toEqual([0, 0, 0]);
    for (const p of packFiles(cacheDir)) expect(decodePack(readFileSync(p))).not.toBeNull();
    const r = await readModules(files, { cache: cacheDir, workers: 0 });
    expect(r.cache!.packsBad).toBe(0);
    expect(r.records).toEqual(await fresh(files));
  });

  it("with `known`, gives the records read (cold, warm, or without a cache), taken again only while each file is unchanged", async () => {
    const { files, cacheDir } = setup();
    const missing = join(cacheDir, "..", "missing.ko");
    const inputs = [...files, missing];
    for (const cache of [cacheDir, cacheDir, false] as const) {
      const r = await readModules(inputs, { cache, workers: 0, known: true });
      expect([...r.known!.paths()]).toEqual(files);
      files.forEach((f, i) => expect(r.known!.current(f)).toBe(r.records[i]));
      expect(r.known!.current(missing)).toBeUndefined();
      expect(r.errors.map((e) => e.path)).toEqual([missing]);
    }
    const r = await readModules(files, { cache: cacheDir, workers: 0, known: true });
    const later = new Date(statSync(files[0]!).mtimeMs + 5000);
    utimesSync(files[0]!, later, later);
    expect(r.known!.current(files[0]!)).toBeUndefined();
    expect(r.known!.current(files[1]!)).toBe(r.records[1]);
    expect((await readModules(files, { cache: cacheDir, workers: 0 })).known).toBeUndefined();
  });

  it("is bypassed without the option, and by kabi audit --no-cache", async () => {
    const { files, cacheDir } = setup();
    const plain = await readModules(files, { workers: 0 });
    expect(plain.cache).toBeUndefined();
    expect(existsSync(cacheDir)).toBe(false);

    const saved = process.env.KABI_CACHE_DIR;
    process.env.KABI_CACHE_DIR = cacheDir;
    try {
      const symvers = join(ROOT, "fixtures/symvers/6.1.0-53-amd64.symvers.gz");
      const args = ["--symvers", `6.1.0-53-amd64=${symvers}`, "--json", ...files];
      const bypass = captureIO();
      const code = await auditCommand(["--no-cache", ...args], bypass);
      expect(existsSync(cacheDir)).toBe(false);
      const cached = captureIO();
      expect(await auditCommand(args, cached)).toBe(code);
      expect(packFiles(cacheDir)).toHaveLength(1);
      const warm = captureIO();
      expect(await auditCommand(args, warm)).toBe(code);
      expect(warm.stdout).toBe(bypass.stdout);
      expect(cached.stdout).toBe(bypass.stdout);
    } finally {
      if (saved === undefined) delete process.env.KABI_CACHE_DIR;
      else process.env.KABI_CACHE_DIR = saved;
    }
  });
});
