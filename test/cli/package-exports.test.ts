/**
 * The package as a dependency sees it: `import ... from "kabi"` resolved by plain Node through
 * package.json "exports" (node_modules/kabi a symlink to this checkout, after `npm run build`),
 * auditing a fixture as the CLI does; and TypeScript finding the declarations through the
 * "types" condition.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODULE_FIXTURES, ROOT } from "../helpers/paths.js";

const K53 = "6.1.0-53-amd64";
const SYMVERS = join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`);
const MODULES = join(MODULE_FIXTURES, K53);

const AUDIT_SCRIPT = `
import { auditInputExitCode, auditModules, FileError, writeAuditJson } from "kabi";
const [release, symvers, modules] = process.argv.slice(2);
const input = await auditModules({ paths: [modules], explicit: [{ release, file: symvers }], cache: false });
const chunks = [];
writeAuditJson(input, (c) => chunks.push(c));
process.stdout.write(Buffer.concat(chunks));
process.stderr.write(String(new FileError("f", "why", 7) instanceof Error) + "\\n");
process.exitCode = auditInputExitCode(input);
`;

const DEEP_IMPORT_SCRIPT = `
try {
  await import("kabi/dist/src/engine/index.js");
  console.log("imported");
} catch (err) {
  console.log(err.code);
}
`;

// Each facet is an entry of its own, and the whole API is their union.
const FACETS_SCRIPT = `
const all = await import("kabi");
const facets = { records: await import("kabi/records"), audit: await import("kabi/audit"), weak: await import("kabi/weak") };
const union = new Set(Object.values(facets).flatMap((f) => Object.keys(f)));
console.log(JSON.stringify({
  same: [...union].sort().join() === Object.keys(all).sort().join(),
  records: "readModule" in facets.records && !("evaluate" in facets.records),
  audit: "auditModules" in facets.audit && !("runWeakModules" in facets.audit),
  weak: "runWeakModules" in facets.weak && !("writeAuditJson" in facets.weak),
}));
`;

const CONSUMER_TS = `
import { readModule, type ModuleRecord, type FileError } from "kabi";
const record: Promise<ModuleRecord> = readModule("x.ko");
const reason = (e: FileError): string => e.reason + String(e.offset ?? "");
export { record, reason };
`;

describe("the kabi package through its exports", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kabi-package-"));
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules/kabi"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
    writeFileSync(join(dir, "audit.mjs"), AUDIT_SCRIPT);
    writeFileSync(join(dir, "deep.mjs"), DEEP_IMPORT_SCRIPT);
    writeFileSync(join(dir, "facets.mjs"), FACETS_SCRIPT);
    writeFileSync(join(dir, "consumer.ts"), CONSUMER_TS);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('import "kabi" audits a fixture exactly as `kabi audit --json` does', () => {
    const viaPackage = spawnSync(process.execPath, ["audit.mjs", K53, SYMVERS, MODULES], { cwd: dir, encoding: "utf8" });
    expect(viaPackage.stderr).toBe("true\n");
    const viaCli = spawnSync(process.execPath, [join(ROOT, "dist/src/cli/kabi.js"), "audit", "--json", "--no-cache", "--symvers", `${K53}=${SYMVERS}`, MODULES], {
      encoding: "utf8",
    });
    expect(viaCli.status).toBe(1); // some fixtures are built to be incompatible
    expect(viaPackage.status).toBe(viaCli.status);
    expect(viaPackage.stdout).toBe(viaCli.stdout);
    const report = JSON.parse(viaPackage.stdout) as { kernels: { release: string }[]; modules: { name: string; kernels: Record<string, { compatible: boolean }> }[] };
    expect(report.kernels.map((k) => k.release)).toEqual([K53]);
    expect(report.modules.find((m) => m.name === "kabi_provider")?.kernels[K53]?.compatible).toBe(true);
  });

  it('"kabi" is the union of its facets "kabi/records", "kabi/audit" and "kabi/weak", each without the others\' parts', () => {
    const r = spawnSync(process.execPath, ["facets.mjs"], { cwd: dir, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ same: true, records: true, audit: true, weak: true });
  });

  it("keeps the layers private: a deep import is refused", () => {
    const r = spawnSync(process.execPath, ["deep.mjs"], { cwd: dir, encoding: "utf8" });
    expect(r.stdout.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it('TypeScript finds the declarations through the "types" condition', { timeout: 120_000 }, () => {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const args = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--skipLibCheck", "--typeRoots", join(ROOT, "node_modules/@types"), "--types", "node", "consumer.ts"];
    const r = spawnSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
