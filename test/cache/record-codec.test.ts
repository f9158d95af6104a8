/**
 * The records' flat encoding (pack bodies and read-pool batches): exact round trips, entries
 * shared and frozen within one body, and records it cannot hold left out rather than altered.
 */
import { describe, expect, it } from "vitest";
import { decodeRecord, decodeRecords, encodeRecordBatch, decodeRecordBatch, encodeRecords, entryKey, entryKeyIs } from "../../src/cache/record-codec.js";
import type { ModuleRecord } from "../../src/types/module-record.js";
import { readModule } from "../../src/module/read-module.js";
import { fixtureModules } from "../helpers/paths.js";

function record(over: Partial<ModuleRecord> = {}): ModuleRecord {
  return {
    path: "/m/a.ko",
    compression: "xz",
    elfClass: 64,
    endianness: "little",
    machine: 62,
    name: "a",
    builtFor: "6.1.0",
    vermagic: "6.1.0 SMP mod_unload",
    modversions: [
      { crc: 0xdeadbeef, symbol: "module_layout" },
      { crc: 0, symbol: "printk" },
    ],
    hasModversions: true,
    exports: [
      { name: "a_fn", crc: 0x12345678, gplOnly: true, namespace: "" },
      { name: "a_other", crc: null, gplOnly: false, namespace: "NS" },
    ],
    undefinedSymbols: [
      { name: "printk", weak: false },
      { name: "maybe", weak: true },
    ],
    modinfo: [
      { key: "license", value: "GPL" },
      { key: "alias", value: "é-unicode ✓" },
      { key: "alias", value: "" },
    ],
    depends: ["b", "c"],
    importNamespaces: ["NS"],
    signed: true,
    thisModuleSize: 0x500,
    ...over,
  };
}

const key = (n: number) => ({ dev: 2049n, ino: BigInt(n), size: 1234n + BigInt(n), mtimeNs: 1_700_000_000_123_456_789n + BigInt(n) });

describe("record codec", () => {
  it("round-trips records and keys exactly, fixtures included", async () => {
    const fixtures = await Promise.all(fixtureModules().slice(0, 12).map((f) => readModule(f)));
    const records = [record(), record({ path: "/m/b.ko", name: "b", compression: "none", elfClass: 32, endianness: "big", signed: false, hasModversions: false, modversions: [], depends: [] }), ...fixtures];
    const items = records.map((r, n) => ({ name: `dir/${n}.ko`, key: n === 1 ? { ...key(n), mtimeNs: -5n, ino: 2n ** 64n - 1n } : key(n), record: r }));
    const { raw, keptNames } = encodeRecords(items);
    expect(keptNames).toEqual(items.map((i) => i.name));
    const decoded = decodeRecords(raw, items.length)!;
    expect(decoded).not.toBeNull();
    expect(decoded.names).toEqual(keptNames);
    items.forEach((item, n) => {
      expect(decodeRecord(decoded, n)).toStrictEqual(item.record);
      expect(entryKey(decoded, n)).toEqual(item.key);
      expect(entryKeyIs(decoded, n, item.key)).toBe(true);
      expect(entryKeyIs(decoded, n, { ...item.key, mtimeNs: item.key.mtimeNs + 1n })).toBe(false);
    });
    expect(decodeRecords(raw, items.length + 1)).toBeNull();
    expect(decodeRecords(raw.subarray(0, raw.length - 8), -1)).toBeNull();
  });

  it("shares one frozen object per distinct entry; each record and its arrays are its own", () => {
    const items = [0, 1].map((n) => ({ name: `${n}.ko`, key: key(n), record: record({ name: `m${n}` }) }));
    const decoded = decodeRecords(encodeRecords(items).raw, 2)!;
    const [a, b] = [decodeRecord(decoded, 0), decodeRecord(decoded, 1)];
    expect(a.modversions[1]).toBe(b.modversions[1]);
    expect(a.undefinedSymbols[0]).toBe(b.undefinedSymbols[0]);
    expect(a.modinfo[0]).toBe(b.modinfo[0]);
    expect(Object.isFrozen(a.modversions[0])).toBe(true);
    expect(() => {
      (a.modversions[0] as { crc: number }).crc = 1;
    }).toThrow(TypeError);
    expect(a.modversions).not.toBe(b.modversions);
    expect(a.exports[0]).not.toBe(b.exports[0]);
    const again = decodeRecord(decoded, 0);
    expect(again).not.toBe(a);
    expect(again).toStrictEqual(a);
  });

  it("leaves out a record it cannot hold exactly (a NUL in a string, a wrong type, another shape)", () => {
    const bad: ModuleRecord[] = [
      record({ vermagic: "6.1.0\0x" }),
      record({ modinfo: [{ key: "k", value: "a\0b" }] }),
      record({ modversions: [{ crc: "1" as unknown as number, symbol: "s" }] }),
      record({ depends: [7 as unknown as string] }),
      { ...record(), extra: 1 } as ModuleRecord,
    ];
    const good = record({ name: "good" });
    const items = [...bad, good].map((r, n) => ({ name: `${n}.ko`, key: key(n), record: r }));
    const { raw, keptNames } = encodeRecords(items);
    expect(keptNames).toEqual([`${bad.length}.ko`]);
    const decoded = decodeRecords(raw, 1)!;
    expect(decodeRecord(decoded, 0)).toStrictEqual(good);
  });

  it("hands batches over by position", () => {
    const records = [record(), undefined, record({ name: "c", modinfo: [] })];
    const { batch, packed } = encodeRecordBatch(records);
    expect([...packed]).toEqual([0, 2]);
    const out = decodeRecordBatch(new Uint8Array(batch.buffer, batch.byteOffset, batch.byteLength));
    expect(out.get(0)).toStrictEqual(records[0]);
    expect(out.get(2)).toStrictEqual(records[2]);
    expect(out.has(1)).toBe(false);
  });

  it("an empty body decodes to no entries", () => {
    const decoded = decodeRecords(encodeRecords([]).raw, 0)!;
    expect(decoded.names).toEqual([]);
  });
});
