import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { auditInputExitCode, writeAuditJson, writeAuditText, type AuditInput, type TextOptions } from "../../src/audit/audit-report.js";
import { displayNames } from "../../src/audit/audit-summary.js";
import { evaluate } from "../../src/engine/index.js";
import { readModules } from "../../src/load/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { committedModules, MODULE_FIXTURES, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { auditExitCode, buildAuditReport, formatAuditText } from "./whole-report.js";

const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.1.0-55-amd64", "6.12.113+deb12-amd64", "6.12.117+deb12-amd64"];

/** `strict`: which kernels (by index) are judged with strict modversions. */
async function input(paths: string[], releases: string[], strict: (k: number) => boolean = () => false): Promise<AuditInput> {
  const kernels = await Promise.all(
    releases.map(async (release, k) => {
      const file = join(ROOT, "fixtures/symvers", `${release}.symvers.gz`);
      return { release, symvers: await readSymvers(file), symversPath: file, strictModversions: strict(k) };
    }),
  );
  const read = await readModules(paths, { workers: 1 });
  return {
    kernels: kernels.map((k) => (k.strictModversions ? { release: k.release, symvers: k.symversPath, strictModversions: true as const } : { release: k.release, symvers: k.symversPath })),
    modules: read.records,
    report: evaluate(read.records, kernels),
    errors: read.errors,
    symversProblems: [],
    operands: paths,
  };
}

function collect(write: (sink: (chunk: Buffer) => void) => void): string {
  const parts: Buffer[] = [];
  write((chunk) => parts.push(chunk));
  return Buffer.concat(parts).toString("utf8");
}

describe("streamed audit output", () => {
  const kbuild = () => committedModules(join(MODULE_FIXTURES, "6.1.0-53-amd64"));
  const sets: [string, () => string[], ((k: number) => boolean)?][] = [
    ["kbuild fixtures", kbuild],
    ["real sample", () => [...committedModules(join(REAL_SAMPLE, "amd64-6.1")), ...committedModules(join(REAL_SAMPLE, "amd64-6.12"))]],
    ["no modules", () => []],
    // proprietaryTaint on kabi_taint_consumer and kabi_taint_relay_user.
    ["kbuild fixtures with the proprietary-taint ones", () => [...kbuild(), ...committedModules(join(MODULE_FIXTURES, "proprietary-taint", "6.1.0-53-amd64"))]],
    // noSymbolVersion on the strict kernels (kabi_consumer_nosymvers), none on the others.
    ["kbuild fixtures, some kernels strict", kbuild, (k) => k % 2 === 0],
  ];
  for (const [label, paths, strict] of sets) {
    it(`${label}: the JSON document and the text equal those of the whole AuditReport`, async () => {
      const a = await input(paths(), RELEASES, strict);
      const json = collect((sink) => writeAuditJson(a, sink));
      const variants: TextOptions[] = [{}, { verbose: true }, { summary: true }, { color: true }];
      const texts = variants.map((options) => collect((sink) => writeAuditText(a, sink, options)));
      // The whole report, built from a fresh evaluation so no verdict is shared with the streamed pass.
      const b = await input(paths(), RELEASES, strict);
      const whole = buildAuditReport(b.kernels, b.modules, b.report, [...b.errors], [...b.symversProblems]);
      expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(whole)));
      // Byte for byte: each module's line is JSON.stringify of its object (same keys, same order).
      const lines = json.split("\n").filter((l) => l.startsWith('    {"path":'));
      expect(lines.map((l) => l.slice(4).replace(/,$/, ""))).toEqual(whole.modules.map((m) => JSON.stringify(m)));
      if (strict !== undefined) expect(json).toMatch(/"noSymbolVersion":\[\{"symbol":"kabi_provider_/);
      const names = displayNames(a);
      variants.forEach((options, i) => expect(texts[i], JSON.stringify(options)).toBe(formatAuditText(whole, names, options)));
      expect(auditInputExitCode(a)).toBe(auditExitCode(whole));
    });
  }
});

describe("streamed audit output, CRC mismatch against a candidate module's export", () => {
  it("writes the mismatches the engine does not share (provider: a module) as the whole report does", async () => {
    // kabi_consumer with its modversion of kabi_provider_add changed (derived): the candidate
    // kabi_provider exports it with another CRC, on every kernel.
    const dir = join(MODULE_FIXTURES, "6.1.0-53-amd64");
    const make = async () => {
      const a = await input([join(dir, "kabi_provider.ko"), join(dir, "kabi_consumer.ko")], RELEASES);
      const [provider, consumer] = a.modules;
      const derived = { ...consumer!, modversions: consumer!.modversions.map((m) => (m.symbol === "kabi_provider_add" ? { ...m, crc: 0x12345678 } : m)) };
      const kernels = await Promise.all(RELEASES.map(async (release) => ({ release, symvers: await readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`)) })));
      return { ...a, modules: [provider!, derived], report: evaluate([provider!, derived], kernels) };
    };
    const a = await make();
    const json = collect((sink) => writeAuditJson(a, sink));
    const b = await make();
    const whole = buildAuditReport(b.kernels, b.modules, b.report, [...b.errors], [...b.symversProblems]);
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(whole)));
    const onK53 = whole.modules[1]!.kernels["6.1.0-53-amd64"]!;
    expect(onK53.mismatched).toContainEqual({ symbol: "kabi_provider_add", moduleCrc: "0x12345678", kernelCrc: "0x355d2822", provider: "kabi_provider" });
  });
});
