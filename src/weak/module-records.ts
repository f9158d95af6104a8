import { defaultCacheDir, fileKey, RecordCache, type FileKey } from "../cache/record-cache.js";
import type { ModuleRecord } from "../module/module-record.js";
import type { ReadManyOptions, ReadManyResult } from "../module/read-many.js";

export interface ModuleRecords extends Pick<ReadManyResult, "records" | "errors"> {
  /** Each path's stat key, taken before its record was looked up or read (absent: not a file). */
  keys: Map<string, FileKey>;
}

/**
 * readModules for weak-modules runs, which mostly find every record in the cache: when all of
 * `paths` hit, the records come from the cache alone and the reader (readModules, the ELF parser,
 * the decompressors: ~25-40 ms of module loading) is never imported. On any miss, readModules
 * reads them all, as if called directly (one pack per call, written back with the new records).
 */
export async function readModuleRecords(paths: readonly string[], options: Pick<ReadManyOptions, "cache" | "workers"> = {}): Promise<ModuleRecords> {
  const { cache } = options;
  const keys = new Map<string, FileKey>();
  if (cache && paths.length > 0) {
    const records: ModuleRecord[] = [];
    const store = new RecordCache(typeof cache === "string" ? cache : defaultCacheDir());
    store.scope(paths);
    for (const path of paths) {
      const key = fileKey(path);
      const record = key === null ? undefined : store.lookupRecord(path, key);
      if (record === undefined) break;
      record.path = path;
      records.push(record);
      keys.set(path, key!);
    }
    if (records.length === paths.length) return { records, errors: [], keys };
  }
  for (const path of paths) {
    if (keys.has(path)) continue;
    const key = fileKey(path);
    if (key !== null) keys.set(path, key);
  }
  const { readModules } = await import("../module/read-many.js");
  const read = await readModules(paths, options);
  return { records: read.records, errors: read.errors, keys };
}
