#!/usr/bin/env node
import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isUsableKernelRelease } from "../root/kernel-release.js";
import { checkInputPaths } from "../weak/input-paths.js";
import { runWeakModules, type WeakMode, type WeakRunOptions, type WeakRunResult } from "../weak/weak-run.js";
import { processIO, type CliIO } from "./io.js";

const USAGE = `usage: weak-modules [options] {--add-modules|--remove-modules|--add-kernel [K]|--remove-kernel [K]}
  --add-modules            link the modules named on standard input into every compatible kernel
  --remove-modules         remove the links to the modules named on standard input (files may be gone)
  --add-kernel [K]         compute kernel K's whole weak-updates set (default: the running kernel)
  --remove-kernel [K]      remove kernel K's weak-updates links (default: the running kernel)
  --dry-run                show what would change; write nothing
  --no-initramfs           do not regenerate initramfs images
  --verbose                say what is done
  --basedir DIR            work on the root DIR instead of /
  --dracut PATH            the dracut to run (default: dracut on PATH)
  --check-initramfs-prog PATH   run "PATH K" for each changed kernel instead of dracut
  --depmod PATH            the depmod to run (default: depmod on PATH; skipped when absent)
  --no-cache               do not use the persistent record cache (default: $KABI_CACHE_DIR,
                           else \${XDG_CACHE_HOME:-~/.cache}/kabi; --dry-run never writes it)
  --delete-modules         accepted for compatibility; no effect
  --json                   print a machine-readable account of the changes
  -h, --help               this help
`;

interface Parsed {
  action: "add-modules" | "remove-modules" | "add-kernel" | "remove-kernel";
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

class UsageError extends Error {}

function parseArgs(args: readonly string[]): Parsed | "help" {
  let action: Parsed["action"] | null = null;
  const p: Omit<Parsed, "action"> = {
    release: null,
    dryRun: false,
    noInitramfs: false,
    verbose: false,
    json: false,
    basedir: "/",
    dracut: null,
    checkInitramfsProg: null,
    depmod: null,
    noCache: false,
  };
  const setAction = (a: Parsed["action"]) => {
    if (action !== null && action !== a) throw new UsageError(`--${action} and --${a} cannot be combined`);
    action = a;
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let inline: string | null = null;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== null) return inline;
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "-h":
      case "--help":
        return "help";
      case "--add-modules":
      case "--remove-modules":
        setAction(a.slice(2) as Parsed["action"]);
        break;
      case "--add-kernel":
      case "--remove-kernel":
        setAction(a.slice(2) as Parsed["action"]);
        if (inline !== null) p.release = inline;
        else if (i + 1 < args.length && !args[i + 1].startsWith("-")) p.release = args[++i];
        break;
      case "--dry-run":
        p.dryRun = true;
        break;
      case "--no-initramfs":
        p.noInitramfs = true;
        break;
      case "--verbose":
      case "-v":
        p.verbose = true;
        break;
      case "--json":
        p.json = true;
        break;
      case "--delete-modules":
        break;
      case "--no-cache":
        p.noCache = true;
        break;
      case "--basedir":
        p.basedir = value();
        break;
      case "--dracut":
        p.dracut = value();
        break;
      case "--check-initramfs-prog":
        p.checkInitramfsProg = value();
        break;
      case "--depmod":
        p.depmod = value();
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(args[i])}`);
    }
  }
  if (action === null) throw new UsageError("one of --add-modules, --remove-modules, --add-kernel, --remove-kernel is required");
  if (p.basedir === "") throw new UsageError("--basedir needs a directory");
  return { action, ...p };
}

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
  const verb = parsed.dryRun ? "would " : "";
  if (parsed.dryRun || parsed.verbose) {
    for (const a of plan.actions) {
      const arrow = a.target !== null ? ` -> ${a.target}` : "";
      out.push(`${verb}${a.op} ${a.link}${arrow} (${a.reason})\n`);
    }
  }
  for (const s of plan.skipped) {
    if (s.reason === "incompatible" || s.reason === "foreign-entry" || s.reason === "shadowed" || parsed.verbose) {
      err.push(`weak-modules: ${s.path} not linked into ${s.kernel}: ${s.reason === "incompatible" ? `incompatible: ${s.detail}` : s.detail}\n`);
    }
  }
  for (const f of plan.foreign) {
    err.push(`weak-modules: left alone: ${f.path} (${f.kind === "symlink" ? `symlink to ${f.target}` : f.kind === "file" ? "regular file" : f.kind}, not managed by kabi)\n`);
  }
  if (parsed.verbose) for (const k of plan.noSymvers) err.push(`weak-modules: kernel ${k} has no symvers: not considered\n`);
  if (out.length > 0) io.out(out.join(""));
  if (err.length > 0) io.err(err.join(""));
}

export async function weakModulesCommand(args: readonly string[], io: CliIO): Promise<number> {
  let parsed: Parsed;
  try {
    const p = parseArgs(args);
    if (p === "help") {
      io.out(USAGE);
      return 0;
    }
    parsed = p;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`weak-modules: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const root = path.resolve(io.cwd, parsed.basedir);
  const inputErrors: string[] = [];
  let mode: WeakMode;
  let known: WeakRunOptions["known"];
  if (parsed.action === "add-modules" || parsed.action === "remove-modules") {
    const text = await io.readStdin();
    const checked = await checkInputPaths(root, text, io.cwd, parsed.action === "add-modules", { cache: !parsed.noCache && !parsed.dryRun });
    inputErrors.push(...checked.errors);
    known = checked.records;
    mode = { kind: parsed.action, modules: checked.modules };
  } else {
    const release = parsed.release ?? os.release();
    if (!isUsableKernelRelease(release)) {
      io.err(`weak-modules: ${JSON.stringify(release)} is not a kernel release\n`);
      return 2;
    }
    mode = { kind: parsed.action, release };
  }
  for (const e of inputErrors) io.err(`weak-modules: ${e}\n`);
  if ((mode.kind === "add-modules" || mode.kind === "remove-modules") && mode.modules.length === 0) {
    // Nothing valid to do: touch nothing at all (not even the lock).
    if (parsed.json) io.out(JSON.stringify({ dryRun: parsed.dryRun, actions: [], errors: inputErrors }, null, 2) + "\n");
    return inputErrors.length > 0 ? 1 : 0;
  }
  const result = await runWeakModules({
    root,
    mode,
    dryRun: parsed.dryRun,
    cache: !parsed.noCache,
    known,
    post: {
      depmod: parsed.depmod,
      dracut: parsed.dracut,
      checkInitramfsProg: parsed.checkInitramfsProg,
      noInitramfs: parsed.noInitramfs,
    },
    log: parsed.verbose ? (line) => io.err(`weak-modules: ${line}\n`) : undefined,
  });
  result.errors.unshift(...inputErrors);
  if (!parsed.json) {
    for (const e of result.errors.slice(inputErrors.length)) io.err(`weak-modules: ${e}\n`);
    for (const w of result.warnings) io.err(`weak-modules: warning: ${w}\n`);
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
      process.stderr.write(`weak-modules: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
