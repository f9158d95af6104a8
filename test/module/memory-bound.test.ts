/**
 * Peak memory is bounded by the work (issue 14, item 5): a module of S bytes costs kabi at most
 * MEMORY_PER_INPUT_BYTE * S (plus a constant for .modinfo) beyond what reading a small module
 * costs (docs/architecture.md states the bound), whatever the sections hold. Each crafted module is the provider with one section
 * moved to the end of the file and filled with the densest content for it: the most symbols, the
 * most .modinfo entries, the most __versions entries. `kabi dump --json` (the whole record, printed)
 * runs in a child process running the built CLI, and its peak RSS is compared to the provider's.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { elfSections, setSectionField } from "../helpers/elf-edit.js";
import { PROVIDER_61, ROOT } from "../helpers/paths.js";

/** The multiple docs/architecture.md states. */
const MEMORY_PER_INPUT_BYTE = 40;
/**
 * The constant it adds for .modinfo: its entries cost the most per byte (~115 measured, one-letter
 * entries), so its size is limited (MAX_MODINFO_SIZE, 256 KiB) and its worst case is this constant.
 */
const MODINFO_ALLOWANCE = 64 * 2 ** 20;

const MAIN = join(ROOT, "dist/src/cli/main.js");
const IO = join(ROOT, "dist/src/cli/io.js");
const dir = mkdtempSync(join(tmpdir(), "kabi-memory-bound-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const provider = readFileSync(PROVIDER_61);

/** The provider with section `name` (and, for .symtab, its .strtab) replaced by `data` appended at the end. */
function withSection(name: string, data: Buffer, strings?: Buffer): string {
  let b = Buffer.concat([provider, data, strings ?? Buffer.alloc(0)]);
  setSectionField(b, name, "offset", BigInt(provider.length));
  setSectionField(b, name, "size", BigInt(data.length));
  if (strings) {
    setSectionField(b, ".strtab", "offset", BigInt(provider.length + data.length));
    setSectionField(b, ".strtab", "size", BigInt(strings.length));
  }
  b = Buffer.from(b);
  const file = join(dir, `${name.replace(/\W/g, "")}.ko`);
  writeFileSync(file, b);
  return file;
}

/** Peak RSS in bytes of `kabi dump --json FILE` under the built CLI (stdout discarded). */
function peakRss(file: string): number {
  const script = `
    const { main } = await import(${JSON.stringify(pathToFileURL(MAIN).href)});
    const { processIO } = await import(${JSON.stringify(pathToFileURL(IO).href)});
    const code = await main(["dump", "--json", ${JSON.stringify(file)}], processIO());
    process.stderr.write(JSON.stringify({ code, maxRss: process.resourceUsage().maxRSS * 1024 }));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
  const { code, maxRss } = JSON.parse(r.stderr) as { code: number; maxRss: number };
  expect(code, r.stderr).toBe(0);
  return maxRss;
}

describe("peak memory of reading a module is bounded by its size", () => {
  const cases: [string, () => string, number][] = [
    [
      "a .symtab of 200,000 undefined symbols with distinct names",
      () => {
        const count = 200_000;
        const syms = Buffer.alloc(24 * count);
        const names: string[] = [""];
        let at = 1;
        for (let i = 1; i < count; i++) {
          syms.writeUInt32LE(at, i * 24); // st_name
          syms[i * 24 + 4] = 0x10; // STB_GLOBAL, STT_NOTYPE; st_shndx 0: undefined
          const n = `u${i.toString(36)}`;
          names.push(n);
          at += n.length + 1;
        }
        return withSection(".symtab", syms, Buffer.from(names.join("\0") + "\0", "latin1"));
      },
      0,
    ],
    ["a .modinfo of 256 KiB of one-letter entries", () => withSection(".modinfo", Buffer.from("a\0".repeat(128 * 1024), "latin1")), MODINFO_ALLOWANCE],
    [
      "__versions of 16 MiB of entries with one-letter names",
      () => {
        const entries = Buffer.alloc(16 * 1024 * 1024);
        for (let at = 0; at < entries.length; at += 64) entries[at + 8] = 0x61;
        return withSection("__versions", entries);
      },
      0,
    ],
  ];

  it("the provider itself is read (the baseline)", () => {
    expect(existsSync(MAIN), `${MAIN} missing: run npm run build first`).toBe(true);
    expect(elfSections(provider).some((s) => s.name === "__versions")).toBe(true);
  });

  it.each(cases)("%s", { timeout: 240_000 }, (_title, make, allowance) => {
    const file = make();
    const size = statSync(file).size;
    const baseline = peakRss(PROVIDER_61);
    const peak = peakRss(file);
    const perByte = (peak - baseline) / size;
    console.log(`${_title}: ${size} bytes, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (baseline ${(baseline / 2 ** 20).toFixed(0)} MiB): ${perByte.toFixed(1)} bytes per input byte`);
    expect(peak - baseline).toBeLessThan(MEMORY_PER_INPUT_BYTE * size + allowance);
  });
});
