/**
 * The module record on the kbuild fixtures, against the values fixtures/modules/README.md
 * documents (CRCs, export types, namespaces, imports).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FormatError } from "../../src/types/errors.js";
import { readModule } from "../../src/module/read-module.js";
import { MODULE_FIXTURES } from "../helpers/paths.js";

const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.12.117+deb12-amd64"] as const;
const fixture = (release: string, name: string) => join(MODULE_FIXTURES, release, `${name}.ko`);

// Same on every kernel: the functions only take and return int.
const PROVIDER_EXPORTS = [
  { name: "kabi_provider_add", crc: 0x355d2822, gplOnly: false, namespace: "" },
  { name: "kabi_provider_gpl_mul", crc: 0x5c9eea81, gplOnly: true, namespace: "" },
  { name: "kabi_provider_ns_sub", crc: 0x813b6494, gplOnly: true, namespace: "KABI_TEST" },
];

// fixtures/modules/README.md, "imported symbol" table.
const PROVIDER_IMPORTS: Record<string, Record<string, number>> = {
  "6.1.0-53-amd64": { skb_put: 0x359ec46d, __alloc_skb: 0x57693e79, kfree_skb_reason: 0x84f2000d, _printk: 0x92997ed8, module_layout: 0xbce1a965, __fentry__: 0xbdfb6dbb, __x86_return_thunk: 0x5b8239ca },
  "6.1.0-54-amd64": { skb_put: 0x69958214, __alloc_skb: 0x7e267139, kfree_skb_reason: 0x6db827e0, _printk: 0x92997ed8, module_layout: 0xbce1a965, __fentry__: 0xbdfb6dbb, __x86_return_thunk: 0x5b8239ca },
  "6.12.117+deb12-amd64": { skb_put: 0xd2a16dcf, __alloc_skb: 0xdc3eabd6, sk_skb_reason_drop: 0x2ce3dbe0, _printk: 0x122c3a7e, module_layout: 0x2f9b2b9a, __fentry__: 0xbdfb6dbb, __x86_return_thunk: 0x5b8239ca },
};

const asMap = (entries: { crc: number; symbol: string }[]) => Object.fromEntries(entries.map((e) => [e.symbol, e.crc]));

describe.each(RELEASES)("fixtures of %s", (release) => {
  it("kabi_provider.ko: its three exports with the documented CRC, GPL flag and namespace", async () => {
    const r = await readModule(fixture(release, "kabi_provider"));
    const byName = [...r.exports].sort((a, b) => a.name.localeCompare(b.name));
    expect(byName).toEqual(PROVIDER_EXPORTS);
    expect(r.importNamespaces).toEqual([]);
    expect(r.depends).toEqual([]);
  });

  it("kabi_provider.ko: its __versions, exactly the documented imports", async () => {
    const r = await readModule(fixture(release, "kabi_provider"));
    expect(r.hasModversions).toBe(true);
    expect(r.modversions).toHaveLength(7);
    expect(asMap(r.modversions)).toEqual(PROVIDER_IMPORTS[release]);
    // Every modversion except module_layout is an undefined symbol of .symtab.
    const undef = r.undefinedSymbols.map((u) => u.name).sort();
    expect(undef).toEqual(Object.keys(PROVIDER_IMPORTS[release]!).filter((s) => s !== "module_layout").sort());
    expect(r.undefinedSymbols.every((u) => !u.weak)).toBe(true);
  });

  it("kabi_provider.ko: header fields and .modinfo", async () => {
    const r = await readModule(fixture(release, "kabi_provider"));
    expect(r).toMatchObject({
      compression: "none",
      elfClass: 64,
      endianness: "little",
      machine: 62, // EM_X86_64
      name: "kabi_provider",
      builtFor: release,
      vermagic: `${release} SMP preempt mod_unload modversions `,
      signed: false,
      signature: null,
    });
    expect(r.modinfo).toContainEqual({ key: "license", value: "GPL" });
    expect(r.modinfo).toContainEqual({ key: "description", value: "kABI fixture: exports a plain, a GPL and a namespaced symbol" });
  });

  it("kabi_consumer.ko: the provider's CRCs in __versions, import_ns, depends, no exports", async () => {
    const r = await readModule(fixture(release, "kabi_consumer"));
    const imports = PROVIDER_IMPORTS[release]!;
    expect(asMap(r.modversions)).toEqual({
      kabi_provider_add: 0x355d2822,
      kabi_provider_gpl_mul: 0x5c9eea81,
      kabi_provider_ns_sub: 0x813b6494,
      _printk: imports._printk,
      __fentry__: 0xbdfb6dbb,
      __x86_return_thunk: 0x5b8239ca,
      module_layout: imports.module_layout,
    });
    expect(r.exports).toEqual([]);
    expect(r.importNamespaces).toEqual(["KABI_TEST"]);
    expect(r.depends).toEqual(["kabi_provider"]);
    expect(r.name).toBe("kabi_consumer");
  });

  it("kabi_no_import_ns.ko: uses the namespaced symbol without import_ns", async () => {
    const r = await readModule(fixture(release, "kabi_no_import_ns"));
    expect(asMap(r.modversions).kabi_provider_ns_sub).toBe(0x813b6494);
    expect(r.importNamespaces).toEqual([]);
    expect(r.undefinedSymbols).toContainEqual({ name: "kabi_provider_ns_sub", weak: false });
  });

  it("kabi_noversions.ko: no modversions at all, the rest of the consumer unchanged", async () => {
    const r = await readModule(fixture(release, "kabi_noversions"));
    const consumer = await readModule(fixture(release, "kabi_consumer"));
    expect(r.hasModversions).toBe(false);
    expect(r.modversions).toEqual([]);
    expect(r.name).toBe("kabi_consumer"); // .modinfo name=, not the file name
    expect(r.vermagic).toBe(consumer.vermagic);
    expect(r.undefinedSymbols).toEqual(consumer.undefinedSymbols);
    expect(r.importNamespaces).toEqual(["KABI_TEST"]);
  });

  it("kabi_ext_modversions.ko: the extended modversions, same entries as the consumer's __versions", async () => {
    const r = await readModule(fixture(release, "kabi_ext_modversions"));
    const consumer = await readModule(fixture(release, "kabi_consumer"));
    expect(r.hasModversions).toBe(true);
    expect(r.modversions).toEqual(consumer.modversions);
    expect(r.modversions).toHaveLength(7);
  });
});

describe("the fixtures differ where the README says they do", () => {
  it("6.1.0-53 and 6.1.0-54 share module_layout but not skb_put", async () => {
    const [a, b] = await Promise.all(["6.1.0-53-amd64", "6.1.0-54-amd64"].map((r) => readModule(fixture(r, "kabi_provider"))));
    expect(asMap(a!.modversions).module_layout).toBe(asMap(b!.modversions).module_layout);
    expect(asMap(a!.modversions).skb_put).not.toBe(asMap(b!.modversions).skb_put);
  });
});

describe("errors name the file", () => {
  it("a missing file is an ENOENT error, not a crash", async () => {
    const missing = join(MODULE_FIXTURES, "no-such-module.ko");
    await expect(readModule(missing)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("FormatError carries file, reason and offset", async () => {
    const e = new FormatError("/x.ko", "truncated section table", 6304);
    expect(e.message).toBe("/x.ko: truncated section table at offset 6304");
    expect([e.file, e.reason, e.offset]).toEqual(["/x.ko", "truncated section table", 6304]);
  });
});
