/**
 * Hostile and unlucky symvers files (issue 14): each case on the smallest input that shows it,
 * built from the real 6.1.0-53 symvers. Every one ends in a table (its bad lines counted past the
 * first few) or in one FileError naming the file and the reason, never a hang, a stack overflow or
 * memory in proportion to what a file claims.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadSymvers, openSymvers } from "../../src/load/load-symvers.js";
import { LISTED_PROBLEMS, parseSymvers } from "../../src/symvers/parse-symvers.js";
import { MAX_SYMVERS_FILE_SIZE, readSymvers } from "../../src/symvers/read-symvers.js";
import { filterSymversText } from "../../src/symvers/symvers-filter.js";
import { FileError } from "../../src/types/errors.js";
import { withCodecs } from "../helpers/capture-io.js";
import { fixtureSymversText } from "../helpers/symvers-edit.js";

const REAL = fixtureSymversText("6.1.0-53-amd64");
const REAL_LINES = REAL.split("\n").length - 1;
const dir = mkdtempSync(path.join(tmpdir(), "kabi-hostile-symvers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const put = (name: string, bytes: Uint8Array | string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

/** The one-line reason readSymvers refuses `file` with (a FileError naming it), or fails the test. */
async function refusal(file: string): Promise<string> {
  const err = await readSymvers(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileError);
  const fe = err as FileError;
  expect(fe.file).toBe(file);
  expect(fe.message).not.toContain("\n");
  // The same reason through the other two ways symvers are loaded.
  expect((await loadSymvers([file]))[0]).toEqual({ file, error: fe.message });
  expect((await openSymvers([file]))[0]!.error).toBe(fe.message);
  return fe.reason;
}

// Two million tab-less lines: searching for the next tab to the end of the text from each of them
// (what the parser and the filter did) is ~4e12 byte comparisons; a linear pass is well under a second.
const TABLESS = "x\n".repeat(2_000_000);

describe("symvers lines without tabs (issue 14: quadratic search)", () => {
  it("parses real lines followed by a long run of tab-less lines in linear time, counting the bad ones", { timeout: 20_000 }, () => {
    const t = parseSymvers(REAL + TABLESS, "f");
    expect(t.entries.size).toBe(REAL_LINES);
    expect(t.problems).toHaveLength(LISTED_PROBLEMS + 1);
    expect(t.problems.slice(0, LISTED_PROBLEMS).map((p) => p.line)).toEqual(Array.from({ length: LISTED_PROBLEMS }, (_, i) => REAL_LINES + 1 + i));
    expect(t.problems[LISTED_PROBLEMS]).toEqual({ file: "f", line: REAL_LINES + LISTED_PROBLEMS + 1, reason: `and ${2_000_000 - LISTED_PROBLEMS} more lines with problems from here on (not listed)` });
  });

  it("filters such a text in linear time, keeping its line count", { timeout: 20_000 }, () => {
    const out = filterSymversText(REAL + TABLESS, new Set(["printk", "_printk"]));
    expect(out.split("\n")).toHaveLength(REAL_LINES + 2_000_000);
  });

  it("reads such a file through every loading path", { timeout: 30_000 }, async () => {
    const file = put("tabless.symvers", REAL + TABLESS);
    const whole = await readSymvers(file);
    expect(whole.entries.size).toBe(REAL_LINES);
    expect(whole.problems).toHaveLength(LISTED_PROBLEMS + 1);
    const [opened] = await openSymvers([file]);
    expect(opened!.parse(new Set(["_printk"]))!.entries.get("_printk")).toEqual(whole.entries.get("_printk"));
  });
});

describe("many malformed lines (issue 14: stack overflow)", () => {
  it("lists the first ones and counts the rest of 200,000 bad CRCs", { timeout: 20_000 }, async () => {
    const bad = Array.from({ length: 200_000 }, (_, i) => `0xzz\tsym${i}\tvmlinux\tEXPORT_SYMBOL\t\n`).join("");
    const file = put("badcrc.symvers", REAL + bad);
    for (const t of [await readSymvers(file), (await loadSymvers([file], { wanted: new Set(["sym1", REAL.split("\t")[1]!]) }))[0]!.table!]) {
      expect(t.entries.size).toBeGreaterThan(0);
      expect(t.problems).toHaveLength(LISTED_PROBLEMS + 1);
      expect(t.problems[0]).toEqual({ file, line: REAL_LINES + 1, reason: 'bad CRC "0xzz" (want hex such as 0x1a2b3c4d)' });
      expect(t.problems[LISTED_PROBLEMS]!.reason).toBe(`and ${200_000 - LISTED_PROBLEMS} more lines with problems from here on (not listed)`);
    }
  });

  it("lists exactly LISTED_PROBLEMS problems with no summary, and one more with one", () => {
    const bad = (n: number) => "0xzz\ts\tvmlinux\tEXPORT_SYMBOL\t\n".repeat(n);
    expect(parseSymvers(REAL + bad(LISTED_PROBLEMS), "f").problems).toHaveLength(LISTED_PROBLEMS);
    const one = parseSymvers(REAL + bad(LISTED_PROBLEMS + 1), "f").problems;
    expect(one).toHaveLength(LISTED_PROBLEMS + 1);
    expect(one[LISTED_PROBLEMS]!.reason).toBe("and 1 more line with problems from here on (not listed)");
  });
});

describe("size limits (issue 14: unbounded reads and decompression)", () => {
  it("refuses a file larger than MAX_SYMVERS_FILE_SIZE by its size, without reading it", async () => {
    // Sparse: reading it would cost 32 MiB of zeros and then call it binary; the size says enough.
    const file = put("huge.symvers", REAL);
    truncateSync(file, MAX_SYMVERS_FILE_SIZE + 1);
    expect(await refusal(file)).toBe(`${MAX_SYMVERS_FILE_SIZE + 1} bytes, more than the ${MAX_SYMVERS_FILE_SIZE} bytes a symvers file may have`);
  });

  // Bombs of each format, through both codec paths: refused by the limit (while decoding), not as
  // binary data or an out-of-memory after decoding them whole.
  const bombOf = (tool: string, args: string[], content: Buffer): Buffer => {
    const r = spawnSync(tool, args, { input: content, maxBuffer: 1 << 24 });
    expect(r.status).toBe(0);
    return r.stdout;
  };
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  const newlines = Buffer.alloc(64 * 1024 * 1024, 0x0a);
  const bombs = [
    ["zeros.gz", gzipSync(zeros, { level: 1 })],
    ["newlines.gz", gzipSync(newlines, { level: 1 })],
    ["newlines.xz", bombOf("xz", ["-0", "-c"], newlines)],
    ["zeros.zst", bombOf("zstd", ["-1", "-q", "-c"], zeros)],
  ] as const;
  for (const kind of ["native", "fallback"] as const) {
    it(`refuses gzip, xz and zstd bombs past the text limit by the limit (${kind} codecs)`, { timeout: 60_000 }, async () => {
      await withCodecs(kind, async () => {
        for (const [name, bytes] of bombs) expect(await refusal(put(`${kind}-${name}`, bytes))).toMatch(/^decompressed size (\d+ )?exceeds the limit of 33554432 bytes$/);
      });
    });
  }
});

describe("files that are not regular files (issue 14: a FIFO blocked for ever)", () => {
  it("refuses a FIFO without opening it for a blocking read", { timeout: 10_000 }, async () => {
    const fifo = path.join(dir, "symvers.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(await refusal(fifo)).toBe("a FIFO, not a regular file: a symvers must be one");
  });

  it("refuses a directory and a device", async () => {
    const d = path.join(dir, "a-dir.symvers");
    mkdirSync(d);
    expect(await refusal(d)).toBe("a directory, not a regular file: a symvers must be one");
    expect(await refusal("/dev/zero")).toBe("a character device, not a regular file: a symvers must be one");
  });
});

describe("NUL bytes, empty files, files without a valid line (issue 14)", () => {
  it("takes a line with NUL bytes as one malformed line and keeps the kernel", async () => {
    const lines = REAL.split("\n");
    const at = 100; // 0-based: line 101
    const lost = lines[at]!.split("\t")[1]!;
    lines[at] = lines[at]!.replace(/^0x/, "0\0\0");
    const t = await readSymvers(put("nul-line.symvers", lines.join("\n")));
    expect(t.entries.size).toBe(REAL_LINES - 1);
    expect(t.entries.has(lost)).toBe(false);
    expect(t.problems).toEqual([{ file: t.path, line: at + 1, reason: "NUL byte in the line (binary data)" }]);
  });

  it("refuses a file whose lines are mostly binary, plain or compressed", async () => {
    expect(await refusal(put("nul.symvers", "0x1234\0\0\0"))).toBe("binary data, not a symvers text file");
    expect(await refusal(put("nul.gz", gzipSync(Buffer.from([0, 1, 2, 3]))))).toBe("binary data, not a symvers text file");
    const good = REAL.split("\n").slice(0, 3).join("\n") + "\n";
    expect(await refusal(put("half.symvers", good + "\0\n\0\n\0\n"))).toBe("binary data, not a symvers text file");
    expect((await readSymvers(put("less-than-half.symvers", good + "\0\n\0\n"))).entries.size).toBe(3);
  });

  it("refuses an empty file, or one of blank lines, plain or compressed", async () => {
    for (const [name, bytes] of [["empty.symvers", ""], ["blank.symvers", "\n\r\n\n"], ["empty.gz", gzipSync(Buffer.alloc(0))]] as const) {
      expect(await refusal(put(name, bytes))).toBe("empty symvers file (no line, so no symbol)");
    }
  });

  it("refuses a text file with no valid line, naming the first line's problem", async () => {
    expect(await refusal(put("prose.symvers", "\nhello\nworld\n"))).toBe("no valid symvers line (2 lines; the first: line 2: too few columns (1 tab-separated field, need at least 4))");
  });
});
