import type { PairVerdict } from "../engine/verdict.js";
import { VERDICT_FIELDS, type VerdictFieldKey } from "../engine/verdict-reasons.js";

/**
 * The kinds of reason that make a pair incompatible, one per verdict field that has reason lines
 * (VERDICT_FIELDS): the SARIF report's rules and the JUnit failures' `type`. Ids are stable: CI
 * systems key their findings on them.
 */
export interface BlockingKind {
  readonly field: VerdictFieldKey;
  /** "kabi/missing-symbol" */
  readonly id: string;
  /** "MissingSymbol" (SARIF's rule name: an identifier) */
  readonly name: string;
  readonly description: string;
}

const DESCRIBED: Partial<Record<VerdictFieldKey, Omit<BlockingKind, "field">>> = {
  blockedBy: { id: "kabi/blocked-by-provider", name: "BlockedByProvider", description: "A module it needs symbols from is itself incompatible with the kernel." },
  missing: { id: "kabi/missing-symbol", name: "MissingSymbol", description: "A symbol the module uses is exported by neither the kernel nor a module it has." },
  gplOnly: { id: "kabi/gpl-only", name: "GplOnlySymbol", description: "The module uses a GPL-only export without a GPL-compatible MODULE_LICENSE." },
  proprietaryTaint: {
    id: "kabi/proprietary-taint",
    name: "InheritedProprietaryTaint",
    description: "The module uses a GPL-only export next to an export of a module tainted proprietary: the kernel refuses one of the two.",
  },
  mismatched: { id: "kabi/crc-mismatch", name: "CrcMismatch", description: "The module was built against another version (CRC) of a symbol than the kernel exports." },
  noSymbolVersion: {
    id: "kabi/no-symbol-version",
    name: "NoSymbolVersion",
    description: "On a kernel judged with strict modversions, the module resolves a symbol with a CRC that its modversions do not list.",
  },
  missingImportNs: { id: "kabi/namespace-not-imported", name: "NamespaceNotImported", description: "The module uses a symbol from a namespace it does not import (MODULE_IMPORT_NS)." },
  vermagicMismatch: { id: "kabi/vermagic", name: "VermagicMismatch", description: "The module's vermagic flags differ from the kernel's." },
  signatureRefused: {
    id: "kabi/signature-refused",
    name: "SignatureRefused",
    description: "The kernel enforces module signatures and the module is unsigned, malformed, or signed with another kernel build's key.",
  },
  moduleSizeMismatch: {
    id: "kabi/struct-module-size",
    name: "StructModuleSizeMismatch",
    description: "The module's .gnu.linkonce.this_module section size differs from the kernel's struct module size.",
  },
  noModversionsRefused: {
    id: "kabi/no-modversions-refused",
    name: "NoModversionsRefused",
    description: "The module has no modversions and the kernel's configuration has CONFIG_MODVERSIONS=y without CONFIG_MODULE_FORCE_LOAD.",
  },
  unsignedRefused: { id: "kabi/unsigned-refused", name: "UnsignedRefused", description: "The module is unsigned and the kernel's configuration has CONFIG_MODULE_SIG_FORCE=y." },
};

/** Every kind, in the order of the reason lines (VERDICT_FIELDS' ranks). */
export const BLOCKING_KINDS: readonly BlockingKind[] = VERDICT_FIELDS.filter((f) => f.reason !== null)
  .sort((a, b) => a.reason!.rank - b.reason!.rank)
  .map((f) => {
    const described = DESCRIBED[f.key];
    // A verdict field with reason lines but no entry here is a new one: it needs an id before it ships.
    if (described === undefined) throw new Error(`blocking kind of verdict field ${f.key} is not described`);
    return { field: f.key, ...described };
  });

const FIELD_OF = new Map(VERDICT_FIELDS.map((f) => [f.key, f]));

/** The indices (in BLOCKING_KINDS) of the kinds that block `v`, in reason-line order. */
export function blockingKindsOf(v: PairVerdict): number[] {
  const out: number[] = [];
  for (let i = 0; i < BLOCKING_KINDS.length; i++) if (!FIELD_OF.get(BLOCKING_KINDS[i].field)!.isEmpty(v)) out.push(i);
  return out;
}
