/**
 * kabi's public API: what `import ... from "kabi"` gives (package.json "exports"), and all that the
 * command-line tools use. Everything below this file (src/load, src/engine, src/weak, ...) is an
 * implementation detail that may change between versions.
 *
 * The flow: find and read modules (ModuleRecord), load the kernels to judge them against
 * (KernelTarget: release, symvers table, vermagic), evaluate every (module, kernel) pair, then
 * write an audit report, or plan and apply Red Hat style weak-updates links.
 *
 * Three facets, each also its own entry ("kabi/records", "kabi/audit", "kabi/weak"), so that a
 * program loads only its part: every weak-modules call pays for what it imports.
 */
export * from "./api/records.js";
export * from "./api/audit.js";
export * from "./api/weak.js";
