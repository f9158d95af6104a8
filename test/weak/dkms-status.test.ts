/**
 * `kabi status --dkms` on DKMS trees built from the committed fixture modules, in the layout dkms
 * 3.0.10 makes (checked against a real `dkms add/build/install` of kabi_provider on 6.1.0-53-amd64):
 *   var/lib/dkms/<m>/<v>/source -> /usr/src/<m>-<v>
 *   var/lib/dkms/<m>/<v>/<K>/x86_64/{module/<file>.ko, log/make.log}
 *   var/lib/dkms/<m>/kernel-<K>-x86_64 -> <v>/<K>/x86_64     (installed)
 *   lib/modules/<K>/updates/dkms/<file>.ko                   (the installed copy, byte for byte)
 */
import { appendFile, copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { DkmsStatusReport } from "../../src/weak/dkms-status.js";
import { captureIO } from "../helpers/capture-io.js";
import { addKernel, baseArgs, FIXTURES, K53, K54, makeRoot, removeRoot, runWeak, symlinkInto } from "./weak-root.js";

const roots: string[] = [];
afterEach(async () => {
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

async function twoKernels(): Promise<string> {
  const root = await makeRoot();
  roots.push(root);
  await addKernel(root, K53, "debian");
  await addKernel(root, K54, "debian");
  return root;
}

/** One module file of a DKMS build: the fixture `fixture` built for `builtFor`, named `name` in module/. */
interface BuildFile {
  builtFor: string;
  fixture: string;
  name?: string;
}

/** `dkms add`: the version folder and its source link (the source folder with a dkms.conf). */
async function dkmsAdd(root: string, m: string, v: string): Promise<void> {
  const src = path.join(root, "usr/src", `${m}-${v}`);
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, "dkms.conf"), `PACKAGE_NAME=${m}\nPACKAGE_VERSION=${v}\n`);
  await mkdir(path.join(root, "var/lib/dkms", m, v), { recursive: true });
  await symlink(`/usr/src/${m}-${v}`, path.join(root, "var/lib/dkms", m, v, "source"));
}

/** `dkms build -k K`: module/ and log/ of <m>/<v>/<K>/x86_64. */
async function dkmsBuild(root: string, m: string, v: string, k: string, files: readonly BuildFile[]): Promise<void> {
  const dir = path.join(root, "var/lib/dkms", m, v, k, "x86_64");
  await mkdir(path.join(dir, "module"), { recursive: true });
  await mkdir(path.join(dir, "log"), { recursive: true });
  await writeFile(path.join(dir, "log/make.log"), "make\n");
  for (const f of files) await copyFile(path.join(FIXTURES, f.builtFor, f.fixture), path.join(dir, "module", f.name ?? f.fixture));
}

/** `dkms install -k K`: each built file copied to lib/modules/K/updates/dkms/, and the kernel-K-arch link. */
async function dkmsInstall(root: string, m: string, v: string, k: string, rename: Record<string, string> = {}): Promise<void> {
  const moduleDir = path.join(root, "var/lib/dkms", m, v, k, "x86_64", "module");
  const dest = path.join(root, "lib/modules", k, "updates/dkms");
  await mkdir(dest, { recursive: true });
  for (const f of await readdir(moduleDir)) await copyFile(path.join(moduleDir, f), path.join(dest, rename[f] ?? f));
  await symlink(`${v}/${k}/x86_64`, path.join(root, "var/lib/dkms", m, `kernel-${k}-x86_64`));
}

async function statusDkms(root: string, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await main(["status", "--basedir", root, "--dkms", ...extra], io);
  return { code, out: io.stdout, err: io.stderr };
}

async function statusJson(root: string): Promise<{ code: number; report: DkmsStatusReport }> {
  const r = await statusDkms(root, "--json");
  return { code: r.code, report: JSON.parse(r.out) as DkmsStatusReport };
}

async function addKernel54Links(root: string): Promise<void> {
  const r = await runWeak([...baseArgs(root), "--add-kernel", K54]);
  expect(r.code, r.err).toBe(0);
}

const TWIN_AND_PROP: BuildFile[] = [
  { builtFor: K53, fixture: "kabi_gpl_twin.ko" },
  { builtFor: K53, fixture: "kabi_proprietary.ko" },
];

describe("kabi status --dkms", () => {
  it("installed on the build kernel, installed-weak from it on the other (links in weak-updates/dkms/)", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.err).toBe("");
    expect(r.out).toBe(`kabi_dkms/1.0, ${K53}, x86_64: installed\nkabi_dkms/1.0, ${K54}, x86_64: installed-weak from ${K53}\n`);
    expect(r.code).toBe(0);
    const { report } = await statusJson(root);
    const weak = report.lines.find((l) => l.kernel === K54)!;
    expect(weak).toMatchObject({ module: "kabi_dkms", version: "1.0", arch: "x86_64", state: "installed-weak", buildKernel: K53 });
    expect(weak.links).toEqual([`/lib/modules/${K54}/weak-updates/dkms/kabi_gpl_twin.ko`, `/lib/modules/${K54}/weak-updates/dkms/kabi_proprietary.ko`]);
    expect(report.lines.find((l) => l.kernel === K53)!.files).toEqual([`/lib/modules/${K53}/updates/dkms/kabi_gpl_twin.ko`, `/lib/modules/${K53}/updates/dkms/kabi_proprietary.ko`]);
  });

  it("installed-weak through flat links (weak-updates/<file>), as Red Hat's script makes them", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    for (const f of ["kabi_gpl_twin.ko", "kabi_proprietary.ko"]) {
      await symlinkInto(`/lib/modules/${K53}/updates/dkms/${f}`, path.join(root, "lib/modules", K54, "weak-updates", f));
    }
    const r = await statusDkms(root);
    expect(r.out).toContain(`kabi_dkms/1.0, ${K54}, x86_64: installed-weak from ${K53}\n`);
    expect(r.code).toBe(0);
  });

  it("built for a kernel and not installed there: built; compatible but not linked says which command links it", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    let r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: installed\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: compatible, not linked (build for ${K53}; run: weak-modules --add-kernel ${K54})\n`,
    );
    // Not usable on K54 although it could be: exit 1, as plain kabi status says of the same root.
    expect(r.code).toBe(1);
    expect(r.code).toBe((await main(["status", "--basedir", root], captureIO())));
    expect((await statusJson(root)).report.unusable).toEqual([{ module: "kabi_gpl_twin", kernel: K54, states: ["compatible, not linked"] }, { module: "kabi_proprietary", kernel: K54, states: ["compatible, not linked"] }]);
    await dkmsBuild(root, "kabi_dkms", "1.0", K54, [
      { builtFor: K54, fixture: "kabi_gpl_twin.ko" },
      { builtFor: K54, fixture: "kabi_proprietary.ko" },
    ]);
    r = await statusDkms(root);
    expect(r.out).toBe(`kabi_dkms/1.0, ${K53}, x86_64: installed\nkabi_dkms/1.0, ${K54}, x86_64: built\n`);
  });

  it("matches a weak link to its build by content: a renamed installed copy still counts", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53, { "kabi_gpl_twin.ko": "twin-renamed.ko" });
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.out).toBe(`kabi_dkms/1.0, ${K53}, x86_64: installed\nkabi_dkms/1.0, ${K54}, x86_64: installed-weak from ${K53}\n`);
    const { report } = await statusJson(root);
    expect(report.lines.find((l) => l.kernel === K54)!.links).toContain(`/lib/modules/${K54}/weak-updates/dkms/twin-renamed.ko`);
  });

  it("does not match a same-named file with other bytes: not installed-weak, and dkms's installed mark is reported broken", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    // The build changes after the install (a rebuild never installed): same names, other bytes.
    await appendFile(path.join(root, "var/lib/dkms/kabi_dkms/1.0", K53, "x86_64/module/kabi_gpl_twin.ko"), "rebuilt");
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: broken: marked installed, but ${K53}'s tree has no file equal to the build's kabi_gpl_twin.ko (run: dkms install --force kabi_dkms/1.0 -k ${K53})\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: not installed-weak: built for ${K53} but installed for none (weak-modules links installed modules only; run: dkms install kabi_dkms/1.0 -k ${K53})\n`,
    );
    expect(r.code).toBe(1);
  });

  it("one of a build's two modules linked is not installed-weak: the other's reason is given", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, [
      { builtFor: K53, fixture: "kabi_gpl_twin.ko" },
      { builtFor: K53, fixture: "kabi_provider.ko" },
    ]);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: installed\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: incompatible (build for ${K53}): only kabi_gpl_twin.ko linked; kabi_provider.ko: 3 symbols missing or with other CRCs (__alloc_skb, skb_put, kfree_skb_reason)\n`,
    );
    expect(r.code).toBe(1);
    const { report } = await statusJson(root);
    const line = report.lines.find((l) => l.kernel === K54)!;
    expect(line.state).toBe("incompatible");
    expect(line.symbols!.sort()).toEqual(["__alloc_skb", "kfree_skb_reason", "skb_put"]);
    expect(line.detail).toContain("CRC mismatch skb_put");
    // Both linked, by hand: the incompatible one is a stale link, still not installed-weak.
    const stale = `/lib/modules/${K54}/weak-updates/dkms/kabi_provider.ko`;
    await symlink(`/lib/modules/${K53}/updates/dkms/kabi_provider.ko`, root + stale);
    const again = await statusDkms(root);
    expect(again.out.split("\n")[1]).toBe(
      `kabi_dkms/1.0, ${K54}, x86_64: incompatible (build for ${K53}): only kabi_gpl_twin.ko linked; kabi_provider.ko: 3 symbols missing or with other CRCs (__alloc_skb, skb_put, kfree_skb_reason) (stale weak link ${stale}; run: weak-modules --add-kernel ${K54})`,
    );
    expect(again.code).toBe(1);
  });

  it("two versions, each installed on its own kernel: the other kernel's own copy supersedes the link; a build whose kernel link names the other version is only built", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await dkmsAdd(root, "kabi_dkms", "2.0");
    await dkmsBuild(root, "kabi_dkms", "2.0", K54, [
      { builtFor: K54, fixture: "kabi_gpl_twin.ko" },
      { builtFor: K54, fixture: "kabi_proprietary.ko" },
    ]);
    await dkmsInstall(root, "kabi_dkms", "2.0", K54);
    // kernel-<K53>-x86_64 -> 1.0/...: the 2.0 build for K53 is built, not installed.
    await dkmsBuild(root, "kabi_dkms", "2.0", K53, TWIN_AND_PROP);
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: installed\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: not installed-weak (build for ${K53}): kabi_gpl_twin.ko superseded by /lib/modules/${K54}/updates/dkms/kabi_gpl_twin.ko\n` +
        `kabi_dkms/2.0, ${K53}, x86_64: built\n` +
        `kabi_dkms/2.0, ${K54}, x86_64: installed\n`,
    );
    expect(r.code).toBe(0);
  });

  it("files uninstalled behind weak-modules' back: built, not installed-weak, and the broken links exit 1", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    // dkms uninstall without weak-modules: the files and the kernel link go, the weak links stay.
    await rm(path.join(root, "lib/modules", K53, "updates"), { recursive: true });
    await rm(path.join(root, "var/lib/dkms/kabi_dkms", `kernel-${K53}-x86_64`));
    const r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: built\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: not installed-weak: built for ${K53} but installed for none (weak-modules links installed modules only; run: dkms install kabi_dkms/1.0 -k ${K53})\n`,
    );
    expect(r.err).toBe(
      `kabi status: warning: broken weak link /lib/modules/${K54}/weak-updates/dkms/kabi_gpl_twin.ko -> /lib/modules/${K53}/updates/dkms/kabi_gpl_twin.ko\n` +
        `kabi status: warning: broken weak link /lib/modules/${K54}/weak-updates/dkms/kabi_proprietary.ko -> /lib/modules/${K53}/updates/dkms/kabi_proprietary.ko\n`,
    );
    expect(r.code).toBe(1);
  });

  it("compressed module files (.ko.gz, as dkms makes them when the kernel's modules are compressed) are built, installed and matched alike", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, []);
    const moduleDir = path.join(root, "var/lib/dkms/kabi_dkms/1.0", K53, "x86_64/module");
    for (const f of ["kabi_gpl_twin.ko", "kabi_proprietary.ko"]) await writeFile(path.join(moduleDir, `${f}.gz`), gzipSync(await readFile(path.join(FIXTURES, K53, f))));
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    const { code, report } = await statusJson(root);
    expect(report.lines.map((l) => `${l.kernel}: ${l.text}`)).toEqual([`${K53}: installed`, `${K54}: installed-weak from ${K53}`]);
    expect(report.lines[1]!.links).toEqual([`/lib/modules/${K54}/weak-updates/dkms/kabi_gpl_twin.ko.gz`, `/lib/modules/${K54}/weak-updates/dkms/kabi_proprietary.ko.gz`]);
    expect(code).toBe(0);
  });

  it("a kernel without symvers: unknown, saying so", async () => {
    const root = await twoKernels();
    const k99 = "6.1.0-99-amd64";
    await mkdir(path.join(root, "lib/modules", k99), { recursive: true });
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    const r = await statusDkms(root);
    expect(r.out).toBe(
      `kabi_dkms/1.0, ${K53}, x86_64: installed\n` +
        `kabi_dkms/1.0, ${K54}, x86_64: installed-weak from ${K53}\n` +
        `kabi_dkms/1.0, ${k99}, x86_64: unknown (build for ${K53}): no symvers for this kernel\n`,
    );
    expect(r.code).toBe(0);
  });

  it("an added module built for no kernel, and an empty tree", async () => {
    const root = await twoKernels();
    await mkdir(path.join(root, "var/lib/dkms"), { recursive: true });
    let r = await statusDkms(root);
    expect(r.out).toBe(`kabi status: no DKMS modules in ${path.join(root, "var/lib/dkms")}\n`);
    expect(r.code).toBe(0);
    await dkmsAdd(root, "kabi_dkms", "1.0");
    r = await statusDkms(root);
    expect(r.out).toMatch(new RegExp(`^kabi_dkms/1.0, ${K53}, \\S+: not built for any kernel \\(run: dkms build/install kabi_dkms/1.0 -k ${K53}\\)\n`));
    expect(r.out.split("\n")).toHaveLength(3);
  });

  it("a missing or unusable DKMS tree: one line naming it, exit 2", async () => {
    const root = await twoKernels();
    let r = await statusDkms(root);
    expect(r).toEqual({ code: 2, out: "", err: `kabi status: ${path.join(root, "var/lib/dkms")}: no such directory (no DKMS tree here; --dkms-tree DIR names another)\n` });
    await mkdir(path.join(root, "var/lib"), { recursive: true });
    await writeFile(path.join(root, "var/lib/dkms"), "");
    r = await statusDkms(root);
    expect(r).toEqual({ code: 2, out: "", err: `kabi status: ${path.join(root, "var/lib/dkms")}: not a directory (no DKMS tree here)\n` });
    // A tree that cannot be read: a symlink loop.
    await rm(path.join(root, "var/lib/dkms"));
    await symlink("dkms", path.join(root, "var/lib/dkms"));
    r = await statusDkms(root);
    expect(r).toEqual({ code: 2, out: "", err: `kabi status: ${path.join(root, "var/lib/dkms")}: too many levels of symbolic links\n` });
    r = await statusDkms(root, "--dkms-tree", path.join(root, "elsewhere"));
    expect(r).toEqual({ code: 2, out: "", err: `kabi status: ${path.join(root, "elsewhere")}: no such directory (no DKMS tree here; --dkms-tree DIR names another)\n` });
  });

  it("a root without kernels: said, exit 2", async () => {
    const root = await makeRoot();
    roots.push(root);
    await dkmsAdd(root, "kabi_dkms", "1.0");
    const r = await statusDkms(root);
    expect(r.err).toBe(`kabi status: ${root}: no kernels (no directory under lib/modules or usr/lib/modules)\n`);
    expect(r.code).toBe(2);
  });

  it("--dkms-tree reads another tree; --dkms-tree alone is refused", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await rename(path.join(root, "var/lib/dkms"), path.join(root, "dkms-copy"));
    const r = await statusDkms(root, "--dkms-tree", path.join(root, "dkms-copy"));
    expect(r.out.split("\n")[0]).toBe(`kabi_dkms/1.0, ${K53}, x86_64: installed`);
    const io = captureIO();
    expect(await main(["status", "--basedir", root, "--dkms-tree", "x"], io)).toBe(2);
    expect(io.stderr).toMatch(/^kabi status: --dkms-tree needs --dkms\n/);
  });

  it("hostile names in the tree are named and left out; symlinked module files are not builds", async () => {
    const root = await twoKernels();
    await dkmsAdd(root, "kabi_dkms", "1.0");
    await dkmsBuild(root, "kabi_dkms", "1.0", K53, TWIN_AND_PROP);
    await dkmsInstall(root, "kabi_dkms", "1.0", K53);
    await addKernel54Links(root);
    const tree = path.join(root, "var/lib/dkms");
    await mkdir(path.join(tree, "evil\nkabi_dkms/1.0, 6.1.0-54-amd64, x86_64: installed"), { recursive: true });
    await mkdir(path.join(tree, "comma, module/1.0"), { recursive: true });
    await dkmsAdd(root, "colon", "1.0: installed");
    // dkms's scratch folder, and a folder that is no kernel (dkms's glob is "+([0-9]).*"): not builds.
    await dkmsBuild(root, "kabi_dkms", "1.0", "build", TWIN_AND_PROP);
    await dkmsBuild(root, "kabi_dkms", "1.0", "notes", TWIN_AND_PROP);
    await dkmsAdd(root, "linked", "1.0");
    // A module/ entry that is a symlink (to a real module, here) is not a file dkms built.
    await mkdir(path.join(tree, "linked/1.0", K53, "x86_64/module"), { recursive: true });
    await symlink(path.join(FIXTURES, K53, "kabi_gpl_twin.ko"), path.join(tree, "linked/1.0", K53, "x86_64/module/kabi_gpl_twin.ko"));
    const r = await statusDkms(root);
    expect(r.code).toBe(2);
    const err = r.err.split("\n").filter((l) => l !== "");
    expect(err).toHaveLength(3);
    expect(err).toContain(`kabi status: ${path.join(tree, "colon", "1.0: installed")}: its name would make an ambiguous status line (', ' or ': '); left out`);
    expect(err).toContain(`kabi status: ${path.join(tree, "comma, module")}: its name would make an ambiguous status line (', ' or ': '); left out`);
    expect(err).toContain(`kabi status: ${path.join(tree, JSON.stringify("evil\nkabi_dkms"))}: its name holds a control character (a newline, a tab, ...); left out`);
    const lines = r.out.split("\n").filter((l) => l !== "");
    expect(lines.slice(0, 2)).toEqual([`kabi_dkms/1.0, ${K53}, x86_64: installed`, `kabi_dkms/1.0, ${K54}, x86_64: installed-weak from ${K53}`]);
    expect(lines[2]).toMatch(new RegExp(`^linked/1\\.0, ${K53}, \\S+: not built for any kernel`));
    expect(lines[3]).toMatch(new RegExp(`^linked/1\\.0, ${K54}, \\S+: not built for any kernel`));
    expect(r.out.split("\n").filter((l) => l !== "")).toHaveLength(4);
  });
});
