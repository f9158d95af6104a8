import type { ModuleRecord } from "./module-record.js";
import type { SymversTable } from "./symvers-table.js";

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
  /** modules always present on this kernel: their exports count as providers; they are not judged */
  resident?: ModuleRecord[];
  /**
   * The kernel refuses a module with modversions that resolves a symbol its modversions do not
   * list, when the exporter has a CRC (Debian's patch "module: Disable matching missing version
   * CRC"; upstream only warns "no symbol version for"). Default false: upstream semantics.
   */
  strictModversions?: boolean;
}
