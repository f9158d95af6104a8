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

/**
 * Writes the audit as a SARIF 2.1.0 log (what code-hosting CI systems render as code-scanning
 * findings), as it goes: one run of the tool "kabi" with one rule per kind of blocking reason
 * (BLOCKING_KINDS), and one result per incompatible (module, kernel) pair, level "error", located at
 * the module file, its message the headline or the first reasons, every reason line and kind in
 * its properties. Input errors are the invocation's tool execution notifications (and make it
 * unsuccessful). Each module's verdicts are computed while writing and dropped after.
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
  let first = true;
  for (let m = 0; m < modules.length; m++) {
    let incompatible = false;
    for (let k = 0; k < kernels.length && !incompatible; k++) incompatible = report.isCandidate(m, k) && !report.isCompatible(m, k);
    if (!incompatible) continue;
    const r = modules[m];
    const location = q([{ physicalLocation: { artifactLocation: artifactLocation(r.path, options.cwd) } }]);
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
    locations: [{ physicalLocation: { artifactLocation: artifactLocation(e.path, options.cwd) } }],
  }));
  const invocation = { executionSuccessful: errors.length === 0, toolExecutionNotifications: notifications };
  w.text(`${first ? "" : "\n      "}],\n      "invocations": [${q(invocation)}]\n    }\n  ]\n}\n`);
  w.flush();
}
