/**
 * What the package-audit tests share (test/load/package-audit*.test.ts): the real packages kept by
 * fixtures/packages/fetch-packages.sh, kabi audit run in process with --json, the packages
 * unpacked by Debian's own tools, and verdicts keyed by member path to compare the two audits.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { auditCommand } from "../../src/cli/audit.js";
import { captureIO } from "./capture-io.js";
import { ROOT } from "./paths.js";
import { commandPresent, requireUnderCi } from "./required.js";

const FETCH = join(ROOT, "fixtures/packages/fetch-packages.sh");
/** The kept packages, by name (fetch-packages.sh --check), or null when some are missing. */
export function keptPackages(): Map<string, string> | null {
  const r = spawnSync("bash", [FETCH, "--check"], { encoding: "utf8" });
  if (r.status !== 0) return null;
  return new Map(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split("\t") as [string, string]),
  );
}
const kept = keptPackages();

/** The kept packages by name; skips the test outside CI when they (or `tools`) are missing, fails it under CI. */
export function needPackages(skip: () => void, tools: string[]): Map<string, string> {
  requireUnderCi(kept !== null, "the real kernel packages and RPMs (fixtures/packages/fetch-packages.sh)", skip);
  for (const t of tools) requireUnderCi(commandPresent(t), t, skip);
  return kept!;
}

export interface AuditJson {
  kernels: { release: string; symvers: string }[];
  modules: { path: string; name: string; kernels: Record<string, unknown> }[];
  errors: { path: string; message: string }[];
}

export async function audit(args: string[]): Promise<{ code: number; json: AuditJson; stderr: string }> {
  const io = captureIO();
  const code = await auditCommand(["--json", "--no-cache", ...args], io);
  return { code, json: JSON.parse(io.stdout) as AuditJson, stderr: io.stderr };
}

/** `dir` unpacked from `pkg` by Debian's own tools: dpkg-deb for a deb, rpm2cpio | cpio for an RPM. */
export function unpack(pkg: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = pkg.endsWith(".deb")
    ? spawnSync("dpkg-deb", ["-x", pkg, dir], { encoding: "utf8" })
    : spawnSync("sh", ["-c", 'rpm2cpio "$1" | cpio -idm --quiet', "sh", pkg], { cwd: dir, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

/**
 * Each module's verdicts keyed by where it lies in its package (a member path, or the path under
 * the unpacked root), with every path inside a verdict (a provider's) put the same way: the two
 * audits must agree on everything else.
 */
export function verdictsByMember(json: AuditJson, roots: readonly string[]): Map<string, string> {
  const member = (p: string): string => {
    const bang = p.indexOf("!/");
    if (bang >= 0) return p.slice(bang + 2);
    for (const r of roots) if (p.startsWith(r + "/")) return p.slice(r.length + 1);
    return p;
  };
  const out = new Map<string, string>();
  for (const m of json.modules) {
    const verdicts = JSON.stringify(m.kernels, (key, value: unknown) => (typeof value === "string" && key.endsWith("Path") ? member(value) : value));
    out.set(member(m.path), verdicts);
  }
  return out;
}

export function expectSameVerdicts(got: Map<string, string>, want: Map<string, string>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  const differing = [...want].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
  expect(differing).toEqual([]);
}
