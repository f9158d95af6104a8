/**
 * `kabi status --dkms`: the DKMS view of `kabi status`, in dkms's own line format. Its own file so
 * that status.ts only adds the options and one call.
 */
import path from "node:path";
import { FileError } from "../api/records.js";
import { DKMS_FAILING_STATES, dkmsStatus, formatDkmsLine } from "../api/weak.js";
import type { CliIO } from "./io.js";
import type { OptionSpec, ParsedOptions } from "./options.js";
import { reportError, reportErrors, reportWarnings } from "./report-error.js";

/** Exit code of `kabi status` (and --dkms) when something could not be read. */
const ERROR_EXIT = 2;

export const DKMS_STATUS_OPTIONS: readonly OptionSpec[] = [
  { name: "dkms", type: "flag", help: "one line per DKMS module version and kernel, in dkms status's format,\nwith installed-weak and why not" },
  { name: "dkms-tree", type: "value", valueName: "DIR", whenMissing: "needs a directory", whenEmpty: "needs a directory", help: "with --dkms: read the DKMS tree DIR (default <basedir>/var/lib/dkms)" },
];

/** The usage rule of the DKMS options (a CommandSpec validate step). */
export function validateDkmsOptions(parsed: ParsedOptions): string | undefined {
  if (parsed.has("dkms-tree") && !parsed.has("dkms")) return "--dkms-tree needs --dkms";
  return undefined;
}

/**
 * Prints the DKMS status of `root` and returns the exit code: 0 when every DKMS module is
 * usable on every installed kernel, 1 when one is not (as `kabi status` judges it: incompatible,
 * compatible but not linked, only a broken link), when dkms marks a build installed where its file
 * is not, or when a weak link is broken; 2 when the DKMS tree or part of the root cannot be read.
 */
export async function dkmsStatusCommand(parsed: ParsedOptions, root: string, cache: boolean | string, io: CliIO, prefix: string): Promise<number> {
  const treeOption = parsed.value("dkms-tree");
  let report;
  try {
    report = await dkmsStatus(root, { tree: treeOption === undefined ? undefined : path.resolve(io.cwd, treeOption), cache });
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    reportError(io, prefix, err);
    return ERROR_EXIT;
  }
  const failing = report.brokenLinks.length > 0 || report.unusable.length > 0 || report.lines.some((l) => DKMS_FAILING_STATES.has(l.state));
  const exit = report.errors.length > 0 ? ERROR_EXIT : failing ? 1 : 0;
  if (parsed.has("json")) {
    io.out(JSON.stringify(report, null, 2) + "\n");
    return exit;
  }
  reportErrors(io, prefix, report.errors);
  reportWarnings(io, prefix, [...report.warnings, ...report.brokenLinks.map((l) => `broken weak link ${l}`)]);
  if (report.lines.length === 0) io.out(`${prefix}: no DKMS modules in ${report.tree}\n`);
  else io.out(report.lines.map((l) => formatDkmsLine(l) + "\n").join(""));
  return exit;
}
