import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  auditExitCode,
  auditInputExitCode,
  buildAuditReport,
  formatAuditText,
  writeAuditJson,
  writeAuditText,
  type AuditInput,
} from "../../src/audit/audit-report.js";
import { evaluate } from "../../src/engine/index.js";
import { readModules } from "../../src/module/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { MODULE_FIXTURES, REAL_SAMPLE, ROOT, modulesUnder } from "../helpers/paths.js";

const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.1.0-55-amd64", "6.12.113+deb12-amd64", "6.12.117+deb12-amd64"];

async function input(paths: string[], releases: string[]): Promise<AuditInput> {
  const kernels = await Promise.all(
    releases.map(async (release) => {
      const file = join(ROOT, "fixtures/symvers", `${release}.symvers.gz`);
      return { release, symvers: await readSymvers(file), symversPath: file };
    }),
  );
  const read = await readModules(paths, { workers: 1 });
  return {
    kernels: kernels.map((k) => ({ release: k.release, symvers: k.symversPath })),
    modules: read.records,
    report: evaluate(read.records, kernels),
    errors: read.errors,
    symversProblems: [],
  };
}

function collect(write: (sink: (chunk: Buffer) => void) => void): string {
  const parts: Buffer[] = [];
  write((chunk) => parts.push(chunk));
  return Buffer.concat(parts).toString("utf8");
}

describe("streamed audit output", () => {
  const sets: [string, () => string[]][] = [
    ["kbuild fixtures", () => modulesUnder(join(MODULE_FIXTURES, "6.1.0-53-amd64"))],
    ["real sample", () => [...modulesUnder(join(REAL_SAMPLE, "amd64-6.1")), ...modulesUnder(join(REAL_SAMPLE, "amd64-6.12"))]],
    ["no modules", () => []],
  ];
  for (const [label, paths] of sets) {
    it(`${label}: the JSON document and the text equal those of the whole AuditReport`, async () => {
      const a = await input(paths(), RELEASES);
      const json = collect((sink) => writeAuditJson(a, sink));
      const text = collect((sink) => writeAuditText(a, sink));
      // The whole report, built from a fresh evaluation so no verdict is shared with the streamed pass.
      const b = await input(paths(), RELEASES);
      const whole = buildAuditReport(b.kernels, b.modules, b.report, [...b.errors], [...b.symversProblems]);
      expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(whole)));
      expect(text).toBe(formatAuditText(whole));
      expect(auditInputExitCode(a)).toBe(auditExitCode(whole));
    });
  }
});
