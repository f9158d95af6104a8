import { streamTakesColors } from "./color.js";

/** Where a command writes; tests pass buffers, the executables pass the process streams. */
export interface CliIO {
  /** Standard output: text, or UTF-8 bytes (a chunk may end inside a character; the next one continues it). */
  out(text: string | Uint8Array): void;
  err(text: string): void;
  /** Standard input, read whole (weak-modules takes module paths on it). */
  readStdin(): Promise<string>;
  cwd: string;
  /** Whether standard output takes ANSI colours (a terminal, NO_COLOR and FORCE_COLOR honoured: streamTakesColors); absent: no. */
  outColors?: boolean;
}

export function processIO(): CliIO {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    readStdin: async () => {
      if (process.stdin.isTTY) return "";
      const parts: Buffer[] = [];
      for await (const c of process.stdin) parts.push(c as Buffer);
      return Buffer.concat(parts).toString("utf8");
    },
    cwd: process.cwd(),
    outColors: streamTakesColors(process.stdout),
  };
}
