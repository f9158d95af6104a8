/**
 * What the kernel-hook tests share: a system sandbox (test/helpers/system-sandbox.ts) where kabi is
 * installed as `kabi install-system` places it (/usr/sbin/weak-modules = this worktree's built CLI,
 * the hooks at their /etc/kernel paths), two kernels with fixture modules and symvers, and the
 * callers' own command lines.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { requireUnderCi } from "../helpers/required.js";
import type { SandboxResult, SystemSandbox } from "../helpers/system-sandbox.js";

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const BIN = path.join(REPO, "dist/src/cli/weak-modules.js");
export const HOOKS = path.join(REPO, "hooks");
export const K53 = "6.1.0-53-amd64";
export const K54 = "6.1.0-54-amd64";

/** The link --add-kernel K54 makes: K53's kabi_gpl_twin is CRC-compatible with K54 (fixtures/modules/README.md). */
export const TWIN_LINK = `/lib/modules/${K54}/weak-updates/kabi_gpl_twin.ko -> /lib/modules/${K53}/extra/kabi_gpl_twin.ko`;

/** Skips (outside CI) or fails (under CI) unless dist/ is built (.ci/run builds it). */
export function requireBuilt(skip: () => void): void {
  requireUnderCi(existsSync(BIN), BIN, skip);
}

export function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Bash that installs kabi and the two kernels in the sandbox. Each kernel keeps whatever the
 * machine has there (the headers' build and source links), minus any external module or link,
 * plus an empty kernel/ (what an installed image brings; the hooks and 50-depmod look for it).
 * K53 holds kabi_gpl_twin.ko, K54 its own kabi_provider and kabi_consumer (incompatible with K53),
 * and both have their symvers at /boot/symvers-K.gz, where weak-modules looks first.
 * Each kernel has an initramfs (a dummy /boot/initrd.img-K, so weak-modules regenerates it) and a
 * dracut on PATH records each call: the sandbox is a Debian system whose initramfs tool is dracut
 * (Debian's dracut package replaces initramfs-tools), so initramfs-tools' own kernel hooks and
 * update-initramfs are removed from it (the fixture kernels have no /boot/config-K, on which
 * mkinitramfs fails; test/hooks/initramfs-tools.test.ts runs them for real on a real module tree).
 * The Debian postinst.d and header_postinst.d hooks let weak-modules run dracut for a kernel whose
 * links changed (after initramfs-tools' or dracut's own hook built the image without them); the
 * postrm.d hook and the kernel-install plugin pass --no-initramfs (dracut's plugin runs after kabi's).
 */
export function installScript(): string {
  const fixtures = path.join(REPO, "fixtures");
  return `
for k in ${K53} ${K54}; do
  rm -rf /lib/modules/$k/extra /lib/modules/$k/updates /lib/modules/$k/weak-updates
  mkdir -p /lib/modules/$k/kernel /lib/modules/$k/extra
  cp ${q(fixtures)}/symvers/$k.symvers.gz /boot/symvers-$k.gz
  printf 'not a real initramfs\\n' > /boot/initrd.img-$k
done
cp ${q(fixtures)}/modules/${K53}/kabi_gpl_twin.ko /lib/modules/${K53}/extra/
cp ${q(fixtures)}/modules/${K54}/kabi_provider.ko ${q(fixtures)}/modules/${K54}/kabi_consumer.ko /lib/modules/${K54}/extra/
rm -f /usr/sbin/weak-modules
ln -s ${q(BIN)} /usr/sbin/weak-modules
for d in postinst.d postrm.d header_postinst.d install.d; do mkdir -p /etc/kernel/$d; done
install -m 755 ${q(HOOKS)}/postinst.d/kabi /etc/kernel/postinst.d/kabi
install -m 755 ${q(HOOKS)}/postrm.d/kabi /etc/kernel/postrm.d/kabi
install -m 755 ${q(HOOKS)}/header_postinst.d/kabi /etc/kernel/header_postinst.d/kabi
install -m 755 ${q(HOOKS)}/install.d/45-kabi.install /etc/kernel/install.d/45-kabi.install
mkdir -p /usr/local/sbin
printf '#!/bin/sh\\necho "dracut $*" >> /var/tmp/weak-modules-ran-dracut\\n' > /usr/local/sbin/dracut
chmod 755 /usr/local/sbin/dracut
rm -f /etc/kernel/postinst.d/initramfs-tools /etc/kernel/postrm.d/initramfs-tools /usr/sbin/update-initramfs
`;
}

/** The weak-updates symlinks of both kernels, "LINK -> TARGET", sorted; then "--" and the empty weak-updates folders. */
export const LIST_LINKS = `
for k in ${K53} ${K54}; do
  if [ -d /lib/modules/$k/weak-updates ]; then find /lib/modules/$k/weak-updates -type l -printf '%p -> %l\\n'; fi
done | sort
echo --
for k in ${K53} ${K54}; do
  if [ -d /lib/modules/$k/weak-updates ]; then find /lib/modules/$k/weak-updates -type d -empty; fi
done | sort
`;

/** The dracut calls weak-modules made in this sandbox (the stand-in of installScript records them), one line each. */
export async function dracutRan(box: SystemSandbox): Promise<string> {
  return (await box.check("cat /var/tmp/weak-modules-ran-dracut 2>/dev/null || true")).stdout;
}

/** Parses LIST_LINKS' output. */
export function parseLinks(stdout: string): { links: string[]; emptyDirs: string[] } {
  const [links = "", dirs = ""] = stdout.split(/^--$/m);
  const lines = (s: string): string[] => s.split("\n").filter((l) => l !== "");
  return { links: lines(links), emptyDirs: lines(dirs) };
}

export async function links(box: SystemSandbox): Promise<string[]> {
  return parseLinks((await box.check(LIST_LINKS)).stdout).links;
}

/**
 * Bash functions running the hook directories exactly as Debian's kernel packages do (the
 * maintainer scripts of linux-image-6.1.0-54-amd64 6.1.190-1 and linux-headers-6.1.0-54-amd64):
 * `image_postinst K ARGS...`, `image_postrm K ARGS...` (ARGS: the maintainer script's own, e.g.
 * configure, remove, purge, upgrade V) and `headers_postinst K`.
 */
export const DEBIAN_CALLERS = `
image_postinst() {
  version=$1; image_path=/boot/vmlinuz-$version; shift
  DEB_MAINT_PARAMS="$*" run-parts --report --exit-on-error --arg=$version \\
    --arg=$image_path /etc/kernel/postinst.d
}
image_postrm() {
  version=$1; image_path=/boot/vmlinuz-$version; shift
  DEB_MAINT_PARAMS="$*" run-parts --report --exit-on-error --arg=$version \\
    --arg=$image_path /etc/kernel/postrm.d
}
headers_postinst() {
  run-parts --report --exit-on-error --arg=$1 /etc/kernel/header_postinst.d
}
`;

/** The weak-modules cache of the CLI runs, inside the sandbox's /var (never the user's). */
export const SANDBOX_ENV = { KABI_CACHE_DIR: "/var/cache/kabi-hook-test" };

/** The lines of stderr that kabi's hooks print ("kabi: ..."). */
export function kabiLines(r: SandboxResult): string[] {
  return r.stderr.split("\n").filter((l) => l.startsWith("kabi:"));
}

export function show(r: SandboxResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The line the stand-in dracut records when weak-modules regenerates kernel `k`'s initramfs in the sandbox. */
export function dracutCall(k: string): string {
  return `dracut -f -- /boot/initrd.img-${k} ${k}\n`;
}
