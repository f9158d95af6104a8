/**
 * --remove-modules for both of its callers: dkms calls it BEFORE deleting the files, RPM's %postun
 * after. Either way the listed files are leaving: during that run they provide, shadow and
 * supersede nothing.
 */
import { mkdir, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { addKernel, baseArgs, installFixture, K53, K54, makeRoot, removeRoot, runWeak, weakLinks } from "./weak-root.js";

const roots: string[] = [];
afterEach(async () => {
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

const A = K53;
const B = K54;
const DKMS_CONSUMER = (k: string) => `/lib/modules/${k}/updates/dkms/kabi_consumer.ko`;
/** The weak link that makes A's dkms build of kabi_consumer usable on B. */
const LINK_A_INTO_B = `${B} dkms/kabi_consumer.ko -> ${DKMS_CONSUMER(A)}`;

/**
 * Two ABI-compatible kernels A and B, each with its own build of kabi_provider in extra/ (the
 * provider's builds do not cross: their skb CRCs differ), and kabi_consumer built by dkms for A in
 * A's updates/dkms/, linked into B (it needs only the provider's exports and _printk, whose CRCs
 * A and B share). `merged`: lib is a symlink to usr/lib, as on Debian 12.
 */
async function dkmsRoot(merged = false): Promise<string> {
  const root = await makeRoot();
  roots.push(root);
  if (merged) {
    await mkdir(path.join(root, "usr/lib"), { recursive: true });
    await symlink("usr/lib", path.join(root, "lib"));
  }
  await addKernel(root, A, "debian");
  await addKernel(root, B, "debian");
  await installFixture(root, A, "kabi_provider.ko", A);
  await installFixture(root, B, "kabi_provider.ko", B);
  await installFixture(root, A, "kabi_consumer.ko", A, "dkms/kabi_consumer.ko", "updates");
  const r = await runWeak([...baseArgs(root), "--add-modules"], `${root}${DKMS_CONSUMER(A)}\n`);
  expect(r.code).toBe(0);
  expect(await weakLinks(root)).toEqual([LINK_A_INTO_B]);
  return root;
}

/** `dkms install --force -k B`: B's own build goes into B's updates/dkms/, then --add-modules; the link from A into B goes. */
async function installOwnBuildForB(root: string): Promise<void> {
  await installFixture(root, B, "kabi_consumer.ko", B, "dkms/kabi_consumer.ko", "updates");
  const r = await runWeak([...baseArgs(root), "--verbose", "--add-modules"], `${root}${DKMS_CONSUMER(B)}\n`);
  expect(r.code).toBe(0);
  expect(await weakLinks(root)).toEqual([]);
  expect(r.out).toBe(`remove /lib/modules/${B}/weak-updates/dkms/kabi_consumer.ko (${B} has its own /lib/modules/${B}/updates/dkms/kabi_consumer.ko)\n`);
}

describe("--remove-modules: the listed files are leaving", () => {
  it("dkms remove -k B (called before the file is deleted) links A's build into B in the same run", async () => {
    const root = await dkmsRoot();
    await installOwnBuildForB(root);
    // dkms: weak-modules --remove-modules first, the file is still there.
    const r = await runWeak([...baseArgs(root), "--verbose", "--remove-modules"], `${root}${DKMS_CONSUMER(B)}\n`);
    expect(r.code).toBe(0);
    expect(await weakLinks(root)).toEqual([LINK_A_INTO_B]);
    expect(r.out).toBe(`create /lib/modules/${B}/weak-updates/dkms/kabi_consumer.ko -> ${DKMS_CONSUMER(A)} (compatible with ${B} with kabi_provider (built for ${A}))\n`);
    expect(r.err).not.toContain("shadowed");
    // Then dkms deletes the file: nothing left to do.
    await unlink(root + DKMS_CONSUMER(B));
    const again = await runWeak([...baseArgs(root), "--dry-run", "--add-kernel", B]);
    expect(again.out).toBe("");
  });

  it("the same after the file is gone (RPM %postun)", async () => {
    const root = await dkmsRoot();
    await installOwnBuildForB(root);
    await unlink(root + DKMS_CONSUMER(B));
    const r = await runWeak([...baseArgs(root), "--remove-modules"], `${root}${DKMS_CONSUMER(B)}\n`);
    expect(r.code).toBe(0);
    expect(await weakLinks(root)).toEqual([LINK_A_INTO_B]);
    expect(r.out).toBe("");
  });

  it("a path spelled /usr/lib/modules on a merged-usr root, and a relative one, are the same file", async () => {
    const root = await dkmsRoot(true);
    await installOwnBuildForB(root);
    const r = await runWeak([...baseArgs(root), "--remove-modules"], `${root}/usr${DKMS_CONSUMER(B)}\n`);
    expect(r.code).toBe(0);
    expect(await weakLinks(root)).toEqual([LINK_A_INTO_B]);
    await unlink(root + DKMS_CONSUMER(B));

    // dkms uninstall -k A, the file still there: its link into B goes, with the reason.
    const rel = await runWeak([...baseArgs(root), "--dry-run", "--remove-modules"], `usr${DKMS_CONSUMER(A)}\n`, root);
    expect(rel.out).toBe(`would remove /lib/modules/${B}/weak-updates/dkms/kabi_consumer.ko (${DKMS_CONSUMER(A)} is being removed)\n`);
    const gone = await runWeak([...baseArgs(root), "--remove-modules"], `usr${DKMS_CONSUMER(A)}\n`, root);
    expect(gone.code).toBe(0);
    expect(await weakLinks(root)).toEqual([]);
  });

  it("a root given through a symlink: the paths may name it either way", async () => {
    const real = await dkmsRoot();
    const root = `${real}-link`;
    roots.push(root);
    await symlink(real, root);
    await installFixture(real, B, "kabi_consumer.ko", B, "dkms/kabi_consumer.ko", "updates");
    // --basedir through the symlink, the path by the real name (and the other way round).
    let r = await runWeak([...baseArgs(root), "--add-modules"], `${real}${DKMS_CONSUMER(B)}\n`);
    expect(r.code, r.err).toBe(0);
    expect(await weakLinks(real)).toEqual([]);
    r = await runWeak([...baseArgs(root), "--remove-modules"], `${real}${DKMS_CONSUMER(B)}\n`);
    expect(r.code, r.err).toBe(0);
    expect(await weakLinks(real)).toEqual([LINK_A_INTO_B]);
    r = await runWeak([...baseArgs(real), "--remove-modules"], `${root}${DKMS_CONSUMER(A)}\n`);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain("outside the root");
  });

  it("a provider leaving (file still there) takes the link of the module that needed it", async () => {
    // A has no provider of its own and kabi_consumer built for B is linked into A with A's
    // dkms-installed provider; that provider's --remove-modules comes before its deletion.
    const root = await makeRoot();
    roots.push(root);
    await addKernel(root, A, "debian");
    await addKernel(root, B, "debian");
    await installFixture(root, B, "kabi_provider.ko", B);
    await installFixture(root, B, "kabi_consumer.ko", B);
    const provider = await installFixture(root, A, "kabi_provider.ko", A, "dkms/kabi_provider.ko", "updates");
    expect((await runWeak([...baseArgs(root), "--add-kernel", A])).code).toBe(0);
    expect(await weakLinks(root)).toEqual([`${A} kabi_consumer.ko -> /lib/modules/${B}/extra/kabi_consumer.ko`]);
    const r = await runWeak([...baseArgs(root), "--verbose", "--remove-modules"], `${root}${provider}\n`);
    expect(r.code).toBe(0);
    expect(await weakLinks(root)).toEqual([]);
    expect(r.out).toMatch(new RegExp(`^remove /lib/modules/${A}/weak-updates/kabi_consumer\\.ko \\(/lib/modules/${B}/extra/kabi_consumer\\.ko is incompatible with ${A}: .*needs kabi_provider`));
  });
});
