import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseSymvers, symversLineLayout } from "../../src/symvers/parse-symvers.js";

const data = (name: string): string => fileURLToPath(new URL(`./data/${name}`, import.meta.url));
const load = (name: string): string => readFileSync(data(name), "utf8");

// The data files are excerpts of real Module.symvers files; see data/README.md.
// pre-5.4 and current lines are unchanged; in 5.4-namespace-third.symvers the first 12 lines
// are real 5.4 lines and the last 7 were converted by reordering the columns of real
// current-layout lines (and the 5.4 documentation example) into the 5.4 layout.

describe("parseSymvers: pre-5.4 layout (crc symbol module export_type)", () => {
  const text = load("pre-5.4-msm8974-3.4.symvers");
  const t = parseSymvers(text, "pre.symvers");

  it("reads every line", () => {
    expect(t.problems).toEqual([]);
    expect(t.entries.size).toBe(19);
    expect(t.path).toBe("pre.symvers");
  });

  it("reads CRC, module and export type; namespace is empty", () => {
    expect(t.entries.get("cfg80211_send_rx_assoc")).toEqual({
      symbol: "cfg80211_send_rx_assoc",
      crc: 0x30241807,
      module: "vmlinux",
      exportType: "EXPORT_SYMBOL",
      namespace: "",
    });
    expect(t.entries.get("eeprom_93cx6_read")).toEqual({
      symbol: "eeprom_93cx6_read",
      crc: 0x98bb5a22,
      module: "drivers/misc/eeprom/eeprom_93cx6",
      exportType: "EXPORT_SYMBOL_GPL",
      namespace: "",
    });
    // leading-zero CRC
    expect(t.entries.get("dvb_register_device")?.crc).toBe(0x0023eadd);
  });

  it("classifies lines", () => {
    expect(symversLineLayout(text.split("\n")[0])).toBe("pre-5.4");
  });
});

describe("parseSymvers: 5.4/5.5 layout (crc symbol namespace module export_type)", () => {
  const text = load("5.4-namespace-third.symvers");
  const t = parseSymvers(text, "54.symvers");

  it("reads every line", () => {
    expect(t.problems).toEqual([]);
    expect(t.entries.size).toBe(19);
  });

  it("takes the namespace from column 3 and the module from column 4", () => {
    expect(t.entries.get("usb_stor_suspend")).toEqual({
      symbol: "usb_stor_suspend",
      crc: 0xe1cc2a05,
      module: "drivers/usb/storage/usb-storage",
      exportType: "EXPORT_SYMBOL_GPL",
      namespace: "USB_STORAGE",
    });
    expect(t.entries.get("insert_resource_expand_to_fit")?.namespace).toBe("CXL");
    expect(t.entries.get("insert_resource_expand_to_fit")?.module).toBe("vmlinux");
  });

  it("reads an empty namespace column as no namespace", () => {
    expect(t.entries.get("ipv6_chk_custom_prefix")).toEqual({
      symbol: "ipv6_chk_custom_prefix",
      crc: 0,
      module: "vmlinux",
      exportType: "EXPORT_SYMBOL",
      namespace: "",
    });
    expect(t.entries.get("bt_sock_register")).toMatchObject({ crc: 0x5ba40f91, module: "net/bluetooth/bluetooth" });
  });

  it("classifies lines", () => {
    expect(symversLineLayout(text.split("\n")[0])).toBe("5.4");
  });
});

describe("parseSymvers: current layout (crc symbol module export_type namespace)", () => {
  const text = load("current-6.1-gki-arm64.symvers");
  const t = parseSymvers(text, "cur.symvers");

  it("reads every line", () => {
    expect(t.problems).toEqual([]);
    expect(t.entries.size).toBe(19);
  });

  it("reads the trailing empty namespace as none, and a namespace in column 5", () => {
    expect(t.entries.get("system_state")).toEqual({
      symbol: "system_state",
      crc: 0xf7370f56,
      module: "vmlinux",
      exportType: "EXPORT_SYMBOL",
      namespace: "",
    });
    expect(t.entries.get("insert_resource_expand_to_fit")).toEqual({
      symbol: "insert_resource_expand_to_fit",
      crc: 0,
      module: "vmlinux",
      exportType: "EXPORT_SYMBOL_GPL",
      namespace: "CXL",
    });
    expect(t.entries.get("hci_uart_tx_wakeup")).toMatchObject({ crc: 0xec73ca35, module: "drivers/bluetooth/hci_uart" });
    expect(t.entries.get("get_wchan")?.crc).toBe(0x00a98699);
  });

  it("gives the same entries for the same real lines in all three layouts", () => {
    const cur = t.entries.get("system_state");
    const as54 = parseSymvers("0xf7370f56\tsystem_state\t\tvmlinux\tEXPORT_SYMBOL\n", "a").entries.get("system_state");
    const asPre = parseSymvers("0xf7370f56\tsystem_state\tvmlinux\tEXPORT_SYMBOL\n", "b").entries.get("system_state");
    expect(as54).toEqual(cur);
    expect(asPre).toEqual(cur);
  });

  it("reads a line that lost its trailing empty namespace as the 4-column layout, same entry", () => {
    const x = parseSymvers("0x27e6258d\tinit_uts_ns\tvmlinux\tEXPORT_SYMBOL_GPL", "x");
    expect(x.entries.get("init_uts_ns")).toEqual(t.entries.get("init_uts_ns"));
  });

  it("classifies lines", () => {
    expect(symversLineLayout(text.split("\n")[0])).toBe("current");
  });
});

describe("parseSymvers: every export type modpost wrote", () => {
  it("is accepted in both 5-column layouts", () => {
    const types = [
      "EXPORT_SYMBOL",
      "EXPORT_SYMBOL_GPL",
      "EXPORT_SYMBOL_GPL_FUTURE",
      "EXPORT_UNUSED_SYMBOL",
      "EXPORT_UNUSED_SYMBOL_GPL",
      "(unknown)",
    ];
    const cur = types.map((ty, i) => `0x0000000${i}\tcur_${i}\tvmlinux\t${ty}\t`).join("\n");
    const old = types.map((ty, i) => `0x0000000${i}\told_${i}\tNS\tvmlinux\t${ty}`).join("\n");
    const t = parseSymvers(cur + "\n" + old + "\n", "types");
    expect(t.problems).toEqual([]);
    types.forEach((ty, i) => {
      expect(t.entries.get(`cur_${i}`)).toMatchObject({ exportType: ty, namespace: "", module: "vmlinux", crc: i });
      expect(t.entries.get(`old_${i}`)).toMatchObject({ exportType: ty, namespace: "NS", module: "vmlinux", crc: i });
    });
  });
});

describe("parseSymvers: malformed lines", () => {
  // Real current-layout lines with broken ones among them.
  const lines = [
    "0xf7370f56\tsystem_state\tvmlinux\tEXPORT_SYMBOL\t", // 1 ok
    "0xzz370f56\tloops_per_jiffy\tvmlinux\tEXPORT_SYMBOL\t", // 2 bad hex
    "0x127e6258d\tinit_uts_ns\tvmlinux\tEXPORT_SYMBOL_GPL\t", // 3 33-bit CRC
    "0xd567d551\tinit_task\tvmlinux", // 4 too few columns
    "0x00a98699\tget_wchan\tvmlinux\tEXPORT_SYMBOL_WHATEVER\t", // 5 unknown export type
    "", // 6 blank: skipped silently
    "0x5d112304\t__memcpy_fromio\tvmlinux\tEXPORT_SYMBOL\t\textra", // 7 too many columns
    "0xb917b6d7\t\tvmlinux\tEXPORT_SYMBOL_GPL\t", // 8 empty symbol
    "0xf1e046cc\tpanic\t\tEXPORT_SYMBOL\t", // 9 empty module
    "0x\tpanic2\tvmlinux\tEXPORT_SYMBOL\t", // 10 no digits
    "0xf1e046cc\tpanic\tvmlinux\tEXPORT_SYMBOL_GPL\t", // 11 ok (line 9 was rejected, so no duplicate)
    "0x2d3385d3\tsystem_wq\tvmlinux\tEXPORT_SYMBOL\t", // 12 ok
    "0xffffffff\tsystem_state\tvmlinux\tEXPORT_SYMBOL_GPL\t", // 13 duplicate of line 1
    "0xffffffff\tmax_crc\tvmlinux\tEXPORT_SYMBOL\t", // 14 ok, largest 32-bit CRC
  ];
  const t = parseSymvers(lines.join("\n") + "\n", "/x/Module.symvers");

  it("reports each bad line with the file and its 1-based line number", () => {
    expect(t.problems.map((p) => [p.file, p.line])).toEqual([
      ["/x/Module.symvers", 2],
      ["/x/Module.symvers", 3],
      ["/x/Module.symvers", 4],
      ["/x/Module.symvers", 5],
      ["/x/Module.symvers", 7],
      ["/x/Module.symvers", 8],
      ["/x/Module.symvers", 9],
      ["/x/Module.symvers", 10],
      ["/x/Module.symvers", 13],
    ]);
  });

  it("says why", () => {
    const why = new Map(t.problems.map((p) => [p.line, p.reason]));
    expect(why.get(2)).toMatch(/bad CRC "0xzz370f56"/);
    expect(why.get(3)).toMatch(/wider than 32 bits/);
    expect(why.get(4)).toMatch(/too few columns/);
    expect(why.get(5)).toMatch(/EXPORT_SYMBOL_WHATEVER/);
    expect(why.get(7)).toMatch(/too many columns/);
    expect(why.get(8)).toMatch(/empty symbol/);
    expect(why.get(9)).toMatch(/empty module/);
    expect(why.get(10)).toMatch(/bad CRC/);
    expect(why.get(13)).toMatch(/system_state.*listed again/);
  });

  it("still uses the rest of the file", () => {
    expect([...t.entries.keys()].sort()).toEqual(["max_crc", "panic", "system_state", "system_wq"]);
    expect(t.entries.get("system_state")?.crc).toBe(0xf7370f56); // the first entry is kept
    expect(t.entries.get("max_crc")?.crc).toBe(0xffffffff);
    expect(t.entries.get("panic")?.exportType).toBe("EXPORT_SYMBOL_GPL");
  });

  it("with wanted symbols: keeps only theirs, and reports the same problems, duplicates of others included", () => {
    for (const wanted of [new Set(["panic"]), new Set(["max_crc", "loops_per_jiffy"]), new Set<string>()]) {
      const only = parseSymvers(lines.join("\n") + "\n", "/x/Module.symvers", wanted);
      expect(only.problems).toEqual(t.problems);
      expect([...only.entries.values()]).toEqual([...t.entries.values()].filter((e) => wanted.has(e.symbol)));
    }
  });

  it("counts lines the same with CRLF ends and without a final newline", () => {
    const crlf = parseSymvers(lines.join("\r\n"), "crlf");
    expect(crlf.problems.map((p) => p.line)).toEqual(t.problems.map((p) => p.line));
    expect([...crlf.entries.values()]).toEqual([...t.entries.values()]);
  });

  it("reports a 5-column line with no export type in column 4 or 5", () => {
    const x = parseSymvers("0x12345678\tfoo\tbar\tbaz\tqux\n", "f");
    expect(x.entries.size).toBe(0);
    expect(x.problems).toEqual([{ file: "f", line: 1, reason: expect.stringMatching(/no export type in column 4 or 5/) }]);
  });
});

describe("parseSymvers: edge cases", () => {
  it("reads an empty file as an empty table", () => {
    expect(parseSymvers("", "e")).toEqual({ path: "e", entries: new Map(), problems: [] });
  });

  it("accepts upper-case hex and a CRC without 0x, as modpost's strtoul does", () => {
    const t = parseSymvers("0XF7370F56\ta\tvmlinux\tEXPORT_SYMBOL\t\nf7370f56\tb\tvmlinux\tEXPORT_SYMBOL\t\n", "h");
    expect(t.problems).toEqual([]);
    expect(t.entries.get("a")?.crc).toBe(0xf7370f56);
    expect(t.entries.get("b")?.crc).toBe(0xf7370f56);
  });

  it("keeps a 30,000-line file's entries (size of a real kernel's symvers)", () => {
    const mods = ["vmlinux", "drivers/net/ethernet/intel/e1000e/e1000e", "net/bluetooth/bluetooth"];
    const lines: string[] = [];
    for (let i = 0; i < 30000; i++) {
      const crc = ((i * 2654435761) >>> 0).toString(16).padStart(8, "0");
      lines.push(`0x${crc}\tsym_${i}\t${mods[i % 3]}\tEXPORT_SYMBOL${i % 2 ? "_GPL" : ""}\t${i % 97 === 0 ? "NS" : ""}`);
    }
    const t = parseSymvers(lines.join("\n") + "\n", "big");
    expect(t.problems).toEqual([]);
    expect(t.entries.size).toBe(30000);
    expect(t.entries.get("sym_29999")).toEqual({
      symbol: "sym_29999",
      crc: (29999 * 2654435761) >>> 0,
      module: mods[29999 % 3],
      exportType: "EXPORT_SYMBOL_GPL",
      namespace: "",
    });
    expect(t.entries.get("sym_97")?.namespace).toBe("NS");
  });
});
