/**
 * A throwaway copy of this machine's system directories, for the tests that must run the real
 * callers where they look (dkms finds weak-modules only at /sbin/weak-modules and works on
 * /lib/modules and /var/lib/dkms; dpkg-divert writes /var/lib/dpkg; kernel hooks live in /etc):
 * each command runs in a private mount namespace (unshare) where /usr, /etc, /var and /boot are
 * overlays whose upper layers are folders of the sandbox. The commands see and change a system
 * that looks real; the machine's own directories are never written, and the sandbox's state
 * persists from one command to the next (the same upper layers are mounted each time).
 *
 * Needs root, unshare (util-linux) and overlayfs: CI runs as root (.ci/run), so the tests that
 * use it call requireSystemSandbox, which fails under CI when it cannot work and skips outside.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { requireUnderCi } from "./required.js";

/** The system directories a sandbox overlays (those that exist here). */
const OVERLAID = ["/usr", "/etc", "/var", "/boot"];

export interface SandboxResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SandboxRunOptions {
  env?: Record<string, string>;
  input?: string;
  /** Default 300 s: a dkms build of a small module takes seconds, but CI machines are shared. */
  timeoutMs?: number;
}

export interface SystemSandbox {
  /** The sandbox's own folder (upper layers under upper/, work folders under work/). */
  readonly dir: string;
  /** Runs `script` with bash -e inside the sandbox, as root, from cwd `/`. */
  run(script: string, options?: SandboxRunOptions): Promise<SandboxResult>;
  /** As run, but throws (with both streams) unless the script exits 0. */
  check(script: string, options?: SandboxRunOptions): Promise<SandboxResult>;
  /** Removes the sandbox's folder (nothing outside it was written). */
  dispose(): void;
}

let usable: boolean | undefined;

/** Whether a sandbox works here: root, unshare and an overlay mount in a private namespace. */
export function systemSandboxWorks(): boolean {
  if (usable !== undefined) return usable;
  if (process.getuid?.() !== 0) return (usable = false);
  const probe = mkdtempSync(path.join(os.tmpdir(), "kabi-sandbox-probe-"));
  try {
    for (const d of ["lower", "upper", "work", "mnt"]) mkdirSync(path.join(probe, d));
    const r = spawnSync(
      "unshare",
      ["--mount", "--propagation", "private", "mount", "-t", "overlay", "overlay", "-o", `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work`, `${probe}/mnt`],
      { stdio: "ignore" },
    );
    return (usable = r.status === 0);
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Inside a test: skips (outside CI) or fails (under CI) unless a sandbox works here. */
export function requireSystemSandbox(skip: () => void): void {
  requireUnderCi(systemSandboxWorks(), "a system sandbox (root, unshare, overlayfs)", skip);
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A new sandbox: an empty upper layer over each system directory. */
export function systemSandbox(prefix = "system"): SystemSandbox {
  const dir = mkdtempSync(path.join(os.tmpdir(), `kabi-sandbox-${prefix}-`));
  const mounts: string[] = [];
  for (const target of OVERLAID) {
    if (!existsSync(target)) continue;
    const name = target.slice(1).replaceAll("/", "_");
    const upper = path.join(dir, "upper", name);
    const work = path.join(dir, "work", name);
    mkdirSync(upper, { recursive: true });
    mkdirSync(work, { recursive: true });
    mounts.push(`mount -t overlay overlay -o ${quote(`lowerdir=${target},upperdir=${upper},workdir=${work}`)} ${quote(target)}`);
  }
  const run = (script: string, options: SandboxRunOptions = {}): Promise<SandboxResult> =>
    new Promise((resolve, reject) => {
      // The overlays are mounted by the namespace's first command; the script then runs with them.
      const inner = `set -e\n${mounts.join("\n")}\ncd /\nset +e\n( set -e\n${script}\n)`;
      const child = spawn("unshare", ["--mount", "--propagation", "private", "bash", "-c", inner], {
        env: { ...process.env, ...options.env },
        stdio: ["pipe", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal !== null ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      // A script that exits before reading its input closes the pipe: not an error of the run.
      child.stdin.on("error", () => {});
      child.stdin.end(options.input ?? "");
    });
  return {
    dir,
    run,
    async check(script, options) {
      const r = await run(script, options);
      if (r.code !== 0) throw new Error(`sandbox script failed (exit ${r.code}):\n${script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
      return r;
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
