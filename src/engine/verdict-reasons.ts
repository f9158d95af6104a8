import type { BlockedBy, GplOnlyUse, MissingImportNs, NoSymbolVersion, ProprietaryTaintConflict, VermagicMismatch } from "./verdict.js";

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** `0x%08x` of an unsigned 32-bit CRC (by byte table: this runs once per CRC in a report). */
export function hexCrc(crc: number): string {
  return "0x" + HEX_BYTE[(crc >>> 24) & 255] + HEX_BYTE[(crc >>> 16) & 255] + HEX_BYTE[(crc >>> 8) & 255] + HEX_BYTE[crc & 255];
}

/**
 * What the reason lines are made from: an engine PairVerdict, or its audit JSON form (the tests' AuditPair,
 * whose CRCs are already `0x%08x` strings). Both fit as they are.
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
}

const crcText = (crc: number | string): string => (typeof crc === "number" ? hexCrc(crc) : crc);

/**
 * Why a pair is incompatible, one reason per line, in one wording for every output: the audit
 * text (one line each), weak-modules and `kabi status` (joined with "; "). Order: providers that
 * block it, missing symbols, GPL-only exports it may not use, GPL-only exports next to a tainted
 * module's, CRC mismatches, symbols without a modversion on a strict-modversions kernel, namespaces
 * not imported, vermagic.
 */
export function verdictReasonLines(v: ReasonSource): string[] {
  const out: string[] = [];
  for (const b of v.blockedBy) out.push(`needs ${b.provider} (${b.providerPath}), itself incompatible here, for: ${b.symbols.join(", ")}`);
  for (const s of v.missing) out.push(`missing symbol ${s}`);
  for (const g of v.gplOnly) {
    const license = g.license === null ? "with no MODULE_LICENSE" : `under license ${JSON.stringify(g.license)}`;
    out.push(`uses GPL-only ${g.symbol} (${g.provider}) ${license}, not GPL-compatible`);
  }
  for (const t of v.proprietaryTaint) {
    const provider = t.taintedBy === t.provider ? `proprietary module ${t.provider}` : `${t.provider} (tainted proprietary by ${t.taintedBy})`;
    out.push(
      t.symbol === t.gplOnlySymbol
        ? `uses GPL-only ${t.symbol} from ${provider}: the kernel refuses it (inherited proprietary taint)`
        : `uses ${t.symbol} from ${provider} and GPL-only ${t.gplOnlySymbol} (${t.gplOnlyProvider}): the kernel refuses one of the two (inherited proprietary taint)`,
    );
  }
  for (const x of v.mismatched) out.push(`CRC mismatch ${x.symbol}: module ${crcText(x.moduleCrc)}, ${x.provider} ${crcText(x.kernelCrc)}`);
  for (const x of v.noSymbolVersion) out.push(`no symbol version for ${x.symbol}: ${x.provider} exports it with a CRC the module does not list (strict modversions)`);
  for (const n of v.missingImportNs) out.push(`uses ${n.symbol} from namespace ${n.namespace} without MODULE_IMPORT_NS(${n.namespace})`);
  if (v.vermagicMismatch) out.push(`vermagic flags differ: module "${v.vermagicMismatch.module}", kernel "${v.vermagicMismatch.kernel}"`);
  return out;
}

/** The symbols that block a pair (for machine-readable output), first-seen order, each once. */
export function blockingSymbols(v: ReasonSource): string[] {
  const out = new Set<string>();
  for (const b of v.blockedBy) for (const s of b.symbols) out.add(s);
  for (const s of v.missing) out.add(s);
  for (const x of v.gplOnly) out.add(x.symbol);
  for (const x of v.proprietaryTaint) out.add(x.symbol).add(x.gplOnlySymbol);
  for (const x of v.mismatched) out.add(x.symbol);
  for (const x of v.noSymbolVersion) out.add(x.symbol);
  for (const x of v.missingImportNs) out.add(x.symbol);
  return [...out];
}
