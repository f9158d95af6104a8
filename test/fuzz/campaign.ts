/**
 * The long fuzz run's driver (bench/fuzz.mjs calls it from the built dist): splits the cases
 * among `jobs` worker processes (child.ts), watches each for a hang (no new case for HANG_MS)
 * and for memory (resident set over MAX_RSS_BYTES, read from /proc), restarts a killed or dead
 * worker after the case it was on, deduplicates failures by signature, and saves the input of
 * each distinct one (regenerated from its seed and case number) with what is known of it.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildJob, ChildMessage } from "./child.js";
import { makeCase } from "./engine.js";
import { HANG_MS, MAX_RSS_BYTES, processMemory, signature, type Failure } from "./oracle.js";
import { loadSeeds, prepareTargets } from "./targets.js";
import { minimize } from "./minimize.js";

export interface CampaignOptions {
  cases: number;
  seed: number;
  jobs: number;
  out: string;
  heavyRate: number;
  corpus: boolean;
  cliEvery: number;
  only: string[];
  /** Progress lines to stderr every this many ms (0: none). */
  progressMs: number;
}

export interface DistinctFailure {
  signature: string;
  target: string;
  kind: string;
  errorClass: string;
  message: string;
  /** The first case that showed it, and how many cases did. */
  firstCase: number;
  count: number;
  file?: string;
  note?: string;
  sparseSize?: number;
  maxOutput?: number;
  /** Made with the heavy sizes allowed (bombs, sparse gigabytes, megabytes of text). */
  heavy?: boolean;
  /** The smallest reproducer saved beside the input (for failures that reproduce in-process), and what it is. */
  minimizedFile?: string;
  minimized?: string;
}

export interface CampaignResult {
  options: CampaignOptions;
  casesRun: number;
  perTarget: Record<string, { cases: number; failures: number }>;
  failures: DistinctFailure[];
  slowest: { target: string; case: number; ms: number; note: string };
  peakRss: number;
  seconds: number;
  workerRestarts: number;
  /** Workers killed for memory whose case did not go over the limit again when run alone. */
  unattributedMemoryKills: number;
}

interface Worker {
  proc: ChildProcess;
  current: number;
  currentIsCli: boolean;
  since: number;
  to: number;
  killedFor?: "hang" | "memory";
  stderr: string;
  done: boolean;
}

const CHILD = new URL("./child.js", import.meta.url).pathname;

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  mkdirSync(o.out, { recursive: true });
  const scratch = join(o.out, ".parent-scratch");
  mkdirSync(scratch, { recursive: true });
  const allTargets = await prepareTargets(scratch, { corpus: o.corpus });
  const targets = o.only.length === 0 ? allTargets : allTargets.filter((t) => o.only.includes(t.name));
  const perTarget: CampaignResult["perTarget"] = Object.fromEntries(targets.map((t) => [t.name, { cases: 0, failures: 0 }]));
  const distinct = new Map<string, DistinctFailure>();
  let casesRun = 0;
  let peakRss = 0;
  let slowest = { i: -1, ms: 0 };
  let restarts = 0;
  const memorySuspects: number[] = [];
  let unattributedMemory = 0;

  const record = (i: number, f: Failure & { signature?: string }) => {
    const target = targets[i % targets.length]!.name;
    const sig = f.signature ?? signature(target, f);
    perTarget[target]!.failures++;
    const seen = distinct.get(sig);
    if (seen) {
      seen.count++;
      return;
    }
    const d: DistinctFailure = { signature: sig, target, kind: f.kind, errorClass: f.errorClass, message: f.message, firstCase: i, count: 1 };
    try {
      const c = makeCase(targets, o.seed, i, o.heavyRate);
      const name = `${String(distinct.size + 1).padStart(3, "0")}-${target}-case${i}${c.target.suffix}`;
      writeFileSync(join(o.out, name), c.input.bytes);
      d.file = name;
      d.note = c.input.note;
      d.heavy = c.heavy;
      if (c.input.sparseSize !== undefined) d.sparseSize = c.input.sparseSize;
      if (c.input.maxOutput !== undefined) d.maxOutput = c.input.maxOutput;
    } catch (err) {
      d.note = `input not regenerated: ${String(err)}`;
    }
    distinct.set(sig, d);
  };

  // Contiguous ranges per worker; a worker that dies is replaced by one starting after its case.
  const per = Math.ceil(o.cases / o.jobs);
  const ranges = Array.from({ length: o.jobs }, (_, j) => ({ from: j * per, to: Math.min(o.cases, (j + 1) * per) })).filter((r) => r.from < r.to);

  await new Promise<void>((resolveAll) => {
    const live = new Set<Worker>();
    const startWorker = (from: number, to: number): void => {
      if (from >= to) {
        if (live.size === 0) resolveAll();
        return;
      }
      const proc = fork(CHILD, [], { execArgv: [`--max-old-space-size=${MAX_RSS_BYTES >> 20}`, "--expose-gc"], stdio: ["ignore", "ignore", "pipe", "ipc"], env: { ...process.env, KABI_CACHE_DIR: join(scratch, "kabi-cache") } });
      const w: Worker = { proc, current: from - 1, currentIsCli: false, since: Date.now(), to, stderr: "", done: false };
      live.add(w);
      proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
        w.stderr = (w.stderr + d).slice(-4000);
      });
      proc.on("message", (m: ChildMessage) => {
        if (m.t === "start") {
          if (!m.cli) casesRun++, perTarget[targets[m.i % targets.length]!.name]!.cases++;
          w.current = m.i;
          w.currentIsCli = m.cli === true;
          w.since = Date.now();
        } else if (m.t === "fail") record(m.i, { kind: m.kind as Failure["kind"], errorClass: m.errorClass, message: m.message, signature: m.signature });
        else if (m.t === "done") {
          w.done = true;
          peakRss = Math.max(peakRss, m.peakRss);
          if (m.slowest.ms > slowest.ms) slowest = m.slowest;
        }
      });
      proc.on("exit", (code, signal) => {
        live.delete(w);
        const mem = w.killedFor === "memory";
        if (!w.done) {
          if (w.killedFor === "memory") {
            // Resident memory can stay high after the case that took it: the case running at the
            // kill is only a suspect until it goes over the limit again alone (checked below).
            memorySuspects.push(w.current);
          } else if (w.killedFor) {
            record(w.current, { kind: w.killedFor, errorClass: w.killedFor === "hang" ? "timeout" : "rss", message: w.killedFor === "hang" ? `no answer after ${HANG_MS} ms${w.currentIsCli ? " (CLI)" : ""}` : `resident memory over ${MAX_RSS_BYTES} bytes` });
            if (w.killedFor === "hang") slowest = slowest.ms >= HANG_MS ? slowest : { i: w.current, ms: HANG_MS };
          } else {
            const last = w.stderr.split("\n").filter((l) => l.trim() !== "" && !/^\s+at |^\s*$|^Node\.js v/.test(l));
            const heapOom = /heap out of memory|Reached heap limit/.test(w.stderr);
            if (heapOom) memorySuspects.push(w.current);
            else record(w.current, { kind: heapOom ? "memory" : "died", errorClass: signal ?? `exit ${code}`, message: heapOom ? "JavaScript heap out of memory" : (last.find((l) => /Error|Check failed|FATAL/.test(l)) ?? last[0] ?? "no output") });
          }
          restarts++;
          if (mem) peakRss = Math.max(peakRss, MAX_RSS_BYTES);
          startWorker(w.current + 1, w.to);
        } else if (live.size === 0) resolveAll();
      });
      const job: ChildJob = { seed: o.seed, from, to, heavyRate: o.heavyRate, corpus: o.corpus, cliEvery: o.cliEvery, only: o.only };
      proc.send(job);
    };
    const watchdog = setInterval(() => {
      for (const w of live) {
        if (w.done || w.killedFor || w.proc.pid === undefined) continue;
        const m = processMemory(w.proc.pid);
        peakRss = Math.max(peakRss, m.peak);
        const limit = w.currentIsCli ? 2 * HANG_MS + 2000 : HANG_MS;
        if (m.rss > MAX_RSS_BYTES) {
          w.killedFor = "memory";
          w.proc.kill("SIGKILL");
        } else if (Date.now() - w.since > limit) {
          w.killedFor = "hang";
          w.proc.kill("SIGKILL");
        }
      }
    }, 50);
    const progress =
      o.progressMs > 0
        ? setInterval(() => {
            process.stderr.write(`fuzz: ${casesRun}/${o.cases} cases, ${distinct.size} distinct failures, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
          }, o.progressMs)
        : undefined;
    const finish = resolveAll;
    resolveAll = () => {
      clearInterval(watchdog);
      if (progress) clearInterval(progress);
      finish();
    };
    for (const r of ranges) startWorker(r.from, r.to);
  });

  for (const i of [...new Set(memorySuspects)]) {
    if (await overMemoryAlone(o, i)) record(i, { kind: "memory", errorClass: "rss", message: `resident memory over ${MAX_RSS_BYTES} bytes` });
    else unattributedMemory++;
  }

  // Smallest reproducers, in this process: only exceptions (a hang or a memory failure is kept as found).
  const seeds = loadSeeds({ corpus: o.corpus });
  const seedPool = [...seeds.elf64le, ...seeds.elf32le, ...seeds.elf64be, ...seeds.xz, ...seeds.gz, ...seeds.zst];
  for (const d of distinct.values()) {
    if ((d.kind !== "exception" && d.kind !== "multiline-error") || d.file === undefined || d.heavy) continue;
    try {
      const c = makeCase(targets, o.seed, d.firstCase, o.heavyRate);
      const m = await minimize(c.target, c.input, d.signature, scratch, seedPool);
      d.minimizedFile = d.file.replace(/(\.[a-z.-]+)$/, `.min$1`);
      d.minimized = m.description;
      writeFileSync(join(o.out, d.minimizedFile), m.input.bytes);
    } catch (err) {
      d.minimized = `not minimized: ${String(err)}`;
    }
  }

  const slowTarget = targets[Math.max(0, slowest.i) % targets.length]!;
  let slowNote = "";
  try {
    slowNote = makeCase(targets, o.seed, Math.max(0, slowest.i), o.heavyRate).input.note;
  } catch {
    /* the note is a nicety */
  }
  const result: CampaignResult = {
    options: o,
    casesRun,
    perTarget,
    failures: [...distinct.values()],
    slowest: { target: slowTarget.name, case: slowest.i, ms: Math.round(slowest.ms), note: slowNote },
    peakRss,
    seconds: Math.round((Date.now() - started) / 1000),
    workerRestarts: restarts,
    unattributedMemoryKills: unattributedMemory,
  };
  writeFileSync(join(o.out, "failures.json"), JSON.stringify(result, null, 2) + "\n");
  return result;
}

/** Whether case `i` alone, in a fresh worker, goes over the memory limit (or runs out of heap). */
function overMemoryAlone(o: CampaignOptions, i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const proc = fork(CHILD, [], { execArgv: [`--max-old-space-size=${MAX_RSS_BYTES >> 20}`], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    let over = false;
    const started = Date.now();
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
    const poll = setInterval(() => {
      if (proc.pid !== undefined && processMemory(proc.pid).rss > MAX_RSS_BYTES) {
        over = true;
        proc.kill("SIGKILL");
      } else if (Date.now() - started > 3 * HANG_MS) proc.kill("SIGKILL");
    }, 20);
    proc.on("exit", () => {
      clearInterval(poll);
      resolve(over || /heap out of memory|Reached heap limit/.test(stderr));
    });
    proc.on("message", () => {});
    const job: ChildJob = { seed: o.seed, from: i, to: i + 1, heavyRate: o.heavyRate, corpus: o.corpus, cliEvery: 0, only: o.only };
    proc.send(job);
  });
}

/** The run as a markdown table: cases and failures per target, then each distinct failure. */
export function markdownReport(r: CampaignResult): string {
  const lines = [
    `Fuzz run: seed ${r.options.seed}, ${r.casesRun} cases, ${r.options.jobs} jobs, ${r.seconds} s; ${r.failures.length} distinct failures; slowest case ${r.slowest.ms} ms (${r.slowest.target} #${r.slowest.case}); peak worker memory ${(r.peakRss / 2 ** 20).toFixed(0)} MiB; ${r.workerRestarts} worker restarts; ${r.unattributedMemoryKills} memory kills not reproduced by their case alone.`,
    "",
    "| target | cases | failing cases |",
    "| --- | ---: | ---: |",
    ...Object.entries(r.perTarget).map(([t, s]) => `| ${t} | ${s.cases} | ${s.failures} |`),
    "",
  ];
  if (r.failures.length > 0) {
    lines.push("| # | target | kind | error | message pattern | cases | first case | input |", "| ---: | --- | --- | --- | --- | ---: | ---: | --- |");
    r.failures.forEach((f, k) => {
      const pattern = f.signature.split(" | ").slice(3).join(" | ").replace(/\|/g, "\\|");
      lines.push(`| ${k + 1} | ${f.target} | ${f.kind} | ${f.errorClass} | ${pattern} | ${f.count} | ${f.firstCase} | ${f.file ?? ""} |`);
    });
  }
  return lines.join("\n") + "\n";
}
