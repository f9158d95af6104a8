/**
 * Hostile roots for `weak-modules` (every mode) and `kabi status`, run through the built CLI with
 * the current directory in a canary tree OUTSIDE the root (files, symlinks, a fake
 * lib/modules/<running kernel>): the canary must stay byte-identical (paths, modes, sizes,
 * mtimes, contents, link targets) through every case, so neither kabi nor a command it starts
 * ever writes outside the root, through a symlink or through a stray relative path. Every bad
 * input is one line naming it, the documented exit code, never a stack trace, and the other
 * kernels are still processed.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireUnderCi, runsWith } from "../helpers/required.js";
import { addKernel, installFixture, K53, K54, linksUnder, makeRoot, REPO, removeRoot, SYMVERS, weakLinks } from "./weak-root.js";

const WEAK_BIN = path.join(REPO, "dist/src/cli/weak-modules.js");
const KABI_BIN = path.join(REPO, "dist/src/cli/kabi.js");
const RUNNING = os.release();
const CONSUMER = `/lib/modules/${K54}/extra/kabi/kabi_consumer.ko`;
const PROVIDER = `/lib/modules/${K54}/extra/kabi/kabi_provider.ko`;

const roots: string[] = [];
afterEach(async () => {
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

/** A path outside every root, which a stray write (relative to the current directory, or through a symlink) would hit. */
let canary = "";
let canaryBefore: string[] = [];
/** Where the fake depmod writes what it was called with (outside the root and the canary). */
let logDir = "";
let fakeDepmod = "";

/** Every entry under `dir`: path, type, mode, size, mtime and content hash (or link target), sorted. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, rel: string): Promise<void> => {
    const st = await lstat(p);
    let what = "";
    if (st.isSymbolicLink()) what = `-> ${await readlink(p)}`;
    else if (st.isFile()) what = createHash("sha256").update(await readFile(p)).digest("hex");
    out.push(`${rel} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${what}`);
    if (st.isDirectory()) for (const n of (await readdir(p)).sort()) await walk(path.join(p, n), `${rel}/${n}`);
  };
  await walk(dir, ".");
  return out;
}

async function expectCanaryUnchanged(): Promise<void> {
  expect(await snapshot(canary)).toEqual(canaryBefore);
}

beforeAll(async () => {
  canary = await mkdtemp(path.join(os.tmpdir(), "kabi-canary-"));
  logDir = await mkdtemp(path.join(os.tmpdir(), "kabi-hostile-log-"));
  // What a misdirected depmod or link would touch: the running kernel's tree, a weak-updates/, a module, a symvers.
  const kdir = path.join(canary, "lib/modules", RUNNING);
  await mkdir(path.join(kdir, "weak-updates"), { recursive: true });
  await mkdir(path.join(kdir, "extra"), { recursive: true });
  await writeFile(path.join(kdir, "modules.dep"), "kernel/a.ko:\n");
  await writeFile(path.join(kdir, "modules.alias"), "# canary\n");
  await copyFile(path.join(REPO, "fixtures/modules", K54, "kabi_consumer.ko"), path.join(kdir, "extra/kabi_consumer.ko"));
  await copyFile(path.join(SYMVERS, `${K53}.symvers.gz`), path.join(canary, "symvers.gz"));
  await writeFile(path.join(canary, "file.txt"), "canary\n", { mode: 0o600 });
  await symlink("file.txt", path.join(canary, "link"));
  await symlink("/nonexistent/canary", path.join(canary, "dangling"));
  // Old mtimes: anything that touches an entry changes them.
  for (const p of [path.join(kdir, "modules.dep"), path.join(kdir, "modules.alias"), path.join(canary, "file.txt")]) await utimes(p, 1_000_000, 1_000_000);
  canaryBefore = await snapshot(canary);

  fakeDepmod = path.join(logDir, "depmod");
  // Records its arguments and working directory, one JSON line each; touches nothing else.
  await writeFile(
    fakeDepmod,
    `#!/usr/bin/env node\nrequire("fs").appendFileSync(${JSON.stringify(path.join(logDir, "calls.jsonl"))}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }) + "\\n");\n`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  await rm(canary, { recursive: true, force: true });
  await rm(logDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a built CLI with the canary as the current directory. */
function cli(bin: string, args: string[], stdin: string | Buffer = "", env: NodeJS.ProcessEnv = {}): Run {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [bin, ...args], { cwd: canary, input: stdin, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every diagnostic is one line after the command's prefix; no stack trace, no raw Node error. */
function expectClean(r: Run, prefix: string): void {
  expect(r.code, r.err).not.toBeNull();
  for (const line of r.err.split("\n").filter((l) => l !== "")) {
    expect(line.startsWith(`${prefix}: `), line).toBe(true);
    expect(line).not.toMatch(/^\s+at |Error: E[A-Z]+|RangeError|TypeError/);
  }
}

function depmodCalls(): { argv: string[]; cwd: string }[] {
  const file = path.join(logDir, "calls.jsonl");
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  return lines.map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
}

async function clearDepmodLog(): Promise<void> {
  await rm(path.join(logDir, "calls.jsonl"), { force: true });
}

/** The common flags: the fake depmod, no initramfs. */
function args(root: string, ...rest: string[]): string[] {
  return ["--basedir", root, "--no-initramfs", "--depmod", fakeDepmod, ...rest];
}

/** K54 holds a provider and a consumer in extra/kabi/; `target` has K53's symvers (the consumer is compatible there). */
async function baseRoot(...targets: string[]): Promise<string> {
  const root = await makeRoot();
  roots.push(root);
  await addKernel(root, K54, "debian");
  await installFixture(root, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
  await installFixture(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
  for (const t of targets) await addTarget(root, t);
  return root;
}

/** Installs kernel `release` with K53's symvers (Debian style) and K53's build of the provider in its extra/: K54's consumer is compatible there. */
async function addTarget(root: string, release: string): Promise<void> {
  await mkdir(path.join(root, "lib/modules", release), { recursive: true });
  await installFixture(root, K53, "kabi_provider.ko", release);
  const dir = path.join(root, "usr/src", `linux-headers-${release}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "Module.symvers"), (await import("node:zlib")).gunzipSync(readFileSync(path.join(SYMVERS, `${K53}.symvers.gz`))));
}

/**
 * Runs every mode (--dry-run, --add-kernel, --add-modules, --remove-modules, --remove-kernel) and
 * `kabi status` on `root`, checking after each that the output is clean, the exit code is one of
 * the documented ones and the canary is unchanged. Returns the runs by name.
 */
async function everyMode(root: string, kernel: string, modules: string[] = [CONSUMER]): Promise<Record<string, Run>> {
  const stdin = modules.map((m) => root + m).join("\n") + "\n";
  const runs: Record<string, Run> = {};
  const modes: [string, string[], string][] = [
    ["dry-run", args(root, "--dry-run", `--add-kernel=${kernel}`), ""],
    ["add-kernel", args(root, `--add-kernel=${kernel}`), ""],
    ["add-modules", args(root, "--add-modules"), stdin],
    ["remove-modules", args(root, "--remove-modules"), stdin],
    ["remove-kernel", args(root, `--remove-kernel=${kernel}`), ""],
  ];
  for (const [name, a, input] of modes) {
    const r = cli(WEAK_BIN, a, input);
    expectClean(r, "weak-modules");
    expect([0, 1], `${name}: ${r.err}`).toContain(r.code);
    runs[name] = r;
    await expectCanaryUnchanged();
  }
  const s = cli(KABI_BIN, ["status", "--basedir", root]);
  expectClean(s, "kabi status");
  expect([0, 1, 2], s.err).toContain(s.code);
  runs.status = s;
  await expectCanaryUnchanged();
  return runs;
}

/** Every symlink anywhere under `dir` (not following symlinked directories): "rel -> target", sorted. */
/**
 * --add-kernel K then --remove-kernel K, with the fake and the real depmod, on a root whose
 * lib/modules/K the host resolves to `hostTarget` (outside the root): depmod is never run (one
 * warning), the link is made in and removed from `weakDir` (where kabi resolves K), the canary stays.
 */
async function addAndRemoveWithoutDepmod(root: string, K: string, hostTarget: string, weakDir: string, realDepmod: string): Promise<void> {
  for (const prog of [fakeDepmod, realDepmod]) {
    await clearDepmodLog();
    const r = cli(WEAK_BIN, ["--basedir", root, "--no-initramfs", "--depmod", prog, `--add-kernel=${K}`]);
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`weak-modules: warning: depmod for ${K} failed (links kept): not run: ${path.join(root, "lib/modules", K)} resolves to ${hostTarget}, outside the root\n`);
    expect(depmodCalls()).toEqual([]);
    expect(await linksUnder(weakDir)).toEqual([`kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    await expectCanaryUnchanged();
    const removed = cli(WEAK_BIN, ["--basedir", root, "--no-initramfs", "--depmod", prog, `--remove-kernel=${K}`]);
    expect(removed.code, removed.err).toBe(0);
    expect(await linksUnder(weakDir)).toEqual([]);
    await expectCanaryUnchanged();
  }
}

// dist/ is built, not committed: skipped without `npm run build`, run (and failed) under CI (.ci/run builds first).
describe.runIf(runsWith(existsSync(WEAK_BIN) && existsSync(KABI_BIN)))("hostile roots (built CLI, cwd in a canary tree outside the root)", () => {

  it("release strings with spaces, glob characters, a leading '-', '..' are used literally; depmod gets them after '--'; a newline is one line and skipped", async () => {
    const odd = ["6.1 with space", "6.1*[ab]?", "-b.", "--help", "a..b"];
    const newline = "6.1\nx";
    const root = await baseRoot(...odd, newline);
    await clearDepmodLog();
    for (const k of odd) {
      const r = cli(WEAK_BIN, args(root, `--add-kernel=${k}`));
      expectClean(r, "weak-modules");
      // The newline kernel is listed by every run: one line naming it (quoted), exit 1.
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`weak-modules: ${path.join(root, "lib/modules", JSON.stringify(newline))}: its name holds a control character`);
      await expectCanaryUnchanged();
    }
    expect(await weakLinks(root)).toEqual(odd.map((k) => `${k} kabi/kabi_consumer.ko -> ${CONSUMER}`).sort());
    const calls = depmodCalls();
    expect(calls.map((c) => c.argv)).toEqual(odd.map((k) => ["-a", "-b", root, "--", k]));
    // cwd is the caller's: depmod is given absolute paths only.
    for (const c of calls) expect(c.cwd).toBe(canary);
    // A release with a newline is not a release on the command line either (usage error).
    const bad = cli(WEAK_BIN, args(root, `--add-kernel=${newline}`));
    expect(bad.code).toBe(2);
    await everyMode(root, "-b.");
  });

  it("real depmod with the release '-b.' (once read as an option: depmod -b . rebuilt the running kernel's tree under the current directory) leaves the canary alone", async (context) => {
    const depmod = ["/usr/sbin/depmod", "/sbin/depmod"].find((p) => existsSync(p));
    requireUnderCi(depmod !== undefined, "depmod (kmod)", () => context.skip());
    const root = await baseRoot("-b.");
    const r = cli(WEAK_BIN, ["--basedir", root, "--no-initramfs", "--depmod", depmod!, "--add-kernel=-b."]);
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(0);
    expect(await weakLinks(root)).toEqual([`-b. kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    // kmod's depmod refuses "-b." as a version ("Bad version passed"): a warning, the links kept.
    expect(r.err).toMatch(/^weak-modules: warning: depmod for -b\. failed \(links kept\): exit 1/m);
    await expectCanaryUnchanged();
    expect(existsSync(path.join(canary, "lib/modules", RUNNING, "modules.dep.bin"))).toBe(false);
  });

  it("lib/modules/K an absolute symlink (inside the root, but depmod -b follows it on the host): no external command runs for K, real depmod included", async (context) => {
    const depmod = ["/usr/sbin/depmod", "/sbin/depmod"].find((p) => existsSync(p));
    requireUnderCi(depmod !== undefined, "depmod (kmod)", () => context.skip());
    const root = await baseRoot();
    const K = "6.1.0-99-amd64";
    // Inside the root the link leads to <root><canary>/lib/modules/K; on the host, to the canary's.
    const hostTarget = path.join(canary, "lib/modules", RUNNING);
    await addTarget(root, K);
    await rm(path.join(root, "lib/modules", K), { recursive: true });
    await mkdir(path.join(root + hostTarget, "extra"), { recursive: true });
    await copyFile(path.join(REPO, "fixtures/modules", K53, "kabi_provider.ko"), path.join(root + hostTarget, "extra/kabi_provider.ko"));
    await symlink(hostTarget, path.join(root, "lib/modules", K));
    // The links go where kabi resolved K: inside the root.
    await addAndRemoveWithoutDepmod(root, K, hostTarget, path.join(root + hostTarget, "weak-updates"), depmod!);
    await everyMode(root, K);
  });

  it("lib/modules/K an absolute symlink dangling inside the root while the kernel lives in usr/lib/modules/K: depmod, which would follow lib/modules/K on the host, is not run", async (context) => {
    const depmod = ["/usr/sbin/depmod", "/sbin/depmod"].find((p) => existsSync(p));
    requireUnderCi(depmod !== undefined, "depmod (kmod)", () => context.skip());
    const root = await baseRoot();
    const K = "6.1.0-94-amd64";
    await addTarget(root, K);
    // Move the kernel to usr/lib/modules/K; lib/modules/K leads, on the host only, to the canary.
    await mkdir(path.join(root, "usr/lib/modules"), { recursive: true });
    await rename(path.join(root, "lib/modules", K), path.join(root, "usr/lib/modules", K));
    const hostTarget = path.join(canary, "lib/modules", RUNNING);
    await symlink(hostTarget, path.join(root, "lib/modules", K));
    await addAndRemoveWithoutDepmod(root, K, hostTarget, path.join(root, "usr/lib/modules", K, "weak-updates"), depmod!);
  });

  it("weak-updates/ an absolute symlink: scan and writer both resolve it inside the root; --remove-kernel removes every link it made; nothing outside is 'left alone'", async () => {
    const root = await baseRoot(K53);
    const hostWeak = path.join(canary, "lib/modules", RUNNING, "weak-updates");
    await symlink(hostWeak, path.join(root, "lib/modules", K53, "weak-updates"));
    // The canary's weak-updates/ holds a foreign file: if the scan followed the host's link, it would be reported.
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toContain("left alone");
    expect(await linksUnder(root + hostWeak)).toEqual([`kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    const s = cli(KABI_BIN, ["status", "--basedir", root]);
    expect(s.code, s.err).toBe(0);
    expect(s.out).toContain(`  ${K53}: installed-weak from ${K54}\n`);
    const rm1 = cli(WEAK_BIN, args(root, `--remove-kernel=${K53}`));
    expect(rm1.code, rm1.err).toBe(0);
    expect(await linksUnder(root + hostWeak)).toEqual([]);
    await expectCanaryUnchanged();
    await everyMode(root, K53);
  });

  it("a subdirectory of weak-updates/ that is a symlink (outside the root) is a foreign entry: never written through, never followed by the scan", async () => {
    const root = await baseRoot(K53);
    await mkdir(path.join(root, "lib/modules", K53, "weak-updates"), { recursive: true });
    await symlink(path.join(canary, "lib/modules", RUNNING, "weak-updates"), path.join(root, "lib/modules", K53, "weak-updates/kabi"));
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`weak-modules: create /lib/modules/${K53}/weak-updates/kabi/kabi_consumer.ko: /lib/modules/${K53}/weak-updates/kabi: a symbolic link where a directory is expected; left alone\n`);
    expect(r.err).toContain(`weak-modules: left alone: /lib/modules/${K53}/weak-updates/kabi (symlink to ${path.join(canary, "lib/modules", RUNNING, "weak-updates")}, not managed by kabi)\n`);
    await expectCanaryUnchanged();
    await everyMode(root, K53);
  });

  it("symlink loops (weak-updates -> weak-updates, extra -> extra, below extra/, a kernel directory, lib/modules/K/weak-updates/sub) are one line each, exit 1; the other kernels are still processed", async () => {
    const loopK = "6.1.0-98-amd64";
    const root = await baseRoot(K53, loopK);
    await symlink("weak-updates", path.join(root, "lib/modules", loopK, "weak-updates"));
    await rm(path.join(root, "lib/modules", loopK, "extra"), { recursive: true });
    await symlink("extra", path.join(root, "lib/modules", loopK, "extra"));
    await mkdir(path.join(root, "lib/modules", K54, "extra/loops"), { recursive: true });
    await symlink("loops", path.join(root, "lib/modules", K54, "extra/loops/self"));
    await symlink("self.ko", path.join(root, "lib/modules", K54, "extra/loops/self.ko"));
    await symlink("6.1.0-97-amd64", path.join(root, "lib/modules/6.1.0-97-amd64"));
    const r = cli(WEAK_BIN, args(root, "--add-modules"), `${root}${CONSUMER}\n`);
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(1);
    const lines = r.err.split("\n");
    expect(lines).toContain(`weak-modules: ${path.join(root, "lib/modules", loopK, "weak-updates")}: too many levels of symbolic links; kernel ${loopK} is left as it is`);
    expect(lines).toContain(`weak-modules: ${path.join(root, "lib/modules", loopK, "extra")}: too many levels of symbolic links; its modules are skipped`);
    expect(lines).toContain(`weak-modules: ${path.join(root, "lib/modules/6.1.0-97-amd64")}: too many levels of symbolic links; kernel skipped`);
    // K53 is processed all the same.
    expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    const runs = await everyMode(root, loopK);
    expect(runs["add-kernel"]!.code).toBe(1);
    // Parts of the root could not be checked: 2.
    expect(runs.status!.code).toBe(2);
  });

  it("lib/modules itself an absolute symlink out of the root, or a loop: resolved inside the root, one line, exit 1", async () => {
    for (const target of [path.join(canary, "lib/modules"), "modules"]) {
      const root = await makeRoot();
      roots.push(root);
      await mkdir(path.join(root, "lib"));
      await symlink(target, path.join(root, "lib/modules"));
      const r = cli(WEAK_BIN, args(root, `--add-kernel=${RUNNING}`));
      expectClean(r, "weak-modules");
      expect(r.code, r.err).toBe(1);
      expect(r.err.split("\n").filter((l) => l !== "")).toHaveLength(1);
      const s = cli(KABI_BIN, ["status", "--basedir", root]);
      expectClean(s, "kabi status");
      // The root cannot be checked: 2.
      expect(s.code, s.err).toBe(2);
      await expectCanaryUnchanged();
      await everyMode(root, RUNNING);
    }
  });

  it("extra/ an absolute symlink to a folder of modules outside the root: resolved inside the root, the outside modules are never read or linked", async () => {
    const root = await baseRoot(K53);
    const K = "6.1.0-96-amd64";
    await addTarget(root, K);
    await rm(path.join(root, "lib/modules", K, "extra"), { recursive: true });
    await symlink(path.join(canary, "lib/modules", RUNNING, "extra"), path.join(root, "lib/modules", K, "extra"));
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expect(r.code, r.err).toBe(0);
    expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    const s = cli(KABI_BIN, ["status", "--basedir", root]);
    expect(s.out).not.toContain(canary);
    await expectCanaryUnchanged();
    await everyMode(root, K);
  });

  it("the symvers an absolute symlink out of the root: resolved inside the root (not found there), the kernel has no symvers", async () => {
    const root = await baseRoot();
    const K = "6.1.0-95-amd64";
    await mkdir(path.join(root, "lib/modules", K), { recursive: true });
    await mkdir(path.join(root, "boot"), { recursive: true });
    await symlink(path.join(canary, "symvers.gz"), path.join(root, "boot", `symvers-${K}.gz`));
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K}`));
    expectClean(r, "weak-modules");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`kernel ${K}: no symvers found`);
    await expectCanaryUnchanged();
    await everyMode(root, K);
  });

  it("the lock's name a symlink to a canary file, a FIFO or a directory: refused in one line, exit 1, nothing followed", async () => {
    const root = await baseRoot(K53);
    const lock = path.join(root, "lib/modules/.kabi-weak-modules.lock");
    const make: [string, () => Promise<void>][] = [
      ["a symbolic link", () => symlink(path.join(canary, "file.txt"), lock)],
      ["a special file", async () => void spawnSync("mkfifo", [lock])],
      ["a directory", () => mkdir(lock)],
    ];
    for (const [what, create] of make) {
      await create();
      for (const mode of [[`--add-kernel=${K53}`], [`--remove-kernel=${K53}`]]) {
        const r = cli(WEAK_BIN, args(root, ...mode));
        expect(r.code, r.err).toBe(1);
        expect(r.err).toBe(`weak-modules: ${lock}: the weak-modules lock is ${what}, not a regular file; remove it if no weak-modules run is going on\n`);
      }
      await expectCanaryUnchanged();
      await rm(lock, { recursive: true });
    }
  });

  it("a stale lock (dead holder) is broken at once, a left breaker too; a live holder is waited for, and said", async () => {
    const root = await baseRoot(K53);
    const lock = path.join(root, "lib/modules/.kabi-weak-modules.lock");
    const dead = spawnSync("true").pid!;
    await writeFile(lock, `${dead} 1\n`);
    await writeFile(`${lock}.break`, `${dead} 1\n`);
    const started = Date.now();
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expect(r.code, r.err).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(existsSync(lock)).toBe(false);
    // A live pid whose start time differs is a reused pid: stale as well.
    await writeFile(lock, `${process.pid} 1\n`);
    const reused = cli(WEAK_BIN, args(root, `--remove-kernel=${K53}`));
    expect(reused.code, reused.err).toBe(0);
    expect(existsSync(lock)).toBe(false);
    // A live holder: the wait is said in one line, and given up after the timeout... here the holder goes first.
    const sleeper = spawnSync("sh", ["-c", "sleep 2 & echo $!"], { encoding: "utf8" });
    const pid = Number(sleeper.stdout.trim());
    await writeFile(lock, `${pid}\n`);
    const waited = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expect(waited.code, waited.err).toBe(0);
    expect(waited.err.split("\n").filter((l) => l.includes("waiting"))).toEqual([`weak-modules: waiting for ${lock}, held by process ${pid}`]);
    await expectCanaryUnchanged();
  });

  it("FIFOs, a character device and a directory named *.ko: nothing blocks, nothing is linked from them", async () => {
    const root = await baseRoot(K53);
    const extra = path.join(root, "lib/modules", K54, "extra");
    spawnSync("mkfifo", [path.join(extra, "fifo.ko")]);
    const dev = spawnSync("mknod", [path.join(extra, "null.ko"), "c", "1", "3"]);
    if (dev.status !== 0) console.log(`hostile-root: mknod unavailable here (${dev.stderr.toString().trim()}): the device case is not exercised`);
    await mkdir(path.join(extra, "dir.ko"));
    await mkdir(path.join(root, "lib/modules", K53, "weak-updates"), { recursive: true });
    spawnSync("mkfifo", [path.join(root, "lib/modules", K53, "weak-updates/fifo.ko")]);
    // A FIFO where modules.builtin is read must not block the run; one symlinked out of the root is read inside it.
    spawnSync("mkfifo", [path.join(root, "lib/modules", K53, "modules.builtin")]);
    await symlink(path.join(canary, "lib/modules", RUNNING, "modules.dep"), path.join(root, "lib/modules", K54, "modules.builtin"));
    const runs = await everyMode(root, K53, [CONSUMER, `/lib/modules/${K54}/extra/fifo.ko`, `/lib/modules/${K54}/extra/dir.ko`]);
    expect(runs["add-modules"]!.code).toBe(1);
    expect(runs["add-modules"]!.err).toContain(`"${root}/lib/modules/${K54}/extra/fifo.ko": not a regular file`);
    expect(runs["add-modules"]!.err).toContain(`"${root}/lib/modules/${K54}/extra/dir.ko": not a regular file`);
    expect(runs["add-kernel"]!.err).toContain(`left alone: /lib/modules/${K53}/weak-updates/fifo.ko (other, not managed by kabi)`);
    expect(runs["add-kernel"]!.err).toContain(`weak-modules: ${path.join(root, "lib/modules", K53, "modules.builtin")}: not a regular file; ignored\n`);
    expect(runs["add-kernel"]!.code).toBe(1);
    expect(await weakLinks(root)).toEqual([]);
    await rm(path.join(root, "lib/modules", K53, "modules.builtin"));
    const again = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expect(again.code, again.err).toBe(0);
    expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER}`]);
  });

  it("module file names that are not UTF-8 are one line naming them (not supported, left alone), in extra/ and on standard input", async () => {
    const root = await baseRoot(K53);
    const extraBuf = Buffer.from(path.join(root, "lib/modules", K54, "extra/kabi/"));
    const badName = Buffer.concat([extraBuf, Buffer.from([0x62, 0xff, 0x2e, 0x6b, 0x6f])]); // "b\xff.ko"
    await copyFile(path.join(REPO, "fixtures/modules", K54, "kabi_consumer.ko"), badName);
    // A kernel directory whose name is not UTF-8 ("6.1\xff").
    await mkdir(Buffer.concat([Buffer.from(path.join(root, "lib/modules/6.1")), Buffer.from([0xff])]));
    const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
    expectClean(r, "weak-modules");
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`weak-modules: ${path.join(root, "lib/modules", K54, "extra/kabi")}/b\uFFFD.ko: its name is not valid UTF-8: not supported, left alone (rename it)\n`);
    expect(r.err).toContain(`weak-modules: ${path.join(root, "lib/modules")}/6.1\uFFFD: its name is not valid UTF-8: not supported, left alone (rename it)\n`);
    // The rest of the tree is still processed.
    expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER}`]);
    const viaStdin = cli(WEAK_BIN, args(root, "--add-modules"), Buffer.concat([badName, Buffer.from("\n")]));
    expectClean(viaStdin, "weak-modules");
    expect(viaStdin.code).toBe(1);
    expect(viaStdin.err).toContain("not valid UTF-8");
    await expectCanaryUnchanged();
    await everyMode(root, K53);
  });

  it("--basedir missing, a file, an empty folder; the cache folder under /proc, a symlink loop or a file: one line each, documented exit codes", async () => {
    const empty = await makeRoot();
    roots.push(empty);
    const file = path.join(empty, "a-file");
    await writeFile(file, "");
    const cases: [string, string][] = [
      ["/nonexistent-kabi-root", "no such directory (--basedir)"],
      [file, "not a directory (--basedir)"],
    ];
    const modes = [[`--add-kernel=${K53}`], [`--remove-kernel=${K53}`], ["--add-modules"], ["--remove-modules"], ["--dry-run", `--add-kernel=${K53}`]];
    for (const [basedir, reason] of cases) {
      for (const mode of modes) {
        const r = cli(WEAK_BIN, args(basedir, ...mode), `${basedir}${CONSUMER}\n`);
        expect(r.code, r.err).toBe(1);
        expect(r.err).toBe(`weak-modules: ${basedir}: ${reason}\n`);
      }
      const s = cli(KABI_BIN, ["status", "--basedir", basedir]);
      expect(s.code).toBe(2);
      expect(s.err).toBe(`kabi status: ${basedir}: ${reason}\n`);
    }
    const s = cli(KABI_BIN, ["status", "--basedir", empty]);
    expect(s.code).toBe(2);
    expect(s.err).toBe(`kabi status: ${empty}: no kernels (no directory under lib/modules or usr/lib/modules)\n`);
    expect(s.out).toBe("");

    const root = await baseRoot(K53);
    const loop = path.join(empty, "cache-loop");
    await symlink(loop, loop);
    for (const cacheDir of ["/proc/kabi-cache/x", loop, file]) {
      const started = Date.now();
      const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`), "", { KABI_CACHE_DIR: cacheDir });
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(new RegExp(`^weak-modules: warning: cache folder ${cacheDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot be used \\([A-Z]+ \\(\\w+\\)\\); running without the cache\n$`));
      const st = cli(KABI_BIN, ["status", "--basedir", root], "", { KABI_CACHE_DIR: cacheDir });
      expect(st.code, st.err).toBe(0);
      expect(st.err).toContain("kabi status: warning: cache folder");
      cli(WEAK_BIN, args(root, `--remove-kernel=${K53}`), "", { KABI_CACHE_DIR: cacheDir });
    }
    await expectCanaryUnchanged();
  });

  it("read-only places: an immutable weak-updates/ (chattr +i) and a read-only tmpfs mounted on it: one line naming the link refused, exit 1, re-run converges once writable", async () => {
    const root = await baseRoot(K53);
    const weak = path.join(root, "lib/modules", K53, "weak-updates");
    await mkdir(weak, { recursive: true });
    const mechanisms: [string, () => boolean, () => void][] = [
      [
        "chattr +i",
        () => spawnSync("chattr", ["+i", weak]).status === 0,
        () => void spawnSync("chattr", ["-i", weak]),
      ],
      [
        "read-only tmpfs",
        () => spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", weak]).status === 0,
        () => void spawnSync("umount", [weak]),
      ],
    ];
    let exercised = 0;
    for (const [name, on, off] of mechanisms) {
      if (!on()) {
        console.log(`hostile-root: ${name} is not available here: that read-only case is not exercised`);
        continue;
      }
      exercised++;
      try {
        const r = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
        expectClean(r, "weak-modules");
        expect(r.code, `${name}: ${r.err}`).toBe(1);
        expect(r.err).toMatch(new RegExp(`^weak-modules: create /lib/modules/${K53}/weak-updates/kabi/kabi_consumer\\.ko: .*(EPERM|operation not permitted|read-only file system|permission denied).*$`, "m"));
        // The consumer could not be linked: not usable on K53, which status says (1).
        const s = cli(KABI_BIN, ["status", "--basedir", root]);
        expect(s.code, s.err).toBe(1);
        expect(s.out).toContain(`  ${K53}: compatible, not linked\n`);
        await expectCanaryUnchanged();
      } finally {
        off();
      }
      const again = cli(WEAK_BIN, args(root, `--add-kernel=${K53}`));
      expect(again.code, again.err).toBe(0);
      expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER}`]);
      expect(cli(WEAK_BIN, args(root, `--remove-kernel=${K53}`)).code).toBe(0);
    }
    // We run as root in CI, where both work; anywhere else at least say what was not exercised (above).
    if (process.getuid?.() === 0) expect(exercised).toBeGreaterThan(0);
  });

  it("run as a non-root user: one line naming the lock from every writing mode, exit 1; --dry-run and status still work", async (context) => {
    const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));
    if (process.getuid?.() !== 0 || setpriv === undefined) {
      console.log("hostile-root: not root or no setpriv here: the non-root case is not exercised");
      context.skip();
    }
    const root = await baseRoot(K53);
    // Readable by everyone (the test's temporary folders are 0700), writable by root only.
    for (const d of [root, path.dirname(root)]) await chmod(d, 0o755).catch(() => undefined);
    spawnSync("chmod", ["-R", "a+rX", root]);
    const asNobody = (bin: string, a: string[], stdin = ""): Run => {
      // Only CAP_DAC_READ_SEARCH is kept: the checkout (and its node_modules) may lie in a folder only
      // root can enter (a clone in `mktemp -d`), while every write still meets the user's own rights.
      const r = spawnSync(setpriv!, ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", process.execPath, bin, ...a], {
        cwd: canary,
        input: stdin,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, HOME: "/nonexistent", KABI_CACHE_DIR: "" },
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const lock = path.join(root, "lib/modules/.kabi-weak-modules.lock");
    for (const mode of [[`--add-kernel=${K53}`], [`--remove-kernel=${K53}`], ["--add-modules"], ["--remove-modules"]]) {
      const r = asNobody(WEAK_BIN, args(root, ...mode), `${root}${CONSUMER}\n`);
      expectClean(r, "weak-modules");
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`weak-modules: ${lock}: permission denied (changing weak-updates needs write access to this folder: run as root)\n`);
    }
    const dry = asNobody(WEAK_BIN, args(root, "--dry-run", `--add-kernel=${K53}`));
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain("would create");
    // Status reads only; it says the consumer is not linked yet (1).
    const s = asNobody(KABI_BIN, ["status", "--basedir", root]);
    expectClean(s, "kabi status");
    expect(s.code, s.err).toBe(1);
    expect(s.out).toContain(`  ${K53}: compatible, not linked\n`);
    expect(await weakLinks(root)).toEqual([]);
    await expectCanaryUnchanged();
  });
});
