/**
 * The one option parser of every command (kabi dump, audit, status and weak-modules).
 *
 * A command declares its options once, in a CommandSpec; parsing, the error messages and the
 * usage and --help texts all come from that table. Splitting the arguments is node:util's
 * parseArgs (its tokens); what parseArgs leaves to the caller is done here: unknown options and
 * misplaced values are refused in argument order (the first bad argument is the one named),
 * getopt_long's unique-prefix abbreviations where a command allows them, a flag's optional
 * value attached with "=" (getopt's "::" argument), and groups of alternatives.
 *
 * The rules are getopt_long's (what Red Hat's weak-modules script parses with): options and
 * operands in any order, `--opt=value` and `--opt value` (a value is the next argument even when
 * it starts with "-"), short flags grouped (`-vh`), and `--` ending the options: every later
 * argument is an operand, even "-x". A lone "-" is an operand.
 */
import { parseArgs } from "node:util";

export interface OptionSpec {
  /** The long name, without the leading "--". */
  readonly name: string;
  /** A one-letter alias ("-h"). */
  readonly short?: string;
  /** "flag": takes no value. "value": takes one, as `--name VALUE` or `--name=VALUE`. */
  readonly type: "flag" | "value";
  /** What the value is, in the usage: "DIR", "K=FILE". */
  readonly valueName?: string;
  /** Each occurrence is kept (`values`); otherwise the last one counts. */
  readonly repeatable?: boolean;
  /**
   * A flag that may carry a value attached with "=" only (`--add-kernel=K`), getopt's optional
   * argument; shown in the usage as `[valueName]`.
   */
  readonly optionalValue?: boolean;
  /** The alternatives this option is one of (CommandSpec.groups). */
  readonly group?: string;
  /** What the option does, for --help; "\n" starts another line. */
  readonly help: string;
  /** Left out of the synopsis line (still listed by --help). */
  readonly hideInSynopsis?: boolean;
  /** The reason given when the value is missing: "--name <reason>". Default "needs a value". */
  readonly whenMissing?: string;
  /** The reason given when the value is empty; absent: an empty value is accepted. */
  readonly whenEmpty?: string;
  /** Checks a value while parsing: the message to refuse it with, or undefined. */
  readonly check?: (value: string) => string | undefined;
}

/** Options of which one is chosen: the synopsis shows `[--a|--b]`, or `{--a|--b}` when one is required. */
export interface GroupSpec {
  readonly name: string;
  /** Giving none is an error ("one of --a, --b is required"). */
  readonly required?: boolean;
  /** Giving two different ones is an error ("--a and --b cannot be combined"); otherwise the last one counts. */
  readonly exclusive?: boolean;
}

export interface CommandSpec {
  /** Starts every message: "kabi dump", "weak-modules". */
  readonly prefix: string;
  /** The command as typed, for the usage line. */
  readonly usageName: string;
  readonly options: readonly OptionSpec[];
  readonly groups?: readonly GroupSpec[];
  /** The operands in the synopsis ("FILE..."); absent: the command takes none. */
  readonly operands?: string;
  /** At most this many operands (default: any number when `operands` is given, else none). */
  readonly maxOperands?: number;
  /** The synopsis shows the options outside groups as one "[options]". */
  readonly compactSynopsis?: boolean;
  /** A long option may be abbreviated to a unique prefix (getopt_long's rule). */
  readonly abbreviations?: boolean;
  /** How an argument that is not an option of this command is refused (its text is quoted as given). */
  readonly unknownArgument: (arg: string) => string;
  /** The column where --help's option descriptions start. */
  readonly helpColumn: number;
  /** Checks the options and operands together, after the group rules: the message to refuse them with. */
  readonly validate?: (parsed: ParsedOptions) => string | undefined;
}

/** A refused command line: the one-line reason (printed after the command's prefix), exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One option as given, in argument order. */
export interface GivenOption {
  readonly name: string;
  /** The value (a flag's only with `optionalValue` and an attached "="). */
  readonly value: string | undefined;
}

/** The parsed command line. */
export class ParsedOptions {
  constructor(
    /** Every option given, in argument order. */
    readonly given: readonly GivenOption[],
    readonly operands: readonly string[],
  ) {}

  /** Whether the option was given at least once. */
  has(name: string): boolean {
    return this.given.some((g) => g.name === name);
  }

  /** The option's last value (undefined when it was not given, or given without a value). */
  value(name: string): string | undefined {
    for (let i = this.given.length - 1; i >= 0; i--) if (this.given[i]!.name === name) return this.given[i]!.value;
    return undefined;
  }

  /** Every value the option was given, in order. */
  values(name: string): string[] {
    return this.given.filter((g) => g.name === name && g.value !== undefined).map((g) => g.value!);
  }

  /** The last option given of a group. */
  choice(spec: CommandSpec, group: string): GivenOption | undefined {
    const members = new Set(spec.options.filter((o) => o.group === group).map((o) => o.name));
    for (let i = this.given.length - 1; i >= 0; i--) if (members.has(this.given[i]!.name)) return this.given[i];
    return undefined;
  }
}

/**
 * Parses a command's arguments. Returns "help" when -h/--help comes before any bad argument, and
 * for --version (in a command whose table has it) a result holding --version alone, the other
 * rules unchecked (a required action need not be given); throws UsageError naming the first bad
 * argument otherwise.
 */
export function parseCommandLine(spec: CommandSpec, args: readonly string[]): ParsedOptions | "help" {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const { normalized, ambiguous } = spec.abbreviations ? expandAbbreviations(spec, args) : { normalized: [...args], ambiguous: new Map<number, string>() };
  const { tokens } = parseArgs({
    args: normalized,
    options: Object.fromEntries(
      spec.options.map((o) => [o.name, { type: o.type === "value" ? ("string" as const) : ("boolean" as const), ...(o.short !== undefined ? { short: o.short } : {}) }]),
    ),
    // Unknown options come back as tokens, to be refused here in argument order and in each
    // command's words; parseArgs' strict mode would also refuse a value starting with "-",
    // which getopt takes.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const maxOperands = spec.maxOperands ?? (spec.operands !== undefined ? Infinity : 0);
  const given: GivenOption[] = [];
  const operands: string[] = [];
  const chosen = new Map<string, string>();
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") {
      if (operands.length >= maxOperands) throw new UsageError(spec.unknownArgument(t.value));
      operands.push(t.value);
      continue;
    }
    const raw = args[t.index]!;
    const option = byName.get(t.name);
    if (option === undefined) throw new UsageError(ambiguous.get(t.index) ?? spec.unknownArgument(raw));
    let value: string | undefined;
    if (option.type === "flag") {
      if (t.value !== undefined && !option.optionalValue) throw new UsageError(spec.unknownArgument(raw));
      if (option.name === "help") return "help";
      if (option.name === "version") return new ParsedOptions([{ name: "version", value: undefined }], []);
      value = t.value;
    } else {
      value = t.value;
      if (value === undefined) throw new UsageError(`--${option.name} ${option.whenMissing ?? "needs a value"}`);
      if (value === "" && option.whenEmpty !== undefined) throw new UsageError(`--${option.name} ${option.whenEmpty}`);
      const problem = option.check?.(value);
      if (problem !== undefined) throw new UsageError(problem);
    }
    if (option.group !== undefined) {
      const group = spec.groups?.find((g) => g.name === option.group);
      const before = chosen.get(option.group);
      if (group?.exclusive && before !== undefined && before !== option.name) throw new UsageError(`--${before} and --${option.name} cannot be combined`);
      chosen.set(option.group, option.name);
    }
    given.push({ name: option.name, value });
  }
  const parsed = new ParsedOptions(given, operands);
  const problem = spec.validate?.(parsed);
  if (problem !== undefined) throw new UsageError(problem);
  for (const group of spec.groups ?? []) {
    if (group.required && !chosen.has(group.name)) {
      const names = spec.options.filter((o) => o.group === group.name).map((o) => `--${o.name}`);
      throw new UsageError(`one of ${names.join(", ")} is required`);
    }
  }
  return parsed;
}

/**
 * Long options written as a unique prefix of one option's name are rewritten to that name; an
 * exact name always wins. An ambiguous prefix is left as it is (parseArgs sees an unknown option)
 * with getopt's message kept for its argument index. Values are skipped: `--basedir --add`
 * keeps "--add" as the directory.
 */
function expandAbbreviations(spec: CommandSpec, args: readonly string[]): { normalized: string[]; ambiguous: Map<number, string> } {
  const normalized = [...args];
  const ambiguous = new Map<number, string>();
  const byShort = new Map(spec.options.filter((o) => o.short !== undefined).map((o) => [o.short!, o]));
  for (let i = 0; i < normalized.length; i++) {
    const arg = normalized[i]!;
    if (arg === "--") break;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      let option = spec.options.find((o) => o.name === name);
      if (option === undefined && name !== "") {
        const candidates = spec.options.filter((o) => o.name.startsWith(name));
        if (candidates.length === 1) {
          option = candidates[0]!;
          normalized[i] = `--${option.name}${eq < 0 ? "" : arg.slice(eq)}`;
        } else if (candidates.length > 1) {
          ambiguous.set(i, `option '--${name}' is ambiguous; possibilities: ${candidates.map((c) => `'--${c.name}'`).join(" ")}`);
        }
      }
      if (option?.type === "value" && eq < 0) i++;
    } else if (arg.startsWith("-") && arg.length > 1) {
      // A group of short options: a value option takes the rest of the group, or the next argument.
      for (let c = 1; c < arg.length; c++) {
        if (byShort.get(arg[c]!)?.type !== "value") continue;
        if (c === arg.length - 1) i++;
        break;
      }
    }
  }
  return { normalized, ambiguous };
}

/** How an option is written in the usage: "--basedir DIR", "--add-kernel [K]". */
function optionLabel(o: OptionSpec): string {
  if (o.type === "value") return `--${o.name} ${o.valueName ?? "VALUE"}`;
  return o.optionalValue ? `--${o.name} [${o.valueName ?? "VALUE"}]` : `--${o.name}`;
}

/** The one-line synopsis: "usage: kabi audit [--basedir DIR] [--symvers K=FILE]... PATH...". */
export function synopsis(spec: CommandSpec): string {
  const parts: string[] = [];
  const groupsDone = new Set<string>();
  if (spec.compactSynopsis && spec.options.some((o) => o.group === undefined && !o.hideInSynopsis)) parts.push("[options]");
  for (const o of spec.options) {
    if (o.hideInSynopsis) continue;
    if (o.group !== undefined) {
      if (groupsDone.has(o.group)) continue;
      groupsDone.add(o.group);
      const members = spec.options.filter((m) => m.group === o.group).map(optionLabel).join("|");
      const required = spec.groups?.find((g) => g.name === o.group)?.required;
      parts.push(required ? `{${members}}` : `[${members}]`);
    } else if (!spec.compactSynopsis) {
      parts.push(`[${optionLabel(o)}]${o.repeatable ? "..." : ""}`);
    }
  }
  if (spec.operands !== undefined) parts.push(spec.operands);
  return `usage: ${spec.usageName} ${parts.join(" ")}`;
}

/** The --help text: the synopsis, then each option and what it does. */
export function helpText(spec: CommandSpec): string {
  const lines = [synopsis(spec)];
  for (const o of spec.options) {
    const label = `  ${o.short !== undefined ? `-${o.short}, ` : ""}${optionLabel(o)}`;
    const [first, ...rest] = o.help.split("\n");
    lines.push(`${label}${" ".repeat(Math.max(2, spec.helpColumn - label.length))}${first}`);
    for (const more of rest) lines.push(`${" ".repeat(spec.helpColumn)}${more}`);
  }
  return lines.join("\n") + "\n";
}
