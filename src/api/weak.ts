/**
 * kabi's public API, weak-updates facet ("kabi/weak"): the module paths weak-modules is given,
 * the link plan and the whole run (lock, apply, depmod, initramfs), and `kabi status`.
 */
export { checkInputPaths, type InputCheck, type InputCheckOptions, type InputModule } from "../weak/input-paths.js";
export { computePlan, runWeakModules, type WeakMode, type WeakRunOptions, type WeakRunResult } from "../weak/weak-run.js";
export type { WeakLinkPlan } from "../weak/weak-plan.js";
/** A long reason shortened for a line of text (the JSON outputs keep it whole). */
export { shortReason } from "../weak/weak-assign.js";
/** `kabi status`: every external module's state on every installed kernel. */
export { statusExitCode, statusText, weakStatus, type StatusEntry, type StatusReport, type StatusState, type UnusableModule } from "../weak/weak-status.js";
/** The checks a command makes before a run: the root (--basedir) and the cache folder. */
export { checkRoot } from "../weak/root-check.js";
export { chooseCache, type CacheChoice } from "../cache/cache-dir.js";
/** `kabi status --dkms`: every DKMS module version's state on every kernel, weak links included. */
export { dkmsStatus, formatDkmsLine, DKMS_FAILING_STATES, type DkmsState, type DkmsStatusLine, type DkmsStatusOptions, type DkmsStatusReport } from "../weak/dkms-status.js";
export { DKMS_TREE, readDkmsTree, type DkmsBuild, type DkmsBuiltFile, type DkmsModuleVersion, type DkmsTree } from "../weak/dkms-tree.js";
