/**
 * One wording for the reasons of an incompatible pair: the audit text (engine verdicts and the
 * AuditPair of the JSON report), weak-modules and `kabi status` use verdictReasonLines.
 */
import { describe, expect, it } from "vitest";
import type { AuditPair } from "../audit/whole-report.js";
import type { PairVerdict } from "../../src/engine/index.js";
import { blockingSymbols, VERDICT_FIELDS, verdictReasonLines } from "../../src/engine/verdict-reasons.js";
import { describeIncompatibility } from "../../src/weak/weak-assign.js";

// One reason of every kind, with the values of the kbuild fixtures (fixtures/modules/README.md).
const verdict: PairVerdict = {
  compatible: false,
  missing: ["sk_skb_reason_drop"],
  mismatched: [{ symbol: "skb_put", moduleCrc: 0x359ec46d, kernelCrc: 0x69958214, provider: "vmlinux" }],
  noSymbolVersion: [{ symbol: "module_layout", provider: "vmlinux" }],
  blockedBy: [{ provider: "kabi_provider", providerPath: "/lib/modules/6.1.0-54-amd64/extra/kabi_provider.ko", symbols: ["kabi_provider_add", "kabi_provider_gpl_mul"] }],
  missingImportNs: [{ symbol: "kabi_provider_ns_sub", namespace: "KABI_TEST" }],
  gplOnly: [
    { symbol: "recalibrate_cpu_khz", provider: "vmlinux", license: "Proprietary" },
    { symbol: "skb_put", provider: "vmlinux", license: null },
  ],
  proprietaryTaint: [
    { symbol: "kabi_relay_value", provider: "kabi_taint_relay", taintedBy: "kabi_prop_provider", gplOnlySymbol: "cpu_mitigations_off", gplOnlyProvider: "vmlinux" },
    { symbol: "kabi_prop_value", provider: "kabi_prop_provider", taintedBy: "kabi_prop_provider", gplOnlySymbol: "kabi_prop_value", gplOnlyProvider: "kabi_prop_provider" },
  ],
  vermagicMismatch: { module: "6.1.0-53-amd64 SMP preempt mod_unload modversions ", kernel: "6.1.0-53-amd64 SMP mod_unload modversions " },
  noModversions: false,
  providers: [],
  signatureKey: "foreign-build-key",
  signatureRefused: true,
  // .gnu.linkonce.this_module of Debian's 6.1 and 6.12 amd64 modules.
  moduleSizeMismatch: { module: 0x380, kernel: 0x500 },
  moduleSizeUnknown: false,
  crcsNotChecked: false,
  noModversionsRefused: { config: "/boot/config-6.1.0-53-amd64" },
  forcedLoad: false,
  unsignedRefused: { config: "/boot/config-6.1.0-53-amd64" },
};

// The verdict's fields as the audit JSON has them (a pair's `headline` is not a verdict field).
const asAudit: Omit<AuditPair, "headline"> = {
  ...verdict,
  mismatched: [{ symbol: "skb_put", moduleCrc: "0x359ec46d", kernelCrc: "0x69958214", provider: "vmlinux" }],
};

describe("verdictReasonLines", () => {
  it("words every kind of reason once, in a fixed order", () => {
    expect(verdictReasonLines(verdict)).toEqual([
      "needs kabi_provider (/lib/modules/6.1.0-54-amd64/extra/kabi_provider.ko), itself incompatible here, for: kabi_provider_add, kabi_provider_gpl_mul",
      "missing symbol sk_skb_reason_drop",
      'uses GPL-only recalibrate_cpu_khz (vmlinux) under license "Proprietary", not GPL-compatible',
      "uses GPL-only skb_put (vmlinux) with no MODULE_LICENSE, not GPL-compatible",
      "uses kabi_relay_value from kabi_taint_relay (tainted proprietary by kabi_prop_provider) and GPL-only cpu_mitigations_off (vmlinux): the kernel refuses one of the two (inherited proprietary taint)",
      "uses GPL-only kabi_prop_value from proprietary module kabi_prop_provider: the kernel refuses it (inherited proprietary taint)",
      "CRC mismatch skb_put: module 0x359ec46d, vmlinux 0x69958214",
      "no symbol version for module_layout: vmlinux exports it with a CRC the module does not list (strict modversions)",
      "uses kabi_provider_ns_sub from namespace KABI_TEST without MODULE_IMPORT_NS(KABI_TEST)",
      'vermagic flags differ: module "6.1.0-53-amd64 SMP preempt mod_unload modversions ", kernel "6.1.0-53-amd64 SMP mod_unload modversions "',
      "signature rests on another kernel build's key, which this kernel does not hold: refused where signatures are enforced (module.sig_enforce, Secure Boot lockdown)",
      `struct module size differs: module .gnu.linkonce.this_module 0x380 bytes, kernel 0x500 (the kernel refuses it: ".gnu.linkonce.this_module section size must match the kernel's built struct module size at run time")`,
      "no modversions: the kernel is built with CONFIG_MODVERSIONS=y and without CONFIG_MODULE_FORCE_LOAD (/boot/config-6.1.0-53-amd64), so it refuses the module",
      "unsigned: the kernel is built with CONFIG_MODULE_SIG_FORCE=y (/boot/config-6.1.0-53-amd64), so it refuses a module without a signature",
    ]);
  });

  it("is what the audit text (both forms), weak-modules and status say", () => {
    const lines = verdictReasonLines(verdict);
    expect(verdictReasonLines(asAudit)).toEqual(lines);
    expect(describeIncompatibility(verdict)).toBe(lines.join("; "));
    expect(blockingSymbols(verdict)).toEqual(["kabi_provider_add", "kabi_provider_gpl_mul", "sk_skb_reason_drop", "recalibrate_cpu_khz", "skb_put", "kabi_relay_value", "cpu_mitigations_off", "kabi_prop_value", "module_layout", "kabi_provider_ns_sub"]);
  });
});

describe("VERDICT_FIELDS", () => {
  it("lists PairVerdict's fields after `compatible` in order, and its JSON is JSON.stringify of the audit form", () => {
    expect(["compatible", ...VERDICT_FIELDS.map((f) => f.key)]).toEqual(Object.keys(verdict));
    const json = "{" + ['"compatible":false', ...VERDICT_FIELDS.map((f) => JSON.stringify(f.key) + ":" + f.json(verdict))].join(",") + "}";
    expect(json).toBe(JSON.stringify(asAudit));
    const reasons = VERDICT_FIELDS.filter((f) => f.reason !== null).map((f) => f.key);
    expect(reasons.sort()).toEqual(Object.keys(asAudit).filter((k) => !["compatible", "noModversions", "providers", "signatureKey", "moduleSizeUnknown", "crcsNotChecked", "forcedLoad"].includes(k)).sort());
  });
});
