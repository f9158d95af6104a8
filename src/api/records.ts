/**
 * kabi's public API, records facet ("kabi/records"): reading modules and symvers, finding and
 * reading many module files, kernel releases, input errors. No engine and no reports: the
 * lightest entry, for `kabi dump` and for tools that only read.
 */
import type { ModuleRecord, ModversionEntry } from "../types/module-record.js";
import type { ReadModuleOptions } from "../module/read-module.js";

// Errors: every unusable input is one FileError (file, reason, offset when known).
export { FileError, FormatError, describeInputError, toFileError } from "../types/errors.js";

// The records.
export type { ElfClass, Endianness, ExportedSymbol, ModinfoEntry, ModuleRecord, ModversionEntry, UndefinedSymbol } from "../types/module-record.js";
export type { SymversEntry, SymversProblem, SymversTable } from "../types/symvers-table.js";
export type { KernelTarget } from "../types/kernel-target.js";
export type { CodecName, Compression } from "../types/compression.js";

export type { ReadModuleOptions } from "../module/read-module.js";
/** A line of a kmod listing (see readKmodListings), as modprobe prints it. */
export { formatKmodLine } from "../module/kmod-line.js";
/** A symvers file (plain, gzip, xz or zstd) as a SymversTable; malformed lines are listed as problems. */
export { readSymvers } from "../symvers/read-symvers.js";
/** The symbols a set of modules needs from a kernel's symvers (to parse only those). */
export { symversSymbols } from "../symvers/symvers-filter.js";

/** PATH arguments expanded: files as given, directories searched for *.ko[.xz|.gz|.zst] in sorted order. */
export { findModules, type FoundModules } from "../load/find-modules.js";
/** Many module files read at once (record cache, worker threads); unreadable ones are reported, the rest read. */
export { readModules, type InputError, type ReadManyOptions, type ReadManyResult } from "../load/read-many.js";
/** Symvers files loaded by one strategy (the symvers cache, or only the wanted symbols). */
export { loadSymvers } from "../load/load-symvers.js";
/** Kernel releases: the installed ones, a `--symvers K=FILE` value, whether a string is a usable release, their order. */
export { listKernels, parseSymversOption, SymversOptionError, type InstalledKernel } from "../root/kernels.js";
export { compareKernelReleases, isUsableKernelRelease } from "../root/kernel-release.js";
/** Sorting by UTF-16 code unit, as every listing kabi prints is sorted. */
export { compareCodeUnits } from "../root/code-unit-order.js";

// The ELF reader and the codecs are loaded on the first read, as the load stage does: the
// weak-modules executable imports this file and must not pay for them when every record comes
// from the cache.

/** One module file as a ModuleRecord (ELF header, modversions, exports, modinfo, undefined symbols); throws FileError. */
export async function readModule(path: string, options: ReadModuleOptions = {}): Promise<ModuleRecord> {
  return (await import("../module/read-module.js")).readModule(path, options);
}

/** The listings `modprobe --dump-modversions` and `modprobe --show-exports` print for a file (see formatKmodLine); throws FileError. */
export async function readKmodListings(path: string, options: ReadModuleOptions = {}): Promise<{ modversions: ModversionEntry[]; exports: ModversionEntry[] }> {
  return (await import("../module/dump-listings.js")).readKmodListings(path, options);
}
