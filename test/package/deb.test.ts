/**
 * The deb reader against dpkg-deb, the independent oracle: the members readPackage visits (path,
 * type, size, link target, in archive order) are what `dpkg-deb -c` lists, the package fields
 * what `dpkg-deb -f` prints, and each file's bytes those of the tree the package was built from;
 * with every data.tar compression dpkg-deb writes, through both codec implementations, and on the
 * real Debian kernel packages of the corpus cache when it holds them.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { detectPackage, PACKAGE_HEAD_LENGTH, readPackage } from "../../src/package/package-file.js";
import { corpusDir } from "../helpers/corpus.js";
import { buildDeb, dpkgFields, dpkgList, HARD_LINK, listPackage, PACKAGE_TESTS_RUN } from "./package-tools.js";

const work = mkdtempSync(join(tmpdir(), "kabi-deb-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.KABI_NO_NATIVE;
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!PACKAGE_TESTS_RUN).each([["native"], ["fallback"]] as const)("deb reader, %s codecs", (impl) => {
  it.each(["gzip", "xz", "zstd", "none"] as const)("reads a dpkg-deb -Z%s package as dpkg-deb lists it", async (compression) => {
    if (impl === "fallback") process.env.KABI_NO_NATIVE = "1";
    const deb = buildDeb(work, `kabi-test-${impl}`, compression);
    const head = readFileSync(deb).subarray(0, PACKAGE_HEAD_LENGTH);
    expect(detectPackage(head)).toBe("deb");
    const { members, problems, info } = await listPackage(deb, true);
    expect(problems).toEqual([]);
    const fields = dpkgFields(deb);
    expect(info).toEqual({ format: "deb", name: fields.name, version: fields.version, arch: fields.arch });
    expect(members.map(({ sha256: _, ...m }) => m)).toEqual(dpkgList(deb));
    // The bytes: those of the tree dpkg-deb packed.
    const root = join(work, `kabi-test-${impl}-${compression}-root`);
    const files = members.filter((m) => m.type === "file");
    expect(files.length).toBe(4);
    for (const m of files) expect(m.sha256, m.path).toBe(sha(readFileSync(join(root, m.path))));
    // A tar hard link is reported as one ("other", its target as stored), never resolved.
    expect(members.find((m) => m.path === HARD_LINK)).toEqual({ path: HARD_LINK, type: "other", size: 0, linkTarget: "./lib/modules/6.1.0-9-amd64/kernel/drivers/kabi_test.ko" });
    expect(members.find((m) => m.type === "symlink")).toEqual({ path: "lib/modules/6.1.0-9-amd64/build", type: "symlink", size: 0, linkTarget: "/usr/src/linux-headers-6.1.0-9-amd64" });
  });
});

const debDir = join(corpusDir(), "debs");
const realDebs = existsSync(debDir) ? readdirSync(debDir).filter((f) => f.endsWith(".deb")).map((f) => join(debDir, f)) : [];

describe.skipIf(!PACKAGE_TESTS_RUN)("real Debian kernel packages (corpus cache)", { timeout: 300_000 }, () => {
  it.skipIf(realDebs.length === 0).each(realDebs.length > 0 ? realDebs : ["(none)"])("%s: members as dpkg-deb -c lists them, sample bytes as dpkg-deb extracts them", async (deb) => {
    const { members, problems, info } = await listPackage(deb);
    expect(problems).toEqual([]);
    const fields = dpkgFields(deb);
    expect(info).toEqual({ format: "deb", name: fields.name, version: fields.version, arch: fields.arch });
    expect(members).toEqual(dpkgList(deb));
    // A spread of file members: the bytes readPackage hands over are those dpkg-deb | tar extracts.
    const files = members.filter((m) => m.type === "file" && m.size > 0);
    const sample = new Set(files.filter((_, i) => i % Math.max(1, Math.floor(files.length / 5)) === 0).map((m) => m.path));
    const got = new Map<string, string>();
    // Every file's bytes taken (and dropped): the payload streams through, never held whole, so
    // the process grows by far less than the payload when that is large (the 6.1 image: ~400 MB).
    const payload = files.reduce((n, m) => n + m.size, 0);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    await readPackage(deb, async (m) => {
      if (m.type !== "file") return;
      const bytes = await m.bytes();
      if (sample.has(m.path)) got.set(m.path, sha(bytes));
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    });
    if (payload > 350 * 1024 * 1024) expect(rssPeak - rssBefore, `payload of ${payload} bytes`).toBeLessThan(250 * 1024 * 1024);
    // One extraction of every sampled member: tar writes them in archive order, one after the other.
    const ordered = files.filter((m) => sample.has(m.path));
    const r = spawnSync("sh", ["-c", 'deb="$1"; shift; dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$@"', "sh", deb, ...ordered.map((m) => `./${m.path}`)], { maxBuffer: 1 << 30 });
    expect(r.status).toBe(0);
    let at = 0;
    for (const m of ordered) {
      expect(got.get(m.path), m.path).toBe(sha(r.stdout.subarray(at, at + m.size)));
      at += m.size;
    }
    expect(at).toBe(r.stdout.length);
  });
});
