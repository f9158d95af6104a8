import type { ModuleRecord } from "./module-record.js";
import type { SymversTable } from "./symvers-table.js";

/** What kabi uses of a kernel's configuration (its config-K file): an option is true when `=y`. */
export interface KernelConfigFacts {
  /** The file it was read from. */
  path: string;
  /** CONFIG_MODVERSIONS: off, the kernel checks no CRC (names only). */
  modversions: boolean;
  /** CONFIG_MODULE_FORCE_LOAD: a module without modversions loads (tainting) instead of being refused. */
  moduleForceLoad: boolean;
  /** CONFIG_MODULE_SIG_FORCE: an unsigned module is refused. */
  moduleSigForce: boolean;
}

/** One kernel the modules are judged against. */
export interface KernelTarget {
  release: string;
  symvers: SymversTable;
  /** vermagic of the kernel's own modules, when known (flags after the release are compared) */
  vermagic?: string;
  /**
   * The kernel's `struct module` size: sh_size of `.gnu.linkonce.this_module` in its own in-tree
   * modules, when its tree is present (src/load/kernel-targets.ts). Undefined: unknown, the size
   * rule is not applied on this kernel (PairVerdict.moduleSizeUnknown).
   */
  thisModuleSize?: number;
  /** The kernel's configuration, when found (src/root/kernel-config.ts); undefined: unknown, today's rules. */
  config?: KernelConfigFacts;
  /** modules always present on this kernel: their exports count as providers; they are not judged */
  resident?: ModuleRecord[];
  /**
   * The kernel refuses a module with modversions that resolves a symbol its modversions do not
   * list, when the exporter has a CRC (Debian's patch "module: Disable matching missing version
   * CRC"; upstream only warns "no symbol version for"). Default false: upstream semantics.
   */
  strictModversions?: boolean;
}
