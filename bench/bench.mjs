#!/usr/bin/env node
// kabi benchmark suite: each case measured side by side with its reference in the same run
// (runs interleaved, median of N), printing wall-time ratios and peak RSS. Driven by bench/run.
//
// Usage: node bench/bench.mjs [--ci] [--repeat N] [--cases 1,2,...,dkms-transaction,package-audit] [--json FILE] [--update-results]
//   --ci   reduced: ~300 modules per tree (from the corpus cache when present, else synthesized
//          from the committed fixtures), one repetition; checks that every case runs.
//   --update-results  writes the run into bench/results.md (see bench/results.mjs): its table,
//          inputs and commands as the latest run, and its ratios as a new row of the history. A
//          full run of every case only, or `--cases dkms-transaction` or `--cases package-audit`
//          alone (or both), which writes only those cases' own blocks; nothing is written when a
//          case failed.
//   --against DIR  also runs every kabi and weak-modules command with another checkout's build
//          (DIR/dist), interleaved with this build's in the same measurement, and prints a table
//          of this build against that one (before/after a change, same run, same machine state).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { writeResults } from "./results.mjs";
import { listModules, pickExternals, place, plainSymvers, weakRootKernels, spreadPick } from "./tree-inputs.mjs";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const KABI = join(REPO, "dist/src/cli/kabi.js");
const WEAK = join(REPO, "dist/src/cli/weak-modules.js");
const TIME = "/usr/bin/time";

const argv = process.argv.slice(2);
const CI = argv.includes("--ci");
const repeatArg = argv.indexOf("--repeat");
const REPEAT = repeatArg >= 0 ? Number(argv[repeatArg + 1]) : CI ? 1 : 3;
const jsonArg = argv.indexOf("--json");
const JSON_OUT = jsonArg >= 0 ? argv[jsonArg + 1] : undefined;
const casesArg = argv.indexOf("--cases");
const ONLY = casesArg >= 0 ? new Set(argv[casesArg + 1].split(",")) : undefined;
const UPDATE_RESULTS = argv.includes("--update-results");
// The DKMS transaction has its own block in results.md, so that it alone can be re-run and recorded.
/** The cases with their own block in results.md (not history columns): each may run and be written alone. */
const BLOCK_CASES = ["dkms-transaction", "package-audit"];
const BLOCKS_ONLY = ONLY !== undefined && [...ONLY].every((c) => BLOCK_CASES.includes(c));
if (UPDATE_RESULTS && (CI || (ONLY && !BLOCKS_ONLY))) throw new Error("--update-results needs a full run of every case, or --cases dkms-transaction and/or package-audit alone (no --ci)");
const RESULTS = join(REPO, "bench/results.md");
const CI_MODULES = 300;
const againstArg = argv.indexOf("--against");
const AGAINST = againstArg >= 0 ? join(argv[againstArg + 1], "dist/src/cli") : undefined;
/** With --against: every kabi command measured against the other build's, in measure() order. */
const againstRows = [];

const CORPUS = process.env.KABI_CORPUS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "kabi-corpus");
const WORK = mkdtempSync(join(tmpdir(), "kabi-bench-"));
const CACHE = join(WORK, "cache");
const BASE_ENV = { ...process.env, KABI_CACHE_DIR: CACHE };
delete BASE_ENV.KABI_NO_NATIVE;

const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const q = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
// Commands as printed: the bench's temporary folder as $W, the corpus cache as $CORPUS, paths in
// the repository relative to it (bench/run runs from there).
const shown = (cmd) => cmd.map((a) => q(a.replaceAll(WORK, "$W").replaceAll(CORPUS, "$CORPUS").replaceAll(REPO, ""))).join(" ");

// ---------------------------------------------------------------------------- measuring

/** Runs `cmd` under /usr/bin/time: wall seconds (own clock), peak RSS in MB, exit code. */
function run(cmd, { env = BASE_ENV, stdin, ok = [0, 1] } = {}) {
  return new Promise((resolve, reject) => {
    const timeFile = join(WORK, "time.out");
    const t0 = process.hrtime.bigint();
    const p = spawn(TIME, ["-f", "%M", "-o", timeFile, ...cmd], { env, stdio: [stdin === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
    if (stdin !== undefined) p.stdin.end(stdin);
    p.on("error", reject);
    p.on("exit", (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const rssKb = Number(readFileSync(timeFile, "utf8").trim().split("\n").pop());
      if (!ok.includes(code)) return reject(new Error(`${shown(cmd)} exited ${code}\n${err}`));
      resolve({ wall, rss: rssKb / 1024, code });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/**
 * Measures several commands REPEAT times, interleaved (a, b, a, b, ...), so that background
 * load hits both alike; `before` runs untimed before each measurement.
 */
async function measure(entries) {
  const own = entries.length;
  if (AGAINST !== undefined) {
    // The other build's twin of each kabi command, run right after it in every round.
    const other = (a) => (a === KABI ? join(AGAINST, "kabi.js") : a === WEAK ? join(AGAINST, "weak-modules.js") : a);
    for (let i = 0; i < own; i++) {
      const e = entries[i];
      if (e.cmd.some((a) => a === KABI || a === WEAK)) entries = [...entries, { ...e, cmd: e.cmd.map(other), twinOf: i }];
    }
  }
  const samples = entries.map(() => ({ wall: [], rss: [] }));
  // With --against, a command and its twin trade places every other round: whichever runs first
  // after the reference tool was measurably slower (the same build against itself gave 1.06-1.10).
  const swapped = entries.map((_, i) => i);
  entries.forEach((e, j) => {
    if (e.twinOf !== undefined) [swapped[e.twinOf], swapped[j]] = [j, e.twinOf];
  });
  for (let r = 0; r < REPEAT; r++) {
    for (let k = 0; k < entries.length; k++) {
      const i = r % 2 === 1 ? swapped[k] : k;
      const e = entries[i];
      if (e.before) await e.before();
      const res = await run(e.cmd, e);
      samples[i].wall.push(res.wall);
      samples[i].rss.push(res.rss);
    }
  }
  const results = samples.map((s, i) => ({ ...entries[i], wall: median(s.wall), rss: Math.max(...s.rss), cmdText: entries[i].shownCmd ?? shown(entries[i].cmd) }));
  for (const t of results.slice(own)) againstRows.push({ cmdText: results[t.twinOf].cmdText, now: results[t.twinOf], other: t });
  return results.slice(0, own);
}

// ---------------------------------------------------------------------------- inputs





/**
 * A tree case: a root whose lib/modules/<K> is the module tree (a symlink to the corpus tree
 * for the full bench; for --ci a tree of symlinks to ~300 spread modules).
 */
function makeTree(id, release, modulesDir, files) {
  const root = join(WORK, `root-${id}`);
  const kdir = join(root, "lib/modules", release);
  mkdirSync(dirname(kdir), { recursive: true });
  if (files === undefined) symlinkSync(modulesDir, kdir);
  else
    files.forEach((f, i) => {
      const rel = relative(modulesDir, f);
      const to = join(kdir, rel.startsWith("..") ? `kernel/copy${Math.floor(i / 100)}/${i}-${basename(f)}` : rel);
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(f, to);
    });
  return { root, kdir, release };
}

function corpusInputs() {
  const manifest = JSON.parse(readFileSync(join(CORPUS, "manifest.json"), "utf8"));
  const caseOf = (id) => manifest.cases.find((c) => c.id === id);
  const c61 = caseOf("amd64-6.1");
  const c612 = caseOf("amd64-6.12");
  const symversDir = join(CORPUS, "symvers");
  const all = existsSync(symversDir)
    ? readdirSync(symversDir)
        .filter((k) => existsSync(join(symversDir, k, "Module.symvers")))
        .map((k) => ({ release: k, file: join(symversDir, k, "Module.symvers") }))
    : [];
  const amd64 = all.filter((s) => s.release.endsWith("amd64"));
  const tree = (c) => {
    if (!c) return undefined;
    const files = listModules(c.modulesDir);
    return { release: c.release, modulesDir: c.modulesDir, symvers: c.symvers, files: CI ? spreadPick(files, CI_MODULES) : undefined, count: CI ? Math.min(CI_MODULES, files.length) : files.length };
  };
  return { source: `corpus ${CORPUS}`, t61: tree(c61), t612: tree(c612), symvers: amd64.length >= 2 ? amd64 : all };
}

/** --ci without a corpus: the committed real sample, repeated up to ~300 modules per tree. */
function fixtureInputs() {
  const sample = join(REPO, "fixtures/real-sample");
  const symFixtures = readdirSync(join(REPO, "fixtures/symvers"))
    .filter((f) => f.endsWith(".symvers.gz"))
    .map((f) => ({ release: f.slice(0, -".symvers.gz".length), file: join(REPO, "fixtures/symvers", f) }));
  const tree = (id) => {
    const dir = join(sample, id);
    if (!existsSync(dir)) return undefined;
    const release = readFileSync(join(dir, "RELEASE"), "utf8").trim();
    const sym = symFixtures.find((s) => s.release === release);
    if (!sym) return undefined;
    const mods = listModules(dir);
    const files = Array.from({ length: Math.min(CI_MODULES, mods.length * 20) }, (_, i) => mods[i % mods.length]);
    return { release, modulesDir: join(WORK, "no-such-dir"), symvers: plainSymvers(sym.file, release, WORK), files, count: files.length };
  };
  return { source: "committed fixtures (fixtures/real-sample, fixtures/symvers)", t61: tree("amd64-6.1"), t612: tree("amd64-6.12"), symvers: symFixtures };
}

// ---------------------------------------------------------------------------- cases

const rows = [];
/** The inputs, the xz backend and the cores, for the results file ($CORPUS for the corpus cache). */
let inputsLine = "";
/** `node -e 0` wall seconds (median) before the first case and after the last. */
const startup = { before: NaN, after: NaN };
function row(name, kabi, ref, target, note = "") {
  const ratio = kabi.wall / ref.wall;
  rows.push({ name, kabi, ref, ratio, target, ok: target === undefined ? undefined : ratio <= target, note });
}

const auditCmd = (symvers, tree, extra = []) => ["node", KABI, "audit", ...extra, ...symvers.flatMap((s) => ["--symvers", `${s.release}=${s.file}`]), tree.kdir];
const depmodCmd = (symversFile, tree) => ["depmod", "-n", "-e", "-E", symversFile, "-b", tree.root, tree.release];

async function treeCase(label, t, tree, target) {
  const one = [{ release: t.release, file: t.symvers }];
  const [k, d] = await measure([{ cmd: auditCmd(one, tree, ["--no-cache"]) }, { cmd: depmodCmd(t.symvers, tree), ok: [0, 1] }]);
  row(`${label}: kabi audit vs depmod -n -e -E (${t.count} modules)`, k, d, target);
}

async function multiKernelCase(label, t, tree, symvers) {
  const twelve = [{ release: t.release, file: t.symvers }, ...symvers.filter((s) => s.release !== t.release)].slice(0, 12);
  const one = twelve.slice(0, 1);
  // --json: the machine-readable report (every CRC mismatch of every pair: ~920,000 on 12 kernels, 113 MB).
  const [k12, k1] = await measure([{ cmd: auditCmd(twelve, tree, ["--no-cache", "--json"]) }, { cmd: auditCmd(one, tree, ["--no-cache", "--json"]) }]);
  row(`${label}: ${twelve.length} kernels' symvers vs 1 (kabi alone)`, k12, k1, 1.3);
}

async function cacheCase(label, t, tree) {
  const one = [{ release: t.release, file: t.symvers }];
  const cmd = auditCmd(one, tree);
  const cacheDir = join(WORK, "cache-case");
  const env = { ...BASE_ENV, KABI_CACHE_DIR: cacheDir };
  const [cold, warm] = await measure([
    { cmd, env, before: () => rmSync(cacheDir, { recursive: true, force: true }) },
    { cmd, env },
  ]);
  row(`${label}: kabi audit, second run with the cache warm vs cold`, warm, cold, 0.1);
}

async function fallbackCase(label, t, tree) {
  const one = [{ release: t.release, file: t.symvers }];
  const cmd = auditCmd(one, tree, ["--no-cache"]);
  const [fb, nat] = await measure([{ cmd, env: { ...BASE_ENV, KABI_NO_NATIVE: "1" }, shownCmd: "KABI_NO_NATIVE=1 " + shown(cmd) }, { cmd }]);
  row(`${label}: native-free fallback vs native (KABI_NO_NATIVE=1)`, fb, nat, undefined);
}

/**
 * weak-modules: six kernels installed (each with the real tree's other modules as its in-tree
 * modules, symvers under usr/src/linux-headers-K/), 200 external modules of one kernel in its
 * extra/. kabi's --add-modules and --add-kernel K against the same work done by per-kernel
 * `depmod -naeE` runs (a root per kernel: its tree plus weak-updates/ links to the candidates),
 * which is what the shell implementations run (one run per kernel: a lower bound for Red Hat's
 * script, which re-runs depmod after dropping incompatible modules). Final `depmod -a` and
 * initramfs steps are left out on both sides (--depmod /bin/true --no-initramfs).
 */
async function weakCase(inputs) {
  if (!existsSync(WEAK)) {
    rows.push({ name: "weak-modules: not built (dist/src/cli/weak-modules.js missing)", skipped: true });
    return;
  }
  const buildK = inputs.t61.release;
  const kernels = weakRootKernels(inputs.symvers, buildK, inputs.t61.symvers);
  const root = join(WORK, "root-weak");
  // Each installed kernel gets the rest of the real tree (symlinks) as its in-tree modules, so
  // that the per-kernel depmod runs see a real kernel's worth of modules, as on a real system.
  const { picked, inTree } = pickExternals(inputs.t61.files ?? listModules(inputs.t61.modulesDir), 200);
  const installTree = (dir) =>
    inTree.forEach((f, i) => {
      const rel = relative(inputs.t61.modulesDir, f);
      const to = join(dir, rel.startsWith("..") ? `kernel/copy${Math.floor(i / 100)}/${i}-${basename(f)}` : rel);
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(f, to);
    });
  for (const k of kernels) {
    installTree(join(root, "lib/modules", k.release));
    place(plainSymvers(k.file, k.release, WORK), join(root, "usr/src", `linux-headers-${k.release}`, "Module.symvers"));
  }
  const externals = [...picked].map((f) => {
    const to = join(root, "lib/modules", buildK, "extra", basename(f));
    place(f, to);
    return to;
  });
  const others = kernels.filter((k) => k.release !== buildK);
  const addK = others[others.length - 1];
  const resetWeak = () => {
    for (const k of kernels) rmSync(join(root, "lib/modules", k.release, "weak-updates"), { recursive: true, force: true });
  };
  const stdin = externals.join("\n") + "\n";
  const weakCmd = (...a) => ["node", WEAK, "--basedir", root, "--no-initramfs", "--depmod", "/bin/true", ...a];

  // The reference: one root per target kernel with the candidates linked in weak-updates/.
  const refRoots = new Map();
  for (const k of others) {
    const r = join(WORK, `root-weak-ref-${k.release}`);
    installTree(join(r, "lib/modules", k.release));
    for (const f of externals) {
      const to = join(r, "lib/modules", k.release, "weak-updates", basename(f));
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(f, to);
    }
    refRoots.set(k.release, { root: r, symvers: plainSymvers(k.file, k.release, WORK) });
  }
  const depmodFor = (k) => ["depmod", "-n", "-a", "-e", "-E", refRoots.get(k.release).symvers, "-b", refRoots.get(k.release).root, k.release];
  const script = (ks) => ["bash", "-c", ks.map((k) => depmodFor(k).map(q).join(" ") + " >/dev/null").join("; ")];

  const [add, refAdd, addKernel, refAddKernel] = await measure([
    { cmd: weakCmd("--add-modules"), stdin, before: resetWeak, shownCmd: `printf '%s\\n' <${externals.length} paths> | ${shown(weakCmd("--add-modules"))}` },
    { cmd: script(others), shownCmd: `for K in ${others.map((k) => k.release).join(" ")}; do depmod -n -a -e -E <symvers-K> -b <root-K> $K; done` },
    { cmd: weakCmd("--add-kernel", addK.release), before: () => rmSync(join(root, "lib/modules", addK.release, "weak-updates"), { recursive: true, force: true }) },
    { cmd: script([addK]), shownCmd: shown(depmodFor(addK)) },
  ]);
  const linked = others.map((k) => (existsSync(join(root, "lib/modules", k.release, "weak-updates")) ? listModules(join(root, "lib/modules", k.release, "weak-updates")).length : 0));
  const note = `${externals.length} modules of ${buildK}; kernels ${kernels.map((k) => k.release).join(", ")}; links made per kernel: ${linked.join("/")}`;
  row(`weak-modules --add-modules (${externals.length} modules, ${kernels.length} kernels) vs per-kernel depmod -naeE`, add, refAdd, 0.01, note);
  row(`weak-modules --add-kernel ${addK.release} vs depmod -naeE for it`, addKernel, refAddKernel, 0.01);
  rows[rows.length - 2].absolute = { limit: 1, value: add.wall };
}

/** The external modules of the DKMS transaction: one package's worth of the fixture modules (fixtures/modules/README.md). */
const DKMS_MODULES = ["kabi_provider", "kabi_consumer", "kabi_gpl_twin", "kabi_proprietary", "kabi_no_import_ns"];

/**
 * A module tree for the DKMS root, as hard links to `files` (kernel/<path in the tree>, or
 * kernel/copyN/ for files from elsewhere). Hard links, not symlinks: through a symlinked
 * lib/modules/K, dkms's updates/dkms/ and `depmod -a`'s index files would land in the corpus
 * cache, and kabi, which resolves the absolute symlink inside the root, would not see the kernel
 * at all; a symlinked kernel/ is not listed by kabi (it follows no symlinked directory) while
 * depmod reads through it, so the two sides would not see the same tree.
 */
function hardLinkTree(kdir, modulesDir, files) {
  files.forEach((f, i) => {
    const rel = relative(modulesDir, f);
    place(f, join(kdir, rel.startsWith("..") ? `kernel/copy${Math.floor(i / 100)}/${i}-${basename(f)}` : rel));
  });
  // The files depmod reads besides the modules (Debian's linux-image packages ship them).
  for (const name of ["modules.order", "modules.builtin", "modules.builtin.modinfo"]) if (existsSync(join(modulesDir, name))) place(join(modulesDir, name), join(kdir, name));
}

/** Every link under the root's weak-updates/ folders, as "link -> target" lines, sorted. */
function weakLinks(root) {
  const out = [];
  const modules = join(root, "lib/modules");
  for (const k of readdirSync(modules)) {
    const walk = (d) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isSymbolicLink()) out.push(`${relative(root, p)} -> ${readlinkSync(p)}`);
      }
    };
    walk(join(modules, k, "weak-updates"));
  }
  return out.sort();
}

/**
 * What one `dkms install` of a package of 5 modules costs. The root holds 6 installed kernels:
 * two with a full module tree (the corpus's 6.1 .ko and 6.12 .ko.xz trees; ~300 modules each
 * with --ci), four with their symvers and 20 modules; the 5 fixture modules are installed in
 * updates/dkms/ of the 6.1 tree's kernel, as dkms does. kabi: `weak-modules --no-initramfs
 * --add-modules` with the 5 paths on standard input (what dkms pipes to it), with its own depmod
 * runs (`depmod -a -b ROOT -- K` for each kernel whose links changed; the depmod on PATH), the
 * cache warm from a first untimed run. The reference: `depmod -a -b ROOT K` for the 6 kernels,
 * what Red Hat's weak-modules (and dkms) runs at least once per kernel. Each kabi run starts from
 * the state before the transaction (every weak-updates/ removed, untimed), so every repetition
 * makes the same links and runs the same depmod; the reference then runs on the root as the
 * transaction leaves it. A last untimed run checks that it did the same work as the first.
 */
async function dkmsCase(inputs) {
  if (!existsSync(WEAK)) {
    rows.push({ name: "dkms-transaction: not built (dist/src/cli/weak-modules.js missing)", skipped: true, block: "dkms" });
    return;
  }
  const full = [inputs.t61, inputs.t612].filter((t) => t !== undefined);
  const buildK = inputs.t61.release;
  const fixtureDir = join(REPO, "fixtures/modules", buildK);
  if (!existsSync(fixtureDir)) throw new Error(`no fixture modules for ${buildK} (fixtures/modules/${buildK})`);
  // The four kernels with only symvers and a few modules: the corpus's plain 6.1 amd64 kernels
  // first (some share the build kernel's module_layout, some do not), then whatever symvers there are.
  const plain = (r) => /^6\.1\.0-\d+-amd64$/.test(r);
  const others = inputs.symvers
    .filter((s) => !full.some((t) => t.release === s.release))
    .sort((a, b) => Number(plain(b.release)) - Number(plain(a.release)) || (a.release < b.release ? -1 : 1))
    .slice(0, 6 - full.length);
  const root = join(WORK, "root-dkms");
  const kdirOf = (k) => join(root, "lib/modules", k);
  const placeSymvers = (release, file) =>
    place(file, file.endsWith(".gz") ? join(root, "boot", `symvers-${release}.gz`) : join(root, "usr/src", `linux-headers-${release}`, "Module.symvers"));
  for (const t of full) {
    hardLinkTree(kdirOf(t.release), t.modulesDir, t.files ?? listModules(t.modulesDir));
    placeSymvers(t.release, t.symvers);
  }
  const few = spreadPick(inputs.t61.files ?? listModules(inputs.t61.modulesDir), 20);
  for (const k of others) {
    hardLinkTree(kdirOf(k.release), inputs.t61.modulesDir, few);
    placeSymvers(k.release, k.file);
  }
  const kernels = [...full.map((t) => t.release), ...others.map((k) => k.release)];
  const externals = DKMS_MODULES.map((m) => {
    const to = join(kdirOf(buildK), "updates/dkms", `${m}.ko`);
    place(join(fixtureDir, `${m}.ko`), to);
    return to;
  });
  const stdin = externals.join("\n") + "\n";
  const weakCmd = ["node", WEAK, "--basedir", root, "--no-initramfs", "--add-modules"];
  const resetWeak = () => {
    for (const k of kernels) rmSync(join(kdirOf(k), "weak-updates"), { recursive: true, force: true });
  };
  // The transaction's work, as --json reports it: the links made and the depmod runs.
  const transaction = () => {
    resetWeak();
    const report = JSON.parse(execFileSync("node", [...weakCmd.slice(1, -1), "--json", "--add-modules"], { env: BASE_ENV, input: stdin, encoding: "utf8" }));
    if (report.errors.length > 0 || report.post.some((p) => !p.ok)) throw new Error(`weak-modules --add-modules failed: ${JSON.stringify([...report.errors, ...report.post.filter((p) => !p.ok)])}`);
    return { links: weakLinks(root), post: report.post.map((p) => p.command.join(" ")) };
  };
  const first = transaction(); // warms the cache
  // Runs all six as one timed command, one after the other, as a per-kernel loop does.
  const refCmd = ["bash", "-c", kernels.map((k) => ["depmod", "-a", "-b", root, k].map(q).join(" ")).join(" && ")];
  const [add, ref] = await measure([
    { cmd: weakCmd, stdin, before: resetWeak, ok: [0], shownCmd: `printf '%s\\n' <the ${externals.length} paths in updates/dkms/> | ${shown(weakCmd)}` },
    { cmd: refCmd, ok: [0], shownCmd: `for K in ${kernels.join(" ")}; do depmod -a -b ${q(root.replaceAll(WORK, "$W"))} $K; done` },
  ]);
  // A repeat measured the same work: the measured runs left the first run's links, and a run
  // from the same start makes them again with the same depmod runs.
  const measuredLinks = weakLinks(root);
  const last = transaction();
  for (const [what, a, b] of [
    ["links after the measured runs", first.links, measuredLinks],
    ["links of a repeat", first.links, last.links],
    ["depmod runs of a repeat", first.post, last.post],
  ])
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`dkms-transaction did not converge: ${what} differ from the first run's\n${a.join("\n")}\n---\n${b.join("\n")}`);
  const perKernel = kernels.map((k) => `${k}: ${first.links.filter((l) => l.startsWith(`lib/modules/${k}/`)).length}`);
  const depmods = first.post.map((c) => c.replaceAll(WORK, "$W").replace(/^\S*\/depmod /, "depmod "));
  const note =
    `${externals.length} modules (${DKMS_MODULES.join(", ")}) in ${buildK}'s updates/dkms/; kernels ${kernels.join(", ")} ` +
    `(${full.map((t) => `${t.release}: ${t.count} modules`).join(", ")}; the others ${few.length}); links made per kernel: ${perKernel.join(", ")}; ` +
    `kabi's depmod runs (included in its time): ${depmods.length === 0 ? "none" : depmods.join("; ")}; both sides' trees are hard links to the input files; ` +
    `peak RSS is the largest process of each side (node, or a depmod it runs)`;
  row(`dkms-transaction: weak-modules --add-modules (${externals.length} modules, ${kernels.length} kernels, ${full.length} with full trees) vs depmod -a for each kernel`, add, ref, undefined, note);
  rows[rows.length - 1].block = "dkms";
}

/** The most a package audit may take (peak RSS of the kabi process): issue 16. */
const PACKAGE_RSS_LIMIT_MB = 300;

/**
 * A kernel package audited as it was downloaded: Debian's linux-image-6.12.113+deb12-amd64 (~4,200
 * .ko.xz in a 107 MB deb), kept in $CORPUS/debs by fixtures/packages/fetch-packages.sh, judged
 * against the next kernel's symvers (the committed fixtures/symvers of 6.12.117): not its own
 * release, whose modules are the package's residents and not judged on it. The reference does the
 * same audit the way one would without package input: `dpkg-deb -x` into a folder (removed before
 * each run, untimed), then kabi audit of the tree. With --ci (every case runs, quickly): the
 * kernel-core RPM build-rpms.sh makes (~170 .ko.xz of 6.1.0-53), judged on 6.1.0-54, its
 * reference `rpm2cpio | cpio -idm`. Peak RSS is the largest process of each side; kabi's must
 * stay under PACKAGE_RSS_LIMIT_MB, else the case fails.
 */
async function packageCase() {
  const [dir, prefix, suffix, judgedOn] = CI
    ? [join(CORPUS, "rpms/6.1.0-53-amd64"), "kernel-core-", ".rpm", "6.1.0-54-amd64"]
    : [join(CORPUS, "debs"), "linux-image-6.12.113+deb12-amd64_", "_amd64.deb", "6.12.117+deb12-amd64"];
  const found = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith(suffix)) : undefined;
  if (found === undefined) {
    rows.push({ name: `package-audit: no ${prefix}*${suffix} in ${dir.replaceAll(CORPUS, "$CORPUS")} (fixtures/packages/fetch-packages.sh)`, skipped: true, block: "package" });
    return;
  }
  const pkg = join(dir, found);
  const symvers = `${judgedOn}=${join(REPO, "fixtures/symvers", `${judgedOn}.symvers.gz`)}`;
  const out = join(WORK, "package-unpacked");
  const kabiCmd = ["node", KABI, "audit", "--no-cache", "--symvers", symvers, pkg];
  const treeCmd = ["node", KABI, "audit", "--no-cache", "--symvers", symvers, out];
  const [unpack, unpackShown] = CI
    ? [`mkdir -p ${q(out)} && cd ${q(out)} && rpm2cpio ${q(pkg)} | cpio -idm --quiet && cd /`, `mkdir -p ${shown([out])} && cd ${shown([out])} && rpm2cpio ${shown([pkg])} | cpio -idm --quiet && cd /`]
    : [`dpkg-deb -x ${q(pkg)} ${q(out)}`, `dpkg-deb -x ${shown([pkg, out])}`];
  const refCmd = ["sh", "-c", `${unpack} && ${treeCmd.map(q).join(" ")}`];
  const [k, ref] = await measure([
    { cmd: kabiCmd },
    { cmd: refCmd, before: () => rmSync(out, { recursive: true, force: true }), shownCmd: `${unpackShown} && ${shown(treeCmd)}` },
  ]);
  const modules = listModules(out).length;
  rmSync(out, { recursive: true, force: true });
  const note = `the package's modules judged on ${judgedOn}; peak RSS is the largest process of each side (node, or the unpacking tools); kabi's limit ${PACKAGE_RSS_LIMIT_MB} MB`;
  row(`package-audit: kabi audit of ${found} vs ${CI ? "rpm2cpio, cpio -idm" : "dpkg-deb -x"} + kabi audit of the tree (${modules} modules)`, k, ref, undefined, note);
  rows[rows.length - 1].block = "package";
  if (k.rss >= PACKAGE_RSS_LIMIT_MB) throw new Error(`package-audit: peak RSS ${k.rss.toFixed(0)} MB\nkabi's peak RSS ${k.rss.toFixed(0)} MB is over the ${PACKAGE_RSS_LIMIT_MB} MB limit`);
}

// ---------------------------------------------------------------------------- main

async function main() {
  for (const tool of [TIME, "depmod"]) {
    try {
      execFileSync("bash", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      throw new Error(`missing ${tool} (bench/run installs it)`);
    }
  }
  if (!existsSync(KABI)) throw new Error("dist/ missing: run npm run build");
  const haveCorpus = existsSync(join(CORPUS, "manifest.json"));
  if (!haveCorpus && !CI) throw new Error(`no corpus at ${CORPUS} (bench/run fetches it with bench/corpus.sh)`);
  const inputs = haveCorpus ? corpusInputs() : fixtureInputs();
  // The native xz module throws on import when node-liblzma's addon cannot load; the codec table then uses the native-free decoder.
  const { xzBackend } = await import(join(REPO, "dist/src/decompress/xz.js")).catch(() => ({ xzBackend: "xz-decompress (native-free; node-liblzma did not load)" }));
  inputsLine = `${inputs.source.replaceAll(CORPUS, "$CORPUS")}; xz backend: ${xzBackend}; cores: ${availableParallelism()}`;
  log(`mode ${CI ? "ci (reduced)" : "full"}, ${REPEAT} run(s) per command, inputs: ${inputs.source}; xz backend: ${xzBackend}; cores: ${availableParallelism()}`);
  // How fast this machine is right now (a shared VM's speed drifts): Node's own start-up.
  startup.before = (await measure([{ cmd: ["node", "-e", "0"] }]))[0].wall;
  const t61 = inputs.t61 && makeTree("61", inputs.t61.release, inputs.t61.modulesDir, inputs.t61.files);
  const t612 = inputs.t612 && makeTree("612", inputs.t612.release, inputs.t612.modulesDir, inputs.t612.files);

  const steps = [
    ["case 1", () => t61 && treeCase("1. .ko tree", inputs.t61, t61, 0.5)],
    ["case 2", () => t612 && treeCase("2. .ko.xz tree", inputs.t612, t612, 0.6)],
    ["case 3", () => t61 && multiKernelCase("3a. .ko tree", inputs.t61, t61, inputs.symvers)],
    ["case 3", () => t612 && multiKernelCase("3b. .ko.xz tree", inputs.t612, t612, inputs.symvers)],
    ["case 4", () => t61 && weakCase(inputs)],
    ["case 5", () => t612 && cacheCase("5. .ko.xz tree", inputs.t612, t612)],
    ["case 6", () => t612 && fallbackCase("6. .ko.xz tree", inputs.t612, t612)],
    ["dkms-transaction", () => inputs.t61 && dkmsCase(inputs)],
    ["package-audit", () => packageCase()],
  ];
  let failures = 0;
  for (const [name, step] of steps) {
    if (ONLY && !ONLY.has(name.replace("case ", ""))) continue;
    log(`${name} ...`);
    try {
      await step();
    } catch (err) {
      failures++;
      const lines = String(err.message ?? err).split("\n");
      const why = lines.find((l) => /kabi|error|Error/.test(l) && l !== lines[0]) ?? lines[1] ?? "";
      rows.push({ name: `${name}: FAILED (${lines[0].replace(/^.* exited/, "exited")}): ${why.slice(0, 300)}`.replaceAll("|", "/"), skipped: true });
    }
  }
  startup.after = (await measure([{ cmd: ["node", "-e", "0"] }]))[0].wall;
  const printed = print(inputs);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(rows, null, 2));
  if (UPDATE_RESULTS) {
    if (failures > 0) log(`bench/results.md not updated: ${failures} case(s) failed`);
    else {
      const command = `bench/run ${argv.join(" ")}`;
      writeResults(RESULTS, { date: new Date().toISOString().slice(0, 10), repeat: REPEAT, build: buildId(), inputs: inputsLine, command, ...printed, rows: rows.filter((r) => r.block === undefined), startup });
      log("bench/results.md updated");
    }
  }
  return failures;
}

function print(inputs) {
  const f = (x, d = 2) => x.toFixed(d);
  const lines = [];
  const head = `kabi bench (${CI ? "ci, reduced" : "full"}; ${REPEAT} run(s) each, median wall; peak RSS = max of /usr/bin/time %M; inputs: ${inputs.source})`;
  lines.push(head);
  lines.push("");
  const tableStart = lines.length;
  const tableHead = ["| case | kabi s | kabi RSS MB | reference s | ref RSS MB | ratio | target | |", "|---|---:|---:|---:|---:|---:|---:|---|"];
  const rowLine = (r) => {
    if (r.skipped) return `| ${r.name} | | | | | | | skipped |`;
    const verdict = r.target === undefined ? "" : r.ok ? "ok" : "MISSED";
    return `| ${r.name} | ${f(r.kabi.wall)} | ${f(r.kabi.rss, 0)} | ${f(r.ref.wall)} | ${f(r.ref.rss, 0)} | ${f(r.ratio, 3)} | ${r.target === undefined ? "" : "≤ " + r.target} | ${verdict} |`;
  };
  lines.push(...tableHead, ...rows.map(rowLine));
  const rss612 = rows.find((r) => r.name.startsWith("2."));
  lines.push("");
  if (rss612) lines.push(`- peak RSS, case 2 (kabi): ${f(rss612.kabi.rss, 0)} MB (target < 256 MB)${rss612.kabi.rss < 256 ? "" : " MISSED"}`);
  const add = rows.find((r) => r.absolute);
  if (add) lines.push(`- weak-modules --add-modules wall: ${f(add.absolute.value)} s (target < ${add.absolute.limit} s)${add.absolute.value < add.absolute.limit ? "" : " MISSED"}`);
  const speed = `- machine speed (a shared VM drifts): \`node -e 0\` took ${f(startup.before, 3)} s before the first case and ${f(startup.after, 3)} s after the last (median)`;
  lines.push(speed);
  // results.md: the suite's table, and the DKMS transaction's rows in their own block.
  const suite = rows.filter((r) => r.block === undefined);
  const dkmsRows = rows.filter((r) => r.block === "dkms");
  const packageRows = rows.filter((r) => r.block === "package");
  const table = [...tableHead, ...suite.map(rowLine), ...lines.slice(tableStart + tableHead.length + rows.length)];
  lines.push("\ncommands ($W = the bench's temporary folder, $CORPUS = the corpus cache; kabi runs with KABI_CACHE_DIR=$W/cache unless said):");
  // The same, as Markdown for bench/results.md.
  const commandsHead = ["Commands (`$W` is the bench's temporary folder, `$CORPUS` the corpus cache; kabi runs with `KABI_CACHE_DIR=$W/cache` unless said):", ""];
  const commandLines = (r) => (r.skipped ? [] : [`- ${r.name}`, `  - kabi: \`${r.kabi.cmdText}\``, `  - reference: \`${r.ref.cmdText}\``, ...(r.note ? [`  - (${r.note})`] : [])]);
  for (const r of rows) {
    if (r.skipped) continue;
    lines.push(`- ${r.name}`);
    lines.push(`    kabi:      ${r.kabi.cmdText}`);
    lines.push(`    reference: ${r.ref.cmdText}`);
    if (r.note) lines.push(`    (${r.note})`);
  }
  const commands = [...commandsHead, ...suite.flatMap(commandLines)];
  const dkms = dkmsRows.length === 0 ? undefined : { table: [...tableHead, ...dkmsRows.map(rowLine), "", speed], commands: [...commandsHead, ...dkmsRows.flatMap(commandLines)] };
  const measuredPackage = packageRows.find((r) => !r.skipped);
  const packageRss =
    measuredPackage === undefined ? [] : [`- peak RSS, package-audit (kabi): ${f(measuredPackage.kabi.rss, 0)} MB (target < ${PACKAGE_RSS_LIMIT_MB} MB)${measuredPackage.kabi.rss < PACKAGE_RSS_LIMIT_MB ? "" : " MISSED"}`];
  if (packageRss.length > 0) lines.splice(lines.indexOf(speed), 0, ...packageRss);
  const pkg = measuredPackage === undefined ? undefined : { table: [...tableHead, ...packageRows.map(rowLine), "", ...packageRss, speed], commands: [...commandsHead, ...packageRows.flatMap(commandLines)] };
  if (AGAINST !== undefined && againstRows.length > 0) {
    lines.push(`\nthis build against ${AGAINST} (same runs, interleaved; ratio = this / that):`);
    lines.push("| command | this s | that s | ratio | this RSS MB | that RSS MB |");
    lines.push("|---|---:|---:|---:|---:|---:|");
    for (const a of againstRows) {
      const c = a.cmdText.length > 110 ? a.cmdText.slice(0, 107) + "..." : a.cmdText;
      lines.push(`| \`${c.replaceAll("|", "/")}\` | ${f(a.now.wall)} | ${f(a.other.wall)} | ${f(a.now.wall / a.other.wall, 3)} | ${f(a.now.rss, 0)} | ${f(a.other.rss, 0)} |`);
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
  // A run of the block cases alone writes only their blocks.
  return BLOCKS_ONLY ? { dkms, package: pkg } : { table, commands, dkms, package: pkg };
}

/** The commit measured: HEAD's short hash, with "-dirty" when the code it builds from has uncommitted changes. */
function buildId() {
  const git = (...a) => execFileSync("git", ["-C", REPO, ...a], { encoding: "utf8" }).trim();
  try {
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", "src", "native-free-fallback", "types", "package.json", "package-lock.json", "tsconfig.json") !== "";
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

try {
  const failures = await main();
  process.exitCode = failures ? 1 : 0;
} catch (err) {
  log(String(err.stack ?? err));
  process.exitCode = 1;
} finally {
  if (!process.env.KABI_BENCH_KEEP) rmSync(WORK, { recursive: true, force: true });
}
