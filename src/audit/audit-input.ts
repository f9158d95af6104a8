import type { KernelConfigFacts } from "../types/kernel-target.js";
import type { CompatibilityReport } from "../engine/verdict.js";
import type { InputError } from "../load/read-many.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { SymversProblem } from "../types/symvers-table.js";

/*
 * The input of every audit report writer, in a file of its own: audit-report.ts (which re-exports
 * these) and audit-summary.ts both need it, and audit-report.ts uses audit-summary.ts.
 */

export interface AuditKernel {
  release: string;
  symvers: string;
  /** Present (true) only when the kernel was judged with strict modversions (`--strict-modversions`). */
  strictModversions?: true;
  /**
   * The kernel's configuration kabi followed (KernelTarget.config), or null when none was found:
   * then a module without modversions is judged by names only, as before configurations were read.
   * Always present in the audit (src/api/audit.ts); optional for reports made by hand.
   */
  config?: KernelConfigFacts | null;
}

/** What a streamed report is made from: the engine's report over the records read. */
export interface AuditInput {
  kernels: readonly AuditKernel[];
  modules: readonly ModuleRecord[];
  report: CompatibilityReport;
  errors: readonly InputError[];
  symversProblems: readonly SymversProblem[];
  /** The paths the audit was given (files, directories, packages), in order: what module names are shown relative to (displayNames). */
  operands: readonly string[];
}
