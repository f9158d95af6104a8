/**
 * Test packages made with the real tools (dpkg-deb, ar, tar, gzip/xz/zstd), and the oracles that
 * list them (dpkg-deb -c / -f), for the package reader tests. Nothing here is committed as a
 * binary: every package is built in a temporary folder by the test that uses it.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import tarStream from "tar-stream";
import { readPackage, type PackageMember } from "../../src/package/package-file.js";
import { commandPresent, runsWith } from "../helpers/required.js";

/** The Debian packages .ci/run installs for these tests: dpkg (dpkg-deb), binutils (ar), rpm (rpmbuild, rpm2cpio), cpio, xz-utils, zstd. */
export const PACKAGE_TOOLS = ["dpkg-deb", "ar", "rpmbuild", "rpm", "rpm2cpio", "cpio", "xz", "zstd", "gzip", "tar"] as const;
/** Whether the package tests run: the tools are there, or under CI always (where their absence fails). */
export const PACKAGE_TESTS_RUN = runsWith(PACKAGE_TOOLS.every((t) => commandPresent(t)));

export function run(argv: string[], options: { cwd?: string; input?: Uint8Array } = {}): Buffer {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: options.cwd, input: options.input, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.error?.message ?? r.stderr.toString()}`);
  return r.stdout;
}

export interface ListedMember {
  path: string;
  type: PackageMember["type"];
  size: number;
  linkTarget: string | null;
  sha256?: string;
}

/** Every member readPackage visits, with the digest of each file's bytes when `digests`. */
export async function listPackage(file: string, digests = false, maxMemberSize?: number): Promise<{ members: ListedMember[]; problems: string[]; info: unknown }> {
  const members: ListedMember[] = [];
  const read = await readPackage(
    file,
    async (m) => {
      const entry: ListedMember = { path: m.path, type: m.type, size: m.size, linkTarget: m.linkTarget };
      if (digests && m.type === "file") entry.sha256 = createHash("sha256").update(await m.bytes()).digest("hex");
      members.push(entry);
    },
    maxMemberSize === undefined ? {} : { maxMemberSize },
  );
  return { members, problems: read.problems, info: read.info };
}

/** `dpkg-deb -c`: the data.tar members as dpkg lists them (path normalized as the reader does; "./" itself left out). */
export function dpkgList(deb: string): ListedMember[] {
  const out: ListedMember[] = [];
  for (const line of run(["dpkg-deb", "-c", deb]).toString("utf8").split("\n")) {
    if (line === "") continue;
    // "drwxr-xr-x root/root         0 2026-10-16 21:46 ./lib/" (and " -> target" for a symlink)
    const m = /^(\S)\S+ \S+ +(\d+) \S+ \S+ (.*)$/.exec(line);
    if (!m) throw new Error(`dpkg-deb -c: unexpected line ${line}`);
    let name = m[3]!;
    let linkTarget: string | null = null;
    if (m[1] === "l" || m[1] === "h") {
      const arrow = name.indexOf(m[1] === "l" ? " -> " : " link to ");
      linkTarget = name.slice(arrow + (m[1] === "l" ? 4 : 9));
      name = name.slice(0, arrow);
    }
    const path = name.split("/").filter((s) => s !== "" && s !== ".").join("/");
    if (path === "") continue;
    const type = m[1] === "-" ? "file" : m[1] === "d" ? "directory" : m[1] === "l" ? "symlink" : "other";
    out.push({ path, type, size: type === "file" ? Number(m[2]) : 0, linkTarget });
  }
  return out;
}

/** `dpkg-deb -f`: Package, Version, Architecture. */
export function dpkgFields(deb: string): { name: string; version: string; arch: string } {
  const f = (field: string) => run(["dpkg-deb", "-f", deb, field]).toString("utf8").trim();
  return { name: f("Package"), version: f("Version"), arch: f("Architecture") };
}

/**
 * A small tree for a test package: a fake module, a nested file, a long path (over tar's
 * 100-character name field), an empty file, a symlink, a hard link and a directory.
 */
export function makeTree(root: string, seed = 1): void {
  const files: Record<string, Buffer> = {
    "lib/modules/6.1.0-9-amd64/kernel/drivers/kabi_test.ko": Buffer.concat([Buffer.from("\x7fELF"), Buffer.alloc(70_000 + seed, seed & 0xff)]),
    "usr/src/linux-headers-6.1.0-9-amd64/Module.symvers": Buffer.from("0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n".repeat(500)),
    [`usr/share/doc/${"very-long-directory-name-".repeat(6)}/README`]: Buffer.from("long path\n"),
    "usr/share/doc/empty": Buffer.alloc(0),
  };
  for (const [rel, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), bytes);
  }
  mkdirSync(join(root, "lib/modules/6.1.0-9-amd64/updates"), { recursive: true });
  symlinkSync("/usr/src/linux-headers-6.1.0-9-amd64", join(root, "lib/modules/6.1.0-9-amd64/build"));
  linkSync(join(root, "lib/modules/6.1.0-9-amd64/kernel/drivers/kabi_test.ko"), join(root, HARD_LINK));
}

/** makeTree's hard link (to kabi_test.ko). */
export const HARD_LINK = "lib/modules/6.1.0-9-amd64/kernel/drivers/kabi_test_hard.ko";

/** `dpkg-deb --build` of `makeTree`, its data.tar compressed with `compression` (dpkg-deb -Z: gzip, xz, zstd, none). */
export function buildDeb(work: string, name: string, compression: "gzip" | "xz" | "zstd" | "none", seed = 1): string {
  const root = join(work, `${name}-${compression}-root`);
  makeTree(root, seed);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  writeFileSync(join(root, "DEBIAN/control"), `Package: ${name}\nVersion: 1.${seed}-2\nArchitecture: amd64\nMaintainer: kabi tests <kabi@example.org>\nDescription: a test package\n multi-line description\n`);
  chmodSync(join(root, "DEBIAN"), 0o755);
  const deb = join(work, `${name}_${compression}.deb`);
  run(["dpkg-deb", "--root-owner-group", `-Z${compression}`, "--build", root, deb]);
  return deb;
}

export interface RawTarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  body?: Buffer;
  linkname?: string;
  size?: number;
}

/** A tar archive with exactly these entries (tar-stream's pack: member names no tool would write, such as "../x"). */
export async function packTar(entries: RawTarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: Buffer) => parts.push(c));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, size: e.body?.length ?? 0, mode: 0o644 }, e.body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(parts);
}

/** A deb assembled with binutils' ar from the given members (names as given, contents as given). */
export function arDeb(work: string, name: string, members: [string, Uint8Array][]): string {
  const dir = join(work, `${name}-members`);
  mkdirSync(dir, { recursive: true });
  for (const [member, bytes] of members) writeFileSync(join(dir, member), bytes);
  const deb = join(work, `${name}.deb`);
  run(["ar", "rcD", deb, ...members.map(([m]) => m)], { cwd: dir });
  return deb;
}

export function compress(tool: "gzip" | "xz" | "zstd", bytes: Uint8Array): Buffer {
  return run(tool === "zstd" ? ["zstd", "-q", "-c"] : [tool, "-c"], { input: bytes });
}

export const readBytes = (file: string): Buffer => readFileSync(file);

/** rpmbuild's payload settings (w<level>.<codec>dio) for each codec, and an uncompressed payload (no PAYLOADCOMPRESSOR tag). */
export const RPM_PAYLOADS = { xz: "w9.xzdio", zstd: "w19.zstdio", gzip: "w9.gzdio", none: "w0.ufdio" } as const;

/**
 * `rpmbuild -bb` of a tiny spec installing `makeTree`'s files, the payload compressed as
 * `payload` says (rpmbuild's _binary_payload).
 */
export function buildRpm(work: string, name: string, payload: keyof typeof RPM_PAYLOADS, seed = 1): { rpm: string; root: string } {
  const base = join(work, `${name}-${payload}-rpm`);
  const root = join(base, "src");
  makeTree(root, seed);
  const spec = join(base, `${name}.spec`);
  writeFileSync(
    spec,
    [
      `Name: ${name}`,
      `Version: 1.${seed}`,
      "Release: 2.el9",
      "Summary: kabi test package",
      "License: GPL-2.0-only",
      "BuildArch: x86_64",
      "%description",
      "A kabi test package.",
      "%install",
      "cp -a %{tree}/. %{buildroot}/",
      "%files",
      "/lib/modules/6.1.0-9-amd64",
      "/usr/src/linux-headers-6.1.0-9-amd64",
      "/usr/share/doc",
      "",
    ].join("\n"),
  );
  run([
    "rpmbuild", "-bb", "--quiet",
    "--define", `_topdir ${join(base, "top")}`,
    "--define", `tree ${root}`,
    "--define", `_binary_payload ${RPM_PAYLOADS[payload]}`,
    // No post-install processing (stripping, compressing): the payload is the tree as it is.
    "--define", "__os_install_post %{nil}",
    "--define", "_build_id_links none",
    spec,
  ]);
  return { rpm: join(base, "top/RPMS/x86_64", `${name}-1.${seed}-2.el9.x86_64.rpm`), root };
}

/** `rpm -qp --qf`: NAME, VERSION-RELEASE, ARCH. */
export function rpmFields(rpm: string): { name: string; version: string; arch: string } {
  const [name, version, arch] = run(["rpm", "-qp", "--qf", "%{NAME}\\n%{VERSION}-%{RELEASE}\\n%{ARCH}\\n", rpm]).toString("utf8").split("\n");
  return { name: name!, version: version!, arch: arch! };
}

/** `rpm2cpio | cpio -itv`: the payload's members as cpio lists them (path normalized as the reader does). */
export function rpmCpioList(rpm: string): (ListedMember & { nlink: number })[] {
  const listing = run(["sh", "-c", 'rpm2cpio "$1" | cpio -itv --quiet', "sh", rpm]).toString("utf8");
  const out: (ListedMember & { nlink: number })[] = [];
  for (const line of listing.split("\n")) {
    if (line === "") continue;
    // "lrwxrwxrwx   1 root     root            4 Dec  3 18:31 ./usr/lib/x.ko -> t.ko"
    const m = /^(\S)\S+\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cpio -itv: unexpected line ${line}`);
    let name = m[4]!;
    let linkTarget: string | null = null;
    if (m[1] === "l") {
      const arrow = name.indexOf(" -> ");
      linkTarget = name.slice(arrow + 4);
      name = name.slice(0, arrow);
    }
    const type = m[1] === "-" ? "file" : m[1] === "d" ? "directory" : m[1] === "l" ? "symlink" : "other";
    out.push({ path: name.split("/").filter((s) => s !== "" && s !== ".").join("/"), type, size: type === "file" ? Number(m[3]) : 0, linkTarget, nlink: Number(m[2]) });
  }
  return out;
}
