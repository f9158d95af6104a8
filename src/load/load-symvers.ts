import { defaultCacheDir } from "../cache/record-cache.js";
import { SymversCache } from "../cache/symvers-cache.js";
import { describeInputError } from "../types/errors.js";
import { openSymversFile, parseSymversText, readSymvers } from "../symvers/read-symvers.js";
import type { SymversTable } from "../types/symvers-table.js";

/**
 * How kabi loads symvers files, for every command: `kabi audit`, `kabi status` and weak-modules.
 *
 * A file is read, decoded (plain, gzip, xz, zstd), checked and parsed into a SymversTable, always
 * through openSymversFile: only a regular file within the size limits, decoded within the text
 * limit, that is symvers text (not empty, not binary, some valid line) is used. Two things can spare
 * work: the symvers cache (whole tables kept between runs, used only while the file's stat key is
 * unchanged: see SymversCache), and a wanted-symbol set (only those symbols' entries are made; a
 * kernel exports ~27,000 symbols and a few external modules need a few thousand). A table cut to
 * some symbols is not the file's table, so the two never mix: with `wanted` the cache is not used.
 * A file that cannot be read or decoded gives one line saying why (describeInputError), never a throw.
 */
export interface LoadSymversOptions {
  /**
   * The persistent symvers cache: `true` for the default folder (see defaultCacheDir), a string for
   * another folder, false/absent for none. Not used with `wanted`.
   */
  cache?: boolean | string;
  /**
   * Keep only these symbols' entries. Every line is still checked, so the table's problems (malformed
   * lines) are those of the whole file, as a caller reporting them needs.
   */
  wanted?: ReadonlySet<string>;
  /** Called as each file is done (loaded, or found unreadable). */
  onLoaded?: (file: string) => void;
}

/** One symvers file loaded: its table, or why it could not be read or decoded. */
export type LoadedSymvers = { file: string; table: SymversTable; error?: undefined } | { file: string; table?: undefined; error: string };

/** Loads `files` concurrently; results in the order given. */
export async function loadSymvers(files: readonly string[], options: LoadSymversOptions = {}): Promise<LoadedSymvers[]> {
  const { wanted } = options;
  const cache = wanted === undefined && options.cache ? new SymversCache(typeof options.cache === "string" ? options.cache : defaultCacheDir()) : null;
  return Promise.all(
    files.map(async (file): Promise<LoadedSymvers> => {
      try {
        return { file, table: await (cache !== null ? cache.read(file) : readSymvers(file, wanted)) };
      } catch (err) {
        return { file, error: describeInputError(file, err) };
      } finally {
        options.onLoaded?.(file);
      }
    }),
  );
}

/** A symvers file read and decoded now, parsed later (see openSymvers). */
export interface OpenedSymvers {
  file: string;
  /** Why it could not be read or decoded (one line naming the file), or null. */
  error: string | null;
  /**
   * Parses it (each call parses again; null when it could not be decoded). With `wanted`, the lines
   * of other symbols are skipped unchecked (see filterSymversText), so the problems are those of the
   * kept lines only: for a caller that reports none, at a fraction of a whole parse.
   */
  parse(wanted?: ReadonlySet<string>): SymversTable | null;
}

/**
 * Reads and decodes `files` concurrently, for a caller that learns which symbols it needs (and
 * which kernels it judges at all) only later: the I/O and decompression overlap its other work,
 * and a file it never asks for is never parsed. No cache: a table cut to some symbols is not kept.
 */
export async function openSymvers(files: readonly string[]): Promise<OpenedSymvers[]> {
  return Promise.all(
    files.map(async (file): Promise<OpenedSymvers> => {
      let text: Uint8Array;
      try {
        text = await openSymversFile(file);
      } catch (err) {
        return { file, error: describeInputError(file, err), parse: () => null };
      }
      return { file, error: null, parse: (wanted) => parseSymversText(text, file, wanted, true) };
    }),
  );
}
