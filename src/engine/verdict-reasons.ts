import type { BlockedBy, CrcMismatch, GplOnlyUse, KernelConfigReason, MissingImportNs, ModuleSizeMismatch, NoSymbolVersion, PairVerdict, ProprietaryTaintConflict, SignatureKey, VermagicMismatch } from "./verdict.js";

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** `0x%08x` of an unsigned 32-bit CRC (by byte table: this runs once per CRC in a report). */
export function hexCrc(crc: number): string {
  return "0x" + HEX_BYTE[(crc >>> 24) & 255] + HEX_BYTE[(crc >>> 16) & 255] + HEX_BYTE[(crc >>> 8) & 255] + HEX_BYTE[crc & 255];
}

/**
 * What the reason lines are made from: an engine PairVerdict, or its audit JSON form (the tests'
 * AuditPair, whose CRCs are already `0x%08x` strings). Both fit as they are.
 */
export interface ReasonSource {
  readonly missing: readonly string[];
  readonly mismatched: readonly { symbol: string; moduleCrc: number | string; kernelCrc: number | string; provider: string }[];
  readonly noSymbolVersion: readonly NoSymbolVersion[];
  readonly blockedBy: readonly BlockedBy[];
  readonly missingImportNs: readonly MissingImportNs[];
  readonly gplOnly: readonly GplOnlyUse[];
  readonly proprietaryTaint: readonly ProprietaryTaintConflict[];
  readonly vermagicMismatch: VermagicMismatch | null;
  readonly signatureKey: SignatureKey;
  readonly signatureRefused: boolean;
  readonly moduleSizeMismatch: ModuleSizeMismatch | null;
  readonly noModversionsRefused: KernelConfigReason | null;
  readonly unsignedRefused: KernelConfigReason | null;
}

const crcText = (crc: number | string): string => (typeof crc === "number" ? hexCrc(crc) : crc);
const q = (s: string): string => JSON.stringify(s);

/** The audit JSON of a CRC mismatch; `quote` gives a name's JSON (a writer may cache those). */
export function crcMismatchJson(x: CrcMismatch, quote: (s: string) => string = q): string {
  return '{"symbol":' + quote(x.symbol) + ',"moduleCrc":"' + hexCrc(x.moduleCrc) + '","kernelCrc":"' + hexCrc(x.kernelCrc) + '","provider":' + quote(x.provider) + "}";
}

/** The PairVerdict fields after `compatible`, which VERDICT_FIELDS lists. */
export type VerdictFieldKey = Exclude<keyof PairVerdict, "compatible">;

/**
 * One field of PairVerdict as every output writes it.
 * - `kind`: "list" (an array, empty when it holds nothing), "nullable" (an object or null),
 *   "flag" (a boolean, always written) or "value" (a string, always written).
 * - `json`: the field's value in the audit JSON document (JSON.stringify of its audit form: CRCs as
 *   `0x%08x` strings; the keys in their interface order).
 * - `reason`: for a field that makes a pair incompatible, its place among the reason lines (`rank`:
 *   ascending), its lines, and the symbols it blocks on (for machine-readable output).
 */
export interface VerdictField {
  readonly key: VerdictFieldKey;
  readonly kind: "list" | "nullable" | "flag" | "value";
  /** Whether the field holds nothing (a list without items, null; a flag never does). */
  isEmpty(v: PairVerdict): boolean;
  json(v: PairVerdict): string;
  readonly reason: VerdictReason | null;
}

export interface VerdictReason {
  readonly rank: number;
  lines(v: ReasonSource, out: string[]): void;
  symbols(v: ReasonSource, out: Set<string>): void;
}

type ListKey = { [K in VerdictFieldKey]: PairVerdict[K] extends readonly unknown[] ? K : never }[VerdictFieldKey];

function list<K extends ListKey>(key: K, item: (x: PairVerdict[K][number]) => string, reason: VerdictReason | null): VerdictField {
  return {
    key,
    kind: "list",
    isEmpty: (v) => v[key].length === 0,
    json(v) {
      const xs = v[key] as readonly PairVerdict[K][number][];
      let out = "[";
      for (let i = 0; i < xs.length; i++) out += (i === 0 ? "" : ",") + item(xs[i]);
      return out + "]";
    },
    reason,
  };
}

/**
 * A reason: its rank, its lines and its blocking symbols, each a function of its own (the loops
 * over a field's entries stay monomorphic: the text report writes ~1.3 million lines for a 6.12
 * tree against 6.1 kernels).
 */
function reason(rank: number, lines: VerdictReason["lines"], symbols: VerdictReason["symbols"] = () => {}): VerdictReason {
  return { rank, lines, symbols };
}

/**
 * The fields of PairVerdict after `compatible`, in its interface order, which is the order of
 * their keys in the audit JSON. The reason lines (verdictReasonLines), the blocking symbols
 * (blockingSymbols) and the JSON writer (src/audit/audit-report.ts: field order, the constant
 * tail of a pair whose fields are all empty) are derived from this table: a new verdict field is
 * its type in PairVerdict, its rule in the engine, and one entry here.
 */
export const VERDICT_FIELDS: readonly VerdictField[] = [
  list("missing", q, reason(
      1,
      (v, out) => {
        for (const s of v.missing) out.push(`missing symbol ${s}`);
      },
      (v, out) => {
        for (const s of v.missing) out.add(s);
      },
    )),
  list(
    "mismatched",
    (x) => crcMismatchJson(x),
    reason(
      4,
      (v, out) => {
        for (const x of v.mismatched) out.push(`CRC mismatch ${x.symbol}: module ${crcText(x.moduleCrc)}, ${x.provider} ${crcText(x.kernelCrc)}`);
      },
      (v, out) => {
        for (const x of v.mismatched) out.add(x.symbol);
      },
    ),
  ),
  list(
    "noSymbolVersion",
    (x) => '{"symbol":' + q(x.symbol) + ',"provider":' + q(x.provider) + "}",
    reason(
      5,
      (v, out) => {
        for (const x of v.noSymbolVersion) out.push(`no symbol version for ${x.symbol}: ${x.provider} exports it with a CRC the module does not list (strict modversions)`);
      },
      (v, out) => {
        for (const x of v.noSymbolVersion) out.add(x.symbol);
      },
    ),
  ),
  list(
    "blockedBy",
    (b) => '{"provider":' + q(b.provider) + ',"providerPath":' + q(b.providerPath) + ',"symbols":' + JSON.stringify(b.symbols) + "}",
    reason(
      0,
      (v, out) => {
        for (const b of v.blockedBy) out.push(`needs ${b.provider} (${b.providerPath}), itself incompatible here, for: ${b.symbols.join(", ")}`);
      },
      (v, out) => {
        for (const b of v.blockedBy) for (const s of b.symbols) out.add(s);
      },
    ),
  ),
  list(
    "missingImportNs",
    (n) => '{"symbol":' + q(n.symbol) + ',"namespace":' + q(n.namespace) + "}",
    reason(
      6,
      (v, out) => {
        for (const n of v.missingImportNs) out.push(`uses ${n.symbol} from namespace ${n.namespace} without MODULE_IMPORT_NS(${n.namespace})`);
      },
      (v, out) => {
        for (const n of v.missingImportNs) out.add(n.symbol);
      },
    ),
  ),
  list(
    "gplOnly",
    (g) => '{"symbol":' + q(g.symbol) + ',"provider":' + q(g.provider) + ',"license":' + (g.license === null ? "null" : q(g.license)) + "}",
    reason(
      2,
      (v, out) => {
        for (const g of v.gplOnly) {
          const license = g.license === null ? "with no MODULE_LICENSE" : `under license ${JSON.stringify(g.license)}`;
          out.push(`uses GPL-only ${g.symbol} (${g.provider}) ${license}, not GPL-compatible`);
        }
      },
      (v, out) => {
        for (const g of v.gplOnly) out.add(g.symbol);
      },
    ),
  ),
  list(
    "proprietaryTaint",
    (t) =>
      '{"symbol":' + q(t.symbol) + ',"provider":' + q(t.provider) + ',"taintedBy":' + q(t.taintedBy) + ',"gplOnlySymbol":' + q(t.gplOnlySymbol) + ',"gplOnlyProvider":' + q(t.gplOnlyProvider) + "}",
    reason(
      3,
      (v, out) => {
        for (const t of v.proprietaryTaint) {
          const provider = t.taintedBy === t.provider ? `proprietary module ${t.provider}` : `${t.provider} (tainted proprietary by ${t.taintedBy})`;
          out.push(
            t.symbol === t.gplOnlySymbol
              ? `uses GPL-only ${t.symbol} from ${provider}: the kernel refuses it (inherited proprietary taint)`
              : `uses ${t.symbol} from ${provider} and GPL-only ${t.gplOnlySymbol} (${t.gplOnlyProvider}): the kernel refuses one of the two (inherited proprietary taint)`,
          );
        }
      },
      (v, out) => {
        for (const t of v.proprietaryTaint) out.add(t.symbol).add(t.gplOnlySymbol);
      },
    ),
  ),
  {
    key: "vermagicMismatch",
    kind: "nullable",
    isEmpty: (v) => v.vermagicMismatch === null,
    json: (v) => (v.vermagicMismatch === null ? "null" : '{"module":' + q(v.vermagicMismatch.module) + ',"kernel":' + q(v.vermagicMismatch.kernel) + "}"),
    reason: reason(7, (v, out) => {
      if (v.vermagicMismatch) out.push(`vermagic flags differ: module "${v.vermagicMismatch.module}", kernel "${v.vermagicMismatch.kernel}"`);
    }),
  },
  { key: "noModversions", kind: "flag", isEmpty: () => false, json: (v) => (v.noModversions ? "true" : "false"), reason: null },
  list("providers", q, null),
  { key: "signatureKey", kind: "value", isEmpty: () => false, json: (v) => q(v.signatureKey), reason: null },
  {
    key: "signatureRefused",
    kind: "flag",
    isEmpty: (v) => !v.signatureRefused,
    json: (v) => (v.signatureRefused ? "true" : "false"),
    reason: reason(8, (v, out) => {
      if (v.signatureRefused) out.push(`signature rests on ${SIGNATURE_KEY_TEXT[v.signatureKey]}: refused where signatures are enforced (module.sig_enforce, Secure Boot lockdown)`);
    }),
  },
  {
    key: "moduleSizeMismatch",
    kind: "nullable",
    isEmpty: (v) => v.moduleSizeMismatch === null,
    json: (v) => (v.moduleSizeMismatch === null ? "null" : '{"module":' + v.moduleSizeMismatch.module + ',"kernel":' + v.moduleSizeMismatch.kernel + "}"),
    reason: reason(9, (v, out) => {
      const x = v.moduleSizeMismatch;
      if (x) out.push(`struct module size differs: module .gnu.linkonce.this_module 0x${x.module.toString(16)} bytes, kernel 0x${x.kernel.toString(16)} (the kernel refuses it: ".gnu.linkonce.this_module section size must match the kernel's built struct module size at run time")`);
    }),
  },
  { key: "moduleSizeUnknown", kind: "flag", isEmpty: () => false, json: (v) => (v.moduleSizeUnknown ? "true" : "false"), reason: null },
  { key: "crcsNotChecked", kind: "flag", isEmpty: () => false, json: (v) => (v.crcsNotChecked ? "true" : "false"), reason: null },
  {
    key: "noModversionsRefused",
    kind: "nullable",
    isEmpty: (v) => v.noModversionsRefused === null,
    json: (v) => (v.noModversionsRefused === null ? "null" : '{"config":' + q(v.noModversionsRefused.config) + "}"),
    reason: reason(10, (v, out) => {
      const x = v.noModversionsRefused;
      if (x) out.push(`no modversions: the kernel is built with CONFIG_MODVERSIONS=y and without CONFIG_MODULE_FORCE_LOAD (${x.config}), so it refuses the module`);
    }),
  },
  { key: "forcedLoad", kind: "flag", isEmpty: () => false, json: (v) => (v.forcedLoad ? "true" : "false"), reason: null },
  {
    key: "unsignedRefused",
    kind: "nullable",
    isEmpty: (v) => v.unsignedRefused === null,
    json: (v) => (v.unsignedRefused === null ? "null" : '{"config":' + q(v.unsignedRefused.config) + "}"),
    reason: reason(11, (v, out) => {
      const x = v.unsignedRefused;
      if (x) out.push(`unsigned: the kernel is built with CONFIG_MODULE_SIG_FORCE=y (${x.config}), so it refuses a module without a signature`);
    }),
  },
];

/** A signature key relation as a reason line names it. */
const SIGNATURE_KEY_TEXT: Readonly<Record<SignatureKey, string>> = {
  "kernel-build-key": "the kernel's own build key",
  "foreign-build-key": "another kernel build's key, which this kernel does not hold",
  "other-key": "a key that is no kernel's build key",
  unsigned: "nothing: the module is unsigned",
  "invalid-signature": "a signature that cannot be parsed",
  unknown: "a key not known to be this kernel's",
};

/** The reasons of VERDICT_FIELDS by rank: the order of the reason lines. */
const REASONS: readonly VerdictReason[] = VERDICT_FIELDS.flatMap((f) => (f.reason === null ? [] : [f.reason])).sort((a, b) => a.rank - b.rank);

/**
 * Why a pair is incompatible, one reason per line, in one wording for every output: the audit
 * text (one line each), weak-modules and `kabi status` (joined with "; "). Order (VERDICT_FIELDS'
 * ranks): providers that block it, missing symbols, GPL-only exports it may not use, GPL-only
 * exports next to a tainted module's, CRC mismatches, symbols without a modversion on a
 * strict-modversions kernel, namespaces not imported, vermagic, a signature refused, struct module
 * size, no modversions where the configuration refuses that, unsigned where it enforces signatures.
 */
export function verdictReasonLines(v: ReasonSource): string[] {
  const out: string[] = [];
  for (let i = 0; i < REASONS.length; i++) REASONS[i].lines(v, out);
  return out;
}

/** The symbols that block a pair (for machine-readable output), first-seen order, each once. */
export function blockingSymbols(v: ReasonSource): string[] {
  const out = new Set<string>();
  for (let i = 0; i < REASONS.length; i++) REASONS[i].symbols(v, out);
  return [...out];
}
