/**
 * Entries under lib/modules that name no kernel directory inside the root: an absolute symlink to a
 * module tree kept elsewhere on the host (dangling inside the root, where kabi resolves it), a
 * symlink loop, a symlink to a file, a plain file. Each is one line naming it and the reason, in
 * weak-modules (text and --json, an error: exit 1), kabi status (and --dkms; exit 2) and kabi audit
 * (exit 2), and the other kernels are still processed. A symlink to a directory inside the root
 * (relative, or absolute and resolved inside the root) is a kernel as before.
 */
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { StatusReport } from "../../src/weak/weak-status.js";
import { captureIO } from "../helpers/capture-io.js";
import { addKernel, FIXTURES, installFixture, K53, K54, makeRoot, removeRoot, runWeak, SYMVERS } from "./weak-root.js";

const CONSUMER = `/lib/modules/${K54}/extra/kabi/kabi_consumer.ko`;
/** The target kernel that is a real directory: it must still get its link whatever the others are. */
const GOOD = "6.1.0-90-amd64";
const ELSEWHERE = "6.1.0-91-amd64";
const LOOP = "6.1.0-92-amd64";
const TO_FILE = "6.1.0-93-amd64";
const PLAIN_FILE = "6.1.0-94-amd64";

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await removeRoot(cleanup.pop()!);
});

/** K54 holds a provider and a consumer in extra/kabi/. */
async function baseRoot(): Promise<string> {
  const root = await makeRoot();
  cleanup.push(root);
  await addKernel(root, K54, "debian");
  await installFixture(root, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
  await installFixture(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
  return root;
}

/** Kernel `release` at `<root><dir>` with K53's symvers (Debian headers) and K53's provider in its extra/: K54's consumer is compatible there. */
async function addTarget(root: string, release: string, dir = `/lib/modules/${release}`): Promise<void> {
  await mkdir(path.join(root + dir, "extra"), { recursive: true });
  await copyFile(path.join(FIXTURES, K53, "kabi_provider.ko"), path.join(root + dir, "extra/kabi_provider.ko"));
  const headers = path.join(root, "usr/src", `linux-headers-${release}`);
  await mkdir(headers, { recursive: true });
  await writeFile(path.join(headers, "Module.symvers"), gunzipSync(await readFile(path.join(SYMVERS, `${K53}.symvers.gz`))));
}

/**
 * A root with GOOD (a real kernel directory) and four entries that are no kernel directory inside
 * the root, each with symvers so that only its directory keeps it out; `outside` is a module tree
 * kept on the host outside the root, which lib/modules/ELSEWHERE links to. Returns the expected lines.
 */
async function hostileKernelsRoot(): Promise<{ root: string; outside: string; lines: string[] }> {
  const root = await baseRoot();
  await addTarget(root, GOOD);
  const outsideBase = await mkdtemp(path.join(os.tmpdir(), "kabi-kernel-elsewhere-"));
  cleanup.push(outsideBase);
  const outside = path.join(outsideBase, ELSEWHERE);
  // As an image builder does: the tree is kept elsewhere, lib/modules/K links to it by its host path.
  await addTarget(root, ELSEWHERE);
  await rename(path.join(root, "lib/modules", ELSEWHERE), outside);
  await symlink(outside, path.join(root, "lib/modules", ELSEWHERE));
  await addTarget(root, LOOP);
  await rm(path.join(root, "lib/modules", LOOP), { recursive: true });
  await symlink(LOOP, path.join(root, "lib/modules", LOOP));
  await addTarget(root, TO_FILE);
  await rm(path.join(root, "lib/modules", TO_FILE), { recursive: true });
  await writeFile(path.join(root, "boot-image"), "not a kernel tree\n");
  await symlink("/boot-image", path.join(root, "lib/modules", TO_FILE));
  await addTarget(root, PLAIN_FILE);
  await rm(path.join(root, "lib/modules", PLAIN_FILE), { recursive: true });
  await writeFile(path.join(root, "lib/modules", PLAIN_FILE), "");
  // Hidden files are not kernels and not worth a line (kabi's own lock lives there).
  await writeFile(path.join(root, "lib/modules/.keep"), "");
  const m = path.join(root, "lib/modules");
  const lines = [
    `${m}/${ELSEWHERE}: symbolic link to ${outside}, which does not exist inside the root (links are resolved inside the root, never followed out of it); kernel skipped`,
    `${m}/${LOOP}: too many levels of symbolic links; kernel skipped`,
    `${m}/${TO_FILE}: symbolic link to /boot-image, a regular file inside the root, not a kernel directory; kernel skipped`,
    `${m}/${PLAIN_FILE}: a regular file, not a kernel directory; kernel skipped`,
  ];
  return { root, outside, lines };
}

/** The lines of `text` that start with `prefix: `, without it. */
function diagnostics(text: string, prefix: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${prefix}: `))
    .map((l) => l.slice(prefix.length + 2));
}

/** Every entry under `dir`, recursively ("rel" or "rel -> target" for symlinks), sorted: to see nothing was written there. */
async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, rel: string): Promise<void> => {
    for (const n of await readdir(p)) {
      const q = path.join(p, n);
      const r = rel === "" ? n : `${rel}/${n}`;
      out.push(r);
      if ((await lstat(q)).isDirectory()) await walk(q, r);
    }
  };
  await walk(dir, "");
  return out.sort();
}

async function linkOf(root: string, kernelDir: string): Promise<string[]> {
  const dir = path.join(root + kernelDir, "weak-updates/kabi");
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function runMain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await main(args, io);
  return { code, out: io.stdout, err: io.stderr };
}

/** Flags for the tests: no initramfs, depmod a no-op that always succeeds. */
function weakArgs(root: string, ...rest: string[]): string[] {
  return ["--basedir", root, "--no-initramfs", "--depmod", "/bin/true", ...rest];
}

describe("kernel directories kabi cannot resolve inside the root", () => {
  it("weak-modules: one error line each (a symlink dangling inside the root, a loop, a symlink to a file, a file), exit 1; the other kernel still gets its link and its depmod", async () => {
    const { root, outside, lines } = await hostileKernelsRoot();
    const before = await entries(outside);
    const added = await runWeak(weakArgs(root, "--add-modules"), root + CONSUMER + "\n");
    expect(added.code, added.err).toBe(1);
    expect(diagnostics(added.err, "weak-modules")).toEqual(lines);
    expect(await linkOf(root, `/lib/modules/${GOOD}`)).toEqual(["kabi_consumer.ko"]);
    // Nothing followed out of the root: the tree kept elsewhere is as it was.
    expect(await entries(outside)).toEqual(before);

    const json = await runWeak(weakArgs(root, "--json", `--add-kernel=${GOOD}`));
    expect(json.code, json.err).toBe(1);
    const doc = JSON.parse(json.out) as { kernels: string[]; errors: string[]; warnings: string[]; noSymvers: string[] };
    expect(doc.errors).toEqual(lines);
    expect(doc.warnings).toEqual([]);
    expect(doc.kernels).toEqual([GOOD]);

    // The kernel given is one of them: its line once, no "not installed" besides.
    for (const [release, line] of [
      [ELSEWHERE, lines[0]],
      [PLAIN_FILE, lines[3]],
    ] as const) {
      const one = await runWeak(weakArgs(root, `--add-kernel=${release}`));
      expect(one.code, one.err).toBe(1);
      expect(diagnostics(one.err, "weak-modules")).toEqual(lines);
      expect(one.err).toContain(line);
      expect(one.err).not.toContain("not installed");
    }

    // A new kernel's depmod still runs while the odd entries stay: --remove-kernel then --add-kernel.
    expect((await runWeak(weakArgs(root, `--remove-kernel=${GOOD}`))).code).toBe(1);
    expect(await linkOf(root, `/lib/modules/${GOOD}`)).toEqual([]);
    const again = await runWeak(weakArgs(root, "--json", `--add-kernel=${GOOD}`));
    const post = (JSON.parse(again.out) as { post: { kernel: string; step: string; ok: boolean }[] }).post;
    expect(post).toEqual([expect.objectContaining({ kernel: GOOD, step: "depmod", ok: true })]);
    expect(await linkOf(root, `/lib/modules/${GOOD}`)).toEqual(["kabi_consumer.ko"]);
  });

  it("kabi status (text, --json, --dkms) and kabi audit --basedir: the same lines, exit 2; the other kernels reported", async () => {
    const { root, lines } = await hostileKernelsRoot();
    expect((await runWeak(weakArgs(root, `--add-kernel=${GOOD}`))).code).toBe(1);

    const text = await runMain(["status", "--basedir", root]);
    expect(text.code, text.err).toBe(2);
    expect(diagnostics(text.err, "kabi status")).toEqual(lines);
    expect(text.out).toContain(`  ${GOOD}: installed-weak from ${K54}\n`);

    const json = await runMain(["status", "--basedir", root, "--json"]);
    expect(json.code).toBe(2);
    const report = JSON.parse(json.out) as StatusReport;
    expect(report.errors).toEqual(lines);
    expect(report.kernels.map((k) => k.release)).toEqual([K54, GOOD]);

    const dkmsTree = path.join(root, "var/lib/dkms");
    await mkdir(dkmsTree, { recursive: true });
    const dkms = await runMain(["status", "--basedir", root, "--dkms"]);
    expect(dkms.code).toBe(2);
    for (const l of lines) expect(diagnostics(dkms.err, "kabi status")).toContain(l);

    const audit = await runMain(["audit", "--basedir", root, "--json", path.join(FIXTURES, K54, "kabi_consumer.ko")]);
    expect(audit.code, audit.err).toBe(2);
    const a = JSON.parse(audit.out) as { kernels: { release: string }[]; errors: { path: string; message: string }[] };
    expect(a.kernels.map((k) => k.release)).toEqual([K54, GOOD]);
    expect(a.errors.map((e) => e.message)).toEqual(lines);
    expect(a.errors.map((e) => e.path)).toEqual([ELSEWHERE, LOOP, TO_FILE, PLAIN_FILE].map((k) => path.join(root, "lib/modules", k)));
  });

  it("a kernel directory symlinked to a directory inside the root (relative, or absolute and resolved inside the root) is a kernel: linked, no error", async () => {
    const root = await baseRoot();
    const REL = "6.1.0-95-amd64";
    const ABS = "6.1.0-96-amd64";
    await addTarget(root, REL, `/srv/trees/${REL}`);
    await addTarget(root, ABS, `/srv/trees/${ABS}`);
    await symlink(`../../srv/trees/${REL}`, path.join(root, "lib/modules", REL));
    await symlink(`/srv/trees/${ABS}`, path.join(root, "lib/modules", ABS));
    for (const K of [REL, ABS]) {
      const r = await runWeak(weakArgs(root, "--json", `--add-kernel=${K}`));
      expect(r.code, r.err).toBe(0);
      const doc = JSON.parse(r.out) as { errors: string[]; warnings: string[] };
      expect(doc.errors).toEqual([]);
      expect(await linkOf(root, `/srv/trees/${K}`)).toEqual(["kabi_consumer.ko"]);
      // The relative link leads to the same place on the host: depmod runs. The absolute one leads
      // elsewhere on the host: depmod is not run there (one warning, the rule of issue 14).
      if (K === REL) expect(doc.warnings).toEqual([]);
      else expect(doc.warnings).toEqual([expect.stringMatching(new RegExp(`^depmod for ${K} failed \\(links kept\\): not run: ${path.join(root, "lib/modules", K)}[: ]`))]);
    }
    const s = await runMain(["status", "--basedir", root]);
    expect(s.err).toBe("");
    expect(s.code).toBe(0);
    expect(s.out).toContain(`  ${REL}: installed-weak from ${K54}\n`);
    expect(s.out).toContain(`  ${ABS}: installed-weak from ${K54}\n`);
  });

  it("lib/modules/K dangling inside the root while usr/lib/modules/K is the kernel's directory: the kernel is used from there, no error line", async () => {
    const root = await baseRoot();
    const K = "6.1.0-97-amd64";
    await addTarget(root, K, `/usr/lib/modules/${K}`);
    await symlink(`/elsewhere/${K}`, path.join(root, "lib/modules", K));
    const r = await runWeak(weakArgs(root, "--json", `--add-kernel=${K}`));
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { errors: string[] }).errors).toEqual([]);
    expect(await linkOf(root, `/usr/lib/modules/${K}`)).toEqual(["kabi_consumer.ko"]);
  });
});
