import { describe, expect, it } from "vitest";
import { compareKernelReleases, isUsableKernelRelease } from "../../src/root/kernel-release.js";

describe("compareKernelReleases", () => {
  it("orders numerically, not lexically", () => {
    const sorted = ["6.12.117+deb12-amd64", "6.1.0-10-amd64", "6.12.100+deb12-amd64", "6.1.0-9-amd64", "5.10.0-28-amd64"].sort(
      compareKernelReleases,
    );
    expect(sorted).toEqual(["5.10.0-28-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64", "6.12.100+deb12-amd64", "6.12.117+deb12-amd64"]);
  });

  it("matches the brief's examples pairwise", () => {
    const chain = ["6.1.0-9", "6.1.0-10", "6.12.100+deb12", "6.12.117+deb12"];
    for (let i = 0; i + 1 < chain.length; i++) {
      expect(compareKernelReleases(chain[i], chain[i + 1])).toBeLessThan(0);
      expect(compareKernelReleases(chain[i + 1], chain[i])).toBeGreaterThan(0);
    }
  });

  it("orders RHEL releases", () => {
    const rhel = [
      "5.14.0-427.13.1.el9_4.x86_64",
      "5.14.0-70.13.1.el9_0.x86_64",
      "5.14.0-362.8.1.el9_3.x86_64",
      "5.14.0-427.2.1.el9_4.x86_64",
    ].sort(compareKernelReleases);
    expect(rhel).toEqual([
      "5.14.0-70.13.1.el9_0.x86_64",
      "5.14.0-362.8.1.el9_3.x86_64",
      "5.14.0-427.2.1.el9_4.x86_64",
      "5.14.0-427.13.1.el9_4.x86_64",
    ]);
  });

  it("puts ~ before everything, even the end", () => {
    expect(compareKernelReleases("6.2~rc1", "6.2")).toBeLessThan(0);
    expect(compareKernelReleases("6.2~rc1", "6.2~rc2")).toBeLessThan(0);
    expect(compareKernelReleases("6.2", "6.2.1")).toBeLessThan(0);
  });

  it("treats long digit runs and leading zeros as numbers", () => {
    expect(compareKernelReleases("1.99999999999999999999", "1.100000000000000000000")).toBeLessThan(0);
    expect(compareKernelReleases("1.010", "1.9")).toBeGreaterThan(0);
  });

  it("is a total order: equal-by-version strings still differ, and only identical ones are 0", () => {
    expect(compareKernelReleases("6.1-1", "6.1_1")).not.toBe(0);
    expect(Math.sign(compareKernelReleases("6.1-1", "6.1_1"))).toBe(-Math.sign(compareKernelReleases("6.1_1", "6.1-1")));
    expect(compareKernelReleases("6.1.0-9-amd64", "6.1.0-9-amd64")).toBe(0);
  });

  it("never treats characters as patterns", () => {
    expect(compareKernelReleases("6.1.*", "6.1.[0]")).not.toBe(0);
    expect(["6.1.0+x", "6.1.0.x", "6.1.0*x"].sort(compareKernelReleases)).toHaveLength(3);
  });
});

describe("isUsableKernelRelease", () => {
  it("rejects what can't be one directory name", () => {
    for (const bad of ["", ".", "..", "6.1/../../etc", "a\0b"]) expect(isUsableKernelRelease(bad)).toBe(false);
    for (const ok of ["6.1.0-9-amd64", "6.12.117+deb12-amd64", "6.2~rc1", "a_b", "*", "[x]"]) expect(isUsableKernelRelease(ok)).toBe(true);
  });
});

describe("isUsableKernelRelease: odd release strings", () => {
  it("takes spaces, glob characters, a leading '-' and 'a..b' literally; refuses control characters, '/', '.', '..'", () => {
    for (const ok of ["6.1 with space", "6.1*[ab]?", "-b.", "--help", "a..b", "6.1.0~rc1"]) expect(isUsableKernelRelease(ok), ok).toBe(true);
    for (const bad of ["6.1\nx", "6.1\tx", "6.1\u001b[31m", "a\u007fb", "a\0b", "a/b", ".", "..", ""]) expect(isUsableKernelRelease(bad), JSON.stringify(bad)).toBe(false);
  });
});
