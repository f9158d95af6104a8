/**
 * Manual benchmark (not a vitest test): evaluate a real module tree against 1 kernel and against 12.
 *
 *   npx vite-node test/engine/bench-engine.ts [modules-dir] [symvers ...]
 *
 * Defaults: the corpus amd64-6.1 tree (bench/corpus.sh) and the fixture kernel symvers, repeated
 * up to 12 kernels. Module records are read once; only `evaluate` (plus materializing every
 * verdict, in a second measurement) is timed.
 */
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { evaluate, type KernelTarget } from "../../src/engine/index.js";
import type { ModuleRecord } from "../../src/module/module-record.js";
import { readModule } from "../../src/module/read-module.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { fixtureReleases, kernelSymvers } from "./real-data.js";

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
const symversFiles = process.argv.slice(3);
const tables = symversFiles.length > 0
  ? await Promise.all(symversFiles.map((f) => readSymvers(f)))
  : await Promise.all(fixtureReleases().map((r) => kernelSymvers(r)));

const files = walk(dir, []).sort();
const modules: ModuleRecord[] = [];
for (const f of files) modules.push(await readModule(f));
const kernels: KernelTarget[] = Array.from({ length: 12 }, (_, i) => ({ release: `k${i}`, symvers: tables[i % tables.length] }));
console.log(`${modules.length} modules, ${tables.length} distinct symvers tables`);

function time(label: string, n: number, materialize: boolean): number {
  const ks = kernels.slice(0, n);
  let best = Infinity;
  for (let run = 0; run < 7; run++) {
    const t0 = performance.now();
    const report = evaluate(modules, ks);
    let compatible = 0;
    for (let m = 0; m < modules.length; m++) compatible += report.compatibleKernels(m).length;
    if (materialize) report.verdicts();
    const t = performance.now() - t0;
    if (run === 0) console.log(`  ${label}: ${compatible} compatible pairs`);
    best = Math.min(best, t);
  }
  console.log(`  ${label}: best ${best.toFixed(1)} ms`);
  return best;
}

for (const materialize of [false, true]) {
  console.log(materialize ? "evaluate + every detailed verdict" : "evaluate (bitset pass + fixed point)");
  const one = time("1 kernel", 1, materialize);
  const twelve = time("12 kernels", 12, materialize);
  console.log(`  ratio 12/1: ${(twelve / one).toFixed(2)}x`);
}
