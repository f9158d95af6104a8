/**
 * The kernel's configuration as input (issue 17 item 2): config-K found under the root or given
 * with --config, parsed, and followed by the engine: CONFIG_MODVERSIONS unset checks no CRC,
 * a module without modversions loads (tainting) on a MODVERSIONS=y kernel exactly when
 * CONFIG_MODULE_FORCE_LOAD=y (kernel/module/version.c: check_version, try_to_force_load), and
 * CONFIG_MODULE_SIG_FORCE=y refuses an unsigned module. Real data: Debian's config-6.1.0-53-amd64.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { evaluate } from "../../src/engine/index.js";
import { verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import { loadKernelTargets } from "../../src/load/kernel-targets.js";
import { readModule } from "../../src/module/read-module.js";
import { configCandidates, parseKernelConfig, readKernelConfig } from "../../src/root/kernel-config.js";
import { FormatError } from "../../src/types/errors.js";
import type { KernelTarget } from "../../src/types/kernel-target.js";
import { captureIO } from "../helpers/capture-io.js";
import { corpusDir } from "../helpers/corpus.js";
import { MODULE_FIXTURES, modulesUnder, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { expectAgreesWithPlainJoin, fixtureReleases } from "./real-data.js";

const K = "6.1.0-53-amd64";
const CONFIG_GZ = join(ROOT, "fixtures/kernel-config", `config-${K}.gz`);
const SYMVERS_GZ = join(ROOT, "fixtures/symvers", `${K}.symvers.gz`);
const NOVERSIONS = join(MODULE_FIXTURES, K, "kabi_noversions.ko");
const PROVIDER = join(MODULE_FIXTURES, K, "kabi_provider.ko");
const debianConfig = gunzipSync(readFileSync(CONFIG_GZ)).toString("utf8");

const scratch = mkdtempSync(join(tmpdir(), "kabi-config-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A root with kernel K's symvers (the headers' Module.symvers) and `config` at `rel` (configCandidates). */
function rootWith(name: string, config: string, rel: string): string {
  const root = join(scratch, name);
  const symvers = join(root, "usr/src", `linux-headers-${K}`, "Module.symvers");
  mkdirSync(dirname(symvers), { recursive: true });
  writeFileSync(symvers, gunzipSync(readFileSync(SYMVERS_GZ)));
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), config);
  return root;
}

/** The config with one option's line replaced by `line` (the derived configurations). */
function derived(option: string, line: string): string {
  const re = new RegExp(`^(${option}=.*|# ${option} is not set)$`, "m");
  expect(debianConfig).toMatch(re);
  return debianConfig.replace(re, line);
}

/** What grep finds for an option in the real file: the independent oracle of the parser. */
function grepOption(option: string): "y" | "unset" {
  const r = spawnSync("grep", ["-x", "-e", `${option}=y`, "-e", `# ${option} is not set`], { input: debianConfig, encoding: "utf8" });
  return r.stdout.trim() === `${option}=y` ? "y" : "unset";
}

async function kernelAt(root: string): Promise<KernelTarget> {
  const loaded = await loadKernelTargets({ explicit: [], releases: [K], basedir: root, cache: false });
  expect(loaded.errors).toEqual([]);
  return loaded.kernels[0]!;
}

describe("kernel configuration: parsed", () => {
  const debPresent = existsSync(join(corpusDir(), "debs")) && readdirSync(join(corpusDir(), "debs")).some((f) => f.startsWith(`linux-image-${K}_`));
  it.runIf(debPresent)("the committed config is the image package's boot/config-K (dpkg-deb)", () => {
    const deb = readdirSync(join(corpusDir(), "debs")).find((f) => f.startsWith(`linux-image-${K}_`))!;
    const r = spawnSync("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./boot/config-${K}`, "sh", join(corpusDir(), "debs", deb)], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(debianConfig);
  });

  it("Debian's config: every CONFIG_ line, the three options as grep reads them", async () => {
    const values = parseKernelConfig("config", debianConfig);
    const lines = debianConfig.split("\n").filter((l) => /^CONFIG_\w+=/.test(l) || /^# CONFIG_\w+ is not set$/.test(l));
    expect(values.size).toBe(new Set(lines.map((l) => /CONFIG_\w+/.exec(l)![0])).size);
    const root = rootWith("parsed", debianConfig, `boot/config-${K}`);
    const facts = await readKernelConfig(join(root, `boot/config-${K}`));
    expect(facts.modversions).toBe(grepOption("CONFIG_MODVERSIONS") === "y");
    expect(facts.moduleForceLoad).toBe(grepOption("CONFIG_MODULE_FORCE_LOAD") === "y");
    expect(facts.moduleSigForce).toBe(grepOption("CONFIG_MODULE_SIG_FORCE") === "y");
  });

  it("a line that is no CONFIG_ line is a FormatError naming the file and the line", () => {
    const bad = "CONFIG_A=y\nthis is not a config\n";
    expect(() => parseKernelConfig("/x/config", bad)).toThrow(FormatError);
    expect(() => parseKernelConfig("/x/config", bad)).toThrow(/line 2: not a CONFIG_ line/);
  });

  it.each(configCandidates(K))("found under the root at %s", async (rel) => {
    const root = rootWith(`at-${rel.replace(/[/.]/g, "_")}`, debianConfig, rel);
    expect((await kernelAt(root)).config?.path).toBe(join(root, rel));
  });
});

describe("kernel configuration: the engine's rules", () => {
  it("kabi_noversions.ko on 6.1.0-53 with Debian's config (FORCE_LOAD=y) loads, tainting; with FORCE_LOAD unset it is refused", async () => {
    const real = await kernelAt(rootWith("real", debianConfig, `boot/config-${K}`));
    const noForce = await kernelAt(rootWith("no-force", derived("CONFIG_MODULE_FORCE_LOAD", "# CONFIG_MODULE_FORCE_LOAD is not set"), `boot/config-${K}`));
    const none = (await loadKernelTargets({ explicit: [{ release: K, file: SYMVERS_GZ }], releases: [], basedir: scratch, cache: false })).kernels[0]!;
    expect(none.config).toBeUndefined();
    // kabi_noversions is kabi_consumer without __versions: it needs kabi_provider, installed on each kernel.
    const provider = await readModule(PROVIDER);
    const kernels = [real, noForce, none].map((k) => ({ ...k, resident: [provider] }));
    const module = await readModule(NOVERSIONS);
    expect(module.hasModversions).toBe(false);
    const report = evaluate([module], kernels);
    const [onReal, onNoForce, onNone] = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
    expect(onReal!.compatible).toBe(grepOption("CONFIG_MODULE_FORCE_LOAD") === "y");
    expect(onReal!.forcedLoad).toBe(true);
    expect(onNoForce!.compatible).toBe(false);
    expect(onNoForce!.noModversionsRefused).toEqual({ config: noForce.config!.path });
    expect(verdictReasonLines(onNoForce!)).toEqual([
      `no modversions: the kernel is built with CONFIG_MODVERSIONS=y and without CONFIG_MODULE_FORCE_LOAD (${noForce.config!.path}), so it refuses the module`,
    ]);
    // Without a configuration: today's rules (names only, not blocking).
    expect(onNone!.compatible).toBe(true);
    expect(onNone!.forcedLoad).toBe(false);
    expect(onNone!.noModversions).toBe(true);
    // A module with modversions is not touched by the rule.
    const consumer = await readModule(join(MODULE_FIXTURES, K, "kabi_consumer.ko"));
    const r2 = evaluate([consumer], kernels);
    expectAgreesWithPlainJoin(consumer, kernels, (k) => r2.verdict(0, k)!, (k) => r2.isCompatible(0, k)).forEach((v) => expect(v.compatible).toBe(true));
  });

  it.each(fixtureReleases())("fixtures/modules/%s/kabi_noversions.ko with Debian's config given by --config: forced load; FORCE_LOAD unset: refused", async (release) => {
    const symvers = join(ROOT, "fixtures/symvers", `${release}.symvers.gz`);
    const noForceFile = join(scratch, `no-force-${release}`);
    const realFile = join(scratch, `real-${release}`);
    writeFileSync(noForceFile, derived("CONFIG_MODULE_FORCE_LOAD", "# CONFIG_MODULE_FORCE_LOAD is not set"));
    writeFileSync(realFile, debianConfig);
    const provider = await readModule(join(MODULE_FIXTURES, release, "kabi_provider.ko"));
    const load = async (file: string) =>
      (await loadKernelTargets({ explicit: [{ release, file: symvers }], releases: [], configs: [{ release, file }], basedir: scratch, cache: false })).kernels[0]!;
    const kernels = [await load(realFile), await load(noForceFile)].map((k) => ({ ...k, resident: [provider] }));
    const module = await readModule(join(MODULE_FIXTURES, release, "kabi_noversions.ko"));
    const report = evaluate([module], kernels);
    const [forced, refused] = expectAgreesWithPlainJoin(module, kernels, (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
    expect([forced!.compatible, forced!.forcedLoad]).toEqual([true, true]);
    expect([refused!.compatible, refused!.noModversionsRefused]).toEqual([false, { config: noForceFile }]);
  });

  it("CONFIG_MODULE_SIG_FORCE=y refuses the unsigned fixture, not a signed Debian module", async () => {
    const sigForce = await kernelAt(rootWith("sig-force", derived("CONFIG_MODULE_SIG_FORCE", "CONFIG_MODULE_SIG_FORCE=y"), `lib/modules/${K}/config`));
    expect(sigForce.config?.moduleSigForce).toBe(true);
    const unsigned = await readModule(PROVIDER);
    const signed = await readModule(modulesUnder(join(REAL_SAMPLE, "amd64-6.1")).find((p) => p.endsWith("/mii.ko"))!);
    expect([unsigned.signed, signed.signed]).toEqual([false, true]);
    const report = evaluate([unsigned, signed], [sigForce]);
    expect(report.verdict(0, 0)!.unsignedRefused).toEqual({ config: sigForce.config!.path });
    expect(report.isCompatible(0, 0)).toBe(false);
    expect(report.verdict(1, 0)!.unsignedRefused).toBeNull();
    expectAgreesWithPlainJoin(unsigned, [sigForce], (k) => report.verdict(0, k)!, (k) => report.isCompatible(0, k));
  });

  it("CONFIG_MODVERSIONS unset: CRCs are not checked (a 6.1.0-53 consumer on 6.1.0-54's symvers), and the pair says so", async () => {
    const K54 = "6.1.0-54-amd64";
    const consumer = await readModule(join(MODULE_FIXTURES, K, "kabi_consumer.ko"));
    const provider = await readModule(join(MODULE_FIXTURES, K, "kabi_provider.ko"));
    const configFile = join(scratch, "no-modversions-config");
    writeFileSync(configFile, derived("CONFIG_MODVERSIONS", "# CONFIG_MODVERSIONS is not set"));
    const loaded = await loadKernelTargets({ explicit: [{ release: K54, file: join(ROOT, "fixtures/symvers", `${K54}.symvers.gz`) }], releases: [], configs: [{ release: K54, file: configFile }], basedir: scratch, cache: false });
    const names = loaded.kernels[0]!;
    const { config: _, ...withoutConfig } = names;
    // The 6.1.0-53 provider uses skb_put & co., whose CRCs differ on 6.1.0-54 (fixtures/modules/README.md).
    const crcs = evaluate([consumer, provider], [withoutConfig]);
    expect(crcs.verdict(1, 0)!.mismatched.length).toBeGreaterThan(0);
    expect(crcs.isCompatible(0, 0)).toBe(false);
    const report = evaluate([consumer, provider], [names]);
    expect(report.verdict(0, 0)!.compatible).toBe(true);
    const v = report.verdict(1, 0)!;
    expect(v.compatible).toBe(true);
    expect(v.mismatched).toEqual([]);
    expect(v.crcsNotChecked).toBe(true);
  });

  it("kabi audit --config K=FILE: the pair's JSON and exit code; a bad config is one line naming it, exit 2", async () => {
    const configFile = join(scratch, "cli-config");
    writeFileSync(configFile, derived("CONFIG_MODULE_FORCE_LOAD", "# CONFIG_MODULE_FORCE_LOAD is not set"));
    const io = captureIO();
    const code = await main(["audit", "--json", "--symvers", `${K}=${SYMVERS_GZ}`, "--config", `${K}=${configFile}`, "--basedir", scratch, NOVERSIONS], io);
    expect(code).toBe(1);
    const doc = JSON.parse(io.stdout) as { kernels: { config: { path: string } | null }[]; modules: { kernels: Record<string, { compatible: boolean; noModversionsRefused: unknown; forcedLoad: boolean }> }[] };
    expect(doc.kernels[0]!.config?.path).toBe(configFile);
    expect(doc.modules[0]!.kernels[K]).toMatchObject({ compatible: false, noModversionsRefused: { config: configFile }, forcedLoad: false });
    const text = captureIO();
    expect(await main(["audit", "--symvers", `${K}=${SYMVERS_GZ}`, "--config", `${K}=${configFile}`, "--basedir", scratch, NOVERSIONS], text)).toBe(1);
    expect(text.stdout).toContain(`  [1] ${K}  (${SYMVERS_GZ})  config ${configFile}\n`);
    expect(text.stdout).toContain(`no modversions: the kernel is built with CONFIG_MODVERSIONS=y and without CONFIG_MODULE_FORCE_LOAD (${configFile}), so it refuses the module`);
    expect(text.stdout).toContain("without modversions (where a kernel's configuration is known with CONFIG_MODVERSIONS=y");

    const bad = join(scratch, "bad-config");
    writeFileSync(bad, "CONFIG_MODVERSIONS=y\ngarbage\n");
    const io2 = captureIO();
    const code2 = await main(["audit", "--symvers", `${K}=${SYMVERS_GZ}`, "--config", `${K}=${bad}`, "--basedir", scratch, NOVERSIONS], io2);
    expect(code2).toBe(2);
    const errLines = io2.stderr.split("\n").filter((l) => l.includes(bad));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/line 2: not a CONFIG_ line/);
    expect(io2.stderr).not.toMatch(/\n\s+at /);

    const io3 = captureIO();
    expect(await main(["audit", "--config", "nofile", NOVERSIONS], io3)).toBe(2);
    expect(io3.stderr).toMatch(/--config "nofile": expected KERNEL_RELEASE=FILE/);
  });
});
