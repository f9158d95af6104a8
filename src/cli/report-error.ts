/**
 * Where the commands' errors become text: each is one line after the command's prefix
 * ("kabi dump: FILE: REASON", "weak-modules: ..."), written here and nowhere else.
 */
import type { FileError } from "../api/records.js";
import { KABI_VERSION } from "../cache/kabi-version.js";
import type { CliIO } from "./io.js";
import { helpText, parseCommandLine, synopsis, UsageError, type CommandSpec, type ParsedOptions } from "./options.js";

/** Exit code of a refused command line, for every command. */
export const USAGE_EXIT = 2;

/**
 * One line of a command's diagnostics after its prefix: an error (a FileError: its file, reason
 * and offset; or a message the lower layers already worded, naming the file themselves), or a
 * note such as weak-modules' "left alone: ..." and --verbose progress.
 */
export function prefixedLine(prefix: string, text: FileError | string): string {
  return `${prefix}: ${typeof text === "string" ? text : text.message}\n`;
}

/** The line of a warning: "PREFIX: warning: TEXT". */
export function warningLine(prefix: string, warning: string): string {
  return `${prefix}: warning: ${warning}\n`;
}

export function reportError(io: CliIO, prefix: string, error: FileError | string): void {
  io.err(prefixedLine(prefix, error));
}

/** Several error lines in one write (a run can report thousands, and each write to a pipe is a system call). */
export function reportErrors(io: CliIO, prefix: string, errors: readonly (FileError | string)[]): void {
  if (errors.length > 0) io.err(errors.map((e) => prefixedLine(prefix, e)).join(""));
}

export function reportWarnings(io: CliIO, prefix: string, warnings: readonly string[]): void {
  if (warnings.length > 0) io.err(warnings.map((w) => warningLine(prefix, w)).join(""));
}

/** A refused command line: the reason, then the synopsis; returns the exit code. */
export function reportUsageError(io: CliIO, spec: CommandSpec, error: UsageError): number {
  io.err(`${spec.prefix}: ${error.message}\n${synopsis(spec)}\n`);
  return USAGE_EXIT;
}

/** What escaped every command (a bug, or the process being unable to go on): the stack, for a report. */
export function crashText(prefix: string, err: unknown): string {
  return `${prefix}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`;
}

/** What --version prints: the program, and kabi's version when the program has another name. */
export function versionLine(program: string): string {
  return program === "kabi" ? `kabi ${KABI_VERSION}\n` : `${program} (kabi) ${KABI_VERSION}\n`;
}

/**
 * A command's arguments parsed, or the exit code when there is nothing more to do: 0 after
 * printing --help or --version, USAGE_EXIT after reporting a refused command line.
 */
export function commandLine(io: CliIO, spec: CommandSpec, args: readonly string[]): ParsedOptions | { exit: number } {
  let parsed: ParsedOptions | "help";
  try {
    parsed = parseCommandLine(spec, args);
  } catch (err) {
    if (err instanceof UsageError) return { exit: reportUsageError(io, spec, err) };
    throw err;
  }
  if (parsed === "help") {
    io.out(helpText(spec));
    return { exit: 0 };
  }
  if (parsed.has("version")) {
    io.out(versionLine(spec.usageName));
    return { exit: 0 };
  }
  return parsed;
}
