import { verdictReasonLines } from "../engine/verdict-reasons.js";
import type { AuditInput } from "./audit-report.js";
import { BLOCKING_KINDS, blockingKindsOf } from "./blocking-kinds.js";
import { ByteWriter } from "./byte-writer.js";
import { pairMessage } from "./pair-message.js";
import { xmlAttribute, xmlText } from "./xml-text.js";

/** The suite input errors are reported in (a kernel release never has a space). */
export const INPUT_ERRORS_SUITE = "input errors";

/** Per kernel: the test cases and how they came out, from the engine's bitsets (no verdict computed). */
interface SuiteCounts {
  tests: number;
  failures: number;
  skipped: number;
}

function suiteCounts(input: AuditInput, k: number): SuiteCounts {
  const { report } = input;
  const out = { tests: input.modules.length, failures: 0, skipped: 0 };
  for (let m = 0; m < input.modules.length; m++) {
    if (!report.isCandidate(m, k)) out.skipped++;
    else if (!report.isCompatible(m, k)) out.failures++;
  }
  return out;
}

/**
 * Writes the audit as JUnit XML (the Ant/Jenkins dialect every CI test-report view reads), as it
 * goes: one <testsuite> per kernel, one <testcase> per module on it (classname: the kernel
 * release, name: the module path), failing with the blocking reasons: the message is the headline
 * or the first reasons, the body every reason line. A pair that is not judged (the module is not
 * a candidate on that kernel) is <skipped>. Input errors are <error> test cases of a suite of
 * their own. The counts of each suite come from the engine's bitsets; each incompatible pair's
 * verdict is computed while writing and dropped after.
 */
export function writeAuditJunit(input: AuditInput, sink: (chunk: Buffer) => void): void {
  const w = new ByteWriter(sink);
  const { kernels, modules, report, errors } = input;
  const counts = kernels.map((_, k) => suiteCounts(input, k));
  const total = counts.reduce((t, c) => ({ tests: t.tests + c.tests, failures: t.failures + c.failures }), { tests: errors.length, failures: 0 });
  w.text(`<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kabi audit" tests="${total.tests}" failures="${total.failures}" errors="${errors.length}">\n`);
  const names = modules.map((r) => `name="${xmlAttribute(r.path)}"`);
  for (let k = 0; k < kernels.length; k++) {
    const release = xmlAttribute(kernels[k].release);
    const c = counts[k];
    w.text(`  <testsuite name="${release}" tests="${c.tests}" failures="${c.failures}" errors="0" skipped="${c.skipped}">\n`);
    w.text(`    <properties><property name="symvers" value="${xmlAttribute(kernels[k].symvers)}"/></properties>\n`);
    for (let m = 0; m < modules.length; m++) {
      const head = `    <testcase classname="${release}" ${names[m]}`;
      if (!report.isCandidate(m, k)) {
        w.text(`${head}><skipped message="not judged: the module is not a candidate for this kernel"/></testcase>\n`);
        continue;
      }
      if (report.isCompatible(m, k)) {
        w.text(modules[m].hasModversions ? `${head}/>\n` : `${head}><system-out>compatible by symbol names only: the module has no modversions</system-out></testcase>\n`);
        continue;
      }
      const v = report.explain(m, k)!;
      const lines = verdictReasonLines(v);
      const kinds = blockingKindsOf(v);
      const type = kinds.length > 0 ? BLOCKING_KINDS[kinds[0]].id : "kabi/incompatible";
      let text = `${head}><failure type="${type}" message="${xmlAttribute(pairMessage(v, lines, modules[m], kernels[k]))}">`;
      for (const line of lines) text += xmlText(line) + "\n";
      w.text(text + "</failure></testcase>\n");
    }
    w.text("  </testsuite>\n");
  }
  if (errors.length > 0) {
    w.text(`  <testsuite name="${INPUT_ERRORS_SUITE}" tests="${errors.length}" failures="0" errors="${errors.length}" skipped="0">\n`);
    for (const e of errors) {
      w.text(`    <testcase classname="${INPUT_ERRORS_SUITE}" name="${xmlAttribute(e.path)}"><error type="kabi/input-error" message="${xmlAttribute(e.message)}">${xmlText(e.message)}</error></testcase>\n`);
    }
    w.text("  </testsuite>\n");
  }
  w.text("</testsuites>\n");
  w.flush();
}
