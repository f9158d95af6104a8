/**
 * Shrinks a failing input to the smallest reproducer the fuzzer can name: the closest seed with
 * only the changed byte runs that the failure needs (each run put back to the seed's bytes in
 * turn, kept changed only when the failure goes away without it), then the shortest prefix
 * that still fails. Only for failures that reproduce in-process (a thrown exception); a hang or
 * a memory failure is kept as found.
 */
import { runCase } from "./engine.js";
import type { FuzzInput } from "./mutators.js";
import { signature } from "./oracle.js";
import type { FuzzTarget } from "./targets.js";

export interface Minimized {
  input: FuzzInput;
  /** How the reproducer differs from its seed: "seed N, bytes at 0x.. changed", or why it was kept whole. */
  description: string;
}

async function failsWith(target: FuzzTarget, input: FuzzInput, scratch: string, sig: string): Promise<boolean> {
  const r = await runCase({ index: -1, target, input, heavy: false }, scratch);
  return r.failure !== null && signature(target.name, r.failure) === sig;
}

/** The seed (of `seeds`) with the fewest differing bytes over their common length, and those differences as runs. */
function closestSeed(bytes: Buffer, seeds: readonly Buffer[]): { seed: Buffer; index: number; runs: [number, number][] } | null {
  let best: { seed: Buffer; index: number; runs: [number, number][]; cost: number } | null = null;
  seeds.forEach((seed, index) => {
    if (seed.length !== bytes.length) return;
    const runs: [number, number][] = [];
    for (let k = 0; k < bytes.length; k++) {
      if (bytes[k] === seed[k]) continue;
      const last = runs[runs.length - 1];
      if (last && k - last[1] <= 4) last[1] = k + 1;
      else runs.push([k, k + 1]);
    }
    const cost = runs.reduce((n, [a, b]) => n + b - a, 0);
    if (!best || cost < best.cost) best = { seed, index, runs, cost };
  });
  return best;
}

export async function minimize(target: FuzzTarget, input: FuzzInput, sig: string, scratch: string, seeds: readonly Buffer[]): Promise<Minimized> {
  if (!(await failsWith(target, input, scratch, sig))) return { input, description: "kept as found (does not fail in-process)" };
  let bytes = Buffer.from(input.bytes);
  const close = closestSeed(bytes, seeds);
  let description = `${bytes.length} bytes as found`;
  if (close && close.runs.length <= 64) {
    let kept = close.runs.slice();
    for (const run of close.runs) {
      const trial = Buffer.from(bytes);
      close.seed.copy(trial, run[0], run[0], run[1]);
      if (await failsWith(target, { ...input, bytes: trial }, scratch, sig)) {
        bytes = trial;
        kept = kept.filter((r) => r !== run);
      }
    }
    description = `seed ${close.index} (${close.seed.length} bytes) with ${kept.map(([a, b]) => `${b - a} byte(s) at 0x${a.toString(16)}`).join(", ") || "no byte"} changed`;
  }
  // The shortest prefix that still fails (halving the part cut while it keeps failing).
  const before = bytes.length;
  let step = bytes.length >> 1;
  while (step >= 16) {
    const trial = bytes.subarray(0, bytes.length - step);
    if (await failsWith(target, { ...input, bytes: Buffer.from(trial) }, scratch, sig)) bytes = Buffer.from(trial);
    else step >>= 1;
  }
  if (bytes.length < before) description += `, cut to its first ${bytes.length} bytes`;
  return { input: { ...input, bytes }, description };
}
