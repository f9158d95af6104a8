import { copyFile, mkdir, rm, symlink, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { StatusReport } from "../../src/weak/weak-status.js";
import { captureIO } from "../helpers/capture-io.js";
import { addKernel, baseArgs, installFixture, K53, K54, K612, makeRoot, removeRoot, REPO, runWeak } from "./weak-root.js";

const SAMPLE_61 = path.join(REPO, "fixtures/real-sample/amd64-6.1");

const roots: string[] = [];
afterEach(async () => {
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

/** Real Debian 6.1.0-53 modules and the fixtures' provider/consumer in 6.1.0-53's extra/. */
async function statusRoot(): Promise<string> {
  const root = await makeRoot();
  roots.push(root);
  await addKernel(root, K53, "debian");
  await addKernel(root, K54, "debian");
  await addKernel(root, K612, "rhel");
  for (const rel of ["drivers/input/misc/pcspkr.ko", "drivers/md/dm-mod.ko", "drivers/md/dm-zero.ko"]) {
    const to = path.join(root, "lib/modules", K53, "extra", path.basename(rel));
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(path.join(SAMPLE_61, rel), to);
  }
  await installFixture(root, K53, "kabi_provider.ko", K53);
  await installFixture(root, K53, "kabi_consumer.ko", K53);
  return root;
}

/** `kabi status --json`; `exit`: the exit code it must give (1: some module is not usable on some kernel, or a link is broken). */
async function status(root: string, exit = 1): Promise<StatusReport> {
  const io = captureIO();
  expect(await main(["status", "--basedir", root, "--json"], io)).toBe(exit);
  return JSON.parse(io.stdout) as StatusReport;
}

const stateOf = (r: StatusReport, module: string, kernel: string) => r.entries.find((e) => e.module === module && e.kernel === kernel);

describe("kabi status on real modules", () => {
  it("shows installed, compatible-not-linked, installed-weak, incompatible with reasons, and broken links", async () => {
    const root = await statusRoot();
    let r = await status(root);
    expect(stateOf(r, "pcspkr", K53)!.text).toBe("installed");
    expect(stateOf(r, "pcspkr", K54)!.text).toBe("compatible, not linked");
    expect(stateOf(r, "pcspkr", K612)!.state).toBe("incompatible");
    expect(stateOf(r, "pcspkr", K612)!.symbols).toContain("module_layout");

    expect((await runWeak([...baseArgs(root), "--add-kernel", K54])).code).toBe(0);
    r = await status(root);
    expect(stateOf(r, "pcspkr", K54)!.text).toBe(`installed-weak from ${K53}`);
    // dm-mod built for 6.1.0-53 does not fit 6.1.0-54, but dm-zero needs only dm_register_target and
    // dm_unregister_target from it, whose CRCs 6.1.0-54's own dm-mod shares: dm-zero goes in alone.
    expect(stateOf(r, "dm_mod", K54)!.state).toBe("incompatible");
    expect(stateOf(r, "dm_zero", K54)!.text).toBe(`installed-weak from ${K53}`);
    const consumer = stateOf(r, "kabi_consumer", K54)!;
    expect(consumer.state).toBe("incompatible");
    expect(consumer.detail).toContain(`needs kabi_provider (/lib/modules/${K53}/extra/kabi_provider.ko)`);
    expect(stateOf(r, "kabi_provider", K54)!.symbols!.sort()).toEqual(["__alloc_skb", "kfree_skb_reason", "skb_put"]);

    await unlink(path.join(root, "lib/modules", K53, "extra/pcspkr.ko"));
    r = await status(root);
    const broken = r.entries.find((e) => e.kernel === K54 && e.state === "broken link")!;
    expect(broken.link).toBe(`/lib/modules/${K54}/weak-updates/pcspkr.ko`);
    expect(broken.path).toBe(`/lib/modules/${K53}/extra/pcspkr.ko`);
  });

  it("gives an incompatible pair's reasons in the audit text's words (status, weak-modules and audit agree)", async () => {
    const root = await statusRoot();
    const provider = path.join(root, "lib/modules", K53, "extra/kabi_provider.ko");
    const symvers = path.join(root, "usr/src", `linux-headers-${K54}`, "Module.symvers");
    const io = captureIO();
    // --verbose: the reason lines under the pair's headline.
    expect(await main(["audit", "--verbose", "--symvers", `${K54}=${symvers}`, provider], io)).toBe(1);
    const block = io.stdout.slice(io.stdout.indexOf(`kabi_provider.ko on ${K54}:\n`));
    const lines = block.split("\n").slice(1).filter((l) => l.startsWith("      ")).map((l) => l.trim());
    // fixtures/modules/README.md's CRC table (6.1.0-53 build, 6.1.0-54 vmlinux), in modversions order.
    expect([...lines].sort()).toEqual([
      "CRC mismatch __alloc_skb: module 0x57693e79, vmlinux 0x7e267139",
      "CRC mismatch kfree_skb_reason: module 0x84f2000d, vmlinux 0x6db827e0",
      "CRC mismatch skb_put: module 0x359ec46d, vmlinux 0x69958214",
    ]);
    const detail = lines.join("; ");
    const entry = stateOf(await status(root), "kabi_provider", K54)!;
    expect(entry.detail).toBe(detail);
    expect(entry.text).toBe(`incompatible: ${detail}`);
    const weak = await runWeak([...baseArgs(root), "--add-kernel", K54]);
    expect(weak.err).toBe("");
    const verbose = await runWeak([...baseArgs(root), "--verbose", "--add-kernel", K54]);
    expect(verbose.err).toContain(`weak-modules: /lib/modules/${K53}/extra/kabi_provider.ko not linked into ${K54}: incompatible: ${detail}\n`);
  });

  it("prints one line per module and kernel", async () => {
    const root = await statusRoot();
    await runWeak([...baseArgs(root), "--add-kernel", K54]);
    const io = captureIO();
    expect(await main(["status", "--basedir", root], io)).toBe(1);
    expect(io.stdout).toMatch(new RegExp(`pcspkr .*\\n(.*\\n)*?\\s+${K54.replace(/\./g, "\\.")}: installed-weak from ${K53.replace(/\./g, "\\.")}`));
  });
});

describe("kabi status exit code, last line and foreign entries", () => {
  /** 6.1.0-53 and 6.1.0-54; pcspkr built for 6.1.0-53 in its extra/ (it fits 6.1.0-54 too). */
  async function pairRoot(): Promise<string> {
    const root = await makeRoot();
    roots.push(root);
    await addKernel(root, K53, "debian");
    await addKernel(root, K54, "debian");
    const to = path.join(root, "lib/modules", K53, "extra/pcspkr.ko");
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(path.join(SAMPLE_61, "drivers/input/misc/pcspkr.ko"), to);
    return root;
  }
  const text = async (root: string): Promise<{ code: number; out: string; err: string }> => {
    const io = captureIO();
    const code = await main(["status", "--basedir", root], io);
    return { code, out: io.stdout, err: io.stderr };
  };

  it("0 when every module is usable where it should be, 1 when one is not linked, incompatible or its link broken", async () => {
    const root = await pairRoot();
    // Compatible with 6.1.0-54 but not linked yet: not usable there.
    let r = await text(root);
    expect(r.code).toBe(1);
    expect(r.out.split("\n").at(-2)).toBe("1 external module, 2 kernels: 1 module not usable on 1 kernel");
    expect((await status(root)).unusable).toEqual([{ module: "pcspkr", kernel: K54, states: ["compatible, not linked"] }]);

    expect((await runWeak([...baseArgs(root), "--add-kernel", K54])).code).toBe(0);
    r = await text(root);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`pcspkr (/lib/modules/${K53}/extra/pcspkr.ko, built for ${K53})\n  ${K53}: installed\n  ${K54}: installed-weak from ${K53}\n1 external module, 2 kernels: every module usable on every kernel it was checked for\n`);
    expect((await status(root, 0)).unusable).toEqual([]);

    // A kernel it does not fit: 1.
    await addKernel(root, K612, "rhel");
    expect((await status(root)).unusable).toEqual([{ module: "pcspkr", kernel: K612, states: ["incompatible"] }]);
    await rm(path.join(root, "lib/modules", K612), { recursive: true });
    await rm(path.join(root, "boot"), { recursive: true });
    expect((await text(root)).code).toBe(0);

    // Its file gone, the link left: broken, 1.
    await unlink(path.join(root, "lib/modules", K53, "extra/pcspkr.ko"));
    r = await text(root);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`pcspkr (/lib/modules/${K53}/extra/pcspkr.ko)\n  ${K54}: broken link\n0 external modules, 2 kernels: 1 module not usable on 1 kernel, 1 broken link\n`);
  });

  it("says so when there are no external modules, and lists foreign entries of weak-updates/ (text and --json)", async () => {
    const root = await makeRoot();
    roots.push(root);
    await addKernel(root, K53, "debian");
    await addKernel(root, K54, "debian");
    let r = await text(root);
    expect([r.code, r.out, r.err]).toEqual([0, "no external modules in 2 kernels\n", ""]);
    const weak = path.join(root, "lib/modules", K54, "weak-updates");
    await mkdir(weak, { recursive: true });
    await writeFile(path.join(weak, "vendor.ko"), "not a link\n");
    await symlink("/opt/vendor/thing.ko", path.join(weak, "thing.ko"));
    r = await text(root);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      "not managed by kabi (left alone by weak-modules):\n" +
        `  ${K54}: /lib/modules/${K54}/weak-updates/thing.ko (symlink to /opt/vendor/thing.ko)\n` +
        `  ${K54}: /lib/modules/${K54}/weak-updates/vendor.ko (regular file)\n` +
        "no external modules in 2 kernels\n",
    );
    expect((await status(root, 0)).foreign).toEqual([
      { kernel: K54, path: `/lib/modules/${K54}/weak-updates/thing.ko`, kind: "symlink", target: "/opt/vendor/thing.ko" },
      { kernel: K54, path: `/lib/modules/${K54}/weak-updates/vendor.ko`, kind: "file", target: null },
    ]);
  });

  it("2 when the root cannot be checked: missing, without kernels, an unreadable module", async () => {
    const root = await pairRoot();
    const missing = await text(path.join(root, "no-such-root"));
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`kabi status: ${path.join(root, "no-such-root")}: no such directory (--basedir)\n`);
    const empty = path.join(root, "empty");
    await mkdir(path.join(empty, "lib/modules"), { recursive: true });
    const none = await text(empty);
    expect(none.code).toBe(2);
    expect(none.err).toBe(`kabi status: ${empty}: no kernels (no directory under lib/modules or usr/lib/modules)\n`);
    await mkdir(path.join(root, "lib/modules", K54, "extra"), { recursive: true });
    await writeFile(path.join(root, "lib/modules", K54, "extra/bogus.ko"), "this is not an ELF file\n");
    const bad = await text(root);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(new RegExp(`^kabi status: unreadable module /lib/modules/${K54.replace(/\./g, "\\.")}/extra/bogus\\.ko: .*\\n$`));
    expect(bad.out.split("\n").at(-2)).toBe("1 external module, 2 kernels: 1 module not usable on 1 kernel, 1 part of the root not checked");
  });
});
