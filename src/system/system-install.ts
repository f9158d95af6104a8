/**
 * `kabi install-system` and `kabi uninstall-system`: weak-modules where dkms and the kernel
 * packages run it, the kernel hooks, the man pages; every change recorded in a manifest
 * (install-manifest.ts) so that uninstalling undoes exactly those.
 *
 * A weak-modules that is not kabi's (kmod's script on Red Hat-family systems, a link made by
 * hand) is never overwritten: on a system with dpkg it is set aside with a local dpkg diversion
 * (`--rename`: the file moves to weak-modules.distrib, and a package that ships the path unpacks
 * there from then on), and put back on uninstall. Without dpkg-divert it is refused: see
 * docs/system-install.md for why `alternatives` does not help there.
 *
 * Every step checks the system first and only changes what differs, so a second run changes
 * nothing, and a run killed at any point is finished by the next one. Files are written with
 * replaceFile (a temporary file renamed into place): a hook is never seen half-written.
 */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, unlinkSync, chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { KABI_VERSION } from "../cache/kabi-version.js";
import { SYSTEM_CACHE_DIR } from "../cache/record-cache.js";
import { removeDeadTemps, replaceFileOrError } from "../root/replace-file.js";
import { DpkgDivert } from "./dpkg-divert.js";
import { ManifestError, readManifest, writeManifest, type FileEntry, type InstallManifest, type ManifestEntry } from "./install-manifest.js";
import { DIVERTED_PATH, HOOKS, MANIFEST_PATH, manPages, packageRoot, WEAK_MODULES_PATH, weakModulesWrapper, WRAPPER_MARK } from "./system-layout.js";

export interface SystemInstallOptions {
  /** The man pages go under `<prefix>/share/man`. */
  readonly prefix: string;
  /** Say what would be done; change nothing (works without root). */
  readonly dryRun: boolean;
  /** The node the installed weak-modules runs with (default: the one running now). */
  readonly nodePath?: string;
}

export interface SystemRunResult {
  /** What was done, or with dryRun what would be, one line each. */
  readonly changes: string[];
  /** What could not be done, one line each naming the file; the other steps still ran. */
  readonly errors: string[];
  readonly warnings: string[];
}

/** The line of a run that needs root and was not given it. */
const NOT_ROOT = "must be run as root: it writes /usr/sbin, /etc/kernel, /var/lib and dpkg's diversions (--dry-run shows what it would do)";

function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

function sha256(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** What is at a path now. */
type Current = { kind: "absent" } | { kind: "file"; content: Buffer; mode: number } | { kind: "other"; what: string };

function current(file: string): Current {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    return { kind: "other", what: `an entry that cannot be examined (${errorText(err)})` };
  }
  if (st.isSymbolicLink()) return { kind: "other", what: `a symlink to ${readlinkSync(file)}` };
  if (st.isDirectory()) return { kind: "other", what: "a folder" };
  if (!st.isFile()) return { kind: "other", what: "a special file" };
  try {
    return { kind: "file", content: readFileSync(file), mode: st.mode & 0o7777 };
  } catch (err) {
    return { kind: "other", what: `a file that cannot be read (${errorText(err)})` };
  }
}

function describe(c: Current): string {
  return c.kind === "file" ? "a file" : c.kind === "other" ? c.what : "nothing";
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** One file to put in place. */
interface Wanted {
  readonly target: string;
  readonly content: Buffer;
  readonly mode: number;
  readonly kind: string;
}

/** The manifest being worked on, and its writes: a change is recorded on disk before it is made. */
class ManifestLog {
  private dirty = false;
  /** The folders a dry run has said it would make (said once). */
  readonly plannedDirs = new Set<string>();
  constructor(
    readonly manifest: InstallManifest,
    private readonly dryRun: boolean,
    private readonly errors: string[],
  ) {}

  file(target: string): FileEntry | undefined {
    return this.manifest.entries.find((e): e is FileEntry => e.kind === "file" && e.path === target);
  }

  has(kind: ManifestEntry["kind"], target: string): boolean {
    return this.manifest.entries.some((e) => e.kind === kind && e.path === target);
  }

  /** Records `entry` (or changes one in place with `edit`) and writes the manifest; false when it cannot be written (then nothing may be changed). */
  record(edit: () => void): boolean {
    edit();
    this.dirty = true;
    return this.flush();
  }

  flush(): boolean {
    if (this.dryRun || !this.dirty) return true;
    const err = writeManifest(MANIFEST_PATH, this.manifest);
    if (err !== null) {
      this.errors.push(`${MANIFEST_PATH}: cannot be written (${errorText(err)}): nothing more is changed`);
      return false;
    }
    this.dirty = false;
    return true;
  }
}

/** Makes `dir` and its missing parents, each recorded first; false when one failed (said in errors). */
function ensureDirs(dir: string, log: ManifestLog, result: SystemRunResult, dryRun: boolean): boolean {
  const missing: string[] = [];
  for (let d = dir; !exists(d) && !log.plannedDirs.has(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    if (dryRun) {
      result.changes.push(`would create folder ${d}`);
      log.plannedDirs.add(d);
      continue;
    }
    if (!log.has("dir", d) && !log.record(() => log.manifest.entries.push({ kind: "dir", path: d }))) return false;
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        result.errors.push(`${d}: cannot be created (${errorText(err)})`);
        return false;
      }
    }
    result.changes.push(`created folder ${d}`);
  }
  return true;
}

/**
 * Sets a weak-modules that is not kabi's aside with a local dpkg diversion; false (said in
 * errors) when it cannot or must not be.
 */
function divertForeign(found: Current, log: ManifestLog, result: SystemRunResult, dryRun: boolean): boolean {
  const divert = DpkgDivert.find();
  if (divert === null) {
    result.errors.push(`${WEAK_MODULES_PATH}: ${describe(found)} kabi did not install is there, and this system has no dpkg-divert to set it aside: not replaced (see kabi(1))`);
    return false;
  }
  const state = divert.state(WEAK_MODULES_PATH);
  if (typeof state === "string") {
    result.errors.push(`${WEAK_MODULES_PATH}: ${state}`);
    return false;
  }
  if (state.by !== null) {
    const by = state.by === "LOCAL" ? "a local diversion" : `package ${state.by}`;
    result.errors.push(`${WEAK_MODULES_PATH}: already diverted (by ${by}, to ${state.divertTo}) and holding ${describe(found)} kabi did not install: not replaced`);
    return false;
  }
  if (exists(DIVERTED_PATH)) {
    result.errors.push(`${DIVERTED_PATH}: already there, so ${WEAK_MODULES_PATH} cannot be set aside under that name: not replaced`);
    return false;
  }
  const line = `${WEAK_MODULES_PATH} to ${DIVERTED_PATH} (dpkg-divert --local --rename)`;
  if (dryRun) {
    result.changes.push(`would divert ${line}`);
    return true;
  }
  if (!log.has("diversion", WEAK_MODULES_PATH) && !log.record(() => log.manifest.entries.push({ kind: "diversion", path: WEAK_MODULES_PATH, divertTo: DIVERTED_PATH }))) return false;
  const failed = divert.add(WEAK_MODULES_PATH, DIVERTED_PATH);
  if (failed !== null) {
    result.errors.push(`${WEAK_MODULES_PATH}: dpkg-divert --add failed: ${failed}`);
    return false;
  }
  result.changes.push(`diverted ${line}`);
  return true;
}

/** Puts one file in place unless it already is; a file kabi did not write is never overwritten. */
function placeFile(want: Wanted, log: ManifestLog, result: SystemRunResult, dryRun: boolean): void {
  const found = current(want.target);
  const hash = sha256(want.content);
  const entry = log.file(want.target);
  if (found.kind === "file" && found.content.equals(want.content)) {
    // Already in place (a re-run; or put there by a run whose manifest was lost: taken as kabi's).
    if (entry === undefined || entry.sha256.length !== 1 || entry.sha256[0] !== hash) {
      if (!dryRun && !log.record(() => (entry !== undefined ? (entry.sha256 = [hash]) : log.manifest.entries.push({ kind: "file", path: want.target, sha256: [hash] })))) return;
    }
    if (found.mode !== want.mode) {
      if (dryRun) result.changes.push(`would set mode ${want.mode.toString(8)} on ${want.target}`);
      else {
        try {
          chmodSync(want.target, want.mode);
          result.changes.push(`set mode ${want.mode.toString(8)} on ${want.target}`);
        } catch (err) {
          result.errors.push(`${want.target}: mode cannot be set (${errorText(err)})`);
        }
      }
    }
    return;
  }
  const ours =
    found.kind === "absent" ||
    (found.kind === "file" && (entry?.sha256.includes(sha256(found.content)) === true || (want.target === WEAK_MODULES_PATH && found.content.toString("utf8").split("\n")[1]?.startsWith(WRAPPER_MARK) === true)));
  if (!ours) {
    if (want.target !== WEAK_MODULES_PATH) {
      result.errors.push(`${want.target}: ${describe(found)} kabi did not install is there: not replaced`);
      return;
    }
    if (!divertForeign(found, log, result, dryRun)) return;
  }
  if (!ensureDirs(path.dirname(want.target), log, result, dryRun)) return;
  const fresh = found.kind === "absent" || !ours;
  if (dryRun) {
    result.changes.push(`would ${fresh ? "install" : "update"} ${want.kind} ${want.target}`);
    return;
  }
  if (!log.record(() => (entry !== undefined ? entry.sha256.push(hash) : log.manifest.entries.push({ kind: "file", path: want.target, sha256: [hash] })))) return;
  const err = replaceFileOrError(want.target, () => want.content, want.mode);
  if (err !== null) {
    result.errors.push(`${want.target}: cannot be written (${errorText(err)})`);
    return;
  }
  const written = log.file(want.target)!;
  if (written.sha256.length !== 1) log.record(() => (written.sha256 = [hash]));
  result.changes.push(`${fresh ? "installed" : "updated"} ${want.kind} ${want.target}`);
}

/** The manifest, or null with the reason in errors. */
/**
 * What both commands do first: refuse without root (a dry run needs none), remove the temporary
 * file of a manifest write killed before its rename, and read the manifest (null: none yet).
 * "stop" when the run cannot go on (the reason is in result.errors).
 */
async function startRun(dryRun: boolean, result: SystemRunResult): Promise<InstallManifest | null | "stop"> {
  if (!dryRun && !isRoot()) {
    result.errors.push(NOT_ROOT);
    return "stop";
  }
  if (!dryRun) removeDeadTemps(MANIFEST_PATH);
  try {
    return await readManifest(MANIFEST_PATH);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    result.errors.push(err.message);
    return "stop";
  }
}

/** Removes a file kabi wrote if it still holds what kabi wrote; false when it had to be kept. */
function removeOwnFile(e: FileEntry, result: SystemRunResult, dryRun: boolean, why = ""): boolean {
  // The temporary file of a write that was killed before its rename.
  if (!dryRun) removeDeadTemps(e.path);
  const found = current(e.path);
  if (found.kind === "absent") return true;
  if (found.kind !== "file" || !e.sha256.includes(sha256(found.content))) {
    result.warnings.push(`${e.path}: changed since kabi installed it (now ${describe(found)}): left in place`);
    return true;
  }
  if (dryRun) {
    result.changes.push(`would remove ${e.path}${why}`);
    return true;
  }
  try {
    unlinkSync(e.path);
  } catch (err) {
    result.errors.push(`${e.path}: cannot be removed (${errorText(err)})`);
    return false;
  }
  result.changes.push(`removed ${e.path}${why}`);
  return true;
}

export async function installSystem(options: SystemInstallOptions): Promise<SystemRunResult> {
  const result: SystemRunResult = { changes: [], errors: [], warnings: [] };
  const { dryRun } = options;
  const loaded = await startRun(dryRun, result);
  if (loaded === "stop") return result;
  const log = new ManifestLog(loaded ?? { format: 1, kabi: KABI_VERSION, prefix: options.prefix, entries: [] }, dryRun, result.errors);
  const pkg = packageRoot();
  const wanted: Wanted[] = [
    { target: WEAK_MODULES_PATH, content: Buffer.from(weakModulesWrapper(options.nodePath ?? process.execPath, pkg, KABI_VERSION)), mode: 0o755, kind: "weak-modules" },
  ];
  for (const f of [...HOOKS, ...manPages(options.prefix)]) {
    try {
      wanted.push({ target: f.target, content: readFileSync(path.join(pkg, f.source)), mode: f.mode, kind: f.kind });
    } catch (err) {
      result.warnings.push(`${path.join(pkg, f.source)}: not in the package (${errorText(err)}): ${f.target} not installed`);
    }
  }
  try {
    if (!lstatSync("/sbin").isSymbolicLink() || path.resolve("/", readlinkSync("/sbin")) !== "/usr/sbin") {
      result.warnings.push(`/sbin is not a link to /usr/sbin here: dkms runs /sbin/weak-modules, and kabi installs ${WEAK_MODULES_PATH}`);
    }
  } catch {
    // no /sbin at all: nothing runs /sbin/weak-modules
  }
  for (const want of wanted) {
    placeFile(want, log, result, dryRun);
    if (result.errors.some((e) => e.startsWith(`${MANIFEST_PATH}:`))) return result;
  }
  // Files of an earlier install that this one does not place (the man pages of another --prefix).
  const targets = new Set(wanted.map((w) => w.target));
  const stale = log.manifest.entries.filter((e): e is FileEntry => e.kind === "file" && !targets.has(e.path) && !HOOKS.some((h) => h.target === e.path));
  for (const e of stale) {
    if (removeOwnFile(e, result, dryRun, " (not part of this install)") && !dryRun) log.record(() => log.manifest.entries.splice(log.manifest.entries.indexOf(e), 1));
  }
  if (!dryRun && (log.manifest.prefix !== options.prefix || log.manifest.kabi !== KABI_VERSION)) {
    log.record(() => {
      log.manifest.prefix = options.prefix;
      log.manifest.kabi = KABI_VERSION;
    });
  }
  log.flush();
  return result;
}

export async function uninstallSystem(options: { readonly dryRun: boolean }): Promise<SystemRunResult> {
  const result: SystemRunResult = { changes: [], errors: [], warnings: [] };
  const { dryRun } = options;
  const manifest = await startRun(dryRun, result);
  if (manifest === "stop") return result;
  if (manifest === null) {
    // A run killed while writing the manifest for the first time leaves no manifest but the
    // folder made for it (its temporary file went in startRun): removed too.
    if (!dryRun) removeEmptyDir(path.dirname(MANIFEST_PATH));
    return result;
  }
  const kept: ManifestEntry[] = [];
  // Files first (the diversion can only be undone once kabi's weak-modules is gone), then the
  // diversion, then the folders kabi made, deepest first.
  for (const e of [...manifest.entries].reverse()) {
    if (e.kind === "file" && !removeOwnFile(e, result, dryRun)) kept.push(e);
  }
  for (const e of manifest.entries) {
    if (e.kind !== "diversion") continue;
    const divert = DpkgDivert.find();
    if (divert === null) {
      result.errors.push(`${e.path}: kabi diverted it to ${e.divertTo}, and dpkg-divert is not there to undo it`);
      kept.push(e);
      continue;
    }
    const state = divert.state(e.path);
    if (typeof state === "string") {
      result.errors.push(`${e.path}: ${state}`);
      kept.push(e);
      continue;
    }
    if (state.by === null) continue; // never made (a run stopped before dpkg-divert), or undone already
    if (state.by !== "LOCAL" || state.divertTo !== e.divertTo) {
      result.warnings.push(`${e.path}: diverted by ${state.by === "LOCAL" ? "a local diversion" : `package ${state.by}`} to ${state.divertTo}, not kabi's: left alone`);
      continue;
    }
    const line = `${e.path} from ${e.divertTo} (dpkg-divert --local --rename --remove)`;
    if (dryRun) {
      result.changes.push(`would restore ${line}`);
      continue;
    }
    if (exists(e.path)) {
      result.errors.push(`${e.path}: still there, so the diversion to ${e.divertTo} cannot be undone (--rename would overwrite it)`);
      kept.push(e);
      continue;
    }
    const failed = divert.remove(e.path, e.divertTo);
    if (failed !== null) {
      result.errors.push(`${e.path}: dpkg-divert --remove failed: ${failed}`);
      kept.push(e);
      continue;
    }
    result.changes.push(`restored ${line}`);
  }
  const dirs = manifest.entries.filter((e) => e.kind === "dir").sort((a, b) => b.path.length - a.path.length);
  for (const e of dirs) {
    if (dryRun) {
      if (exists(e.path)) result.changes.push(`would remove folder ${e.path} (when empty)`);
      continue;
    }
    try {
      rmdirSync(e.path);
      result.changes.push(`removed folder ${e.path}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Not empty: something else was put there since; it stays, and so does the folder.
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") {
        result.errors.push(`${e.path}: cannot be removed (${errorText(err)})`);
        kept.push(e);
      }
    }
  }
  // Root's caches (src/cache/record-cache.ts): data kabi made and can make again.
  if (exists(SYSTEM_CACHE_DIR)) {
    if (dryRun) result.changes.push(`would remove ${SYSTEM_CACHE_DIR} (root's caches)`);
    else {
      try {
        if (statSync(SYSTEM_CACHE_DIR).isDirectory()) rmSync(SYSTEM_CACHE_DIR, { recursive: true });
        result.changes.push(`removed ${SYSTEM_CACHE_DIR} (root's caches)`);
      } catch (err) {
        result.errors.push(`${SYSTEM_CACHE_DIR}: cannot be removed (${errorText(err)})`);
      }
    }
  }
  if (dryRun) return result;
  if (kept.length > 0) {
    manifest.entries = manifest.entries.filter((e) => kept.includes(e));
    const err = writeManifest(MANIFEST_PATH, manifest);
    if (err !== null) result.errors.push(`${MANIFEST_PATH}: cannot be written (${errorText(err)})`);
    return result;
  }
  try {
    unlinkSync(MANIFEST_PATH);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") result.errors.push(`${MANIFEST_PATH}: cannot be removed (${errorText(err)})`);
  }
  removeEmptyDir(path.dirname(MANIFEST_PATH));
  return result;
}

/** rmdir, when the folder is there and empty. */
function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not there, or not empty: left as it is
  }
}
