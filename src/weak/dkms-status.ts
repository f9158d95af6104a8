/**
 * `kabi status --dkms`: every DKMS module version on every kernel, in dkms's own line format
 * ("<module>/<version>, <kernel>, <arch>: <state>"), with the weak links dkms 3.0.10 cannot see.
 *
 * A DKMS build and an installed file are the same module when their bytes are the same (SHA-256):
 * `dkms install` copies the build's file as it is, and a weak link points at that copy, whatever
 * it is named. Names prove nothing (two builds of one source for two kernels share every name),
 * and neither does srcversion: it is a hash of the source, the same for every kernel's build, and
 * absent from modules without MODULE_VERSION.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ModuleRecord } from "../types/module-record.js";
import { compareCodeUnits } from "../root/code-unit-order.js";
import { compareKernelReleases } from "../root/kernel-release.js";
import { resolveInRoot } from "../root/resolve-in-root.js";
import { toFileError } from "../types/errors.js";
import { DKMS_TREE, readDkmsTree, type DkmsBuild, type DkmsBuiltFile, type DkmsModuleVersion } from "./dkms-tree.js";
import { moduleNameFromFile } from "../root/module-file.js";
import { weakStatus, type StatusEntry, type StatusState, type UnusableModule } from "./weak-status.js";

/**
 * The state of one DKMS module version on one kernel. dkms's own: "installed" (built for the
 * kernel and installed in its tree, the installed files equal to the build), "built" (built for
 * it, not installed), "installed-weak" (every module file of a build for another kernel is served
 * there through a weak link). kabi's reasons for the rest: "incompatible", "not linked"
 * (compatible, or some of its files linked, but not all), "shadowed", "superseded", "built-in",
 * "unknown" (no symvers for the kernel), "not installed" (built only for kernels where it is not
 * installed: weak-modules links installed files only), "not built" (added, built for no kernel),
 * "broken" (dkms marks it installed but the kernel's tree lacks a file equal to the build).
 */
export type DkmsState =
  | "installed"
  | "built"
  | "installed-weak"
  | "incompatible"
  | "not linked"
  | "shadowed"
  | "superseded"
  | "built-in"
  | "unknown"
  | "not installed"
  | "not built"
  | "broken";

/** One line of `kabi status --dkms`. */
export interface DkmsStatusLine {
  module: string;
  version: string;
  kernel: string;
  /** The build's arch; for a kernel with no build, the arch of the build the reason is about (else this machine's). */
  arch: string;
  state: DkmsState;
  /** Everything after "<module>/<version>, <kernel>, <arch>: ": "installed-weak from 6.1.0-53-amd64". */
  text: string;
  /** The kernel of the build the state is about (for installed-weak and the reasons), when there is one. */
  buildKernel?: string;
  /** For installed-weak: the weak links serving the build, one per module file. */
  links?: string[];
  /** For installed: the kernel's files equal to the build. For the reasons: the installed copies of the build. */
  files?: string[];
  /** For incompatible: the blocking symbols and the full reason (kabi status's). */
  symbols?: string[];
  detail?: string;
  /** Whether the kernel is installed (has a module tree); dkms also lists builds for kernels since removed. */
  kernelInstalled: boolean;
}

export interface DkmsStatusReport {
  /** Host path of the DKMS tree read. */
  tree: string;
  kernels: { release: string; symvers: string | null }[];
  lines: DkmsStatusLine[];
  /** Weak links of the root whose target is gone ("<link> -> <target>"), DKMS's or not: `kabi status` exits 1 for them, and so does --dkms. */
  brokenLinks: string[];
  /**
   * The DKMS modules (by module name, from their built files) that `kabi status` finds not usable
   * on an installed kernel (every build incompatible, compatible but not linked, or only a broken
   * link there): `--dkms` exits 1 for them as `kabi status` does, so the two agree on one root.
   */
  unusable: UnusableModule[];
  /** Parts of the root or the DKMS tree that could not be used: exit 2. */
  errors: string[];
  warnings: string[];
}

export interface DkmsStatusOptions {
  /** Host path of the DKMS tree (default: <root>/var/lib/dkms, resolved inside the root). */
  tree?: string;
  cache?: boolean | string;
  read?: (hostPath: string) => Promise<ModuleRecord>;
}

/** The states `kabi status --dkms` exits 1 for: a module that cannot work where dkms says it is, or where it is built for. */
export const DKMS_FAILING_STATES: ReadonlySet<DkmsState> = new Set(["incompatible", "broken"]);

/** This machine's arch as dkms names it (`uname -m`), for a kernel no build names one for. */
function machineArch(): string {
  return os.machine();
}

/** SHA-256 of a file's bytes, memoized by host path. */
class ContentHashes {
  private readonly byPath = new Map<string, Promise<string | null>>();
  constructor(private readonly warnings: string[]) {}

  of(hostPath: string): Promise<string | null> {
    let h = this.byPath.get(hostPath);
    if (h === undefined) {
      h = new Promise<string | null>((resolve) => {
        const hash = createHash("sha256");
        const s = createReadStream(hostPath);
        s.on("data", (b) => hash.update(b));
        s.on("error", (err) => {
          this.warnings.push(`cannot compare ${toFileError(hostPath, err).message}`);
          resolve(null);
        });
        s.on("end", () => resolve(hash.digest("hex")));
      });
      this.byPath.set(hostPath, h);
    }
    return h;
  }
}

/** An installed external module file (from kabi status's entries) with its size, for content matching. */
interface InstalledFile {
  insidePath: string;
  hostPath: string;
  size: number;
}

/** Finds the installed files whose bytes equal a DKMS build file's; only same-sized files are hashed. */
class CopyFinder {
  private readonly bySize = new Map<number, InstalledFile[]>();
  constructor(
    files: readonly InstalledFile[],
    private readonly hashes: ContentHashes,
  ) {
    for (const f of files) {
      const l = this.bySize.get(f.size);
      if (l === undefined) this.bySize.set(f.size, [f]);
      else l.push(f);
    }
  }

  /** Inside paths of the installed copies of `built`, in code-unit order. */
  async copiesOf(built: DkmsBuiltFile): Promise<string[]> {
    const candidates = this.bySize.get(built.size) ?? [];
    if (candidates.length === 0) return [];
    const want = await this.hashes.of(built.hostPath);
    if (want === null) return [];
    const out: string[] = [];
    for (const f of candidates) if ((await this.hashes.of(f.hostPath)) === want) out.push(f.insidePath);
    return out.sort(compareCodeUnits);
  }
}

/** A build's files with their installed copies. */
interface BuildCopies {
  build: DkmsBuild;
  copies: { file: DkmsBuiltFile; at: string[] }[];
}

const RANK: Readonly<Record<StatusState, number>> = {
  "installed-weak": 0,
  installed: 1,
  "compatible, not linked": 2,
  superseded: 3,
  "built-in": 4,
  shadowed: 5,
  unknown: 6,
  "broken link": 7,
  incompatible: 8,
};

/** A short reason for an incompatible pair: the blocking symbols, else the first reason. */
function shortIncompatibility(e: StatusEntry): string {
  const syms = e.symbols ?? [];
  if (syms.length > 0) {
    const shown = syms.slice(0, 3).join(", ");
    return `${syms.length} symbol${syms.length === 1 ? "" : "s"} missing or with other CRCs (${shown}${syms.length > 3 ? `, +${syms.length - 3} more` : ""})`;
  }
  return (e.detail ?? e.text).split("; ")[0]!;
}

/** The best kabi status entry on `kernel` for any of `paths` (a build file's installed copies). */
function bestEntry(entries: readonly StatusEntry[], kernel: string, paths: readonly string[]): StatusEntry | undefined {
  let best: StatusEntry | undefined;
  for (const e of entries) {
    if (e.kernel !== kernel || e.state === "broken link" || !paths.includes(e.path)) continue;
    if (best === undefined || RANK[e.state] < RANK[best.state]) best = e;
  }
  return best;
}

/** The line for a kernel without its own build, from the builds for other kernels (`others`, preferred first). */
function reasonLine(base: Omit<DkmsStatusLine, "state" | "text" | "arch">, others: readonly BuildCopies[], entries: readonly StatusEntry[]): DkmsStatusLine {
  const k = base.kernel;
  if (others.length === 0) return { ...base, arch: machineArch(), state: "not built", text: "not built for any kernel (run: dkms build/install " + `${base.module}/${base.version} -k ${k})` };
  const installed = others.filter((b) => b.copies.every((c) => c.at.length > 0));
  if (installed.length === 0) {
    const b = others[0]!.build;
    return {
      ...base,
      arch: b.arch,
      buildKernel: b.kernel,
      state: "not installed",
      text: `not installed-weak: built for ${others.map((o) => o.build.kernel).join(", ")} but installed for none (weak-modules links installed modules only; run: dkms install ${base.module}/${base.version} -k ${b.kernel})`,
    };
  }
  // Per candidate build: each file's best entry on K; the build whose worst file fares best is the one reported.
  let chosen: { b: BuildCopies; per: { file: DkmsBuiltFile; e: StatusEntry | undefined }[]; worst: number } | undefined;
  for (const b of installed) {
    const per = b.copies.map((c) => ({ file: c.file, e: bestEntry(entries, k, c.at) }));
    const worst = Math.max(...per.map((p) => (p.e === undefined ? RANK.unknown : RANK[p.e.state])));
    if (chosen === undefined || worst < chosen.worst) chosen = { b, per, worst };
  }
  const { b, per } = chosen!;
  const common = { ...base, arch: b.build.arch, buildKernel: b.build.kernel, files: b.copies.flatMap((c) => c.at) };
  const from = `(build for ${b.build.kernel})`;
  const linked = per.filter((p) => p.e?.state === "installed-weak").map((p) => p.file.name);
  const blocking = per.find((p) => p.e?.state !== "installed-weak")!;
  const e = blocking.e;
  const file = blocking.file.name;
  const partly = linked.length > 0 ? `only ${linked.join(", ")} linked; ` : "";
  if (e === undefined) return { ...common, state: "unknown", text: `not judged: ${partly}${file} ${from} has no kabi status entry on ${k}` };
  switch (e.state) {
    case "incompatible": {
      // kabi status still finds a weak link to it there: one weak-modules run removes it.
      const stale = e.link !== undefined ? ` (stale weak link ${e.link}; run: weak-modules --add-kernel ${k})` : "";
      return { ...common, state: "incompatible", text: `incompatible ${from}: ${partly}${file}: ${shortIncompatibility(e)}${stale}`, symbols: e.symbols ?? [], detail: e.detail ?? e.text };
    }
    case "compatible, not linked": {
      const run = `run: weak-modules --add-kernel ${k}`;
      if (e.text !== "compatible, not linked") return { ...common, state: "not linked", text: `not linked ${from}: ${partly}${file}: ${e.text.replace(/^not linked: /, "")}` };
      if (linked.length > 0) return { ...common, state: "not linked", text: `partly linked ${from}: ${partly}${file} compatible, not linked (${run})` };
      return { ...common, state: "not linked", text: `compatible, not linked (build for ${b.build.kernel}; ${run})` };
    }
    case "shadowed":
      return { ...common, state: "shadowed", text: `not installed-weak ${from}: ${partly}${file} ${e.text}` };
    case "superseded":
      return { ...common, state: "superseded", text: `not installed-weak ${from}: ${partly}${file} ${e.text}` };
    case "built-in":
      return { ...common, state: "built-in", text: `not installed-weak ${from}: ${partly}${file}: ${e.text}` };
    case "unknown":
      return { ...common, state: "unknown", text: `unknown ${from}: ${e.text.startsWith("unknown (") ? e.text.slice("unknown (".length, -1) : e.text}` };
    default:
      return { ...common, state: "unknown", text: `not installed-weak ${from}: ${partly}${file}: ${e.text}` };
  }
}

/** Every DKMS module version's state on every kernel (installed ones and those it is built for). */
export async function dkmsStatus(root: string, options: DkmsStatusOptions = {}): Promise<DkmsStatusReport> {
  let treeDir = options.tree;
  if (treeDir === undefined) treeDir = (await resolveInRoot(root, DKMS_TREE)) ?? path.join(root, DKMS_TREE);
  // The tree first: without it there is nothing to report (readDkmsTree throws one FileError naming it).
  const tree = await readDkmsTree(root, treeDir);
  const status = await weakStatus(root, options.read, { cache: options.cache });
  const errors = [...status.errors, ...tree.problems];
  const warnings = [...status.warnings];
  const hashes = new ContentHashes(warnings);

  const installedFiles: InstalledFile[] = [];
  const seen = new Set<string>();
  for (const e of status.entries) {
    if (e.state === "broken link" || seen.has(e.path)) continue;
    seen.add(e.path);
    const host = await resolveInRoot(root, e.path);
    if (host === null) continue;
    try {
      installedFiles.push({ insidePath: e.path, hostPath: host, size: (await stat(host)).size });
    } catch {
      // Gone since the scan: not a copy of anything.
    }
  }
  const finder = new CopyFinder(installedFiles, hashes);
  const installedKernels = status.kernels.map((k) => k.release);
  // kabi status says "installed" for a file on the kernel whose tree holds it (or that depmod picks there).
  const installedOn = new Set(status.entries.filter((e) => e.state === "installed").map((e) => `${e.kernel}\t${e.path}`));
  const inKernelTree = (k: string, p: string): boolean => installedOn.has(`${k}\t${p}`);

  const lines: DkmsStatusLine[] = [];
  for (const mv of tree.versions) lines.push(...(await versionLines(mv, installedKernels, status.entries, finder, inKernelTree)));
  const brokenLinks = status.entries.filter((e) => e.state === "broken link").map((e) => `${e.link} -> ${e.path}`);
  const dkmsNames = new Set(tree.versions.flatMap((mv) => mv.builds.flatMap((b) => b.files.map((f) => moduleNameFromFile(f.name)))));
  const unusable = status.unusable.filter((u) => dkmsNames.has(u.module));
  return { tree: treeDir, kernels: status.kernels, lines: lines.map(inFieldOrder), brokenLinks, unusable, errors, warnings };
}

async function versionLines(
  mv: DkmsModuleVersion,
  installedKernels: readonly string[],
  entries: readonly StatusEntry[],
  finder: CopyFinder,
  inKernelTree: (kernel: string, insidePath: string) => boolean,
): Promise<DkmsStatusLine[]> {
  const builds: BuildCopies[] = [];
  for (const build of mv.builds) {
    const copies: BuildCopies["copies"] = [];
    for (const file of build.files) copies.push({ file, at: await finder.copiesOf(file) });
    builds.push({ build, copies });
  }
  const kernels = [...new Set([...installedKernels, ...mv.builds.map((b) => b.kernel)])].sort(compareKernelReleases);
  const installedSet = new Set(installedKernels);
  const out: DkmsStatusLine[] = [];
  for (const k of kernels) {
    const base = { module: mv.module, version: mv.version, kernel: k, kernelInstalled: installedSet.has(k) };
    const own = builds.filter((b) => b.build.kernel === k);
    let nativeInstalled = false;
    for (const b of own) {
      const here = b.copies.map((c) => ({ file: c.file, at: c.at.filter((p) => inKernelTree(k, p)) }));
      const files = here.flatMap((c) => c.at);
      const lacking = here.filter((c) => c.at.length === 0).map((c) => c.file.name);
      const line = { ...base, arch: b.build.arch, buildKernel: k };
      if (!b.build.marked) out.push({ ...line, state: "built", text: base.kernelInstalled ? "built" : "built (kernel not installed)", files });
      else if (lacking.length === 0) {
        nativeInstalled = true;
        out.push({ ...line, state: "installed", text: "installed", files });
      } else if (!base.kernelInstalled) out.push({ ...line, state: "built", text: "built (marked installed, but the kernel is not installed)", files });
      else out.push({ ...line, state: "broken", text: `broken: marked installed, but ${k}'s tree has no file equal to the build's ${lacking.join(", ")} (run: dkms install --force ${mv.module}/${mv.version} -k ${k})`, files });
    }
    if (nativeInstalled || !base.kernelInstalled) continue;
    const others = builds.filter((b) => b.build.kernel !== k).sort((a, b) => compareKernelReleases(b.build.kernel, a.build.kernel));
    // installed-weak: every file of one build served on K by a weak link to an installed copy of it.
    let weak: DkmsStatusLine | undefined;
    for (const b of others) {
      const links: string[] = [];
      for (const c of b.copies) {
        const e = entries.find((x) => x.kernel === k && x.state === "installed-weak" && c.at.includes(x.path));
        if (e === undefined) break;
        links.push(e.link!);
      }
      if (links.length === b.copies.length) {
        weak = { ...base, arch: b.build.arch, buildKernel: b.build.kernel, state: "installed-weak", text: `installed-weak from ${b.build.kernel}`, links, files: b.copies.flatMap((c) => c.at) };
        break;
      }
    }
    if (weak !== undefined) out.push(weak);
    else if (own.length === 0) out.push(reasonLine(base, others, entries));
  }
  return out;
}

/** The line with its fields in the documented order (the JSON shape in docs/weak-modules.md). */
function inFieldOrder(l: DkmsStatusLine): DkmsStatusLine {
  const { module, version, kernel, arch, state, text, kernelInstalled, buildKernel, links, files, symbols, detail } = l;
  const out: DkmsStatusLine = { module, version, kernel, arch, state, text, kernelInstalled };
  if (buildKernel !== undefined) out.buildKernel = buildKernel;
  if (links !== undefined) out.links = links;
  if (files !== undefined) out.files = files;
  if (symbols !== undefined) out.symbols = symbols;
  if (detail !== undefined) out.detail = detail;
  return out;
}

/** The line as dkms prints it: "<module>/<version>, <kernel>, <arch>: <state>". */
export function formatDkmsLine(l: DkmsStatusLine): string {
  return `${l.module}/${l.version}, ${l.kernel}, ${l.arch}: ${l.text}`;
}
