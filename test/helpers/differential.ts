/** kabi's kmod-style listings next to kmod's own, file by file. */
import { readKmodListings } from "../../src/module/dump-listings.js";
import { formatKmodLine } from "../../src/module/kmod-line.js";
import type { ReadModuleOptions } from "../../src/module/read-module.js";
import { kmodListings, type KmodOutput } from "./kmod.js";

export interface Mismatch {
  file: string;
  what: "modversions" | "exports" | "read error";
  kabi: string;
  kmod: string;
}

export interface DifferentialResult {
  files: number;
  mismatches: Mismatch[];
  /** Files where kmod printed something for each listing (to show the comparison is not vacuous). */
  withModversions: number;
  withExports: number;
  kmod: KmodOutput[];
}

/** What `kabi dump --modversions` / `--exports` print for a file, computed in-process. */
export async function kabiListings(file: string, options: ReadModuleOptions = {}): Promise<{ modversions: string; exports: string }> {
  const l = await readKmodListings(file, options);
  const text = (es: typeof l.modversions) => es.map((e) => formatKmodLine(e) + "\n").join("");
  return { modversions: text(l.modversions), exports: text(l.exports) };
}

/** Reads `files` with kabi (a few at a time, in-process) while kmod runs on them, then compares. */
export async function compareWithKmod(files: readonly string[], options: ReadModuleOptions = {}): Promise<DifferentialResult> {
  const kmodPromise = kmodListings(files);
  const ours: ({ modversions: string; exports: string } | Error)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        ours[i] = await kabiListings(files[i]!, options);
      } catch (err) {
        ours[i] = err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const kmod = await kmodPromise;
  const mismatches: Mismatch[] = [];
  let withModversions = 0;
  let withExports = 0;
  files.forEach((file, i) => {
    const k = kmod[i]!;
    const o = ours[i]!;
    if (k.modversions !== "") withModversions++;
    if (k.exports !== "") withExports++;
    if (o instanceof Error) {
      mismatches.push({ file, what: "read error", kabi: o.message, kmod: k.modversions.slice(0, 200) });
      return;
    }
    if (o.modversions !== k.modversions) mismatches.push({ file, what: "modversions", ...firstDifference(o.modversions, k.modversions) });
    if (o.exports !== k.exports) mismatches.push({ file, what: "exports", ...firstDifference(o.exports, k.exports) });
  });
  return { files: files.length, mismatches, withModversions, withExports, kmod };
}

/** The first differing line of each side, so a failure message stays readable. */
function firstDifference(kabi: string, kmod: string): { kabi: string; kmod: string } {
  const a = kabi.split("\n");
  const b = kmod.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return { kabi: `line ${i + 1}: ${JSON.stringify(a[i])} (${a.length - 1} lines)`, kmod: `line ${i + 1}: ${JSON.stringify(b[i])} (${b.length - 1} lines)` };
  }
  return { kabi, kmod };
}
