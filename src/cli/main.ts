import type { CliIO } from "./io.js";
import { synopsis, type CommandSpec } from "./options.js";
import { USAGE_EXIT, versionLine } from "./report-error.js";

/** A command's entry point and its option table (for the top-level usage). */
interface CommandModule {
  run: (args: readonly string[], io: CliIO) => Promise<number>;
  spec: CommandSpec;
}

/** Loaded when run: each command imports only what it needs (start-up time counts in every weak-modules call). */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  dump: {
    summary: "read modules like modprobe --dump-modversions/--show-exports",
    load: async () => {
      const m = await import("./dump.js");
      return { run: m.dumpCommand, spec: m.DUMP_SPEC };
    },
  },
  audit: {
    summary: "modules x kernels compatibility",
    load: async () => {
      const m = await import("./audit.js");
      return { run: m.auditCommand, spec: m.AUDIT_SPEC };
    },
  },
  status: {
    summary: "every external module's state on every installed kernel",
    load: async () => {
      const m = await import("./status.js");
      return { run: m.statusCommand, spec: m.STATUS_SPEC };
    },
  },
  "weak-modules": {
    summary: "Red Hat's weak-modules (also installed as its own executable)",
    load: async () => {
      const m = await import("./weak-modules.js");
      return { run: m.weakModulesCommand, spec: m.WEAK_MODULES_SPEC };
    },
  },
  "install-system": {
    summary: "put weak-modules, the kernel hooks and the man pages in place (root)",
    load: async () => {
      const m = await import("./system.js");
      return { run: m.installSystemCommand, spec: m.INSTALL_SYSTEM_SPEC };
    },
  },
  "uninstall-system": {
    summary: "undo what install-system did (root)",
    load: async () => {
      const m = await import("./system.js");
      return { run: m.uninstallSystemCommand, spec: m.UNINSTALL_SYSTEM_SPEC };
    },
  },
};

/** Every command's name and option table, in the order of the usage (the man page test goes over them). */
export async function commandSpecs(): Promise<Array<[string, CommandSpec]>> {
  const out: Array<[string, CommandSpec]> = [];
  for (const [name, command] of Object.entries(COMMANDS)) out.push([name, (await command.load()).spec]);
  return out;
}

/** The top-level usage: each command's synopsis (from its option table) and what it is for. */
async function usage(): Promise<string> {
  const lines = ["usage: kabi <command> [options]", "commands:"];
  for (const [name, command] of Object.entries(COMMANDS)) {
    const { spec } = await command.load();
    lines.push(`  ${name}${synopsis(spec).slice(`usage: ${spec.usageName}`.length)}   ${command.summary}`);
  }
  lines.push("options:", "  -h, --help     this help (each command has its own: kabi COMMAND --help)", "  --version      print kabi's version");
  return lines.join("\n") + "\n";
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help") {
    io.out(await usage());
    return name === undefined ? USAGE_EXIT : 0;
  }
  if (name === "--version") {
    io.out(versionLine("kabi"));
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.err(`kabi: unknown command '${name}'\n${await usage()}`);
    return USAGE_EXIT;
  }
  return (await command.load()).run(rest, io);
}
