import { execFileSync, spawnSync } from "node:child_process";
import { copyFile, mkdir, readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { statusCommand } from "../../src/cli/status.js";
import { readModule } from "../../src/module/read-module.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { plainJudge } from "../engine/real-data.js";
import { addKernel, baseArgs, CORPUS, haveRealTree, installFixture, K53, K54, K612, makeRoot, REAL_TREE_53, removeRoot, runWeak, SYMVERS, weakLinks } from "./weak-root.js";

/** Real Debian 6.1.0-53 modules without dependencies, placed in extra/real/ of 6.1.0-53. */
const REAL = ["lib/crc8.ko", "lib/crc7.ko", "lib/crc-itu-t.ko", "drivers/net/dummy.ko", "fs/nls/nls_utf8.ko", "lib/ts_kmp.ko", "lib/libcrc32c.ko"];

let root = "";
afterAll(async () => {
  if (root !== "") await removeRoot(root);
});

// The real module tree comes from the corpus cache (bench/corpus.sh), not the repository: skipped without it.
describe.skipIf(!haveRealTree())("weak-modules on a root with a real Debian module tree (corpus cache)", () => {
  it("links exactly the compatible modules, and real depmod -e finds nothing wrong with weak-updates", async () => {
    // Same filesystem as the cache, so the real tree can be hard-linked in (visible inside a chroot).
    root = await makeRoot(path.dirname(CORPUS));
    for (const k of [K53, K54]) await addKernel(root, k, "debian");
    await addKernel(root, K612, "rhel");
    execFileSync("cp", ["-al", path.join(REAL_TREE_53, "kernel"), path.join(root, "lib/modules", K53, "kernel")]);
    for (const f of ["modules.builtin", "modules.order", "modules.builtin.modinfo"]) await copyFile(path.join(REAL_TREE_53, f), path.join(root, "lib/modules", K53, f));
    await installFixture(root, K53, "kabi_provider.ko", K53);
    await installFixture(root, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
    await installFixture(root, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
    await installFixture(root, K612, "kabi_consumer.ko", K612);
    const real: string[] = [];
    for (const rel of REAL) {
      const inside = `/lib/modules/${K53}/extra/real/${path.basename(rel)}`;
      await mkdir(path.dirname(root + inside), { recursive: true });
      await copyFile(path.join(REAL_TREE_53, "kernel", rel), root + inside);
      real.push(inside);
    }
    // 6.1.0-54 gets an in-tree dummy.ko: with `updates extra built-in weak-updates` it shadows a weak link.
    await mkdir(path.join(root, "lib/modules", K54, "kernel/drivers/net"), { recursive: true });
    await copyFile(path.join(REAL_TREE_53, "kernel/drivers/net/dummy.ko"), path.join(root, "lib/modules", K54, "kernel/drivers/net/dummy.ko"));

    const r = await runWeak([...baseArgs(root), "--add-modules"], [...real, `/lib/modules/${K54}/extra/kabi/kabi_consumer.ko`].map((p) => root + p).join("\n"));
    expect(r.code).toBe(0);
    for (const k of [K53, K54, K612]) expect((await runWeak([...baseArgs(root), "--add-kernel", k])).code).toBe(0);

    // Expected, computed without the engine: the dependency-free real modules go into 6.1.0-54 where
    // every modversion matches its symvers (dummy is shadowed); nothing from 6.1 loads on 6.12.
    const s54 = await readSymvers(path.join(SYMVERS, `${K54}.symvers.gz`));
    const expected = [`${K53} kabi/kabi_consumer.ko -> /lib/modules/${K54}/extra/kabi/kabi_consumer.ko`];
    let compatibleCount = 0;
    for (const inside of real) {
      const m = await readModule(root + inside);
      expect(m.depends).toEqual([]);
      const ok = plainJudge(m, s54).ok;
      if (ok) compatibleCount++;
      if (ok && m.name !== "dummy") expected.push(`${K54} real/${path.basename(inside)} -> ${inside}`);
    }
    expect(compatibleCount).toBeGreaterThan(0);
    expect(compatibleCount).toBeLessThan(real.length);
    expect(await weakLinks(root)).toEqual(expected.sort());

    // kabi status shows the states.
    let out = "";
    await statusCommand(["--basedir", root, "--json"], { out: (t) => void (out += t), err: () => undefined, readStdin: async () => "", cwd: "/" });
    const status = JSON.parse(out) as { entries: { module: string; kernel: string; state: string; text: string }[] };
    const st = (module: string, kernel: string) => status.entries.filter((e) => e.module === module && e.kernel === kernel).map((e) => e.text);
    expect(st("kabi_consumer", K53)).toContain(`installed-weak from ${K54}`);
    expect(st("dummy", K54)).toEqual([`shadowed by /lib/modules/${K54}/kernel/drivers/net/dummy.ko`]);
    expect(st("kabi_consumer", K612).some((t) => t === "installed")).toBe(true);
    expect(st("crc8", K612)[0]).toMatch(/^incompatible: .*module_layout/);

    // Real kmod, inside the root (links are absolute paths as seen inside it).
    const chrootOk = spawnSync("chroot", ["/", "true"]).status === 0;
    if (!chrootOk) return;
    const kmod = execFileSync("sh", ["-c", "readlink -f $(command -v depmod)"]).toString().trim();
    const libs = execFileSync("ldd", [kmod]).toString().match(/\/\S+/g) ?? [];
    for (const f of [kmod, ...libs]) {
      await mkdir(path.dirname(root + f), { recursive: true });
      await copyFile(f, root + f).catch(() => undefined);
    }
    await mkdir(path.join(root, "sbin"), { recursive: true });
    await symlink(kmod, path.join(root, "sbin/depmod")).catch(() => undefined);
    for (const k of [K53, K54]) {
      const res = spawnSync("chroot", [root, "/sbin/depmod", "-n", "-e", "-E", `/usr/src/linux-headers-${k}/Module.symvers`, k], { encoding: "utf8", maxBuffer: 64 << 20 });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stderr.split("\n").filter((l) => l.includes("weak-updates"))).toEqual([]);
      // depmod did see the weak-updates modules.
      for (const line of expected.filter((l) => l.startsWith(`${k} `))) {
        const sub = line.split(" ")[1];
        expect(res.stdout).toContain(`weak-updates/${sub}`);
      }
    }
    expect(await readFile(path.join(root, "lib/modules", K53, "modules.order"), "utf8")).not.toBe("");
  }, 120_000);
});
