/**
 * Packages as `kabi audit` input, on Red Hat-style RPMs built with rpmbuild from real Debian
 * modules and symvers (fixtures/packages/build-rpms.sh: kernel-core with xz payload, kernel-modules
 * with zstd, a vendor's kmod with gzip): auditing them (with Debian's linux-headers-6.1.0-54-amd64
 * deb for a second kernel) gives the verdicts of auditing the trees rpm2cpio | cpio unpacks, except
 * that a kernel package's own modules are its residents, not judged on it (docs/packages.md).
 * The packages are in the corpus cache (fixtures/packages/fetch-packages.sh; CI runs it).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { audit, needPackages, unpack, verdictsByMember } from "../helpers/packages.js";

const A = "6.1.0-53-amd64";
const B = "6.1.0-54-amd64";
const work = mkdtempSync(join(tmpdir(), "kabi-package-audit-rpm-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("kabi audit on Red Hat-style RPMs built from the same modules", () => {
  it(`kernel-core + kernel-modules + kmod RPMs of ${A} (+ linux-headers-${B}.deb): the verdicts of the unpacked trees, residents not judged on their kernel`, { timeout: 300_000 }, async ({ skip }) => {
    const pkgs = needPackages(skip, ["dpkg-deb", "rpm2cpio", "cpio"]);
    const rpms = ["kernel-core", "kernel-modules", "kmod-kabi_fixtures"].map((n) => pkgs.get(n)!);
    const headers = pkgs.get(`linux-headers-${B}`)!;
    const root = join(work, "rpm-root");
    for (const r of rpms) unpack(r, root);
    const hdr = join(work, "headers-rpm");
    unpack(headers, hdr);
    const hdrSymvers = join(hdr, `usr/src/linux-headers-${B}/Module.symvers`);

    const fromPackages = await audit(["--basedir", root, ...rpms, headers]);
    // The trees: kernel A's symvers as the kernel-core package installs it, its module tree under
    // the root (its vermagic comes from there, as the package audit takes it from the residents).
    const fromTrees = await audit([
      "--basedir",
      root,
      "--symvers",
      `${A}=${join(root, `lib/modules/${A}/symvers.gz`)}`,
      "--symvers",
      `${B}=${hdrSymvers}`,
      join(root, "lib/modules"),
      join(root, "usr/lib/modules"),
    ]);
    expect(fromPackages.json.errors).toEqual([]);
    expect(fromPackages.json.kernels.map((k) => k.release)).toEqual([A, B]);
    // The first of the package's two symvers (lib/modules/A/symvers.gz, boot/symvers-A.gz).
    expect(fromPackages.json.kernels[0]!.symvers).toMatch(new RegExp(`!/(lib/modules/${A}/symvers\\.gz|boot/symvers-${A}\\.gz)$`));

    const got = verdictsByMember(fromPackages.json, [root]);
    const want = verdictsByMember(fromTrees.json, [root]);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    const resident = (m: string) => new RegExp(`^(usr/)?lib/modules/${A}/kernel/`).test(m);
    const residents = [...got.keys()].filter(resident);
    const kmods = [...got.keys()].filter((m) => m.includes("/extra/kabi_fixtures/"));
    expect(residents.length).toBeGreaterThan(200);
    expect(kmods.length).toBe(8);
    for (const [m, v] of want) {
      const pv = JSON.parse(got.get(m)!) as Record<string, unknown>;
      const tv = JSON.parse(v) as Record<string, unknown>;
      // Every module on B, and the kmod's on A, exactly as the trees; a resident of A is A's own
      // module: not judged on A (the trees' audit judges it, compatible, like any candidate).
      expect(JSON.stringify(pv[B]), `${m} on ${B}`).toBe(JSON.stringify(tv[B]));
      if (resident(m)) {
        expect(pv[A], `${m} on ${A}`).toBeUndefined();
        expect((tv[A] as { compatible: boolean }).compatible, `${m} on ${A} (trees)`).toBe(true);
      } else expect(JSON.stringify(pv[A]), `${m} on ${A}`).toBe(JSON.stringify(tv[A]));
    }
  });
});

describe("kabi audit with a broken RPM among good packages", () => {
  it("one line naming the truncated RPM, exit 2, the other packages audited as without it", { timeout: 120_000 }, async ({ skip }) => {
    const pkgs = needPackages(skip, []);
    const core = pkgs.get("kernel-core")!;
    const kmod = pkgs.get("kmod-kabi_fixtures")!;
    const headers = pkgs.get(`linux-headers-${B}`)!;
    // Cut inside its gzip payload, after some of its modules (the payload is ~13 KB of ~14 KB).
    const cut = join(work, "kmod-cut.rpm");
    copyFileSync(kmod, cut);
    truncateSync(cut, readFileSync(kmod).length - 2048);
    const root = join(work, "empty-root");
    mkdirSync(root, { recursive: true });
    const without = await audit(["--basedir", root, core, headers]);
    const whole = await audit(["--basedir", root, core, kmod, headers]);
    const mixed = await audit(["--basedir", root, core, cut, headers]);
    // The whole kmod does contribute modules; the cut one none, and one line.
    expect(whole.json.modules.length).toBe(without.json.modules.length + 8);
    expect(mixed.code).toBe(2);
    expect(mixed.json.errors.length).toBe(1);
    expect(mixed.json.errors[0]!.message.startsWith(`${cut}: `)).toBe(true);
    expect(mixed.stderr.trim().split("\n")).toHaveLength(1);
    expect(mixed.json.kernels).toEqual(without.json.kernels);
    expect(mixed.json.modules).toEqual(without.json.modules);
  });
});
