// Small helpers the bench scripts (bench.mjs, same-output.mjs) share to lay out module trees and
// weak-modules roots from the corpus or the fixtures.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";

/** Every module file under `dir`, depth first, by name. */
export function listModules(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.(xz|gz|zst))?$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Every k-th element, n in all. */
export const spreadPick = (xs, n) => (xs.length <= n ? xs : Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]));

/** `from` placed at `to`: a hard link, or a copy across file systems. */
export function place(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** A plain symvers file (depmod -E reads plain text only): a .gz one is unpacked once into `workDir`/symvers. */
export function plainSymvers(file, release, workDir) {
  if (!file.endsWith(".gz")) return file;
  const out = join(workDir, "symvers", `${release}.symvers`);
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, gunzipSync(readFileSync(file)));
  }
  return out;
}

/**
 * The weak-modules bench root's externals: `count` modules of distinct names (one kernel's extra/
 * holds one build per name) spread over `all`, and the rest of `all`, which the root's kernels get
 * as their in-tree modules (so that no external is shadowed by a same-named in-tree one).
 */
export function pickExternals(all, count) {
  const seen = new Set();
  const pool = all.filter((f) => {
    const n = basename(f).replace(/\.ko.*$/, "").replaceAll("-", "_");
    if (seen.has(n)) return false;
    seen.add(n);
    return true;
  });
  const picked = new Set(spreadPick(pool, count));
  return { picked, inTree: all.filter((f) => !picked.has(f)) };
}

/**
 * The weak-modules bench root's kernels: six of the corpus's 6.1 amd64 kernels (the plain flavour
 * first, then by name), always including the one whose tree gives the externals (`buildK`).
 */
export function weakRootKernels(symvers, buildK, buildSymvers) {
  const plain = (r) => /^6\.1\.0-\d+-amd64$/.test(r);
  const preferred = symvers
    .filter((s) => s.release.startsWith("6.1.0-") && s.release.endsWith("-amd64"))
    .sort((a, b) => Number(plain(b.release)) - Number(plain(a.release)) || (a.release < b.release ? -1 : 1));
  const kernels = (preferred.length >= 6 ? preferred : symvers).slice(0, 6);
  if (!kernels.some((k) => k.release === buildK)) kernels.splice(0, 1, { release: buildK, file: buildSymvers });
  return kernels;
}
