/**
 * kabi's kernel-install plugin (hooks/install.d/45-kabi.install) run by systemd's real
 * kernel-install, with the real plugin directories (/etc/kernel/install.d, /usr/lib/kernel/install.d:
 * 50-depmod, 85-initrd, 90-loaderentry), in a system sandbox.
 *
 * dracut is not installed here: a stand-in /etc/kernel/install.d/50-dracut.install (the name and
 * place of dracut's own plugin) records the weak-updates links it finds when it runs, which is
 * what dracut would put in the initramfs; it shows the order, and that the later plugins still run
 * when weak-modules fails.
 */
import { afterEach, describe, expect, it } from "vitest";
import { requireSystemSandbox, systemSandbox, type SystemSandbox } from "../helpers/system-sandbox.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import { BIN, dracutRan, K54, SANDBOX_ENV, TWIN_LINK, installScript, kabiLines, links, requireBuilt, show } from "./hook-sandbox.js";

let box: SystemSandbox | undefined;
afterEach(() => {
  box?.dispose();
  box = undefined;
});

const DRACUT_STAND_IN = `
cat > /etc/kernel/install.d/50-dracut.install <<'EOF'
#!/bin/sh
# Test stand-in for dracut's plugin: what it would see of the kernel's weak-updates.
echo "$1 $2" >> /var/tmp/dracut-saw
if [ -d /lib/modules/$2/weak-updates ]; then find /lib/modules/$2/weak-updates -type l -printf '%p -> %l\\n' >> /var/tmp/dracut-saw; fi
exit 0
EOF
chmod 755 /etc/kernel/install.d/50-dracut.install
rm -f /var/tmp/dracut-saw
`;

/** kernel-install add needs the image to be a file; the "other" layout needs no boot loader. */
const IMAGE = `printf 'not a real kernel\\n' > /boot/vmlinuz-${K54}`;

async function ready(skip: () => void): Promise<SystemSandbox> {
  requireSystemSandbox(skip);
  requireBuilt(skip);
  requireUnderCi(commandPresent("kernel-install"), "kernel-install (systemd)", skip);
  box = systemSandbox("hooks-kernel-install");
  await box.check(`${installScript()}\n${DRACUT_STAND_IN}\n${IMAGE}`);
  return box;
}

async function dracutSaw(b: SystemSandbox): Promise<string[]> {
  return (await b.check("cat /var/tmp/dracut-saw 2>/dev/null || true")).stdout.split("\n").filter((l) => l !== "");
}

describe("kernel-install plugin 45-kabi.install, run by the real kernel-install", () => {
  it("add links the kernel before the initramfs plugin runs and 50-depmod indexes the link; remove takes the links away; a kernel without modules is left alone", async (ctx) => {
    const b = await ready(ctx.skip);
    // kabi's plugin is picked up from the plugin directories, in order (by file name), before 50-depmod and dracut.
    const plugins = await b.check(`kernel-install --verbose add ${K54} /boot/vmlinuz-${K54}`, { env: SANDBOX_ENV });
    const order = plugins.stdout.split("\n").filter((l) => /^\/.*\.install$/.test(l));
    expect(order.slice(0, 3), show(plugins)).toEqual(["/etc/kernel/install.d/45-kabi.install", "/usr/lib/kernel/install.d/50-depmod.install", "/etc/kernel/install.d/50-dracut.install"]);
    expect(kabiLines(plugins), show(plugins)).toEqual([]);
    expect(await links(b)).toEqual([TWIN_LINK]);
    expect(await dracutSaw(b)).toEqual([`add ${K54}`, TWIN_LINK]);
    // Indexed by depmod (weak-modules' own run and 50-depmod's after it).
    expect((await b.check(`cat /lib/modules/${K54}/modules.dep`)).stdout).toMatch(/^weak-updates\/kabi_gpl_twin\.ko:/m);

    const rm = await b.run(`kernel-install remove ${K54}`, { env: SANDBOX_ENV });
    expect(rm.code, show(rm)).toBe(0);
    expect(kabiLines(rm), show(rm)).toEqual([]);
    expect(await links(b)).toEqual([]);
    expect(await dracutSaw(b)).toEqual([`add ${K54}`, TWIN_LINK, `remove ${K54}`]);
    // The initramfs is dracut's plugin's: weak-modules itself never ran dracut.
    expect(await dracutRan(b)).toBe("");

    // A kernel without a module directory (a unified kernel image, say): nothing to link, quietly.
    const bare = await b.run(`printf 'x\\n' > /boot/vmlinuz-6.1.0-99-amd64\nkernel-install add 6.1.0-99-amd64 /boot/vmlinuz-6.1.0-99-amd64`, { env: SANDBOX_ENV });
    expect(bare.code, show(bare)).toBe(0);
    expect(bare.stderr + bare.stdout, show(bare)).not.toMatch(/kabi|weak-modules/);
  });

  it("weak-modules missing or failing: one line naming kabi and the kernel, the installation succeeds and the later plugins still run", async (ctx) => {
    const b = await ready(ctx.skip);
    const missing = await b.run(`rm -f /usr/sbin/weak-modules\n! command -v weak-modules\nkernel-install add ${K54} /boot/vmlinuz-${K54}`, { env: SANDBOX_ENV });
    expect(missing.code, show(missing)).toBe(0);
    expect(kabiLines(missing), show(missing)).toEqual([`kabi: weak-modules not found (/usr/sbin/weak-modules); weak-updates links of kernel ${K54} not updated`]);
    expect(await dracutSaw(b)).toEqual([`add ${K54}`]);
    expect(await links(b)).toEqual([]);

    // A real failure of the real weak-modules (a folder in the lock's place: exit 1, nothing changed).
    const failing = await b.run(
      `mkdir /lib/modules/.kabi-weak-modules.lock\nkernel-install add ${K54} /boot/vmlinuz-${K54}`,
      { env: { ...SANDBOX_ENV, KABI_WEAK_MODULES: BIN } },
    );
    expect(failing.code, show(failing)).toBe(0);
    expect(kabiLines(failing), show(failing)).toEqual([`kabi: weak-modules --add-kernel ${K54} failed (exit 1); weak-updates links of kernel ${K54} not updated`]);
    expect(await dracutSaw(b)).toEqual([`add ${K54}`, `add ${K54}`]);
  });
});

