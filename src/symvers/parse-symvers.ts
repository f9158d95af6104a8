import type { SymversEntry, SymversProblem, SymversTable } from "../types/symvers-table.js";

/**
 * The three line layouts modpost has written to Module.symvers (all tab separated):
 *
 * - "pre-5.4":  crc  symbol  module  export_type                (2.6.18 .. 5.3)
 * - "5.4":      crc  symbol  namespace  module  export_type     (5.4, 5.5 and 5.6-rc;
 *               also 5.4.y/5.5.y stable releases before the fix 5190044c2965 was backported)
 * - "current":  crc  symbol  module  export_type  namespace     (5.6 onwards)
 *
 * The two 5-column layouts are told apart by where the export type is: column 4
 * in "current", column 5 in "5.4". modpost printed the namespace column even when
 * empty, so most lines of a 5-column file end in (current) or contain (5.4) an
 * empty field.
 */
export type SymversLayout = "pre-5.4" | "5.4" | "current";

/** Export types modpost has ever written (export_str() / write_dump()). */
export const EXPORT_TYPES: readonly string[] = [
  "EXPORT_SYMBOL",
  "EXPORT_SYMBOL_GPL",
  "EXPORT_SYMBOL_GPL_FUTURE",
  "EXPORT_UNUSED_SYMBOL",
  "EXPORT_UNUSED_SYMBOL_GPL",
  "(unknown)",
];

const TAB = 9;
const LF = 10;
const CR = 13;

/**
 * If text[start, end) is one of EXPORT_TYPES, that (shared) string; else undefined.
 * Compares in place: no substring is made.
 */
function exportTypeAt(text: string, start: number, end: number): string | undefined {
  const len = end - start;
  // Cheap rejections first: every type but "(unknown)" starts with "EXPORT_".
  switch (len) {
    case 13:
      return text.startsWith("EXPORT_SYMBOL", start) ? "EXPORT_SYMBOL" : undefined;
    case 17:
      return text.startsWith("EXPORT_SYMBOL_GPL", start) ? "EXPORT_SYMBOL_GPL" : undefined;
    case 24:
      return text.startsWith("EXPORT_SYMBOL_GPL_FUTURE", start)
        ? "EXPORT_SYMBOL_GPL_FUTURE"
        : text.startsWith("EXPORT_UNUSED_SYMBOL_GPL", start)
          ? "EXPORT_UNUSED_SYMBOL_GPL"
          : undefined;
    case 20:
      return text.startsWith("EXPORT_UNUSED_SYMBOL", start) ? "EXPORT_UNUSED_SYMBOL" : undefined;
    case 9:
      return text.startsWith("(unknown)", start) ? "(unknown)" : undefined;
    default:
      return undefined;
  }
}

/**
 * Parses the CRC field text[start, end): optional "0x"/"0X" then hex digits, value
 * at most 0xffffffff. Returns the value, or a negative number when malformed:
 * -1 not hex, -2 wider than 32 bits.
 */
function parseCrc(text: string, start: number, end: number): number {
  let i = start;
  if (end - i >= 2 && text.charCodeAt(i) === 48 /* 0 */ && (text.charCodeAt(i + 1) | 0x20) === 120 /* x */) {
    i += 2;
  }
  if (i === end) return -1;
  let v = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else {
      const l = c | 0x20;
      if (l >= 97 && l <= 102) d = l - 87;
      else return -1;
    }
    v = v * 16 + d;
    if (v > 0xffffffff) return -2;
  }
  return v;
}

function addProblem(problems: SymversProblem[], file: string, line: number, reason: string): void {
  problems.push({ file, line, reason });
}

/** Visible form of a field for problem messages, cut short. */
function show(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 57) + "..." : s);
}

/**
 * Parses the text of a Module.symvers file in any of the layouts modpost has written
 * (see SymversLayout); each line is taken on its own, so a file mixing layouts is read too.
 * A line that can't be used becomes a SymversProblem (file, 1-based line, reason) and the
 * rest of the file is still used. Blank lines are skipped; CRLF line ends are accepted.
 * A symbol listed twice keeps its first entry and each repeat is reported as a problem.
 *
 * With `wanted`, only those symbols' entries are kept: a kernel exports ~27,000 symbols, a few
 * modules need a few hundred, and making the entries is most of the work. Every line is still
 * checked, and the problems are the same as without it.
 *
 * @param text the file's text (already decompressed)
 * @param file the name to report, and the table's path
 * @param wanted the symbols to keep (default: all)
 */
export function parseSymvers(text: string, file: string, wanted?: ReadonlySet<string>): SymversTable {
  const entries = new Map<string, SymversEntry>();
  /** With `wanted`: the other symbols seen, for the "listed again" check. */
  const others = new Set<string>();
  const problems: SymversProblem[] = [];
  // Module names repeat on thousands of lines: share one string per name.
  const modules = new Map<string, string>();
  let lastModule = "";

  const n = text.length;
  let pos = 0;
  let lineNo = 0;
  // Field boundaries of the current line: field k is text[starts[k], ends[k]).
  const starts = [0, 0, 0, 0, 0];
  const ends = [0, 0, 0, 0, 0];

  while (pos < n) {
    lineNo++;
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = n;
    let end = eol;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    const lineStart = pos;
    pos = eol + 1;
    if (end === lineStart) continue; // blank line

    // Split at tabs, without making substrings.
    let cols = 0;
    let fs = lineStart;
    let tooMany = false;
    for (;;) {
      const t = text.indexOf("\t", fs);
      const fe = t < 0 || t >= end ? end : t;
      if (cols === 5) {
        tooMany = true;
        break;
      }
      starts[cols] = fs;
      ends[cols] = fe;
      cols++;
      if (fe === end) break;
      fs = fe + 1;
    }

    if (tooMany) {
      addProblem(problems, file, lineNo, "too many columns (more than 5 tab-separated fields)");
      continue;
    }
    if (cols < 4) {
      addProblem(problems, file, lineNo, `too few columns (${cols} tab-separated field${cols === 1 ? "" : "s"}, need at least 4)`);
      continue;
    }

    // Which column holds what.
    let modCol: number;
    let typeCol: number;
    let nsCol: number; // -1: no namespace column
    let exportType: string | undefined;
    if (cols === 4) {
      modCol = 2;
      typeCol = 3;
      nsCol = -1;
      exportType = exportTypeAt(text, starts[3], ends[3]);
    } else {
      exportType = exportTypeAt(text, starts[3], ends[3]);
      if (exportType !== undefined) {
        modCol = 2;
        typeCol = 3;
        nsCol = 4;
      } else {
        exportType = exportTypeAt(text, starts[4], ends[4]);
        modCol = 3;
        typeCol = 4;
        nsCol = 2;
        if (exportType === undefined) {
          addProblem(problems, file, lineNo, 
            `no export type in column 4 or 5 (got ${show(text.slice(starts[3], ends[3]))} and ${show(
              text.slice(starts[4], ends[4]),
            )})`,
          );
          continue;
        }
      }
    }
    if (exportType === undefined) {
      addProblem(problems, file, lineNo, `unknown export type ${show(text.slice(starts[typeCol], ends[typeCol]))}`);
      continue;
    }

    const crc = parseCrc(text, starts[0], ends[0]);
    if (crc < 0) {
      const raw = text.slice(starts[0], ends[0]);
      addProblem(problems, file, lineNo, crc === -2 ? `CRC ${show(raw)} is wider than 32 bits` : `bad CRC ${show(raw)} (want hex such as 0x1a2b3c4d)`);
      continue;
    }
    if (starts[1] === ends[1]) {
      addProblem(problems, file, lineNo, "empty symbol name");
      continue;
    }
    if (starts[modCol] === ends[modCol]) {
      addProblem(problems, file, lineNo, "empty module name");
      continue;
    }

    const symbol = text.slice(starts[1], ends[1]);
    if (wanted !== undefined && !wanted.has(symbol)) {
      if (others.has(symbol)) addProblem(problems, file, lineNo, `symbol ${show(symbol)} listed again; the first entry is kept`);
      else others.add(symbol);
      continue;
    }
    // Since 5.19 lines are grouped by module: reuse the last module name without a substring.
    const ms = starts[modCol];
    const ml = ends[modCol] - ms;
    let module: string;
    if (ml === lastModule.length && text.startsWith(lastModule, ms)) {
      module = lastModule;
    } else {
      const modRaw = text.slice(ms, ms + ml);
      const known = modules.get(modRaw);
      if (known === undefined) {
        modules.set(modRaw, modRaw);
        module = modRaw;
      } else {
        module = known;
      }
      lastModule = module;
    }
    const namespace = nsCol < 0 || starts[nsCol] === ends[nsCol] ? "" : text.slice(starts[nsCol], ends[nsCol]);

    if (entries.has(symbol)) {
      addProblem(problems, file, lineNo, `symbol ${show(symbol)} listed again; the first entry is kept`);
      continue;
    }
    entries.set(symbol, { symbol, crc, module, exportType, namespace });
  }

  return { path: file, entries, problems };
}

/**
 * The layout of one symvers line, or undefined when the line fits none
 * (the same rules parseSymvers applies). Mostly for diagnostics and tests.
 */
export function symversLineLayout(line: string): SymversLayout | undefined {
  const f = line.replace(/\r$/, "").split("\t");
  const isType = (s: string | undefined): boolean => s !== undefined && EXPORT_TYPES.includes(s);
  if (f.length === 4) return isType(f[3]) ? "pre-5.4" : undefined;
  if (f.length === 5) {
    if (isType(f[3])) return "current";
    if (isType(f[4])) return "5.4";
  }
  return undefined;
}
