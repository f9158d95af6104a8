/**
 * One fuzz case, from (seed, case number) to verdict, in the calling process: which target, its
 * input, and what the oracle says of the reader's answer. The CI tests call this directly; the
 * long run calls it inside child processes watched for hangs and memory (campaign.ts).
 */
import { Rng } from "./rng.js";
import { judgeThrown, type Failure } from "./oracle.js";
import type { FuzzTarget } from "./targets.js";
import type { FuzzInput } from "./mutators.js";

export interface FuzzCase {
  index: number;
  target: FuzzTarget;
  input: FuzzInput;
  heavy: boolean;
}

/**
 * Case `index` of the run seeded `seed`: targets taken in turn, so every reader gets its share;
 * one case in 1/`heavyRate` may be heavy (sizes that cost a broken reader gigabytes or minutes).
 */
export function makeCase(targets: readonly FuzzTarget[], seed: number, index: number, heavyRate: number): FuzzCase {
  const rng = Rng.forCase(seed, index);
  const heavy = heavyRate > 0 && rng.chance(heavyRate);
  const target = targets[index % targets.length]!;
  return { index, target, input: target.generate(rng, heavy), heavy };
}

/** Runs one case's reader and judges it; `ms` is the reader's time. */
export async function runCase(c: FuzzCase, scratch: string): Promise<{ failure: Failure | null; ms: number }> {
  const started = performance.now();
  let failure: Failure | null = null;
  try {
    await c.target.run(c.input, scratch);
  } catch (err) {
    failure = judgeThrown(err);
  }
  return { failure, ms: performance.now() - started };
}
