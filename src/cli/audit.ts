import { auditInputExitCode, writeAuditJson, writeAuditText, type AuditInput } from "../audit/audit-report.js";
import { loadKernelTargets, type LoadedKernels } from "../load/kernel-targets.js";
import { evaluate } from "../engine/index.js";
import { describeInputError } from "../types/errors.js";
import { findModules } from "../load/find-modules.js";
import { readModules, type ReadManyResult } from "../load/read-many.js";
import { parseSymversOption } from "../root/kernels.js";
import { symversSymbols } from "../symvers/symvers-filter.js";
import type { CliIO } from "./io.js";

/**
 * Up to this many module files, each symvers is parsed only for the symbols they use. A whole tree
 * uses most of a kernel's exports (the 6.12 tree ~20,000 of 27,000), where filtering first costs
 * more than it saves and parsing the symvers while the modules are read is what pays.
 */
const FEW_MODULES = 100;

const USAGE = [
  "usage: kabi audit [--basedir DIR] [--symvers K=FILE]... [--kernel K]... [--strict-modversions] [--json] [--no-cache] PATH...",
  "  --strict-modversions  judge every kernel as Debian's do: a module with modversions that resolves a",
  "                        symbol they do not list is refused when the exporter has a CRC (upstream only",
  "                        warns \"no symbol version for\")",
].join("\n");

export async function auditCommand(args: readonly string[], io: CliIO): Promise<number> {
  let basedir = "/";
  let json = false;
  let cache = true;
  let strictModversions = false;
  const explicit: { release: string; file: string }[] = [];
  const releases: string[] = [];
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string | undefined => {
      const eq = a.indexOf("=");
      if (a.startsWith("--") && eq > 0) return a.slice(eq + 1);
      return args[++i];
    };
    const flag = a.startsWith("--") && a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    if (flag === "--json") json = true;
    else if (flag === "--no-cache") cache = false;
    else if (flag === "--strict-modversions") strictModversions = true;
    else if (flag === "--basedir" || flag === "--symvers" || flag === "--kernel") {
      const v = value();
      if (v === undefined || v === "") return usageError(io, `${flag} needs a value`);
      if (flag === "--basedir") basedir = v;
      else if (flag === "--kernel") releases.push(v);
      else {
        try {
          explicit.push(parseSymversOption(v));
        } catch (err) {
          return usageError(io, (err as Error).message);
        }
      }
    } else if (a === "-h" || a === "--help") {
      io.out(USAGE + "\n");
      return 0;
    } else if (a.startsWith("-")) return usageError(io, `unknown option ${a}`);
    else paths.push(a);
  }
  if (paths.length === 0) return usageError(io, "no module files or directories given");

  const found = await findModules(paths);
  const request = { explicit, releases, basedir };
  let kernels: LoadedKernels;
  let read: ReadManyResult;
  if (found.files.length <= FEW_MODULES) {
    // A few modules need a few thousand of a kernel's ~27,000 exports: they are read first, then
    // each symvers is parsed for those symbols only (a whole parse is 20-60 ms per kernel).
    read = await readModules(found.files, { cache });
    kernels = await loadKernelTargets({ ...request, wanted: symversSymbols(read.records, []) });
  } else {
    // Symvers are parsed here while the module files are read (mostly by worker threads).
    [kernels, read] = await Promise.all([loadKernelTargets({ ...request, cache }), readModules(found.files, { cache })]);
  }
  const errors = [...found.errors.map((e) => ({ path: e.path, message: describeInputError(e.path, e.error) })), ...kernels.errors, ...read.errors];
  if (kernels.kernels.length === 0 && kernels.errors.length === 0) {
    errors.push({ path: basedir, message: `${basedir}: no kernel with symvers found (use --symvers K=FILE or --kernel K)` });
  }
  const targets = strictModversions ? kernels.kernels.map((k) => ({ ...k, strictModversions: true })) : kernels.kernels;
  const strictField = strictModversions ? { strictModversions: true as const } : {};
  const input: AuditInput = {
    kernels: targets.map((k) => ({ release: k.release, symvers: k.symversPath, ...strictField })),
    modules: read.records,
    report: evaluate(read.records, targets),
    errors,
    symversProblems: kernels.problems,
  };
  for (const p of kernels.problems) io.err(`kabi audit: ${p.file}:${p.line}: ${p.reason}\n`);
  for (const e of errors) io.err(`kabi audit: ${e.message}\n`);
  // Streamed: verdicts are computed while writing and dropped after.
  if (json) writeAuditJson(input, (t) => io.out(t));
  else writeAuditText(input, (t) => io.out(t));
  return auditInputExitCode(input);
}

function usageError(io: CliIO, message: string): number {
  io.err(`kabi audit: ${message}\n${USAGE}\n`);
  return 2;
}
