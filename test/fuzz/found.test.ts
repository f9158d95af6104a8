/**
 * Every input the fuzzer found failing (fixtures/fuzz-found/, listed with what it shows in
 * index.json and README.md), run through its reader: in-process through the API for the light
 * ones, and through the built CLI under the watchdog for every module and symvers input. Each
 * must end as a result or as one FileError line naming the file, with exit 0/1/2, no stack
 * trace, within the hang limit and under the memory limit.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCase } from "./engine.js";
import { HANG_MS, judgeCli, runWatched, signature } from "./oracle.js";
import { prepareTargets, REPO_ROOT, type FuzzTarget } from "./targets.js";

interface FoundEntry {
  file: string;
  target: string;
  /** What is wrong with the input, and what the reader did with it when it was found. */
  what: string;
  found: string;
  seed: number;
  case: number;
  heavyRate: number;
  heavy: boolean;
  sparseSize?: number;
  maxOutput?: number;
  /** The input is the file's bytes repeated this many times (an input too large to commit, made of one repeated unit). */
  repeat?: number;
}

const FOUND = join(REPO_ROOT, "fixtures/fuzz-found");
const KABI = join(REPO_ROOT, "dist/src/cli/kabi.js");
const entries = JSON.parse(readFileSync(join(FOUND, "index.json"), "utf8")) as FoundEntry[];

let scratch: string;
let targets: FuzzTarget[];
beforeAll(async () => {
  scratch = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "kabi-found-"));
  targets = await prepareTargets(join(scratch, "targets"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it("index.json lists every fixture of fixtures/fuzz-found/, each under 64 KiB", () => {
  const files = readdirSync(FOUND).filter((n) => n !== "index.json" && n !== "README.md").sort();
  expect(entries.map((e) => e.file).sort()).toEqual(files);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) expect(readFileSync(join(FOUND, f)).length, f).toBeLessThan(64 * 1024);
});

for (const e of entries) describe(`${e.file} (${e.target})`, () => {
  const bytes = () => {
    const unit = readFileSync(join(FOUND, e.file));
    return e.repeat === undefined ? unit : Buffer.concat(Array.from({ length: e.repeat }, () => unit));
  };
  const input = () => ({ bytes: bytes(), note: e.what, ...(e.sparseSize !== undefined ? { sparseSize: e.sparseSize } : {}), ...(e.maxOutput !== undefined ? { maxOutput: e.maxOutput } : {}) });
  const target = () => {
    const t = targets.find((x) => x.name === e.target);
    if (!t) throw new Error(`no fuzz target ${e.target}`);
    return t;
  };

  const viaCli = ["elf", "module", "symvers-"].some((p) => e.target.startsWith(p)) && e.target !== "symvers-cache";
  // A heavy input is read in-process only where there is no CLI call for it (a broken reader would take the test runner's memory).
  if (!e.heavy || !viaCli) {
    it("through the API: a result or one FileError line, within the hang limit", async () => {
      const dir = mkdtempSync(join(scratch, "api-"));
      const r = await runCase({ index: e.case, target: target(), input: input(), heavy: false }, dir);
      expect(r.failure && signature(e.target, r.failure)).toBeNull();
      expect(r.ms).toBeLessThan(HANG_MS);
    });
  }

  if (viaCli) {
    it("through the built CLI: exit 0/1/2, one error line naming the file (or ten malformed lines and a count), no stack trace, no hang, under 1 GiB", async () => {
      const t = target();
      const dir = mkdtempSync(join(scratch, "cli-"));
      const file = t.write(input(), dir);
      const call = t.cli!(dir);
      const r = await runWatched(process.execPath, [KABI, ...call.args], { env: { ...process.env, ...call.env } });
      expect(judgeCli(r)).toBeNull();
      const errors = r.stderr.split("\n").filter((l) => l !== "" && !l.includes(": warning: "));
      if (r.code !== 0) {
        // One refusal line, or a symvers' malformed lines: the first ten named, then one count line.
        expect(errors.length, r.stderr).toBeGreaterThanOrEqual(1);
        expect(errors.length, r.stderr).toBeLessThanOrEqual(11);
        for (const line of errors) expect(line).toContain(file);
      }
    });
  }
});
