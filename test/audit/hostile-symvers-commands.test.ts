/**
 * Hostile symvers (issue 14) through the three commands that load symvers, which all go through
 * src/load/load-symvers.ts: `kabi audit` (the built executable), `kabi status` and `weak-modules`.
 * Each bad symvers is one line naming the file and the reason, with the documented exit code, and
 * the other kernels are still judged.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { LISTED_PROBLEMS } from "../../src/symvers/parse-symvers.js";
import { captureIO } from "../helpers/capture-io.js";
import { ROOT } from "../helpers/paths.js";
import { fixtureSymversText } from "../helpers/symvers-edit.js";
import { addKernel, baseArgs, installFixture, K53, K54, makeRoot, removeRoot, runWeak, weakLinks } from "../weak/weak-root.js";

const KABI = path.join(ROOT, "dist/src/cli/kabi.js");
const PROVIDER = path.join(ROOT, "fixtures/modules", K53, "kabi_provider.ko");
const work = mkdtempSync(path.join(tmpdir(), "kabi-hostile-symvers-cli-"));
const roots: string[] = [];
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  for (const r of roots) await removeRoot(r);
});

/** The built `kabi` with `args`, killed after 20 s (a hang fails the test rather than the run). */
function kabi(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KABI, ...args], { encoding: "utf8", timeout: 20_000, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStackTrace = (text: string): void => expect(text).not.toMatch(/^\s+at |Error:|node:internal/m);

describe("kabi audit (built executable)", () => {
  const real = path.join(work, "real.symvers");
  writeFileSync(real, fixtureSymversText(K53));
  const clean = kabi(["audit", "--no-cache", "--symvers", `${K53}=${real}`, PROVIDER]);

  it("audits the provider against the real symvers (the reference for the cases below)", () => {
    expect(clean.code).toBe(0);
    expect(clean.stderr).toBe("");
  });

  it("lists 10 of 200,000 bad lines and counts the rest, with the clean run's verdicts and exit code", () => {
    const file = path.join(work, "badcrc.symvers");
    writeFileSync(file, fixtureSymversText(K53) + Array.from({ length: 200_000 }, (_, i) => `0xzz\tsym${i}\tvmlinux\tEXPORT_SYMBOL\t\n`).join(""));
    const r = kabi(["audit", "--no-cache", "--symvers", `${K53}=${file}`, PROVIDER]);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(LISTED_PROBLEMS + 1);
    expect(lines[LISTED_PROBLEMS]).toMatch(new RegExp(`^kabi audit: ${file}:\\d+: and 199990 more lines with problems from here on \\(not listed\\)$`));
    expect(r.stdout).toBe(clean.stdout.replaceAll(real, file));
    expect(r.code).toBe(clean.code);
  });

  it("an unusable cache folder (KABI_CACHE_DIR under /proc) is one warning, and the audit runs as without the cache", () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [KABI, "audit", "--symvers", `${K53}=${real}`, PROVIDER], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, KABI_CACHE_DIR: "/proc/kabi-no-such/cache" },
    });
    expect(r.stderr).toBe("kabi audit: warning: cache folder /proc/kabi-no-such/cache: cannot be used (ENOENT (mkdir)); running without the cache\n");
    expect(r.stdout).toBe(clean.stdout);
    expect(r.status).toBe(clean.code);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses a FIFO as --symvers with one line (no wait for a writer), exit 2", () => {
    const fifo = path.join(work, "symvers.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const r = kabi(["audit", "--no-cache", "--symvers", `${K53}=${fifo}`, "--symvers", `${K54}=${real}`, PROVIDER]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kabi audit: ${fifo}: a FIFO, not a regular file: a symvers must be one\n`);
    expect(r.stdout).toContain(K54); // the other kernel is still audited
  });

  it("refuses an empty symvers with one line, exit 2", () => {
    const empty = path.join(work, "empty.symvers");
    writeFileSync(empty, "");
    const r = kabi(["audit", "--no-cache", "--symvers", `${K53}=${empty}`, PROVIDER]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kabi audit: ${empty}: empty symvers file (no line, so no symbol)\n`);
  });

  it("calls a directory with no module in it, or a missing path, an input error (exit 2), one line each", () => {
    const emptyDir = path.join(work, "emptydir");
    mkdirSync(emptyDir);
    const missing = path.join(work, "missing.ko");
    for (const [input, line] of [
      [emptyDir, `kabi audit: ${emptyDir}: no module file (*.ko, *.ko.xz, *.ko.gz, *.ko.zst) in this directory\n`],
      [missing, `kabi audit: ${missing}: no such file\n`],
    ] as const) {
      const r = kabi(["audit", "--no-cache", "--symvers", `${K53}=${real}`, input]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(line);
      // With a module beside it, the module is still audited, and the totals count the input error.
      const both = kabi(["audit", "--no-cache", "--symvers", `${K53}=${real}`, input, PROVIDER]);
      expect(both.code).toBe(2);
      expect(clean.stdout).toContain("\ntotals: 1 module, 1 kernel\n");
      expect(both.stdout).toBe(clean.stdout.replace("\ntotals: 1 module, 1 kernel\n", "\ntotals: 1 module, 1 kernel, 1 input error (not audited: see the messages on stderr)\n"));
    }
  });
});

/** The release of a kernel with K53's ABI (its symvers is K53's, Debian style) and no module of its own. */
const KX = "6.1.0-60-amd64";

/**
 * A root with K53 (the provider in its extra/) and KX, KX's symvers written as `symversText`
 * (the real one by default) at usr/src/linux-headers-KX/Module.symvers.
 */
async function symversRoot(symversText: string | Buffer = fixtureSymversText(K53)): Promise<{ root: string; symversX: string }> {
  const root = await makeRoot();
  roots.push(root);
  await addKernel(root, K53, "debian");
  mkdirSync(path.join(root, "lib/modules", KX), { recursive: true });
  const symversX = path.join(root, "usr/src", `linux-headers-${KX}`, "Module.symvers");
  mkdirSync(path.dirname(symversX), { recursive: true });
  writeFileSync(symversX, symversText);
  await installFixture(root, K53, "kabi_provider.ko", K53);
  return { root, symversX };
}

describe("weak-modules and kabi status", () => {
  it("a NUL byte in one line of K's symvers drops that line, not the kernel: the same links as with the clean file", async () => {
    const clean = await symversRoot();
    const reference = await runWeak([...baseArgs(clean.root), "--add-kernel", KX]);
    expect(reference.code).toBe(0);
    expect(await weakLinks(clean.root)).toHaveLength(1);
    // Line 11, in the first 4 KiB (where a NUL used to make the whole file "binary data").
    const lines = fixtureSymversText(K53).split("\n");
    lines[10] = lines[10]!.replace("\t", "\0\t");
    const { root } = await symversRoot(lines.join("\n"));
    const r = await runWeak([...baseArgs(root), "--add-kernel", KX]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(reference.err);
    expect(await weakLinks(root)).toEqual(await weakLinks(clean.root));
  });

  it("--add-kernel K with K's symvers unusable (binary) is exit 1, one line naming the file, as with no symvers", async () => {
    const { root, symversX } = await symversRoot("\0\0\0\n\0\0\n");
    const r = await runWeak([...baseArgs(root), "--add-kernel", KX]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`weak-modules: kernel ${KX}: ${symversX}: binary data, not a symvers text file\n`);
    expect(await weakLinks(root)).toEqual([]);
  });

  it("kabi status warns once about a kernel whose symvers is empty, passes over a FIFO in its place, and still reports the other kernel", { timeout: 20_000 }, async () => {
    const { root, symversX } = await symversRoot("");
    const status = async (): Promise<string[]> => {
      const io = captureIO();
      expect(await main(["status", "--basedir", root, "--no-cache"], io)).toBe(0);
      noStackTrace(io.stderr);
      expect(io.stdout).toContain(`${K53}: installed`);
      return io.stderr.split("\n").filter((l) => l.includes(symversX));
    };
    expect(await status()).toEqual([`kabi status: warning: kernel ${KX}: ${symversX}: empty symvers file (no line, so no symbol)`]);
    unlinkSync(symversX);
    expect(spawnSync("mkfifo", [symversX]).status).toBe(0);
    expect((await status()).length).toBeLessThanOrEqual(1);
  });
});
