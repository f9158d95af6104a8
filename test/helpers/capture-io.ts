import type { CliIO } from "../../src/cli/io.js";

/** A CliIO that records what a command writes. */
export interface CapturedIO extends CliIO {
  stdout: string;
  stderr: string;
}

export function captureIO(stdin = ""): CapturedIO {
  const utf8 = new TextDecoder("utf-8");
  const io: CapturedIO = {
    stdout: "",
    stderr: "",
    out: (t) => void (io.stdout += typeof t === "string" ? utf8.decode() + t : utf8.decode(t, { stream: true })),
    err: (t) => void (io.stderr += t),
    readStdin: async () => stdin,
    cwd: process.cwd(),
  };
  return io;
}

/** Runs `body` with KABI_NO_NATIVE set (fallback codecs) or unset (native codecs), restoring it after. */
export async function withCodecs<T>(kind: "native" | "fallback", body: () => Promise<T>): Promise<T> {
  const saved = process.env.KABI_NO_NATIVE;
  if (kind === "fallback") process.env.KABI_NO_NATIVE = "1";
  else delete process.env.KABI_NO_NATIVE;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.KABI_NO_NATIVE;
    else process.env.KABI_NO_NATIVE = saved;
  }
}
