import type { PairVerdict } from "../engine/verdict.js";
import type { ModuleRecord } from "../types/module-record.js";
import type { AuditKernel } from "./audit-report.js";
import { pairHeadline } from "./audit-summary.js";

/** At most this many reason lines are quoted in a one-line message; the rest are counted. */
const QUOTED_LINES = 2;

/**
 * The one-line message of an incompatible pair for the CI formats (a JUnit failure's message, a
 * SARIF result's text): the headline cause when one explains the pair (pairHeadline: "built for
 * another kernel ABI ..." first), else its first reason lines and how many more there are (a pair
 * can have thousands: the whole list is the body).
 */
export function pairMessage(v: PairVerdict, lines: readonly string[], module: ModuleRecord, kernel: AuditKernel): string {
  const headline = pairHeadline(v, module, kernel);
  if (headline !== null) return headline;
  if (lines.length === 0) return "incompatible";
  const quoted = lines.slice(0, QUOTED_LINES).join("; ");
  const more = lines.length - QUOTED_LINES;
  return more > 0 ? `${quoted}; and ${more} more` : quoted;
}

