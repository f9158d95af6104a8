#!/usr/bin/env node
// The long fault-injection run on the BUILT weak-modules (npm run build first): the kill -9
// convergence property and the concurrency property of test/weak/faults-*.test.ts at a large
// size (see bench/fault-trials.mjs for what a trial and a round are).
//
// Usage: node bench/faults.mjs [--trials N] [--rounds N] [--seed S] [--work DIR]
//   --trials N  kill -9 trials, spread evenly over the four modes (default 500); three in four
//               kill on entry to a random system call (strace), one after a random delay
//   --rounds N  concurrency rounds of ten mixed runs (default 100)
//   --seed S    the seed of every random choice (default: from the clock; printed)
// Prints a table (mode, trials, killed, converged, leftovers, max lock-break wait, cache temp
// files left) and the rounds' figures; exits 1 on any trial that did not converge or round that
// did not match.
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  BIN,
  buildConcurrencyTemplate,
  buildModeTemplate,
  concurrencyMix,
  concurrencyRound,
  killTrial,
  MODES,
  reference,
  removeDir,
  rng,
  straceWorks,
} from "./fault-trials.mjs";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined) throw new Error(`--${name} needs a value`);
  return v;
}

const trials = Number(option("trials", "500"));
const rounds = Number(option("rounds", "100"));
const seed = Number(option("seed", String(Date.now() % 1_000_000_007)));
const work = option("work", undefined) ?? mkdtempSync(join(os.tmpdir(), "kabi-faults-"));
if (!existsSync(BIN)) {
  console.error(`faults: ${BIN} is missing: run npm run build first`);
  process.exit(2);
}
const strace = straceWorks();
if (!strace) console.error("faults: strace cannot inject here: every kill is after a random delay");
console.log(`faults: --trials ${trials} --rounds ${rounds} --seed ${seed} (${BIN})`);

const random = rng(seed);
const failures = [];
const rows = [];
const started = performance.now();

for (const [i, mode] of MODES.entries()) {
  const count = Math.floor(trials / MODES.length) + (i < trials % MODES.length ? 1 : 0);
  if (count === 0) continue;
  const env = { KABI_CACHE_DIR: join(work, `cache-${mode}`) };
  const template = await buildModeTemplate(join(work, `template-${mode}`), mode, env);
  const ref = await reference(template, join(work, `ref-${mode}`), strace);
  const row = { mode, trials: 0, syscall: 0, delay: 0, killed: 0, converged: 0, leftovers: 0, lockLeft: 0, maxLockWaitMs: 0, cacheTemps: 0 };
  for (let t = 0; t < count; t++) {
    const kind = strace && t % 4 !== 3 ? "syscall" : "delay";
    const r = await killTrial(template, ref, join(work, "trial"), random, kind);
    row.trials++;
    row[kind]++;
    if (r.killed) row.killed++;
    if (r.converged) row.converged++;
    else failures.push({ mode, ...r });
    row.leftovers += r.leftovers.length;
    if (r.lockLeft) row.lockLeft++;
    row.maxLockWaitMs = Math.max(row.maxLockWaitMs, r.lockWaitMs);
    row.cacheTemps += r.cacheTemps;
  }
  removeDir(template.dir);
  rows.push(row);
  process.stderr.write(`faults: --${mode} done (${row.converged}/${row.trials} converged)\n`);
}

const roundRow = { rounds: 0, equal: 0, serialAgree: 0, allExit0: 0, leftovers: 0, maxRunMs: 0 };
if (rounds > 0) {
  const template = await buildConcurrencyTemplate(join(work, "template-concurrency"), { KABI_CACHE_DIR: join(work, "cache-concurrency") });
  for (let i = 0; i < rounds; i++) {
    const mix = concurrencyMix(random, 10);
    const r = await concurrencyRound(template, join(work, "round"), mix);
    roundRow.rounds++;
    if (r.equal) roundRow.equal++;
    if (r.serialAgree) roundRow.serialAgree++;
    if (r.codes.every((c) => c === 0)) roundRow.allExit0++;
    roundRow.leftovers += r.leftovers.length;
    roundRow.maxRunMs = Math.max(roundRow.maxRunMs, r.maxMs);
    if (!r.ok) failures.push({ round: i, ...r });
    if ((i + 1) % 10 === 0) process.stderr.write(`faults: ${i + 1} rounds\n`);
  }
  removeDir(template);
}
removeDir(work);

const ms = (x) => `${Math.round(x)} ms`;
console.log("");
console.log("| mode | trials | at a syscall / after a delay | killed | converged | leftovers found | dead lock left | max lock-break wait | cache temp files left |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(`| --${r.mode} | ${r.trials} | ${r.syscall} / ${r.delay} | ${r.killed} | ${r.converged} | ${r.leftovers} | ${r.lockLeft} | ${ms(r.maxLockWaitMs)} | ${r.cacheTemps} |`);
}
const total = rows.reduce((a, r) => ({ trials: a.trials + r.trials, killed: a.killed + r.killed, converged: a.converged + r.converged }), { trials: 0, killed: 0, converged: 0 });
console.log(`| all | ${total.trials} | | ${total.killed} | ${total.converged} | | | | |`);
if (roundRow.rounds > 0) {
  console.log("");
  console.log("| concurrency rounds (10 runs each) | equal to serial | serial orders agree | all runs exit 0 | leftovers | slowest run |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  console.log(`| ${roundRow.rounds} | ${roundRow.equal} | ${roundRow.serialAgree} | ${roundRow.allExit0} | ${roundRow.leftovers} | ${ms(roundRow.maxRunMs)} |`);
}
console.log(`\nfaults: ${failures.length} failure(s), ${Math.round((performance.now() - started) / 1000)} s, seed ${seed}`);
for (const f of failures.slice(0, 10)) console.log(JSON.stringify({ ...f, errs: undefined, rerunErr: f.rerunErr?.slice(0, 2000) }));
process.exit(failures.length > 0 ? 1 : 0);
