/**
 * What counts as a crash, in one place for the CI tests, the long run and the found-fixture test:
 *
 * - in-process: a reader throwing anything but a FileError (FormatError, or a DecodeError wrapped
 *   into one, are FileErrors), or a FileError whose message is not one line;
 * - a case taking longer than HANG_MS (the watchdog kills the process running it);
 * - a process running cases or the CLI going over MAX_RSS_BYTES of resident memory, or dying;
 * - the built CLI on an input: an exit status outside 0/1/2, a signal, or a stack trace
 *   (`    at ` lines) on stderr.
 *
 * A failure's signature (for deduplication) is the target, the kind, the error class and the
 * message with numbers and paths taken out.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { FileError } from "../../src/types/errors.js";

export const HANG_MS = 10_000;
export const MAX_RSS_BYTES = 1024 * 1024 * 1024;

export type FailureKind = "exception" | "multiline-error" | "hang" | "memory" | "died" | "cli-exit" | "cli-stack" | "cli-hang" | "cli-memory" | "harness";

export interface Failure {
  kind: FailureKind;
  errorClass: string;
  message: string;
  /** The innermost frame of kabi's own code on the stack ("function (file)"), when there is one. */
  where?: string;
}

/** The innermost stack frame in kabi's sources (src/, native-free-fallback/), without line numbers. */
export function kabiFrame(err: Error): string | undefined {
  for (const line of (err.stack ?? "").split("\n")) {
    const m = /^\s+at (?:(\S+) \()?.*\/((?:src|native-free-fallback)\/[^:)]+)/.exec(line);
    if (m) return `${m[1] ?? "<anonymous>"} (${m[2]!.replace(/\.js$/, ".ts")})`;
  }
  return undefined;
}

/** Whether what a reader threw is the one-line input error every command prints, else the failure. */
export function judgeThrown(err: unknown): Failure | null {
  if (err instanceof FileError) {
    if (err.message.includes("\n")) return { kind: "multiline-error", errorClass: err.name, message: err.message };
    return null;
  }
  if (err instanceof Error) {
    const where = kabiFrame(err);
    return { kind: "exception", errorClass: err.constructor?.name || err.name, message: err.message, ...(where ? { where } : {}) };
  }
  return { kind: "exception", errorClass: typeof err, message: String(err) };
}

/** The message with what varies between cases of one bug taken out: paths, numbers, quoted text. */
export function messagePattern(message: string): string {
  return message
    .split("\n")[0]!
    .replace(/\/[^\s:'"]*/g, "PATH")
    .replace(/0x[0-9a-f]+/gi, "N")
    .replace(/-?\d+(\.\d+)?/g, "N")
    .replace(/"[^"]*"/g, '"S"')
    .slice(0, 160);
}

export function signature(target: string, f: Failure): string {
  return `${target} | ${f.kind} | ${f.errorClass} | ${messagePattern(f.message)}${f.where ? ` | at ${f.where}` : ""}`;
}

/** Peak and current resident memory of a process (from /proc; 0 where there is no /proc). */
export function processMemory(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

export interface WatchedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  peakRss: number;
  /** Set when the watchdog killed it. */
  killedFor?: "hang" | "memory";
}

/** Runs a command, killing it past `timeoutMs` or past `maxRss` resident bytes (polled). */
export function runWatched(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; maxRss?: number; input?: string } = {}): Promise<WatchedRun> {
  const timeoutMs = opts.timeoutMs ?? HANG_MS;
  const maxRss = opts.maxRss ?? MAX_RSS_BYTES;
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let peakRss = 0;
    let killedFor: WatchedRun["killedFor"];
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    const poll = setInterval(() => {
      const m = processMemory(child.pid!);
      peakRss = Math.max(peakRss, m.peak, m.rss);
      if (m.rss > maxRss && !killedFor) {
        killedFor = "memory";
        child.kill("SIGKILL");
      } else if (Date.now() - started > timeoutMs && !killedFor) {
        killedFor = "hang";
        child.kill("SIGKILL");
      }
    }, 20);
    child.on("close", (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, peakRss, ...(killedFor ? { killedFor } : {}) });
    });
  });
}

/** The CLI's side of the oracle: exit 0/1/2, no stack trace, no kill by the watchdog. */
export function judgeCli(r: WatchedRun): Failure | null {
  if (r.killedFor === "hang") return { kind: "cli-hang", errorClass: "timeout", message: `no exit after ${r.ms} ms` };
  if (r.killedFor === "memory") return { kind: "cli-memory", errorClass: "rss", message: `resident memory over ${MAX_RSS_BYTES} bytes` };
  const stack = /^\s+at /m.test(r.stderr);
  if (stack) return { kind: "cli-stack", errorClass: "stack trace", message: r.stderr.split("\n").find((l) => l.trim() !== "") ?? "" };
  if (r.code === null || r.code > 2) return { kind: "cli-exit", errorClass: r.signal ?? `exit ${r.code}`, message: r.stderr.split("\n").find((l) => l.trim() !== "") ?? "" };
  return null;
}
