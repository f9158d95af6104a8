#!/usr/bin/env node
// The long fuzz run (issue 14): every reader kabi has, on mutated real modules, symvers, depmod.d
// configuration and cache files, against the BUILT dist. Builds kabi (npm run build) and the fuzz
// library (test/fuzz/tsconfig.json, into dist/test/fuzz/) unless --no-build, then runs the cases
// in --jobs worker processes watched for hangs (10 s) and memory (1 GiB resident), and prints a
// markdown table: cases per target, distinct failures (target + kind + error class + message with
// numbers and paths taken out), the slowest case and the peak memory. Each distinct failing input
// is saved in --out with failures.json describing it.
//
// Usage: node bench/fuzz.mjs [--cases N] [--seed S] [--jobs J] [--out DIR] [--heavy-rate R]
//          [--cli-every K] [--only t1,t2] [--corpus] [--no-build]
//   --cases       cases across all targets (default 1000000)
//   --seed        run seed (default 1); case i of seed S is always the same input
//   --jobs        worker processes (default: the number of CPUs)
//   --out         where failing inputs and failures.json go (default bench/fuzz-out)
//   --heavy-rate  share of cases allowed the sizes that cost a broken reader gigabytes (default 0.001)
//   --cli-every   also run `kabi dump --json` / `kabi audit` on one case in K (default 2000; 0: never)
//   --only        only these targets (names as in the table)
//   --corpus      also take seeds from ~/.cache/kabi-corpus (bench/corpus.sh) when present
// Exit status: 0 when no case failed, 1 when some did, 2 on a usage error.
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function usage(msg) {
  process.stderr.write(`bench/fuzz.mjs: ${msg}\n`);
  process.exit(2);
}

const opts = { cases: 1_000_000, seed: 1, jobs: cpus().length, out: join(ROOT, "bench/fuzz-out"), heavyRate: 0.001, cliEvery: 2000, only: [], corpus: false, build: true };
const argv = process.argv.slice(2);
for (let k = 0; k < argv.length; k++) {
  const a = argv[k];
  const value = () => {
    const v = argv[++k];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  const int = (v) => {
    if (!/^\d+$/.test(v)) usage(`${a}: not a whole number: ${v}`);
    return Number(v);
  };
  if (a === "--cases") opts.cases = int(value());
  else if (a === "--seed") opts.seed = int(value());
  else if (a === "--jobs") opts.jobs = Math.max(1, int(value()));
  else if (a === "--out") opts.out = resolve(value());
  else if (a === "--heavy-rate") opts.heavyRate = Number(value());
  else if (a === "--cli-every") opts.cliEvery = int(value());
  else if (a === "--only") opts.only = value().split(",").filter(Boolean);
  else if (a === "--corpus") opts.corpus = true;
  else if (a === "--no-build") opts.build = false;
  else usage(`unknown option ${a}`);
}
if (!(opts.heavyRate >= 0 && opts.heavyRate <= 1)) usage("--heavy-rate must be between 0 and 1");

if (opts.build) {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "test/fuzz/tsconfig.json")], { cwd: ROOT, stdio: "inherit" });
}

const { runCampaign, markdownReport } = await import(pathToFileURL(join(ROOT, "dist/test/fuzz/campaign.js")).href);
const result = await runCampaign({ cases: opts.cases, seed: opts.seed, jobs: opts.jobs, out: opts.out, heavyRate: opts.heavyRate, corpus: opts.corpus, cliEvery: opts.cliEvery, only: opts.only, progressMs: 30_000 });
process.stdout.write(markdownReport(result));
process.stdout.write(`\nInputs and failures.json in ${opts.out}\n`);
process.exit(result.failures.length === 0 ? 0 : 1);
