/** The one sorted directory walker: order, prefixes, symlinked directories, unreadable directories. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareCodeUnits } from "../../src/root/code-unit-order.js";
import { moduleNameFromFile, normalizeModuleName } from "../../src/root/module-file.js";
import { walkSorted, walkTree } from "../../src/root/walk.js";

const top = mkdtempSync(join(tmpdir(), "kabi-walk-"));
afterAll(() => rmSync(top, { recursive: true, force: true }));
for (const f of ["b.ko", "a/z.ko", "a/B/y.ko", "Z.ko", "é.ko", "c/empty/.keep"]) {
  mkdirSync(join(top, f, ".."), { recursive: true });
  writeFileSync(join(top, f), "");
}
rmSync(join(top, "c/empty/.keep"));
symlinkSync("a", join(top, "link"));

describe("walkSorted", () => {
  it("visits entries in code-unit order, entering subdirectories where the visitor does, never a symlinked one", () => {
    const seen: string[] = [];
    walkSorted(
      top,
      (dir, entries, enter) => {
        for (const e of entries) {
          seen.push(`${dir.relPrefix}${e.name}${e.isDirectory() ? "/" : e.isSymbolicLink() ? "@" : ""}`);
          if (e.isDirectory()) enter(e.name);
        }
      },
      (path) => seen.push(`unreadable ${path}`),
    );
    expect(seen).toEqual(["Z.ko", "a/", "a/B/", "a/B/y.ko", "a/z.ko", "b.ko", "c/", "c/empty/", "link@", "é.ko"]);
  });

  it("builds paths from the prefixes given, and reports a directory it cannot read", () => {
    const paths: string[] = [];
    const unreadable: string[] = [];
    walkSorted(
      join(top, "a"),
      (dir, entries, enter) => {
        expect(dir.path).toBe(dir.depth === 0 ? join(top, "a") : `${top}//a/${dir.rel}`);
        for (const e of entries) (e.isDirectory() ? enter : (n: string) => paths.push(dir.prefix + n))(e.name);
        if (dir.depth === 0) enter("missing");
      },
      (path, err) => unreadable.push(`${path} ${(err as NodeJS.ErrnoException).code}`),
      { prefix: `${top}//a/` },
    );
    expect(paths).toEqual([`${top}//a/B/y.ko`, `${top}//a/z.ko`]);
    expect(unreadable).toEqual([`${top}//a/missing ENOENT`]);
  });

  it("walkTree takes listings from the caller", () => {
    const listings: Record<string, string[]> = { "": ["x", "y"], x: ["q"], y: [], "x/q": [] };
    const seen: string[] = [];
    walkTree("/nowhere", (d) => listings[d.rel]!, (d, names, enter) => {
      seen.push(`${d.path}|${d.rel}|${d.depth}`);
      names.forEach(enter);
    });
    expect(seen).toEqual(["/nowhere||0", "/nowhere/x|x|1", "/nowhere/x/q|x/q|2", "/nowhere/y|y|1"]);
  });
});

describe("code-unit order and module names", () => {
  it("orders by code unit, not by locale", () => {
    expect(["b", "a", "B", "é", "e", "_"].sort(compareCodeUnits)).toEqual(["B", "_", "a", "b", "e", "é"]);
    expect(["b", "a", "B", "é", "e", "_"].sort(compareCodeUnits)).toEqual(["b", "a", "B", "é", "e", "_"].sort());
  });

  it("names a module from its file name as kmod does", () => {
    expect(moduleNameFromFile("usb-net.ko.xz")).toBe("usb_net");
    expect(moduleNameFromFile("/lib/modules/K/kernel/drivers/a-b.c.ko")).toBe("a_b");
    expect(moduleNameFromFile("kernel/x/y.ko/")).toBe("y");
    expect(moduleNameFromFile("noext")).toBe("noext");
    expect(normalizeModuleName("a-b_c")).toBe("a_b_c");
  });
});
