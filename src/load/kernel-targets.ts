import { join } from "node:path";
import { describeInputError } from "../types/errors.js";
import type { KernelTarget } from "../types/kernel-target.js";
import type { ModuleRecord } from "../types/module-record.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { walkSorted } from "../root/walk.js";
import { listKernels, locateSymvers, type SkippedKernelEntry } from "../root/kernels.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { locateKernelConfig, readKernelConfig } from "../root/kernel-config.js";
import type { SymversProblem } from "../types/symvers-table.js";
import { loadSymvers } from "./load-symvers.js";
import { mostCommonKeyId } from "../module/signature.js";

export interface KernelRequest {
  /** `--symvers K=FILE`: explicit files. */
  explicit: { release: string; file: string }[];
  /** `--config K=FILE`: explicit configurations (else each kernel's is looked for under the root). */
  configs?: { release: string; file: string }[];
  /** `--kernel K`: located under the root. */
  releases: string[];
  basedir: string;
  /** The symvers cache (see LoadSymversOptions.cache). */
  cache?: boolean | string;
  /** Parse only these symbols' lines of each symvers (see LoadSymversOptions.wanted); then no cache. */
  wanted?: ReadonlySet<string>;
  /** Called once the kernels to load are known, then as each one's symvers is parsed: how many of how many. */
  onProgress?: (parsed: number, total: number) => void;
}

export interface LoadedKernels {
  kernels: (KernelTarget & { symversPath: string })[];
  errors: { path: string; message: string }[];
  problems: SymversProblem[];
}

/**
 * The kernels to judge against: the explicit ones, else every kernel under the root that has
 * symvers. A kernel's vermagic and struct module size are taken from its own modules when its
 * tree is present (kernelModuleFacts).
 */
export async function loadKernelTargets(req: KernelRequest): Promise<LoadedKernels> {
  const wanted: { release: string; file: string | null }[] = req.explicit.map((e) => ({ release: e.release, file: e.file }));
  for (const release of req.releases) wanted.push({ release, file: await locateSymvers(release, req.basedir) });
  const out: LoadedKernels = { kernels: [], errors: [], problems: [] };
  if (wanted.length === 0) {
    // An entry that cannot be a kernel directory (a symlink dangling inside the root, a loop, a
    // file) is an input error naming it: a kernel passed over in silence would look audited.
    const problems: string[] = [];
    const skipped: SkippedKernelEntry[] = [];
    for (const k of await listKernels(req.basedir, problems, skipped)) if (k.symvers !== null) wanted.push({ release: k.release, file: k.symvers });
    const lines = new Set(skipped.map((e) => e.line));
    for (const e of skipped) out.errors.push({ path: e.path, message: e.line });
    for (const p of problems) if (!lines.has(p)) out.errors.push({ path: req.basedir, message: p });
  }
  const seen = new Set<string>();
  const unique = wanted.filter((w) => {
    if (seen.has(w.release)) return false;
    seen.add(w.release);
    return true;
  });
  const located = unique.filter((w): w is { release: string; file: string } => w.file !== null);
  let parsed = 0;
  req.onProgress?.(parsed, located.length);
  // Read, decompressed and parsed concurrently, with each kernel's module facts; reported in the order asked.
  const [tables, facts] = await Promise.all([
    loadSymvers(
      located.map((w) => w.file),
      { cache: req.cache, wanted: req.wanted, onLoaded: () => req.onProgress?.(++parsed, located.length) },
    ),
    Promise.all(
      located.map((w) =>
        kernelModuleFacts(req.basedir, w.release).then(
          (facts) => ({ facts }),
          (error: unknown) => ({ error }),
        ),
      ),
    ),
  ]);
  let i = 0;
  for (const w of unique) {
    if (w.file === null) {
      out.errors.push({ path: w.release, message: `${w.release}: no symvers found for this kernel under ${req.basedir}` });
      continue;
    }
    const loaded = tables[i]!;
    const v = facts[i++]!;
    if (loaded.error !== undefined || "error" in v) {
      out.errors.push({ path: w.file, message: loaded.error ?? describeInputError(w.file, "error" in v ? v.error : undefined) });
      continue;
    }
    // One push per problem: spreading a large array into one call overflows the stack.
    for (const p of loaded.table.problems) out.problems.push(p);
    const kernel: KernelTarget & { symversPath: string } = { release: w.release, symvers: loaded.table, symversPath: w.file, vermagic: v.facts.vermagic };
    if (v.facts.thisModuleSize !== undefined) kernel.thisModuleSize = v.facts.thisModuleSize;
    if (v.facts.buildKeyId !== undefined) kernel.buildKeyId = v.facts.buildKeyId;
    out.kernels.push(kernel);
  }
  await attachConfigs(out, req, new Set(req.explicit.map((e) => e.release)));
  return out;
}

/**
 * Gives each kernel its configuration: the `--config` file for its release, else, for a kernel
 * found under the root (not one given by `--symvers K=FILE`, whose files are named explicitly: the
 * root, `/` by default, may be another machine's), the one found there (locateKernelConfig). One
 * that cannot be read or parsed is an input error naming it, and the kernel is judged without
 * (today's rules), like a kernel whose configuration is not found.
 */
async function attachConfigs(out: LoadedKernels, req: KernelRequest, explicitSymvers: ReadonlySet<string>): Promise<void> {
  const explicit = new Map<string, string>();
  for (const c of req.configs ?? []) if (!explicit.has(c.release)) explicit.set(c.release, c.file);
  const judged = new Set(out.kernels.map((k) => k.release));
  for (const [release, file] of explicit) {
    if (!judged.has(release)) out.errors.push({ path: file, message: `${file}: --config for kernel ${release}, which is not judged` });
  }
  const found = await Promise.all(
    out.kernels.map(async (k) => {
      const file = explicit.get(k.release) ?? (explicitSymvers.has(k.release) ? null : await locateKernelConfig(k.release, req.basedir));
      if (file === null) return undefined;
      try {
        return await readKernelConfig(file);
      } catch (err) {
        out.errors.push({ path: file, message: describeInputError(file, err) });
        return undefined;
      }
    }),
  );
  out.kernels.forEach((k, i) => {
    const config = found[i];
    if (config !== undefined) k.config = config;
  });
}

/** What a kernel's own in-tree modules say about it. */
export interface KernelModuleFacts {
  /** The vermagic of the first module read that has one. */
  vermagic?: string;
  /** The kernel's struct module size: see thisModuleSizeOf. */
  thisModuleSize?: number;
  /**
   * The key id that signed the kernel's own modules (the signature rule): the most common one
   * among the validly signed modules read (mostCommonKeyId). A distribution signs every module of a
   * build with that build's autogenerated key, so they agree; a module the user re-signed (a MOK
   * key) is outvoted.
   */
  buildKeyId?: string;
}

/**
 * How many in-tree modules are read for a kernel's facts: enough for a majority, so that one
 * re-signed or rebuilt module does not decide, few enough to stay cheap.
 */
const FACT_MODULES = 5;

/**
 * The vermagic, struct module size and build key of kernel K, from its first readable in-tree
 * modules under the root (up to FACT_MODULES of them, in path order), if any. Unreadable modules
 * are passed over: one says nothing about the kernel, the others still do.
 */
export async function kernelModuleFacts(basedir: string, release: string): Promise<KernelModuleFacts> {
  for (const base of ["lib/modules", "usr/lib/modules"]) {
    const dir = await resolveInRoot(basedir, `${base}/${release}/kernel`);
    if (dir === null) continue;
    const files = firstModules(dir, 6, FACT_MODULES);
    if (files.length === 0) continue;
    const { readModule } = await import("../module/read-module.js");
    const records: ModuleRecord[] = [];
    for (const file of files) {
      try {
        records.push(await readModule(file));
      } catch {
        // An unreadable in-tree module says nothing about the kernel; the others still do.
      }
    }
    const facts: KernelModuleFacts = {};
    const vermagic = records.find((r) => r.vermagic !== "")?.vermagic;
    if (vermagic !== undefined) facts.vermagic = vermagic;
    const size = thisModuleSizeOf(records);
    if (size !== undefined) facts.thisModuleSize = size;
    const buildKeyId = mostCommonKeyId(records.map((r) => r.signature));
    if (buildKeyId !== undefined) facts.buildKeyId = buildKeyId;
    return facts;
  }
  return {};
}

/** The vermagic of the first readable in-tree module of kernel K under the root, if any. */
export async function kernelVermagic(basedir: string, release: string): Promise<string | undefined> {
  return (await kernelModuleFacts(basedir, release)).vermagic;
}

/**
 * A kernel's struct module size from its own modules: the most common `.gnu.linkonce.this_module`
 * size among them (a tie goes to the size seen first). Every module of one build has the same
 * size, so a disagreement means a tree mixing builds; the majority is the build the tree mostly
 * holds. Undefined when there is no module.
 */
export function thisModuleSizeOf(records: readonly ModuleRecord[]): number | undefined {
  const counts = new Map<number, number>();
  let best: number | undefined;
  let bestCount = 0;
  for (const r of records) {
    const c = (counts.get(r.thisModuleSize) ?? 0) + 1;
    counts.set(r.thisModuleSize, c);
    if (c > bestCount) {
      best = r.thisModuleSize;
      bestCount = c;
    }
  }
  return best;
}

/**
 * The first `limit` module files (not symlinks) under `dir`, at most `depth` levels down: a
 * directory's files are searched before its subdirectories, each in name order. Unreadable
 * directories are passed over.
 */
function firstModules(dir: string, depth: number, limit: number): string[] {
  const found: string[] = [];
  walkSorted(
    dir,
    (d, entries, enter) => {
      for (const e of entries) {
        if (found.length === limit) return;
        if (e.isFile() && looksLikeModuleFile(e.name)) found.push(d.prefix + e.name);
      }
      if (d.depth === depth) return;
      for (const e of entries) {
        if (found.length === limit) return;
        if (e.isDirectory()) enter(e.name);
      }
    },
    () => undefined,
    { prefix: join(dir, "x").slice(0, -1) },
  );
  return found;
}
