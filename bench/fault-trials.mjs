// Fault injection on the BUILT weak-modules (dist/src/cli/weak-modules.js), shared by the CI-sized
// tests (test/weak/faults-*.test.ts) and the long script (bench/faults.mjs): the kill -9
// convergence property and the concurrency property of docs/weak-modules.md ("What is touched,
// and how"). Plain JavaScript so that the long script runs with node alone; typed for the tests
// by fault-trials.d.mts.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

export const REPO = fileURLToPath(new URL("../", import.meta.url));
export const BIN = join(REPO, "dist/src/cli/weak-modules.js");
const FIXTURES = join(REPO, "fixtures/modules");
const SYMVERS = join(REPO, "fixtures/symvers");
export const K53 = "6.1.0-53-amd64";
export const K54 = "6.1.0-54-amd64";
export const K612 = "6.12.117+deb12-amd64";
export const LOCK = "lib/modules/.kabi-weak-modules.lock";
export const MODES = ["add-kernel", "add-modules", "remove-modules", "remove-kernel"];

/** A seeded generator (mulberry32): a trial is reproduced from its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function addKernel(root, release, style) {
  mkdirSync(join(root, "lib/modules", release), { recursive: true });
  const gz = join(SYMVERS, `${release}.symvers.gz`);
  if (style === "rhel") {
    mkdirSync(join(root, "boot"), { recursive: true });
    copyFileSync(gz, join(root, "boot", `symvers-${release}.gz`));
  } else {
    const dir = join(root, "usr/src", `linux-headers-${release}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "Module.symvers"), gunzipSync(readFileSync(gz)));
  }
}

/** Fixture `file` built for `built` installed as `/lib/modules/<into>/<area>/<sub>`; returns that inside path. */
function install(root, built, file, into, sub, area = "extra") {
  const inside = `/lib/modules/${into}/${area}/${sub}`;
  mkdirSync(dirname(root + inside), { recursive: true });
  copyFileSync(join(FIXTURES, built, file), root + inside);
  return inside;
}

const NEW_GROUP = [0, 1, 2, 3, 4, 5].map((j) => `/lib/modules/${K54}/extra/g9/nv9_${j}.ko`);
const NEW_TWINS = [0, 1, 2].map((j) => `/lib/modules/${K53}/updates/h2/tw2_${j}.ko`);
const GONE = [...[0, 1, 2, 3, 4, 5].map((j) => `/lib/modules/${K54}/extra/g1/nv1_${j}.ko`), `/lib/modules/${K53}/updates/h/tw_0.ko`, `/lib/modules/${K53}/updates/h/tw_1.ko`];

/**
 * The base root, from the committed fixtures: 6.1.0-53 and 6.1.0-54 (Debian-style symvers),
 * 6.12.117 (RHEL-style) with its own builds. 6.1.0-54's provider and consumer in extra/kabi/, and
 * 6.1.0-53's own provider (so the 6.1.0-54 consumer links into 6.1.0-53); four groups of six
 * copies of 6.1.0-54's kabi_noversions.ko in extra/g0..g3/ (each a module of its own name,
 * linked into 6.1.0-53's weak-updates/g*\/); four copies of 6.1.0-53's kabi_gpl_twin.ko in
 * updates/h/ (linked into 6.1.0-54's weak-updates/h/). And what an interrupted earlier run
 * leaves in 6.1.0-53's weak-updates: a temporary link, a stale managed link in a subdirectory,
 * an empty directory. About 30 links: each run makes dozens of directory and link operations.
 */
export function buildBaseRoot(root) {
  addKernel(root, K53, "debian");
  addKernel(root, K54, "debian");
  addKernel(root, K612, "rhel");
  install(root, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
  install(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
  install(root, K53, "kabi_provider.ko", K53, "kabi_provider.ko");
  install(root, K612, "kabi_provider.ko", K612, "kabi_provider.ko");
  install(root, K612, "kabi_consumer.ko", K612, "kabi_consumer.ko");
  for (let g = 0; g < 4; g++) for (let j = 0; j < 6; j++) install(root, K54, "kabi_noversions.ko", K54, `g${g}/nv${g}_${j}.ko`);
  for (let j = 0; j < 4; j++) install(root, K53, "kabi_gpl_twin.ko", K53, `h/tw_${j}.ko`, "updates");
  const weak = join(root, "lib/modules", K53, "weak-updates");
  mkdirSync(join(weak, "old"), { recursive: true });
  mkdirSync(join(weak, "left/over"), { recursive: true });
  symlinkSync(`/lib/modules/${K54}/extra/old/gone.ko`, join(weak, "old/gone.ko"));
  symlinkSync(`/lib/modules/${K54}/extra/g0/nv0_0.ko`, join(weak, ".kabi-tmp-1-1-nv0_0.ko"));
}

/** The command line of a run on `root` (no depmod, no initramfs: only the links are under test). */
export function weakArgs(root, action) {
  return ["--basedir", root, "--no-initramfs", "--depmod", "/bin/true", ...action];
}

/**
 * One command of the kill -9 property per mode, and the start state it runs on:
 * - add-kernel: `--add-kernel 6.1.0-53` on the base root (links to make, leftovers to clean);
 * - add-modules: the base root with every kernel's links made, then six new modules in
 *   extra/g9/ (for 6.1.0-53) and three in updates/h2/ (for 6.1.0-54), given on standard input;
 * - remove-modules: the same linked root with extra/g1/ and two of updates/h/ deleted, then given;
 * - remove-kernel: `--remove-kernel 6.1.0-53` on the linked root.
 */
export const MODE_SETUPS = {
  "add-kernel": { linked: false, add: [], remove: [], action: ["--add-kernel", K53], stdin: [] },
  "add-modules": { linked: true, add: [...NEW_GROUP, ...NEW_TWINS], remove: [], action: ["--add-modules"], stdin: [...NEW_GROUP, ...NEW_TWINS] },
  "remove-modules": { linked: true, add: [], remove: GONE, action: ["--remove-modules"], stdin: GONE },
  "remove-kernel": { linked: true, add: [], remove: [], action: ["--remove-kernel", K53], stdin: [] },
};

function installNew(root, inside) {
  const file = inside.includes("/g9/") ? "kabi_noversions.ko" : "kabi_gpl_twin.ko";
  const built = inside.includes("/g9/") ? K54 : K53;
  mkdirSync(dirname(root + inside), { recursive: true });
  copyFileSync(join(FIXTURES, built, file), root + inside);
}

/** Runs the built CLI to completion (throws when it does not exit 0). */
export async function runToEnd(root, action, stdinPaths, env) {
  const r = await runBuilt(weakArgs(root, action), { stdin: stdinPaths.map((p) => root + p + "\n").join(""), env });
  if (r.code !== 0) throw new Error(`weak-modules ${action.join(" ")} on ${root} exited ${r.code} (${r.signal ?? "no signal"}): ${r.err}`);
  return r;
}

/** The start state of a mode's command (see MODE_SETUPS), made in `dir` from the base root. */
export async function buildModeTemplate(dir, mode, env) {
  const setup = MODE_SETUPS[mode];
  mkdirSync(dir, { recursive: true });
  buildBaseRoot(dir);
  if (setup.linked) for (const k of [K53, K54, K612]) await runToEnd(dir, ["--add-kernel", k], [], env);
  for (const p of setup.add) installNew(dir, p);
  for (const p of setup.remove) unlinkSync(dir + p);
  return { dir, mode, action: setup.action, stdin: setup.stdin };
}

/** A kernel whose package is being removed: its directory and links are there, its symvers already gone. */
export const K_GONE = "6.1.0-50-amd64";

/**
 * The start state of the concurrency rounds: the linked root, with the new modules of g9/ and h2/
 * installed but not linked, extra/g1/ and two of updates/h/ deleted (their links still there),
 * and a kernel without symvers (K_GONE, as when its package is being removed) holding managed
 * links to modules that are still installed.
 */
export async function buildConcurrencyTemplate(dir, env) {
  mkdirSync(dir, { recursive: true });
  buildBaseRoot(dir);
  for (const k of [K53, K54, K612]) await runToEnd(dir, ["--add-kernel", k], [], env);
  for (const p of [...NEW_GROUP, ...NEW_TWINS]) installNew(dir, p);
  for (const p of GONE) unlinkSync(dir + p);
  const weak = join(dir, "lib/modules", K_GONE, "weak-updates");
  mkdirSync(join(weak, "kabi"), { recursive: true });
  mkdirSync(join(weak, "g0"), { recursive: true });
  symlinkSync(`/lib/modules/${K54}/extra/kabi/kabi_consumer.ko`, join(weak, "kabi/kabi_consumer.ko"));
  symlinkSync(`/lib/modules/${K54}/extra/kabi/kabi_provider.ko`, join(weak, "kabi/kabi_provider.ko"));
  symlinkSync(`/lib/modules/${K54}/extra/g0/nv0_0.ko`, join(weak, "g0/nv0_0.ko"));
  symlinkSync(`/lib/modules/${K53}/updates/h/tw_3.ko`, join(weak, "tw_3.ko"));
  return dir;
}

/**
 * A random mix of `count` commands for one concurrency round. Every command's effect is a
 * function of the module files alone, which no command changes, so the commands commute and the
 * serial result of the same commands is the same in every order (the rounds check two orders):
 * --add-kernel 6.1.0-53 / 6.1.0-54 / 6.12.117 and --add-modules of overlapping random subsets of
 * the new modules each set the links of their scope to what the files call for; --remove-modules
 * of random subsets of the deleted modules drops links that any add of the same kernel drops too;
 * --remove-kernel only on K_GONE, a kernel without symvers, which no add considers (and a
 * --remove-kernel of a kernel that an add links into would not commute with it).
 */
export function concurrencyMix(random, count = 10) {
  const subset = (xs) => {
    const picked = xs.filter(() => random() < 0.5);
    return picked.length > 0 ? picked : [xs[Math.floor(random() * xs.length)]];
  };
  const makers = [
    () => ({ action: ["--add-kernel", K53], stdin: [] }),
    () => ({ action: ["--add-kernel", K54], stdin: [] }),
    () => ({ action: ["--add-kernel", K612], stdin: [] }),
    () => ({ action: ["--add-modules"], stdin: subset([...NEW_GROUP, ...NEW_TWINS]) }),
    () => ({ action: ["--add-modules"], stdin: subset([...NEW_GROUP, ...NEW_TWINS]) }),
    () => ({ action: ["--remove-modules"], stdin: subset(GONE) }),
    () => ({ action: ["--remove-kernel", K_GONE], stdin: [] }),
  ];
  return Array.from({ length: count }, () => makers[Math.floor(random() * makers.length)]());
}

/**
 * Starts the built CLI; resolves with its exit code or signal, wall time, and output.
 * `killAfterMs`: SIGKILL it after that long. `strace`: run it under strace, which SIGKILLs it on
 * entry to the `when`-th call of `syscall` (a kill at an exact system-call point, without any
 * hook in kabi). `countInto`: run it under `strace -c` and write the per-syscall counts there.
 */
export function runBuilt(args, { stdin = "", env = {}, killAfterMs, strace, countInto, timeoutMs = 120_000 } = {}) {
  let cmd = process.execPath;
  let argv = [BIN, ...args];
  if (strace !== undefined) {
    argv = ["-f", "-qq", "-o", "/dev/null", "-e", `trace=${strace.syscall}`, "-e", `inject=${strace.syscall}:signal=KILL:when=${strace.when}`, cmd, ...argv];
    cmd = "strace";
  } else if (countInto !== undefined) {
    argv = ["-f", "-qq", "-c", "-o", countInto, "-e", `trace=${KILL_SYSCALLS.join(",")}`, cmd, ...argv];
    cmd = "strace";
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
    const timers = [];
    if (killAfterMs !== undefined) timers.push(setTimeout(() => child.kill("SIGKILL"), killAfterMs));
    timers.push(
      setTimeout(() => {
        child.kill("SIGKILL");
        err += `\n(killed by the harness after ${timeoutMs} ms: a hang)`;
      }, timeoutMs),
    );
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const t of timers) clearTimeout(t);
      // Under strace, a tracee killed by the injected SIGKILL makes strace end by SIGKILL too.
      resolve({ code, signal, ms: performance.now() - started, out, err });
    });
  });
}

/**
 * The system calls a kill may land on: every one that changes the root or the caches (the lock
 * and cache files are opened with openat and written with write/pwrite64), so that each kind of
 * step (lock taken, cache written, temporary link, rename, unlink, mkdir, rmdir) is a kill point.
 */
export const KILL_SYSCALLS = ["openat", "write", "pwrite64", "mkdir", "mkdirat", "symlink", "symlinkat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir"];

/** Whether strace can inject here (installed, and ptrace allowed). */
export function straceWorks() {
  const r = spawnSync("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=none", "true"], { stdio: "ignore" });
  return r.status === 0;
}

/** The per-syscall call counts an `strace -c -o FILE` run wrote. */
export function readSyscallCounts(file) {
  const counts = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const cols = line.trim().split(/\s+/);
    const name = cols[cols.length - 1];
    if (!KILL_SYSCALLS.includes(name)) continue;
    const calls = Number(cols[3]);
    if (Number.isInteger(calls) && calls > 0) counts[name] = calls;
  }
  return counts;
}

/**
 * The state of a root that the properties compare: every symlink under every kernel's
 * weak-updates ("K sub/path -> target", sorted), and every leftover that a finished run must not
 * leave: temporary links (.kabi-tmp-* anywhere under lib/modules), dangling links in
 * weak-updates (target missing in the root), empty subdirectories of weak-updates, the lock and
 * its breaker file.
 */
export function snapshot(root) {
  const links = [];
  const leftovers = [];
  const modules = join(root, "lib/modules");
  for (const name of [".kabi-weak-modules.lock", ".kabi-weak-modules.lock.break"]) if (existsSync(join(modules, name)) || isLink(join(modules, name))) leftovers.push(`lib/modules/${name}`);
  const walk = (dir, rel, kernel, inWeak) => {
    const names = readdirSync(dir).sort();
    if (inWeak && rel !== `${kernel}/weak-updates` && names.length === 0) leftovers.push(`empty directory lib/modules/${rel}`);
    for (const n of names) {
      const p = join(dir, n);
      const r = `${rel}/${n}`;
      if (n.startsWith(".kabi-tmp-")) leftovers.push(`temporary lib/modules/${r}`);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, r, kernel ?? n, inWeak || (kernel !== undefined && r === `${kernel}/weak-updates`));
      else if (st.isSymbolicLink() && inWeak) {
        const target = readlinkSync(p);
        if (!n.startsWith(".kabi-tmp-")) links.push(`${kernel} ${r.slice(kernel.length + "/weak-updates/".length)} -> ${target}`);
        if (!existsSync(join(root, target))) leftovers.push(`dangling lib/modules/${r} -> ${target}`);
      }
    }
  };
  const kernels = existsSync(modules) ? readdirSync(modules).filter((k) => lstatSync(join(modules, k)).isDirectory()) : [];
  for (const k of kernels.sort()) walk(join(modules, k), k, k, false);
  return { links: links.sort(), leftovers };
}

function isLink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Leftover temporary files of the caches (replaceFile's `*.tmp`): a kill between write and rename leaves one. */
export function cacheTemps(cacheDir) {
  const out = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".tmp")) out.push(join(d, e.name));
    }
  };
  walk(cacheDir);
  return out;
}

export function copyRoot(from, to) {
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * What an undisturbed run of a mode's command gives: the final snapshot, the exit code, its wall
 * time, and (when strace works) how many times it makes each of KILL_SYSCALLS (from a run under
 * `strace -c`, on its own copy).
 */
export async function reference(template, workDir, withCounts) {
  const env = { KABI_CACHE_DIR: join(workDir, "cache") };
  const root = join(workDir, "root");
  copyRoot(template.dir, root);
  const r = await runToEnd(root, template.action, template.stdin, env);
  const snap = snapshot(root);
  removeDir(workDir);
  let counts = null;
  if (withCounts) {
    copyRoot(template.dir, root);
    const file = join(workDir, "strace-counts");
    const c = await runBuilt(weakArgs(root, template.action), { stdin: template.stdin.map((p) => root + p + "\n").join(""), env, countInto: file });
    if (c.code !== 0) throw new Error(`weak-modules under strace -c exited ${c.code}: ${c.err}`);
    counts = readSyscallCounts(file);
    removeDir(workDir);
  }
  return { snap, ms: r.ms, counts };
}

/**
 * One kill -9 trial: a copy of the mode's start state, the command SIGKILLed at a random point
 * (`kind` "syscall": on entry to a random call of a random one of the syscalls the undisturbed
 * run makes; "delay": after a random delay spread over the undisturbed run's wall time), then the
 * same command re-run to completion (with the same cache folder, which the kill may have left
 * torn). Converged: the re-run exits 0, the link set equals the undisturbed run's, no leftover.
 * `lockWaitMs`: when the kill left the lock behind, how much longer the re-run took than the
 * undisturbed run (the time to break the dead process's lock).
 */
export async function killTrial(template, ref, workDir, random, kind) {
  const env = { KABI_CACHE_DIR: join(workDir, "cache") };
  const root = join(workDir, "root");
  copyRoot(template.dir, root);
  const stdin = template.stdin.map((p) => root + p + "\n").join("");
  const args = weakArgs(root, template.action);
  let point;
  let first;
  if (kind === "syscall") {
    const names = Object.keys(ref.counts);
    const syscall = names[Math.floor(random() * names.length)];
    const when = 1 + Math.floor(random() * ref.counts[syscall]);
    point = `${syscall}#${when}`;
    first = await runBuilt(args, { stdin, env, strace: { syscall, when } });
  } else {
    const delay = Math.floor(random() * ref.ms);
    point = `${delay}ms`;
    first = await runBuilt(args, { stdin, env, killAfterMs: delay });
  }
  const killed = first.signal === "SIGKILL" || first.code === 137;
  const lockLeft = existsSync(join(root, LOCK));
  const second = await runBuilt(args, { stdin, env });
  const snap = snapshot(root);
  const temps = cacheTemps(join(workDir, "cache"));
  const converged = second.code === 0 && sameList(snap.links, ref.snap.links) && snap.leftovers.length === 0;
  const result = {
    point,
    killed,
    converged,
    rerunCode: second.code,
    rerunErr: second.err,
    missing: ref.snap.links.filter((l) => !snap.links.includes(l)),
    extra: snap.links.filter((l) => !ref.snap.links.includes(l)),
    leftovers: snap.leftovers,
    cacheTemps: temps.length,
    lockLeft,
    lockWaitMs: lockLeft ? Math.max(0, second.ms - ref.ms) : 0,
  };
  removeDir(workDir);
  return result;
}

/**
 * One concurrency round: `mix` started at once on a copy of the template, against the same
 * commands run one after the other in two orders (given, then reversed) on other copies. The
 * two serial results must agree (the mix commutes, so the expected state is well defined) and
 * the concurrent one must equal them, every run exiting 0, no temporary link, empty directory or
 * lock left.
 */
export async function concurrencyRound(templateDir, workDir, mix) {
  const env = { KABI_CACHE_DIR: join(workDir, "cache") };
  const serial = [];
  for (const order of [mix, [...mix].reverse()]) {
    const root = join(workDir, `serial-${serial.length}`);
    copyRoot(templateDir, root);
    for (const c of order) await runToEnd(root, c.action, c.stdin, env);
    serial.push(snapshot(root));
  }
  const root = join(workDir, "concurrent");
  copyRoot(templateDir, root);
  const runs = await Promise.all(mix.map((c) => runBuilt(weakArgs(root, c.action), { stdin: c.stdin.map((p) => root + p + "\n").join(""), env })));
  const snap = snapshot(root);
  const result = {
    commands: mix.map((c) => [...c.action, ...c.stdin.map((p) => p.split("/").pop())].join(" ")),
    serialAgree: sameList(serial[0].links, serial[1].links),
    codes: runs.map((r) => r.code),
    errs: runs.map((r) => r.err).filter((e) => e !== ""),
    equal: sameList(snap.links, serial[0].links),
    missing: serial[0].links.filter((l) => !snap.links.includes(l)),
    extra: snap.links.filter((l) => !serial[0].links.includes(l)),
    // A link to a deleted module that no command of the mix is about (not given to a
    // --remove-modules, its kernel not given to an --add-kernel) stays, in the serial state as in
    // the concurrent one: it is compared with the links, not counted as a leftover.
    leftovers: [...serial[0].leftovers, ...snap.leftovers].filter((l) => !l.startsWith("dangling ")),
    maxMs: Math.max(...runs.map((r) => r.ms)),
  };
  result.ok = result.serialAgree && result.equal && result.codes.every((c) => c === 0) && result.leftovers.length === 0;
  removeDir(workDir);
  return result;
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
