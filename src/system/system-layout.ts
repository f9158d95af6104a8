/**
 * Where `kabi install-system` puts things, and where the files it installs come from.
 *
 * The places are fixed by the callers, not chosen by kabi: dkms 3.0.10 runs `/sbin/weak-modules`
 * (= /usr/sbin/weak-modules on merged-usr systems), Debian's kernel packages run the hooks in
 * /etc/kernel/postinst.d and postrm.d with `run-parts`, Debian's linux-headers packages those in
 * /etc/kernel/header_postinst.d (a kernel's symvers arrive with its headers on Debian, so that is
 * when kabi can first judge it), and systemd's kernel-install the plugins in /etc/kernel/install.d.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Where weak-modules goes (dkms's /sbin/weak-modules on merged-usr). */
export const WEAK_MODULES_PATH = "/usr/sbin/weak-modules";

/** Where a weak-modules that is not kabi's is set aside (dpkg-divert --rename), Debian's name for it. */
export const DIVERTED_PATH = "/usr/sbin/weak-modules.distrib";

/** The record of what install-system did, read by uninstall-system (FHS: a program's state). */
export const MANIFEST_PATH = "/var/lib/kabi/install-manifest.json";

/** The man pages' default prefix (`man` searches /usr/local/share/man). */
export const DEFAULT_PREFIX = "/usr/local";

/** One file of the package and where it is installed. */
export interface PackagedFile {
  /** Path inside the package. */
  readonly source: string;
  /** Absolute installed path. */
  readonly target: string;
  readonly mode: number;
  /** What it is, in messages: "hook", "man page". */
  readonly kind: string;
}

/**
 * The hooks (hooks/, see docs/weak-modules.md "Kernel lifecycle hooks"): Debian's image hooks, its
 * headers hook (which acts only when the kernel's image is installed too), and kernel-install's plugin.
 */
export const HOOKS: readonly PackagedFile[] = [
  { source: "hooks/postinst.d/kabi", target: "/etc/kernel/postinst.d/kabi", mode: 0o755, kind: "hook" },
  { source: "hooks/header_postinst.d/kabi", target: "/etc/kernel/header_postinst.d/kabi", mode: 0o755, kind: "hook" },
  { source: "hooks/postrm.d/kabi", target: "/etc/kernel/postrm.d/kabi", mode: 0o755, kind: "hook" },
  { source: "hooks/install.d/45-kabi.install", target: "/etc/kernel/install.d/45-kabi.install", mode: 0o755, kind: "hook" },
];

/** The man pages under `<prefix>/share/man`. */
export function manPages(prefix: string): PackagedFile[] {
  return [
    { source: "man/kabi.1", target: path.join(prefix, "share/man/man1/kabi.1"), mode: 0o644, kind: "man page" },
    { source: "man/weak-modules.8", target: path.join(prefix, "share/man/man8/weak-modules.8"), mode: 0o644, kind: "man page" },
  ];
}

/**
 * The package's folder (holding package.json, dist/, hooks/, man/): two folders above this file
 * when run from the sources (src/system/), three from the build (dist/src/system/).
 */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ["../..", "../../.."]) {
    const dir = path.resolve(here, up);
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (pkg.name === "kabi") return dir;
    } catch {
      // try the next
    }
  }
  throw new Error(`kabi's package.json not found above ${here}`);
}

/** The first line after the shebang of the weak-modules kabi installs: how a later run knows it for kabi's. */
export const WRAPPER_MARK = "# kabi's weak-modules, installed by `kabi install-system`";

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The /usr/sbin/weak-modules kabi installs: a script that runs the package's weak-modules with
 * the node that ran install-system, by absolute paths. Kernel package scriptlets run with a
 * PATH of their own (dpkg's: no /usr/local/bin of a node installed by hand, no nvm), so
 * `#!/usr/bin/env node` could find another node or none.
 */
export function weakModulesWrapper(nodePath: string, pkgRoot: string, version: string): string {
  return [
    "#!/bin/sh",
    `${WRAPPER_MARK} (kabi ${version});`,
    "# `kabi uninstall-system` removes it and gives back what was here before.",
    `exec ${shellQuote(nodePath)} ${shellQuote(path.join(pkgRoot, "dist/src/cli/weak-modules.js"))} "$@"`,
    "",
  ].join("\n");
}
