/**
 * Packages as audit input (docs/packages.md): a `.deb` or `.rpm` given where kabi audit takes a
 * path is read as a stream (src/package), never unpacked to disk, and turned into what the load
 * stage makes of files: module records, kernels (a release and its symvers) and, for the module
 * trees of kernel packages, which kernel each module is a resident of.
 */
import { DEFAULT_MAX_MODULE_SIZE, readModuleBytes } from "../module/read-module.js";
import { readPackage, type PackageMember } from "../package/package-file.js";
import { isUsableKernelRelease } from "../root/kernel-release.js";
import { checkSymversText, decodeSymvers, MAX_SYMVERS_FILE_SIZE, parseSymversText } from "../symvers/read-symvers.js";
import { looksLikeModuleFile, MODULE_SUFFIXES } from "../types/compression.js";
import { FileError } from "../types/errors.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { SymversTable } from "../types/symvers-table.js";
import type { InputError } from "./read-many.js";

/** A kernel a package holds the symvers of. */
export interface PackageKernel {
  release: string;
  symvers: SymversTable;
  /** `<package path>!/<member path>`. */
  symversPath: string;
}

/** What one package gave. A package that could not be read gives only errors. */
export interface PackageInput {
  path: string;
  /** Its module members' records, in member order; each record's path is `<package path>!/<member path>`. */
  records: ModuleRecord[];
  /** Per record: the kernel release whose tree (lib/modules/K/kernel/) it lies in, else null. */
  residentOf: (string | null)[];
  kernels: PackageKernel[];
  /** One line each: naming the package, and the member when one is at fault. */
  errors: InputError[];
}

/** A module member of kernel K's own tree: (usr/)lib/modules/K/kernel/... */
const RESIDENT = /^(?:usr\/)?lib\/modules\/([^/]+)\/kernel\//;

/**
 * Where packages put a kernel's symvers: a Debian linux-headers-K package
 * (usr/src/linux-headers-K/Module.symvers), a Red Hat kernel-devel one
 * (usr/src/kernels/K/Module.symvers), a Red Hat kernel(-core) one (lib/modules/K/symvers.gz, or
 * .xz in newer Fedora, and boot/symvers-K.gz). The file's encoding is told by its bytes, not by
 * its name.
 */
const SYMVERS_PLACES: readonly RegExp[] = [
  /^usr\/src\/linux-headers-([^/]+)\/Module\.symvers$/,
  /^usr\/src\/kernels\/([^/]+)\/Module\.symvers$/,
  /^(?:usr\/)?lib\/modules\/([^/]+)\/symvers(?:\.gz|\.xz|\.zst)?$/,
  /^boot\/symvers-(.+?)(?:\.gz|\.xz|\.zst)?$/,
];

/** The kernel release whose symvers `memberPath` is, or null. */
export function symversRelease(memberPath: string): string | null {
  for (const place of SYMVERS_PLACES) {
    const m = place.exec(memberPath);
    if (m !== null && isUsableKernelRelease(m[1]!)) return m[1]!;
  }
  return null;
}

/** The kernel release whose own module tree `memberPath` lies in, or null. */
export function residentRelease(memberPath: string): string | null {
  const m = RESIDENT.exec(memberPath);
  return m !== null && isUsableKernelRelease(m[1]!) ? m[1]! : null;
}

function baseName(memberPath: string): string {
  return memberPath.slice(memberPath.lastIndexOf("/") + 1);
}

/** The one line for a member that could not be used: `<package>: <member>: <reason>`. */
function memberError(pkg: string, member: string, err: unknown): InputError {
  let reason: string;
  if (err instanceof FileError) reason = err.offset === undefined ? err.reason : `${err.reason} at offset ${err.offset}`;
  else reason = err instanceof Error ? err.message : String(err);
  return { path: `${pkg}!/${member}`, message: `${pkg}: ${member}: ${reason}` };
}

/**
 * Reads one package: each module member (by name, `*.ko` and its compressed forms, as in a
 * directory) becomes a record, each symvers member a kernel (the first one of a release counts: a
 * Red Hat kernel package holds the same file twice). Symlinks are not followed. Members' bytes
 * are dropped once their record or table is made. A package the reader gives up on contributes
 * nothing (a half-read package would look audited), only its error line.
 */
export async function readPackageInput(path: string, onModule?: () => void): Promise<PackageInput> {
  const out: PackageInput = { path, records: [], residentOf: [], kernels: [], errors: [] };
  const releases = new Set<string>();
  const visit = async (member: PackageMember): Promise<void> => {
    if (member.type !== "file") return;
    const named = `${path}!/${member.path}`;
    if (looksLikeModuleFile(baseName(member.path))) {
      try {
        if (member.size > DEFAULT_MAX_MODULE_SIZE) throw new FileError(named, `${member.size} bytes, more than the ${DEFAULT_MAX_MODULE_SIZE} bytes a module may have`);
        const record = await readModuleBytes(named, await member.bytes());
        out.records.push(record);
        out.residentOf.push(residentRelease(member.path));
        onModule?.();
      } catch (err) {
        out.errors.push(memberError(path, member.path, err));
      }
      return;
    }
    const release = symversRelease(member.path);
    if (release === null || releases.has(release)) return;
    try {
      if (member.size > MAX_SYMVERS_FILE_SIZE) throw new FileError(named, `${member.size} bytes, more than the ${MAX_SYMVERS_FILE_SIZE} bytes a symvers file may have`);
      const text = await decodeSymvers(await member.bytes(), named);
      checkSymversText(text, named);
      out.kernels.push({ release, symvers: parseSymversText(text, named), symversPath: named });
      releases.add(release);
    } catch (err) {
      out.errors.push(memberError(path, member.path, err));
    }
  };
  let problems: string[];
  try {
    ({ problems } = await readPackage(path, visit, { maxMemberSize: DEFAULT_MAX_MODULE_SIZE }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { path, records: [], residentOf: [], kernels: [], errors: [{ path, message: message.startsWith(path) ? message : `${path}: ${message}` }] };
  }
  for (const p of problems) out.errors.push({ path, message: p });
  if (out.records.length === 0 && out.kernels.length === 0 && out.errors.length === 0) {
    const suffixes = MODULE_SUFFIXES.map((s) => "*" + s).join(", ");
    out.errors.push({ path, message: `${path}: no module file (${suffixes}) and no kernel symvers in this package` });
  }
  return out;
}

/**
 * Reads the packages one after the other: one payload stream at a time bounds the memory.
 * `onProgress` is told the packages done and the module records made so far (a progress line).
 */
export async function readPackageInputs(paths: readonly string[], onProgress?: (packagesRead: number, modules: number) => void): Promise<PackageInput[]> {
  const out: PackageInput[] = [];
  let modules = 0;
  const onModule = onProgress && (() => onProgress(out.length, ++modules));
  for (const p of paths) {
    out.push(await readPackageInput(p, onModule));
    onProgress?.(out.length, modules);
  }
  return out;
}
