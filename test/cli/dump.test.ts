/**
 * `kabi dump` through main(argv, io): output formats, and for every malformed-input class
 * one stderr line naming the bad file and the reason while the good file is still dumped and
 * the exit code is non-zero, with native and with fallback codecs (KABI_NO_NATIVE=1).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { captureIO, withCodecs } from "../helpers/capture-io.js";
import { ELF_CASES, FILESYSTEM_CASES, STREAM_CASES } from "../helpers/malformed.js";
import { haveModprobe } from "../helpers/kmod.js";
import { MODULE_FIXTURES, PROVIDER_61, realSampleModules, ROOT } from "../helpers/paths.js";
import { requireUnderCi } from "../helpers/required.js";

const PROVIDER_MODVERSIONS = [
  "0xbdfb6dbb\t__fentry__",
  "0x5b8239ca\t__x86_return_thunk",
  "0x92997ed8\t_printk",
  "0x57693e79\t__alloc_skb",
  "0x359ec46d\tskb_put",
  "0x84f2000d\tkfree_skb_reason",
  "0xbce1a965\tmodule_layout",
].map((l) => l + "\n").join("");

async function dump(...args: string[]) {
  const io = captureIO();
  const code = await main(["dump", ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe("kabi dump output", () => {
  it("--modversions is the default and prints __versions in file order as 0x%08x\\t%s", async () => {
    const a = await dump(PROVIDER_61);
    const b = await dump("--modversions", PROVIDER_61);
    expect(a).toEqual({ code: 0, stdout: PROVIDER_MODVERSIONS, stderr: "" });
    expect(b).toEqual(a);
  });

  it("--exports lists the provider's __crc_ symbols with their CRCs", async () => {
    const r = await dump("--exports", PROVIDER_61);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["0x355d2822\tkabi_provider_add", "0x5c9eea81\tkabi_provider_gpl_mul", "0x813b6494\tkabi_provider_ns_sub"]);
  });

  it("a module without __versions: nothing on stdout, exit 0 (kmod's stdout is empty too)", async () => {
    const r = await dump(join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_noversions.ko"));
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await dump("--exports", join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_consumer.ko"))).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("several files: their listings one after the other", async () => {
    const consumer = join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_consumer.ko");
    const r = await dump(PROVIDER_61, consumer);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(PROVIDER_MODVERSIONS)).toBe(true);
    expect(r.stdout.slice(PROVIDER_MODVERSIONS.length).split("\n")[0]).toBe("0x813b6494\tkabi_provider_ns_sub");
    expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(14);
  });

  it("--modinfo prints key=value lines in file order", async () => {
    const r = await dump("--modinfo", join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_consumer.ko"));
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter(Boolean);
    expect(lines).toContain("import_ns=KABI_TEST");
    expect(lines).toContain("depends=kabi_provider");
    expect(lines).toContain("name=kabi_consumer");
    expect(lines.at(-1)).toBe("vermagic=6.1.0-53-amd64 SMP preempt mod_unload modversions ");
  });

  it("--json prints the whole records as an array, one file too (kmod's modversions the reference)", async (ctx) => {
    const one = await dump("--json", PROVIDER_61);
    expect(one.code).toBe(0);
    const records = JSON.parse(one.stdout) as { modversions: { crc: number; symbol: string }[] }[];
    expect(Array.isArray(records)).toBe(true);
    expect(records).toHaveLength(1);
    const [rec] = records as unknown as Record<string, unknown>[];
    expect(rec).toMatchObject({ path: PROVIDER_61, name: "kabi_provider", elfClass: 64, endianness: "little", hasModversions: true });
    expect(rec!.exports).toContainEqual({ name: "kabi_provider_ns_sub", crc: 0x813b6494, gplOnly: true, namespace: "KABI_TEST" });
    const two = await dump("--json", PROVIDER_61, PROVIDER_61);
    expect(JSON.parse(two.stdout)).toEqual([rec, rec]);
    // The same text as JSON.stringify of the array (indent 2), and a failed file leaves the array well formed.
    expect(one.stdout).toBe(JSON.stringify(records, null, 2) + "\n");
    const none = await dump("--json", join(MODULE_FIXTURES, "absent.ko"));
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("[]\n");
    requireUnderCi(haveModprobe(), "kmod's modprobe", () => ctx.skip());
    const kmod = spawnSync("modprobe", ["--dump-modversions", PROVIDER_61], { encoding: "utf8" }).stdout;
    expect(records[0]!.modversions.map((m) => `0x${m.crc.toString(16).padStart(8, "0")}\t${m.symbol}\n`).join("")).toBe(kmod);
  });

  // Committed: realSampleModules() throws when the sample is lost.
  it("reads compressed real modules (.ko.xz/.ko.gz/.ko.zst) from the sample", async () => {
    for (const ext of ["xz", "gz", "zst"]) {
      const file = realSampleModules().find((p) => p.endsWith(`.ko.${ext}`))!;
      const r = await dump(file);
      expect(r.code, file).toBe(0);
      expect(r.stdout).toMatch(/^0x[0-9a-f]{8}\tmodule_layout$/m);
    }
  });

  it("usage errors exit 2", async () => {
    expect((await dump()).code).toBe(2);
    const r = await dump("--bogus", PROVIDER_61);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --bogus/);
    expect(r.stdout).toBe("");
  });
});

describe.each(["native", "fallback"] as const)("kabi dump BAD GOOD with %s codecs", (codecs) => {
  const cases = [...ELF_CASES, ...STREAM_CASES, ...FILESYSTEM_CASES];
  it.each(cases)("$title: one stderr line naming the file and the reason, the good file still dumped, exit 1", { timeout: 30_000 }, async ({ file, reason }) => {
    const r = await withCodecs(codecs, () => dump(file, PROVIDER_61));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(PROVIDER_MODVERSIONS);
    const lines = r.stderr.split("\n");
    expect(lines).toHaveLength(2); // one line and its newline
    expect(lines[1]).toBe("");
    expect(lines[0]!.startsWith(`kabi dump: ${file}: `)).toBe(true);
    expect(lines[0]).toMatch(reason);
  });

  it("KABI_NO_NATIVE decides which implementation reads the file", async () => {
    // libzstd and the fallback word a checksum mismatch differently.
    const file = STREAM_CASES.find((c) => c.file.endsWith("bad-checksum.ko.zst"))!.file;
    const r = await withCodecs(codecs, () => dump(file));
    expect(r.stderr).toBe(
      `kabi dump: ${file}: corrupt zstd stream (${codecs === "native" ? "Restored data doesn't match checksum" : "content checksum mismatch"})\n`,
    );
  });

  it("the bad file last: the good one is dumped first, exit 1", async () => {
    const r = await withCodecs(codecs, () => dump("--exports", PROVIDER_61, STREAM_CASES[0]!.file));
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(3);
    expect(r.stderr).toMatch(new RegExp(`^kabi dump: ${STREAM_CASES[0]!.file.replace(/\./g, "\\.")}: corrupt xz stream`));
  });
});

/**
 * Inputs named `*.ko` that are not regular files. A FIFO used to block `kabi dump` for ever (the
 * open waits for a writer) and the good file after it was never dumped; this runs the built CLI in
 * a child with a timeout, as a blocking open would block the test runner's own thread.
 */
describe("kabi dump on inputs that are not regular files", () => {
  const KABI = join(ROOT, "dist/src/cli/kabi.js");

  it("a FIFO, a device, a socket, a directory and a symlink loop: one line each, the good file still dumped, exit 1", async () => {
    expect(existsSync(KABI), `${KABI} missing: run npm run build first`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "kabi-dump-special-"));
    try {
      const fifo = join(dir, "fifo.ko");
      expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
      const device = join(dir, "null.ko");
      symlinkSync("/dev/null", device);
      const socket = join(dir, "socket.ko");
      const server = createServer();
      await new Promise<void>((done) => server.listen(socket, done));
      const folder = join(dir, "folder.ko");
      mkdirSync(folder);
      const loop = join(dir, "loop.ko");
      symlinkSync("loop.ko", loop);
      const good = join(dir, "good.ko");
      copyFileSync(PROVIDER_61, good);
      const r = spawnSync(process.execPath, [KABI, "dump", fifo, device, socket, folder, loop, good], { encoding: "utf8", timeout: 20_000 });
      server.close();
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stdout).toBe(PROVIDER_MODVERSIONS);
      expect(r.stderr).toBe(
        [`${fifo}: not a regular file`, `${device}: not a regular file`, `${socket}: not a regular file`, `${folder}: is a directory`, `${loop}: too many levels of symbolic links`]
          .map((l) => `kabi dump: ${l}\n`)
          .join(""),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
