import path from "node:path";
import { compareCodeUnits } from "../root/code-unit-order.js";
import { weakStatus } from "../weak/weak-status.js";
import type { CliIO } from "./io.js";

const USAGE = "usage: kabi status [--basedir DIR] [--json] [--no-cache]";

/** `kabi status`: every external module's state on every installed kernel. */
export async function statusCommand(args: readonly string[], io: CliIO): Promise<number> {
  let basedir = "/";
  let json = false;
  let cache = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--json") json = true;
    else if (a === "--no-cache") cache = false;
    else if (a === "-h" || a === "--help") {
      io.out(USAGE + "\n");
      return 0;
    } else if (a === "--basedir" || a.startsWith("--basedir=")) {
      const v = a === "--basedir" ? args[++i] : a.slice("--basedir=".length);
      if (v === undefined || v === "") {
        io.err(`kabi status: --basedir needs a directory\n${USAGE}\n`);
        return 2;
      }
      basedir = v;
    } else {
      io.err(`kabi status: unknown argument ${JSON.stringify(a)}\n${USAGE}\n`);
      return 2;
    }
  }
  const report = await weakStatus(path.resolve(io.cwd, basedir), undefined, { cache });
  if (json) {
    io.out(JSON.stringify(report, null, 2) + "\n");
    return 0;
  }
  for (const w of report.warnings) io.err(`kabi status: warning: ${w}\n`);
  const byModule = new Map<string, typeof report.entries>();
  for (const e of report.entries) {
    const key = `${e.module}\t${e.path}`;
    let l = byModule.get(key);
    if (l === undefined) byModule.set(key, (l = []));
    l.push(e);
  }
  for (const [key, list] of [...byModule].sort((a, b) => compareCodeUnits(a[0], b[0]))) {
    const [name, file] = key.split("\t");
    io.out(`${name} (${file}${list[0].builtFor !== "" ? `, built for ${list[0].builtFor}` : ""})\n`);
    for (const e of list) io.out(`  ${e.kernel}: ${e.text}\n`);
  }
  return 0;
}
