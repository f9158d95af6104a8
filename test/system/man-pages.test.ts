/**
 * The man pages, kabi(1) and weak-modules(8): every option of every command's table (the same
 * tables --help prints) has its own item in the command's part of the page, so an option added
 * without documentation fails here; and mandoc's linter finds nothing at warning level (CI runs
 * the same lint, .ci/run).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandSpecs } from "../../src/cli/main.js";
import type { CommandSpec } from "../../src/cli/options.js";
import { ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

const KABI_1 = path.join(ROOT, "man/kabi.1");
const WEAK_MODULES_8 = path.join(ROOT, "man/weak-modules.8");

/** The lines of a page's subsection `.Ss TITLE`, up to the next .Ss or .Sh. */
function subsection(page: string, title: string): string[] {
  const lines = page.split("\n");
  const start = lines.indexOf(`.Ss ${title}`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && (l.startsWith(".Ss ") || l.startsWith(".Sh ")));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The options of `spec` without an `.It` item among `lines` (`.It Fl -name`, `.It Fl x , Fl -name`). */
function undocumented(spec: CommandSpec, lines: readonly string[]): string[] {
  const items = lines.filter((l) => l.startsWith(".It "));
  return spec.options
    .filter((o) => {
      const long = new RegExp(`(^| )Fl -${o.name}( |$)`);
      const short = new RegExp(`(^| )Fl ${o.short ?? "\0"}( |$)`);
      return !items.some((l) => long.test(l) && (o.short === undefined || short.test(l)));
    })
    .map((o) => `--${o.name}`);
}

describe("man pages", () => {
  it("kabi(1) has a part for every kabi command and an item for each of its options", async () => {
    const page = readFileSync(KABI_1, "utf8");
    const specs = await commandSpecs();
    expect(specs.map(([name]) => name)).toEqual(expect.arrayContaining(["dump", "audit", "status", "weak-modules", "install-system", "uninstall-system"]));
    for (const [name, spec] of specs) {
      const part = subsection(page, `kabi ${name}`);
      expect(part.length, `.Ss kabi ${name} in man/kabi.1`).toBeGreaterThan(0);
      // kabi weak-modules is weak-modules(8), whose page is checked below.
      if (name === "weak-modules") expect(part.join("\n")).toContain(".Xr weak-modules 8");
      else expect(undocumented(spec, part), `options of kabi ${name} missing from man/kabi.1`).toEqual([]);
    }
    expect(page).toMatch(/^\.Fl -version$/m);
  });

  it("weak-modules(8) has an item for each of its options", async () => {
    const page = readFileSync(WEAK_MODULES_8, "utf8");
    const spec = new Map(await commandSpecs()).get("weak-modules")!;
    const description = page.slice(page.indexOf(".Sh DESCRIPTION"), page.indexOf(".Sh ENVIRONMENT")).split("\n");
    expect(spec.options.length).toBeGreaterThan(10);
    expect(undocumented(spec, description)).toEqual([]);
  });

  it("the check finds an option that is not documented", async () => {
    const spec = new Map(await commandSpecs()).get("install-system")!;
    const part = subsection(readFileSync(KABI_1, "utf8"), "kabi install-system");
    expect(undocumented(spec, part.filter((l) => !l.includes("Fl -prefix")))).toEqual(["--prefix"]);
  });

  it("mandoc -T lint -W warning finds nothing in either page", (ctx) => {
    requireUnderCi(commandPresent("mandoc", ["-V"]), "mandoc", ctx.skip);
    const r = spawnSync("mandoc", ["-T", "lint", "-W", "warning", KABI_1, WEAK_MODULES_8], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
