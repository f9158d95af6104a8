#!/usr/bin/env node
import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FileError, isUsableKernelRelease } from "../api/records.js";
import { checkInputPaths, checkRoot, chooseCache, runWeakModules, shortReason, type WeakMode, type WeakRunOptions, type WeakRunResult } from "../api/weak.js";
import { processIO, type CliIO } from "./io.js";
import { UsageError, type CommandSpec, type ParsedOptions } from "./options.js";
import { commandLine, crashText, prefixedLine, reportError, reportErrors, reportUsageError, reportWarnings, USAGE_EXIT } from "./report-error.js";

const PREFIX = "weak-modules";

type Action = "add-modules" | "remove-modules" | "add-kernel" | "remove-kernel";

/**
 * Red Hat's weak-modules parses with getopt_long: options in any order, unique prefixes of long
 * options, the kernel release of --add-kernel/--remove-kernel an operand (or attached: --add-kernel=K).
 */
export const WEAK_MODULES_SPEC: CommandSpec = {
  prefix: PREFIX,
  usageName: "weak-modules",
  options: [
    { name: "add-modules", type: "flag", group: "action", help: "link the modules named on standard input into every compatible kernel" },
    { name: "remove-modules", type: "flag", group: "action", help: "remove the links to the modules named on standard input (files may be gone)" },
    { name: "add-kernel", type: "flag", optionalValue: true, valueName: "K", group: "action", help: "compute kernel K's whole weak-updates set (default: the running kernel)" },
    { name: "remove-kernel", type: "flag", optionalValue: true, valueName: "K", group: "action", help: "remove kernel K's weak-updates links (default: the running kernel)" },
    { name: "dry-run", type: "flag", help: "show what would change; write nothing" },
    { name: "no-initramfs", type: "flag", help: "do not regenerate initramfs images" },
    { name: "verbose", short: "v", type: "flag", help: "list the changes made, and say why modules are not linked" },
    { name: "basedir", type: "value", valueName: "DIR", help: "work on the root DIR instead of /" },
    { name: "dracut", type: "value", valueName: "PATH", help: "the dracut to run (default: dracut on PATH)" },
    { name: "check-initramfs-prog", type: "value", valueName: "PATH", help: 'run "PATH -- K" for each changed kernel instead of dracut or update-initramfs' },
    { name: "depmod", type: "value", valueName: "PATH", help: "the depmod to run (default: depmod on PATH; skipped when absent)" },
    {
      name: "no-cache",
      type: "flag",
      help: "do not use the persistent record cache (default: $KABI_CACHE_DIR, else\n$XDG_CACHE_HOME/kabi, else /var/cache/kabi as root, else ~/.cache/kabi;\n--dry-run never writes it)",
    },
    { name: "delete-modules", type: "flag", help: "accepted for compatibility; no effect" },
    { name: "json", type: "flag", help: "print a machine-readable account of the changes" },
    { name: "help", short: "h", type: "flag", help: "this help" },
    { name: "version", type: "flag", help: "print kabi's version" },
  ],
  groups: [{ name: "action", required: true, exclusive: true }],
  // The operand is --add-kernel's or --remove-kernel's release (see validate).
  maxOperands: Infinity,
  compactSynopsis: true,
  abbreviations: true,
  unknownArgument: (arg) => `unknown argument ${JSON.stringify(arg)}`,
  helpColumn: 27,
  // The one operand is --add-kernel's or --remove-kernel's release, unless it was attached. A
  // release never starts with "-": such an operand ("-", or "-x" after "--") is refused as before.
  validate: (parsed) => {
    const action = parsed.choice(WEAK_MODULES_SPEC, "action");
    const takesRelease = (action?.name === "add-kernel" || action?.name === "remove-kernel") && action.value === undefined;
    const release = takesRelease ? parsed.operands[0] : undefined;
    if (release?.startsWith("-")) return WEAK_MODULES_SPEC.unknownArgument(release);
    const extra = parsed.operands[takesRelease ? 1 : 0];
    return extra === undefined ? undefined : WEAK_MODULES_SPEC.unknownArgument(extra);
  },
};

interface Parsed {
  action: Action;
  release: string | null;
  dryRun: boolean;
  noInitramfs: boolean;
  verbose: boolean;
  json: boolean;
  basedir: string;
  dracut: string | null;
  checkInitramfsProg: string | null;
  depmod: string | null;
  noCache: boolean;
}

function settings(p: ParsedOptions): Parsed {
  const action = p.choice(WEAK_MODULES_SPEC, "action")!;
  return {
    action: action.name as Action,
    release: action.value ?? p.operands[0] ?? null,
    dryRun: p.has("dry-run"),
    noInitramfs: p.has("no-initramfs"),
    verbose: p.has("verbose"),
    json: p.has("json"),
    basedir: p.value("basedir") ?? "/",
    dracut: p.value("dracut") ?? null,
    checkInitramfsProg: p.value("check-initramfs-prog") ?? null,
    depmod: p.value("depmod") ?? null,
    noCache: p.has("no-cache"),
  };
}

/**
 * The text account of a run, as Red Hat's weak-modules gives it: quiet by default; the changes on
 * standard output with --verbose or --dry-run (each once: those made, or those a dry run would
 * make); with --verbose, why each module is not linked where it is not, on standard error. What
 * needs a person's attention is said without --verbose too, on standard error: entries in
 * weak-updates/ kabi does not manage, and a link they block. Long reasons are shortened
 * (shortReason); --json has them whole.
 */
function report(result: WeakRunResult, parsed: Parsed, io: CliIO): void {
  const { plan } = result;
  if (parsed.json) {
    io.out(
      JSON.stringify(
        {
          dryRun: parsed.dryRun,
          kernels: plan.kernels,
          actions: parsed.dryRun ? plan.actions.map((a) => ({ ...a, done: false })) : result.applied.map((r) => ({ ...r.action, done: r.ok, error: r.error })),
          kept: plan.kept,
          skipped: plan.skipped,
          foreign: plan.foreign,
          noSymvers: plan.noSymvers,
          post: result.post,
          errors: result.errors,
          warnings: result.warnings,
        },
        null,
        2,
      ) + "\n",
    );
    return;
  }
  // One write per stream: a run can report a line for each of thousands of (module, kernel)
  // pairs, and each write to a pipe is a system call.
  const out: string[] = [];
  const err: string[] = [];
  if (parsed.dryRun || parsed.verbose) {
    const changes = parsed.dryRun ? plan.actions : result.applied.filter((r) => r.ok).map((r) => r.action);
    const verb = parsed.dryRun ? "would " : "";
    for (const a of changes) {
      const arrow = a.target !== null ? ` -> ${a.target}` : "";
      out.push(`${verb}${a.op} ${a.link}${arrow} (${shortReason(a.reason)})\n`);
    }
  }
  for (const s of plan.skipped) {
    if (s.reason === "foreign-entry" || parsed.verbose) {
      err.push(prefixedLine(PREFIX, `${s.path} not linked into ${s.kernel}: ${shortReason(s.reason === "incompatible" ? `incompatible: ${s.detail}` : s.detail)}`));
    }
  }
  for (const f of plan.foreign) {
    err.push(prefixedLine(PREFIX, `left alone: ${f.path} (${f.kind === "symlink" ? `symlink to ${f.target}` : f.kind === "file" ? "regular file" : f.kind}, not managed by kabi)`));
  }
  if (parsed.verbose) for (const k of plan.noSymvers) err.push(prefixedLine(PREFIX, `kernel ${k} has no symvers: not considered`));
  if (out.length > 0) io.out(out.join(""));
  if (err.length > 0) io.err(err.join(""));
}

export async function weakModulesCommand(args: readonly string[], io: CliIO): Promise<number> {
  const given = commandLine(io, WEAK_MODULES_SPEC, args);
  if ("exit" in given) return given.exit;
  const parsed = settings(given);
  if (parsed.basedir === "") return reportUsageError(io, WEAK_MODULES_SPEC, new UsageError("--basedir needs a directory"));
  const root = path.resolve(io.cwd, parsed.basedir);
  try {
    // An unusable --basedir is one line from every mode (exit 1), before anything is read.
    await checkRoot(root);
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    reportError(io, PREFIX, err);
    return 1;
  }
  // --dry-run writes nothing, not even the caches: only a run that writes them checks their folder.
  const { cache, warning: cacheWarning } = chooseCache(!parsed.noCache && !parsed.dryRun);
  if (cacheWarning !== null) reportWarnings(io, PREFIX, [cacheWarning]);
  const inputErrors: string[] = [];
  let mode: WeakMode;
  let known: WeakRunOptions["known"];
  if (parsed.action === "add-modules" || parsed.action === "remove-modules") {
    const text = await io.readStdin();
    const checked = await checkInputPaths(root, text, io.cwd, parsed.action === "add-modules", { cache });
    inputErrors.push(...checked.errors);
    known = checked.records;
    mode = { kind: parsed.action, modules: checked.modules };
  } else {
    const release = parsed.release ?? os.release();
    if (!isUsableKernelRelease(release)) {
      reportError(io, PREFIX, `${JSON.stringify(release)} is not a kernel release`);
      return USAGE_EXIT;
    }
    mode = { kind: parsed.action, release };
  }
  reportErrors(io, PREFIX, inputErrors);
  if ((mode.kind === "add-modules" || mode.kind === "remove-modules") && mode.modules.length === 0) {
    // Nothing valid to do: touch nothing at all (not even the lock). --json keeps its documented keys.
    if (parsed.json) {
      const none = { dryRun: parsed.dryRun, kernels: [], actions: [], kept: [], skipped: [], foreign: [], noSymvers: [], post: [], errors: inputErrors, warnings: [] };
      io.out(JSON.stringify(none, null, 2) + "\n");
    }
    return inputErrors.length > 0 ? 1 : 0;
  }
  let result: WeakRunResult;
  try {
    result = await runWeakModules({
      root,
      mode,
      dryRun: parsed.dryRun,
      cache,
      known,
      // Waiting is always said (never a silent wait): one line, when it starts.
      lock: { onWait: (pid, file) => io.err(prefixedLine(PREFIX, `waiting for ${file}, held by process ${pid}`)) },
      post: {
        depmod: parsed.depmod,
        dracut: parsed.dracut,
        updateInitramfs: null,
        checkInitramfsProg: parsed.checkInitramfsProg,
        noInitramfs: parsed.noInitramfs,
      },
      log: parsed.verbose ? (line) => io.err(prefixedLine(PREFIX, line)) : undefined,
    });
  } catch (err) {
    // A FileError that stops the run (the lock cannot be taken, the root is unusable):
    // one line naming the file, exit 1.
    if (!(err instanceof FileError)) throw err;
    reportError(io, PREFIX, err);
    return 1;
  }
  result.errors.unshift(...inputErrors);
  if (!parsed.json) {
    reportErrors(io, PREFIX, result.errors.slice(inputErrors.length));
    reportWarnings(io, PREFIX, result.warnings);
  }
  report(result, parsed, io);
  return result.errors.length > 0 ? 1 : 0;
}

function isMain(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(argv1) || import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  weakModulesCommand(process.argv.slice(2), processIO()).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(crashText(PREFIX, err));
      process.exitCode = 2;
    },
  );
}
