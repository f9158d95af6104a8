import type { ModinfoEntry } from "../types/module-record.js";

/**
 * The kernel's GPL-only export rule.
 *
 * - A module's licence is the first `license=` of its `.modinfo` (kernel/module/main.c
 *   get_modinfo). module_license_taint_check (set_license before 6.4) reads a missing one as
 *   "unspecified" and taints the module TAINT_PROPRIETARY_MODULE unless
 *   license_is_gpl_compatible() (include/linux/license.h) accepts it: an exact, case-sensitive
 *   comparison with the six strings below.
 * - resolve_symbol searches with `gplok = !(mod->taints & TAINT_PROPRIETARY_MODULE)`, and
 *   find_exported_symbol_in_section skips the GPL-only tables (`__ksymtab_gpl` of vmlinux and of
 *   every loaded module) when !gplok: such a module does not find a GPL-only export at all. A strong
 *   reference then fails with "Unknown symbol"; a weak one stays unresolved, which the kernel accepts.
 * - EXPORT_SYMBOL_GPL_FUTURE (removed in 5.13) only made the kernel warn: it counts as a plain
 *   export. EXPORT_UNUSED_SYMBOL_GPL (CONFIG_UNUSED_SYMBOLS, also removed in 5.13) sat in a GPL_ONLY
 *   table on the kernels that have it: it counts as GPL-only. "(unknown)" counts as plain.
 * - module_layout is looked up with gplok = true (kernel/module/version.c check_modstruct_version):
 *   it is never refused.
 * A GPL-compatible module can also be tainted while it loads, by using a tainted module's export:
 * see inherited-taint.ts.
 */
export const GPL_COMPATIBLE_LICENSES: readonly string[] = [
  "GPL",
  "GPL v2",
  "GPL and additional rights",
  "Dual BSD/GPL",
  "Dual MIT/GPL",
  "Dual MPL/GPL",
];

/** license_is_gpl_compatible() of include/linux/license.h (the strings of GPL_COMPATIBLE_LICENSES). */
export function licenseIsGplCompatible(license: string): boolean {
  // Compared in place, as the kernel does (no hashing: this runs once per module and evaluation).
  switch (license) {
    case "GPL":
    case "GPL v2":
    case "GPL and additional rights":
    case "Dual BSD/GPL":
    case "Dual MIT/GPL":
    case "Dual MPL/GPL":
      return true;
    default:
      return false;
  }
}

/** The licence the kernel reads: the first `license=` entry, or null when there is none. */
export function moduleLicense(modinfo: readonly ModinfoEntry[]): string | null {
  for (let i = 0; i < modinfo.length; i++) if (modinfo[i].key === "license") return modinfo[i].value;
  return null;
}

/** Whether the kernel lets the module use GPL-only exports (no licence: not). */
export function moduleIsGplCompatible(modinfo: readonly ModinfoEntry[]): boolean {
  const license = moduleLicense(modinfo);
  return license !== null && licenseIsGplCompatible(license);
}

/** Whether a Module.symvers export type puts the symbol in a GPL-only table. */
export function isGplOnlyExportType(exportType: string): boolean {
  return exportType === "EXPORT_SYMBOL_GPL" || exportType === "EXPORT_UNUSED_SYMBOL_GPL";
}
