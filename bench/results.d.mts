// Types of bench/results.mjs for the TypeScript tests (test/bench/results-writer.test.ts).
export declare const LATEST_START: string;
export declare const LATEST_END: string;
export declare const HISTORY_START: string;
export declare const HISTORY_END: string;
export declare const DKMS_START: string;
export declare const DKMS_END: string;
export declare const PACKAGE_START: string;
export declare const PACKAGE_END: string;

export interface BenchRow {
  name: string;
  ratio: number;
  skipped?: boolean;
  absolute?: { limit: number; value: number };
}

/** One run as bench.mjs gives it: the suite's part (table, commands, rows, startup) is absent when the DKMS case ran alone. */
export interface BenchRun {
  date: string;
  repeat: number;
  build: string;
  inputs: string;
  command: string;
  table?: string[];
  commands?: string[];
  rows?: BenchRow[];
  startup?: { before: number; after: number };
  dkms?: { table: string[]; commands: string[] };
  package?: { table: string[]; commands: string[] };
}

export declare function updatedResults(text: string, run: BenchRun): string;
export declare function writeResults(file: string, run: BenchRun): void;
