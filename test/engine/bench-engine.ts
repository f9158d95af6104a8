/**
 * Manual benchmark (not a vitest test): evaluate a real module tree against 1 kernel and against 12.
 *
 *   npx vite-node test/engine/bench-engine.ts [modules-dir] [symvers ...]
 *
 * Defaults: the corpus amd64-6.1 tree (bench/corpus.sh) and the fixture kernel symvers
 * (fixtures/symvers/*.symvers.gz), cycled up to 12 kernels. Module records are read once; only
 * `evaluate` (plus, in the second measurement, materializing every verdict) is timed. Every run
 * re-reads the symvers files first (untimed), so the once-per-table interning is part of the timing.
 */
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { evaluate, type KernelTarget } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/module/module-record.js";
import { readModule } from "../../src/module/read-module.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { SYMVERS_FIXTURES, symversReleases } from "./real-data.js";

function walk(dir: string, out: string[]): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.ko(\.(xz|gz|zst))?$/.test(e.name)) out.push(p);
  }
  return out;
}

const corpus = process.env.KABI_CORPUS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kabi-corpus");
const dir = process.argv[2] ?? join(corpus, "amd64-6.1", "lib");
const symversFiles = process.argv.length > 3
  ? process.argv.slice(3)
  : symversReleases().filter((r) => r.endsWith("-amd64")).map((r) => join(SYMVERS_FIXTURES, `${r}.symvers.gz`));
const freshKernels = async (n: number): Promise<KernelTarget[]> =>
  Promise.all(Array.from({ length: n }, async (_, i) => ({ release: `k${i}`, symvers: await readSymvers(symversFiles[i % symversFiles.length]) })));

const files = walk(dir, []).sort();
const modules: ModuleRecord[] = [];
for (const f of files) modules.push(await readModule(f));
console.log(`${modules.length} modules, ${symversFiles.length} distinct symvers files`);

async function time(label: string, n: number, materialize: boolean): Promise<number> {
  let best = Infinity;
  let bestCpu = Infinity;
  for (let run = 0; run < 5; run++) {
    const ks = await freshKernels(n);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const report = evaluate(modules, ks);
    let compatible = 0;
    for (let m = 0; m < modules.length; m++) compatible += report.compatibleKernels(m).length;
    if (materialize) report.verdicts();
    const t = performance.now() - t0;
    const c = process.cpuUsage(c0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
    if (run === 0) console.log(`  ${label}: ${compatible} compatible pairs`);
    best = Math.min(best, t);
  }
  console.log(`  ${label}: best ${best.toFixed(1)} ms wall, ${bestCpu.toFixed(1)} ms CPU (incl. GC threads)`);
  return best;
}

for (const materialize of [false, true]) {
  console.log(materialize ? "evaluate + every detailed verdict" : "evaluate (bitset pass + fixed point)");
  const one = await time("1 kernel", 1, materialize);
  const twelve = await time("12 kernels", 12, materialize);
  console.log(`  ratio 12/1: ${(twelve / one).toFixed(2)}x`);
}
