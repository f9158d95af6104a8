import path from "node:path";
import { FileError } from "../api/records.js";
import { checkRoot, chooseCache, statusExitCode, statusText, weakStatus } from "../api/weak.js";
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

/** `kabi status`'s exit code when the root cannot be checked (see statusExitCode). */
const STATUS_ERROR_EXIT = 2;

/**
 * `kabi status`: every external module's state on every installed kernel; exit 0 when every
 * module is usable where it should be, 1 when one is not or a link is broken, 2 on errors.
 */
export async function statusCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, STATUS_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  const root = path.resolve(io.cwd, parsed.value("basedir") ?? "/");
  try {
    await checkRoot(root);
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    reportError(io, STATUS_SPEC.prefix, err);
    return STATUS_ERROR_EXIT;
  }
  const { cache, warning } = chooseCache(!parsed.has("no-cache"));
  if (warning !== null) reportWarnings(io, STATUS_SPEC.prefix, [warning]);
  if (parsed.has("dkms")) return dkmsStatusCommand(parsed, root, cache, io, STATUS_SPEC.prefix);
  const report = await weakStatus(root, undefined, { cache });
  const exit = statusExitCode(report);
  if (parsed.has("json")) {
    io.out(JSON.stringify(report, null, 2) + "\n");
    return exit;
  }
  reportErrors(io, STATUS_SPEC.prefix, report.errors);
  reportWarnings(io, STATUS_SPEC.prefix, report.warnings);
  io.out(statusText(report));
  return exit;
}
