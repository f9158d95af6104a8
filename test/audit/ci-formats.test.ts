/**
 * `kabi audit --format junit|sarif`, checked by tools that are not kabi's: the JUnit XML against
 * Jenkins' junit-10.xsd with xmllint (libxml2-utils) and read back by Python's XML parser; the SARIF
 * log against the SARIF 2.1.0 JSON schema of OASIS with Python's jsonschema (python3-jsonschema).
 * What each must say comes from the JSON report of the same audit: its pairs, fed to
 * verdictReasonLines, are the oracle for every test case and result.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { writeAuditJson, type AuditInput } from "../../src/audit/audit-report.js";
import { BLOCKING_KINDS } from "../../src/audit/blocking-kinds.js";
import { writeAuditJunit } from "../../src/audit/junit-report.js";
import { writeAuditSarif } from "../../src/audit/sarif-report.js";
import { auditCommand } from "../../src/cli/audit.js";
import { evaluate } from "../../src/engine/index.js";
import { verdictReasonLines, type ReasonSource } from "../../src/engine/verdict-reasons.js";
import { readModules } from "../../src/load/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { captureIO } from "../helpers/capture-io.js";
import { fixtureSymversText, symversLine } from "../helpers/symvers-edit.js";
import { committedModules, MODULE_FIXTURES, REAL_SAMPLE, ROOT } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

/** Fixture kernels, and an edited one (below). */
const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64", "6.1.0-53-edited"];
const FIXTURES = join(ROOT, "test/audit/fixtures");
const ORACLE = join(ROOT, "test/helpers/ci-formats-oracle.py");

/** A Python that has the jsonschema package (python3-jsonschema), or null. */
const PYTHON = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import jsonschema"], { stdio: "ignore" }).status === 0) ?? null;
const XMLLINT = commandPresent("xmllint", ["--version"]);

const work = mkdtempSync(join(tmpdir(), "kabi-ci-formats-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A module file whose name holds every character XML and URIs need care with, a C0 control among them. */
const WEIRD = join(work, `we<ird> & "q" 'a'\t\u0001\n%20.ko`);
copyFileSync(join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_no_import_ns.ko"), WEIRD);
/**
 * 6.1.0-53-amd64's symvers with __alloc_skb's CRC changed and skb_put gone: kabi_provider gets a
 * CRC mismatch and a missing symbol on it, two causes and no ABI change, so no headline.
 */
const EDITED = join(work, "6.1.0-53-edited.symvers");
{
  const text = fixtureSymversText("6.1.0-53-amd64");
  const alloc = symversLine(text, "__alloc_skb");
  writeFileSync(
    EDITED,
    text
      .split("\n")
      .filter((l) => l.split("\t")[1] !== "skb_put")
      .map((l) => (l.split("\t")[1] === "__alloc_skb" ? ["0x00c0ffee", ...alloc.slice(1)].join("\t") : l))
      .join("\n"),
  );
}
/** A package (only its being a file matters here) and the member path a record from it has. */
const PACKAGE = join(work, "kabi-modules_1.0_amd64.deb");
writeFileSync(PACKAGE, "!<arch>\n");
const MEMBER = "lib/modules/6.1.0-53-amd64/updates/kabi_consumer.ko";
/**
 * A folder whose name ends in "!": a module under it is a file, not a package member, even when
 * what precedes the "!/" exists (a folder "vendor" beside it).
 */
const BANG = join(work, "vendor!", "kabi_provider.ko");
mkdirSync(dirname(BANG));
mkdirSync(join(work, "vendor"));
copyFileSync(join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_provider.ko"), BANG);
/** Not a module: an input error. */
const JUNK = join(work, "junk.ko");
writeFileSync(JUNK, "not an ELF file\n");

/**
 * The audit of the kbuild fixtures, the real sample, the odd name and the junk file against three
 * kernels; the first module is made no candidate on the second kernel (a pair not judged).
 */
async function auditInput(): Promise<AuditInput> {
  const paths = [
    ...committedModules(join(MODULE_FIXTURES, "6.1.0-53-amd64")),
    ...committedModules(join(MODULE_FIXTURES, "proprietary-taint", "6.1.0-53-amd64")),
    ...committedModules(join(REAL_SAMPLE, "amd64-6.1")),
    ...committedModules(join(REAL_SAMPLE, "amd64-6.12")),
    WEIRD,
    BANG,
    JUNK,
  ];
  const kernels = await Promise.all(
    RELEASES.map(async (release) => {
      const file = release === "6.1.0-53-edited" ? EDITED : join(ROOT, "fixtures/symvers", `${release}.symvers.gz`);
      return { release, symvers: await readSymvers(file), symversPath: file };
    }),
  );
  const read = await readModules(paths, { workers: 1 });
  // A package member's record, as package input names it: `<package>!/<member>`.
  const member = read.records.find((r) => r.path.endsWith("/6.1.0-53-amd64/kabi_consumer.ko"))!;
  read.records.push({ ...member, path: `${PACKAGE}!/${MEMBER}` });
  return {
    operands: paths,
    kernels: kernels.map((k) => ({ release: k.release, symvers: k.symversPath })),
    modules: read.records,
    report: evaluate(read.records, kernels, { isCandidate: (m, k) => !(m === 0 && k === 1) }),
    errors: read.errors,
    symversProblems: [],
  };
}

function collect(write: (sink: (chunk: Buffer) => void) => void): string {
  const parts: Buffer[] = [];
  write((chunk) => parts.push(chunk));
  return Buffer.concat(parts).toString("utf8");
}

type JsonPair = ReasonSource & { compatible: boolean; headline: string | null };
interface JsonReport {
  modules: { path: string; hasModversions: boolean; kernels: Record<string, JsonPair | undefined> }[];
  errors: { path: string; message: string }[];
}

/** The oracle: the JSON report of the same input. */
const jsonReport = (input: AuditInput): JsonReport => JSON.parse(collect((sink) => writeAuditJson(input, sink))) as JsonReport;

function oracle(args: string[]): unknown {
  const r = spawnSync(PYTHON!, [ORACLE, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

interface ParsedCase {
  attrs: Record<string, string>;
  outcome: { tag: "failure" | "error" | "skipped"; attrs: Record<string, string>; text: string } | null;
  systemOut: string | null;
  children: string[];
}
interface ParsedJunit {
  tag: string;
  attrs: Record<string, string>;
  suites: { attrs: Record<string, string>; properties: Record<string, string>; cases: ParsedCase[] }[];
}

/** The first blocking kind of a pair, from its JSON fields (the order of the reason lines). */
const firstKind = (pair: JsonPair): string => {
  const kind = BLOCKING_KINDS.find((k) => {
    const value = (pair as unknown as Record<string, unknown>)[k.field];
    return Array.isArray(value) ? value.length > 0 : value !== null;
  });
  return kind!.id;
};

describe("kabi audit --format junit", () => {
  it("is valid against junit-10.xsd, and every suite and test case says what the JSON report says", async (ctx) => {
    requireUnderCi(XMLLINT, "xmllint (Debian: libxml2-utils)", () => ctx.skip());
    requireUnderCi(PYTHON !== null, "python3 with jsonschema (Debian: python3-jsonschema)", () => ctx.skip());
    const input = await auditInput();
    const file = join(work, "audit.xml");
    writeFileSync(file, collect((sink) => writeAuditJunit(input, sink)));
    const lint = spawnSync("xmllint", ["--noout", "--schema", join(FIXTURES, "junit-10.xsd"), file], { encoding: "utf8" });
    expect(lint.stderr.trim()).toBe(`${file} validates`);
    expect(lint.status).toBe(0);

    const json = jsonReport(input);
    const doc = oracle(["junit", file]) as ParsedJunit;
    expect(doc.tag).toBe("testsuites");
    expect(json.errors.length).toBeGreaterThan(0);
    expect(doc.suites.map((s) => s.attrs.name)).toEqual([...RELEASES, "input errors"]);
    let tests = 0;
    let failures = 0;
    const seen = new Set<string>();
    RELEASES.forEach((release, k) => {
      const suite = doc.suites[k]!;
      expect(suite.properties).toEqual({ symvers: input.kernels[k]!.symvers });
      expect(suite.cases.length).toBe(json.modules.length);
      suite.cases.forEach((c, m) => {
        const module = json.modules[m]!;
        const pair = module.kernels[release];
        // Control characters cannot be in XML 1.0 at all: shown escaped; everything else as it is.
        expect(c.attrs).toEqual({ classname: release, name: module.path.replace("\u0001", "\\x01") });
        if (pair === undefined) {
          expect(c.outcome?.tag).toBe("skipped");
          seen.add("skipped");
        } else if (pair.compatible) {
          expect(c.outcome).toBeNull();
          expect(c.systemOut !== null).toBe(!module.hasModversions);
          seen.add(module.hasModversions ? "ok" : "ok?");
        } else {
          const lines = verdictReasonLines(pair);
          expect(c.outcome?.tag).toBe("failure");
          expect(c.outcome!.text).toBe(lines.map((l) => l + "\n").join(""));
          expect(c.outcome!.attrs.type).toBe(firstKind(pair));
          // The message: the pair's headline when it has one (the JSON report's), else its first reasons.
          if (pair.headline !== null) expect(c.outcome!.attrs.message).toBe(pair.headline);
          else expect(c.outcome!.attrs.message).toContain(lines[0]!);
          seen.add(pair.headline !== null ? "headline" : "reasons");
          seen.add("NO");
        }
      });
      const count = (tag: string) => suite.cases.filter((c) => c.outcome?.tag === tag).length;
      expect(suite.attrs).toMatchObject({ tests: String(suite.cases.length), failures: String(count("failure")), errors: "0", skipped: String(count("skipped")) });
      tests += suite.cases.length;
      failures += count("failure");
    });
    expect([...seen].sort()).toEqual(["NO", "headline", "ok", "ok?", "reasons", "skipped"]);
    const errors = doc.suites[RELEASES.length]!;
    expect(errors.cases.map((c) => [c.attrs.name, c.outcome?.tag, c.outcome?.text])).toEqual(json.errors.map((e) => [e.path, "error", e.message]));
    expect(errors.attrs).toMatchObject({ tests: String(json.errors.length), errors: String(json.errors.length), failures: "0" });
    expect(doc.attrs).toEqual({ name: "kabi audit", tests: String(tests + json.errors.length), failures: String(failures), errors: String(json.errors.length) });
    // The odd name survived: tab and newline inside an attribute are character references.
    expect(doc.suites[0]!.cases.some((c) => c.attrs.name.includes("\t\\x01\n%20"))).toBe(true);
  });
});

describe("kabi audit --format junit: text XML 1.0 cannot carry", () => {
  it("every C0 control, U+FFFE, U+FFFF and lone surrogates are written as visible escapes; the document stays valid", (ctx) => {
    requireUnderCi(XMLLINT, "xmllint (Debian: libxml2-utils)", () => ctx.skip());
    requireUnderCi(PYTHON !== null, "python3 with jsonschema (Debian: python3-jsonschema)", () => ctx.skip());
    const c0 = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("");
    const nasty = `a${c0}b\ufffe\uffffc\ud800d\udc00e\ud83d\ude00f<&>"'`;
    // An input error's path and message are the only texts here (no kernel, no module).
    const input: AuditInput = { operands: [], kernels: [], modules: [], report: evaluate([], []), errors: [{ path: nasty, message: nasty }], symversProblems: [] };
    const file = join(work, "nasty.xml");
    writeFileSync(file, collect((sink) => writeAuditJunit(input, sink)));
    const lint = spawnSync("xmllint", ["--noout", "--schema", join(FIXTURES, "junit-10.xsd"), file], { encoding: "utf8" });
    expect(lint.status).toBe(0);
    const doc = oracle(["junit", file]) as ParsedJunit;
    const c = doc.suites[0]!.cases[0]!;
    // What a reader gets back: tab, newline and carriage return kept (in the attribute as references;
    // in the text, a carriage return as one), the rest of C0 and the non-characters escaped, a
    // well-formed pair (the emoji) kept.
    const shown =
      "a" +
      Array.from({ length: 32 }, (_, i) => (i === 9 || i === 10 || i === 13 ? String.fromCharCode(i) : `\\x${i.toString(16).padStart(2, "0")}`)).join("") +
      `b\\ufffe\\uffffc\\ud800d\\udc00e\ud83d\ude00f<&>"'`;
    expect(c.attrs.name).toBe(shown);
    expect(c.outcome!.attrs.message).toBe(shown);
    expect(c.outcome!.text).toBe(shown);
  });
});

interface SarifLog {
  runs: {
    tool: { driver: { rules: { id: string }[] } };
    originalUriBaseIds: Record<string, { uri: string }>;
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } }; logicalLocations?: { fullyQualifiedName: string }[] }[];
      properties: { kernel: string; module: string; kinds: string[]; reasons: string[] };
    }[];
    invocations: { executionSuccessful: boolean; toolExecutionNotifications: { message: { text: string } }[] }[];
  }[];
}

describe("kabi audit --format sarif", () => {
  it("is valid against the SARIF 2.1.0 schema, with one result per incompatible pair located at its module file", async (ctx) => {
    requireUnderCi(PYTHON !== null, "python3 with jsonschema (Debian: python3-jsonschema)", () => ctx.skip());
    const input = await auditInput();
    const json = jsonReport(input);
    // Under ROOT the repository's modules get relative URIs and the temporary ones file: URIs; under tmpdir the reverse.
    for (const cwd of [ROOT.replace(/\/$/, ""), tmpdir()]) {
      const file = join(work, "audit.sarif");
      writeFileSync(file, collect((sink) => writeAuditSarif(input, { cwd }, sink)));
      expect(oracle(["sarif", join(FIXTURES, "sarif-schema-2.1.0.json"), file])).toEqual([]);
      const log = JSON.parse(readFileSync(file, "utf8")) as SarifLog;
      expect(log.runs.length).toBe(1);
      const run = log.runs[0]!;
      const rules = run.tool.driver.rules.map((r) => r.id);
      expect(new Set(rules).size).toBe(rules.length);
      const expected: [string, string, string[]][] = [];
      for (const m of json.modules) {
        for (const release of RELEASES) {
          const pair = m.kernels[release];
          if (pair !== undefined && !pair.compatible) expected.push([m.path, release, verdictReasonLines(pair)]);
        }
      }
      expect(run.results.map((r) => [r.properties.module, r.properties.kernel, r.properties.reasons])).toEqual(expected);
      const relative = new Set<string>();
      for (const r of run.results) {
        const pair = json.modules.find((m) => m.path === r.properties.module)!.kernels[r.properties.kernel]!;
        expect(r.level).toBe("error");
        expect(rules[r.ruleIndex]).toBe(r.ruleId);
        expect(r.ruleId).toBe(firstKind(pair));
        expect(r.message.text).toContain(pair.headline ?? r.properties.reasons[0]!);
        // A URI reference has only RFC 3986's characters (a SARIF viewer need not repair one), and
        // resolved as a viewer does (the WHATWG URL parser) it is the module file.
        const { uri, uriBaseId } = r.locations[0]!.physicalLocation.artifactLocation;
        expect(uri).toMatch(/^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/);
        const url = uriBaseId !== undefined ? new URL(uri, run.originalUriBaseIds[uriBaseId]!.uri) : new URL(uri);
        // A package member is located at its package, the member a logical location in it.
        const inPackage = r.properties.module.startsWith(`${PACKAGE}!/`);
        expect(fileURLToPath(url)).toBe(inPackage ? PACKAGE : resolve(cwd, r.properties.module));
        expect(r.locations[0]!.logicalLocations?.map((l) => l.fullyQualifiedName)).toEqual(inPackage ? [MEMBER] : undefined);
        if (uriBaseId !== undefined) relative.add(r.properties.module);
      }
      expect(relative.size).toBeGreaterThan(0);
      expect(relative.has(WEIRD)).toBe(cwd === tmpdir());
      expect(run.results.some((r) => r.properties.module === BANG)).toBe(true);
      expect(run.results.some((r) => r.properties.module === `${PACKAGE}!/${MEMBER}`)).toBe(true);
      expect(run.invocations[0]!.executionSuccessful).toBe(false);
      expect(run.invocations[0]!.toolExecutionNotifications.map((n) => n.message.text)).toEqual(json.errors.map((e) => e.message));
    }
  });
});

describe("kabi audit --format", () => {
  const symvers = RELEASES.slice(0, 3).map((r) => `--symvers=${r}=${join(ROOT, "fixtures/symvers", `${r}.symvers.gz`)}`);
  const modules = join(MODULE_FIXTURES, "6.1.0-53-amd64");
  const run = async (...args: string[]) => {
    const io = captureIO();
    const code = await auditCommand([...args, "--no-cache", ...symvers, modules], io);
    return { code, stdout: io.stdout, stderr: io.stderr };
  };

  it("--json is --format json; two different formats, or an unknown one, are a usage error (exit 2)", async () => {
    const json = await run("--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toHaveProperty("modules");
    for (const same of [["--format", "json"], ["--json", "--format=json"]]) expect(await run(...same)).toEqual(json);
    for (const [args, message] of [
      [["--json", "--format", "sarif"], "--format json and --format sarif cannot be combined"],
      [["--format", "junit", "--format=sarif"], "--format junit and --format sarif cannot be combined"],
      [["--format", "xml"], "--format xml: unknown format"],
    ] as const) {
      const r = await run(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(message);
    }
    const junit = await run("--format", "junit");
    expect(junit.code).toBe(1);
    expect(junit.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')).toBe(true);
    const sarif = await run("--format", "sarif");
    expect(sarif.code).toBe(1);
    expect(JSON.parse(sarif.stdout)).toMatchObject({ version: "2.1.0" });
  });
});
