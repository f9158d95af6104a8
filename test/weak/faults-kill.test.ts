/**
 * The kill -9 convergence property on the built CLI (docs/weak-modules.md, "What is touched, and
 * how"): in every mode, a run SIGKILLed at a random point (on entry to a random system call that
 * changes the root or the caches, or after a random delay within the run's measured duration),
 * then re-run to completion, ends with the link set of an undisturbed run and nothing left over
 * (temporary link, dangling link, empty directory, lock), the dead run's lock broken without a
 * long wait. A few trials per mode here; bench/faults.mjs runs hundreds.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildModeTemplate, killTrial, MODES, reference, removeDir, rng, snapshot } from "../../bench/fault-trials.mjs";
import { faultSeed, requireBuilt, requireStrace, workDir } from "./fault-helpers.js";

const SEED = faultSeed();
const work = workDir("faults-kill");
afterAll(() => removeDir(work));

/** Per mode: kills at system-call points, then one after a random delay. */
const KINDS = ["syscall", "syscall", "delay"] as const;
/** The re-run may take this much longer than an undisturbed run to break the dead run's lock. */
const LOCK_BREAK_MS = 3000;

describe(`kill -9 at random points converges on re-run (seed ${SEED})`, () => {
  for (const [i, mode] of MODES.entries()) {
    it(`--${mode}`, async (context) => {
      requireBuilt(() => context.skip());
      requireStrace(() => context.skip());
      const env = { KABI_CACHE_DIR: join(work, `cache-${mode}`) };
      const template = await buildModeTemplate(join(work, `template-${mode}`), mode, env);
      const ref = await reference(template, join(work, `ref-${mode}`), true);
      // The property says something only if the command changes the links.
      expect(ref.snap.links).not.toEqual(snapshot(template.dir).links);
      expect(ref.snap.leftovers).toEqual([]);
      const random = rng(SEED + i);
      let killed = 0;
      for (const kind of KINDS) {
        const r = await killTrial(template, ref, join(work, `trial-${mode}`), random, kind);
        const what = `--${mode} killed at ${r.point} (seed ${SEED})`;
        expect(r.rerunCode, `${what}: ${r.rerunErr}`).toBe(0);
        expect({ missing: r.missing, extra: r.extra, leftovers: r.leftovers }, what).toEqual({ missing: [], extra: [], leftovers: [] });
        expect(r.lockWaitMs, `${what}: the re-run's wait for the dead run's lock`).toBeLessThan(LOCK_BREAK_MS);
        expect(r.converged, what).toBe(true);
        if (r.killed) killed++;
      }
      // Some kills must have landed, or the trials tested nothing (strace counts a syscall's
      // calls per thread, so a call number past one thread's count may never come).
      expect(killed, `--${mode}: trials that killed the run (seed ${SEED})`).toBeGreaterThanOrEqual(1);
    });
  }
});
