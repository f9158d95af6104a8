import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { decodeRecordBatch } from "../cache/record-cache.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { ReadModuleOptions } from "../module/read-module.js";

/**
 * One file's outcome: from a worker, the record as JSON text (cheaper to pass and parse than a
 * structured clone of its many small objects); from this thread, the record itself; or the
 * one-line reason the file could not be read.
 */
export type PoolResult =
  | { json: string; record?: undefined; error?: undefined }
  | { record: ModuleRecord; json?: undefined; error?: undefined }
  | { error: string; json?: undefined; record?: undefined };

export interface PoolRequest {
  id: number;
  paths: string[];
}

/** One file's outcome as a worker sends it: its record's position in the response's batch, its record as JSON, or the reason. */
export type WireResult = { packed: number } | { json: string } | { error: string };

export interface PoolResponse {
  id: number;
  results: WireResult[];
  /** The records marked `packed`, encoded by encodeRecordBatch (the buffer is transferred). */
  batch: Uint8Array;
}

/** Files per message: large enough to amortize messaging (8 was measurably slower than 64), small enough to balance the load. */
const MIN_BATCH = 16;
const MAX_BATCH = 64;
/** Batches queued per worker, so that none waits for this thread between batches. */
const IN_FLIGHT = 2;
/** Files this thread reads between two looks at the workers' messages. */
const LOCAL_BATCH = 4;
/** A small young generation: frequent cheap scavenges free each decompressed module soon after it is parsed (peak RSS). */
const YOUNG_MB = 4;

const WORKER_URL = new URL("./read-worker.js", import.meta.url);

/** Whether the compiled worker script exists (not when running from the TypeScript sources, e.g. under vitest). */
export function poolAvailable(): boolean {
  return WORKER_URL.pathname.endsWith(".js") && existsSync(fileURLToPath(WORKER_URL));
}

/** Readers for `files` files: one per core (this thread counting as one), fewer for few files. */
export function poolSize(files: number, requested?: number): number {
  const cores = requested ?? availableParallelism();
  return Math.max(1, Math.min(cores, Math.ceil(files / (MIN_BATCH * IN_FLIGHT))));
}

/**
 * Whether reading these files is worth a pool: only for compressed modules. A worker has to
 * start and load its code, its JIT is cold for the first few hundred modules, and each record
 * crosses in a batch encoded on one side and decoded on the other. Decompressing a module costs
 * an order of magnitude more than parsing it, so a few dozen compressed modules pay for that; a
 * plain .ko is so cheap to parse that two readers were slower than one on every plain tree of
 * the corpus (bench/results.md): the file reads do not run in parallel and the rest is too little
 * to win back the worker's start. The weights below count compressed files only.
 */
export function poolWorthwhile(paths: readonly string[]): boolean {
  let cost = 0;
  for (const p of paths) if (!p.endsWith(".ko")) cost += 1.5;
  return cost >= 60;
}

/**
 * Reads `paths` with `readers` readers: this thread (through `readHere`) and `readers - 1`
 * worker threads, pulling batches from one queue, so each file is read by exactly one of them,
 * once. `onResult(i, result)` is called as results arrive (not in order); the promise resolves
 * when every file has a result.
 */
export async function readInPool(
  paths: readonly string[],
  options: ReadModuleOptions,
  onResult: (index: number, result: PoolResult) => void,
  readers: number,
  readHere: (path: string) => Promise<PoolResult>,
): Promise<void> {
  const workers = Math.max(1, readers - 1);
  let next = 0;
  let done = 0;
  let failure: Error | undefined;
  const pool: Worker[] = [];
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const feed = (w: Worker) => {
    if (next >= paths.length || failure) return;
    const id = next;
    const batch = Math.max(MIN_BATCH, Math.min(MAX_BATCH, Math.ceil((paths.length - next) / (readers * 4))));
    const slice = paths.slice(next, next + batch);
    next += slice.length;
    const req: PoolRequest = { id, paths: slice as string[] };
    w.postMessage(req);
  };
  for (let k = 0; k < workers; k++) {
    const w = new Worker(WORKER_URL, { workerData: { options }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    pool.push(w);
    w.on("message", (res: PoolResponse) => {
      let records: Map<number, ModuleRecord>;
      try {
        records = decodeRecordBatch(res.batch);
      } catch (err) {
        failure ??= err as Error;
        poke();
        return;
      }
      res.results.forEach((r, j) => {
        if ("packed" in r) {
          const record = records.get(r.packed);
          onResult(res.id + j, record ? { record } : { error: `${paths[res.id + j]}: lost in transfer from the reader thread` });
        } else onResult(res.id + j, r);
      });
      done += res.results.length;
      feed(w);
      poke();
    });
    w.on("error", (err) => {
      failure ??= err;
      poke();
    });
    w.on("exit", (code) => {
      if (done < paths.length) failure ??= new Error(`module reader worker exited (code ${code}) with ${paths.length - done} files unread`);
      poke();
    });
    for (let q = 0; q < IN_FLIGHT; q++) feed(w);
  }

  try {
    // This thread reads too, a few files at a time, looking at the workers' messages in between.
    while (next < paths.length && !failure) {
      const start = next;
      const end = Math.min(paths.length, start + LOCAL_BATCH);
      next = end;
      for (let i = start; i < end; i++) onResult(i, await readHere(paths[i]!));
      done += end - start;
      await new Promise<void>((r) => setImmediate(r));
    }
    while (done < paths.length && !failure) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
