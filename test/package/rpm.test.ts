/**
 * The RPM reader against rpm's own tools: the members readPackage visits are what
 * `rpm2cpio | cpio -itv` lists (path, type, size, link target, in payload order), the fields what
 * `rpm -qp --qf` prints, and each file's bytes those of the tree rpmbuild packed; for the
 * payloads rpmbuild writes with xz, zstd and gzip, through both codec implementations.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { detectPackage, PACKAGE_HEAD_LENGTH } from "../../src/package/package-file.js";
import { buildRpm, HARD_LINK, listPackage, RPM_PAYLOADS, rpmCpioList, rpmFields, PACKAGE_TESTS_RUN } from "./package-tools.js";

const work = mkdtempSync(join(tmpdir(), "kabi-rpm-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.KABI_NO_NATIVE;
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!PACKAGE_TESTS_RUN).each([["native"], ["fallback"]] as const)("RPM reader, %s codecs", (impl) => {
  it.each(Object.keys(RPM_PAYLOADS) as (keyof typeof RPM_PAYLOADS)[])("reads an rpmbuild package with a %s payload as rpm2cpio | cpio lists it", async (payload) => {
    if (impl === "fallback") process.env.KABI_NO_NATIVE = "1";
    const { rpm, root } = buildRpm(work, `kabi-test-${impl}`, payload);
    expect(detectPackage(readFileSync(rpm).subarray(0, PACKAGE_HEAD_LENGTH))).toBe("rpm");
    if (impl === "fallback" && payload === "xz") {
      // rpmbuild's xz payloads carry a SHA-256 check, which xz-embedded cannot verify: one clear error.
      await expect(listPackage(rpm)).rejects.toThrow(`${rpm}: payload (cpio, xz): xz stream with a SHA-256 integrity check, which the native-free xz decoder cannot verify`);
      return;
    }
    const { members, problems, info } = await listPackage(rpm, true);
    expect(problems).toEqual([]);
    const fields = rpmFields(rpm);
    expect(info).toEqual({ format: "rpm", name: fields.name, version: fields.version, arch: fields.arch });
    // cpio lists a hard link's earlier links with no contents (newc gives them to the last link);
    // the reader visits them right after that link, with its contents: the size is the tree's.
    const cpioListed = rpmCpioList(rpm);
    const waiting = cpioListed.filter((m) => m.type === "file" && m.nlink > 1 && m.size === 0).map((m) => m.path);
    const carrier = cpioListed.filter((m) => m.type === "file" && m.nlink > 1 && m.size > 0).map((m) => m.path);
    expect([...waiting, ...carrier].sort()).toEqual([HARD_LINK, HARD_LINK.replace("_hard", "")].sort());
    const listed = cpioListed.map(({ nlink, ...m }) => (waiting.includes(m.path) ? { ...m, size: statSync(join(root, m.path)).size } : m));
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    expect(members.map(({ sha256: _, ...m }) => m).sort(byPath)).toEqual(listed.sort(byPath));
    expect(members.findIndex((m) => m.path === waiting[0])).toBe(members.findIndex((m) => m.path === carrier[0]) + 1);
    const files = members.filter((m) => m.type === "file");
    expect(files.length).toBe(5);
    for (const m of files) expect(m.sha256, m.path).toBe(sha(readFileSync(join(root, m.path))));
    expect(members.find((m) => m.type === "symlink")).toEqual({ path: "lib/modules/6.1.0-9-amd64/build", type: "symlink", size: 0, linkTarget: "/usr/src/linux-headers-6.1.0-9-amd64" });
  });
});
