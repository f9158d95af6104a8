/**
 * readPackage's contract beyond the formats: detection by content, the visitor's own errors
 * passed through unchanged, bytes() only during the visit, and inputs that are not packages
 * (a static library, a directory, a FIFO, a missing file) as one line naming them, no wait.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectPackage, detectPackageFile, PACKAGE_HEAD_LENGTH, readPackage, type PackageMember } from "../../src/package/package-file.js";
import { FileError } from "../../src/types/errors.js";
import { buildDeb, buildRpm, run, PACKAGE_TESTS_RUN } from "./package-tools.js";

const work = mkdtempSync(join(tmpdir(), "kabi-package-file-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const deb = PACKAGE_TESTS_RUN ? buildDeb(work, "kabi-contract", "xz") : "";
const rpm = PACKAGE_TESTS_RUN ? buildRpm(work, "kabi-contract", "zstd").rpm : "";

describe.skipIf(!PACKAGE_TESTS_RUN)("readPackage", { timeout: 120_000 }, () => {
  it("detects by content: a deb, an RPM; not an ar archive of another kind, nor a short head", () => {
    expect(detectPackage(readFileSync(deb).subarray(0, PACKAGE_HEAD_LENGTH))).toBe("deb");
    expect(detectPackage(readFileSync(rpm).subarray(0, PACKAGE_HEAD_LENGTH))).toBe("rpm");
    writeFileSync(join(work, "x.o"), "not an object");
    run(["ar", "rcs", join(work, "libx.a"), "x.o"], { cwd: work });
    expect(detectPackage(readFileSync(join(work, "libx.a")).subarray(0, PACKAGE_HEAD_LENGTH))).toBeNull();
    expect(detectPackage(Buffer.from("!<arch>\ndebian"))).toBeNull();
    expect(detectPackage(Buffer.from([0xed, 0xab, 0xee]))).toBeNull();
  });

  it("detectPackageFile: a deb, an RPM, a module, a directory and a FIFO (null, no wait), a missing file (FileError)", async () => {
    expect(await detectPackageFile(deb)).toBe("deb");
    expect(await detectPackageFile(rpm)).toBe("rpm");
    expect(await detectPackageFile(join(work, "x.o"))).toBeNull();
    expect(await detectPackageFile(work)).toBeNull();
    const fifo = join(work, "detect-fifo.rpm");
    execFileSync("mkfifo", [fifo]);
    expect(await detectPackageFile(fifo)).toBeNull();
    await expect(detectPackageFile(join(work, "missing.rpm"))).rejects.toThrow(`${join(work, "missing.rpm")}: no such file`);
  });

  it.each([["deb", deb], ["rpm", rpm]])("%s: what the visitor throws comes out unchanged, and reading stops there", async (_, file) => {
    const mine = new RangeError("visitor gave up");
    let seen = 0;
    await expect(
      readPackage(file, async (m) => {
        seen++;
        if (m.type === "file") throw mine;
      }),
    ).rejects.toBe(mine);
    expect(seen).toBeGreaterThan(0);
  });

  it.each([["deb", deb], ["rpm", rpm]])("%s: bytes() works during the visit only, and twice gives the same bytes", async (_, file) => {
    const kept: PackageMember[] = [];
    await readPackage(file, async (m) => {
      if (m.type !== "file") return;
      const a = await m.bytes();
      const b = await m.bytes();
      expect(a.equals(b)).toBe(true);
      expect(a.length).toBe(m.size);
      kept.push(m);
    });
    expect(kept.length).toBeGreaterThan(0);
    await expect(kept[0]!.bytes()).rejects.toThrow(/after the visit moved on/);
  });

  it("a static library, a directory, a FIFO, a missing file: one line each naming it", async () => {
    const visit = async () => undefined;
    await expect(readPackage(join(work, "libx.a"), visit)).rejects.toThrow(`${join(work, "libx.a")}: not a Debian or RPM package`);
    await expect(readPackage(work, visit)).rejects.toThrow(new FileError(work, "not a regular file").message);
    const fifo = join(work, "fifo.deb");
    execFileSync("mkfifo", [fifo]);
    await expect(readPackage(fifo, visit)).rejects.toThrow(`${fifo}: not a regular file`);
    const missing = join(work, "missing.deb");
    const err = await readPackage(missing, visit).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileError);
    expect((err as FileError).message).toBe(`${missing}: no such file`);
  });
});

describe.skipIf(!PACKAGE_TESTS_RUN)("readPackage, a visitor that starts a read and fails", { timeout: 120_000 }, () => {
  it.each([["deb", () => deb], ["rpm", () => rpm]])("%s: its error comes out, and the read it left behind raises nothing", async (_, file) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const mine = new Error("stop");
      await expect(
        readPackage(file(), async (m) => {
          if (m.type !== "file" || m.size === 0) return;
          void m.bytes();
          throw mine;
        }),
      ).rejects.toBe(mine);
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
