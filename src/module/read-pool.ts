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

/** Below this many files the pool is not worth starting (a worker costs ~30 ms and ~10 MB). */
export const POOL_MIN_FILES = 48;
/** Files per message: large enough to amortize messaging, small enough to balance the load. */
const BATCH = 8;
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
  return Math.max(1, Math.min(cores, Math.ceil(files / (BATCH * IN_FLIGHT))));
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
      const slice = paths.slice(next, next + BATCH);
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
