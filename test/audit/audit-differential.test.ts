/**
 * The audit's verdicts on real Debian modules against real kernels' symvers, checked against an
 * independent computation from kmod's own output: `modprobe --dump-modversions` of each module
 * joined with the kernel's Module.symvers, and `modprobe --show-exports` of the other modules in
 * the set for what they provide (a module's exports count only when that module is itself
 * compatible, decided by plain memoized recursion).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { AuditPair, AuditReport } from "./whole-report.js";
import { main } from "../../src/cli/main.js";
import { captureIO } from "../helpers/capture-io.js";
import { corpusCases, corpusDir, caseModules, fullCorpus, spread } from "../helpers/corpus.js";
import { haveModprobe, kmodListings } from "../helpers/kmod.js";
import { runsWith } from "../helpers/required.js";
import { committedModules, REAL_SAMPLE, ROOT } from "../helpers/paths.js";

interface KernelCase {
  release: string;
  symversFile: string;
}

function parseListing(text: string): { crc: number; symbol: string }[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("0x"))
    .map((l) => {
      const tab = l.indexOf("\t");
      return { crc: Number.parseInt(l.slice(2, tab), 16), symbol: l.slice(tab + 1) };
    });
}

/** symbol → { crc, module } from a Module.symvers (any of its layouts' first two columns, module third or fourth). */
function readSymversText(file: string): Map<string, { crc: number; module: string }> {
  const raw = readFileSync(file);
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString("utf8");
  const out = new Map<string, { crc: number; module: string }>();
  for (const line of text.split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 4 && !out.has(cols[1]!)) out.set(cols[1]!, { crc: Number.parseInt(cols[0]!, 16), module: cols[2]! });
  }
  return out;
}

/** kmod's module name for a path or a symvers module column: the base name up to the first '.', '-' as '_'. */
const modName = (p: string) => basename(p).split(".")[0]!.replace(/-/g, "_");

/**
 * Per module: compatible or not, and the needed symbols left unsatisfied. A need is met by the
 * kernel's symvers with the same CRC, or by another module of the set exporting it with that CRC
 * that is itself compatible — when the kernel has no other provider of that symbol (a module can
 * stand in for the kernel's own module of the same name, not for vmlinux or another module).
 */
async function independentVerdicts(files: string[], kernel: KernelCase): Promise<{ compatible: boolean; unsatisfied: string[] }[]> {
  const kmod = await kmodListings(files);
  const symvers = readSymversText(kernel.symversFile);
  const needs = kmod.map((k) => parseListing(k.modversions));
  const exporters = new Map<string, { module: number; crc: number }[]>();
  kmod.forEach((k, m) => {
    for (const e of parseListing(k.exports)) {
      const own = symvers.get(e.symbol);
      if (own !== undefined && modName(own.module) !== modName(files[m]!)) continue;
      let list = exporters.get(e.symbol);
      if (!list) exporters.set(e.symbol, (list = []));
      list.push({ module: m, crc: e.crc });
    }
  });
  const memo = new Map<number, boolean>();
  const met = (m: number, symbol: string, crc: number, visiting: Set<number>): boolean => {
    const own = symvers.get(symbol);
    if (own !== undefined && own.crc === crc) return true;
    return (exporters.get(symbol) ?? []).some((e) => e.module !== m && e.crc === crc && compatible(e.module, visiting));
  };
  const compatible = (m: number, visiting: Set<number>): boolean => {
    const known = memo.get(m);
    if (known !== undefined) return known;
    if (visiting.has(m)) return true; // a group that needs each other goes in together
    visiting.add(m);
    const ok = needs[m]!.every(({ symbol, crc }) => met(m, symbol, crc, visiting));
    visiting.delete(m);
    memo.set(m, ok);
    return ok;
  };
  return files.map((_, m) => ({
    compatible: compatible(m, new Set()),
    unsatisfied: needs[m]!.filter(({ symbol, crc }) => !met(m, symbol, crc, new Set())).map((n) => n.symbol),
  }));
}

type PairField = Exclude<keyof AuditPair, "compatible">;

/**
 * The symbols each field of an audit pair blocks (null: not a reason). Typed over every AuditPair
 * field, so a new one does not compile (tsconfig.test.json) until it is listed: the kmod join
 * below only knows presence and CRCs, so any other kind of reason must show up as a disagreement.
 */
const PAIR_REASON_SYMBOLS: { readonly [F in PairField]: ((value: AuditPair[F]) => string[]) | null } = {
  missing: (x) => x,
  mismatched: (x) => x.map((m) => m.symbol),
  noSymbolVersion: (x) => x.map((n) => n.symbol),
  blockedBy: (x) => x.flatMap((b) => b.symbols),
  missingImportNs: (x) => x.map((n) => n.symbol),
  gplOnly: (x) => x.map((g) => g.symbol),
  proprietaryTaint: (x) => x.flatMap((t) => [t.symbol, t.gplOnlySymbol]),
  vermagicMismatch: (x) => (x === null ? [] : ["(vermagic)"]),
  // A summary of the other fields, not a reason of its own.
  headline: null,
  noModversions: null,
  providers: null,
  signatureKey: null,
  signatureRefused: (x) => (x ? ["(signature)"] : []),
  moduleSizeMismatch: (x) => (x === null ? [] : ["(struct module size)"]),
  moduleSizeUnknown: null,
  crcsNotChecked: null,
  noModversionsRefused: (x) => (x === null ? [] : ["(no modversions, refused by the configuration)"]),
  forcedLoad: null,
  unsignedRefused: (x) => (x === null ? [] : ["(unsigned, refused by the configuration)"]),
};

function reasonSymbols(pair: AuditPair): string[] {
  const keys = Object.keys(pair).filter((k) => k !== "compatible").sort();
  expect(keys, "audit pair fields").toEqual(Object.keys(PAIR_REASON_SYMBOLS).sort());
  return (Object.keys(PAIR_REASON_SYMBOLS) as PairField[]).flatMap((f) => {
    const symbols = PAIR_REASON_SYMBOLS[f] as ((value: AuditPair[PairField]) => string[]) | null;
    return symbols === null ? [] : symbols(pair[f]);
  });
}

async function compareAudit(files: string[], kernel: KernelCase): Promise<{ compatible: number; incompatible: number }> {
  const io = captureIO();
  await main(["audit", "--json", "--symvers", `${kernel.release}=${kernel.symversFile}`, ...files], io);
  const report = JSON.parse(io.stdout) as AuditReport;
  expect(report.errors).toEqual([]);
  expect(report.modules.map((m) => m.path)).toEqual(files);
  const expected = await independentVerdicts(files, kernel);
  let compatible = 0;
  const disagreements: string[] = [];
  report.modules.forEach((m, i) => {
    const pair = m.kernels[kernel.release]!;
    const want = expected[i]!;
    if (pair.compatible) compatible++;
    const got = [...new Set(reasonSymbols(pair))].sort();
    if (pair.compatible !== want.compatible || got.join() !== [...want.unsatisfied].sort().join()) {
      disagreements.push(`${m.path} on ${kernel.release}: kabi ${pair.compatible} [${got.join(" ")}], kmod join ${want.compatible} [${want.unsatisfied.join(" ")}]`);
    }
  });
  expect(disagreements).toEqual([]);
  return { compatible, incompatible: files.length - compatible };
}

const flavour = (release: string) => release.replace(/^[0-9.]+(-[0-9]+)?(\+deb[0-9]+)?/, "");

// kmod is not part of the repository: skipped where modprobe is not installed, except under CI,
// where .ci/run installs kmod and a missing modprobe fails.
describe.runIf(runsWith(haveModprobe()))("audit verdicts agree with kmod's modversions joined with Module.symvers", () => {
  it("has kmod's modprobe (.ci/run installs kmod)", () => {
    expect(haveModprobe(), "modprobe --version does not print a kmod version").toBe(true);
  });

  // Committed: a lost sample folder (or RELEASE file) fails here rather than leaving no test.
  const sampleCases = readdirSync(REAL_SAMPLE, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(REAL_SAMPLE, d.name, "RELEASE")));
  it("has the six committed samples", () => {
    expect(sampleCases.map((d) => d.name).sort()).toEqual(["amd64-6.1", "amd64-6.1-gz", "amd64-6.1-zst", "amd64-6.12", "i386-6.1", "s390x-6.1"]);
  });
  const committedSymvers = readdirSync(join(ROOT, "fixtures/symvers")).filter((f) => f.endsWith(".symvers.gz"));

  for (const c of sampleCases) {
    const release = readFileSync(join(REAL_SAMPLE, c.name, "RELEASE"), "utf8").trim();
    const kernels = committedSymvers.map((f) => f.slice(0, -".symvers.gz".length)).filter((k) => flavour(k) === flavour(release));
    it(`committed sample ${c.name} against ${kernels.length} kernels`, async () => {
      expect(kernels.length).toBeGreaterThan(0);
      const files = committedModules(join(REAL_SAMPLE, c.name));
      expect(files.length).toBeGreaterThan(0);
      for (const k of kernels) await compareAudit(files, { release: k, symversFile: join(ROOT, "fixtures/symvers", `${k}.symvers.gz`) });
    });
  }

  // The corpus cache (bench/corpus.sh) is not part of the repository: its cases exist only where it was fetched.
  const manifestPath = join(corpusDir(), "manifest.json");
  const manifest = existsSync(manifestPath)
    ? (JSON.parse(readFileSync(manifestPath, "utf8")) as { symvers?: { release: string; symvers: string; arch: string; moduleLayout?: string }[] })
    : {};
  for (const c of corpusCases().filter((c) => c.compression === "none" || c.compression === "xz")) {
    const own = (manifest.symvers ?? []).find((s) => s.release === c.release);
    const others = (manifest.symvers ?? []).filter((s) => s.arch === c.arch && s.release !== c.release && existsSync(s.symvers));
    const sameLayout = others.filter((s) => own && s.moduleLayout === own.moduleLayout).slice(0, 2);
    const otherLayout = others.filter((s) => own && s.moduleLayout !== own.moduleLayout).slice(0, 1);
    it.runIf(sameLayout.length > 0)(`cached ${c.id} (${c.compression}) against kernels with the same module_layout and one without`, async () => {
      const all = caseModules(c);
      const files = fullCorpus() ? all : spread(all, 400);
      let seen = { compatible: 0, incompatible: 0 };
      for (const k of [...sameLayout, ...otherLayout]) {
        const r = await compareAudit(files, { release: k.release, symversFile: k.symvers });
        seen = { compatible: seen.compatible + r.compatible, incompatible: seen.incompatible + r.incompatible };
      }
      // Kernels with the same module_layout give real partial compatibility: both verdicts occur.
      expect(seen.compatible).toBeGreaterThan(0);
      expect(seen.incompatible).toBeGreaterThan(0);
    }, 600_000);
  }
});
