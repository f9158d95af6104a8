/**
 * kabi's Debian image and headers hooks with Debian's REAL initramfs-tools: the kernel package's postinst runs
 * /etc/kernel/postinst.d with run-parts, initramfs-tools' own hook (which sorts before kabi's)
 * builds the new kernel's initrd before any weak-updates link exists, and kabi's hook then links a
 * module of another kernel into it and has update-initramfs rebuild the initrd, so that a module
 * the initrd needs (listed in /etc/initramfs-tools/modules, as a storage driver from a driver disk
 * would be) is in it. The same when the headers (so the symvers, and the links) come after the
 * image: the headers' hook (header_postinst.d) has the initrd rebuilt. Checked with initramfs-tools'
 * own lsinitramfs.
 *
 * In a system sandbox (test/helpers/system-sandbox.ts) whose /usr/lib/modules holds two kernels
 * only: 6.1.0-54-amd64, an overlay over its real module tree unpacked from the linux-image package
 * (fixtures/dkms/fetch-kernels.sh, which CI runs; the test never downloads), and 6.1.0-53-amd64 with
 * the fixture module kabi_gpl_twin.ko in extra/ (CRC-compatible with 6.1.0-54: fixtures/modules/
 * README.md). Both kernels' symvers are their headers' Module.symvers (Debian's place); the image's
 * /boot/config-K (which mkinitramfs reads) is the headers' .config, the file the image ships.
 * initramfs.conf says MODULES=list, so the initrd holds the listed modules and initramfs-tools'
 * hooks' few, not the whole tree: each build takes seconds. The hooks run under dpkg's variables
 * (DPKG_MAINTSCRIPT_PACKAGE), where update-initramfs defers a bare -u to a trigger.
 */
import { existsSync, mkdirSync, readlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { requireUnderCi } from "../helpers/required.js";
import { requireSystemSandbox, systemSandbox, type SandboxResult, type SystemSandbox } from "../helpers/system-sandbox.js";
import { BIN, DEBIAN_CALLERS, HOOKS, K53, K54, REPO, SANDBOX_ENV, kabiLines, q, requireBuilt, show } from "./hook-sandbox.js";

const FETCH = path.join(REPO, "fixtures/dkms/fetch-kernels.sh");

let box: SystemSandbox | undefined;
afterEach(() => {
  box?.dispose();
  box = undefined;
});

/** The folder holding lib/modules/K54 unpacked from the linux-image package, when fetched. */
function fetchedTree(): string | undefined {
  const r = spawnSync("bash", [FETCH, "--check", K54], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const [k, dir] = r.stdout.trim().split("\t");
  return k === K54 && dir !== undefined ? dir : undefined;
}

function present(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } }).status === 0;
}

interface InitramfsSandbox {
  box: SystemSandbox;
  run(script: string, env?: Record<string, string>): Promise<SandboxResult>;
  check(script: string): Promise<SandboxResult>;
}

/**
 * The sandbox: every script first mounts an empty tmpfs on /usr/lib/modules (no other kernel of the
 * machine takes part) and, on it, one overlay per kernel whose upper layer persists in the sandbox.
 */
function initramfsSandbox(tree: string): InitramfsSandbox {
  const b = systemSandbox("initramfs-tools");
  const mounts = ["mount -t tmpfs -o mode=0755 kabi-initramfs-modules /usr/lib/modules"];
  for (const [k, lower] of [
    [K54, `${tree}/lib/modules/${K54}`],
    [K53, path.join(b.dir, "kmods", K53, "lower")],
  ] as const) {
    for (const d of ["upper", "work", "lower"]) mkdirSync(path.join(b.dir, "kmods", k, d), { recursive: true });
    mounts.push(`mkdir /usr/lib/modules/${k}`);
    mounts.push(`mount -t overlay overlay -o ${q(`lowerdir=${lower},upperdir=${b.dir}/kmods/${k}/upper,workdir=${b.dir}/kmods/${k}/work`)} /usr/lib/modules/${k}`);
  }
  const prelude = `${mounts.join("\n")}\n`;
  const baseEnv = { ...SANDBOX_ENV, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` };
  return {
    box: b,
    run: (script, env = {}) => b.run(prelude + script, { env: { ...baseEnv, ...env } }),
    check: (script) => b.check(prelude + script, { env: baseEnv }),
  };
}

/**
 * The setup: kabi installed as install-system places it (the image and headers hooks), the kernels,
 * initramfs-tools' configuration, the depmod the package's postinst runs before its hooks, and,
 * with `initrd`, K54's first initrd.
 */
function setupScript(initrd: boolean): string {
  // The headers' build and source links (the machine's), as the installed kernel has them.
  const links = ["build", "source"]
    .filter((l) => existsSync(`/usr/lib/modules/${K54}/${l}`))
    .map((l) => `ln -sfn ${q(readlinkSync(`/usr/lib/modules/${K54}/${l}`))} /usr/lib/modules/${K54}/${l}`);
  return `
${links.join("\n")}
mkdir -p /lib/modules/${K53}/kernel /lib/modules/${K53}/extra
cp ${q(path.join(REPO, "fixtures/modules", K53, "kabi_gpl_twin.ko"))} /lib/modules/${K53}/extra/
cp /usr/src/linux-headers-${K54}/.config /boot/config-${K54}
rm -f /usr/sbin/weak-modules
ln -s ${q(BIN)} /usr/sbin/weak-modules
mkdir -p /etc/kernel/postinst.d /etc/kernel/header_postinst.d
install -m 755 ${q(HOOKS)}/postinst.d/kabi /etc/kernel/postinst.d/kabi
install -m 755 ${q(HOOKS)}/header_postinst.d/kabi /etc/kernel/header_postinst.d/kabi
sed -i 's/^MODULES=.*/MODULES=list/' /etc/initramfs-tools/initramfs.conf
echo kabi_gpl_twin >> /etc/initramfs-tools/modules
rm -f /boot/initrd.img-${K54}
depmod -a ${K54}
${initrd ? `update-initramfs -c -k ${K54}` : ""}
`;
}

/** The files of K54's initrd that are kabi_gpl_twin.ko (the weak-updates link, its target), as lsinitramfs lists them. */
async function twinInInitrd(s: InitramfsSandbox): Promise<string[]> {
  const r = await s.check(`lsinitramfs /boot/initrd.img-${K54}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.endsWith("/kabi_gpl_twin.ko"))
    .map((l) => l.replace(/^(usr\/)?/, "/"))
    .sort();
}

/** Skips or fails (under CI) unless everything the test runs is here; then the sandbox, set up. */
async function ready(skip: () => void, initrd: boolean): Promise<InitramfsSandbox> {
  requireSystemSandbox(skip);
  requireBuilt(skip);
  for (const cmd of ["run-parts", "update-initramfs", "lsinitramfs"]) requireUnderCi(present(cmd), cmd, skip);
  for (const f of [`/usr/src/linux-headers-${K53}/Module.symvers`, `/usr/src/linux-headers-${K54}/Module.symvers`, `/usr/src/linux-headers-${K54}/.config`]) {
    requireUnderCi(existsSync(f), f, skip);
  }
  const tree = fetchedTree();
  requireUnderCi(tree !== undefined, `the module tree of ${K54} (fixtures/dkms/fetch-kernels.sh)`, skip);
  const s = initramfsSandbox(tree!);
  box = s.box;
  const setup = await s.run(setupScript(initrd));
  expect(setup.code, show(setup)).toBe(0);
  return s;
}

/** What dpkg sets for a maintainer script: a bare `update-initramfs -u` is then deferred to a trigger. */
const UNDER_DPKG = { DPKG_MAINTSCRIPT_NAME: "postinst" };

const TWIN_FILES = [`/lib/modules/${K53}/extra/kabi_gpl_twin.ko`, `/lib/modules/${K54}/weak-updates/kabi_gpl_twin.ko`];

const LINKS = `find /lib/modules/${K54}/weak-updates -type l -printf '%p -> %l\\n' 2>/dev/null || true`;
const TWIN_LINK = `/lib/modules/${K54}/weak-updates/kabi_gpl_twin.ko -> /lib/modules/${K53}/extra/kabi_gpl_twin.ko\n`;

describe("the Debian kernel hooks with the real initramfs-tools", () => {
  it("image postinst.d run as the kernel package does: initramfs-tools' hook builds the initrd, kabi's links the module and has the initrd rebuilt with it", async (ctx) => {
    const s = await ready(ctx.skip, true);
    // Before: the module is listed for the initrd but K54 has no such module, so the initrd lacks it.
    expect(await twinInInitrd(s)).toEqual([]);

    const started = Date.now();
    const inst = await s.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { ...UNDER_DPKG, DPKG_MAINTSCRIPT_PACKAGE: `linux-image-${K54}` });
    const took = Date.now() - started;
    expect(inst.code, show(inst)).toBe(0);
    expect(kabiLines(inst), show(inst)).toEqual([]);
    // initramfs-tools' own hook ran (first, by name: before any link existed) and built the initrd.
    expect(inst.stderr, show(inst)).toContain(`/etc/kernel/postinst.d/initramfs-tools:\nupdate-initramfs: Generating /boot/initrd.img-${K54}\n`);
    expect((await s.check(LINKS)).stdout).toBe(TWIN_LINK);
    // After: the initrd holds the weak-updates link and the file it points to.
    expect(await twinInInitrd(s), show(inst)).toEqual(TWIN_FILES);
    console.log(`initramfs-tools test: the image postinst (two initrd builds) took ${took} ms`);
  });

  it("headers configured after the image: the image's hooks build the initrd without the module (no symvers yet), the headers' hook links it and has the initrd rebuilt", async (ctx) => {
    const s = await ready(ctx.skip, false);
    // Debian style: K54's symvers come with its headers, not configured yet (kept aside for later).
    await s.check(`mv /usr/src/linux-headers-${K54}/Module.symvers /var/tmp/${K54}.Module.symvers`);

    const inst = await s.run(`${DEBIAN_CALLERS}\nimage_postinst ${K54} configure`, { ...UNDER_DPKG, DPKG_MAINTSCRIPT_PACKAGE: `linux-image-${K54}` });
    expect(inst.code, show(inst)).toBe(0);
    expect(kabiLines(inst), show(inst)).toEqual([`kabi: weak-modules --add-kernel ${K54} failed (exit 1); weak-updates links of kernel ${K54} not updated`]);
    expect((await s.check(LINKS)).stdout).toBe("");
    expect(await twinInInitrd(s), show(inst)).toEqual([]);

    const started = Date.now();
    const hdr = await s.run(`mv /var/tmp/${K54}.Module.symvers /usr/src/linux-headers-${K54}/Module.symvers\n${DEBIAN_CALLERS}\nheaders_postinst ${K54}`, {
      ...UNDER_DPKG,
      DPKG_MAINTSCRIPT_PACKAGE: `linux-headers-${K54}`,
    });
    const took = Date.now() - started;
    expect(hdr.code, show(hdr)).toBe(0);
    expect(kabiLines(hdr), show(hdr)).toEqual([]);
    expect((await s.check(LINKS)).stdout).toBe(TWIN_LINK);
    expect(await twinInInitrd(s), show(hdr)).toEqual(TWIN_FILES);
    console.log(`initramfs-tools test: the headers postinst (one initrd build) took ${took} ms`);
  });
});
