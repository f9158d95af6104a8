
export type { KernelTarget } from "../types/kernel-target.js";

export interface EvaluateOptions {
  /**
   * Per module index, whether it is a candidate on kernel index k (default: every module on every
   * kernel). Non-candidates are neither judged nor providers there.
   */
  isCandidate?: (moduleIndex: number, kernelIndex: number) => boolean;
}

/** A required `(symbol, crc)` whose provider on the kernel has another CRC. */
export interface CrcMismatch {
  symbol: string;
  moduleCrc: number;
  kernelCrc: number;
  /** "vmlinux" or the symvers module column, or the providing module's name. */
  provider: string;
}

/**
 * The key of a serial number (0, 1, 2, ... within one evaluation) on each CrcMismatch the engine
 * shares among verdicts. Not enumerable, so not part of the verdict's value (JSON, toEqual).
 */
const SHARED_MISMATCH_SERIAL = Symbol("kabi.sharedMismatchSerial");

/** Marks `x` as shared under `serial` and freezes it. */
export function shareMismatch(x: CrcMismatch, serial: number): CrcMismatch {
  Object.defineProperty(x, SHARED_MISMATCH_SERIAL, { value: serial });
  return Object.freeze(x);
}

/**
 * The serial of a mismatch the engine shares among verdicts (see shareMismatch), else undefined.
 * Report writers keep what they derive from a shared mismatch (its text) in an array indexed by
 * it, not in a Map keyed by the object: a report can list a million mismatches (a 6.12 tree
 * against 12 kernels: 1.1 million, 128,000 distinct), and array indexing is the cheaper lookup.
 */
export function sharedMismatchSerial(x: CrcMismatch): number | undefined {
  return (x as CrcMismatch & { [SHARED_MISMATCH_SERIAL]?: number })[SHARED_MISMATCH_SERIAL];
}

/**
 * A symbol the module resolves without listing it in its modversions, on a kernel with
 * `strictModversions`, whose provider there exports it with a CRC: the kernel says "no symbol
 * version for" and refuses the load.
 */
export interface NoSymbolVersion {
  symbol: string;
  /** "vmlinux" or the symvers module column, or the providing module's name. */
  provider: string;
}

/** Symbols provided on the kernel only by candidate modules that are themselves incompatible there. */
export interface BlockedBy {
  provider: string;
  providerPath: string;
  symbols: string[];
}

/** A resolved symbol whose namespace the module does not import (the kernel refuses the load). */
export interface MissingImportNs {
  symbol: string;
  namespace: string;
}

/**
 * A symbol the module needs whose provider on the kernel exports it GPL-only, while the module's
 * licence is not GPL-compatible: the kernel does not let the module see the export, and the load
 * fails with "Unknown symbol" (see license.ts).
 */
export interface GplOnlyUse {
  symbol: string;
  /** "vmlinux" or the symvers module column, or the providing module's name. */
  provider: string;
  /** The module's licence (its first `license=`), or null when it has none. */
  license: string | null;
}

/**
 * A module with a GPL-compatible licence that resolves both an export of a module tainted
 * TAINT_PROPRIETARY_MODULE and a GPL-only export: the kernel refuses whichever of the two it
 * resolves second (see inherited-taint.ts).
 */
export interface ProprietaryTaintConflict {
  /** The symbol the module uses from the tainted module. */
  symbol: string;
  /** The tainted module exporting it (a candidate or resident module's name). */
  provider: string;
  /**
   * The module whose licence is not GPL-compatible that the taint comes from: the provider
   * itself, or the module it inherited the taint from (transitively).
   */
  taintedBy: string;
  /** The GPL-only export the module also uses (`symbol` itself when the tainted module exports it GPL-only). */
  gplOnlySymbol: string;
  /** "vmlinux" or the symvers module column, or the providing module's name. */
  gplOnlyProvider: string;
}

export interface VermagicMismatch {
  module: string;
  kernel: string;
}

/** The module's `.gnu.linkonce.this_module` size and the kernel's struct module size, in bytes, when they differ. */
export interface ModuleSizeMismatch {
  module: number;
  kernel: number;
}

/** Why one module can or cannot be loaded on one kernel. */
export interface PairVerdict {
  compatible: boolean;
  /** Required symbols nobody provides on that kernel. */
  missing: string[];
  /** Entries are frozen and may be shared by the verdicts of many modules (the same mismatch on one kernel). */
  mismatched: CrcMismatch[];
  /** Symbols missing from the module's modversions whose provider has a CRC (strictModversions kernels only). Blocking. */
  noSymbolVersion: NoSymbolVersion[];
  blockedBy: BlockedBy[];
  /** Blocking. */
  missingImportNs: MissingImportNs[];
  /** GPL-only exports a module whose licence is not GPL-compatible needs. Blocking. */
  gplOnly: GplOnlyUse[];
  /** A module that inherits a proprietary taint uses GPL-only exports too. Blocking. */
  proprietaryTaint: ProprietaryTaintConflict[];
  /** Vermagic flags after the first word differ. Blocking. */
  vermagicMismatch: VermagicMismatch | null;
  /** The module has no modversions: it was judged by symbol presence only (not blocking by itself). */
  noModversions: boolean;
  /** Names of candidate/resident modules it needs on that kernel (like depends), in first-need order. */
  providers: string[];
  /** Whose key the module's signature rests on, seen from that kernel (see signature-key.ts). Not blocking by itself. */
  signatureKey: SignatureKey;
  /** The kernel enforces signatures and signatureKey is one it refuses (foreign build key, unsigned, invalid). Blocking. */
  signatureRefused: boolean;
  /** The module's struct module size differs from the kernel's (the loader refuses it). Blocking. */
  moduleSizeMismatch: ModuleSizeMismatch | null;
  /**
   * The kernel's struct module size is unknown (no in-tree module of it under the root): the size
   * rule was not applied (not blocking).
   */
  moduleSizeUnknown: boolean;
  /**
   * The kernel's configuration has CONFIG_MODVERSIONS unset: it checks no CRC, so none was checked
   * (symbol names only; not blocking).
   */
  crcsNotChecked: boolean;
  /**
   * The module has no modversions and the kernel's configuration (the file named) has
   * CONFIG_MODVERSIONS=y without CONFIG_MODULE_FORCE_LOAD: the kernel refuses it. Blocking.
   */
  noModversionsRefused: KernelConfigReason | null;
  /**
   * The module has no modversions and the kernel's configuration has CONFIG_MODVERSIONS=y and
   * CONFIG_MODULE_FORCE_LOAD=y: it loads, tainting the kernel (TAINT_FORCED_MODULE). Not blocking.
   */
  forcedLoad: boolean;
  /** The module is unsigned and the kernel's configuration has CONFIG_MODULE_SIG_FORCE=y. Blocking. */
  unsignedRefused: KernelConfigReason | null;
}

/** The kernel configuration file a rule followed. */
export interface KernelConfigReason {
  config: string;
}

/**
 * Whose key a module's signature rests on, for one kernel: that kernel's own build key; another
 * build's autogenerated key (one of the other kernels', or signed "Build time autogenerated kernel
 * key"); some other key (a MOK or DKMS key: trusted where it is enrolled, which no file shows);
 * no signature; a signature the kernel cannot parse; or unknown (the kernel's build key is not
 * known: no tree of its own under the root).
 */
export type SignatureKey = "kernel-build-key" | "foreign-build-key" | "other-key" | "unsigned" | "invalid-signature" | "unknown";

/** The result of `evaluate`: a verdict for every (module index, kernel index). */
export interface CompatibilityReport {
  readonly moduleCount: number;
  readonly kernelCount: number;
  /** Kernel releases, by kernel index. */
  readonly releases: readonly string[];
  /** Whether module m is a candidate on kernel k. */
  isCandidate(moduleIndex: number, kernelIndex: number): boolean;
  /** Whether module m is compatible on kernel k (false for non-candidates). Cheap. */
  isCompatible(moduleIndex: number, kernelIndex: number): boolean;
  /** Kernel indices module m is compatible with, ascending. */
  compatibleKernels(moduleIndex: number): number[];
  /** The detailed verdict, or null when m is not a candidate on k. Computed on first request, then cached. */
  verdict(moduleIndex: number, kernelIndex: number): PairVerdict | null;
  /**
   * The detailed verdict like `verdict`, but not kept (the cached one is returned when there is
   * one): for a caller that visits each pair once, such as a streamed report.
   */
  explain(moduleIndex: number, kernelIndex: number): PairVerdict | null;
  /** `explain` of module m on every kernel, by kernel index (one pass over its requirements). */
  explainModule(moduleIndex: number): (PairVerdict | null)[];
  /** Every verdict, indexed [moduleIndex][kernelIndex]. */
  verdicts(): (PairVerdict | null)[][];
}
