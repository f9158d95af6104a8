/**
 * Malformed packages: every reader (ar, deb, tar member, RPM, cpio) given truncated files (at
 * every header boundary and inside), wrong magic, absurd sizes and member paths with "..". Each
 * must give ONE line naming the package (and the part and the member), as a FormatError (a
 * FileError), never another exception, never a hang and never an allocation of the size a
 * header claims; a bad member path is a problem line and the rest is read. Packages are built
 * here with dpkg-deb, ar, rpmbuild, cpio and tar-stream's pack, then damaged.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readPackage } from "../../src/package/package-file.js";
import { FileError, FormatError } from "../../src/types/errors.js";
import { arDeb, buildDeb, buildRpm, compress, dpkgList, packTar, run, PACKAGE_TESTS_RUN } from "./package-tools.js";

const work = mkdtempSync(join(tmpdir(), "kabi-malformed-pkg-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A read must end within this: a hang is a failure, not a slow test. */
const DEADLINE_MS = 15_000;

interface Outcome {
  error: unknown;
  problems: string[];
  visited: string[];
}

/** readPackage with a visitor that reads every file's bytes; the outcome, or the error, within DEADLINE_MS. */
async function attempt(file: string, maxMemberSize?: number): Promise<Outcome> {
  const visited: string[] = [];
  const read = readPackage(
    file,
    async (m) => {
      visited.push(m.path);
      if (m.type === "file") await m.bytes();
    },
    maxMemberSize === undefined ? {} : { maxMemberSize },
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readPackage(${file}) did not end within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    const r = await Promise.race([read, deadline]);
    return { error: null, problems: r.problems, visited };
  } catch (error) {
    if (error instanceof Error && error.message.includes("did not end within")) throw error;
    return { error, problems: [], visited };
  } finally {
    clearTimeout(timer);
  }
}

/** The one-line error a bad package must give: a FormatError naming it (and `parts`, in order). */
function expectPackageError(outcome: Outcome, file: string, ...parts: (string | RegExp)[]): FormatError {
  const err = outcome.error;
  expect(err, `${file}: one FormatError expected`).toBeInstanceOf(FormatError);
  const message = (err as Error).message;
  expect(message.startsWith(`${file}: `), message).toBe(true);
  expect(message).not.toContain("\n");
  let rest = message.slice(file.length);
  for (const part of parts) {
    const at = typeof part === "string" ? rest.indexOf(part) : rest.search(part);
    expect(at, `${JSON.stringify(message)} names ${String(part)}`).toBeGreaterThanOrEqual(0);
    rest = rest.slice(at);
  }
  return err as FormatError;
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(work, name);
  writeFileSync(file, bytes);
  return file;
}

/** The offsets of each ar member header in `deb` (walked here independently of src/package/ar.ts). */
function arHeaderOffsets(deb: Buffer): { offset: number; name: string; size: number }[] {
  const out = [];
  let at = 8;
  while (at + 60 <= deb.length) {
    const size = Number(deb.toString("latin1", at + 48, at + 58).trim());
    out.push({ offset: at, name: deb.toString("latin1", at, at + 16).trim(), size });
    at += 60 + size + (size % 2);
  }
  return out;
}

/** Boundaries worth cutting at: each one, one byte either side, and a spread of offsets in between. */
function cutPoints(length: number, boundaries: number[], every: number): number[] {
  const cuts = new Set<number>();
  for (const b of boundaries) for (const d of [-1, 0, 1, 2]) if (b + d > 0 && b + d < length) cuts.add(b + d);
  for (let at = 1; at < length; at += every) cuts.add(at);
  for (let at = 1; at < 40; at++) cuts.add(at);
  return [...cuts].sort((a, b) => a - b);
}

const deb = PACKAGE_TESTS_RUN ? buildDeb(work, "kabi-bad", "gzip") : "";
const debBytes = PACKAGE_TESTS_RUN ? readFileSync(deb) : Buffer.alloc(0);

describe.skipIf(!PACKAGE_TESTS_RUN)("ar and deb", { timeout: 300_000 }, () => {
  it("a deb truncated at every ar header boundary, inside each header and across its members: one error naming the package", async () => {
    const members = arHeaderOffsets(debBytes);
    expect(members.map((m) => m.name)).toEqual(["debian-binary", "control.tar.gz", "data.tar.gz"]);
    const boundaries = [8, ...members.flatMap((m) => [m.offset, m.offset + 16, m.offset + 48, m.offset + 58, m.offset + 60, m.offset + 60 + m.size])];
    const last = members.at(-1)!;
    for (const cut of cutPoints(debBytes.length, boundaries, 401)) {
      // An odd-sized last member may lack its padding byte (some tools write it so): that file is whole.
      if (cut === last.offset + 60 + last.size && cut === debBytes.length - 1) continue;
      const file = write(`cut-${cut}.deb`, debBytes.subarray(0, cut));
      const outcome = await attempt(file);
      if (cut < 8 + 16) {
        expectPackageError(outcome, file, "not a Debian or RPM package");
        continue;
      }
      const err = expectPackageError(outcome, file);
      expect(err.message, `cut at ${cut}`).toMatch(/truncated|no control\.tar|no data\.tar|corrupt gzip stream|unexpected end|Unexpected end/i);
    }
  });

  it("a plain data.tar truncated at every 512-byte block and inside (the ar member itself whole): one error naming the package and data.tar", async () => {
    const tar = await packTar([
      { name: "./lib/modules/6.1.0-9-amd64/kernel/a.ko", body: Buffer.alloc(1500, 1) },
      { name: "./lib/modules/6.1.0-9-amd64/kernel/b.ko", body: Buffer.alloc(700, 2) },
      { name: "./lib/modules/6.1.0-9-amd64/build", type: "symlink", linkname: "/usr/src/x" },
    ]);
    const control = gzipSync(await packTar([{ name: "./control", body: Buffer.from("Package: cut\n") }]));
    // The members end where the end-of-archive zero blocks begin: a cut past that leaves a whole archive.
    const membersEnd = 512 * 8; // three headers, a.ko's three data blocks and b.ko's two, the symlink's none
    expect(tar.subarray(membersEnd, membersEnd + 1024).every((b) => b === 0)).toBe(true);
    expect(tar.subarray(membersEnd - 512, membersEnd).some((b) => b !== 0)).toBe(true);
    const blocks = [...Array(membersEnd / 512 + 1).keys()].map((k) => k * 512);
    for (const cut of cutPoints(membersEnd + 1, blocks, 97)) {
      const file = arDeb(work, `tar-cut-${cut}`, [["debian-binary", Buffer.from("2.0\n")], ["control.tar.gz", control], ["data.tar", tar.subarray(0, cut)]]);
      expectPackageError(await attempt(file), file, "data.tar: ", /truncated tar archive|Unexpected end of data|bad tar archive/);
    }
  });

  it("wrong magic, an ar size field that is not a number, an absurd ar size, GNU and BSD long names", async () => {
    const data = arHeaderOffsets(debBytes).find((m) => m.name === "data.tar.gz")!;
    const patched = (name: string, at: number, text: string) => {
      const b = Buffer.from(debBytes);
      b.write(text, at, "latin1");
      return write(name, b);
    };
    const magic = patched("magic.deb", 0, "!<arcX>\n");
    expectPackageError(await attempt(magic), magic, "not a Debian or RPM package");
    const notNumber = patched("size-nan.deb", data.offset + 48, "12a4      ");
    expectPackageError(await attempt(notNumber), notNumber, "ar member data.tar.gz", "is not a number");
    const negative = patched("size-neg.deb", data.offset + 48, "-1        ");
    expectPackageError(await attempt(negative), negative, "ar member data.tar.gz", "is not a number");
    const huge = patched("size-huge.deb", data.offset + 48, "9999999999");
    expectPackageError(await attempt(huge), huge, /truncated|corrupt gzip/);
    const gnu = patched("gnu-long.deb", data.offset, "/4              ");
    expectPackageError(await attempt(gnu), gnu, "GNU long name", "not supported");
    const bsd = patched("bsd-long.deb", data.offset, "#1/20           ");
    expectPackageError(await attempt(bsd), bsd, "BSD long name", "not supported");
    const fmag = patched("fmag.deb", data.offset + 58, "XX");
    expectPackageError(await attempt(fmag), fmag, "bad ar member header");
    const version = patched("version.deb", 8 + 60, "3.0\n");
    expectPackageError(await attempt(version), version, "debian-binary", "unsupported deb format version");
  });

  /** A deb whose data.tar is exactly `tar` (compressed with `tool`), with a real control.tar. */
  async function debWithData(name: string, tar: Buffer, tool: "gzip" | "xz" | "zstd" | "none" = "none"): Promise<string> {
    const control = await packTar([{ name: "./control", body: Buffer.from("Package: evil\nVersion: 1\nArchitecture: all\n") }]);
    const suffix = tool === "none" ? "" : tool === "gzip" ? ".gz" : tool === "xz" ? ".xz" : ".zst";
    return arDeb(work, name, [
      ["debian-binary", Buffer.from("2.0\n")],
      ["control.tar.gz", gzipSync(control)],
      [`data.tar${suffix}`, tool === "none" ? tar : compress(tool, tar)],
    ]);
  }

  it("member paths with \"..\": one problem line each naming the package, the part and the member; the other members read", async () => {
    const tar = await packTar([
      { name: "./lib/modules/6.1.0-9-amd64/kernel/ok.ko", body: Buffer.from("\x7fELF ok") },
      { name: "./usr/../../etc/passwd", body: Buffer.from("root::0:0\n") },
      { name: "../escape.ko", body: Buffer.from("x") },
      { name: "./lib/modules/..", type: "directory" },
      { name: "./lib/modules/6.1.0-9-amd64/kernel/link.ko", type: "symlink", linkname: "../../../../../etc/shadow" },
      { name: "./lib/modules/6.1.0-9-amd64/kernel/last.ko", body: Buffer.from("\x7fELF last") },
    ]);
    const file = await debWithData("dotdot", tar, "xz");
    const outcome = await attempt(file);
    expect(outcome.error).toBeNull();
    expect(outcome.problems).toEqual([
      `${file}: data.tar.xz: ./usr/../../etc/passwd: member path leaves the package`,
      `${file}: data.tar.xz: ../escape.ko: member path leaves the package`,
      `${file}: data.tar.xz: ./lib/modules/..: member path leaves the package`,
    ]);
    // The symlink is reported as one (its target is not a member path, and is never followed).
    expect(outcome.visited).toEqual(["lib/modules/6.1.0-9-amd64/kernel/ok.ko", "lib/modules/6.1.0-9-amd64/kernel/link.ko", "lib/modules/6.1.0-9-amd64/kernel/last.ko"]);
  });

  it("a tar member of 2^40 bytes: a problem line naming it, then the archive's truncation as one error naming it; nothing of its size allocated", async () => {
    const tar = await packTar([
      { name: "./ok.ko", body: Buffer.from("ok") },
      { name: "./huge.ko", body: Buffer.alloc(1000, 1) },
    ]);
    // huge.ko's header is the second 512-byte header (after ok.ko's header and one data block):
    // its size field (offset 124, 12 bytes) becomes 2^40 in GNU base-256, the checksum recomputed.
    const h = 1024;
    tar.fill(0, h + 124, h + 136);
    tar[h + 124] = 0x80;
    tar.writeUIntBE(2 ** 40, h + 130, 6);
    tar.fill(0x20, h + 148, h + 156);
    let sum = 0;
    for (let k = h; k < h + 512; k++) sum += tar[k]!;
    tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, h + 148, "latin1");
    const file = await debWithData("huge-member", tar, "zstd");
    const before = process.memoryUsage().rss;
    const outcome = await attempt(file);
    expectPackageError(outcome, file, "data.tar.zst", "huge.ko", /end of data/i);
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
    expect(outcome.visited).toEqual(["ok.ko"]);
    // With a limit below a real member's size: a problem line, the member skipped, the rest read.
    const small = await attempt(deb, 1000);
    expect(small.error).toBeNull();
    const listed = dpkgList(deb);
    const large = listed.filter((m) => m.type === "file" && m.size > 1000);
    expect(large.length).toBe(2);
    expect(small.problems).toEqual(large.map((m) => `${deb}: data.tar.gz: ${m.path}: member of ${m.size} bytes, past the limit of 1000: skipped`));
    expect(small.visited).toEqual(listed.filter((m) => !large.includes(m)).map((m) => m.path));
  });

  it("a pax header claiming 4 GiB over a zstd bomb of zeros: refused before tar-stream buffers it, one error naming the part", async () => {
    const pax = Buffer.alloc(512);
    pax.write("PaxHeader", 0, "latin1");
    pax.write("0000644\0", 100, "latin1");
    pax.write("37777777777\0", 124, "latin1");
    pax.write("x", 156, "latin1");
    pax.write("ustar\0" + "00", 257, "latin1");
    pax.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of pax) sum += b;
    pax.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    // 600 MB of zeros after it, compressed by the zstd tool to a few KB.
    const zeros = run(["sh", "-c", "head -c 600000000 /dev/zero | zstd -q -c"]);
    const data = Buffer.concat([compress("zstd", pax), zeros]);
    expect(data.length).toBeLessThan(1024 * 1024);
    const control = gzipSync(await packTar([{ name: "./control", body: Buffer.from("Package: bomb\n") }]));
    const file = arDeb(work, "pax-bomb", [["debian-binary", Buffer.from("2.0\n")], ["control.tar.gz", control], ["data.tar.zst", data]]);
    const before = process.memoryUsage().rss;
    expectPackageError(await attempt(file), file, "data.tar.zst", "tar pax header of 4294967295 bytes");
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it("a corrupt data.tar.xz, a data.tar that is not a tar, a control.tar without control: one error naming the package and the part", async () => {
    const tar = await packTar([{ name: "./a.ko", body: Buffer.from(randomBytes(100_000).toString("hex")) }]);
    const xz = compress("xz", tar);
    for (let at = 200; at < xz.length - 60; at += 50) xz[at] ^= 0xa5;
    const corrupt = arDeb(work, "corrupt-xz", [
      ["debian-binary", Buffer.from("2.0\n")],
      ["control.tar.gz", gzipSync(await packTar([{ name: "./control", body: Buffer.from("Package: x\n") }]))],
      ["data.tar.xz", xz],
    ]);
    expectPackageError(await attempt(corrupt), corrupt, "data.tar.xz", "corrupt xz stream");
    const notTar = await debWithData("not-tar", Buffer.alloc(4096, 0x41));
    expectPackageError(await attempt(notTar), notTar, "data.tar", "bad tar archive");
    const noControl = arDeb(work, "no-control", [
      ["debian-binary", Buffer.from("2.0\n")],
      ["control.tar.gz", gzipSync(await packTar([{ name: "./md5sums", body: Buffer.from("") }]))],
      ["data.tar", tar],
    ]);
    expectPackageError(await attempt(noControl), noControl, "control.tar.gz", "no control file");
    const wrongOrder = arDeb(work, "wrong-order", [
      ["debian-binary", Buffer.from("2.0\n")],
      ["data.tar", tar],
    ]);
    expectPackageError(await attempt(wrongOrder), wrongOrder, "ar member \"data.tar\" where control.tar");
  });
});

const rpmBytes = PACKAGE_TESTS_RUN ? readFileSync(buildRpm(work, "kabi-bad", "gzip").rpm) : Buffer.alloc(0);

/** The RPM's layout, walked here independently of src/package/rpm.ts: where each header and the payload start. */
function rpmLayout(b: Buffer): { sig: number; sigIndex: number; sigStore: number; header: number; index: number; store: number; payload: number } {
  const sig = 96;
  const sigCount = b.readUInt32BE(sig + 8);
  const sigStoreSize = b.readUInt32BE(sig + 12);
  const sigStore = sig + 16 + 16 * sigCount;
  const header = sigStore + sigStoreSize + ((8 - ((sigStore + sigStoreSize) % 8)) % 8);
  const count = b.readUInt32BE(header + 8);
  const storeSize = b.readUInt32BE(header + 12);
  const store = header + 16 + 16 * count;
  return { sig, sigIndex: sig + 16, sigStore, header, index: header + 16, store, payload: store + storeSize };
}

describe.skipIf(!PACKAGE_TESTS_RUN)("RPM and cpio", { timeout: 300_000 }, () => {
  it("an RPM truncated at every header boundary, inside each and across the payload: one error naming the package", async () => {
    const l = rpmLayout(rpmBytes);
    expect(rpmBytes.subarray(l.payload, l.payload + 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const boundaries = [4, 78, 96, l.sig + 8, l.sig + 12, l.sigIndex, l.sigStore, l.header, l.header + 8, l.index, l.store, l.payload, l.payload + 10];
    for (const cut of cutPoints(rpmBytes.length, boundaries, 211)) {
      const file = write(`cut-${cut}.rpm`, rpmBytes.subarray(0, cut));
      if (cut < 4) {
        expectPackageError(await attempt(file), file, "not a Debian or RPM package");
        continue;
      }
      const err = expectPackageError(await attempt(file), file);
      expect(err.message, `cut at ${cut}`).toMatch(/truncated|no payload|corrupt gzip stream/);
      // Fewer bytes than gzip's magic: "truncated payload"; then the gzip stream's own end is missing.
      if (cut > l.payload) expect(err.message).toContain(cut >= l.payload + 2 ? "payload (cpio, gzip)" : "truncated payload");
    }
  });

  it("an uncompressed payload truncated at every cpio header, name and contents boundary: one error naming the package and the payload", async () => {
    const plain = readFileSync(buildRpm(work, "kabi-bad-plain", "none").rpm);
    const start = rpmLayout(plain).payload;
    // The newc entries, walked here: 110-byte header, name padded to 4, contents padded to 4.
    const boundaries: number[] = [];
    for (let at = start; at + 110 <= plain.length; ) {
      const hex = (k: number) => Number.parseInt(plain.toString("latin1", at + 6 + 8 * k, at + 14 + 8 * k), 16);
      const nameEnd = at + 110 + hex(11);
      const dataStart = nameEnd + ((4 - ((nameEnd - start) % 4)) % 4);
      const dataEnd = dataStart + hex(6);
      boundaries.push(at, at + 6, at + 110, nameEnd, dataStart, dataEnd);
      if (plain.toString("latin1", at + 110, nameEnd - 1) === "TRAILER!!!") break;
      at = dataEnd + ((4 - ((dataEnd - start) % 4)) % 4);
    }
    expect(boundaries.length).toBeGreaterThan(6 * 8);
    for (const cut of cutPoints(plain.length, boundaries, 4099).filter((c) => c > start)) {
      const file = write(`plain-cut-${cut}.rpm`, plain.subarray(0, cut));
      const err = expectPackageError(await attempt(file), file);
      expect(err.message, `cut at ${cut}`).toContain(": payload (cpio): truncated ");
    }
  });

  it("wrong lead and header magic, an index count of 2^31, an absurd store size, an index entry past the store", async () => {
    const l = rpmLayout(rpmBytes);
    const patched = (name: string, edit: (b: Buffer) => void) => {
      const b = Buffer.from(rpmBytes);
      edit(b);
      return write(name, b);
    };
    const lead = patched("lead.rpm", (b) => (b[3] = 0));
    expectPackageError(await attempt(lead), lead, "not a Debian or RPM package");
    const sigMagic = patched("sig-magic.rpm", (b) => (b[l.sig] = 0));
    expectPackageError(await attempt(sigMagic), sigMagic, "RPM signature header: bad magic");
    const hdrMagic = patched("hdr-magic.rpm", (b) => (b[l.header + 1] = 0));
    expectPackageError(await attempt(hdrMagic), hdrMagic, "RPM header: bad magic");
    const count = patched("count.rpm", (b) => b.writeUInt32BE(2 ** 31, l.header + 8));
    const before = process.memoryUsage().rss;
    expectPackageError(await attempt(count), count, "RPM header: 2147483648 index entries");
    const store = patched("store.rpm", (b) => b.writeUInt32BE(0xfffffff0, l.sig + 12));
    expectPackageError(await attempt(store), store, "RPM signature header: data store of 4294967280 bytes");
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
    const entry = patched("entry.rpm", (b) => b.writeUInt32BE(0x7fffffff, l.index + 8));
    expectPackageError(await attempt(entry), entry, "RPM header: index entry 0", "points past the data store");
  });

  /** The RPM's lead and headers with `cpio` (gzip-compressed) as its payload: the header says gzip, as the built one does. */
  function rpmWithPayload(name: string, cpio: Buffer): string {
    return write(name, Buffer.concat([rpmBytes.subarray(0, rpmLayout(rpmBytes).payload), gzipSync(cpio)]));
  }

  /** `cpio -o -H <format>` of the names given (relative to `cwd`, which may reach outside it with ".."). */
  function cpioArchive(format: "newc" | "crc" | "odc" | "bin", cwd: string, names: string[]): Buffer {
    return run(["cpio", "-o", "--quiet", "-H", format], { cwd, input: Buffer.from(names.join("\n") + "\n") });
  }

  const tree = join(work, "cpio-tree", "inner");
  mkdirSync(join(tree, "lib/modules"), { recursive: true });
  writeFileSync(join(tree, "lib/modules/ok.ko"), "\x7fELF ok");
  writeFileSync(join(tree, "lib/modules/later.ko"), "\x7fELF later");
  writeFileSync(join(tree, "..", "escape.ko"), "\x7fELF escape");

  it("cpio member paths with \"..\": a problem line naming the package, the payload and the member; the rest read", async () => {
    const file = rpmWithPayload("dotdot.rpm", cpioArchive("newc", tree, ["./lib/modules/ok.ko", "../escape.ko", "./lib/modules/../../../escape.ko", "./lib/modules/later.ko"]));
    const outcome = await attempt(file);
    expect(outcome.error).toBeNull();
    expect(outcome.problems).toEqual([
      `${file}: payload (cpio, gzip): ../escape.ko: member path leaves the package`,
      // GNU cpio stores the name without its leading "./".
      `${file}: payload (cpio, gzip): lib/modules/../../../escape.ko: member path leaves the package`,
    ]);
    expect(outcome.visited).toEqual(["lib/modules/ok.ko", "lib/modules/later.ko"]);
    const crc = rpmWithPayload("crc.rpm", cpioArchive("crc", tree, ["./lib/modules/ok.ko"]));
    expect((await attempt(crc)).visited).toEqual(["lib/modules/ok.ko"]);
  });

  it("odc and binary cpio refused by name; an absurd file size and name size; a header that is not hex: one error naming the package", async () => {
    const odc = rpmWithPayload("odc.rpm", cpioArchive("odc", tree, ["./lib/modules/ok.ko"]));
    expectPackageError(await attempt(odc), odc, "payload (cpio, gzip)", "old portable (odc) format: not supported");
    const bin = rpmWithPayload("bin.rpm", cpioArchive("bin", tree, ["./lib/modules/ok.ko"]));
    expectPackageError(await attempt(bin), bin, "payload (cpio, gzip)", "old binary format: not supported");
    const newc = cpioArchive("newc", tree, ["./lib/modules/ok.ko", "./lib/modules/later.ko"]);
    const edit = (at: number, text: string) => {
      const b = Buffer.from(newc);
      b.write(text, at, "latin1");
      return b;
    };
    // The first header: filesize at 54, namesize at 94 (8 hex digits each).
    const hugeSize = rpmWithPayload("cpio-size.rpm", edit(54, "FFFFFFFF"));
    const outcome = await attempt(hugeSize);
    expectPackageError(outcome, hugeSize, "payload (cpio, gzip)", "truncated contents of lib/modules/ok.ko");
    const hugeName = rpmWithPayload("cpio-name.rpm", edit(94, "80000000"));
    expectPackageError(await attempt(hugeName), hugeName, "payload (cpio, gzip)", "cpio member name size 2147483648");
    const notHex = rpmWithPayload("cpio-hex.rpm", edit(54, "0000zz00"));
    expectPackageError(await attempt(notHex), notHex, "payload (cpio, gzip)", "filesize", "is not a hex number");
    const noTrailer = rpmWithPayload("cpio-no-trailer.rpm", newc.subarray(0, newc.indexOf("TRAILER!!!") - 110));
    expectPackageError(await attempt(noTrailer), noTrailer, "payload (cpio, gzip)", "truncated cpio header");
  });
});

describe.skipIf(!PACKAGE_TESTS_RUN)("random damage", { timeout: 600_000 }, () => {
  // A small deb and RPM, truncated and with bytes flipped anywhere: the read ends (within the
  // deadline) with a result or with one line naming the package; nothing else is thrown.
  const small = PACKAGE_TESTS_RUN
    ? { deb: readFileSync(buildDeb(work, "kabi-fuzz", "xz")), rpm: readFileSync(buildRpm(work, "kabi-fuzz", "zstd").rpm) }
    : { deb: Buffer.alloc(1), rpm: Buffer.alloc(1) };
  it.each(["deb", "rpm"] as const)("%s: random truncations and bit flips give a result or one FileError naming the package", async (kind) => {
    const original = small[kind];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: original.length }),
        fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        async (length, flips) => {
          const b = Buffer.from(original.subarray(0, length));
          for (const [at, mask] of flips) if (at < b.length) b[at]! ^= mask;
          const file = write(`fuzz-${kind}-${n++}.${kind}`, b);
          const outcome = await attempt(file);
          if (outcome.error !== null) {
            expect(outcome.error).toBeInstanceOf(FileError);
            const message = (outcome.error as Error).message;
            expect(message.startsWith(`${file}: `), message).toBe(true);
            expect(message).not.toContain("\n");
          }
          rmSync(file);
        },
      ),
      { numRuns: 150, seed: 16 },
    );
  });
});
