import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeDirs, replaceFile, unusableCacheDir } from "../../src/root/replace-file.js";
import { requireUnderCi } from "../helpers/required.js";
import { mountTmpfs, remount, unmount } from "../weak/fault-helpers.js";

const dirs: string[] = [];
const mounts: string[] = [];
afterEach(() => {
  while (mounts.length > 0) unmount(mounts.pop()!);
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kabi-replace-"));
  dirs.push(d);
  return d;
}

describe("replaceFile", () => {
  it("removes the temporary files a killed writer of the same file left, not a live writer's nor other files'", async () => {
    const dir = tempDir();
    const file = path.join(dir, "pack-1");
    const dead = spawnSync("true").pid!;
    const live = spawn("sleep", ["30"]);
    try {
      const names = [
        `pack-1.${dead}.0123456789ab.tmp`, // a killed writer's: removed
        `pack-1.${live.pid}.0123456789ab.tmp`, // a writer still at work: kept
        `pack-2.${dead}.0123456789ab.tmp`, // another file's: left to its own writes
        `pack-1.${dead}.notours.tmp`, // not a name replaceFile makes
      ];
      for (const n of names) writeFileSync(path.join(dir, n), "part");
      expect(replaceFile(file, () => "whole")).toBe(true);
      expect(readFileSync(file, "utf8")).toBe("whole");
      expect(readdirSync(dir).sort()).toEqual(["pack-1", ...names.slice(1)].sort());
    } finally {
      live.kill();
    }
  });

  it("on a full or read-only file system: false, and no temporary file left", async (context) => {
    const dir = tempDir();
    const mounted = mountTmpfs(dir, "size=8k");
    requireUnderCi(mounted, "mounting a tmpfs (mount -t tmpfs, as root)", () => context.skip());
    mounts.push(dir);
    const file = path.join(dir, "cache/pack-1");
    expect(replaceFile(file, () => new Uint8Array(64 * 1024))).toBe(false);
    expect(readdirSync(path.dirname(file))).toEqual([]);
    expect(replaceFile(file, () => "small")).toBe(true);
    remount(dir, "ro");
    expect(replaceFile(file, () => "other")).toBe(false);
    expect(readdirSync(path.dirname(file))).toEqual(["pack-1"]);
    expect(readFileSync(file, "utf8")).toBe("small");
  });
});

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
