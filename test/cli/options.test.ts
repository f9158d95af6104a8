/**
 * The one option parser (src/cli/options.ts) and what it changed for the commands: command lines
 * the old hand-rolled parsers refused and getopt_long accepts (options in any order, --opt=value,
 * "--", unique prefixes for weak-modules), each accepted with the same result as the spelling that
 * worked before; bad options still refused in one line naming the option, exit 2.
 */
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { helpText, parseCommandLine, synopsis, UsageError, type CommandSpec } from "../../src/cli/options.js";
import { WEAK_MODULES_SPEC } from "../../src/cli/weak-modules.js";
import { captureIO } from "../helpers/capture-io.js";
import { PROVIDER_61 } from "../helpers/paths.js";
import { addKernel, installFixture, K53, K54, makeRoot, removeRoot, runWeak } from "../weak/weak-root.js";

const SPEC: CommandSpec = {
  prefix: "t",
  usageName: "t",
  options: [
    { name: "json", type: "flag", help: "json" },
    { name: "basedir", type: "value", valueName: "DIR", whenEmpty: "needs a directory", help: "root" },
    { name: "symvers", type: "value", valueName: "K=FILE", repeatable: true, help: "symvers", check: (v) => (v.includes("=") ? undefined : `--symvers ${v}: no "="`) },
    { name: "verbose", short: "v", type: "flag", help: "verbose" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  operands: "PATH...",
  unknownArgument: (arg) => `unknown option ${arg}`,
  helpColumn: 20,
};

function refusal(spec: CommandSpec, args: string[]): string {
  try {
    parseCommandLine(spec, args);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`accepted: ${args.join(" ")}`);
}

describe("parseCommandLine", () => {
  it("takes options in any order, --opt=value and --opt value, repeatable values in order", () => {
    const p = parseCommandLine(SPEC, ["a", "--symvers=K1=F", "--basedir", "/r", "b", "--symvers", "K2=G", "-v", "--json"]);
    expect(p).not.toBe("help");
    if (p === "help") return;
    expect(p.operands).toEqual(["a", "b"]);
    expect(p.values("symvers")).toEqual(["K1=F", "K2=G"]);
    expect(p.value("basedir")).toBe("/r");
    expect(p.has("json") && p.has("verbose")).toBe(true);
  });

  it('"--" ends the options: every later argument is an operand, even "-x" and "--json"', () => {
    const p = parseCommandLine(SPEC, ["--json", "--", "-x", "--json", "-"]);
    expect(p !== "help" && p.operands).toEqual(["-x", "--json", "-"]);
  });

  it("a value is the next argument even when it starts with a dash (getopt)", () => {
    const p = parseCommandLine(SPEC, ["--basedir", "--json"]);
    expect(p !== "help" && p.value("basedir")).toBe("--json");
    expect(p !== "help" && p.has("json")).toBe(false);
  });

  it("groups short flags; -h anywhere before a bad argument is help", () => {
    expect(parseCommandLine(SPEC, ["-vh", "--bogus"])).toBe("help");
    expect(refusal(SPEC, ["--bogus", "-h"])).toBe("unknown option --bogus");
  });

  it("refuses in argument order, naming the argument as given", () => {
    expect(refusal(SPEC, ["--bogus=1", "--nope"])).toBe("unknown option --bogus=1");
    expect(refusal(SPEC, ["-vx"])).toBe("unknown option -vx");
    expect(refusal(SPEC, ["--json=yes"])).toBe("unknown option --json=yes");
    expect(refusal(SPEC, ["--help=1"])).toBe("unknown option --help=1");
    expect(refusal(SPEC, ["--basedir"])).toBe("--basedir needs a value");
    expect(refusal(SPEC, ["--basedir="])).toBe("--basedir needs a directory");
    expect(refusal(SPEC, ["--symvers", "K"])).toBe('--symvers K: no "="');
    expect(refusal(SPEC, ["--symver", "K=F"])).toBe("unknown option --symver"); // no abbreviations unless the command allows them
  });

  it("generates the synopsis and the --help text from the table", () => {
    expect(synopsis(SPEC)).toBe("usage: t [--json] [--basedir DIR] [--symvers K=FILE]... [--verbose] PATH...");
    expect(helpText(SPEC).split("\n")).toEqual([
      synopsis(SPEC),
      "  --json            json",
      "  --basedir DIR     root",
      "  --symvers K=FILE  symvers",
      "  -v, --verbose     verbose",
      "  -h, --help        this help",
      "",
    ]);
  });
});

describe("weak-modules options (getopt_long's rules, as Red Hat's script)", () => {
  const parse = (args: string[]) => {
    const p = parseCommandLine(WEAK_MODULES_SPEC, args);
    if (p === "help") throw new Error("help");
    return p;
  };

  it("accepts unique prefixes of long options; an exact name wins over longer ones", () => {
    const p = parse(["--add-k", "--dry", "--base", "/r", "--check-init=/p", "K"]);
    expect(p.given.map((g) => g.name)).toEqual(["add-kernel", "dry-run", "basedir", "check-initramfs-prog"]);
    expect(p.value("basedir")).toBe("/r");
    expect(p.value("check-initramfs-prog")).toBe("/p");
    expect(p.operands).toEqual(["K"]);
  });

  it("refuses an ambiguous prefix naming the candidates, as getopt does", () => {
    expect(refusal(WEAK_MODULES_SPEC, ["--add", "K"])).toBe("option '--add' is ambiguous; possibilities: '--add-modules' '--add-kernel'");
    expect(refusal(WEAK_MODULES_SPEC, ["--add-kernel", "--d"])).toBe("option '--d' is ambiguous; possibilities: '--dry-run' '--dracut' '--depmod' '--delete-modules'");
  });

  it("keeps an abbreviation's value: --base --add is the directory \"--add\"", () => {
    expect(parse(["--add-modules", "--base", "--add"]).value("basedir")).toBe("--add");
  });

  it("takes the release as an operand anywhere, or attached with =", () => {
    expect(parse(["--add-kernel", "--dry-run", "K"]).operands).toEqual(["K"]);
    expect(parse(["K", "--remove-kernel"]).operands).toEqual(["K"]);
    expect(parse(["--add-kernel=K"]).choice(WEAK_MODULES_SPEC, "action")).toEqual({ name: "add-kernel", value: "K" });
    expect(refusal(WEAK_MODULES_SPEC, ["--add-kernel=K", "L"])).toBe('unknown argument "L"');
    expect(refusal(WEAK_MODULES_SPEC, ["--add-modules", "K"])).toBe('unknown argument "K"');
    expect(refusal(WEAK_MODULES_SPEC, ["--dry-run=1", "--add-kernel"])).toBe('unknown argument "--dry-run=1"');
    expect(refusal(WEAK_MODULES_SPEC, ["--add-kernel", "-"])).toBe('unknown argument "-"');
    expect(refusal(WEAK_MODULES_SPEC, ["--add-kernel", "--", "-5"])).toBe('unknown argument "-5"');
  });

  it("keeps the old messages for the old refusals", () => {
    expect(refusal(WEAK_MODULES_SPEC, ["--frobnicate"])).toBe('unknown argument "--frobnicate"');
    expect(refusal(WEAK_MODULES_SPEC, ["--add-modules", "--remove-modules"])).toBe("--add-modules and --remove-modules cannot be combined");
    expect(refusal(WEAK_MODULES_SPEC, [])).toBe("one of --add-modules, --remove-modules, --add-kernel, --remove-kernel is required");
    expect(refusal(WEAK_MODULES_SPEC, ["--add-kernel", "--depmod"])).toBe("--depmod needs a value");
  });
});

describe("the commands with the command lines they used to refuse", () => {
  const roots: string[] = [];
  afterEach(async () => {
    while (roots.length > 0) await removeRoot(roots.pop()!);
  });

  async function root(): Promise<string> {
    const r = await makeRoot();
    roots.push(r);
    await addKernel(r, K53, "debian");
    await addKernel(r, K54, "debian");
    await installFixture(r, K54, "kabi_provider.ko", K54, "kabi/kabi_provider.ko");
    await installFixture(r, K54, "kabi_consumer.ko", K54, "kabi/kabi_consumer.ko");
    await installFixture(r, K53, "kabi_provider.ko", K53);
    return r;
  }

  it("weak-modules --add-kernel --dry-run K: K is the release (it was refused)", async () => {
    const r = await root();
    const before = await runWeak(["--basedir", r, "--dry-run", "--json", "--add-kernel", K53]);
    expect(before.code).toBe(0);
    expect((JSON.parse(before.out) as { actions: { op: string; link: string }[] }).actions.map((a) => `${a.op} ${a.link}`)).toEqual([
      `create /lib/modules/${K53}/weak-updates/kabi/kabi_consumer.ko`,
    ]);
    expect(await runWeak(["--basedir", r, "--add-kernel", "--dry-run", "--json", K53])).toEqual(before);
  });

  it("weak-modules with abbreviated options, --basedir=DIR and --: the same run", async () => {
    const r = await root();
    const before = await runWeak(["--basedir", r, "--dry-run", "--json", "--add-kernel", K53]);
    expect(await runWeak([`--basedir=${r}`, "--dry-r", "--js", "--add-k", "--", K53])).toEqual(before);
  });

  it("weak-modules: an ambiguous prefix is one line and the synopsis, exit 2", async () => {
    const r = await runWeak(["--add", K53]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(`weak-modules: option '--add' is ambiguous; possibilities: '--add-modules' '--add-kernel'\n${synopsis(WEAK_MODULES_SPEC)}\n`);
  });

  it('kabi dump -- FILE, and a file named like an option after "--" (it was refused)', async () => {
    const io = captureIO();
    expect(await main(["dump", "--exports", "--", PROVIDER_61], io)).toBe(0);
    expect(io.stdout.split("\n").filter(Boolean)).toHaveLength(3);
    const odd = captureIO();
    expect(await main(["dump", "--", "--json"], odd)).toBe(1);
    expect(odd.stderr).toBe("kabi dump: --json: no such file\n");
  });

  it("kabi audit --symvers=K=FILE and -- PATH (they were refused or misread)", async () => {
    const symvers = `${K53}=fixtures/symvers/${K53}.symvers.gz`;
    const a = captureIO();
    const b = captureIO();
    expect(await main(["audit", "--json", "--symvers", symvers, PROVIDER_61], a)).toBe(0);
    expect(await main(["audit", "--json", `--symvers=${symvers}`, "--", PROVIDER_61], b)).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });

  it("kabi status --basedir=DIR -- (it was refused)", async () => {
    const r = await root();
    const a = captureIO();
    const b = captureIO();
    // 1: the 6.1.0-54 consumer fits 6.1.0-53 but is not linked there yet (the same either way).
    expect(await main(["status", "--basedir", r, "--json", "--no-cache"], a)).toBe(1);
    expect(await main(["status", `--basedir=${r}`, "--json", "--no-cache", "--"], b)).toBe(1);
    expect(b.stdout).toBe(a.stdout);
  });

  it("bad options: one line naming the option, then the synopsis, exit 2", async () => {
    for (const [args, line] of [
      [["dump", "--bogus", PROVIDER_61], "kabi dump: unknown option --bogus"],
      [["audit", "--basedir"], "kabi audit: --basedir needs a value"],
      [["audit", "--json=1", "x"], "kabi audit: unknown option --json=1"],
      [["status", "--bogus"], 'kabi status: unknown argument "--bogus"'],
      [["weak-modules", "--frobnicate"], 'weak-modules: unknown argument "--frobnicate"'],
    ] as const) {
      const io = captureIO();
      expect(await main([...args], io), args.join(" ")).toBe(2);
      expect(io.stdout).toBe("");
      const lines = io.stderr.split("\n");
      expect(lines[0]).toBe(line);
      expect(lines[1]).toMatch(/^usage: /);
      expect(lines.slice(2)).toEqual([""]);
    }
  });
});
