/**
 * A full (ENOSPC: no inode left) or read-only (EROFS) file system under a kernel's weak-updates or
 * under lib/modules: one line naming the path and the reason, exit 1 (a link could not be made),
 * nothing half-written (no temporary link, no directory made in part), the kernel's links as they
 * were before the run (its changes rolled back: see applyPlan), and a re-run once there is room
 * converges to the exact link set. Real tmpfs mounts: the tests run as root, as CI does.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildBaseRoot, copyRoot, K53, snapshot } from "../../bench/fault-trials.mjs";
import { hashTree, makeRoot, removeRoot, runWeak, baseArgs } from "./weak-root.js";
import { mountTmpfs, remount, unmount } from "./fault-helpers.js";
import { requireUnderCi } from "../helpers/required.js";

const roots: string[] = [];
const mounts: string[] = [];
afterEach(async () => {
  while (mounts.length > 0) unmount(mounts.pop()!);
  while (roots.length > 0) await removeRoot(roots.pop()!);
});

/** A base root (bench/fault-trials.mjs) whose `sub` directory is a tmpfs mounted with `options` before the root is laid out. */
async function rootWithTmpfs(sub: string, options: string, skip: () => void): Promise<{ root: string; mount: string }> {
  const root = await makeRoot();
  roots.push(root);
  const mount = path.join(root, sub);
  mkdirSync(mount, { recursive: true });
  const mounted = mountTmpfs(mount, options);
  requireUnderCi(mounted, "mounting a tmpfs (mount -t tmpfs, as root)", skip);
  mounts.push(mount);
  buildBaseRoot(root);
  return { root, mount };
}

/** The link set `--add-kernel K53` gives on a base root with room: the state a re-run must reach. */
async function expectedAddKernel53(): Promise<string[]> {
  const root = await makeRoot();
  roots.push(root);
  buildBaseRoot(root);
  expect((await runWeak([...baseArgs(root), "--add-kernel", K53])).code).toBe(0);
  return snapshot(root).links;
}

const WEAK53 = `lib/modules/${K53}/weak-updates`;
const K53_LINKS_BEFORE = [`${K53} old/gone.ko -> /lib/modules/6.1.0-54-amd64/extra/old/gone.ko`];

describe("ENOSPC and EROFS on link creation", () => {
  it("no inode left in weak-updates: one line, exit 1, the kernel's links as before, no temporary link or partial directory; a re-run with room converges", async (context) => {
    // The tmpfs holds its root, old/, old/gone.ko, left/, left/over/ and a temporary link; about
    // thirty links and directories are to be made: it runs out half-way.
    const { root, mount } = await rootWithTmpfs(WEAK53, "size=1m,nr_inodes=16", () => context.skip());
    const expected = await expectedAddKernel53();
    const r = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect(r.code).toBe(1);
    const lines = r.err.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^weak-modules: create /lib/modules/${K53.replaceAll(".", "\\.")}/weak-updates/\\S+\\.ko: no space left on device; nothing changed in ${K53.replaceAll(".", "\\.")}'s weak-updates \\(this run's changes there were rolled back\\)$`),
    );
    const after = snapshot(root);
    expect(after.links.filter((l) => l.startsWith(`${K53} `))).toEqual(K53_LINKS_BEFORE);
    // The stale link is back as it was (dangling, as before the run); nothing else is left.
    expect(after.leftovers).toEqual([`dangling lib/modules/${K53}/weak-updates/old/gone.ko -> /lib/modules/6.1.0-54-amd64/extra/old/gone.ko`]);

    remount(mount, "nr_inodes=1000");
    const again = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect(again.code).toBe(0);
    expect(snapshot(root)).toEqual({ links: expected, leftovers: [] });
  });

  it("weak-updates read-only: one line naming the first change refused, exit 1, not one byte changed; a re-run once writable converges", async (context) => {
    const { root, mount } = await rootWithTmpfs(WEAK53, "size=1m", () => context.skip());
    const expected = await expectedAddKernel53();
    remount(mount, "ro");
    const before = await hashTree(mount);
    const r = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `weak-modules: clean-temp /lib/modules/${K53}/weak-updates/.kabi-tmp-1-1-nv0_0.ko: read-only file system; nothing changed in ${K53}'s weak-updates (this run's changes there were rolled back)\n`,
    );
    expect(await hashTree(mount)).toBe(before);

    remount(mount, "rw");
    const again = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect(again.code).toBe(0);
    expect(snapshot(root)).toEqual({ links: expected, leftovers: [] });
  });

  it("weak-updates filling up during --add-modules of new modules: the links the run had placed in that kernel are taken back, other kernels keep theirs", async (context) => {
    // The linked root's 6.1.0-53 weak-updates on a tmpfs, then new modules whose links do not all fit.
    const { root, mount } = await rootWithTmpfs(WEAK53, "size=1m,nr_inodes=1000", () => context.skip());
    expect((await runWeak([...baseArgs(root), "--add-kernel", K53])).code).toBe(0);
    const linked = snapshot(root);
    const spare = path.join(path.dirname(root), `${path.basename(root)}-spare`);
    roots.push(spare);
    copyRoot(root, spare);
    const added: string[] = [];
    for (let j = 0; j < 8; j++) {
      const inside = `/lib/modules/6.1.0-54-amd64/extra/g8/nv8_${j}.ko`;
      mkdirSync(path.dirname(root + inside), { recursive: true });
      copyRoot(`${root}/lib/modules/6.1.0-54-amd64/extra/g0/nv0_0.ko`, root + inside);
      copyRoot(`${root}/lib/modules/6.1.0-54-amd64/extra/g0/nv0_0.ko`, spare + inside);
      added.push(inside);
    }
    const stdin = (r: string) => added.map((p) => r + p + "\n").join("");
    // Expected: the same --add-modules where there is room.
    expect((await runWeak([...baseArgs(spare), "--add-modules"], stdin(spare))).code).toBe(0);
    const expected = snapshot(spare).links;
    // Eight new links in 6.1.0-53 (on the tmpfs) and eight in 6.12.117 (not on it).
    const of53 = (links: string[]) => links.filter((l) => l.startsWith(`${K53} `));
    expect(of53(expected).length).toBe(of53(linked.links).length + 8);
    expect(expected.length).toBe(linked.links.length + 16);

    // Room for the new directory and three links, not eight.
    const used = Number(/\d+/.exec(execFileSync("df", ["--output=iused", mount], { encoding: "utf8" }).split("\n")[1]!)![0]);
    remount(mount, `nr_inodes=${used + 4}`);
    const r = await runWeak([...baseArgs(root), "--add-modules"], stdin(root));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^weak-modules: create /lib/modules/${K53.replaceAll(".", "\\.")}/weak-updates/g8/nv8_\\d\\.ko: no space left on device; nothing changed`));
    expect(r.err.split("\n").filter((l) => l !== "")).toHaveLength(1);
    // Rolled back per kernel: 6.1.0-53's links as before, 6.12.117's new ones made.
    expect(snapshot(root)).toEqual({ links: [...of53(linked.links), ...expected.filter((l) => !l.startsWith(`${K53} `))].sort(), leftovers: [] });

    remount(mount, "nr_inodes=1000");
    expect((await runWeak([...baseArgs(root), "--add-modules"], stdin(root))).code).toBe(0);
    expect(snapshot(root)).toEqual({ links: expected, leftovers: [] });
  });

  it("mkdir -p stopped half-way by the last inodes: the directories it made are removed, nothing else changes", async (context) => {
    const { root, mount } = await rootWithTmpfs(WEAK53, "size=1m,nr_inodes=1000", () => context.skip());
    expect((await runWeak([...baseArgs(root), "--add-kernel", K53])).code).toBe(0);
    const linked = snapshot(root);
    const inside = `/lib/modules/6.1.0-54-amd64/extra/d1/d2/d3/nv_deep.ko`;
    mkdirSync(path.dirname(root + inside), { recursive: true });
    copyRoot(`${root}/lib/modules/6.1.0-54-amd64/extra/g0/nv0_0.ko`, root + inside);
    // Inodes for d1/ and d2/ only: d3/ fails, before any link.
    const used = Number(/\d+/.exec(execFileSync("df", ["--output=iused", mount], { encoding: "utf8" }).split("\n")[1]!)![0]);
    remount(mount, `nr_inodes=${used + 2}`);
    const r = await runWeak([...baseArgs(root), "--add-modules"], `${root}${inside}\n`);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `weak-modules: create /lib/modules/${K53}/weak-updates/d1/d2/d3/nv_deep.ko: no space left on device; nothing changed in ${K53}'s weak-updates (this run's changes there were rolled back)\n`,
    );
    const after = snapshot(root);
    expect(after.links.filter((l) => l.startsWith(`${K53} `))).toEqual(linked.links.filter((l) => l.startsWith(`${K53} `)));
    expect(after.leftovers).toEqual([]);
    expect(readdirSync(mount).includes("d1")).toBe(false);
  });

  it("lib/modules read-only: the lock cannot be taken: one line naming it, exit 1", async (context) => {
    const { root, mount } = await rootWithTmpfs("lib/modules", "size=4m", () => context.skip());
    remount(mount, "ro");
    const before = await hashTree(mount);
    const r = await runWeak([...baseArgs(root), "--add-kernel", K53]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`weak-modules: ${root}/lib/modules/.kabi-weak-modules.lock: read-only file system\n`);
    expect(await hashTree(mount)).toBe(before);
  });
});
