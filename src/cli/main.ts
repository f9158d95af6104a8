import type { CliIO } from "./io.js";

const USAGE = `usage: kabi <command> [options]
commands:
  dump [--modversions|--exports|--modinfo|--json] FILE...   read modules like modprobe --dump-modversions/--show-exports
  audit [--basedir DIR] [--symvers K=FILE]... [--kernel K]... [--strict-modversions] [--json] PATH...   modules x kernels compatibility
`;

/** Loaded when run: each command imports only what it needs (start-up time counts in every weak-modules call). */
type Command = (args: readonly string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  dump: async () => (await import("./dump.js")).dumpCommand,
  "weak-modules": async () => (await import("./weak-modules.js")).weakModulesCommand,
  status: async () => (await import("./status.js")).statusCommand,
  audit: async () => (await import("./audit.js")).auditCommand,
};

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help") {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`kabi: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  return (await load())(rest, io);
}

