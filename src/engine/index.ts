export { evaluate } from "./engine.js";
export { vermagicFlags } from "./vermagic.js";
export type {
  BlockedBy,
  CompatibilityReport,
  CrcMismatch,
  EvaluateOptions,
  KernelTarget,
  MissingImportNs,
  PairVerdict,
  VermagicMismatch,
} from "./verdict.js";
