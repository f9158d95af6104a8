import { statSync } from "node:fs";
import { isAbsolute, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { KABI_VERSION } from "../cache/kabi-version.js";
import { verdictReasonLines } from "../engine/verdict-reasons.js";
import type { AuditInput } from "./audit-report.js";
import { BLOCKING_KINDS, blockingKindsOf } from "./blocking-kinds.js";
import { ByteWriter } from "./byte-writer.js";
import { pairMessage } from "./pair-message.js";

export interface SarifOptions {
  /** The directory module paths are made relative to (the `%SRCROOT%` base of every location): the working directory. */
  cwd: string;
}

const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT = "%SRCROOT%";
const q = (x: unknown): string => JSON.stringify(x);

/** Percent-encodes each segment of a relative path (a ":" in the first one would read as a URI scheme). */
const relativeUri = (rel: string): string => rel.split(sep).map(encodeURIComponent).join("/");

/**
 * Where a module file is, as a SARIF artifactLocation: relative to `cwd` (on `%SRCROOT%`) when it
 * is under it, which is what code-hosting CI systems map onto their checkout, else a file: URI.
 */
export function artifactLocation(path: string, cwd: string): { uri: string; uriBaseId?: string } {
  const absolute = isAbsolute(path) ? path : cwd + sep + path;
  const rel = relative(cwd, absolute);
  if (rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)) return { uri: relativeUri(rel), uriBaseId: SRCROOT };
  return { uri: pathToFileURL(absolute).href };
}

/** A SARIF location: the file, and for a package member the member as a logical location inside it. */
interface SarifLocation {
  physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } };
  logicalLocations?: { name: string; fullyQualifiedName: string; kind: "module" }[];
}

/**
 * Where a module is, as a SARIF location. A package member's path is `<package path>!/<member
 * path>`: no file has that name, so the location is the package file and the member a logical
 * location in it. A path is taken as a member only when what precedes its first "!/" is a file (a
 * directory named "x!" holds real files); the answer is kept per package.
 */
class Locations {
  private readonly isPackage = new Map<string, boolean>();

  constructor(private readonly cwd: string) {}

  of(path: string): SarifLocation {
    const at = path.indexOf("!/");
    if (at > 0) {
      const pkg = path.slice(0, at);
      let isPackage = this.isPackage.get(pkg);
      if (isPackage === undefined) this.isPackage.set(pkg, (isPackage = statSync(pkg, { throwIfNoEntry: false })?.isFile() === true));
      if (isPackage) {
        const member = path.slice(at + 2);
        return {
          physicalLocation: { artifactLocation: artifactLocation(pkg, this.cwd) },
          logicalLocations: [{ name: member.slice(member.lastIndexOf("/") + 1), fullyQualifiedName: member, kind: "module" }],
        };
      }
    }
    return { physicalLocation: { artifactLocation: artifactLocation(path, this.cwd) } };
  }
}

/**
 * Writes the audit as a SARIF 2.1.0 log (what code-hosting CI systems render as code-scanning
 * findings), as it goes: one run of the tool "kabi" with one rule per kind of blocking reason
 * (BLOCKING_KINDS), and one result per incompatible (module, kernel) pair, level "error", located at
 * the module file (a package member: the package, the member a logical location), its message the
 * headline or the first reasons, every reason line and kind in its properties. Input errors are
 * the invocation's tool execution notifications (and make it unsuccessful). Each module's verdicts
 * are computed while writing and dropped after.
 */
export function writeAuditSarif(input: AuditInput, options: SarifOptions, sink: (chunk: Buffer) => void): void {
  const w = new ByteWriter(sink);
  const { kernels, modules, report, errors } = input;
  const rules = BLOCKING_KINDS.map((kind) => ({
    id: kind.id,
    name: kind.name,
    shortDescription: { text: kind.description },
    defaultConfiguration: { level: "error" },
  }));
  const driver = { name: "kabi", version: KABI_VERSION, semanticVersion: KABI_VERSION, rules };
  w.text(
    `{\n  "$schema": ${q(SARIF_SCHEMA)},\n  "version": "2.1.0",\n  "runs": [\n    {\n      "tool": {"driver": ${q(driver)}},\n` +
      `      "originalUriBaseIds": {${q(SRCROOT)}: {"uri": ${q(pathToFileURL(options.cwd + sep).href)}}},\n      "results": [`,
  );
  const locations = new Locations(options.cwd);
  let first = true;
  for (let m = 0; m < modules.length; m++) {
    let incompatible = false;
    for (let k = 0; k < kernels.length && !incompatible; k++) incompatible = report.isCandidate(m, k) && !report.isCompatible(m, k);
    if (!incompatible) continue;
    const r = modules[m];
    const location = q([locations.of(r.path)]);
    const verdicts = report.explainModule(m);
    for (let k = 0; k < kernels.length; k++) {
      const v = verdicts[k];
      if (v === null || v.compatible) continue;
      const lines = verdictReasonLines(v);
      const kinds = blockingKindsOf(v);
      const rule = kinds.length > 0 ? kinds[0] : -1;
      const release = kernels[k].release;
      const result =
        (rule >= 0 ? `{"ruleId":${q(BLOCKING_KINDS[rule].id)},"ruleIndex":${rule},` : "{") +
        `"level":"error","message":{"text":${q(`${r.name} on ${release}: ${pairMessage(v, lines, r, kernels[k])}`)}},"locations":${location},` +
        `"partialFingerprints":{"kabiPair/v1":${q(`${r.path}\u0000${release}`)}},` +
        `"properties":{"kernel":${q(release)},"module":${q(r.path)},"kinds":${q(kinds.map((i) => BLOCKING_KINDS[i].id))},"reasons":${q(lines)}}}`;
      w.text((first ? "\n        " : ",\n        ") + result);
      first = false;
    }
  }
  const notifications = errors.map((e) => ({
    level: "error",
    message: { text: e.message },
    locations: [locations.of(e.path)],
  }));
  const invocation = { executionSuccessful: errors.length === 0, toolExecutionNotifications: notifications };
  w.text(`${first ? "" : "\n      "}],\n      "invocations": [${q(invocation)}]\n    }\n  ]\n}\n`);
  w.flush();
}
