/**
 * Every ELF layout the committed real sample covers (64-bit LE x86-64, 64-bit BE s390x,
 * 32-bit LE i386), read against the kernel's own Module.symvers: each module's exports
 * (name, CRC, GPL-only, namespace) are exactly the symvers lines of that module, and every
 * modversion CRC equals the kernel's. A byte-order or word-size slip changes CRCs and fails here.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { buildRecord, openModule, readModule } from "../../src/module/read-module.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import type { SymversTable } from "../../src/types/symvers-table.js";
import { REAL_SAMPLE, ROOT, realSampleModules } from "../helpers/paths.js";

const EM_386 = 3;
const EM_S390 = 22;
const EM_X86_64 = 62;

const LAYOUTS: Record<string, { elfClass: number; endianness: string; machine: number; moduleLayout: number }> = {
  "amd64-6.1": { elfClass: 64, endianness: "little", machine: EM_X86_64, moduleLayout: 0xbce1a965 },
  "amd64-6.1-gz": { elfClass: 64, endianness: "little", machine: EM_X86_64, moduleLayout: 0xbce1a965 },
  "amd64-6.1-zst": { elfClass: 64, endianness: "little", machine: EM_X86_64, moduleLayout: 0xbce1a965 },
  "amd64-6.12": { elfClass: 64, endianness: "little", machine: EM_X86_64, moduleLayout: 0x7fe2a4c3 },
  "s390x-6.1": { elfClass: 64, endianness: "big", machine: EM_S390, moduleLayout: 0x8ffae2f3 },
  "i386-6.1": { elfClass: 32, endianness: "little", machine: EM_386, moduleLayout: 0x64fba84a },
};

const files = realSampleModules();
const caseOf = (p: string) => relative(REAL_SAMPLE, p).split("/")[0]!;
/** The symvers "module" field: the path under kernel/ without .ko*. */
const symversModule = (p: string) => relative(REAL_SAMPLE, p).split("/").slice(1).join("/").replace(/\.ko(\.\w+)?$/, "");

const symversCache = new Map<string, Promise<SymversTable>>();
function kernelSymvers(caseId: string): Promise<SymversTable> {
  const release = readFileSync(join(REAL_SAMPLE, caseId, "RELEASE"), "utf8").trim();
  let p = symversCache.get(release);
  if (!p) symversCache.set(release, (p = readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`))));
  return p;
}

// Committed: realSampleModules() throws when the sample is lost.
describe("ELF layouts of the real sample", () => {
  it("covers 64-bit big-endian (s390x), 32-bit little-endian (i386) and 64-bit little-endian (x86-64), plain and xz/gz/zst", async () => {
    const seen = new Set<string>();
    for (const f of files) {
      const r = await readModule(f);
      seen.add(`${r.elfClass}/${r.endianness}/${r.machine}/${r.compression}`);
    }
    expect([...seen].sort()).toEqual(
      [`32/little/${EM_386}/none`, `64/big/${EM_S390}/none`, `64/little/${EM_X86_64}/gzip`, `64/little/${EM_X86_64}/none`, `64/little/${EM_X86_64}/xz`, `64/little/${EM_X86_64}/zstd`].sort(),
    );
  });

  it.each(files.map((f) => [relative(REAL_SAMPLE, f), f]))("%s", async (_name, file) => {
    const id = caseOf(file);
    const layout = LAYOUTS[id];
    expect(layout, `unknown sample case ${id}`).toBeDefined();
    const r: ModuleRecord = await readModule(file);
    expect({ elfClass: r.elfClass, endianness: r.endianness, machine: r.machine }).toEqual({ elfClass: layout!.elfClass, endianness: layout!.endianness, machine: layout!.machine });
    expect(r.signed).toBe(true);
    expect(r.builtFor).toBe(readFileSync(join(REAL_SAMPLE, id, "RELEASE"), "utf8").trim());

    const symvers = await kernelSymvers(id);
    // modversions: module_layout as documented, and every CRC the kernel's own.
    expect(r.modversions.find((m) => m.symbol === "module_layout")?.crc).toBe(layout!.moduleLayout);
    // (Module.symvers lists in-tree modules' exports too, so every symbol is there.)
    expect(r.modversions.length).toBeGreaterThan(0);
    for (const m of r.modversions) expect(m.crc, m.symbol).toBe(symvers.entries.get(m.symbol)?.crc);

    // exports: exactly this module's lines of Module.symvers.
    const mod = symversModule(file);
    const expected = [...symvers.entries.values()]
      .filter((e) => e.module === mod)
      .map((e) => ({ name: e.symbol, crc: e.crc, gplOnly: e.exportType.includes("_GPL"), namespace: e.namespace }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const got = [...r.exports].sort((a, b) => a.name.localeCompare(b.name));
    expect(got).toEqual(expected);
  });
});

describe("ELF layouts read interleaved", () => {
  // Section entries are decoded when first asked for; opening every layout's module first and
  // building the records after must give what reading each alone gives (a decoder left set to
  // the last header's byte order or word size would misread the others' section tables).
  it("every layout opened before any record is built: the same records as one at a time", async () => {
    const byLayout = new Map<string, string>();
    for (const f of files) byLayout.set(caseOf(f), byLayout.get(caseOf(f)) ?? f);
    const paths = [...byLayout.values()];
    expect(paths.length).toBeGreaterThanOrEqual(4);
    const alone: ModuleRecord[] = [];
    for (const p of paths) alone.push(await readModule(p));
    const opened = [];
    for (const p of paths) opened.push(await openModule(p));
    try {
      expect(opened.map((o, i) => buildRecord(paths[i]!, o))).toEqual(alone);
    } finally {
      for (const o of opened) o.source.close();
    }
  });
});
