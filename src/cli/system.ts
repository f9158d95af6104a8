import path from "node:path";
import { DEFAULT_PREFIX } from "../system/system-layout.js";
import { installSystem, uninstallSystem, type SystemRunResult } from "../system/system-install.js";
import type { CliIO } from "./io.js";
import type { CommandSpec } from "./options.js";
import { commandLine, reportErrors, reportWarnings } from "./report-error.js";

export const INSTALL_SYSTEM_SPEC: CommandSpec = {
  prefix: "kabi install-system",
  usageName: "kabi install-system",
  options: [
    { name: "prefix", type: "value", valueName: "DIR", whenMissing: "needs a directory", whenEmpty: "needs a directory", help: `install the man pages under DIR/share/man (default ${DEFAULT_PREFIX})` },
    { name: "dry-run", type: "flag", help: "say what would be done; change nothing (needs no root)" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  unknownArgument: (arg) => `unknown argument ${JSON.stringify(arg)}`,
  helpColumn: 20,
};

export const UNINSTALL_SYSTEM_SPEC: CommandSpec = {
  prefix: "kabi uninstall-system",
  usageName: "kabi uninstall-system",
  options: [
    { name: "dry-run", type: "flag", help: "say what would be undone; change nothing (needs no root)" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  unknownArgument: (arg) => `unknown argument ${JSON.stringify(arg)}`,
  helpColumn: 20,
};

/** The changes on stdout, problems on stderr (one line each); exit 1 when anything failed. */
function report(io: CliIO, prefix: string, result: SystemRunResult, nothing: string): number {
  reportErrors(io, prefix, result.errors);
  reportWarnings(io, prefix, result.warnings);
  if (result.changes.length > 0) io.out(result.changes.map((c) => c + "\n").join(""));
  else if (result.errors.length === 0) io.out(nothing + "\n");
  return result.errors.length > 0 ? 1 : 0;
}

/** `kabi install-system`: weak-modules, the kernel hooks and the man pages put in place. */
export async function installSystemCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, INSTALL_SYSTEM_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  const prefix = path.resolve(io.cwd, parsed.value("prefix") ?? DEFAULT_PREFIX);
  const result = await installSystem({ prefix, dryRun: parsed.has("dry-run") });
  return report(io, INSTALL_SYSTEM_SPEC.prefix, result, "nothing to do: kabi's weak-modules, hooks and man pages are in place");
}

/** `kabi uninstall-system`: what install-system recorded, undone. */
export async function uninstallSystemCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, UNINSTALL_SYSTEM_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  const result = await uninstallSystem({ dryRun: parsed.has("dry-run") });
  return report(io, UNINSTALL_SYSTEM_SPEC.prefix, result, "nothing to undo: no kabi install-system manifest (/var/lib/kabi/install-manifest.json)");
}
