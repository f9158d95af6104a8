#!/usr/bin/env node
// Same-output check: runs two kabi builds on the same inputs and proves that every output
// (stdout bytes, stderr bytes, exit code) is identical. Meant for restructurings that must not
// change behaviour: the base is the reference build, the new one the restructured build.
//
// Usage: node bench/same-output.mjs --base DIR --new DIR [--quick] [options]
//   DIR           a kabi checkout that has been built (npm run build): DIR/dist/src/cli/kabi.js and
//                 DIR/dist/src/cli/weak-modules.js are run with `node`. Nothing is built here.
//   --quick       the committed fixtures only (no corpus): a few minutes at most.
//   --corpus DIR  the corpus of bench/corpus.sh (default: $KABI_CORPUS_DIR, else
//                 ${XDG_CACHE_HOME:-~/.cache}/kabi-corpus); full mode needs amd64-6.1 in it.
//   --fixtures DIR  the fixtures both builds read (default: <base>/fixtures).
//   --jobs N      commands run at once (default 2: the base and the new build side by side).
//   --chunk N     module files per `kabi dump` call on the corpus trees (default 400).
//   --only RE     only the outputs whose name matches the regular expression RE (weak-modules
//                 roots are built only when some of their outputs are selected).
//   --keep        keep the temporary folder ($W, printed) with every captured output.
//
// Exit status: 0 when every output is IDENTICAL, 1 when some output is DIFFERENT, 2 when the check
// itself failed (bad arguments, a missing build, a command that timed out).
//
// What runs (each command once per build, same arguments, same working folder $W, same
// environment except KABI_CACHE_DIR=$W/cache-<base|new>; `--no-cache` wherever the command has it:
// audit, status, weak-modules; `kabi dump` has no cache):
//   - usage texts and usage errors of both executables;
//   - `kabi dump --json|--modversions|--exports|--modinfo` on fixtures/modules, fixtures/real-sample
//     (also --json with KABI_NO_NATIVE=1) and fixtures/malformed (one call for all files; for
//     --json and --modversions also one call per file: errors on stderr, exit codes);
//   - `kabi dump --json` and `--modversions` (and `--exports` on the uncompressed .ko trees) on
//     every module of every corpus tree (amd64-6.1, -gz, -zst, amd64-6.12, s390x-6.1, i386-6.1),
//     --chunk files per call: the row's sha256 is that of all the calls' outputs concatenated in
//     order, its exit column the calls' distinct exit codes;
//   - `kabi audit --no-cache` (text and --json): the fixture kernels of `npm run demo` with and
//     without --strict-modversions, every fixture module, the real samples against their kernels'
//     symvers, the malformed files, a cold and a warm run with a cache; the corpus trees amd64-6.1
//     and amd64-6.12 against their own Module.symvers and against 12 kernels' symvers (picked as
//     bench/bench.mjs case 3 picks them: the tree's own, then the other amd64 ones in name order),
//     6.1 with --strict-modversions, the other trees against their own symvers (--json);
//   - weak-modules on a root built as bench/bench.mjs case 4 builds its root-weak (six kernels
//     with symvers in usr/src/linux-headers-K/, the rest of the amd64-6.1 tree as in-tree modules,
//     200 external modules in extra/ of 6.1.0-53-amd64; for --quick, a root made of the fixture
//     modules and symvers). Two states of the root:
//       A. fresh: `kabi status --no-cache` (--json and text), `weak-modules --dry-run --no-cache
//          --no-initramfs --depmod /bin/true` with --add-modules (paths on stdin), --add-kernel K,
//          --remove-kernel K (--json and text), `kabi weak-modules` (the kabi entry point),
//          `kabi audit --basedir ROOT --kernel K...` on the externals;
//       then a real `weak-modules --add-modules` of half the externals, run by each build on its
//          own fresh copy of the root at the same path: stdout/stderr/exit compared, and the two
//          resulting trees compared (listing of paths, types, sizes, link targets);
//       B. the root as the base build left it, plus a foreign regular file in one weak-updates/:
//          status, --add-modules (all externals), --remove-modules (a quarter), --add-kernel K,
//          --remove-kernel K, all --dry-run.
//     The dry runs must not change the root: a listing (with mtimes) before and after each state
//     is compared and reported as its own row.
//
// Output: one row per output: name, sha256 of the base build's bytes, sha256 of the new build's,
// bytes, exit code(s), IDENTICAL or DIFFERENT; a stderr row appears when either side wrote to
// stderr (an empty stderr on both sides is compared but not listed). For each DIFFERENT row, the
// command (which call of a chunked group) and the first differing line of each side follow.
//
// Examples:
//   node bench/same-output.mjs --base /work/baseline --new . --quick
//   node bench/same-output.mjs --base /work/baseline --new .          (full: under ~10 minutes)
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { listModules, pickExternals, place, plainSymvers, weakRootKernels } from "./tree-inputs.mjs";

// ---------------------------------------------------------------------------- arguments

const USAGE = "usage: node bench/same-output.mjs --base DIR --new DIR [--quick] [--corpus DIR] [--fixtures DIR] [--jobs N] [--chunk N] [--only RE] [--keep]";
function parseArgs(argv) {
  const o = { quick: false, keep: false, jobs: 2, chunk: 400 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--base") o.base = resolve(value());
    else if (a === "--new") o.new = resolve(value());
    else if (a === "--quick") o.quick = true;
    else if (a === "--keep") o.keep = true;
    else if (a === "--corpus") o.corpus = resolve(value());
    else if (a === "--fixtures") o.fixtures = resolve(value());
    else if (a === "--jobs") o.jobs = Math.max(1, Number(value()) | 0);
    else if (a === "--chunk") o.chunk = Math.max(1, Number(value()) | 0);
    else if (a === "--only") o.only = new RegExp(value());
    else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (!o.base || !o.new) fail("--base and --new are required");
  return o;
}
function fail(message) {
  process.stderr.write(`same-output: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const OPT = parseArgs(process.argv.slice(2));
const SIDES = ["base", "new"].map((name) => {
  const dir = OPT[name];
  const side = { name, dir, kabi: join(dir, "dist/src/cli/kabi.js"), weak: join(dir, "dist/src/cli/weak-modules.js") };
  for (const f of [side.kabi, side.weak]) if (!existsSync(f)) fail(`${f} missing: build ${dir} first (npm run build)`);
  return side;
});
const CORPUS = OPT.corpus ?? process.env.KABI_CORPUS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "kabi-corpus");
const FIX = OPT.fixtures ?? join(OPT.base, "fixtures");
if (!existsSync(join(FIX, "modules"))) fail(`no fixtures at ${FIX}`);
const WORK = mkdtempSync(join(tmpdir(), "kabi-same-output-"));
const OUT = join(WORK, "out");
mkdirSync(OUT);
const TIMEOUT_MS = 600_000;
const T0 = Date.now();

const log = (m) => process.stderr.write(`[same-output ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
const q = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
/** A path as shown in the report: $W (this run's folder), $C (corpus), $F (fixtures). */
const short = (s) => s.replaceAll(WORK, "$W").replaceAll(CORPUS, "$C").replaceAll(FIX, "$F");

// ---------------------------------------------------------------------------- running

/**
 * An output group: one or more calls of the same command family; its rows cover the calls'
 * stdout (and stderr) concatenated in order, and their exit codes.
 *   calls: [{ tool: "kabi" | "weak", args, stdin?, env? }]
 */
const groups = [];
let gid = 0;
function group(name, calls) {
  if (OPT.only && !OPT.only.test(name)) return undefined;
  const g = { id: ++gid, name, calls };
  groups.push(g);
  return g;
}
const kabi = (...args) => ({ tool: "kabi", args });
const weak = (args, stdin) => ({ tool: "weak", args, stdin });

/** The environment of a call: KABI_CACHE_DIR is $W/cache-<build>[-<call.cache>], never shared by the builds. */
function envFor(side, call) {
  const env = { ...process.env, KABI_CACHE_DIR: join(WORK, `cache-${side.name}${call.cache ? `-${call.cache}` : ""}`), ...(call.env ?? {}) };
  if (!call.env || !("KABI_NO_NATIVE" in call.env)) delete env.KABI_NO_NATIVE;
  return env;
}

/** Runs one call with one build: stdout into a file, stderr in memory. */
function runCall(side, call, outFile) {
  return new Promise((resolvePromise, reject) => {
    const script = call.tool === "weak" ? side.weak : side.kabi;
    const p = spawn(process.execPath, [script, ...call.args], { cwd: WORK, env: envFor(side, call), stdio: [call.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out = createWriteStream(outFile);
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, TIMEOUT_MS);
    p.stdout.pipe(out);
    p.stderr.on("data", (d) => err.push(d));
    if (call.stdin !== undefined) {
      p.stdin.on("error", () => {});
      p.stdin.end(call.stdin);
    }
    p.on("error", reject);
    let exit;
    let pending = 2;
    const done = () => {
      if (--pending > 0) return;
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`timed out after ${TIMEOUT_MS / 1000} s: ${side.name}: ${shownCall(call)}`));
      resolvePromise({ code: exit.signal ? `signal ${exit.signal}` : exit.code, outFile, err: Buffer.concat(err) });
    };
    out.on("finish", done);
    p.on("close", (code, signal) => {
      exit = { code, signal };
      done();
    });
  });
}

function shownCall(call) {
  const exe = call.tool === "weak" ? "weak-modules" : "kabi";
  const files = call.args.filter((a) => /\.ko(\.\w+)?$/.test(a));
  let args = call.args;
  if (files.length > 3) {
    const first = call.args.indexOf(files[0]);
    args = [...call.args.slice(0, first), `<${files.length} files: ${short(files[0])} ... ${short(files[files.length - 1])}>`];
  }
  const env = call.env ? Object.entries(call.env).map(([k, v]) => `${k}=${v} `).join("") : "";
  const stdin = call.stdin !== undefined ? `printf '%s\\n' <${call.stdin.split("\n").filter(Boolean).length} paths> | ` : "";
  return `${stdin}${env}${exe} ${args.map((a) => (a.startsWith("<") ? a : q(short(a)))).join(" ")}`;
}

/** Runs every group with both builds, JOBS (group, build) tasks at a time. */
async function runGroups(list) {
  const tasks = [];
  for (const g of list) {
    g.results = {};
    for (const side of SIDES) tasks.push({ g, side });
  }
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const { g, side } = tasks[next++];
      const res = [];
      for (let i = 0; i < g.calls.length; i++) res.push(await runCall(side, g.calls[i], join(OUT, `${g.id}-${side.name}-${i}.out`)));
      g.results[side.name] = res;
      if (g.results.base && g.results.new) {
        compareGroup(g);
        finished++;
        log(`${finished}/${list.length} ${g.rows.every((r) => r.same) ? "IDENTICAL" : "DIFFERENT"}  ${g.name}`);
      }
    }
  };
  await Promise.all(Array.from({ length: OPT.jobs }, worker));
}

// ---------------------------------------------------------------------------- comparing

const rows = [];
const details = [];

/** First differing line of two buffers (1-based line number, each side's line, cut near the difference). */
function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  let line = 1;
  for (let j = a.indexOf(10); j !== -1 && j < i; j = a.indexOf(10, j + 1)) line++;
  const lineOf = (buf) => {
    if (i >= buf.length && (buf.length === 0 || buf[buf.length - 1] === 10)) return "(end of output)";
    const s = i === 0 ? 0 : buf.lastIndexOf(10, i - 1) + 1;
    let e = buf.indexOf(10, s);
    if (e === -1) e = buf.length;
    const text = buf.subarray(s, e).toString("utf8");
    const col = i - s;
    return JSON.stringify(text.length > 240 ? (col > 120 ? "..." : "") + text.slice(Math.max(0, col - 120), col + 120) + (col + 120 < text.length ? "..." : "") : text);
  };
  return { line, base: lineOf(a), new: lineOf(b) };
}

function hashOf(buffers) {
  const h = createHash("sha256");
  let bytes = 0;
  for (const b of buffers) {
    h.update(b);
    bytes += b.length;
  }
  return { sha: h.digest("hex"), bytes };
}

const codesText = (codes) => [...new Set(codes)].join(",");

function compareGroup(g) {
  const rb = g.results.base;
  const rn = g.results.new;
  g.rows = [];
  // stdout: hashed file by file (in order), without keeping more than one call's output at a time.
  const hb = createHash("sha256");
  const hn = createHash("sha256");
  let bytesB = 0;
  let bytesN = 0;
  let firstOut = -1;
  for (let i = 0; i < g.calls.length; i++) {
    const a = readFileSync(rb[i].outFile);
    const b = readFileSync(rn[i].outFile);
    hb.update(a);
    hn.update(b);
    bytesB += a.length;
    bytesN += b.length;
    if (firstOut < 0 && !a.equals(b)) {
      firstOut = i;
      const d = firstDifference(a, b);
      details.push({ name: g.name, what: "stdout", call: callLabel(g, i), ...d });
    }
  }
  const codesB = rb.map((r) => r.code);
  const codesN = rn.map((r) => r.code);
  const firstCode = codesB.findIndex((c, i) => c !== codesN[i]);
  if (firstCode >= 0) details.push({ name: g.name, what: "exit code", call: callLabel(g, firstCode), base: String(codesB[firstCode]), new: String(codesN[firstCode]) });
  const exit = firstCode < 0 ? codesText(codesB) : `${codesText(codesB)} / ${codesText(codesN)}`;
  const out = { name: g.name, shaB: hb.digest("hex"), shaN: hn.digest("hex"), bytesB, bytesN, exit };
  out.same = out.shaB === out.shaN && firstCode < 0;
  g.rows.push(out);
  // stderr
  const eb = hashOf(rb.map((r) => r.err));
  const en = hashOf(rn.map((r) => r.err));
  const firstErr = rb.findIndex((r, i) => !r.err.equals(rn[i].err));
  if (firstErr >= 0) details.push({ name: g.name, what: "stderr", call: callLabel(g, firstErr), ...firstDifference(rb[firstErr].err, rn[firstErr].err) });
  if (eb.bytes > 0 || en.bytes > 0 || firstErr >= 0) g.rows.push({ name: `${g.name} [stderr]`, shaB: eb.sha, shaN: en.sha, bytesB: eb.bytes, bytesN: en.bytes, exit: "", same: firstErr < 0 });
  if (g.after) g.rows.push(...g.after());
  if (!OPT.keep && g.rows.every((r) => r.same)) for (const r of [...rb, ...rn]) rmSync(r.outFile, { force: true });
  rows.push(...g.rows.map((r) => ({ ...r, order: g.id })));
}

function callLabel(g, i) {
  return `${g.calls.length > 1 ? `call ${i + 1} of ${g.calls.length}: ` : ""}${shownCall(g.calls[i])}`;
}

/** A row comparing two texts made here (tree listings). */
function textRow(name, a, b, order) {
  const ha = hashOf([Buffer.from(a)]);
  const hb = hashOf([Buffer.from(b)]);
  const same = ha.sha === hb.sha;
  if (!same) details.push({ name, what: "listing", call: "(tree listing)", ...firstDifference(Buffer.from(a), Buffer.from(b)) });
  return { name, shaB: ha.sha, shaN: hb.sha, bytesB: ha.bytes, bytesN: hb.bytes, exit: "", same, order };
}

// ---------------------------------------------------------------------------- inputs

/** Module files under dir, sorted per folder by name (as bench/bench.mjs lists them). */
const filesIn = (dir) =>
  readdirSync(dir)
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => lstatSync(f).isFile());

const chunks = (xs, n) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));



/** The corpus as bench/bench.mjs corpusInputs() sees it, plus every tree (for the dumps). */
function corpusInputs() {
  const manifestFile = join(CORPUS, "manifest.json");
  let cases;
  if (existsSync(manifestFile)) cases = JSON.parse(readFileSync(manifestFile, "utf8")).cases;
  else {
    // corpus.sh still running: the trees already extracted (.image-done), as the manifest would list them.
    cases = ["amd64-6.1", "amd64-6.1-gz", "amd64-6.1-zst", "amd64-6.12", "s390x-6.1", "i386-6.1"]
      .filter((id) => existsSync(join(CORPUS, id, ".image-done")))
      .map((id) => {
        const release = readFileSync(join(CORPUS, id, "RELEASE"), "utf8").trim();
        return { id, release, modulesDir: join(CORPUS, id, "lib/modules", release), symvers: join(CORPUS, id, "Module.symvers") };
      });
  }
  const symversDir = join(CORPUS, "symvers");
  const all = existsSync(symversDir)
    ? readdirSync(symversDir)
        .sort()
        .filter((k) => existsSync(join(symversDir, k, "Module.symvers")))
        .map((k) => ({ release: k, file: join(symversDir, k, "Module.symvers") }))
    : [];
  const amd64 = all.filter((s) => s.release.endsWith("amd64"));
  return { cases, t61: cases.find((c) => c.id === "amd64-6.1"), t612: cases.find((c) => c.id === "amd64-6.12"), symvers: amd64.length >= 2 ? amd64 : all };
}

/** bench/bench.mjs multiKernelCase: the tree's own kernel, then the others, 12 in all. */
const twelveFor = (t, symvers) => [{ release: t.release, file: t.symvers }, ...symvers.filter((s) => s.release !== t.release)].slice(0, 12);
const symversArgs = (list) => list.flatMap((s) => ["--symvers", `${s.release}=${s.file}`]);

// ---------------------------------------------------------------------------- weak-modules roots

/**
 * The root of bench/bench.mjs weakCase (full mode): six kernels (6.1.0-*-amd64, plain flavour
 * first), each with the amd64-6.1 tree minus 200 picked modules as in-tree symlinks and its
 * symvers in usr/src/linux-headers-K/; the 200 (distinct names) in extra/ of the tree's kernel.
 */
function corpusWeakSpec(inputs) {
  const buildK = inputs.t61.release;
  const kernels = weakRootKernels(inputs.symvers, buildK, inputs.t61.symvers);
  const { picked, inTree } = pickExternals(listModules(inputs.t61.modulesDir), 200);
  const others = kernels.filter((k) => k.release !== buildK);
  return {
    id: "corpus",
    kernels: kernels.map((k) => ({ release: k.release, symvers: k.file, inTreeBase: inputs.t61.modulesDir, inTree })),
    externals: [...picked].map((f) => ({ kernel: buildK, file: f })),
    addKernel: others[others.length - 1].release,
    removeKernel: others[0].release,
    auditKernels: kernels.map((k) => k.release),
  };
}

/**
 * A root from the fixtures: every amd64 fixture kernel (symvers from fixtures/symvers), the real
 * samples as in-tree modules (amd64-6.1 for 6.1 kernels, amd64-6.12 for 6.12 ones), the fixture
 * modules of 6.1.0-53-amd64 (with no-modversions/ and proprietary-taint/) and of
 * 6.12.117+deb12-amd64 in their extra/, and one kernel without symvers.
 */
function fixtureWeakSpec() {
  const sym = readdirSync(join(FIX, "symvers"))
    .filter((f) => f.endsWith("-amd64.symvers.gz"))
    .sort()
    .map((f) => ({ release: f.slice(0, -".symvers.gz".length), symvers: join(FIX, "symvers", f) }));
  const sample = (r) => join(FIX, "real-sample", r.startsWith("6.12.") ? "amd64-6.12" : "amd64-6.1");
  const kernels = sym.map((k) => ({ ...k, inTreeBase: sample(k.release), inTree: listModules(sample(k.release)) }));
  kernels.push({ release: "6.1.0-99-amd64", symvers: null, inTreeBase: sample("6.1"), inTree: listModules(sample("6.1")) });
  const ext = (k, ...dirs) => dirs.flatMap((d) => (existsSync(join(FIX, "modules", d, k)) ? listModules(join(FIX, "modules", d, k)) : [])).map((file) => ({ kernel: k, file }));
  const externals = [...ext("6.1.0-53-amd64", ".", "no-modversions", "proprietary-taint"), ...ext("6.12.117+deb12-amd64", ".", "no-modversions", "proprietary-taint")];
  return { id: "fixtures", kernels, externals, addKernel: "6.1.0-54-amd64", removeKernel: "6.1.0-54-amd64", auditKernels: sym.map((k) => k.release) };
}

function buildWeakRoot(spec, root) {
  rmSync(root, { recursive: true, force: true });
  for (const k of spec.kernels) {
    const dir = join(root, "lib/modules", k.release);
    mkdirSync(dir, { recursive: true });
    k.inTree.forEach((f, i) => {
      const rel = relative(k.inTreeBase, f);
      const to = join(dir, rel.startsWith("..") ? `kernel/copy${Math.floor(i / 100)}/${i}-${basename(f)}` : rel.startsWith("kernel/") ? rel : join("kernel", rel));
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(f, to);
    });
    if (k.symvers) place(plainSymvers(k.symvers, k.release, WORK), join(root, "usr/src", `linux-headers-${k.release}`, "Module.symvers"));
  }
  return spec.externals.map((e) => {
    const to = join(root, "lib/modules", e.kernel, "extra", basename(e.file));
    place(e.file, to);
    return to;
  });
}

/** Every entry under root: path, type, size, link target, and (withTimes) mtimes. */
function listing(root, withTimes) {
  const lines = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const type = st.isSymbolicLink() ? "l" : st.isDirectory() ? "d" : st.isFile() ? "f" : "?";
      lines.push([relative(root, p), type, type === "d" ? "" : st.size, type === "l" ? readlinkSync(p) : "", withTimes ? st.mtimeMs : ""].join("\t"));
      if (type === "d") walk(p);
    }
  };
  walk(root);
  return lines.join("\n") + "\n";
}

/** Runs one (list of) group(s) and checks that root's listing (mtimes included) did not change. */
async function readOnlyPhase(label, root, list) {
  const before = listing(root, true);
  await runGroups(list);
  const after = listing(root, true);
  rows.push(textRow(`${label}: root unchanged by the dry runs (listing with mtimes, before vs after)`, before, after, list.length ? list[list.length - 1].id + 0.5 : ++gid));
}

async function weakPhase(spec) {
  const label = `weak-modules root (${spec.id})`;
  const root = join(WORK, `root-weak-${spec.id}`);
  if (OPT.only && !OPT.only.test(label)) return;
  const externals = buildWeakRoot(spec, root);
  const nKernels = spec.kernels.length;
  log(`${label}: ${nKernels} kernels, ${externals.length} external modules at ${short(root)}`);
  const stdinAll = externals.join("\n") + "\n";
  const W = ["--basedir", root, "--no-cache", "--no-initramfs", "--depmod", "/bin/true"];
  const L = (s) => `${label} ${s}`;
  const queue = [];
  const g = (name, calls) => {
    const made = group(L(name), calls);
    if (made) queue.push(made);
  };

  // A: fresh root.
  g("A: kabi status --json", [kabi("status", "--basedir", root, "--no-cache", "--json")]);
  g("A: kabi status (text)", [kabi("status", "--basedir", root, "--no-cache")]);
  g(`A: weak-modules --dry-run --json --add-modules (${externals.length})`, [weak([...W, "--dry-run", "--json", "--add-modules"], stdinAll)]);
  g(`A: weak-modules --dry-run --add-modules (${externals.length}, text)`, [weak([...W, "--dry-run", "--verbose", "--add-modules"], stdinAll)]);
  g(`A: weak-modules --dry-run --json --add-kernel ${spec.addKernel}`, [weak([...W, "--dry-run", "--json", "--add-kernel", spec.addKernel])]);
  g(`A: weak-modules --dry-run --add-kernel ${spec.addKernel} (text)`, [weak([...W, "--dry-run", "--add-kernel", spec.addKernel])]);
  g(`A: weak-modules --dry-run --json --remove-kernel ${spec.removeKernel}`, [weak([...W, "--dry-run", "--json", "--remove-kernel", spec.removeKernel])]);
  g(`A: kabi weak-modules --dry-run --json --add-modules`, [{ ...kabi("weak-modules", ...W, "--dry-run", "--json", "--add-modules"), stdin: stdinAll }]);
  g(`A: kabi audit --json --basedir ROOT --kernel (${spec.auditKernels.length}) extra/`, [kabi("audit", "--no-cache", "--json", "--basedir", root, ...spec.auditKernels.flatMap((k) => ["--kernel", k]), ...[...new Set(spec.externals.map((e) => e.kernel))].map((k) => join(root, "lib/modules", k, "extra")))]);
  await readOnlyPhase(L("A"), root, queue.splice(0));

  // The real --add-modules of half the externals: each build on its own fresh root (same path).
  const half = externals.slice(0, Math.ceil(externals.length / 2));
  const stdinHalf = half.join("\n") + "\n";
  const populate = { id: ++gid, name: L(`weak-modules --json --add-modules (${half.length}, real run, each build on a fresh root)`), calls: [weak([...W, "--json", "--add-modules"], stdinHalf)], results: {} };
  groups.push(populate);
  const trees = {};
  for (const side of SIDES) {
    if (side.name === "new") buildWeakRoot(spec, root);
    populate.results[side.name] = [await runCall(side, populate.calls[0], join(OUT, `${populate.id}-${side.name}-0.out`))];
    trees[side.name] = listing(root, false);
    if (side.name === "base") renameSync(root, `${root}.base`);
  }
  rmSync(root, { recursive: true, force: true });
  renameSync(`${root}.base`, root);
  populate.after = () => [textRow(L("after the real --add-modules: tree listing (paths, types, sizes, link targets)"), trees.base, trees.new, populate.id)];
  compareGroup(populate);
  log(`${populate.rows.every((r) => r.same) ? "IDENTICAL" : "DIFFERENT"}  ${populate.name}`);

  // B: the root as the base build left it, plus a foreign file in a weak-updates/ folder.
  const foreign = join(root, "lib/modules", spec.removeKernel, "weak-updates", "foreign", basename(externals[0]));
  mkdirSync(dirname(foreign), { recursive: true });
  copyFileSync(externals[0], foreign);
  const quarter = externals.filter((_, i) => i % 4 === 0);
  g("B: kabi status --json", [kabi("status", "--basedir", root, "--no-cache", "--json")]);
  g("B: kabi status (text)", [kabi("status", "--basedir", root, "--no-cache")]);
  g(`B: weak-modules --dry-run --json --add-modules (${externals.length})`, [weak([...W, "--dry-run", "--json", "--add-modules"], stdinAll)]);
  g(`B: weak-modules --dry-run --add-modules (${externals.length}, text)`, [weak([...W, "--dry-run", "--verbose", "--add-modules"], stdinAll)]);
  g(`B: weak-modules --dry-run --json --remove-modules (${quarter.length})`, [weak([...W, "--dry-run", "--json", "--remove-modules"], quarter.join("\n") + "\n")]);
  g(`B: weak-modules --dry-run --json --add-kernel ${spec.addKernel}`, [weak([...W, "--dry-run", "--json", "--add-kernel", spec.addKernel])]);
  g(`B: weak-modules --dry-run --json --remove-kernel ${spec.removeKernel}`, [weak([...W, "--dry-run", "--json", "--remove-kernel", spec.removeKernel])]);
  g(`B: weak-modules --dry-run --remove-kernel ${spec.removeKernel} (text)`, [weak([...W, "--dry-run", "--verbose", "--remove-kernel", spec.removeKernel])]);
  await readOnlyPhase(L("B"), root, queue.splice(0));
}

// ---------------------------------------------------------------------------- the outputs

const DUMP_MODES = ["--json", "--modversions", "--exports", "--modinfo"];

function fixtureGroups() {
  // Usage texts and usage errors.
  group("kabi (no arguments)", [kabi()]);
  group("kabi --help", [kabi("--help")]);
  group("kabi no-such-command", [kabi("no-such-command")]);
  for (const c of ["dump", "audit", "status"]) group(`kabi ${c} --help`, [kabi(c, "--help")]);
  group("kabi dump --bogus", [kabi("dump", "--bogus", "x.ko")]);
  group("kabi dump (no files)", [kabi("dump")]);
  group("kabi audit (no paths)", [kabi("audit", "--no-cache")]);
  group("kabi audit --symvers bad", [kabi("audit", "--no-cache", "--symvers", "nokernel", "x.ko")]);
  group("kabi status --bogus", [kabi("status", "--bogus")]);
  group("weak-modules --help", [weak(["--help"])]);
  group("weak-modules (no action)", [weak(["--dry-run"])]);
  group("weak-modules --add-kernel bad release", [weak(["--basedir", WORK, "--no-cache", "--dry-run", "--add-kernel", "not/a/release"])]);
  group("weak-modules --add-modules --remove-kernel", [weak(["--add-modules", "--remove-kernel", "6.1.0-53-amd64"])]);
  group("weak-modules --dry-run --json --add-modules (no valid path)", [weak(["--basedir", WORK, "--no-cache", "--dry-run", "--json", "--add-modules"], "/no/such/module.ko\n")]);

  const modules = listModules(join(FIX, "modules"));
  const samples = listModules(join(FIX, "real-sample"));
  const malformed = filesIn(join(FIX, "malformed")).filter((f) => /\.ko(\.\w+)?$/.test(f));
  for (const m of DUMP_MODES) {
    group(`kabi dump ${m} fixtures/modules (${modules.length})`, [kabi("dump", m, ...modules)]);
    group(`kabi dump ${m} fixtures/real-sample (${samples.length})`, [kabi("dump", m, ...samples)]);
    group(`kabi dump ${m} fixtures/malformed (${malformed.length}, one call)`, [kabi("dump", m, ...malformed)]);
    // One file per call: a single record (not an array) for --json, and each file's own exit code.
    if (m === "--json" || m === "--modversions") group(`kabi dump ${m} fixtures/malformed (one call per file)`, malformed.map((f) => kabi("dump", m, f)));
    if (m === "--json") group(`kabi dump ${m} fixtures/modules (one call per file)`, modules.map((f) => kabi("dump", m, f)));
  }
  group(`KABI_NO_NATIVE=1 kabi dump --json fixtures/real-sample (${samples.length})`, [{ ...kabi("dump", "--json", ...samples), env: { KABI_NO_NATIVE: "1" } }]);
  group(`KABI_NO_NATIVE=1 kabi dump --json fixtures/malformed (${malformed.length})`, [{ ...kabi("dump", "--json", ...malformed), env: { KABI_NO_NATIVE: "1" } }]);

  // Audits: the demo (package.json "demo").
  const fsym = (k) => `${k}=${join(FIX, "symvers", `${k}.symvers.gz`)}`;
  const demoKernels = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64"];
  const demoSym = demoKernels.flatMap((k) => ["--symvers", fsym(k)]);
  const demoPaths = [join(FIX, "modules/6.1.0-53-amd64"), join(FIX, "modules/6.12.117+deb12-amd64")];
  for (const strict of [[], ["--strict-modversions"]]) {
    for (const json of [["--json"], []]) {
      const tag = [...json, ...strict].join(" ") || "(text)";
      group(`kabi audit ${tag} demo (3 kernels, 2 fixture dirs)`, [kabi("audit", "--no-cache", ...json, ...strict, ...demoSym, ...demoPaths)]);
      group(`kabi audit ${tag} fixtures/modules (all, 3 kernels)`, [kabi("audit", "--no-cache", ...json, ...strict, ...demoSym, join(FIX, "modules"))]);
    }
  }
  for (const json of [["--json"], []]) {
    const tag = json.join(" ") || "(text)";
    const allFix = readdirSync(join(FIX, "symvers")).sort().filter((f) => f.endsWith(".symvers.gz")).map((f) => f.slice(0, -".symvers.gz".length));
    group(`kabi audit ${tag} fixtures/modules/6.1.0-53-amd64 (${allFix.length} fixture kernels)`, [kabi("audit", "--no-cache", ...json, ...allFix.flatMap((k) => ["--symvers", fsym(k)]), join(FIX, "modules/6.1.0-53-amd64"))]);
    for (const arch of readdirSync(join(FIX, "real-sample")).sort().filter((d) => existsSync(join(FIX, "real-sample", d, "RELEASE")))) {
      const k = readFileSync(join(FIX, "real-sample", arch, "RELEASE"), "utf8").trim();
      if (existsSync(join(FIX, "symvers", `${k}.symvers.gz`))) group(`kabi audit ${tag} fixtures/real-sample/${arch} (${k})`, [kabi("audit", "--no-cache", ...json, "--symvers", fsym(k), join(FIX, "real-sample", arch))]);
    }
    group(`kabi audit ${tag} fixtures/malformed`, [kabi("audit", "--no-cache", ...json, "--symvers", fsym("6.1.0-53-amd64"), join(FIX, "malformed"))]);
    group(`kabi audit ${tag} provider symvers as a kernel + a missing path`, [kabi("audit", "--no-cache", ...json, "--symvers", `6.1.0-53-amd64=${join(FIX, "modules/6.1.0-53-amd64/kabi_provider.symvers")}`, join(FIX, "modules/6.1.0-53-amd64"), join(WORK, "no-such-dir"))]);
  }
  // With the record cache: a cold run then a warm one (a cache folder of their own per build).
  group("kabi audit --json demo with the cache: cold, then warm", [0, 1].map(() => ({ ...kabi("audit", "--json", ...demoSym, ...demoPaths), cache: "demo" })));
  group("kabi audit --json real-sample/amd64-6.12 with the cache: cold, then warm", [0, 1].map(() => ({ ...kabi("audit", "--json", "--symvers", fsym("6.12.113+deb12-amd64"), join(FIX, "real-sample/amd64-6.12")), cache: "612" })));
}

function corpusGroups(inputs) {
  for (const c of inputs.cases) {
    const files = listModules(c.modulesDir);
    const parts = chunks(files, OPT.chunk);
    // --modinfo is left to the fixtures, --exports to the uncompressed trees (time: the .ko.xz tree
    // costs ~45 s per mode and build on a loaded 2-core machine).
    const modes = /\.ko$/.test(files[0] ?? ".ko") ? ["--json", "--modversions", "--exports"] : ["--json", "--modversions"];
    for (const m of modes) group(`kabi dump ${m} corpus ${c.id} (${files.length} modules, ${parts.length} calls)`, parts.map((p) => kabi("dump", m, ...p)));
  }
  for (const t of [inputs.t61, inputs.t612]) {
    if (!t) continue;
    const own = [{ release: t.release, file: t.symvers }];
    const twelve = twelveFor(t, inputs.symvers);
    for (const json of [["--json"], []]) {
      const tag = json.join(" ") || "(text)";
      group(`kabi audit ${tag} corpus ${t.id} vs its Module.symvers`, [kabi("audit", "--no-cache", ...json, ...symversArgs(own), t.modulesDir)]);
      group(`kabi audit ${tag} corpus ${t.id} vs ${twelve.length} kernels`, [kabi("audit", "--no-cache", ...json, ...symversArgs(twelve), t.modulesDir)]);
    }
    if (t === inputs.t61) group(`kabi audit --json --strict-modversions corpus ${t.id} vs its Module.symvers`, [kabi("audit", "--no-cache", "--json", "--strict-modversions", ...symversArgs(own), t.modulesDir)]);
  }
  for (const c of inputs.cases) {
    if (c === inputs.t61 || c === inputs.t612) continue;
    group(`kabi audit --json corpus ${c.id} vs its Module.symvers`, [kabi("audit", "--no-cache", "--json", "--symvers", `${c.release}=${c.symvers}`, c.modulesDir)]);
  }
}

// ---------------------------------------------------------------------------- main

function printReport(seconds) {
  rows.sort((a, b) => a.order - b.order);
  const lines = [];
  lines.push(`kabi same-output check (${OPT.quick ? "quick: fixtures only" : "full: fixtures + corpus"}): base ${OPT.base}, new ${OPT.new}`);
  lines.push(`inputs: $F = ${FIX}${OPT.quick ? "" : `, $C = ${CORPUS}`}, $W = ${WORK}${OPT.keep ? " (kept)" : " (removed)"}`);
  lines.push("");
  lines.push("| # | output | sha256 (base) | sha256 (new) | bytes | exit | |");
  lines.push("|---:|---|---|---|---:|---|---|");
  rows.forEach((r, i) => {
    const bytes = r.bytesB === r.bytesN ? String(r.bytesB) : `${r.bytesB} / ${r.bytesN}`;
    lines.push(`| ${i + 1} | ${r.name} | ${r.shaB} | ${r.shaN} | ${bytes} | ${r.exit} | ${r.same ? "IDENTICAL" : "DIFFERENT"} |`);
  });
  const different = rows.filter((r) => !r.same).length;
  lines.push("");
  lines.push(`${rows.length} outputs (${groups.length} commands, ${groups.reduce((n, g) => n + g.calls.length, 0)} calls per build): ${different === 0 ? "all IDENTICAL" : `${different} DIFFERENT`}; ${seconds.toFixed(0)} s`);
  if (details.length > 0) {
    lines.push("");
    lines.push("differences (first differing line of each side):");
    for (const d of details) {
      lines.push(`- ${d.name}: ${d.what}`);
      lines.push(`    ${d.call}`);
      if (d.line !== undefined) lines.push(`    line ${d.line}`);
      lines.push(`    base: ${d.base}`);
      lines.push(`    new:  ${d.new}`);
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
  return different;
}

async function main() {
  log(`base ${OPT.base}, new ${OPT.new}, $W = ${WORK}`);
  fixtureGroups();
  let inputs;
  if (!OPT.quick) {
    if (!existsSync(join(CORPUS, "amd64-6.1", ".image-done"))) throw new Error(`no corpus at ${CORPUS} (bench/corpus.sh fetches it; or use --quick)`);
    inputs = corpusInputs();
    log(`corpus: ${inputs.cases.map((c) => c.id).join(", ")}; ${inputs.symvers.length} kernels' symvers`);
    corpusGroups(inputs);
  }
  log(`${groups.length} commands, then the weak-modules roots`);
  await runGroups(groups.slice());
  await weakPhase(fixtureWeakSpec());
  if (inputs) await weakPhase(corpusWeakSpec(inputs));
  return printReport((Date.now() - T0) / 1000);
}

let status;
try {
  status = (await main()) > 0 ? 1 : 0;
} catch (err) {
  log(String(err.stack ?? err));
  status = 2;
}
if (!OPT.keep) rmSync(WORK, { recursive: true, force: true });
process.exit(status);
