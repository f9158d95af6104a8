import { unusableCacheDir } from "../root/replace-file.js";
import { defaultCacheDir } from "./record-cache.js";

/** The cache option to run with, and the warning to print when the cache folder cannot be used. */
export interface CacheChoice {
  cache: boolean | string;
  warning: string | null;
}

/**
 * The cache folder checked once before a run (made if missing, then written to): when it cannot be
 * used (KABI_CACHE_DIR under /proc, on a read-only filesystem, a file in its place) the run goes
 * on without the caches, which are an optimisation, and the caller prints the warning.
 */
export function chooseCache(cache: boolean | string): CacheChoice {
  if (cache === false) return { cache, warning: null };
  const dir = typeof cache === "string" ? cache : defaultCacheDir();
  const why = unusableCacheDir(dir);
  return why === null ? { cache, warning: null } : { cache: false, warning: `cache folder ${dir}: cannot be used (${why}); running without the cache` };
}
