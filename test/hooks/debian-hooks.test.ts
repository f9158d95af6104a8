/**
 * kabi's Debian kernel hooks (hooks/postinst.d/kabi, postrm.d/kabi, header_postinst.d/kabi) run by
 * the real run-parts exactly as linux-image and linux-headers packages run them, in a system
 * sandbox where they sit at their /etc/kernel paths next to the machine's own hooks (dkms's).
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { requireSystemSandbox, systemSandbox, type SystemSandbox } from "../helpers/system-sandbox.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import { BIN, DEBIAN_CALLERS, dracutCall, dracutRan, K53, K54, REPO, SANDBOX_ENV, TWIN_LINK, installScript, kabiLines, links, q, requireBuilt, show } from "./hook-sandbox.js";

let box: SystemSandbox | undefined;
afterEach(() => {
  box?.dispose();
  box = undefined;
});

async function ready(skip: () => void): Promise<SystemSandbox> {
  requireSystemSandbox(skip);
  requireBuilt(skip);
  requireUnderCi(commandPresent("run-parts"), "run-parts (debianutils)", skip);
  box = systemSandbox("hooks-debian");
  await box.check(installScript());
  return box;
}

describe("Debian kernel hooks, run by run-parts as the kernel packages do", () => {
  it("image postinst (configure) links the new kernel; postrm keeps the links on upgrade and removes them on remove; purge after that is quiet", async (ctx) => {
    const b = await ready(ctx.skip);
    expect(await links(b)).toEqual([]);

    const inst = await b.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env: SANDBOX_ENV });
    expect(inst.code, show(inst)).toBe(0);
    expect(kabiLines(inst), show(inst)).toEqual([]);
    expect(await links(b)).toEqual([TWIN_LINK]);
    // The new link goes into K54's initramfs: weak-modules regenerated it, after it made the link.
    expect(await dracutRan(b)).toBe(dracutCall(K54));
    // Configured again (dpkg-reconfigure): no link changes, so no second rebuild.
    const again = await b.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env: SANDBOX_ENV });
    expect(again.code, show(again)).toBe(0);
    expect(await dracutRan(b)).toBe(dracutCall(K54));

    // The package's postrm of an upgrade (same release, new files): the kernel stays, so do its links.
    const up = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} upgrade 6.1.190-1`, { env: SANDBOX_ENV });
    expect(up.code, show(up)).toBe(0);
    expect(await links(b)).toEqual([TWIN_LINK]);

    // Removal: dpkg has deleted the image's files (kernel/), then runs postrm with "remove".
    await b.check(`rm -rf /lib/modules/${K54}/kernel`);
    const rm = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} remove`, { env: SANDBOX_ENV });
    expect(rm.code, show(rm)).toBe(0);
    expect(kabiLines(rm), show(rm)).toEqual([]);
    expect(await links(b)).toEqual([]);
    // No empty weak-updates/ left to keep the purge's "rmdir /lib/modules/$version" from working.
    expect((await b.run(`test -e /lib/modules/${K54}/weak-updates`)).code).not.toBe(0);

    const purge = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} purge`, { env: SANDBOX_ENV });
    expect(purge.code, show(purge)).toBe(0);
    expect(purge.stderr + purge.stdout, show(purge)).not.toMatch(/kabi/);

    // And once the purge's own step has removed the module directory, still quiet success.
    await b.check(`rm -rf /lib/modules/${K54}`);
    const gone = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} purge`, { env: SANDBOX_ENV });
    expect(gone.code, show(gone)).toBe(0);
    expect(gone.stderr + gone.stdout, show(gone)).not.toMatch(/kabi/);
    // The postrm hook passes --no-initramfs (the kernel and its initramfs are going): no other call.
    expect(await dracutRan(b)).toBe(dracutCall(K54));
  });

  it("headers configured after the image: the image's hook reports the missing symvers without failing, the headers' hook then links the kernel", async (ctx) => {
    const b = await ready(ctx.skip);
    // Debian style: K54's symvers only in its headers, which are not there yet.
    await b.check(`rm -f /boot/symvers-${K54}.gz /usr/src/linux-headers-${K54}/Module.symvers /lib/modules/${K54}/symvers.gz`);

    const inst = await b.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env: SANDBOX_ENV });
    expect(inst.code, show(inst)).toBe(0);
    expect(kabiLines(inst), show(inst)).toEqual([
      `kabi: weak-modules --add-kernel ${K54} failed (exit 1); weak-updates links of kernel ${K54} not updated`,
    ]);
    expect(inst.stderr, show(inst)).toMatch(new RegExp(`weak-modules: .*${K54}.*symvers`));
    expect(await links(b)).toEqual([]);
    expect(await dracutRan(b)).toBe("");

    // The headers arrive (their Module.symvers), and their postinst runs header_postinst.d.
    const symvers = path.join(REPO, "fixtures/symvers", `${K54}.symvers.gz`);
    const hdr = await b.run(
      `mkdir -p /usr/src/linux-headers-${K54}\nzcat ${q(symvers)} > /usr/src/linux-headers-${K54}/Module.symvers\n${DEBIAN_CALLERS}\nheaders_postinst ${K54}`,
      { env: SANDBOX_ENV },
    );
    expect(hdr.code, show(hdr)).toBe(0);
    expect(kabiLines(hdr), show(hdr)).toEqual([]);
    expect(await links(b)).toEqual([TWIN_LINK]);
    // The links came after initramfs-tools' image hook built the initrd: the headers' hook has it rebuilt.
    expect(await dracutRan(b)).toBe(dracutCall(K54));
  });

  it("headers without the kernel image: the headers' hook does nothing, quietly", async (ctx) => {
    const b = await ready(ctx.skip);
    await b.check(`rm -rf /lib/modules/${K54}/kernel`);
    const hdr = await b.run(`${DEBIAN_CALLERS}\nheaders_postinst ${K54}`, { env: SANDBOX_ENV });
    expect(hdr.code, show(hdr)).toBe(0);
    expect(hdr.stderr + hdr.stdout, show(hdr)).not.toMatch(/kabi/);
    expect(await links(b)).toEqual([]);
  });

  it("weak-modules missing: each hook says so in one line naming the kernel, and the package script goes on; one on PATH is used", async (ctx) => {
    const b = await ready(ctx.skip);
    // Neither at /usr/sbin nor anywhere on PATH.
    await b.check(`rm -f /usr/sbin/weak-modules\n! command -v weak-modules`);
    for (const call of [`image_postinst ${K54} configure`, `headers_postinst ${K54}`, `image_postrm ${K54} remove`]) {
      const r = await b.run(`${DEBIAN_CALLERS}\n${call}`, { env: SANDBOX_ENV });
      expect(r.code, `${call}\n${show(r)}`).toBe(0);
      const lines = kabiLines(r);
      expect(lines, `${call}\n${show(r)}`).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^kabi: weak-modules not found \\(/usr/sbin/weak-modules\\); weak-updates links of kernel ${K54} not (updated|removed)$`));
    }

    // Not at /usr/sbin but on PATH (an install under another prefix): the hooks find it there.
    await b.check(`ln -s ${q(BIN)} /usr/local/bin/weak-modules`);
    const onPath = await b.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env: SANDBOX_ENV });
    expect(onPath.code, show(onPath)).toBe(0);
    expect(kabiLines(onPath), show(onPath)).toEqual([]);
    expect(await links(b)).toEqual([TWIN_LINK]);
  });

  it("weak-modules failing: one line naming kabi, the kernel and the exit status; the kernel package's script still succeeds", async (ctx) => {
    const b = await ready(ctx.skip);
    await b.check(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env: SANDBOX_ENV });
    expect(await links(b)).toEqual([TWIN_LINK]);
    // A real failure of the real weak-modules: the lock's place taken by a folder ("an odd entry
    // in the lock's place", docs/weak-modules.md) makes every run exit 1 before changing anything.
    await b.check(`mkdir /lib/modules/.kabi-weak-modules.lock`);
    await b.check(`rm -rf /lib/modules/${K54}/kernel`);
    const rm = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} remove`, { env: SANDBOX_ENV });
    expect(rm.code, show(rm)).toBe(0);
    expect(kabiLines(rm), show(rm)).toEqual([
      `kabi: weak-modules --remove-kernel ${K54} failed (exit 1); weak-updates links of kernel ${K54} not removed`,
    ]);
    expect(await links(b)).toEqual([TWIN_LINK]);
    // Once the cause is gone, the same call converges.
    await b.check(`rmdir /lib/modules/.kabi-weak-modules.lock`);
    const again = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} remove`, { env: SANDBOX_ENV });
    expect(again.code, show(again)).toBe(0);
    expect(await links(b)).toEqual([]);
  });
});

describe("Debian hooks under DPKG_ROOT", () => {
  it("pass --basedir $DPKG_ROOT: the links are made in that root, with targets as seen inside it, and the system's own kernels are not touched", async (ctx) => {
    const b = await ready(ctx.skip);
    // A second system under /var/tmp/dpkg-root (dpkg --root, mmdebstrap), with the same two
    // kernels; the hooks run from the sandbox's /etc/kernel as dpkg --root runs them, and
    // weak-modules must work on that root only: the sandbox's own K54 gets no link.
    const fixtures = path.join(REPO, "fixtures");
    await b.check(`
r=/var/tmp/dpkg-root
for k in ${K53} ${K54}; do mkdir -p $r/lib/modules/$k/kernel $r/lib/modules/$k/extra $r/boot; cp ${q(fixtures)}/symvers/$k.symvers.gz $r/boot/symvers-$k.gz; done
cp ${q(fixtures)}/modules/${K53}/kabi_gpl_twin.ko $r/lib/modules/${K53}/extra/
rm /lib/modules/${K53}/extra/kabi_gpl_twin.ko`);
    const env = { ...SANDBOX_ENV, DPKG_ROOT: "/var/tmp/dpkg-root" };
    const inst = await b.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env });
    expect(inst.code, show(inst)).toBe(0);
    expect(kabiLines(inst), show(inst)).toEqual([]);
    const rootLinks = `find /var/tmp/dpkg-root/lib/modules -type l -printf '%p -> %l\\n'`;
    expect((await b.check(rootLinks)).stdout).toBe(`/var/tmp/dpkg-root${TWIN_LINK}\n`);
    // The sandbox's own K54 would get a link from K53 if the hook ran on "/": put the twin back there.
    await b.check(`cp ${q(fixtures)}/modules/${K53}/kabi_gpl_twin.ko /lib/modules/${K53}/extra/`);
    await b.check(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { env });
    expect(await links(b)).toEqual([]);

    const rm = await b.run(`${DEBIAN_CALLERS}\nimage_postrm ${K54} remove`, { env });
    expect(rm.code, show(rm)).toBe(0);
    expect((await b.check(rootLinks)).stdout).toBe("");
  });
});
