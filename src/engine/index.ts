export { evaluate } from "./engine.js";
export { vermagicFlags } from "./vermagic.js";
export { GPL_COMPATIBLE_LICENSES, licenseIsGplCompatible, moduleIsGplCompatible, moduleLicense } from "./license.js";
export type {
  BlockedBy,
  CompatibilityReport,
  CrcMismatch,
  EvaluateOptions,
  GplOnlyUse,
  KernelTarget,
  MissingImportNs,
  NoSymbolVersion,
  PairVerdict,
  ProprietaryTaintConflict,
  VermagicMismatch,
} from "./verdict.js";
