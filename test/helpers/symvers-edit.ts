/** Real kernel symvers from fixtures/symvers, with one line's export type changed (derived test data). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { ROOT } from "./paths.js";

/** The text of fixtures/symvers/<release>.symvers.gz. */
export function fixtureSymversText(release: string): string {
  return gunzipSync(readFileSync(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`))).toString("utf8");
}

/** One line's columns (crc, symbol, module, export type, namespace) in a current-layout symvers text. */
export function symversLine(text: string, symbol: string): string[] {
  const line = text.split("\n").find((l) => l.split("\t")[1] === symbol);
  if (line === undefined) throw new Error(`no symvers line for ${symbol}`);
  return line.split("\t");
}

/**
 * `text` with the export type (4th column) of `symbol`'s line replaced; every other byte kept.
 * Throws unless exactly one line names the symbol.
 */
export function withExportType(text: string, symbol: string, exportType: string): string {
  const lines = text.split("\n");
  const at = lines.flatMap((l, i) => (l.split("\t")[1] === symbol ? [i] : []));
  if (at.length !== 1) throw new Error(`${at.length} symvers lines for ${symbol}`);
  const cols = lines[at[0]].split("\t");
  cols[3] = exportType;
  lines[at[0]] = cols.join("\t");
  return lines.join("\n");
}
