/**
 * The package as a user gets it: `npm pack` run in a copy of the repository as a fresh clone has
 * it (no dist/: the prepack script builds it), then the tarball installed with
 * `npm install -g --prefix <tmp>`. Its file list holds dist/, the man pages and the hooks and no
 * fixtures, tests or bench; the installed `kabi` and `weak-modules` run from the prefix's bin/,
 * npm links the man pages under the prefix's share/man, and weak-modules plans links on a root
 * made of the repository's fixtures.
 *
 * The install passes --ignore-scripts: the native addons' install scripts compile with node-gyp
 * (two minutes on CI's two cores), and kabi runs without them on its native-free decoders (the
 * tests elsewhere require identical records from both). --prefer-offline takes the dependencies
 * from npm's cache, which .ci/run's `npm ci` has just filled.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";
import { addKernel, installFixture, K53, K54, makeRoot, removeRoot } from "../weak/weak-root.js";
import { HOOK_PLACES } from "./package-tree.js";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

let work = "";
let files: string[] = [];
let prefix = "";
const timings: string[] = [];

function timed<T>(what: string, body: () => T): T {
  const start = performance.now();
  try {
    return body();
  } finally {
    timings.push(`${what} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "kabi-npm-"));
  const clone = path.join(work, "clone");
  mkdirSync(clone);
  // What a clone has: the tracked files (and new ones not ignored), no dist/, no node_modules.
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0");
  for (const f of listed) if (f !== "" && existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(clone, f), { recursive: true });
  expect(existsSync(path.join(clone, "dist"))).toBe(false);
  symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
  const packed = timed("npm pack (with the prepack build)", () =>
    execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: clone, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
  );
  // npm prints the build's own output before the JSON on stdout.
  const report = JSON.parse(packed.slice(packed.indexOf("[\n"))) as { filename: string; files: { path: string }[] }[];
  files = report[0]!.files.map((f) => f.path).sort();
  prefix = path.join(work, "prefix");
  timed("npm install -g", () =>
    execFileSync("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", path.join(work, report[0]!.filename)], {
      cwd: work,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}, 600_000);

afterAll(() => {
  if (timings.length > 0) console.log(`npm package test: ${timings.join(", ")}`);
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds dist/, the man pages, the hooks, README and docs, and no fixtures, tests, bench, sources or maps", () => {
    for (const f of ["package.json", "README.md", "dist/src/cli/kabi.js", "dist/src/cli/weak-modules.js", "dist/src/api.js", "dist/src/api.d.ts", "dist/src/system/system-install.js", "man/kabi.1", "man/weak-modules.8", "docs/weak-modules.md"]) {
      expect(files, f).toContain(f);
    }
    for (const [source] of HOOK_PLACES) expect(files, source).toContain(source);
    const unwanted = files.filter((f) => /^(fixtures|test|bench|src|native-free-fallback|types|\.ci)\//.test(f) || /^dist\/(test|bench)\//.test(f) || f.endsWith(".map") || f.endsWith(".ts") && !f.endsWith(".d.ts"));
    expect(unwanted).toEqual([]);
  });

  it("installed with npm install -g, gives working kabi and weak-modules with their man pages", () => {
    const kabi = spawnSync(path.join(prefix, "bin/kabi"), ["--version"], { encoding: "utf8" });
    expect(kabi.stdout).toBe(`kabi ${VERSION}\n`);
    const weak = spawnSync(path.join(prefix, "bin/weak-modules"), ["--version"], { encoding: "utf8" });
    expect(weak.stdout).toBe(`weak-modules (kabi) ${VERSION}\n`);
    expect(existsSync(path.join(prefix, "share/man/man1/kabi.1"))).toBe(true);
    expect(existsSync(path.join(prefix, "share/man/man8/weak-modules.8"))).toBe(true);
    const help = spawnSync(path.join(prefix, "bin/kabi"), ["--help"], { encoding: "utf8" });
    expect(help.stdout).toContain("  install-system [--prefix DIR] [--dry-run]");
  });

  it("the installed weak-modules plans the links of a fixture root (--dry-run)", async () => {
    const root = await makeRoot();
    try {
      await addKernel(root, K53, "rhel");
      await addKernel(root, K54, "rhel");
      const module = await installFixture(root, K53, "kabi_gpl_twin.ko", K53, "kabi/kabi_gpl_twin.ko");
      const r = spawnSync(path.join(prefix, "bin/weak-modules"), ["--basedir", root, "--dry-run", "--json", "--add-modules"], { input: root + module + "\n", encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const plan = JSON.parse(r.stdout) as { dryRun: boolean; actions: { op: string; link: string; target: string }[] };
      expect(plan.dryRun).toBe(true);
      expect(plan.actions.map((a) => [a.op, a.link, a.target])).toEqual([["create", `/lib/modules/${K54}/weak-updates/kabi/kabi_gpl_twin.ko`, module]]);
      expect(existsSync(path.join(root, "lib/modules", K54, "weak-updates"))).toBe(false);
    } finally {
      await removeRoot(root);
    }
  });
});
