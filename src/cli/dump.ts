import { formatKmodLine, readKmodListings, readModule, toFileError } from "../api/records.js";
import type { CliIO } from "./io.js";
import { synopsis, type CommandSpec } from "./options.js";
import { commandLine, reportError, USAGE_EXIT } from "./report-error.js";

type DumpMode = "modversions" | "exports" | "modinfo" | "json";

export const DUMP_SPEC: CommandSpec = {
  prefix: "kabi dump",
  usageName: "kabi dump",
  options: [
    { name: "modversions", type: "flag", group: "mode", help: "the __versions CRCs, as modprobe --dump-modversions (the default)" },
    { name: "exports", type: "flag", group: "mode", help: "the exported symbols' CRCs, as modprobe --show-exports" },
    { name: "modinfo", type: "flag", group: "mode", help: "the .modinfo key=value lines" },
    { name: "json", type: "flag", group: "mode", help: "the whole records, as a JSON array (one file too)" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  groups: [{ name: "mode" }],
  operands: "FILE...",
  unknownArgument: (arg) => `unknown option ${arg}`,
  helpColumn: 19,
};

/** `kabi dump`: what kmod lists for each module file, or its whole record. */
export async function dumpCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, DUMP_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  const files = parsed.operands;
  if (files.length === 0) {
    io.err(`${synopsis(DUMP_SPEC)}\n`);
    return USAGE_EXIT;
  }
  // The last of the mode options counts.
  const mode = (parsed.choice(DUMP_SPEC, "mode")?.name ?? "modversions") as DumpMode;
  let failed = false;
  // --json: one document, an array of the records read, however many files (one file too: a
  // reader does not have to tell one from several), written record by record (the same text as
  // JSON.stringify of the whole array with an indent of 2): a string holding every record at once
  // could pass the largest string V8 can make.
  let written = 0;
  for (const file of files) {
    try {
      if (mode === "json") {
        // The record as an element of a one-element array, indented as such by JSON.stringify
        // itself, without its brackets: no second, re-indented copy of a large record's text.
        const text = JSON.stringify([await readModule(file)], null, 2);
        io.out(written === 0 ? text.slice(0, -2) : ",\n" + text.slice(2, -2));
        written++;
      } else if (mode === "modinfo") {
        const rec = await readModule(file);
        io.out(rec.modinfo.map((e) => `${e.key}=${e.value}\n`).join(""));
      } else {
        const listings = await readKmodListings(file);
        io.out(listings[mode].map((e) => formatKmodLine(e) + "\n").join(""));
      }
    } catch (err) {
      failed = true;
      reportError(io, DUMP_SPEC.prefix, toFileError(file, err));
    }
  }
  if (mode === "json") io.out(written === 0 ? "[]\n" : "\n]\n");
  return failed ? 1 : 0;
}
