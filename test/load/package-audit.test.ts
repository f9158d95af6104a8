/**
 * Packages as `kabi audit` input, on real packages (docs/packages.md): auditing Debian's
 * linux-image-6.1.0-53-amd64 and linux-headers-6.1.0-54-amd64 debs as they were downloaded gives
 * the verdicts of auditing the trees dpkg-deb unpacks from them (the RPMs: package-audit-rpm.test.ts);
 * a broken package among good inputs is one line, exit 2, and the rest is audited.
 *
 * The packages are in the corpus cache (fixtures/packages/fetch-packages.sh; CI runs it, the test
 * never downloads): without them the test skips outside CI and fails under it.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { audit, expectSameVerdicts, needPackages, unpack, verdictsByMember } from "../helpers/packages.js";
import { MALFORMED, MODULE_FIXTURES, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import { readModule } from "../../src/module/read-module.js";
import type { FormatError } from "../../src/types/errors.js";

const A = "6.1.0-53-amd64";
const B = "6.1.0-54-amd64";
const work = mkdtempSync(join(tmpdir(), "kabi-package-audit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("kabi audit on real Debian packages", () => {
  it(`linux-image-${A}.deb + linux-headers-${B}.deb: the verdicts of the unpacked trees`, { timeout: 300_000 }, async ({ skip }) => {
    const pkgs = needPackages(skip, ["dpkg-deb"]);
    const image = pkgs.get(`linux-image-${A}`)!;
    const headers = pkgs.get(`linux-headers-${B}`)!;
    const tree = join(work, "image");
    const hdr = join(work, "headers");
    unpack(image, tree);
    unpack(headers, hdr);
    const symvers = join(hdr, `usr/src/linux-headers-${B}/Module.symvers`);
    // Both with an empty root: a kernel's vermagic is then the same in both (none), whatever is
    // installed on the machine.
    const root = join(work, "empty-root");
    mkdirSync(root, { recursive: true });
    const fromPackages = await audit(["--basedir", root, image, headers]);
    const fromTrees = await audit(["--basedir", root, "--symvers", `${B}=${symvers}`, tree]);
    rmSync(tree, { recursive: true, force: true });

    expect(fromPackages.json.errors).toEqual([]);
    expect(fromPackages.json.kernels).toEqual([{ release: B, symvers: `${headers}!/usr/src/linux-headers-${B}/Module.symvers`, config: null }]);
    expect(fromPackages.code).toBe(fromTrees.code);
    expect(fromPackages.json.modules.filter((m) => !m.path.startsWith(`${image}!/lib/modules/${A}/kernel/`))).toEqual([]);
    const got = verdictsByMember(fromPackages.json, [tree]);
    // The image holds no symvers, so kernel A is not judged: its tree's modules are judged on B.
    expect(got.size).toBeGreaterThan(4000);
    expectSameVerdicts(got, verdictsByMember(fromTrees.json, [tree]));
  });
});

describe("kabi audit with a broken package among good inputs", () => {
  it("one line for each broken package, exit 2, every other input audited as without them", { timeout: 120_000 }, async ({ skip }) => {
    const pkgs = needPackages(skip, ["dpkg-deb", "gzip"]);
    // The real headers package cut in half: the reader meets the end inside the xz payload.
    const headers = pkgs.get(`linux-headers-${B}`)!;
    const truncated = join(work, "truncated-headers.deb");
    copyFileSync(headers, truncated);
    truncateSync(truncated, Math.floor(readFileSync(headers).length / 2));
    // A package whose module and symvers come before the cut (an uncompressed payload, a padding
    // member last): what was read before the fault must not count either.
    const tree = join(work, "cut-tree");
    mkdirSync(join(tree, "DEBIAN"), { recursive: true });
    writeFileSync(join(tree, "DEBIAN/control"), "Package: cut\nVersion: 1\nArchitecture: amd64\nMaintainer: kabi <kabi@example.org>\nDescription: cut short\n");
    mkdirSync(join(tree, `lib/modules/${A}/extra`), { recursive: true });
    copyFileSync(join(MODULE_FIXTURES, A, "kabi_provider.ko"), join(tree, `lib/modules/${A}/extra/kabi_cut.ko`));
    mkdirSync(join(tree, `usr/src/linux-headers-${B}`), { recursive: true });
    const plain = spawnSync("gzip", ["-dc", join(ROOT, `fixtures/symvers/${B}.symvers.gz`)], { maxBuffer: 64 << 20 });
    expect(plain.status).toBe(0);
    writeFileSync(join(tree, `usr/src/linux-headers-${B}/Module.symvers`), plain.stdout);
    mkdirSync(join(tree, "zz"), { recursive: true });
    writeFileSync(join(tree, "zz/padding"), Buffer.alloc(1 << 20, 0x5a));
    const full = join(work, "cut-full.deb");
    const built = spawnSync("dpkg-deb", ["--root-owner-group", "-Znone", "-b", tree, full], { encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const listed = spawnSync("dpkg-deb", ["--fsys-tarfile", full], { maxBuffer: 64 << 20 });
    const order = spawnSync("tar", ["-t"], { input: listed.stdout, encoding: "utf8" }).stdout;
    expect(order.indexOf("zz/padding")).toBeGreaterThan(order.indexOf("Module.symvers"));
    expect(order.indexOf("zz/padding")).toBeGreaterThan(order.indexOf("kabi_cut.ko"));
    const cut = join(work, "cut.deb");
    copyFileSync(full, cut);
    truncateSync(cut, readFileSync(full).length - (512 << 10));

    const modules = join(MODULE_FIXTURES, A);
    const symvers = `${A}=${join(ROOT, `fixtures/symvers/${A}.symvers.gz`)}`;
    const alone = await audit(["--symvers", symvers, modules]);
    const whole = await audit(["--symvers", symvers, full, modules]);
    // The uncut package does contribute its module and kernel B: the cut one must contribute neither.
    expect(whole.json.kernels.map((k) => k.release)).toEqual([A, B]);
    expect(whole.json.modules.some((m) => m.path === `${full}!/lib/modules/${A}/extra/kabi_cut.ko`)).toBe(true);
    const mixed = await audit(["--symvers", symvers, truncated, modules, cut]);
    expect(mixed.code).toBe(2);
    expect(mixed.json.errors.map((e) => e.message.startsWith(`${e.path}: `) && e.path)).toEqual([truncated, cut]);
    expect(mixed.stderr.trim().split("\n").length).toBe(2);
    expect(mixed.json.kernels).toEqual(alone.json.kernels);
    expect(mixed.json.modules).toEqual(alone.json.modules);
  });

  it("a package with neither a module nor symvers is one input error; a symlink named like a module is not followed", async ({ skip }) => {
    requireUnderCi(commandPresent("dpkg-deb"), "dpkg-deb", skip);
    const tree = join(work, "docs-only");
    mkdirSync(join(tree, "DEBIAN"), { recursive: true });
    mkdirSync(join(tree, "usr/share/doc/x"), { recursive: true });
    writeFileSync(join(tree, "DEBIAN/control"), "Package: x\nVersion: 1\nArchitecture: all\nMaintainer: kabi <kabi@example.org>\nDescription: no module\n");
    writeFileSync(join(tree, "usr/share/doc/x/README"), "nothing\n");
    mkdirSync(join(tree, `lib/modules/${A}/extra`), { recursive: true });
    symlinkSync(join(MODULE_FIXTURES, A, "kabi_provider.ko"), join(tree, `lib/modules/${A}/extra/link.ko`));
    const deb = join(work, "docs-only.deb");
    const built = spawnSync("dpkg-deb", ["--root-owner-group", "-Zxz", "-b", tree, deb], { encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const symvers = `${A}=${join(ROOT, `fixtures/symvers/${A}.symvers.gz`)}`;
    const r = await audit(["--symvers", symvers, deb, join(MODULE_FIXTURES, A, "kabi_provider.ko")]);
    expect(r.code).toBe(2);
    expect(r.json.errors.map((e) => e.message)).toEqual([`${deb}: no module file (*.ko, *.ko.xz, *.ko.gz, *.ko.zst) and no kernel symvers in this package`]);
    expect(r.json.modules.map((m) => m.path)).toEqual([join(MODULE_FIXTURES, A, "kabi_provider.ko")]);
  });

  it("tells a package by its first bytes, whatever its name: an RPM named .bin is read as one, a module named .deb as a module", async ({ skip }) => {
    const pkgs = needPackages(skip, []);
    const bin = join(work, "vendor-driver.bin");
    copyFileSync(pkgs.get("kmod-kabi_fixtures")!, bin);
    const notDeb = join(work, "kabi_provider.deb");
    copyFileSync(join(MODULE_FIXTURES, A, "kabi_provider.ko"), notDeb);
    const symvers = `${A}=${join(ROOT, `fixtures/symvers/${A}.symvers.gz`)}`;
    const r = await audit(["--symvers", symvers, bin, notDeb]);
    expect(r.json.errors).toEqual([]);
    const paths = r.json.modules.map((m) => m.path);
    expect(paths.filter((p) => p.startsWith(`${bin}!/lib/modules/${A}/extra/kabi_fixtures/`))).toHaveLength(8);
    expect(paths.slice(8)).toEqual([notDeb]);
  });

  it("a member that is not a module is one line naming the package and the member, with the reason a file of it gets; the package's other members are audited", async ({ skip }) => {
    requireUnderCi(commandPresent("dpkg-deb"), "dpkg-deb", skip);
    const tree = join(work, "bad-members");
    const extra = `lib/modules/${A}/extra`;
    mkdirSync(join(tree, "DEBIAN"), { recursive: true });
    mkdirSync(join(tree, extra), { recursive: true });
    writeFileSync(join(tree, "DEBIAN/control"), "Package: bad-members\nVersion: 1\nArchitecture: amd64\nMaintainer: kabi <kabi@example.org>\nDescription: two bad members\n");
    const bad = ["not-elf.ko", "truncated.ko.xz"];
    for (const f of bad) copyFileSync(join(MALFORMED, f), join(tree, extra, f));
    copyFileSync(join(MODULE_FIXTURES, A, "kabi_provider.ko"), join(tree, extra, "kabi_provider.ko"));
    const deb = join(work, "bad-members.deb");
    const built = spawnSync("dpkg-deb", ["--root-owner-group", "-b", tree, deb], { encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const symvers = `${A}=${join(ROOT, `fixtures/symvers/${A}.symvers.gz`)}`;
    const r = await audit(["--symvers", symvers, deb]);
    const alone = await audit(["--symvers", symvers, join(MODULE_FIXTURES, A, "kabi_provider.ko")]);
    expect(r.code).toBe(2);
    // The reason readModule gives each file, read as a file.
    const reasons = await Promise.all(bad.map((f) => readModule(join(MALFORMED, f)).then(() => "read", (e: unknown) => (e as FormatError).reason)));
    expect(r.json.errors.map((e) => e.message).sort()).toEqual(bad.map((f, i) => `${deb}: ${extra}/${f}: ${reasons[i]}`).sort());
    expect(r.json.modules.map((m) => m.path)).toEqual([`${deb}!/${extra}/kabi_provider.ko`]);
    expect(r.json.modules[0]!.kernels).toEqual(alone.json.modules[0]!.kernels);
  });
});

describe("kernels from packages and from the options", () => {
  it("--kernel K without symvers under the root takes a package's symvers of K without an error; another K stays an error", async ({ skip }) => {
    const pkgs = needPackages(skip, []);
    const headers = pkgs.get(`linux-headers-${B}`)!;
    const root = join(work, "empty-root-kernel");
    mkdirSync(root, { recursive: true });
    const module = join(MODULE_FIXTURES, A, "kabi_provider.ko");
    const taken = await audit(["--basedir", root, "--kernel", B, headers, module]);
    expect(taken.json.errors).toEqual([]);
    expect(taken.json.kernels).toEqual([{ release: B, symvers: `${headers}!/usr/src/linux-headers-${B}/Module.symvers`, config: null }]);
    const other = await audit(["--basedir", root, "--kernel", "6.1.0-55-amd64", headers, module]);
    expect(other.code).toBe(2);
    expect(other.json.errors.map((e) => e.message)).toEqual([`6.1.0-55-amd64: no symvers found for this kernel under ${root}`]);
    expect(other.json.kernels.map((k) => k.release)).toEqual([B]);
  });
});

