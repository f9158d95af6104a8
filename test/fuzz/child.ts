/**
 * A fuzz worker process (forked by campaign.ts from the built dist): runs a range of cases
 * in-process and tells its parent, before each case, which one it starts, so that the parent's
 * watchdog can name the case when it has to kill this process for a hang or for memory.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCase, runCase } from "./engine.js";
import { judgeCli, runWatched, signature, HANG_MS, MAX_RSS_BYTES } from "./oracle.js";
import { prepareTargets, REPO_ROOT } from "./targets.js";

/** Resident size past which a worker collects garbage before its next case. */
const RELEASE_AFTER_RSS = 600 * 1024 * 1024;

export interface ChildJob {
  seed: number;
  from: number;
  to: number;
  heavyRate: number;
  corpus: boolean;
  /** Run the built CLI on one case in this many (0: never). */
  cliEvery: number;
  /** Only these targets (all when empty). */
  only: string[];
}

export type ChildMessage =
  | { t: "ready"; targets: string[] }
  | { t: "start"; i: number; cli?: boolean }
  | { t: "fail"; i: number; signature: string; kind: string; errorClass: string; message: string; ms: number }
  | { t: "slow"; i: number; ms: number }
  | { t: "done"; peakRss: number; slowest: { i: number; ms: number } };

function send(m: ChildMessage): void {
  process.send!(m);
}

function scratchDir(): string {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = join(base, `kabi-fuzz-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function main(job: ChildJob): Promise<void> {
  const scratch = scratchDir();
  process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
  const all = await prepareTargets(scratch, { corpus: job.corpus });
  const targets = job.only.length === 0 ? all : all.filter((t) => job.only.includes(t.name));
  send({ t: "ready", targets: targets.map((t) => t.name) });
  const kabi = join(REPO_ROOT, "dist/src/cli/kabi.js");
  let slowest = { i: -1, ms: 0 };
  let peakRss = 0;
  for (let i = job.from; i < job.to; i++) {
    send({ t: "start", i });
    let c;
    try {
      c = makeCase(targets, job.seed, i, job.heavyRate);
    } catch (err) {
      // A generator bug is the harness's, not a reader's: reported under its own kind, and the run goes on.
      const e = err instanceof Error ? err : new Error(String(err));
      send({ t: "fail", i, signature: `${targets[i % targets.length]!.name} | harness | ${e.name} | ${e.message}`, kind: "harness", errorClass: e.name, message: e.message, ms: 0 });
      continue;
    }
    const r = await runCase(c, scratch);
    if (r.ms > slowest.ms) slowest = { i, ms: r.ms };
    if (r.failure) send({ t: "fail", i, signature: signature(c.target.name, r.failure), ...r.failure, ms: r.ms });
    if (job.cliEvery > 0 && i % job.cliEvery === 0 && c.target.cli) {
      send({ t: "start", i, cli: true });
      const call = c.target.cli(scratch);
      const w = await runWatched(process.execPath, [kabi, ...call.args], { env: { ...process.env, ...call.env }, timeoutMs: HANG_MS, maxRss: MAX_RSS_BYTES });
      const f = judgeCli(w);
      if (f) send({ t: "fail", i, signature: signature(c.target.name, f), ...f, ms: w.ms });
    }
    const rss = process.memoryUsage().rss;
    peakRss = Math.max(peakRss, rss);
    // Memory a heavy case left behind is returned before the next case, so that the watchdog's
    // memory kill falls on the case that took it (global.gc is there with --expose-gc).
    if (rss > RELEASE_AFTER_RSS) (globalThis as { gc?: () => void }).gc?.();
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  send({ t: "done", peakRss, slowest });
}

process.once("message", (job: ChildJob) => {
  main(job).then(
    () => process.disconnect(),
    (err: unknown) => {
      process.stderr.write(`fuzz worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(3);
    },
  );
});
