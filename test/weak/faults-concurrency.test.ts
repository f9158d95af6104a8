/**
 * The concurrency property on the built CLI: ten mixed runs (every mode, overlapping module sets)
 * started at once on one root end with the state of the same runs one after the other. The mix
 * (concurrencyMix in bench/fault-trials.mjs) is made of commands that commute, so that serial
 * result is one state whatever the order: each round checks that too, on two orders. A few
 * rounds here; bench/faults.mjs runs many.
 */
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { buildConcurrencyTemplate, concurrencyMix, concurrencyRound, removeDir, rng } from "../../bench/fault-trials.mjs";
import { faultSeed, requireBuilt, workDir } from "./fault-helpers.js";

const SEED = faultSeed();
const ROUNDS = 2;
const work = workDir("faults-concurrency");
afterAll(() => removeDir(work));

it(`ten concurrent mixed runs end equal to a serial order of the same runs (seed ${SEED})`, async (context) => {
  requireBuilt(() => context.skip());
  const template = await buildConcurrencyTemplate(join(work, "template"), { KABI_CACHE_DIR: join(work, "cache") });
  const random = rng(SEED);
  for (let round = 0; round < ROUNDS; round++) {
    const mix = concurrencyMix(random, 10);
    const r = await concurrencyRound(template, join(work, "round"), mix);
    const what = `round ${round} (seed ${SEED}): ${r.commands.join(" | ")}`;
    expect(r.serialAgree, `${what}: the two serial orders disagree`).toBe(true);
    expect(r.codes, what).toEqual(mix.map(() => 0));
    expect({ missing: r.missing, extra: r.extra, leftovers: r.leftovers }, what).toEqual({ missing: [], extra: [], leftovers: [] });
    expect(r.ok, what).toBe(true);
  }
});
