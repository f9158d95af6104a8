import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { SymversCache } from "../cache/symvers-cache.js";
import { describeInputError } from "../types/errors.js";
import type { KernelTarget } from "../types/kernel-target.js";
import { looksLikeModuleFile } from "../types/compression.js";
import { listKernels, locateSymvers } from "../root/kernels.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { readSymvers } from "../symvers/read-symvers.js";
import type { SymversProblem, SymversTable } from "../types/symvers-table.js";

export interface KernelRequest {
  /** `--symvers K=FILE`: explicit files. */
  explicit: { release: string; file: string }[];
  /** `--kernel K`: located under the root. */
  releases: string[];
  basedir: string;
  /** Where parsed symvers are kept between runs (none: parse each one). */
  symversCache?: SymversCache;
  /** Parse only these symbols' lines of each symvers (readSymvers' `wanted`), with no cache. */
  onlySymbols?: ReadonlySet<string>;
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
  if (wanted.length === 0) {
    for (const k of await listKernels(req.basedir)) if (k.symvers !== null) wanted.push({ release: k.release, file: k.symvers });
  }
  const out: LoadedKernels = { kernels: [], errors: [], problems: [] };
  const seen = new Set<string>();
  const unique = wanted.filter((w) => {
    if (seen.has(w.release)) return false;
    seen.add(w.release);
    return true;
  });
  // Read, decompressed and parsed concurrently; reported in the order asked.
  const loaded = await Promise.all(
    unique.map(async (w) => {
      if (w.file === null) return { w, error: `${w.release}: no symvers found for this kernel under ${req.basedir}` };
      try {
        const [symvers, vermagic] = await Promise.all([readTable(req, w.file), kernelVermagic(req.basedir, w.release)]);
        return { w, file: w.file, symvers, vermagic };
      } catch (err) {
        return { w, error: describeInputError(w.file, err) };
      }
    }),
  );
  for (const l of loaded) {
    if (l.error !== undefined) {
      out.errors.push({ path: l.w.file ?? l.w.release, message: l.error });
      continue;
    }
    out.problems.push(...l.symvers.problems);
    out.kernels.push({ release: l.w.release, symvers: l.symvers, symversPath: l.file, vermagic: l.vermagic });
  }
  return out;
}

function readTable(req: KernelRequest, file: string): Promise<SymversTable> {
  if (req.onlySymbols !== undefined) return readSymvers(file, req.onlySymbols);
  return req.symversCache !== undefined ? req.symversCache.read(file) : readSymvers(file);
}

/** The vermagic of the first readable in-tree module of kernel K under the root, if any. */
export async function kernelVermagic(basedir: string, release: string): Promise<string | undefined> {
  for (const base of ["lib/modules", "usr/lib/modules"]) {
    const dir = await resolveInRoot(basedir, `${base}/${release}/kernel`);
    if (dir === null) continue;
    const file = await firstModule(dir, 4);
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

async function firstModule(dir: string, depth: number): Promise<string | null> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) if (e.isFile() && looksLikeModuleFile(e.name)) return join(dir, e.name);
  if (depth === 0) return null;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const found = await firstModule(join(dir, e.name), depth - 1);
    if (found !== null) return found;
  }
  return null;
}
