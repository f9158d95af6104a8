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

/** Problems listed one by one per file; past these, one line gives the count of the rest. */
export const LISTED_PROBLEMS = 10;

/** Visible form of a field for problem messages, cut short. */
function show(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 57) + "..." : s);
}

/**
 * The position of the first `char` in text at or after `from`, remembered between calls so that a
 * search never runs past the same stretch twice: a line without the char must not make each later
 * line search to the end of the text again (which made a run of tab-less lines quadratic).
 */
class NextChar {
  private at = -1;
  constructor(
    private readonly text: string,
    private readonly char: string,
  ) {}

  /** The first `char` at or after `from`, or the text's length when there is none. */
  from(from: number): number {
    if (this.at < from) {
      const i = this.text.indexOf(this.char, from);
      this.at = i < 0 ? this.text.length : i;
    }
    return this.at;
  }
}

/**
 * Parses Module.symvers text fed in pieces of whole lines (see parseSymvers for the rules), so
 * that a file never has to be one string: a reader decodes its bytes a piece at a time. Problems
 * past the first LISTED_PROBLEMS are counted, not kept: a file of 200,000 bad lines costs a
 * counter, and is reported as one summary line.
 */
export class SymversParser {
  private readonly entries = new Map<string, SymversEntry>();
  /** With `wanted`: the other symbols seen, for the "listed again" check. */
  private readonly others = new Set<string>();
  private readonly problems: SymversProblem[] = [];
  /** Problems past the listed ones, and the line of the first of them. */
  private unlisted = 0;
  private firstUnlistedLine = 0;
  // Module names repeat on thousands of lines: share one string per name.
  private readonly modules = new Map<string, string>();
  private lastModule = "";
  private lineNo = 0;
  // Field boundaries of the current line: field k is text[starts[k], ends[k]).
  private readonly starts = [0, 0, 0, 0, 0];
  private readonly ends = [0, 0, 0, 0, 0];

  /**
   * @param file the name to report, and the table's path
   * @param wanted the symbols to keep (default: all)
   */
  constructor(
    private readonly file: string,
    private readonly wanted?: ReadonlySet<string>,
  ) {}

  /**
   * The next lines of the file, in order: a piece holds whole lines, its last one with or without
   * its newline (a line is never split between two pieces).
   */
  push(text: string): void {
    const { starts, ends, entries, others, modules, wanted } = this;
    const n = text.length;
    const tabs = new NextChar(text, "\t");
    const nuls = new NextChar(text, "\0");
    let pos = 0;
    while (pos < n) {
      this.lineNo++;
      let eol = text.indexOf("\n", pos);
      if (eol < 0) eol = n;
      let end = eol;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      const lineStart = pos;
      pos = eol + 1;
      if (end === lineStart) continue; // blank line

      if (nuls.from(lineStart) < end) {
        this.problem("NUL byte in the line (binary data)");
        continue;
      }

      // Split at tabs, without making substrings.
      let cols = 0;
      let fs = lineStart;
      let tooMany = false;
      for (;;) {
        const t = tabs.from(fs);
        const fe = t >= end ? end : t;
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
        this.problem("too many columns (more than 5 tab-separated fields)");
        continue;
      }
      if (cols < 4) {
        this.problem(`too few columns (${cols} tab-separated field${cols === 1 ? "" : "s"}, need at least 4)`);
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
            this.problem(
              `no export type in column 4 or 5 (got ${show(text.slice(starts[3], ends[3]))} and ${show(text.slice(starts[4], ends[4]))})`,
            );
            continue;
          }
        }
      }
      if (exportType === undefined) {
        this.problem(`unknown export type ${show(text.slice(starts[typeCol], ends[typeCol]))}`);
        continue;
      }

      const crc = parseCrc(text, starts[0], ends[0]);
      if (crc < 0) {
        const raw = text.slice(starts[0], ends[0]);
        this.problem(crc === -2 ? `CRC ${show(raw)} is wider than 32 bits` : `bad CRC ${show(raw)} (want hex such as 0x1a2b3c4d)`);
        continue;
      }
      if (starts[1] === ends[1]) {
        this.problem("empty symbol name");
        continue;
      }
      if (starts[modCol] === ends[modCol]) {
        this.problem("empty module name");
        continue;
      }

      const symbol = text.slice(starts[1], ends[1]);
      if (wanted !== undefined && !wanted.has(symbol)) {
        if (others.has(symbol)) this.problem(`symbol ${show(symbol)} listed again; the first entry is kept`);
        else others.add(symbol);
        continue;
      }
      // Since 5.19 lines are grouped by module: reuse the last module name without a substring.
      const ms = starts[modCol];
      const ml = ends[modCol] - ms;
      let module: string;
      if (ml === this.lastModule.length && text.startsWith(this.lastModule, ms)) {
        module = this.lastModule;
      } else {
        const modRaw = text.slice(ms, ms + ml);
        const known = modules.get(modRaw);
        if (known === undefined) {
          modules.set(modRaw, modRaw);
          module = modRaw;
        } else {
          module = known;
        }
        this.lastModule = module;
      }
      const namespace = nsCol < 0 || starts[nsCol] === ends[nsCol] ? "" : text.slice(starts[nsCol], ends[nsCol]);

      if (entries.has(symbol)) {
        this.problem(`symbol ${show(symbol)} listed again; the first entry is kept`);
        continue;
      }
      entries.set(symbol, { symbol, crc, module, exportType, namespace });
    }
  }

  /** The table of every line pushed: entries, the first problems and, past them, one line counting the rest. */
  finish(): SymversTable {
    const problems = this.problems.slice();
    if (this.unlisted > 0) {
      problems.push({ file: this.file, line: this.firstUnlistedLine, reason: `and ${this.unlisted} more line${this.unlisted === 1 ? "" : "s"} with problems from here on (not listed)` });
    }
    return { path: this.file, entries: this.entries, problems };
  }

  /** How many entries the lines so far gave, and the reason of the first problem. */
  peek(): { entries: number; firstProblem: string | undefined } {
    return { entries: this.entries.size + this.others.size, firstProblem: this.problems[0]?.reason };
  }

  private problem(reason: string): void {
    if (this.problems.length < LISTED_PROBLEMS) {
      this.problems.push({ file: this.file, line: this.lineNo, reason });
      return;
    }
    if (this.unlisted++ === 0) this.firstUnlistedLine = this.lineNo;
  }
}

/**
 * Parses the text of a Module.symvers file in any of the layouts modpost has written
 * (see SymversLayout); each line is taken on its own, so a file mixing layouts is read too.
 * A line that can't be used becomes a SymversProblem (file, 1-based line, reason) and the
 * rest of the file is still used; past the first LISTED_PROBLEMS such lines, one more problem
 * (at the line of the first unlisted one) gives how many others there are. Blank lines are
 * skipped; CRLF line ends are accepted; a line holding a NUL byte is a problem like any other.
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
  const parser = new SymversParser(file, wanted);
  parser.push(text);
  return parser.finish();
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
