import { auditInputExitCode, auditModules, chooseCache, writeAuditHtmlFile, writeAuditJson, writeAuditJunit, writeAuditSarif, writeAuditText, type AuditInput } from "../api/audit.js";
import { parseConfigOption } from "../root/kernel-config.js";
import { parseSymversOption } from "../api/records.js";
import type { CliIO } from "./io.js";
import { UsageError, type CommandSpec, type ParsedOptions } from "./options.js";
import { ProgressLine } from "./progress.js";
import { commandLine, reportErrors, reportUsageError, reportWarnings } from "./report-error.js";

/** The report formats of `--format` (`--json` is `--format json`). */
const FORMATS = ["text", "json", "junit", "sarif"] as const;
type ReportFormat = (typeof FORMATS)[number];
const isFormat = (s: string): s is ReportFormat => (FORMATS as readonly string[]).includes(s);

/**
 * The format asked for: the formats named by every --format and --json must agree (a CI job that
 * asks for two formats on one stdout is a mistake to refuse, not to settle by argument order).
 */
function chosenFormat(parsed: ParsedOptions): ReportFormat | { problem: string } {
  const named = parsed.given.flatMap((g) => (g.name === "json" ? ["json"] : g.name === "format" && g.value !== undefined ? [g.value] : []));
  const distinct = [...new Set(named)];
  if (distinct.length > 1) return { problem: `--format ${distinct[0]} and --format ${distinct[1]} cannot be combined (--json is --format json)` };
  const format = distinct[0] ?? "text";
  return isFormat(format) ? format : { problem: `--format ${format}: unknown format (one of ${FORMATS.join(", ")})` };
}

/** The message a malformed --config value is refused with, or undefined. */
function configProblem(value: string): string | undefined {
  try {
    parseConfigOption(value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The message a malformed --symvers value is refused with, or undefined. */
function symversProblem(value: string): string | undefined {
  try {
    parseSymversOption(value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const AUDIT_SPEC: CommandSpec = {
  prefix: "kabi audit",
  usageName: "kabi audit",
  options: [
    { name: "basedir", type: "value", valueName: "DIR", whenEmpty: "needs a value", help: "the root the kernels are found under (default /)" },
    {
      name: "symvers",
      type: "value",
      valueName: "K=FILE",
      repeatable: true,
      whenEmpty: "needs a value",
      check: symversProblem,
      help: "judge against kernel K with the symvers FILE (plain, .gz or .xz)",
    },
    { name: "kernel", type: "value", valueName: "K", repeatable: true, whenEmpty: "needs a value", help: "judge against installed kernel K (its symvers found under DIR)" },
    {
      name: "config",
      type: "value",
      valueName: "K=FILE",
      repeatable: true,
      whenEmpty: "needs a value",
      check: configProblem,
      help: "kernel K's configuration is FILE (else boot/config-K, lib/modules/K/config, ... under DIR)",
    },
    {
      name: "strict-modversions",
      type: "flag",
      help: [
        "judge every kernel as Debian's do: a module with modversions that resolves a",
        "symbol they do not list is refused when the exporter has a CRC (upstream only",
        'warns "no symbol version for")',
      ].join("\n"),
    },
    {
      name: "enforce-signatures",
      type: "flag",
      help: [
        "judge every kernel as one that enforces module signatures (module.sig_enforce=1,",
        "Secure Boot lockdown): an unsigned module, or one signed with another kernel",
        "build's key, is refused (otherwise only signatureKey reports it)",
      ].join("\n"),
    },
    { name: "format", type: "value", valueName: "FORMAT", whenEmpty: "needs a value", help: "the report's format: text (default), json, junit (JUnit XML) or sarif (SARIF 2.1.0)" },
    { name: "json", type: "flag", help: "print the report as JSON (--format json)" },
    { name: "quiet", short: "q", type: "flag", help: "no progress line on a terminal's stderr" },
    {
      name: "html",
      type: "value",
      valueName: "FILE",
      whenEmpty: "needs a value",
      help: "also write the report as one self-contained HTML page to FILE",
    },
    { name: "summary", type: "flag", help: "text: the kernels, the causes (headlines) grouped per kernel and the totals only" },
    { name: "verbose", short: "v", type: "flag", help: "text: every reason of every incompatible pair, also under a headline" },
    { name: "no-cache", type: "flag", help: "do not use the persistent record and symvers caches" },
    { name: "help", short: "h", type: "flag", hideInSynopsis: true, help: "this help" },
  ],
  operands: "PATH...",
  validate: (parsed) => {
    const format = chosenFormat(parsed);
    return typeof format === "string" ? undefined : format.problem;
  },
  unknownArgument: (arg) => `unknown option ${arg}`,
  helpColumn: 24,
};

/** `kabi audit`: every module against every kernel; exit 0 all compatible, 1 some pair incompatible, 2 input errors. */
export async function auditCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = commandLine(io, AUDIT_SPEC, args);
  if ("exit" in parsed) return parsed.exit;
  if (parsed.operands.length === 0) return reportUsageError(io, AUDIT_SPEC, new UsageError("no module files or directories given"));
  // An unusable cache folder (KABI_CACHE_DIR under /proc, read-only, a file) is one warning, and the audit runs without the caches.
  const { cache, warning: cacheWarning } = chooseCache(!parsed.has("no-cache"));
  if (cacheWarning !== null) reportWarnings(io, AUDIT_SPEC.prefix, [cacheWarning]);
  const format = chosenFormat(parsed) as ReportFormat;
  // Only where a person watches: a terminal on stderr, and not --quiet.
  const progressStream = parsed.has("quiet") ? null : (io.progressStream?.() ?? null);
  const progress = progressStream !== null ? new ProgressLine(progressStream) : null;
  let input: AuditInput;
  try {
    input = await auditModules({
      paths: parsed.operands,
      explicit: parsed.values("symvers").map(parseSymversOption),
      releases: parsed.values("kernel"),
      configs: parsed.values("config").map(parseConfigOption),
      basedir: parsed.value("basedir") ?? "/",
      strictModversions: parsed.has("strict-modversions"),
      enforceSignatures: parsed.has("enforce-signatures"),
      cache: cache !== false,
      ...(progress !== null ? { onProgress: progress.update } : {}),
    });
  } finally {
    progress?.stop();
  }
  reportErrors(io, AUDIT_SPEC.prefix, [...input.symversProblems.map((p) => `${p.file}:${p.line}: ${p.reason}`), ...input.errors.map((e) => e.message)]);
  // Streamed: verdicts are computed while writing and dropped after.
  const sink = (t: Buffer) => io.out(t);
  if (format === "json") writeAuditJson(input, sink);
  else if (format === "junit") writeAuditJunit(input, sink);
  else if (format === "sarif") writeAuditSarif(input, { cwd: io.cwd }, sink);
  else writeAuditText(input, sink, { summary: parsed.has("summary"), verbose: parsed.has("verbose"), color: io.outColors === true });
  const html = parsed.value("html");
  if (html !== undefined) {
    // After the report on stdout, whatever happens to the page; a page that cannot be written is an input error (exit 2).
    const failed = writeAuditHtmlFile(input, html);
    if (failed !== null) {
      reportErrors(io, AUDIT_SPEC.prefix, [failed]);
      return 2;
    }
  }
  return auditInputExitCode(input);
}
