import type { ModversionEntry } from "../types/module-record.js";

/** kmod prints `0x%08"PRIx64"\t%s`. */
export function formatKmodLine(e: ModversionEntry): string {
  const crc = e.crc < 0 ? "ffffffffffffffff" : e.crc.toString(16).padStart(8, "0");
  return `0x${crc}\t${e.symbol}`;
}
