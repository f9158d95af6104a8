/**
 * readModuleBytes (a module held in memory: a package member) gives the record readModule gives
 * for the same file, under the name it is given, and refuses what readModule refuses with one
 * FormatError naming that name.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readModule, readModuleBytes } from "../../src/module/read-module.js";
import { FormatError } from "../../src/types/errors.js";
import { committedModules, MALFORMED, REAL_SAMPLE } from "../helpers/paths.js";

const samples = committedModules(REAL_SAMPLE);
const bySuffix = [".ko", ".ko.gz", ".ko.xz", ".ko.zst"].map((s) => {
  const found = samples.find((p) => p.endsWith(s));
  if (found === undefined) throw new Error(`no ${s} module in ${REAL_SAMPLE}`);
  return found;
});

describe("readModuleBytes", () => {
  it.each(bySuffix)("gives readModule's record for %s, named as asked", async (file) => {
    const fromFile = await readModule(file);
    const name = `pkg.deb!/lib/modules/K/kernel/${file.slice(file.lastIndexOf("/") + 1)}`;
    const fromBytes = await readModuleBytes(name, readFileSync(file));
    expect(fromBytes).toEqual({ ...fromFile, path: name });
  });

  it.each(["not-elf.ko", "truncated.ko.xz", "corrupt.ko.zst", "truncated-header.ko", "empty.ko"])("refuses %s as readModule does, naming the member", async (bad) => {
    const file = join(MALFORMED, bad);
    const fileError = await readModule(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(fileError).toBeInstanceOf(FormatError);
    const err = await readModuleBytes("x.rpm!/m.ko", readFileSync(file)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe("x.rpm!/m.ko");
    expect((err as FormatError).reason).toBe((fileError as FormatError).reason);
  });
});
