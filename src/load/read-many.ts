import { defaultCacheDir, fileKey, RecordCache, type CacheStats, type FileKey } from "../cache/record-cache.js";
import { KnownRecords } from "./known-records.js";
import { describeInputError } from "../types/errors.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { ReadModuleOptions } from "../module/read-module.js";
import type { PoolResult } from "./read-pool.js";

export interface InputError {
  path: string;
  message: string;
}

export interface ReadManyResult {
  /** Records in input order; unreadable inputs are left out. */
  records: ModuleRecord[];
  errors: InputError[];
  /** Cache counters when a cache was used. */
  cache?: CacheStats;
  /** With the `known` option: the records read, each tied to the file as it was (stat'ed) before its record was looked up or read. */
  known?: KnownRecords;
}

export interface ReadManyOptions extends ReadModuleOptions {
  /**
   * Persistent record cache: `true` for the default folder (`defaultCacheDir`: `KABI_CACHE_DIR`,
   * else `$XDG_CACHE_HOME/kabi`, else `/var/cache/kabi` as root, else `~/.cache/kabi`), a string for another folder, false/absent for none.
   */
  cache?: boolean | string;
  /** Readers: a number to force (0 or 1: this thread alone; n: this thread and n-1 workers), absent for one per core when worthwhile. */
  workers?: number;
  /** Called as files are done (from the cache or read; unreadable ones too): how many of how many. */
  onProgress?: (done: number, total: number) => void;
  /** Also return the records as KnownRecords, to be taken again later while their files are unchanged (with or without a cache). */
  known?: boolean;
}

/**
 * Reads many modules; one unreadable file is reported and the rest still read.
 *
 * Each file is read once: from the cache when its (dev, ino, size, mtime) match, else by one
 * reader per core (this thread and worker threads) when that pays off, else here, a few at a time.
 */
export async function readModules(paths: readonly string[], options: ReadManyOptions = {}, concurrency = 8): Promise<ReadManyResult> {
  const { cache: cacheOption, workers, known: wantKnown, onProgress, ...readOptions } = options;
  const cache = cacheOption ? new RecordCache(typeof cacheOption === "string" ? cacheOption : defaultCacheDir()) : null;
  const slots: (ModuleRecord | InputError | undefined)[] = new Array(paths.length);
  const keys: (FileKey | null)[] = new Array(paths.length).fill(null);
  const todo: number[] = [];
  cache?.scope(paths);

  for (let i = 0; i < paths.length; i++) {
    if (cache || wantKnown) keys[i] = fileKey(paths[i]!);
    if (cache) {
      const key = keys[i];
      const rec = key && cache.lookupRecord(paths[i]!, key);
      if (rec) {
        rec.path = paths[i]!;
        slots[i] = rec;
        continue;
      }
    }
    todo.push(i);
  }
  let done = paths.length - todo.length;
  onProgress?.(done, paths.length);

  const settle = (i: number, r: PoolResult) => {
    const path = paths[i]!;
    onProgress?.(++done, paths.length);
    if (r.error !== undefined) {
      slots[i] = { path, message: r.error };
      return;
    }
    const rec = r.record ?? (JSON.parse(r.json) as ModuleRecord);
    slots[i] = rec;
    const key = keys[i];
    if (cache && key) cache.storeRecord(path, key, rec);
  };
  if (todo.length === 0) return finish(paths, slots, cache, wantKnown ? keys : null);
  // The reader (ELF parser, codecs, worker pool: the bulk of kabi's code to load) only when some file missed the cache.
  const [{ readModule }, { poolAvailable, poolSize, poolWorthwhile, readInPool }] = await Promise.all([import("../module/read-module.js"), import("./read-pool.js")]);
  const readHere = async (path: string): Promise<PoolResult> => {
    try {
      return { record: await readModule(path, readOptions) };
    } catch (err) {
      return { error: describeInputError(path, err) };
    }
  };

  const todoPaths = todo.map((i) => paths[i]!);
  const readers = workers ?? poolSize(todo.length);
  if (readers > 1 && (workers !== undefined || poolWorthwhile(todoPaths)) && poolAvailable()) {
    await readInPool(todoPaths, readOptions, (k, r) => settle(todo[k]!, r), readers, readHere);
  } else {
    let next = 0;
    const work = async () => {
      while (next < todo.length) {
        const i = todo[next++]!;
        settle(i, await readHere(paths[i]!));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, work));
  }

  return finish(paths, slots, cache, wantKnown ? keys : null);
}

function finish(
  paths: readonly string[],
  slots: readonly (ModuleRecord | InputError | undefined)[],
  cache: RecordCache | null,
  keys: readonly (FileKey | null)[] | null,
): ReadManyResult {
  cache?.flush();
  const records: ModuleRecord[] = [];
  const errors: InputError[] = [];
  for (const s of slots) {
    if (s === undefined) continue;
    if ("message" in s) errors.push(s);
    else records.push(s);
  }
  const out: ReadManyResult = cache ? { records, errors, cache: cache.stats } : { records, errors };
  if (keys !== null) {
    const known = new KnownRecords();
    slots.forEach((s, i) => {
      const key = keys[i];
      if (s !== undefined && !("message" in s) && key !== null && key !== undefined) known.add(paths[i]!, key, s);
    });
    out.known = known;
  }
  return out;
}
