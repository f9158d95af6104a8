import { join } from "node:path";
import { describeInputError } from "../types/errors.js";
import type { KernelTarget } from "../types/kernel-target.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { walkSorted } from "../root/walk.js";
import { listKernels, locateSymvers, type SkippedKernelEntry } from "../root/kernels.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import type { SymversProblem } from "../types/symvers-table.js";
import { loadSymvers } from "./load-symvers.js";
import { kernelBuildKey } from "./kernel-build-key.js";

export interface KernelRequest {
  /** `--symvers K=FILE`: explicit files. */
  explicit: { release: string; file: string }[];
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
 * symvers. A kernel's vermagic is taken from one of its own modules when its tree is present.
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
  // Each kernel's build key (signature rule), read alongside the symvers; a failure is no key.
  const buildKeys = Promise.all(located.map((w) => kernelBuildKey(req.basedir, w.release).catch(() => undefined)));
  // Read, decompressed and parsed concurrently, with each kernel's vermagic; reported in the order asked.
  const [tables, vermagics] = await Promise.all([
    loadSymvers(
      located.map((w) => w.file),
      { cache: req.cache, wanted: req.wanted, onLoaded: () => req.onProgress?.(++parsed, located.length) },
    ),
    Promise.all(
      located.map((w) =>
        kernelVermagic(req.basedir, w.release).then(
          (vermagic) => ({ vermagic }),
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
    const v = vermagics[i++]!;
    if (loaded.error !== undefined || "error" in v) {
      out.errors.push({ path: w.file, message: loaded.error ?? describeInputError(w.file, "error" in v ? v.error : undefined) });
      continue;
    }
    // One push per problem: spreading a large array into one call overflows the stack.
    for (const p of loaded.table.problems) out.problems.push(p);
    const buildKeyId = (await buildKeys)[i - 1];
    out.kernels.push({ release: w.release, symvers: loaded.table, symversPath: w.file, vermagic: v.vermagic, ...(buildKeyId === undefined ? {} : { buildKeyId }) });
  }
  return out;
}

/** The vermagic of the first readable in-tree module of kernel K under the root, if any. */
export async function kernelVermagic(basedir: string, release: string): Promise<string | undefined> {
  for (const base of ["lib/modules", "usr/lib/modules"]) {
    const dir = await resolveInRoot(basedir, `${base}/${release}/kernel`);
    if (dir === null) continue;
    const file = firstModule(dir, 4);
    if (file === null) continue;
    try {
      const { readModule } = await import("../module/read-module.js");
      const rec = await readModule(file);
      if (rec.vermagic !== "") return rec.vermagic;
    } catch {
      // An unreadable in-tree module says nothing about the kernel's flags; try no further.
    }
    return undefined;
  }
  return undefined;
}

/**
 * The first module file (not a symlink) under `dir`, at most `depth` levels down: a directory's
 * files are searched before its subdirectories, each in name order. Unreadable directories are passed over.
 */
function firstModule(dir: string, depth: number): string | null {
  let found: string | null = null;
  walkSorted(
    dir,
    (d, entries, enter) => {
      for (const e of entries) {
        if (e.isFile() && looksLikeModuleFile(e.name)) {
          found = d.prefix + e.name;
          return;
        }
      }
      if (d.depth === depth) return;
      for (const e of entries) {
        if (found !== null) return;
        if (e.isDirectory()) enter(e.name);
      }
    },
    () => undefined,
    { prefix: join(dir, "x").slice(0, -1) },
  );
  return found;
}
