/**
 * The optional real-data cache written by bench/corpus.sh:
 * ${KABI_CORPUS_DIR:-${XDG_CACHE_HOME:-~/.cache}/kabi-corpus}/manifest.json lists its cases.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { modulesUnder } from "./paths.js";

export interface CorpusCase {
  id: string;
  arch: string;
  release: string;
  modulesDir: string;
  compression: "none" | "xz" | "gzip" | "zstd";
}

export function corpusDir(): string {
  return process.env.KABI_CORPUS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kabi-corpus");
}

/** The cases of the cache's manifest.json; none when there is no cache (or no manifest yet). */
export function corpusCases(): CorpusCase[] {
  const manifest = join(corpusDir(), "manifest.json");
  if (!existsSync(manifest)) return [];
  const m = JSON.parse(readFileSync(manifest, "utf8")) as { cases?: CorpusCase[] };
  return (m.cases ?? []).filter((c) => existsSync(c.modulesDir));
}

/** Every module of a case, sorted. */
export function caseModules(c: CorpusCase): string[] {
  return modulesUnder(join(c.modulesDir, "kernel")).concat(modulesUnder(join(c.modulesDir, "updates"))).sort();
}

/** KABI_FULL_CORPUS=1: every module of every case; otherwise a deterministic spread. */
export function fullCorpus(): boolean {
  const v = process.env.KABI_FULL_CORPUS;
  return v !== undefined && v !== "" && v !== "0";
}

/**
 * A deterministic spread of `n` items: evenly spaced through the sorted list, so every
 * subsystem directory is touched. Same input, same choice, on every machine.
 */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const out: T[] = [];
  const step = items.length / n;
  for (let i = 0; i < n; i++) out.push(items[Math.floor(i * step)]!);
  return out;
}
