// Types of bench/fault-trials.mjs for the TypeScript tests (test/weak/faults-*.test.ts).
export declare const REPO: string;
export declare const BIN: string;
export declare const K53: string;
export declare const K54: string;
export declare const K612: string;
export declare const K_GONE: string;
export declare const LOCK: string;
export declare const MODES: readonly Mode[];
export type Mode = "add-kernel" | "add-modules" | "remove-modules" | "remove-kernel";
export declare const KILL_SYSCALLS: readonly string[];

export interface Command {
  action: string[];
  /** Inside-root module paths given on standard input. */
  stdin: string[];
}
export interface ModeTemplate extends Command {
  dir: string;
  mode: Mode;
}
export interface Snapshot {
  links: string[];
  leftovers: string[];
}
export interface Reference {
  snap: Snapshot;
  ms: number;
  counts: Record<string, number> | null;
}
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  out: string;
  err: string;
}
export interface KillResult {
  point: string;
  killed: boolean;
  converged: boolean;
  rerunCode: number | null;
  rerunErr: string;
  missing: string[];
  extra: string[];
  leftovers: string[];
  cacheTemps: number;
  lockLeft: boolean;
  lockWaitMs: number;
}
export interface RoundResult {
  commands: string[];
  serialAgree: boolean;
  codes: (number | null)[];
  errs: string[];
  equal: boolean;
  missing: string[];
  extra: string[];
  leftovers: string[];
  maxMs: number;
  ok: boolean;
}
export type Env = Record<string, string>;

export declare function rng(seed: number): () => number;
export declare function buildBaseRoot(root: string): void;
export declare function weakArgs(root: string, action: string[]): string[];
export declare const MODE_SETUPS: Record<Mode, { linked: boolean; add: string[]; remove: string[]; action: string[]; stdin: string[] }>;
export declare function runToEnd(root: string, action: string[], stdinPaths: string[], env: Env): Promise<RunResult>;
export declare function buildModeTemplate(dir: string, mode: Mode, env: Env): Promise<ModeTemplate>;
export declare function buildConcurrencyTemplate(dir: string, env: Env): Promise<string>;
export declare function concurrencyMix(random: () => number, count?: number): Command[];
export declare function runBuilt(
  args: string[],
  options?: { stdin?: string; env?: Env; killAfterMs?: number; strace?: { syscall: string; when: number }; countInto?: string; timeoutMs?: number },
): Promise<RunResult>;
export declare function straceWorks(): boolean;
export declare function readSyscallCounts(file: string): Record<string, number>;
export declare function snapshot(root: string): Snapshot;
export declare function cacheTemps(cacheDir: string): string[];
export declare function copyRoot(from: string, to: string): void;
export declare function removeDir(dir: string): void;
export declare function reference(template: ModeTemplate, workDir: string, withCounts: boolean): Promise<Reference>;
export declare function killTrial(template: ModeTemplate, ref: Reference, workDir: string, random: () => number, kind: "syscall" | "delay"): Promise<KillResult>;
export declare function concurrencyRound(templateDir: string, workDir: string, mix: Command[]): Promise<RoundResult>;
