/**
 * What the fault-injection tests (faults-*.test.ts) share: the built CLI and strace they need
 * (CI provides both: .ci/run builds dist/ and installs strace), the seed of their random choices,
 * a work folder, and tmpfs mounts for the full and read-only file systems.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BIN, straceWorks } from "../../bench/fault-trials.mjs";
import { requireUnderCi } from "../helpers/required.js";

/** Skips (outside CI) or fails (under CI) unless dist/ is built. */
export function requireBuilt(skip: () => void): void {
  requireUnderCi(existsSync(BIN), BIN, skip);
}

/** Skips (outside CI) or fails (under CI) unless strace can inject faults here. */
export function requireStrace(skip: () => void): void {
  requireUnderCi(straceWorks(), "strace (fault injection at system-call points)", skip);
}

/**
 * The seed of a test file's random choices: KABI_FAULT_SEED when set (to replay a failure),
 * else a new one each run, so that CI runs cover different points; every failure message names it.
 */
export function faultSeed(): number {
  const given = process.env.KABI_FAULT_SEED;
  return given !== undefined && given !== "" ? Number(given) : Date.now() % 1_000_000_007;
}

export function workDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `kabi-${prefix}-`));
}

/** Mounts a tmpfs with `options` on `dir`; false when this machine does not let us. */
export function mountTmpfs(dir: string, options: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "ignore" }).status === 0;
}

/** Changes a mounted tmpfs's options (ro, rw, nr_inodes=...); throws when that fails. */
export function remount(dir: string, options: string): void {
  const r = spawnSync("mount", ["-o", `remount,${options}`, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mount -o remount,${options} ${dir}: ${r.stderr}`);
}

export function unmount(dir: string): void {
  if (spawnSync("umount", [dir], { stdio: "ignore" }).status !== 0) spawnSync("umount", ["-l", dir], { stdio: "ignore" });
}
