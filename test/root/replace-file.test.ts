import { existsSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDirs, replaceFile, unusableCacheDir } from "../../src/root/replace-file.js";

describe("cache folders", () => {
  it("a folder under /proc (where Node's recursive mkdir loops for ever) is refused at once", () => {
    const started = Date.now();
    expect(() => makeDirs("/proc/kabi-no-such/x/y")).toThrow(/ENOENT/);
    expect(replaceFile("/proc/kabi-no-such/x/file", () => "x")).toBe(false);
    expect(unusableCacheDir("/proc/kabi-no-such/x")).toBe("ENOENT (mkdir)");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("a symlink loop or a file in the folder's place is unusable; a fresh folder is made and usable", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "kabi-cachedir-"));
    try {
      const loop = path.join(dir, "loop");
      await symlink(loop, loop);
      expect(unusableCacheDir(loop)).toMatch(/^ELOOP/);
      await writeFile(path.join(dir, "file"), "");
      expect(unusableCacheDir(path.join(dir, "file"))).toMatch(/^E(EXIST|NOTDIR)/);
      expect(unusableCacheDir(path.join(dir, "a/b/c"))).toBeNull();
      expect(existsSync(path.join(dir, "a/b/c"))).toBe(true);
      expect(replaceFile(path.join(dir, "d/e/f.json"), () => "{}")).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
