import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ReadModuleOptions } from "./read-module.js";

/** One file's outcome: the record as JSON text, or the one-line reason it could not be read. */
export type PoolResult = { json: string; error?: undefined } | { error: string; json?: undefined };

export interface PoolRequest {
  id: number;
  paths: string[];
}

export interface PoolResponse {
  id: number;
  results: PoolResult[];
}

/** Files per message: large enough to amortize messaging (8 was measurably slower than 64), small enough to balance the load. */
const MIN_BATCH = 16;
const MAX_BATCH = 64;
/** Batches queued per worker, so that none waits for the main thread between batches. */
const IN_FLIGHT = 2;

const YOUNG_MB = 4;

const WORKER_URL = new URL("./read-worker.js", import.meta.url);

/** Whether the compiled worker script exists (not when running from the TypeScript sources, e.g. under vitest). */
export function poolAvailable(): boolean {
  return WORKER_URL.pathname.endsWith(".js") && existsSync(fileURLToPath(WORKER_URL));
}

export function poolSize(files: number, requested?: number): number {
  const cores = requested ?? availableParallelism();
  return Math.max(1, Math.min(cores, Math.ceil(files / (MIN_BATCH * IN_FLIGHT))));
}

/**
 * Whether reading these files is worth a pool: a worker costs ~70 ms to start and its JIT is
 * cold, and each record crosses as JSON (~0.1 ms a module on each side). A plain .ko costs only
 * ~0.3 ms to read in place (positioned reads of a few sections), a compressed one 1-3 ms (mostly
 * decoding), so the pool pays off from about a thousand plain modules or a few dozen compressed ones.
 */
export function poolWorthwhile(paths: readonly string[]): boolean {
  let cost = 0;
  for (const p of paths) cost += /\.ko$/.test(p) ? 0.3 : 1.5;
  return cost >= 300;
}

/**
 * Reads `paths` in a pool of worker threads, each file by exactly one worker, once.
 * `onResult(i, result)` is called as results arrive (not in order); the promise resolves when
 * every file has a result.
 */
export function readInPool(
  paths: readonly string[],
  options: ReadModuleOptions,
  onResult: (index: number, result: PoolResult) => void,
  workers = poolSize(paths.length),
): Promise<void> {
  return new Promise((resolvePool, rejectPool) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const pool: Worker[] = [];
    const finish = (err?: Error) => {
      if (failed) return;
      if (err) failed = true;
      for (const w of pool) void w.terminate();
      if (err) rejectPool(err);
      else resolvePool();
    };
    const feed = (w: Worker) => {
      if (next >= paths.length) return;
      const id = next;
      const batch = Math.max(MIN_BATCH, Math.min(MAX_BATCH, Math.ceil((paths.length - next) / (workers * 4))));
      const slice = paths.slice(next, next + batch);
      next += slice.length;
      const req: PoolRequest = { id, paths: slice as string[] };
      w.postMessage(req);
    };
    for (let k = 0; k < workers; k++) {
      // A small young generation: frequent cheap scavenges free each decompressed module soon after it is parsed.
      const w = new Worker(WORKER_URL, { workerData: { options }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
      pool.push(w);
      w.on("message", (res: PoolResponse) => {
        res.results.forEach((r, j) => onResult(res.id + j, r));
        done += res.results.length;
        if (done === paths.length) finish();
        else feed(w);
      });
      w.on("error", (err) => finish(err));
      w.on("exit", (code) => {
        if (done < paths.length) finish(new Error(`module reader worker exited (code ${code}) with ${paths.length - done} files unread`));
      });
      for (let q = 0; q < IN_FLIGHT; q++) feed(w);
    }
    if (paths.length === 0) finish();
  });
}
