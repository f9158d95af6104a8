import { mkdirSync, mkdtempSync, copyFileSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { evaluate } from "../../src/engine/index.js";
import { readModules } from "../../src/load/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { captureIO } from "../helpers/capture-io.js";
import { committedModules, MODULE_FIXTURES, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { auditExitCode, buildAuditReport, type AuditReport } from "./whole-report.js";

const K53 = "6.1.0-53-amd64";
const K54 = "6.1.0-54-amd64";
const K612 = "6.12.117+deb12-amd64";
const symversArg = (k: string) => ["--symvers", `${k}=${join(ROOT, "fixtures/symvers", `${k}.symvers.gz`)}`];

async function audit(args: string[]): Promise<{ code: number; report: AuditReport; stderr: string }> {
  const io = captureIO();
  const code = await main(["audit", "--json", ...args], io);
  return { code, report: JSON.parse(io.stdout) as AuditReport, stderr: io.stderr };
}

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

describe("kabi audit on the kbuild fixtures", () => {
  it("finds the consumer compatible exactly where its provider is, and names the provider elsewhere", async () => {
    const dir = join(MODULE_FIXTURES, K53);
    const { code, report } = await audit([...symversArg(K53), ...symversArg(K54), ...symversArg(K612), join(dir, "kabi_provider.ko"), join(dir, "kabi_consumer.ko")]);
    expect(code).toBe(1);
    expect(report.kernels.map((k) => k.release)).toEqual([K53, K54, K612]);
    const [provider, consumer] = report.modules;
    expect(provider!.name).toBe("kabi_provider");
    expect(provider!.builtFor).toBe(K53);
    // fixtures/modules/README.md: the provider loads on its own kernel only (its skb CRCs differ
    // on every other), and the consumer's own imports match on 6.1.0-53.
    const compatibleOn = (m: typeof provider) => [K53, K54, K612].filter((k) => m!.kernels[k]!.compatible);
    expect(compatibleOn(provider)).toEqual([K53]);
    expect(compatibleOn(consumer)).toEqual([K53]);
    expect(provider!.kernels[K54]!.mismatched.map((m) => m.symbol).sort()).toEqual(["__alloc_skb", "kfree_skb_reason", "skb_put"]);
    expect(provider!.kernels[K54]!.mismatched.find((m) => m.symbol === "skb_put")).toEqual({ symbol: "skb_put", moduleCrc: "0x359ec46d", kernelCrc: "0x69958214", provider: "vmlinux" });
    const blocked = consumer!.kernels[K54]!;
    expect(blocked.missing).toEqual([]);
    expect(blocked.mismatched).toEqual([]);
    expect(blocked.blockedBy).toHaveLength(1);
    expect(blocked.blockedBy[0]!.provider).toBe("kabi_provider");
    expect(blocked.blockedBy[0]!.symbols.sort()).toEqual(["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"]);
    expect(provider!.kernels[K612]!.missing).toContain("kfree_skb_reason");
  });

  it("without its provider in the set, the consumer's provider symbols are missing", async () => {
    const { report } = await audit([...symversArg(K53), join(MODULE_FIXTURES, K53, "kabi_consumer.ko")]);
    expect(report.modules[0]!.kernels[K53]!.missing.sort()).toEqual(["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"]);
  });

  it("reports a missing import_ns and a module without modversions", async () => {
    const dir = join(MODULE_FIXTURES, K53);
    const { report } = await audit([...symversArg(K53), join(dir, "kabi_provider.ko"), join(dir, "kabi_no_import_ns.ko"), join(dir, "kabi_noversions.ko")]);
    const noNs = report.modules.find((m) => m.path.endsWith("kabi_no_import_ns.ko"))!.kernels[K53]!;
    expect(noNs.compatible).toBe(false);
    expect(noNs.missingImportNs).toEqual([{ symbol: "kabi_provider_ns_sub", namespace: "KABI_TEST" }]);
    const noVersions = report.modules.find((m) => m.path.endsWith("kabi_noversions.ko"))!;
    expect(noVersions.hasModversions).toBe(false);
    expect(noVersions.kernels[K53]!.noModversions).toBe(true);
    expect(noVersions.kernels[K53]!.compatible).toBe(true);
  });

  it("exits 0 when every pair is compatible, and prints a matrix", async () => {
    const io = captureIO();
    const code = await main(["audit", ...symversArg(K53), join(MODULE_FIXTURES, K53, "kabi_provider.ko")], io);
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/\[1\] 6\.1\.0-53-amd64/);
    expect(io.stdout).toMatch(/kabi_provider\.ko\s+6\.1\.0-53-amd64\s+ok/);
  });

  it("names the blocking symbols per incompatible pair in the text output: under the headline with --verbose", async () => {
    const io = captureIO();
    const code = await main(["audit", "--verbose", ...symversArg(K54), join(MODULE_FIXTURES, K53)], io);
    expect(code).toBe(1);
    expect(io.stdout).toMatch(/kabi_provider\.ko on 6\.1\.0-54-amd64:\n {4}\d+ CRC mismatches against vmlinux\n(?: {6}CRC mismatch .*\n)* {6}CRC mismatch __alloc_skb: module 0x57693e79, vmlinux 0x7e267139\n/);
    expect(io.stdout).toMatch(/kabi_consumer\.ko on 6\.1\.0-54-amd64:\n {4}needs kabi_provider, itself incompatible here\n {6}needs kabi_provider \(.*kabi_provider\.ko\), itself incompatible here/);
  });

  it("without --verbose, a pair with a headline shows the headline alone: the count of the --verbose lines", async () => {
    const args = [...symversArg(K54), join(MODULE_FIXTURES, K53)];
    const verbose = captureIO();
    await main(["audit", "-v", ...args], verbose);
    const plain = captureIO();
    expect(await main(["audit", ...args], plain)).toBe(1);
    // The old detailed lines, under the headline.
    const detail = /kabi_provider\.ko on 6\.1\.0-54-amd64:\n {4}.*\n((?: {6}.*\n)*)/.exec(verbose.stdout)![1]!;
    const mismatches = detail.match(/^ {6}CRC mismatch .* vmlinux 0x[0-9a-f]{8}$/gm)!;
    expect(mismatches.length).toBe(detail.split("\n").length - 1);
    expect(mismatches.length).toBeGreaterThan(1);
    expect(plain.stdout).toMatch(new RegExp(`kabi_provider\\.ko on 6\\.1\\.0-54-amd64:\\n {4}${mismatches.length} CRC mismatches against vmlinux\\n(?! {6})`));
    expect(plain.stdout).not.toMatch(/CRC mismatch __alloc_skb/);
  });

  it("exits 2 on unreadable inputs, still auditing the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kabi-audit-"));
    temps.push(dir);
    writeFileSync(join(dir, "junk.ko"), "not a module at all");
    const { code, report, stderr } = await audit([...symversArg(K53), join(dir, "junk.ko"), join(dir, "absent.ko"), join(MODULE_FIXTURES, K53, "kabi_provider.ko")]);
    expect(code).toBe(2);
    expect(report.modules.map((m) => m.name)).toEqual(["kabi_provider"]);
    expect(report.errors.map((e) => e.message)).toEqual([`${join(dir, "absent.ko")}: no such file`, `${join(dir, "junk.ko")}: not an ELF file`]);
    expect(stderr).toContain("junk.ko: not an ELF file");
  });

  it("reports malformed symvers lines with file and line number and uses the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kabi-audit-"));
    temps.push(dir);
    const lines = gunzipSync(readFileSync(join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`))).toString("utf8").split("\n");
    lines.splice(2, 0, "0xnothex\tbroken_symbol\tvmlinux\tEXPORT_SYMBOL\t");
    const file = join(dir, "Module.symvers");
    writeFileSync(file, lines.join("\n"));
    const { code, report, stderr } = await audit(["--symvers", `${K53}=${file}`, join(MODULE_FIXTURES, K53, "kabi_provider.ko")]);
    expect(code).toBe(0);
    expect(report.symversProblems).toHaveLength(1);
    expect(report.symversProblems[0]!.line).toBe(3);
    expect(stderr).toContain(`${file}:3:`);
    expect(report.modules[0]!.kernels[K53]!.compatible).toBe(true);
  });

  it("finds every kernel with symvers under --basedir when no kernel is named", async () => {
    const root = mkdtempSync(join(tmpdir(), "kabi-root-"));
    temps.push(root);
    // Debian ships Module.symvers in the headers package; RHEL as /boot/symvers-K.gz.
    mkdirSync(join(root, "lib/modules", K53), { recursive: true });
    mkdirSync(join(root, "usr/src", `linux-headers-${K53}`), { recursive: true });
    writeFileSync(join(root, "usr/src", `linux-headers-${K53}`, "Module.symvers"), gunzipSync(readFileSync(join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`))));
    mkdirSync(join(root, "lib/modules", K612), { recursive: true });
    mkdirSync(join(root, "boot"), { recursive: true });
    copyFileSync(join(ROOT, "fixtures/symvers", `${K612}.symvers.gz`), join(root, "boot", `symvers-${K612}.gz`));
    mkdirSync(join(root, "lib/modules", "9.9.9-nosymvers"), { recursive: true });
    const { code, report } = await audit(["--basedir", root, join(MODULE_FIXTURES, K53, "kabi_provider.ko")]);
    expect(report.kernels).toEqual([
      // No config-K under this root: config null (today's rules).
      { release: K53, symvers: join(root, "usr/src", `linux-headers-${K53}`, "Module.symvers"), config: null },
      { release: K612, symvers: join(root, "boot", `symvers-${K612}.gz`), config: null },
    ]);
    expect(code).toBe(1);
    const { report: one } = await audit(["--basedir", root, "--kernel", K612, join(MODULE_FIXTURES, K53, "kabi_provider.ko")]);
    expect(one.kernels.map((k) => k.release)).toEqual([K612]);
  });
});

describe("kabi audit --strict-modversions", () => {
  // kabi_consumer_nosymvers: kabi_consumer's source built without kabi_provider's Module.symvers,
  // so its __versions has no entry for the provider's symbols (fixtures/modules/README.md).
  const dir = join(MODULE_FIXTURES, K53);
  const files = [join(dir, "kabi_provider.ko"), join(dir, "kabi_consumer_nosymvers.ko"), join(dir, "kabi_consumer.ko")];
  const nocrc = join(MODULE_FIXTURES, "no-modversions", K53, "kabi_provider_nocrc.ko");

  it("JSON: the kernels say strictModversions, the consumer without the provider's versions is refused with noSymbolVersion", async () => {
    const upstream = await audit([...symversArg(K53), ...files]);
    expect(upstream.code).toBe(0);
    expect(upstream.report.kernels[0]).not.toHaveProperty("strictModversions");
    expect(upstream.report.modules[1]!.kernels[K53]).toMatchObject({ compatible: true, noSymbolVersion: [], providers: ["kabi_provider"] });

    const strict = await audit(["--strict-modversions", ...symversArg(K53), ...symversArg(K54), ...files]);
    expect(strict.code).toBe(1);
    expect(strict.report.kernels.map((k) => k.strictModversions)).toEqual([true, true]);
    const [provider, nosymvers, consumer] = strict.report.modules;
    expect(provider!.kernels[K53]!.compatible).toBe(true);
    expect(consumer!.kernels[K53]).toMatchObject({ compatible: true, noSymbolVersion: [] });
    const refused = nosymvers!.kernels[K53]!;
    expect(refused.compatible).toBe(false);
    expect(refused.noSymbolVersion.map((x) => x.provider)).toEqual(["kabi_provider", "kabi_provider", "kabi_provider"]);
    expect(refused.noSymbolVersion.map((x) => x.symbol).sort()).toEqual(["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"]);
    // On 6.1.0-54 the 6.1.0-53 provider does not load, and would not serve these symbols if it did:
    // the reason given is the one a loadable provider would not fix (as for a CRC mismatch).
    expect(nosymvers!.kernels[K54]).toMatchObject({ compatible: false, noSymbolVersion: refused.noSymbolVersion, blockedBy: [] });

    const withNoCrc = await audit(["--strict-modversions", ...symversArg(K53), nocrc, files[1]!]);
    expect(withNoCrc.code).toBe(0);
    expect(withNoCrc.report.modules[1]!.kernels[K53]).toMatchObject({ compatible: true, providers: ["kabi_provider_nocrc"] });
  });

  it("text: the kernel line says strict modversions, and the blocking reason names each symbol and the provider", async () => {
    const io = captureIO();
    expect(await main(["audit", "--strict-modversions", ...symversArg(K53), ...files], io)).toBe(1);
    expect(io.stdout).toMatch(/\[1\] 6\.1\.0-53-amd64 {2}\(.*6\.1\.0-53-amd64\.symvers\.gz\) {2}strict modversions\n/);
    expect(io.stdout).toMatch(/kabi_consumer_nosymvers\.ko\s+6\.1\.0-53-amd64\s+NO\n/);
    expect(io.stdout).toMatch(/kabi_consumer\.ko\s+6\.1\.0-53-amd64\s+ok\n/);
    for (const s of ["kabi_provider_add", "kabi_provider_gpl_mul", "kabi_provider_ns_sub"]) {
      expect(io.stdout).toContain(`    no symbol version for ${s}: kabi_provider exports it with a CRC the module does not list (strict modversions)\n`);
    }
    const plain = captureIO();
    expect(await main(["audit", ...symversArg(K53), ...files], plain)).toBe(0);
    expect(plain.stdout).not.toContain("strict modversions");
  });

  it("is in the usage", async () => {
    const io = captureIO();
    expect(await main(["audit", "--help"], io)).toBe(0);
    expect(io.stdout).toContain("[--strict-modversions]");
    const top = captureIO();
    await main(["--help"], top);
    expect(top.stdout).toContain("--strict-modversions");
  });
});

describe("kabi audit of a few modules", () => {
  it("parses only their symbols' symvers entries and reports what whole tables give", async () => {
    // The real 6.1 sample (45 modules: under the few-modules threshold) and the kbuild fixtures, on five kernels.
    const releases = [K53, K54, "6.1.0-55-amd64", "6.12.113+deb12-amd64", K612];
    const paths = [...committedModules(join(REAL_SAMPLE, "amd64-6.1")), ...committedModules(join(MODULE_FIXTURES, K53))];
    expect(paths.length).toBeLessThanOrEqual(100);
    const { code, report } = await audit([...releases.flatMap(symversArg), "--no-cache", ...paths]);
    const kernels = await Promise.all(
      releases.map(async (release) => ({ release, symvers: await readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`)) })),
    );
    const { records } = await readModules(paths, { workers: 0 });
    const whole = buildAuditReport(
      kernels.map((k) => ({ release: k.release, symvers: join(ROOT, "fixtures/symvers", `${k.release}.symvers.gz`) })),
      records,
      evaluate(records, kernels),
      [],
      [],
    );
    expect(report.modules).toEqual(JSON.parse(JSON.stringify(whole.modules)));
    expect(code).toBe(auditExitCode(whole));
    // Both verdicts occur.
    const pairs = report.modules.flatMap((m) => Object.values(m.kernels));
    expect(pairs.some((p) => p.compatible) && pairs.some((p) => !p.compatible)).toBe(true);
  });
});
