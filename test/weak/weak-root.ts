/** Builds roots for the weak-modules tests from real data (fixtures, and the corpus cache when present). */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { weakModulesCommand } from "../../src/cli/weak-modules.js";
import type { CliIO } from "../../src/cli/io.js";

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const FIXTURES = path.join(REPO, "fixtures/modules");
export const SYMVERS = path.join(REPO, "fixtures/symvers");
export const K53 = "6.1.0-53-amd64";
export const K54 = "6.1.0-54-amd64";
export const K612 = "6.12.117+deb12-amd64";
export const CORPUS = process.env.KABI_CORPUS_DIR ?? path.join(os.homedir(), ".cache/kabi-corpus");
export const REAL_TREE_53 = path.join(CORPUS, "amd64-6.1/lib/modules", K53);

// weak-modules and kabi status use the persistent record cache by default: keep the tests' cache
// in a folder of their own (also for the CLI processes they start), never the user's.
if (process.env.KABI_CACHE_DIR === undefined) {
  process.env.KABI_CACHE_DIR = path.join(os.tmpdir(), `kabi-weak-test-cache-${process.pid}`);
}

export async function makeRoot(base?: string): Promise<string> {
  return mkdtemp(path.join(base ?? os.tmpdir(), "kabi-weak-"));
}

export async function removeRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** Installs kernel K: lib/modules/K and its symvers, Debian style (headers) or RHEL style (boot/symvers-K.gz). */
export async function addKernel(root: string, release: string, style: "debian" | "rhel"): Promise<void> {
  await mkdir(path.join(root, "lib/modules", release), { recursive: true });
  const gz = path.join(SYMVERS, `${release}.symvers.gz`);
  if (style === "rhel") {
    await mkdir(path.join(root, "boot"), { recursive: true });
    await copyFile(gz, path.join(root, "boot", `symvers-${release}.gz`));
  } else {
    const dir = path.join(root, "usr/src", `linux-headers-${release}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "Module.symvers"), gunzipSync(readFileSync(gz)));
  }
}

/** Copies fixture module `file` built for `built` into `<root>/lib/modules/<into>/<area>/<sub>`. Returns the inside path. */
export async function installFixture(root: string, built: string, file: string, into: string, sub = file, area = "extra"): Promise<string> {
  const inside = `/lib/modules/${into}/${area}/${sub}`;
  await mkdir(path.dirname(root + inside), { recursive: true });
  await copyFile(path.join(FIXTURES, built, file), root + inside);
  return inside;
}

/**
 * Every symlink below `dir` ("sub/path -> target"), sorted, without following symlinked
 * directories; its empty subdirectories ("sub/dir/") go to `emptyDirs` when given. A missing
 * `dir` has none.
 */
export async function linksUnder(dir: string, emptyDirs?: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(p);
    } catch {
      return;
    }
    if (names.length === 0 && rel !== "") emptyDirs?.push(`${rel}/`);
    for (const n of names) {
      const q = path.join(p, n);
      const st = await lstat(q);
      const r = rel === "" ? n : `${rel}/${n}`;
      if (st.isDirectory()) await walk(q, r);
      else if (st.isSymbolicLink()) out.push(`${r} -> ${await readlink(q)}`);
    }
  };
  await walk(dir, "");
  return out.sort();
}

/** Every symlink under every kernel's weak-updates: "K weak-sub-path -> target", sorted; empty subdirectories go to `emptyDirs` when given. */
export async function weakLinks(root: string, emptyDirs?: string[]): Promise<string[]> {
  const out: string[] = [];
  const modules = path.join(root, "lib/modules");
  let kernels: string[] = [];
  try {
    kernels = await readdir(modules);
  } catch {
    return out;
  }
  for (const k of kernels) {
    const empty: string[] = [];
    for (const l of await linksUnder(path.join(modules, k, "weak-updates"), empty)) out.push(`${k} ${l}`);
    for (const d of empty) emptyDirs?.push(`${k} ${d}`);
  }
  return out.sort();
}

/** The empty subdirectories of every kernel's weak-updates/ ("K sub/dir/"), sorted. */
export async function emptyWeakDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  await weakLinks(root, out);
  return out.sort();
}

/** A hash of a whole tree: every path, type, mode, size, mtime, symlink target and file content. */
export async function hashTree(root: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const n of names) {
      const p = path.join(dir, n);
      const st = await lstat(p);
      const r = `${rel}/${n}`;
      h.update(`${r}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0`);
      if (st.isSymbolicLink()) h.update(await readlink(p));
      else if (st.isFile()) h.update(await readFile(p));
      else if (st.isDirectory()) await walk(p, r);
      h.update("\n");
    }
  };
  h.update(JSON.stringify(await lstat(root).then((s) => [s.mode, s.mtimeMs])));
  await walk(root, "");
  return h.digest("hex");
}

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs weak-modules in-process with the given arguments and standard input. */
export async function runWeak(args: string[], stdin = "", cwd = "/"): Promise<Captured> {
  let out = "";
  let err = "";
  const io: CliIO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => stdin,
    cwd,
  };
  const code = await weakModulesCommand(args, io);
  return { code, out, err };
}

/** The common flags for tests: no depmod, no initramfs. */
export function baseArgs(root: string): string[] {
  return ["--basedir", root, "--no-initramfs", "--depmod", "/bin/true"];
}

export function haveRealTree(): boolean {
  return existsSync(path.join(REAL_TREE_53, "kernel")) && existsSync(path.join(REAL_TREE_53, "modules.builtin"));
}

export async function symlinkInto(target: string, at: string): Promise<void> {
  await mkdir(path.dirname(at), { recursive: true });
  await symlink(target, at);
}
