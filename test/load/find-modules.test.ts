/**
 * The load stage on a tree holding entries named like modules that are not regular files (issue
 * 14): findModules lists them (a directory named `*.ko` is searched, not listed), and reading them
 * gives one error line each, without blocking on a FIFO, while the module among them is read.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findModules } from "../../src/load/find-modules.js";
import { readModules } from "../../src/load/read-many.js";
import { PROVIDER_61 } from "../helpers/paths.js";

const dir = mkdtempSync(join(tmpdir(), "kabi-find-special-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("findModules and readModules on a tree with special entries named *.ko", () => {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "sub.ko"), { recursive: true });
  copyFileSync(PROVIDER_61, join(tree, "sub.ko", "good.ko"));
  expect(spawnSync("mkfifo", [join(tree, "fifo.ko")]).status).toBe(0);
  symlinkSync("/dev/null", join(tree, "null.ko"));
  symlinkSync("loop.ko", join(tree, "loop.ko"));

  it("lists the FIFO, the device link and the looping link, and searches the directory", async () => {
    const found = await findModules([tree]);
    expect(found.errors).toEqual([]);
    expect(found.files).toEqual(["fifo.ko", "loop.ko", "null.ko", "sub.ko/good.ko"].map((f) => join(tree, f)));
  });

  it("reads the module and reports each of the others as one line", async () => {
    const { files } = await findModules([tree]);
    const r = await readModules(files, { workers: 1 });
    expect(r.records.map((x) => x.path)).toEqual([join(tree, "sub.ko/good.ko")]);
    expect(r.errors.map((e) => e.message)).toEqual([
      `${join(tree, "fifo.ko")}: not a regular file`,
      `${join(tree, "loop.ko")}: too many levels of symbolic links`,
      `${join(tree, "null.ko")}: not a regular file`,
    ]);
  });
});
