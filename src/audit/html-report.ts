/**
 * `kabi audit --html FILE`: the audit as one self-contained page (inline style and script, the
 * data as JSON in the page; no network, no other file), the modules × kernels matrix coloured by
 * verdict, with totals, a filter, and each cell's blocking reasons. See docs/html-report.md.
 */
import { verdictReasonLines } from "../engine/verdict-reasons.js";
import { replaceFileOrError } from "../root/replace-file.js";
import { FileError, toFileError } from "../types/errors.js";
import type { AuditInput } from "./audit-report.js";
import { auditTotals, cellMark, displayNames, pairHeadline, type AuditTotals, type CellMark } from "./audit-summary.js";
import { PAGE_SCRIPT } from "./html/page-script.js";
import { PAGE_STYLE } from "./html/page-style.js";

/** One character per matrix cell in the page's data (`marks`), by CellMark. */
const MARK_CHAR: Record<CellMark, string> = { "-": "-", ok: "o", "ok?": "?", NO: "x" };

/**
 * What the page embeds (`<script type="application/json" id="kabi-data">`). Columnar and
 * deduplicated, because a whole tree against a dozen kernels repeats the same reason lines (a
 * kernel's CRC mismatches) across thousands of cells: each distinct string is stored once in
 * `strings`, each distinct list of them once in `lists`.
 */
export interface HtmlReportData {
  format: "kabi-audit-html";
  version: 1;
  kernels: { release: string; symvers: string; strict?: true }[];
  /** Module names for display (relative to the operand they were found under). */
  names: string[];
  /** Module paths as read (the text and JSON reports' `path`). */
  paths: string[];
  /** Per module: an index into builtTable (the release its vermagic names). */
  built: number[];
  builtTable: string[];
  /** Per module: "1" when it has modversions, else "0". */
  modversions: string;
  /** Module m on kernel k is marks[m * kernels + k]: "-" not judged, "o" ok, "?" ok?, "x" incompatible. */
  marks: string;
  /**
   * Four numbers per cell with something to show, cells ascending: the cell (m * kernels + k), its
   * headline (an index into strings, or -1), its reason lines and its providers (each an index
   * into lists, or -1).
   */
  cells: number[];
  lists: number[][];
  strings: string[];
  totals: AuditTotals;
  /** Input errors and malformed symvers lines, one line each, as the text report's stderr says them. */
  errors: string[];
}

/** Interns strings and lists of strings. */
class StringTable {
  readonly strings: string[] = [];
  readonly lists: number[][] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly listIds = new Map<string, number>();

  string(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  /** The id of the list of `items`, or -1 when it is empty. */
  list(items: readonly string[]): number {
    if (items.length === 0) return -1;
    const ids = items.map((s) => this.string(s));
    const key = ids.join(",");
    let id = this.listIds.get(key);
    if (id === undefined) {
      id = this.lists.length;
      this.lists.push(ids);
      this.listIds.set(key, id);
    }
    return id;
  }
}

/**
 * The folder (ending in "/", not "/" alone) every one of `names` starts with, "" when there is none.
 * Each step drops the last folder of the candidate, so the walk ends after at most its depth.
 */
function sharedFolder(names: readonly string[]): string {
  let shared = names[0].slice(0, names[0].lastIndexOf("/") + 1);
  for (const n of names) {
    while (shared.length > 1 && !n.startsWith(shared)) shared = shared.slice(0, shared.lastIndexOf("/", shared.length - 2) + 1);
    if (shared.length <= 1) return "";
  }
  return shared;
}

/**
 * displayNames for a column, less the folders every row would repeat: the folder all names share
 * (a tree given above its modules: "modules/<release>/kernel/"), then the folder shared by the
 * names it left as paths (where two modules would show one name, such as two trees of the same
 * modules audited together). In a column, a part every row repeats only pushes the part that
 * differs out of view. Kept as they are when that would make two names one. The paths as read
 * stay in the page (the row's title, the details pane).
 */
export function shortNames(names: readonly string[], paths: readonly string[]): string[] {
  if (names.length < 2) return [...names];
  const all = sharedFolder(names);
  let short = names.map((n) => n.slice(all.length));
  const long = names.flatMap((n, m) => (n === paths[m] ? [short[m]] : []));
  if (long.length >= 2) {
    const cut = sharedFolder(long).length;
    short = short.map((n, m) => (names[m] === paths[m] ? n.slice(cut) : n));
  }
  return new Set(short).size === new Set(names).size ? short : [...names];
}

/** The page's data: every pair's mark, and the reasons of each incompatible pair (verdicts computed module by module, then dropped). */
export function htmlReportData(input: AuditInput): HtmlReportData {
  const { kernels, modules, report } = input;
  const table = new StringTable();
  const builtIds = new Map<string, number>();
  const builtTable: string[] = [];
  const built = modules.map((r) => {
    let id = builtIds.get(r.builtFor);
    if (id === undefined) builtIds.set(r.builtFor, (id = builtTable.push(r.builtFor) - 1));
    return id;
  });
  let marks = "";
  const cells: number[] = [];
  for (let m = 0; m < modules.length; m++) {
    let row = "";
    for (let k = 0; k < kernels.length; k++) row += MARK_CHAR[cellMark(input, m, k)];
    marks += row;
    // Compatible pairs have no reasons, but their providers are worth showing too.
    const verdicts = report.explainModule(m);
    for (let k = 0; k < kernels.length; k++) {
      const v = verdicts[k];
      if (v === null || v === undefined) continue;
      const headline = v.compatible ? null : pairHeadline(v, modules[m], kernels[k]);
      const reasons = v.compatible ? -1 : table.list(verdictReasonLines(v));
      const providers = table.list(v.providers);
      if (headline === null && reasons < 0 && providers < 0) continue;
      cells.push(m * kernels.length + k, headline === null ? -1 : table.string(headline), reasons, providers);
    }
  }
  return {
    format: "kabi-audit-html",
    version: 1,
    kernels: kernels.map((k) => ({ release: k.release, symvers: k.symvers, ...(k.strictModversions === true ? { strict: true as const } : {}) })),
    names: shortNames(displayNames(input), modules.map((r) => r.path)),
    paths: modules.map((r) => r.path),
    built,
    builtTable,
    modversions: modules.map((r) => (r.hasModversions ? "1" : "0")).join(""),
    marks,
    cells,
    lists: table.lists,
    strings: table.strings,
    totals: auditTotals(input),
    errors: [...input.errors.map((e) => e.message), ...input.symversProblems.map((p) => `${p.file}:${p.line}: ${p.reason}`)],
  };
}

/**
 * JSON made safe inside a `<script>` element: no "<" (so neither "</script" nor "<!--" can end or
 * bend the element) and no U+2028/U+2029 (line terminators to older JavaScript parsers). The
 * escapes are JSON's own, so JSON.parse of the element's text gives the same value.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** The whole page of `input`. */
export function auditHtml(input: AuditInput): string {
  const data = htmlReportData(input);
  const releases = data.kernels.map((k) => k.release);
  const title = `kabi audit: ${data.names.length} module${data.names.length === 1 ? "" : "s"} × ${releases.length} kernel${releases.length === 1 ? "" : "s"}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header class="top"><h1>kabi audit</h1><span class="sub" id="summary"></span></header>
<div class="bar">
<input type="search" id="filter" placeholder="Filter modules (substring)" aria-label="Filter modules by name" autocomplete="off">
<div class="group" id="kernels"><span class="title">kernels:</span></div>
<label><input type="checkbox" id="problems"> incompatible only</label>
<div class="legend"><span><i class="swatch" style="background:var(--ok)"></i>ok</span><span><i class="swatch" style="background:var(--names)"></i>ok? (names only)</span><span><i class="swatch" style="background:var(--no)"></i>incompatible</span><span><i class="swatch" style="background:var(--none)"></i>not judged</span><span><i class="swatch" style="background:var(--error)"></i>input error</span></div>
</div>
<section class="errors" id="errors" hidden></section>
<main>
<div class="matrix" id="matrix"><div class="head grid" id="head"></div><div class="body" id="body"></div></div>
<aside class="pane" id="pane"><p class="hint">Click a cell for its verdict, the headline and every blocking reason (as the text report words them), and the modules it needs there. Hover a cell for a summary.</p></aside>
</main>
<noscript>This report draws its matrix with JavaScript; \`kabi audit\` prints the same report as text.</noscript>
<script type="application/json" id="kabi-data">${scriptSafeJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Writes the page of `input` to `file` through a temporary file renamed into place (replaceFile),
 * so that a failure (an unwritable folder, a full disk) leaves no partial page: the error naming
 * the file, or null once the page is there.
 */
export function writeAuditHtmlFile(input: AuditInput, file: string): FileError | null {
  const failed = replaceFileOrError(file, () => auditHtml(input));
  if (failed === null) return null;
  // makeDirs meets a file where a folder of FILE's path should be: Node's EEXIST message says "mkdir".
  if (failed.code === "EEXIST") return new FileError(file, `cannot write the HTML report: ${failed.path ?? "a folder of its path"} is not a directory`, undefined, "ENOTDIR");
  const { reason, code } = toFileError(file, failed);
  return new FileError(file, `cannot write the HTML report: ${reason}`, undefined, code);
}
