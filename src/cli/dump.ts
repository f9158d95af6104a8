import { describeInputError } from "../types/errors.js";
import { formatKmodLine, readKmodListings } from "../module/dump-listings.js";
import { readModule } from "../module/read-module.js";
import type { CliIO } from "./io.js";

const USAGE = "usage: kabi dump [--modversions|--exports|--modinfo|--json] FILE...";

type DumpMode = "modversions" | "exports" | "modinfo" | "json";

export async function dumpCommand(args: readonly string[], io: CliIO): Promise<number> {
  let mode: DumpMode = "modversions";
  const files: string[] = [];
  for (const a of args) {
    if (a === "--modversions" || a === "--exports" || a === "--modinfo" || a === "--json") mode = a.slice(2) as DumpMode;
    else if (a === "-h" || a === "--help") {
      io.out(USAGE + "\n");
      return 0;
    } else if (a.startsWith("-") && a !== "-") {
      io.err(`kabi dump: unknown option ${a}\n${USAGE}\n`);
      return 2;
    } else files.push(a);
  }
  if (files.length === 0) {
    io.err(`${USAGE}\n`);
    return 2;
  }
  let failed = false;
  const records: unknown[] = [];
  for (const file of files) {
    try {
      if (mode === "json") {
        records.push(await readModule(file));
      } else if (mode === "modinfo") {
        const rec = await readModule(file);
        io.out(rec.modinfo.map((e) => `${e.key}=${e.value}\n`).join(""));
      } else {
        const listings = await readKmodListings(file);
        io.out(listings[mode].map((e) => formatKmodLine(e) + "\n").join(""));
      }
    } catch (err) {
      failed = true;
      io.err(`kabi dump: ${describeInputError(file, err)}\n`);
    }
  }
  if (mode === "json") io.out(JSON.stringify(files.length === 1 && records.length === 1 ? records[0] : records, null, 2) + "\n");
  return failed ? 1 : 0;
}
