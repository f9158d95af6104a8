/**
 * Which initramfs command runPostActions runs for a kernel whose links changed: the
 * --check-initramfs-prog program, else dracut (given or on PATH), else initramfs-tools'
 * update-initramfs for an image it names, on the root "/" only. Stand-in programs record their
 * arguments; test/hooks/initramfs-tools.test.ts runs the real update-initramfs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findOnPath, runPostActions, type PostOptions } from "../../src/weak/weak-post.js";
import { requireUnderCi } from "../helpers/required.js";

/** A release no machine has: /lib/modules/K is absent, so the root "/" passes outsideRootReason. */
const K = "0.0.0-kabi-post-test";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A folder with stand-ins (each appends "NAME ARGS" to calls.log) and boot/ images. */
function setup(): { dir: string; prog: (name: string) => string; calls: () => string[]; image: (name: string) => string } {
  dir = mkdtempSync(path.join(os.tmpdir(), "kabi-post-"));
  const d = dir;
  mkdirSync(path.join(d, "boot"));
  const log = path.join(d, "calls.log");
  return {
    dir: d,
    prog(name) {
      const p = path.join(d, name);
      writeFileSync(p, `#!/bin/sh\necho "${name} $*" >> '${log}'\n`, { mode: 0o755 });
      return p;
    },
    calls() {
      try {
        return readFileSync(log, "utf8").split("\n").filter((l) => l !== "");
      } catch {
        return [];
      }
    },
    image(name) {
      const p = path.join(d, "boot", name);
      writeFileSync(p, "not a real initramfs\n");
      return p;
    },
  };
}

function options(over: Partial<PostOptions>): PostOptions {
  return {
    root: "/",
    depmod: "/bin/true",
    dracut: null,
    updateInitramfs: null,
    checkInitramfsProg: null,
    noInitramfs: false,
    initramfsOf: () => null,
    moduleDirOf: (r) => `/lib/modules/${r}`,
    ...over,
  };
}

/** Where dracut is installed the lookup finds it first; CI's Debian has none (initramfs-tools, which .ci/run installs, conflicts with it). */
async function requireNoDracut(skip: () => void): Promise<void> {
  requireUnderCi((await findOnPath("dracut")) === null, "a system without dracut", skip);
}

describe("the initramfs step after the links changed", () => {
  it("without dracut, an initramfs-tools image (boot/initrd.img-K) is rebuilt with update-initramfs -u -k K, never a bare -u (dpkg defers that to its trigger)", async (ctx) => {
    await requireNoDracut(ctx.skip);
    const s = setup();
    const image = s.image(`initrd.img-${K}`);
    const post = await runPostActions([K], options({ updateInitramfs: s.prog("update-initramfs"), initramfsOf: () => image }));
    expect(post.map((p) => [p.step, p.ok, p.message])).toEqual([
      ["depmod", true, ""],
      ["initramfs", true, ""],
    ]);
    expect(s.calls()).toEqual([`update-initramfs -u -k ${K} -b ${path.dirname(image)}`]);
  });

  it("dracut, given or found, comes first; --check-initramfs-prog before both", async () => {
    const s = setup();
    const image = s.image(`initrd.img-${K}`);
    const base = { updateInitramfs: s.prog("update-initramfs"), initramfsOf: () => image };
    await runPostActions([K], options({ ...base, dracut: s.prog("dracut") }));
    await runPostActions([K], options({ ...base, dracut: s.prog("dracut"), checkInitramfsProg: s.prog("check") }));
    expect(s.calls()).toEqual([`dracut -f -- ${image} ${K}`, `check -- ${K}`]);
  });

  it("another root: update-initramfs (no root option) is not run, one warning says the image was not regenerated", async (ctx) => {
    await requireNoDracut(ctx.skip);
    const s = setup();
    const image = s.image(`initrd.img-${K}`);
    const post = await runPostActions([K], options({ root: s.dir, updateInitramfs: s.prog("update-initramfs"), initramfsOf: () => image }));
    expect(post.filter((p) => p.step === "initramfs").map((p) => [p.ok, p.message])).toEqual([[false, `update-initramfs has no root option: ${image} not regenerated`]]);
    expect(s.calls()).toEqual([]);
  });

  it("without dracut, a dracut-named image (boot/initramfs-K.img) is not given to update-initramfs", async (ctx) => {
    await requireNoDracut(ctx.skip);
    const s = setup();
    const image = s.image(`initramfs-${K}.img`);
    const post = await runPostActions([K], options({ updateInitramfs: s.prog("update-initramfs"), initramfsOf: () => image }));
    expect(post.filter((p) => p.step === "initramfs").map((p) => [p.ok, p.message])).toEqual([[false, `dracut not found: ${image} not regenerated`]]);
    expect(s.calls()).toEqual([]);
  });

  it("--no-initramfs, or a kernel without an initramfs: no initramfs command", async () => {
    const s = setup();
    const image = s.image(`initrd.img-${K}`);
    const up = s.prog("update-initramfs");
    const none = await runPostActions([K], options({ updateInitramfs: up, initramfsOf: () => image, noInitramfs: true }));
    const noImage = await runPostActions([K], options({ updateInitramfs: up }));
    expect([...none, ...noImage].map((p) => p.step)).toEqual(["depmod", "depmod"]);
    expect(s.calls()).toEqual([]);
  });
});
