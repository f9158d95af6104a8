import path from "node:path";
import { compareCodeUnits, FileError } from "../api/records.js";
import { checkRoot, chooseCache, weakStatus, type StatusEntry } from "../api/weak.js";
import type { CliIO } from "./io.js";
import type { CommandSpec } from "./options.js";
import { dkmsStatusCommand, DKMS_STATUS_OPTIONS, validateDkmsOptions } from "./status-dkms.js";
import { commandLine, reportError, reportErrors, reportWarnings } from "./report-error.js";

export const STATUS_SPEC: CommandSpec = {
  prefix: "kabi status",
  usageName: "kabi status",
  options: [
    { name: "basedir", type: "value", valueName: "DIR", whenMissing: "needs a directory", whenEmpty: "needs a directory", help: "work on the root DIR instead of /" },
    { name: "json", type: "flag", help: "print the report as JSON" },
    ...DKMS_STATUS_OPTIONS,
    { name: "no-cache", type: "flag", help: "do not use the persistent record and symvers caches" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  unknownArgument: (arg) => `unknown argument ${JSON.stringify(arg)}`,
  helpColumn: 19,
  validate: validateDkmsOptions,
};

/** `kabi status`: every external module's state on every installed kernel. */
export async function statusCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, STATUS_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  const root = path.resolve(io.cwd, parsed.value("basedir") ?? "/");
  try {
    await checkRoot(root);
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    reportError(io, STATUS_SPEC.prefix, err);
    return 1;
  }
  const { cache, warning } = chooseCache(!parsed.has("no-cache"));
  if (warning !== null) reportWarnings(io, STATUS_SPEC.prefix, [warning]);
  if (parsed.has("dkms")) return dkmsStatusCommand(parsed, root, cache, io, STATUS_SPEC.prefix);
  const report = await weakStatus(root, undefined, { cache });
  // A root with no kernel at all is a wrong --basedir far more often than an empty system: said, exit 1.
  if (report.kernels.length === 0) report.errors.push(`${root}: no kernels (no directory under lib/modules or usr/lib/modules)`);
  const exit = report.errors.length > 0 ? 1 : 0;
  if (parsed.has("json")) {
    io.out(JSON.stringify(report, null, 2) + "\n");
    return exit;
  }
  reportErrors(io, STATUS_SPEC.prefix, report.errors);
  reportWarnings(io, STATUS_SPEC.prefix, report.warnings);
  const byModule = new Map<string, StatusEntry[]>();
  for (const e of report.entries) {
    const key = `${e.module}\t${e.path}`;
    let l = byModule.get(key);
    if (l === undefined) byModule.set(key, (l = []));
    l.push(e);
  }
  for (const [key, list] of [...byModule].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
    const [name, file] = key.split("\t");
    io.out(`${name} (${file}${list[0]!.builtFor !== "" ? `, built for ${list[0]!.builtFor}` : ""})\n`);
    for (const e of list) io.out(`  ${e.kernel}: ${e.text}\n`);
  }
  return exit;
}
