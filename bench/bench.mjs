#!/usr/bin/env node
// kabi benchmark suite: each case measured side by side with its reference in the same run
// (runs interleaved, median of N), printing wall-time ratios and peak RSS. Driven by bench/run.
//
// Usage: node bench/bench.mjs [--ci] [--repeat N] [--cases 1,2,...] [--json FILE] [--update-results]
//   --ci   reduced: ~300 modules per tree (from the corpus cache when present, else synthesized
//          from the committed fixtures), one repetition; checks that every case runs.
//   --update-results  writes the run into bench/results.md (see bench/results.mjs): its table,
//          inputs and commands as the latest run, and its ratios as a new row of the history. A
//          full run of every case only; nothing is written when a case failed.
//   --against DIR  also runs every kabi and weak-modules command with another checkout's build
//          (DIR/dist), interleaved with this build's in the same measurement, and prints a table
//          of this build against that one (before/after a change, same run, same machine state).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
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
if (UPDATE_RESULTS && (CI || ONLY)) throw new Error("--update-results needs a full run of every case (no --ci, no --cases)");
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
      writeResults(RESULTS, { date: new Date().toISOString().slice(0, 10), repeat: REPEAT, build: buildId(), inputs: inputsLine, ...printed, rows, startup });
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
  lines.push("| case | kabi s | kabi RSS MB | reference s | ref RSS MB | ratio | target | |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.name} | | | | | | | skipped |`);
      continue;
    }
    const verdict = r.target === undefined ? "" : r.ok ? "ok" : "MISSED";
    lines.push(`| ${r.name} | ${f(r.kabi.wall)} | ${f(r.kabi.rss, 0)} | ${f(r.ref.wall)} | ${f(r.ref.rss, 0)} | ${f(r.ratio, 3)} | ${r.target === undefined ? "" : "≤ " + r.target} | ${verdict} |`);
  }
  const rss612 = rows.find((r) => r.name.startsWith("2."));
  lines.push("");
  if (rss612) lines.push(`- peak RSS, case 2 (kabi): ${f(rss612.kabi.rss, 0)} MB (target < 256 MB)${rss612.kabi.rss < 256 ? "" : " MISSED"}`);
  const add = rows.find((r) => r.absolute);
  if (add) lines.push(`- weak-modules --add-modules wall: ${f(add.absolute.value)} s (target < ${add.absolute.limit} s)${add.absolute.value < add.absolute.limit ? "" : " MISSED"}`);
  lines.push(`- machine speed (a shared VM drifts): \`node -e 0\` took ${f(startup.before, 3)} s before the first case and ${f(startup.after, 3)} s after the last (median)`);
  const table = lines.slice(tableStart);
  lines.push("\ncommands ($W = the bench's temporary folder, $CORPUS = the corpus cache; kabi runs with KABI_CACHE_DIR=$W/cache unless said):");
  // The same, as Markdown for bench/results.md.
  const commands = ["Commands (`$W` is the bench's temporary folder, `$CORPUS` the corpus cache; kabi runs with `KABI_CACHE_DIR=$W/cache` unless said):", ""];
  for (const r of rows) {
    if (r.skipped) continue;
    lines.push(`- ${r.name}`);
    lines.push(`    kabi:      ${r.kabi.cmdText}`);
    lines.push(`    reference: ${r.ref.cmdText}`);
    if (r.note) lines.push(`    (${r.note})`);
    commands.push(`- ${r.name}`);
    commands.push(`  - kabi: \`${r.kabi.cmdText}\``);
    commands.push(`  - reference: \`${r.ref.cmdText}\``);
    if (r.note) commands.push(`  - (${r.note})`);
  }
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
  return { table, commands };
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
