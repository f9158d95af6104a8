/**
 * Paths as the warm path builds them without path.join/resolve per file: findModules spells
 * each file as join(dir, name) would, and the cache finds a file's entry however its folder
 * is spelled (relative, with "." and "..", trailing separators).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileKey, RecordCache } from "../../src/cache/record-cache.js";
import { findModules } from "../../src/load/find-modules.js";
import { readModule } from "../../src/module/read-module.js";
import { PROVIDER_61 } from "../helpers/paths.js";

const work = mkdtempSync(join(tmpdir(), "kabi-path-spelling-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** tree/{a.ko, sub/b.ko.xz, sub/deeper/c.ko, sub/notes.txt, link.ko -> a.ko} */
function tree(): string {
  const top = join(work, "tree");
  mkdirSync(join(top, "sub/deeper"), { recursive: true });
  copyFileSync(PROVIDER_61, join(top, "a.ko"));
  copyFileSync(PROVIDER_61, join(top, "sub/b.ko.xz"));
  copyFileSync(PROVIDER_61, join(top, "sub/deeper/c.ko"));
  copyFileSync(PROVIDER_61, join(top, "sub/notes.txt"));
  symlinkSync("a.ko", join(top, "link.ko"));
  return top;
}

describe("path spelling on the warm path", () => {
  const top = tree();
  const names = ["a.ko", "link.ko", "sub/b.ko.xz", "sub/deeper/c.ko"];

  it("findModules spells files as join(top, relative path), in sorted order", async () => {
    const rel = relative(process.cwd(), top);
    for (const spelling of [top, top + "/", top + "//", `${top}/./sub/..`, rel, `./${rel}/`, `${rel}/sub/../`]) {
      const found = await findModules([spelling]);
      expect(found.errors).toEqual([]);
      expect(found.files).toEqual(names.map((n) => join(spelling, n)));
    }
    const cwd = process.cwd();
    process.chdir(top);
    try {
      expect((await findModules(["."])).files).toEqual(names);
      expect((await findModules(["./"])).files).toEqual(names);
    } finally {
      process.chdir(cwd);
    }
  });

  it("the cache finds an entry under any spelling of the same file", async () => {
    const cacheDir = join(work, "cache");
    const files = names.map((n) => join(top, n));
    const record = await readModule(files[2]!);
    const write = new RecordCache(cacheDir);
    write.scope(files);
    files.forEach((f) => write.storeRecord(f, fileKey(f)!, { ...record, path: f }));
    write.flush();

    const rel = relative(process.cwd(), top);
    for (const spell of [(n: string) => join(top, n), (n: string) => `${rel}/./${n}`, (n: string) => `${top}/sub/../${n}`, (n: string) => `${top}//${n}`]) {
      const spelled = names.map(spell);
      const read = new RecordCache(cacheDir);
      read.scope(spelled);
      spelled.forEach((f, k) => expect(read.lookupRecord(f, fileKey(f)!)).toEqual({ ...record, path: files[k] }));
      expect(read.stats).toMatchObject({ hits: names.length, misses: 0, packsRead: 1 });
    }
    // Another scope is another pack: c.ko alone is looked up in its own folder's pack (a miss);
    // a.ko, outside that scope, in its folder's pack, which is the tree's (a hit).
    const other = new RecordCache(cacheDir);
    other.scope([join(top, "sub/deeper/c.ko")]);
    expect(other.lookupRecord(join(top, "sub/deeper/c.ko"), fileKey(join(top, "sub/deeper/c.ko"))!)).toBeUndefined();
    expect(other.lookupRecord(join(top, "a.ko"), fileKey(join(top, "a.ko"))!)).toEqual({ ...record, path: files[0] });
  });
});
