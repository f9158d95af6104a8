import { sharedMismatchSerial, type CompatibilityReport, type CrcMismatch, type PairVerdict } from "../engine/verdict.js";
import { crcMismatchJson, verdictReasonLines, VERDICT_FIELDS, type VerdictFieldKey } from "../engine/verdict-reasons.js";
import type { AuditInput, AuditKernel } from "./audit-input.js";
import { auditTotals, cellMark, displayNames, pairHeadline, type AuditTotals, type CellMark } from "./audit-summary.js";
import { ByteWriter } from "./byte-writer.js";

export type { AuditInput, AuditKernel } from "./audit-input.js";

/**
 * The exit code from the engine's bitsets (no verdict is computed): 0 when every module is
 * compatible with every kernel, 1 when some pair is not, 2 on input errors.
 */
export function auditInputExitCode(input: AuditInput): number {
  if (input.errors.length > 0) return 2;
  const { report } = input;
  for (let m = 0; m < report.moduleCount; m++) {
    for (let k = 0; k < report.kernelCount; k++) if (report.isCandidate(m, k) && !report.isCompatible(m, k)) return 1;
  }
  return 0;
}

const q = (s: string): string => JSON.stringify(s);

/** Size of the slabs mismatch fragments are cut from (~2,400 fragments each). */
const FRAGMENT_SLAB = 1 << 18;

/**
 * The JSON of each CRC mismatch, as UTF-8, with a leading comma. The engine shares one mismatch
 * among the modules that need a symbol with the same CRC from the same kernel entry, so a shared
 * one's fragment is made once, kept by its serial, and copied in again (the 6.12 tree against 12
 * kernels lists 1.1 million mismatches, 128,000 distinct). Fragments are cut from slabs, not
 * allocated one by one, and symbol and provider names are quoted once per name.
 */
class MismatchFragments {
  private readonly bySerial: (Buffer | undefined)[] = [];
  private readonly quoted = new Map<string, string>();
  private slab = Buffer.allocUnsafe(FRAGMENT_SLAB);
  private at = 0;

  get(x: CrcMismatch): Buffer {
    const serial = sharedMismatchSerial(x);
    if (serial !== undefined) {
      const made = this.bySerial[serial];
      if (made !== undefined) return made;
    }
    const text = "," + crcMismatchJson(x, this.quoteName);
    // At most 3 UTF-8 bytes per UTF-16 unit.
    if (this.at + text.length * 3 > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(FRAGMENT_SLAB, text.length * 3));
      this.at = 0;
    }
    const end = this.at + this.slab.write(text, this.at, "utf8");
    const made = this.slab.subarray(this.at, end);
    this.at = end;
    if (serial !== undefined) this.bySerial[serial] = made;
    return made;
  }

  private readonly quoteName = (name: string): string => this.quote(name);

  private quote(name: string): string {
    let json = this.quoted.get(name);
    if (json === undefined) this.quoted.set(name, (json = q(name)));
    return json;
  }
}

const OPEN_BRACKET = Buffer.from("[");
const EMPTY_LIST = Buffer.from("[]");
const CLOSE_BRACKET = Buffer.from("]");

/**
 * A JSON list of symbol names (a pair's `missing`): each name's quoted form, with a leading comma,
 * encoded once per report and copied in (a 6.12 tree against 6.1 kernels lists ~500,000).
 */
function writeNameList(w: ByteWriter, names: readonly string[], encoded: Map<string, Buffer>): void {
  if (names.length === 0) return w.bytes(EMPTY_LIST);
  w.bytes(OPEN_BRACKET);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let json = encoded.get(name);
    if (json === undefined) encoded.set(name, (json = Buffer.from("," + q(name), "utf8")));
    w.bytes(i === 0 ? json.subarray(1) : json);
  }
  w.bytes(CLOSE_BRACKET);
}

const WITHOUT_MODVERSIONS = "\nwithout modversions (judged by symbol names only, marked ok?):\n";
/** Where a kernel's configuration has CONFIG_MODVERSIONS=y, it decides: force-loaded (tainting) or refused. */
const WITHOUT_MODVERSIONS_CONFIG =
  "\nwithout modversions (where a kernel's configuration is known with CONFIG_MODVERSIONS=y: loaded, tainting, with CONFIG_MODULE_FORCE_LOAD, else refused; elsewhere judged by symbol names only, marked ok?):\n";

/** What the kernel line says of the kernel's configuration: nothing when none was found (today's rules). */
function configNote(k: AuditKernel): string {
  const c = k.config;
  if (c === null || c === undefined) return "";
  return `  config ${c.path}${c.modversions ? "" : " (no MODVERSIONS: names only)"}${c.modversions && c.moduleForceLoad ? " (MODULE_FORCE_LOAD)" : ""}${c.moduleSigForce ? " (MODULE_SIG_FORCE)" : ""}`;
}

/** `,"key":` of each field of VERDICT_FIELDS. */
const FIELD_KEYS = VERDICT_FIELDS.map((f) => Buffer.from("," + q(f.key) + ":"));

/**
 * The fields some writer below writes its own way (from cached bytes): the lists with the most
 * entries. Every field from TAIL_START on is written from VERDICT_FIELDS alone.
 */
type FastField = "missing" | "mismatched";
const isFast = (key: VerdictFieldKey): key is FastField => key === "missing" || key === "mismatched";
const TAIL_START = VERDICT_FIELDS.reduce((end, f, i) => (isFast(f.key) ? i + 1 : end), 0);
const TAIL_FIELDS = VERDICT_FIELDS.slice(TAIL_START);
const TAIL_FLAGS = TAIL_FIELDS.filter((f) => f.kind === "flag").map((f) => f.key);
/** `,"key":` of each field of TAIL_FIELDS, as text. */
const TAIL_KEYS = TAIL_FIELDS.map((f) => "," + q(f.key) + ":");

/** The start of a compatible pair (no headline), up to its first field's key. */
const COMPATIBLE_HEAD = Buffer.concat([Buffer.from('{"compatible":true,"headline":null'), FIELD_KEYS[0]]);
/** The start of an incompatible pair, up to its headline's value. */
const INCOMPATIBLE_HEAD = Buffer.from('{"compatible":false,"headline":');

/** The fields of TAIL_FIELDS that always hold a string (kind "value"), written between the pieces of a plain tail. */
const TAIL_VALUES = TAIL_FIELDS.filter((f) => f.kind === "value");

/**
 * The end of a pair whose fields from TAIL_START on are all empty (most pairs: tens of thousands in
 * a multi-kernel report), one per combination of its flags (bit i: TAIL_FLAGS[i] is true): the
 * pieces between which TAIL_VALUES' values are written.
 */
const PLAIN_TAILS: Buffer[][] = Array.from({ length: 1 << TAIL_FLAGS.length }, (_, bits) => {
  const pieces: Buffer[] = [];
  let out = "";
  for (const f of TAIL_FIELDS) {
    out += "," + q(f.key) + ":";
    if (f.kind === "value") {
      pieces.push(Buffer.from(out));
      out = "";
    } else if (f.kind === "flag") out += (bits & (1 << TAIL_FLAGS.indexOf(f.key))) !== 0 ? "true" : "false";
    else out += f.kind === "list" ? "[]" : "null";
  }
  pieces.push(Buffer.from(out + "}"));
  return pieces;
});

/** The JSON of a pair's verdict (`compatible`, `headline`, then VERDICT_FIELDS, CRCs as `0x%08x`), written directly, piece by piece. */
function writePairJson(w: ByteWriter, v: PairVerdict, headline: string | null, mismatches: MismatchFragments, names: Map<string, Buffer>): void {
  if (v.compatible) w.bytes(COMPATIBLE_HEAD);
  else {
    w.bytes(INCOMPATIBLE_HEAD);
    w.text(headline === null ? "null" : q(headline));
    w.bytes(FIELD_KEYS[0]);
  }
  for (let i = 0; i < TAIL_START; i++) {
    if (i > 0) w.bytes(FIELD_KEYS[i]);
    const key = VERDICT_FIELDS[i].key;
    if (key === "missing") writeNameList(w, v.missing, names);
    else if (key === "mismatched") writeMismatches(w, v.mismatched, mismatches);
    else w.text(VERDICT_FIELDS[i].json(v));
  }
  let plain = true;
  let bits = 0;
  for (let i = 0; i < TAIL_FIELDS.length && plain; i++) {
    const f = TAIL_FIELDS[i];
    if (f.kind === "flag") {
      if (v[f.key] === true) bits |= 1 << TAIL_FLAGS.indexOf(f.key);
    } else if (f.kind !== "value") plain = f.isEmpty(v);
  }
  if (plain) {
    const pieces = PLAIN_TAILS[bits];
    for (let i = 0; i < TAIL_VALUES.length; i++) {
      w.bytes(pieces[i]);
      w.text(TAIL_VALUES[i].json(v));
    }
    return w.bytes(pieces[TAIL_VALUES.length]);
  }
  let out = "";
  for (let i = 0; i < TAIL_FIELDS.length; i++) out += TAIL_KEYS[i] + TAIL_FIELDS[i].json(v);
  w.text(out + "}");
}

/** A pair's `mismatched`, from the fragments. */
function writeMismatches(w: ByteWriter, mismatched: readonly CrcMismatch[], mismatches: MismatchFragments): void {
  if (mismatched.length === 0) return w.bytes(EMPTY_LIST);
  w.bytes(OPEN_BRACKET);
  w.bytes(mismatches.get(mismatched[0]).subarray(1));
  for (let i = 1; i < mismatched.length; i++) w.bytes(mismatches.get(mismatched[i]));
  w.bytes(CLOSE_BRACKET);
}

/** A value pretty-printed as JSON.stringify(x, null, 2) does, at one level of indentation. */
const indented = (x: unknown): string => JSON.stringify(x, null, 2).replace(/\n/g, "\n  ");

/**
 * The `version` of the `kabi audit --json` document: 2 added `version`, `totals` and each pair's
 * `headline` (docs/audit-report.md); a document without `version` is version 1.
 */
export const AUDIT_JSON_VERSION = 2;

/**
 * Writes the `kabi audit --json` document as it goes: one
 * module per line, each pair's verdict computed while writing and dropped after, so memory stays
 * flat however many kernels and mismatches there are.
 */
export function writeAuditJson(input: AuditInput, sink: (chunk: Buffer) => void): void {
  const w = new ByteWriter(sink);
  const { kernels, modules, report } = input;
  const releaseKeys = kernels.map((k) => Buffer.from(q(k.release) + ":"));
  const commaReleaseKeys = kernels.map((k) => Buffer.from("," + q(k.release) + ":"));
  const mismatches = new MismatchFragments();
  const names = new Map<string, Buffer>();
  w.text('{\n  "version": ' + AUDIT_JSON_VERSION + ',\n  "kernels": ' + indented(kernels) + ',\n  "totals": ' + indented(auditTotals(input)) + ',\n  "modules": [');
  for (let m = 0; m < modules.length; m++) {
    const r = modules[m];
    w.text(
      (m === 0 ? "\n    " : ",\n    ") +
        '{"path":' +
        q(r.path) +
        ',"name":' +
        q(r.name) +
        ',"builtFor":' +
        q(r.builtFor) +
        ',"hasModversions":' +
        (r.hasModversions ? "true" : "false") +
        ',"kernels":{',
    );
    let first = true;
    const verdicts = report.explainModule(m);
    for (let k = 0; k < kernels.length; k++) {
      const v = verdicts[k];
      if (v === null) continue;
      w.bytes(first ? releaseKeys[k] : commaReleaseKeys[k]);
      writePairJson(w, v, v.compatible ? null : pairHeadline(v, r, kernels[k]), mismatches, names);
      first = false;
    }
    w.text("}}");
  }
  w.text((modules.length === 0 ? "]" : "\n  ]") + ',\n  "errors": ' + indented(input.errors) + ',\n  "symversProblems": ' + indented(input.symversProblems) + "\n}\n");
  w.flush();
}

/** What the text report is made from (the streamed report, or a whole-report model in the tests). */
export interface TextRows {
  kernels: readonly AuditKernel[];
  /** `name`: what the matrix and the reasons show (displayNames). */
  modules: readonly { name: string; builtFor: string; hasModversions: boolean }[];
  /** The matrix cell of module m on kernel k. */
  mark(m: number, k: number): CellMark;
  /** The headline of an incompatible pair (pairHeadline), asked only of `NO` cells. */
  headline(m: number, k: number): string | null;
  /** The blocking reasons of an incompatible pair, asked only of `NO` cells. */
  reasons(m: number, k: number): string[];
  totals: AuditTotals;
}

/** How the text report is written; the CLI decides (`--verbose`, `--summary`, a terminal that takes colours). */
export interface TextOptions {
  /** Every reason line of every incompatible pair, under its headline. */
  verbose?: boolean;
  /** The kernels, the headlines grouped per kernel and the totals: no matrix, no reason lines. */
  summary?: boolean;
  /** ANSI colours on the matrix cells (NO red, ok green, ok? yellow). */
  color?: boolean;
}

/** SGR foreground colours, reset by 39 (default foreground) so nothing else is touched. */
const CELL_COLOR: Record<CellMark, string | null> = { "-": null, ok: "\x1b[32m", "ok?": "\x1b[33m", NO: "\x1b[31m" };
const COLOR_END = "\x1b[39m";

const count = (n: number, one: string, many = one + "s"): string => `${n} ${n === 1 ? one : many}`;

/**
 * The text report: the kernels, a compact matrix (modules × kernels), the blocking reasons per
 * incompatible pair (its headline alone when it has one, every line with `verbose`), the modules
 * judged by names only, and the totals per kernel. With `summary`: the kernels, the headlines
 * grouped per kernel, and the totals.
 */
export function writeText(rows: TextRows, sink: (chunk: Buffer) => void, options: TextOptions = {}): void {
  const w = new ByteWriter(sink);
  const { kernels, modules } = rows;
  w.text("kernels:\n");
  kernels.forEach((k, i) => w.text(`  [${i + 1}] ${k.release}  (${k.symvers})${k.strictModversions === true ? "  strict modversions" : ""}${configNote(k)}\n`));
  if (options.summary === true) writeHeadlineGroups(w, rows);
  else {
    writeMatrix(w, rows, options.color === true);
    writeBlocking(w, rows, options.verbose === true);
    let unjudged = false;
    for (const m of modules) {
      if (m.hasModversions) continue;
      if (!unjudged) w.text(kernels.some((k) => k.config?.modversions === true) ? WITHOUT_MODVERSIONS_CONFIG : WITHOUT_MODVERSIONS);
      unjudged = true;
      w.text(`  ${m.name}\n`);
    }
  }
  writeTotals(w, rows.totals);
  w.flush();
}

function writeMatrix(w: ByteWriter, rows: TextRows, color: boolean): void {
  const { kernels, modules } = rows;
  // As wide as the longest name shown, not the longest path given.
  let nameWidth = 6;
  let builtWidth = 9;
  for (const m of modules) {
    if (m.name.length > nameWidth) nameWidth = m.name.length;
    if (m.builtFor.length > builtWidth) builtWidth = m.builtFor.length;
  }
  const colWidth = Math.max(3, String(kernels.length).length + 2);
  const cols = kernels.map((_, i) => `[${i + 1}]`.padStart(colWidth)).join(" ");
  w.text(`\n${"module".padEnd(nameWidth)}  ${"built for".padEnd(builtWidth)}  ${cols}\n`);
  for (let m = 0; m < modules.length; m++) {
    let cells = "";
    for (let k = 0; k < kernels.length; k++) {
      const mark = rows.mark(m, k);
      const start = color ? CELL_COLOR[mark] : null;
      // Padded first, so the escapes take no column.
      cells += (k === 0 ? "" : " ") + (start === null ? mark.padStart(colWidth) : " ".repeat(colWidth - mark.length) + start + mark + COLOR_END);
    }
    w.text(`${modules[m].name.padEnd(nameWidth)}  ${modules[m].builtFor.padEnd(builtWidth)}  ${cells}\n`);
  }
}

function writeBlocking(w: ByteWriter, rows: TextRows, verbose: boolean): void {
  const { kernels, modules } = rows;
  let blocking = false;
  for (let m = 0; m < modules.length; m++) {
    for (let k = 0; k < kernels.length; k++) {
      if (rows.mark(m, k) !== "NO") continue;
      if (!blocking) w.text(verbose ? "\nblocking:\n" : "\nblocking (a headline stands for its reasons; --verbose lists them all):\n");
      blocking = true;
      const headline = rows.headline(m, k);
      let text = `  ${modules[m].name} on ${kernels[k].release}:\n`;
      if (headline !== null) text += `    ${headline}\n`;
      if (headline === null || verbose) {
        const indent = headline === null ? "    " : "      ";
        for (const reason of rows.reasons(m, k)) text += indent + reason + "\n";
      }
      w.text(text);
    }
  }
}

/**
 * `--summary`: per kernel, the incompatible pairs grouped by headline (most modules first; a group
 * of one names its module), pairs without a headline as one group. Only the groups are kept.
 */
function writeHeadlineGroups(w: ByteWriter, rows: TextRows): void {
  const { kernels, modules } = rows;
  const groups = kernels.map(() => new Map<string | null, { modules: number; first: number }>());
  for (let m = 0; m < modules.length; m++) {
    for (let k = 0; k < kernels.length; k++) {
      if (rows.mark(m, k) !== "NO") continue;
      const headline = rows.headline(m, k);
      const group = groups[k].get(headline);
      if (group === undefined) groups[k].set(headline, { modules: 1, first: m });
      else group.modules++;
    }
  }
  if (groups.every((g) => g.size === 0)) return;
  w.text("\nblocking:\n");
  groups.forEach((byHeadline, k) => {
    // Stable: equal counts keep the order they were first seen in.
    const sorted = [...byHeadline].sort((a, b) => b[1].modules - a[1].modules);
    for (const [headline, g] of sorted) {
      const who = g.modules === 1 ? modules[g.first].name : `${g.modules} modules`;
      w.text(`  ${who} on ${kernels[k].release}: ${headline ?? "more than one cause (the report without --summary lists them)"}\n`);
    }
  });
}

function writeTotals(w: ByteWriter, totals: AuditTotals): void {
  let head = `\ntotals: ${count(totals.modules, "module")}, ${count(totals.kernels.length, "kernel")}`;
  if (totals.errors > 0) head += `, ${count(totals.errors, "input error")} (not audited: see the messages on stderr)`;
  w.text(head + "\n");
  const width = totals.kernels.reduce((n, k) => Math.max(n, k.release.length), 0);
  const labelWidth = `[${totals.kernels.length}]`.length;
  totals.kernels.forEach((k, i) => {
    let line = `  ${`[${i + 1}]`.padEnd(labelWidth)} ${k.release.padEnd(width)}  ${k.compatible} compatible, ${k.namesOnly} judged by names only, ${k.incompatible} incompatible`;
    if (k.notJudged > 0) line += `, ${k.notJudged} not judged`;
    w.text(line + "\n");
  });
}

/** The text report of `input`, written as it goes (verdicts computed per module and dropped). */
export function writeAuditText(input: AuditInput, sink: (chunk: Buffer) => void, options: TextOptions = {}): void {
  const { report, modules, kernels } = input;
  const names = displayNames(input);
  let explainedModule = -1;
  let explained: (PairVerdict | null)[] = [];
  // Incompatible pairs are visited module by module, kernels in order: one pass per module.
  const verdict = (m: number, k: number): PairVerdict => {
    if (m !== explainedModule) {
      explainedModule = m;
      explained = report.explainModule(m);
    }
    return explained[k]!;
  };
  writeText(
    {
      kernels,
      modules: modules.map((r, m) => ({ name: names[m], builtFor: r.builtFor, hasModversions: r.hasModversions })),
      mark: (m, k) => cellMark(input, m, k),
      headline: (m, k) => pairHeadline(verdict(m, k), modules[m], kernels[k]),
      reasons: (m, k) => verdictReasonLines(verdict(m, k)),
      totals: auditTotals(input),
    },
    sink,
    options,
  );
}
