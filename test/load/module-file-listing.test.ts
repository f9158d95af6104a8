import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listModuleFiles } from "../../src/load/module-file-listing.js";

const SKIP = new Set(["weak-updates", "build", "source"]);
const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tree(): { kdir: string; cache: string } {
  const top = mkdtempSync(path.join(tmpdir(), "kabi-listing-"));
  dirs.push(top);
  const kdir = path.join(top, "lib/modules/6.1.0-53-amd64");
  for (const f of ["kernel/a/x.ko", "kernel/b/y.ko.xz", "kernel/b/notes.txt", "extra/e.ko", "weak-updates/w.ko", "build/b.ko", "top.ko"]) {
    mkdirSync(path.dirname(path.join(kdir, f)), { recursive: true });
    writeFileSync(path.join(kdir, f), "");
  }
  return { kdir, cache: path.join(top, "cache") };
}

function list(kdir: string, cache: string | null, now?: () => number): string[] {
  const out: string[] = [];
  listModuleFiles(kdir, SKIP, (rel, modules) => out.push(...modules.map((m) => (rel === "" ? m : `${rel}/${m}`))), cache, now);
  return out.sort();
}

/** Adds `extra` to the cached listing of `rel`, to tell a cached listing from a fresh one. */
function tamper(cache: string, rel: string, extra: string): void {
  const folder = path.join(cache, "weak-listings-v1");
  const file = path.join(folder, readdirSync(folder)[0]);
  const data = JSON.parse(readFileSync(file, "utf8"));
  data.dirs[rel].modules.push(extra);
  writeFileSync(file, JSON.stringify(data));
}

const later = () => Date.now() + 60_000;
/** Lets the file system's coarse timestamp clock tick (the racy window that `later` turns off). */
const pause = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);

describe("listModuleFiles", () => {
  it("lists module files outside the skipped top-level directories, with or without the cache", () => {
    const { kdir, cache } = tree();
    const want = ["extra/e.ko", "kernel/a/x.ko", "kernel/b/y.ko.xz", "top.ko"];
    expect(list(kdir, null)).toEqual(want);
    expect(list(kdir, cache, later)).toEqual(want);
    expect(list(kdir, cache, later)).toEqual(want);
  });

  it("takes an unchanged directory from the cache and reads a changed one again", () => {
    const { kdir, cache } = tree();
    list(kdir, cache, later);
    tamper(cache, "kernel/b", "cached-only.ko");
    expect(list(kdir, cache, later)).toContain("kernel/b/cached-only.ko");
    pause();
    writeFileSync(path.join(kdir, "kernel/b/new.ko"), "");
    const after = list(kdir, cache, later);
    expect(after).toContain("kernel/b/new.ko");
    expect(after).not.toContain("kernel/b/cached-only.ko");
    // A new subdirectory changes its parent: found too.
    pause();
    mkdirSync(path.join(kdir, "kernel/a/deeper"));
    writeFileSync(path.join(kdir, "kernel/a/deeper/d.ko"), "");
    expect(list(kdir, cache, later)).toContain("kernel/a/deeper/d.ko");
  });

  it("does not trust a directory changed within the racy window of its read", () => {
    const { kdir, cache } = tree();
    list(kdir, cache); // everything was just made: nothing is keyed
    tamper(cache, "kernel/b", "cached-only.ko");
    expect(list(kdir, cache)).not.toContain("kernel/b/cached-only.ko");
  });

  it("never follows a directory replaced by a symlink", () => {
    const { kdir, cache } = tree();
    list(kdir, cache, later);
    pause();
    rmSync(path.join(kdir, "kernel/a"), { recursive: true });
    symlinkSync(path.join(kdir, "kernel/b"), path.join(kdir, "kernel/a"));
    expect(list(kdir, cache, later)).toEqual(["extra/e.ko", "kernel/b/y.ko.xz", "top.ko"]);
    expect(list(kdir, null)).toEqual(["extra/e.ko", "kernel/b/y.ko.xz", "top.ko"]);
  });

  it("ignores a cache file that is not its own or not readable", () => {
    const { kdir, cache } = tree();
    list(kdir, cache, later);
    const folder = path.join(cache, "weak-listings-v1");
    writeFileSync(path.join(folder, readdirSync(folder)[0]), "{not json");
    expect(list(kdir, cache, later)).toEqual(["extra/e.ko", "kernel/a/x.ko", "kernel/b/y.ko.xz", "top.ko"]);
  });

  it("reads afresh a cached listing of the wrong shape or with a name that leaves the directory", () => {
    const { kdir, cache } = tree();
    const fresh = ["extra/e.ko", "kernel/a/x.ko", "kernel/b/y.ko.xz", "top.ko"];
    for (const edit of [
      (d: { modules: unknown; dirs: unknown }) => (d.modules = "x.ko"),
      (d: { modules: unknown; dirs: unknown }) => (d.dirs = [".."]),
      (d: { modules: unknown; dirs: unknown }) => (d.modules = ["../../etc/passwd.ko"]),
    ]) {
      list(kdir, cache, later);
      const folder = path.join(cache, "weak-listings-v1");
      const file = path.join(folder, readdirSync(folder)[0]);
      const data = JSON.parse(readFileSync(file, "utf8"));
      edit(data.dirs["kernel/a"]);
      writeFileSync(file, JSON.stringify(data));
      expect(list(kdir, cache, later)).toEqual(fresh);
    }
  });
});
