import { FormatError } from "../types/errors.js";
import type { KernelConfigFacts } from "../types/kernel-target.js";
import { parseSymversOption, SymversOptionError } from "./kernels.js";
import { resolveInRoot } from "./resolve-in-root.js";
import { readSmallFile } from "./small-file.js";

/** A distribution's config-K is a few hundred KiB; past this it is not one. */
export const MAX_CONFIG_SIZE = 16 * 1024 * 1024;

/** Where distributions ship a kernel's configuration, relative to the root, in the order tried. */
export function configCandidates(release: string): string[] {
  return [
    `boot/config-${release}`, // Debian, Ubuntu, SUSE
    `lib/modules/${release}/config`, // RHEL, Fedora
    `usr/lib/modules/${release}/config`, // usr-merged
    `usr/src/linux-headers-${release}/.config`, // Debian's headers package
  ];
}

/**
 * The `CONFIG_*` values of a kernel configuration (the .config format Kconfig writes): `NAME=value`
 * lines (the value as written: `y`, `m`, a number, a quoted string), and `# NAME is not set`
 * lines (value "n"). Other comments and blank lines are skipped; any other line is a FormatError
 * naming the file and the line's offset.
 */
export function parseKernelConfig(path: string, text: string): Map<string, string> {
  const values = new Map<string, string>();
  let offset = 0;
  let lineNo = 0;
  for (const raw of text.split("\n")) {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const at = offset;
    offset += raw.length + 1;
    if (line.trim() === "") continue;
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset !== null) {
      values.set(unset[1]!, "n");
      continue;
    }
    if (line.startsWith("#")) continue;
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set === null) throw new FormatError(path, `line ${lineNo}: not a CONFIG_ line of a kernel configuration`, at);
    values.set(set[1]!, set[2]!);
  }
  return values;
}

/** What kabi uses of a parsed configuration: an option counts as set when it is `y`. */
export function kernelConfigFacts(path: string, values: ReadonlyMap<string, string>): KernelConfigFacts {
  const yes = (name: string): boolean => values.get(name) === "y";
  return { path, modversions: yes("CONFIG_MODVERSIONS"), moduleForceLoad: yes("CONFIG_MODULE_FORCE_LOAD"), moduleSigForce: yes("CONFIG_MODULE_SIG_FORCE") };
}

/** Reads and parses a configuration file (a FileError or FormatError naming it when it cannot be used). */
export async function readKernelConfig(path: string): Promise<KernelConfigFacts> {
  const text = await readSmallFile(path, MAX_CONFIG_SIZE, "a kernel configuration");
  return kernelConfigFacts(path, parseKernelConfig(path, text));
}

/** The host path of kernel K's configuration under `basedir` (configCandidates, in order), or null. */
export async function locateKernelConfig(release: string, basedir: string): Promise<string | null> {
  const { stat } = await import("node:fs/promises");
  for (const rel of configCandidates(release)) {
    const path = await resolveInRoot(basedir, rel);
    if (path === null) continue;
    const st = await stat(path).catch(() => null);
    if (st !== null && st.isFile()) return path;
  }
  return null;
}

/** Parses a `--config K=FILE` value as --symvers K=FILE is parsed (the messages name --config). */
export function parseConfigOption(value: string): { release: string; file: string } {
  try {
    return parseSymversOption(value);
  } catch (err) {
    if (err instanceof SymversOptionError) throw new SymversOptionError(err.message.replace(/^--symvers/, "--config"));
    throw err;
  }
}
