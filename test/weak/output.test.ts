/**
 * weak-modules' output as Red Hat's and kmod's users expect it: quiet by default, the changes once
 * (standard output) with --verbose or --dry-run, the reasons once (standard error) with --verbose,
 * shortened in text and whole in --json, and a true reason for every action.
 */
import { copyFile, mkdir, symlink, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REASONS_SHOWN } from "../../src/weak/weak-assign.js";
import { addKernel, baseArgs, installFixture, K53, K54, K612, makeRoot, removeRoot, REPO, runWeak, weakLinks } from "./weak-root.js";

const roots: string[] = [];
afterEach(async () => {
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

const CONSUMER_54 = `/lib/modules/${K54}/extra/kabi/kabi_consumer.ko`;
const LINK_53 = `/lib/modules/${K53}/weak-updates/kabi/kabi_consumer.ko`;

/** 6.1.0-53 with its own provider; 6.1.0-54 with provider and consumer, whose consumer fits 6.1.0-53. */
async function pairRoot(): Promise<string> {
  const root = await makeRoot();
  roots.push(root);
  await addKernel(root, K53, "debian");
  await addKernel(root, K54, "debian");
  await installFixture(root, K53, "kabi_provider.ko", K53);
  await installFixture(root, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
  await installFixture(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
  return root;
}

interface JsonRun {
  actions: { op: string; link: string; reason: string; done: boolean }[];
  skipped: { module: string; kernel: string; reason: string; detail: string; symbols?: string[] }[];
}

describe("weak-modules output", () => {
  it("--verbose lists each change once, on standard output; the reasons go to standard error", async () => {
    const root = await pairRoot();
    const r = await runWeak([...baseArgs(root), "--verbose", "--add-kernel", K53]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`create ${LINK_53} -> ${CONSUMER_54} (compatible with ${K53} with kabi_provider (built for ${K54}))\n`);
    expect(r.err).not.toContain(LINK_53);
    expect(r.err).toBe(
      `weak-modules: /bin/true -a -b ${root} -- ${K53}\n` +
        `weak-modules: /lib/modules/${K54}/extra/kabi/kabi_provider.ko not linked into ${K53}: ${K53} has its own /lib/modules/${K53}/extra/kabi_provider.ko\n`,
    );
    // Without --verbose: nothing at all, for the same kind of run.
    await unlink(path.join(root, LINK_53));
    const quiet = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect([quiet.code, quiet.out, quiet.err]).toEqual([0, "", ""]);
    expect(await weakLinks(root)).toEqual([`${K53} kabi/kabi_consumer.ko -> ${CONSUMER_54}`]);
  });

  it("a reason listing hundreds of symbols is shortened in text and whole in --json", async () => {
    const root = await makeRoot();
    roots.push(root);
    await addKernel(root, K53, "debian");
    await addKernel(root, K612, "rhel");
    // dm-mod built for 6.12: on 6.1 nearly every symbol it imports differs.
    const to = path.join(root, "lib/modules", K612, "extra/dm-mod.ko.xz");
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(path.join(REPO, "fixtures/real-sample/amd64-6.12/drivers/md/dm-mod.ko.xz"), to);
    const json = JSON.parse((await runWeak([...baseArgs(root), "--dry-run", "--json", "--add-kernel", K53])).out) as JsonRun;
    const skip = json.skipped.find((s) => s.module === "dm_mod" && s.kernel === K53)!;
    const parts = skip.detail.split("; ");
    expect(parts.length).toBeGreaterThan(100);
    const r = await runWeak([...baseArgs(root), "--verbose", "--add-kernel", K53]);
    const line = r.err.split("\n").find((l) => l.includes(`dm-mod.ko.xz not linked into ${K53}`))!;
    expect(line).toBe(`weak-modules: /lib/modules/${K612}/extra/dm-mod.ko.xz not linked into ${K53}: incompatible: ${parts.slice(0, REASONS_SHOWN).join("; ")}; and ${parts.length - REASONS_SHOWN} more`);
    expect(Math.max(...r.err.split("\n").map((l) => l.length))).toBeLessThan(1000);
  });

  it("says why each action is taken: kernel removal, file gone, another build winning, a leftover", async () => {
    const root = await pairRoot();
    expect((await runWeak([...baseArgs(root), "--add-kernel", K53])).code).toBe(0);

    // --remove-kernel: the links go because the kernel goes (its targets are still installed).
    let r = await runWeak([...baseArgs(root), "--dry-run", "--remove-kernel", K53]);
    expect(r.out).toBe(`would remove ${LINK_53} (kernel ${K53} is being removed)\n`);
    let json = JSON.parse((await runWeak([...baseArgs(root), "--dry-run", "--json", "--remove-kernel", K53])).out) as JsonRun;
    expect(json.actions.map((a) => a.reason)).toEqual([`kernel ${K53} is being removed`]);

    // A preferred build appears (updates/ before extra/): the link is replaced, saying why.
    const updates = await installFixture(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko", "updates");
    r = await runWeak([...baseArgs(root), "--verbose", "--add-modules"], `${root}${updates}\n`);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`replace ${LINK_53} -> ${updates} (compatible with ${K53} with kabi_provider (built for ${K54}); the build ${updates} wins over ${CONSUMER_54})\n`);

    // Its file deleted without weak-modules being told: the next run removes the link as gone...
    await unlink(root + updates);
    await unlink(root + CONSUMER_54);
    r = await runWeak([...baseArgs(root), "--dry-run", "--add-kernel", K53]);
    expect(r.out).toBe(`would remove ${LINK_53} (${updates} is no longer installed)\n`);

    // ... and a temporary link of an interrupted run is cleaned as such.
    await symlink(CONSUMER_54, path.join(root, "lib/modules", K53, "weak-updates/.kabi-tmp-123-kabi_consumer.ko"));
    r = await runWeak([...baseArgs(root), "--dry-run", "--add-kernel", K53]);
    expect(r.out).toBe(`would clean-temp /lib/modules/${K53}/weak-updates/.kabi-tmp-123-kabi_consumer.ko (leftover of an interrupted run)\nwould remove ${LINK_53} (${updates} is no longer installed)\n`);
  });

  it("--json has the documented keys also when no path on standard input is valid (nothing run)", async () => {
    const root = await pairRoot();
    const full = JSON.parse((await runWeak([...baseArgs(root), "--dry-run", "--json", "--add-kernel", K53])).out) as object;
    const r = await runWeak([...baseArgs(root), "--json", "--add-modules"], `${root}/lib/modules/${K53}/extra/no-such.ko\n`);
    expect(r.code).toBe(1);
    const none = JSON.parse(r.out) as { actions: unknown[]; errors: string[] };
    expect(Object.keys(none)).toEqual(Object.keys(full));
    expect(none.actions).toEqual([]);
    expect(none.errors).toEqual([expect.stringContaining("no-such.ko")]);
  });

  it("a link an in-tree module would shadow is removed with that reason", async () => {
    const root = await pairRoot();
    expect((await runWeak([...baseArgs(root), "--add-kernel", K53])).code).toBe(0);
    // A same-named module in the kernel's own tree, earlier in depmod's search order (updates/ before weak-updates/).
    const own = path.join(root, "lib/modules", K53, "kernel/drivers/kabi_consumer.ko");
    await mkdir(path.dirname(own), { recursive: true });
    await mkdir(path.join(root, "etc/depmod.d"), { recursive: true });
    await copyFile(path.join(REPO, "fixtures/modules", K53, "kabi_consumer.ko"), own);
    await writeFile(path.join(root, "etc/depmod.d/search.conf"), "search updates built-in weak-updates\n");
    const r = await runWeak([...baseArgs(root), "--dry-run", "--add-kernel", K53]);
    expect(r.out).toBe(`would remove ${LINK_53} (${CONSUMER_54} would be shadowed by /lib/modules/${K53}/kernel/drivers/kabi_consumer.ko)\n`);
  });
});
