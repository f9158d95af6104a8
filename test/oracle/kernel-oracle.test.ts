/**
 * The kernel as the oracle (docs/kernel-oracle.md): Debian's real 6.1.0-53-amd64 kernel, booted
 * under QEMU, insmods real 6.1.0-54-amd64 modules (another build of the same flavour), and its
 * loader's answer is compared with kabi's audit verdict against 6.1.0-53's Module.symvers.
 *
 * The modules are chosen by a rule, not by name, from the 6.1.0-54 tree sorted by path:
 *   - the first PER_KIND modules kabi judges compatible, and the first PER_KIND it judges
 *     incompatible by CRC mismatches alone, among those without dependencies (kmod's modinfo);
 *   - every module kabi judges incompatible for a symbol no one exports ("missing"), whose
 *     dependencies all exist in 6.1.0-53's own tree: those are insmodded first, from that tree.
 * For every module tried: kabi's verdict equals the loader's (an init failing for lack of hardware
 * counts as loaded: see test/helpers/kernel-oracle.ts), the symbols of the loader's "disagrees about
 * version of symbol" lines are exactly kabi's CRC mismatches, and its "Unknown symbol X (err -2)"
 * lines exactly kabi's missing symbols.
 * Then: booted with module.sig_enforce=1, the loader refuses every foreign-build module for its key
 * alone and loads its own build's, as kabi audit --enforce-signatures says (the kernel's build key
 * taken from its own tree); and a module derived from 6.1.0-53's own tree without its namespace import,
 * refused for the symbols and namespace kabi names.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpusDir } from "../helpers/corpus.js";
import {
  bootAndInsmod,
  corpusKernel,
  crcRefusedSymbols,
  namespaceRefusals,
  oracleToolsPresent,
  SIGNATURE_REJECTED,
  unknownSymbols,
  type LoaderAnswer,
  type OracleModule,
} from "../helpers/kernel-oracle.js";
import { ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

const KERNEL = "6.1.0-53-amd64";
const OTHER = "6.1.0-54-amd64";
const PER_KIND = 6;
const BOOT_TIMEOUT_MS = 90_000;
const KABI = join(ROOT, "dist/src/cli/kabi.js");
const TREE = join(corpusDir(), "amd64-6.1/lib/modules", KERNEL);
const SYMVERS = join(corpusDir(), "amd64-6.1/Module.symvers");
const OTHER_TREE = join(corpusDir(), "images", OTHER, "lib/modules", OTHER);
const MODINFO = ["modinfo", "/usr/sbin/modinfo", "/sbin/modinfo"].find((c) => commandPresent(c, ["--version"])) ?? "modinfo";

interface AuditVerdict {
  compatible: boolean | null;
  signatureRefused?: boolean;
  missing: string[];
  missingImportNs: { symbol: string; namespace: string }[];
  mismatched: { symbol: string }[];
  blockedBy: unknown[];
}
interface AuditModule {
  path: string;
  name: string;
  kernels: Record<string, AuditVerdict>;
}

/** A module to try, with kabi's verdict (null for the 6.1.0-53 dependencies loaded first). */
interface Trial extends OracleModule {
  verdict: AuditVerdict | null;
}

function present(): boolean {
  return oracleToolsPresent() && corpusKernel(KERNEL) !== null && existsSync(SYMVERS) && existsSync(join(TREE, "modules.order"))
    && existsSync(join(OTHER_TREE, "modules.order")) && existsSync(KABI) && commandPresent(MODINFO, ["--version"]);
}

const WHAT = `qemu-system-x86_64, busybox-static, kmod, the built CLI and the corpus' ${KERNEL} kernel and ${OTHER} tree`
  + " (fixtures/packages/fetch-packages.sh, fixtures/qemu/extract-kernel.sh, fixtures/dkms/fetch-kernels.sh)";

/** modinfo's comma-separated dependency names of a module file (kmod: independent of kabi). */
function depends(file: string): string[] {
  const r = spawnSync(MODINFO, ["-F", "depends", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`modinfo ${file}: ${r.stderr}`);
  return r.stdout.trim().split(",").filter((d) => d !== "");
}

/** The module names of a tree (modules.order) mapped to their files; "-" and "_" are one in names. */
function treeIndex(tree: string): Map<string, string> {
  const index = new Map<string, string>();
  for (const rel of readFileSync(join(tree, "modules.order"), "utf8").split("\n")) {
    if (rel === "") continue;
    index.set(basename(rel).replace(/\.ko$/, "").replace(/-/g, "_"), join(tree, rel));
  }
  return index;
}

/** The 6.1.0-53 files `names` need, dependencies first, each once; null when one is not in the tree. */
function dependencyOrder(names: readonly string[], index: Map<string, string>, seen: Set<string>): string[] | null {
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.replace(/-/g, "_");
    if (seen.has(name)) continue;
    const file = index.get(name);
    if (file === undefined || !existsSync(file)) return null;
    const below = dependencyOrder(depends(file), index, seen);
    if (below === null) return null;
    seen.add(name);
    out.push(...below, file);
  }
  return out;
}

function auditOtherTree(): AuditModule[] {
  return audit(join(OTHER_TREE, "kernel"));
}

function audit(target: string, ...options: string[]): AuditModule[] {
  const r = spawnSync(process.execPath, [KABI, "audit", "--json", ...options, "--symvers", `${KERNEL}=${SYMVERS}`, target], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`kabi audit exited ${r.status}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as { modules: AuditModule[] };
  return report.modules.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The selection rule of this file's header, in load order. */
function selectTrials(audited: readonly AuditModule[]): Trial[] {
  const compatible: Trial[] = [];
  const byCrc: Trial[] = [];
  const missing: Trial[] = [];
  const index = treeIndex(TREE);
  const seen = new Set<string>();
  for (const m of audited) {
    const v = m.kernels[KERNEL];
    if (v === undefined || !m.path.endsWith(".ko")) continue;
    const trial: Trial = { name: m.name, file: m.path, verdict: v };
    const wantCompatible = v.compatible === true && compatible.length < PER_KIND;
    const wantCrc = v.compatible === false && v.mismatched.length > 0 && v.missing.length === 0 && v.blockedBy.length === 0 && byCrc.length < PER_KIND;
    if (wantCompatible || wantCrc) {
      if (depends(m.path).length > 0) continue;
      (wantCompatible ? compatible : byCrc).push(trial);
    } else if (v.compatible === false && v.missing.length > 0 && v.blockedBy.length === 0) {
      const deps = dependencyOrder(depends(m.path), index, seen);
      if (deps === null) continue;
      missing.push(...deps.map((file) => ({ name: `${KERNEL}:${basename(file)}`, file, verdict: null })), trial);
    }
  }
  return [...compatible, ...byCrc, ...missing];
}

let selected: Trial[] | undefined;
function trials(): Trial[] {
  selected ??= selectTrials(auditOtherTree());
  return selected;
}

/** A module file without its appended signature (scripts/sign-file's layout: ...sig, struct module_signature, marker). */
function withoutSignature(file: Buffer): Buffer {
  const marker = Buffer.from("~Module signature appended~\n");
  if (!file.subarray(file.length - marker.length).equals(marker)) return file;
  const info = file.length - marker.length - 12; // struct module_signature: 8 bytes, then sig_len (big-endian)
  return file.subarray(0, info - file.readUInt32BE(info + 8));
}

function sorted(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

describe(`the ${KERNEL} kernel's loader as the oracle for kabi's verdicts`, () => {
  it(`loads exactly the ${OTHER} modules kabi judges compatible, refusing the others for the symbols kabi names`, async (ctx) => {
    requireUnderCi(present(), WHAT, () => ctx.skip());
    const tried = trials();
    const judged = tried.filter((t) => t.verdict !== null);
    // The rule found every kind it looks for: a selection that lost a kind would test less.
    expect(judged.filter((t) => t.verdict!.compatible === true)).toHaveLength(PER_KIND);
    expect(judged.filter((t) => t.verdict!.mismatched.length > 0 && t.verdict!.missing.length === 0)).toHaveLength(PER_KIND);
    expect(judged.some((t) => t.verdict!.missing.length > 0)).toBe(true);

    const boot = await bootAndInsmod({ vmlinuz: corpusKernel(KERNEL)!.vmlinuz, modules: tried, timeoutMs: BOOT_TIMEOUT_MS });
    console.log(`kernel oracle: ${boot.release} booted, ${tried.length} insmods, ${boot.bootMs} ms`);
    for (const a of boot.modules) console.log(`  ${a.name}: insmod ${a.insmodStatus}, loaded ${a.loaded}${a.initFailed ? " (init failed)" : ""}, ${a.reasons.length} refusal lines; ${a.messages.filter((m) => !a.reasons.includes(m)).join(" | ")}`);
    expect(boot.release).toBe(KERNEL);
    const answers = new Map<string, LoaderAnswer>(boot.modules.map((a) => [a.file, a]));
    for (const t of tried) {
      const a = answers.get(t.file)!;
      const seen = `${t.name}: insmod ${a.insmodStatus}; ${a.messages.join(" | ")}`;
      if (t.verdict === null) {
        // A 6.1.0-53 dependency on its own kernel: it must load, or the cases after it prove nothing.
        expect(a.loaded, seen).toBe(true);
        continue;
      }
      expect(a.loaded, seen).toBe(t.verdict.compatible);
      expect(sorted(crcRefusedSymbols(a)), seen).toEqual(sorted(t.verdict.mismatched.map((x) => x.symbol)));
      expect(sorted(unknownSymbols(a)), seen).toEqual(sorted(t.verdict.missing));
    }
    // Debian signs each build's modules with that build's own key, and 6.1.0-53 does not enforce
    // signatures (CONFIG_MODULE_SIG_FORCE unset): the first foreign-key module loads past the check,
    // tainting the kernel, which the kernel logs once per boot. The first module tried is a 6.1.0-54 one.
    expect(tried[0]!.verdict).not.toBeNull();
    expect(boot.modules[0]!.messages.join("\n")).toMatch(/module verification failed: signature and\/or required key missing - tainting kernel/);
  }, 240_000);

  it("with module.sig_enforce=1 refuses every foreign-build module, CRCs matching or not, and loads its own build's", async (ctx) => {
    requireUnderCi(present(), WHAT, () => ctx.skip());
    const tried = trials().filter((t) => t.verdict !== null && t.verdict.missing.length === 0);
    const own = treeIndex(TREE);
    const controls: OracleModule[] = tried
      .filter((t) => t.verdict!.compatible === true)
      .flatMap((t) => own.get(t.name.replace(/-/g, "_")) ?? [])
      .map((file) => ({ name: `${KERNEL}:${basename(file)}`, file }));
    expect(controls.length).toBeGreaterThan(0);
    const boot = await bootAndInsmod({ vmlinuz: corpusKernel(KERNEL)!.vmlinuz, modules: [...tried, ...controls], cmdline: ["module.sig_enforce=1"], timeoutMs: BOOT_TIMEOUT_MS });
    console.log(`kernel oracle (module.sig_enforce=1): ${tried.length + controls.length} insmods, ${boot.bootMs} ms`);
    expect(boot.cmdline).toContain("module.sig_enforce=1");
    for (const a of boot.modules.slice(0, tried.length)) {
      expect(a.loaded, a.name).toBe(false);
      // The signature is checked before any symbol: the key is the only reason given (once per
      // load attempt; busybox's insmod tries finit_module, then init_module).
      expect(a.reasons.length, a.name).toBeGreaterThan(0);
      expect(new Set(a.reasons), `${a.name} ${a.insmodStatus} ${JSON.stringify(a.reasons)}`).toEqual(new Set(["Loading of module with unavailable key is rejected"]));
    }
    for (const a of boot.modules.slice(tried.length)) {
      expect(a.loaded, `${a.name}: ${a.messages.join(" | ")}`).toBe(true);
      expect(a.reasons, a.name).toEqual([]);
    }
    // kabi with --enforce-signatures, the kernel's build key taken from its own tree (the root
    // holding lib/modules/6.1.0-53-amd64), says the same of every module tried: refused for its
    // signature alone where the loader refused it, compatible where it loaded.
    const files = boot.modules.map((a, i) => ({ answer: a, file: (i < tried.length ? tried[i]! : controls[i - tried.length]!).file }));
    const work = mkdtempSync(join(tmpdir(), "kabi-oracle-sig-"));
    try {
      // One folder of links, so that one audit judges them all (the same file names from two builds).
      files.forEach(({ file }, i) => {
        mkdirSync(join(work, String(i)));
        symlinkSync(file, join(work, String(i), basename(file)));
      });
      const judged = new Map(audit(work, "--enforce-signatures", "--basedir", join(corpusDir(), "amd64-6.1")).map((m) => [m.path, m.kernels[KERNEL]!]));
      files.forEach(({ answer, file }, i) => {
        const verdict = judged.get(join(work, String(i), basename(file)));
        expect(verdict, file).toBeDefined();
        expect(verdict!.compatible, `${answer.name}: kabi ${JSON.stringify(verdict)}, loader ${answer.loaded}`).toBe(answer.loaded);
        if (!answer.loaded) expect(verdict!.signatureRefused, answer.name).toBe(true);
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 240_000);
  it("refuses a module using a namespace it does not import, for the symbols kabi names (a derived module)", async (ctx) => {
    requireUnderCi(present(), WHAT, () => ctx.skip());
    // No real module of another build lacks an import, so one is derived: the first module of
    // 6.1.0-53's own tree (sorted by path, no dependencies) that imports a namespace, its
    // import_ns values renamed (same length, last letter changed) in .modinfo, and its signature
    // removed: a changed module whose signature no longer verifies with the kernel's own key is
    // refused (-EKEYREJECTED) even where signatures are not enforced, while an unsigned one only
    // taints 6.1.0-53 (CONFIG_MODULE_SIG_FORCE unset). The first check below shows that refusal.
    const needle = Buffer.from("\0import_ns=");
    const index = treeIndex(TREE);
    const original = [...index.values()].sort().find((f) => existsSync(f) && readFileSync(f).includes(needle) && depends(f).length === 0);
    expect(original).toBeDefined();
    const signed = readFileSync(original!);
    const bytes = Buffer.from(withoutSignature(signed));
    expect(bytes.length).toBeLessThan(signed.length);
    const renamed: string[] = [];
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
      const end = bytes.indexOf(0, at + needle.length);
      const last = end - 1;
      renamed.push(bytes.toString("latin1", at + needle.length, end));
      bytes[last] = bytes[last] === 0x58 ? 0x59 : 0x58; // "X", or "Y" where it was "X"
    }
    const work = mkdtempSync(join(tmpdir(), "kabi-oracle-ns-"));
    try {
      const derived = join(work, basename(original!));
      writeFileSync(derived, bytes);
      const [judged] = audit(derived);
      const verdict = judged!.kernels[KERNEL]!;
      expect(verdict.compatible).toBe(false);
      expect(sorted(verdict.missingImportNs.map((n) => n.namespace))).toEqual(sorted(renamed));
      // The same change with the signature kept: refused for its signature, before any symbol.
      const stillSigned = join(work, "signed", basename(original!));
      mkdirSync(join(work, "signed"));
      writeFileSync(stillSigned, Buffer.concat([bytes, signed.subarray(bytes.length)]));
      const boot = await bootAndInsmod({
        vmlinuz: corpusKernel(KERNEL)!.vmlinuz,
        modules: [{ name: judged!.name, file: derived }, { name: `${judged!.name} (signed)`, file: stillSigned }],
        timeoutMs: BOOT_TIMEOUT_MS,
      });
      console.log(`kernel oracle (namespace): ${basename(original!)} without ${renamed.join(",")}, ${boot.bootMs} ms`);
      expect(boot.modules[1]!.loaded).toBe(false);
      expect(boot.modules[1]!.reasons).toEqual([SIGNATURE_REJECTED]);
      const a = boot.modules[0]!;
      const seen = `${a.name}: insmod ${a.insmodStatus}; ${a.messages.join(" | ")}`;
      expect(a.loaded, seen).toBe(false);
      expect(sorted(namespaceRefusals(a).map((n) => `${n.symbol} ${n.namespace}`)), seen).toEqual(
        sorted(verdict.missingImportNs.map((n) => `${n.symbol} ${n.namespace}`)),
      );
      expect(crcRefusedSymbols(a), seen).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 240_000);
});
