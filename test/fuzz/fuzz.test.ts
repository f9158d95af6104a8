/**
 * The seeded fuzz run of CI (issue 14): a fixed seed, every target in turn, in-process through
 * the API the CLI uses, then a sample of the same cases and a few heavy ones through the built
 * CLI under the watchdog (hang, memory, exit status, stack trace). The long run is
 * bench/fuzz.mjs; both use test/fuzz/{targets,mutators,oracle,engine}.ts.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCase, runCase } from "./engine.js";
import { HANG_MS, judgeCli, runWatched, signature } from "./oracle.js";
import { prepareTargets, REPO_ROOT, type FuzzTarget } from "./targets.js";

const SEED = 20261203;
/** Cases per target in the in-process run. */
const PER_TARGET = 150;
const KABI = join(REPO_ROOT, "dist/src/cli/kabi.js");

let scratch: string;
let targets: FuzzTarget[];

beforeAll(async () => {
  scratch = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "kabi-fuzz-ci-"));
  targets = await prepareTargets(scratch);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("seeded fuzz run", () => {
  it("covers every reader: ELF 32/64 LE/BE, the three containers on both codecs, symvers layouts and encodings, depmod.d, the caches", () => {
    const names = targets.map((t) => t.name);
    for (const n of ["elf64-le", "elf32-le", "elf64-be", "elf32-be", "module-modinfo", "module-signature", "depmod-config", "record-pack", "symvers-cache", "symvers-plain", "symvers-wanted"]) expect(names).toContain(n);
    for (const f of ["xz", "gzip", "zstd"]) for (const k of ["native", "fallback"]) expect(names).toContain(`module-${f}-${k}`);
    for (const n of ["symvers-gzip", "symvers-xz-native", "symvers-xz-fallback", "symvers-zstd-native", "symvers-zstd-fallback"]) expect(names).toContain(n);
  });

  it("every case is a result or one FileError line, each within the hang limit", async () => {
    const failures: string[] = [];
    const total = PER_TARGET * targets.length;
    let slowest = 0;
    for (let i = 0; i < total; i++) {
      const c = makeCase(targets, SEED, i, 0);
      const r = await runCase(c, scratch);
      slowest = Math.max(slowest, r.ms);
      if (r.failure) failures.push(`case ${i}: ${signature(c.target.name, r.failure)} [${c.input.note}]`);
      if (r.ms > HANG_MS) failures.push(`case ${i}: ${c.target.name} took ${Math.round(r.ms)} ms [${c.input.note}]`);
    }
    // Distinct signatures first, so that the report is readable when a reader regresses.
    const distinct = [...new Set(failures.map((f) => f.replace(/^case \d+: /, "").replace(/ \[.*$/, "")))];
    expect({ distinct, first: failures.slice(0, 20) }).toEqual({ distinct: [], first: [] });
  });
});

describe("seeded fuzz cases through the built CLI, watched", () => {
  it("the built kabi exists (npm run build precedes the tests in .ci/run)", () => {
    expect(existsSync(KABI), `${KABI} missing: run npm run build first`).toBe(true);
  });

  it("a sample of light cases: exit 0/1/2, no stack trace, no hang, under 1 GiB", async () => {
    const withCli = targets.filter((t) => t.cli);
    const failures: string[] = [];
    for (let k = 0; k < withCli.length * 2; k++) {
      const i = targets.indexOf(withCli[k % withCli.length]!) + targets.length * (7 + k);
      const c = makeCase(targets, SEED, i, 0);
      await runCase(c, scratch); // writes the input where the CLI call reads it
      const call = c.target.cli!(scratch);
      const r = await runWatched(process.execPath, [KABI, ...call.args], { env: { ...process.env, ...call.env } });
      const f = judgeCli(r);
      if (f) failures.push(`case ${i}: ${signature(c.target.name, f)} [${c.input.note}]`);
    }
    expect(failures).toEqual([]);
  });

  it("heavy cases (2 GiB claims in sparse files, bombs, megabytes of symvers): refused within the limits", async () => {
    const failures: string[] = [];
    const picks = ["elf64-le", "module-zstd-native", "module-xz-fallback", "symvers-plain", "symvers-gzip"];
    for (const name of picks) {
      const t = targets.find((x) => x.name === name)!;
      const i = targets.indexOf(t) + targets.length * 3;
      const c = makeCase(targets, SEED, i, 1);
      const call = t.cli!(scratch);
      // Written without being read in this process (a broken reader would take the test runner's memory).
      t.write(c.input, scratch);
      const r = await runWatched(process.execPath, [KABI, ...call.args], { env: { ...process.env, ...call.env } });
      const f = judgeCli(r);
      if (f) failures.push(`${signature(name, f)} [${c.input.note}]`);
    }
    expect(failures).toEqual([]);
  });
});
