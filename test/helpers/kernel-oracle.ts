/**
 * The kernel itself as the test oracle (docs/kernel-oracle.md): boot a real kernel under QEMU (no
 * KVM: -accel tcg) with a small initramfs (fixtures/qemu/build-initramfs.sh: static busybox, an /init,
 * the module files) whose /init insmods every module in the given order and prints, per module,
 * insmod's exit status and the kernel messages the attempt logged; then it powers off. One boot for
 * the whole batch.
 *
 * What counts as loaded: the kernel's module loader refuses a module for its ABI (a symbol's CRC,
 * an unknown symbol, a missing namespace import, the signature, the vermagic, the struct module
 * size) BEFORE it runs the module's init function, and says so in its log (LOADER_REFUSALS). A
 * module whose insmod failed WITHOUT any such message got past every one of those checks and was
 * refused by its own init function, typically for lack of hardware (-ENODEV, -19: a driver for a
 * device the virtual machine does not have, a CPU feature TCG does not emulate). Such a module is
 * `loaded` here (loaded-by-ABI), with `initFailed` set: on a machine with the hardware it loads.
 * The one silent refusal (a signature that does not verify: SIGNATURE_REJECTED) is read from the
 * exit status.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ROOT } from "./paths.js";
import { corpusDir } from "./corpus.js";
import { commandPresent } from "./required.js";

export const QEMU = "qemu-system-x86_64";
export const BUSYBOX = "/usr/bin/busybox";
const BUILD_INITRAMFS = join(ROOT, "fixtures/qemu/build-initramfs.sh");
const EXTRACT_KERNEL = join(ROOT, "fixtures/qemu/extract-kernel.sh");

/** One module to try: a label for messages, and the uncompressed .ko file. */
export interface OracleModule {
  name: string;
  file: string;
}

/** The loader's answer for one module. */
export interface LoaderAnswer {
  name: string;
  file: string;
  /** insmod's exit status (busybox's insmod exits with the errno: 22 EINVAL, 2 ENOENT, 19 ENODEV...). */
  insmodStatus: number;
  /** Loaded, or refused only by its own init function (initFailed): it passed the loader's checks. */
  loaded: boolean;
  /** insmod failed, and the log holds no loader refusal: the module's init refused (no hardware). */
  initFailed: boolean;
  /** The log lines that are loader refusals (LOADER_REFUSALS), without their timestamps. */
  reasons: string[];
  /** Every log line the attempt produced, without timestamps (taint notices, the init's messages). */
  messages: string[];
}

export interface OracleBoot {
  /** The booted kernel's release (/proc/sys/kernel/osrelease) and command line, as /init saw them. */
  release: string;
  cmdline: string;
  /** Wall-clock milliseconds from starting QEMU to its exit. */
  bootMs: number;
  modules: LoaderAnswer[];
}

/**
 * The kernel log messages of kernel/module/main.c (and module signing) that refuse a module before
 * its init runs: each names the reason the loader gave.
 */
export const LOADER_REFUSALS: readonly RegExp[] = [
  /disagrees about version of symbol \S+/,
  /Unknown symbol \S+ \(err -?\d+\)/,
  /no symbol version for \S+/,
  /version magic '.*' should be '.*'/,
  /module uses symbol \S+ from namespace \S+, but does not import it/, // "(X)" in 6.1, "X" later
  /Loading of module with unavailable key is rejected/,
  /Loading of unsigned module is rejected/,
  /\.gnu\.linkonce\.this_module section size must match/,
  /module has bad taint/,
  /exports duplicate symbol/,
];

/**
 * The one refusal the loader does not log: a signature that does not verify with a key the kernel
 * holds (the module was changed after signing) fails with -EKEYREJECTED even where signatures are
 * not enforced (kernel/module/signing.c: only a missing signature or key is tolerated), silently.
 * busybox's insmod exits with the errno: 129 without a log line is that refusal, recorded as
 * SIGNATURE_REJECTED (129 is also the errno of the logged refusals of a missing key or signature
 * where signatures are enforced).
 */
const EKEYREJECTED = 129;
export const SIGNATURE_REJECTED = "(no log line) insmod: -EKEYREJECTED: the signature does not verify";

/** The symbols of "disagrees about version of symbol X" lines. */
export function crcRefusedSymbols(answer: LoaderAnswer): string[] {
  return answer.reasons.flatMap((r) => /disagrees about version of symbol (\S+)/.exec(r)?.[1] ?? []);
}

/** The symbols of "Unknown symbol X (err -2)" lines: not exported by the kernel or a loaded module. */
export function unknownSymbols(answer: LoaderAnswer): string[] {
  return answer.reasons.flatMap((r) => /Unknown symbol (\S+) \(err -2\)/.exec(r)?.[1] ?? []);
}

/** The symbol and namespace of "module uses symbol (X) from namespace N, but does not import it" lines. */
export function namespaceRefusals(answer: LoaderAnswer): { symbol: string; namespace: string }[] {
  return answer.reasons.flatMap((r) => {
    const m = /module uses symbol \(?([^\s()]+)\)? from namespace (\S+), but does not import it/.exec(r);
    return m ? [{ symbol: m[1]!, namespace: m[2]! }] : [];
  });
}

/** The corpus cache's kernel of `release` (fixtures/qemu/extract-kernel.sh), or null when not extracted. */
export function corpusKernel(release: string): { vmlinuz: string; config: string } | null {
  const dir = join(corpusDir(), "boot", release);
  const vmlinuz = join(dir, "vmlinuz");
  const config = join(dir, "config");
  return existsSync(vmlinuz) && existsSync(config) ? { vmlinuz, config } : null;
}

/** Whether QEMU and busybox-static are installed (the oracle's tools; .ci/run installs them). */
export function oracleToolsPresent(): boolean {
  return commandPresent(QEMU, ["--version"]) && existsSync(BUSYBOX) && commandPresent("cpio", ["--version"]);
}

export { EXTRACT_KERNEL };

const MARK = "KABI-ORACLE ";

/**
 * Boots `vmlinuz` with an initramfs holding `modules`, insmods them in order (dependencies first:
 * nothing is resolved here), and returns the loader's answer per module. `cmdline` is appended to
 * the kernel's command line (for example "module.sig_enforce=1"). Throws when the boot does not
 * reach its end marker within `timeoutMs` (QEMU is then killed), with the console's tail.
 */
export async function bootAndInsmod(opts: {
  vmlinuz: string;
  modules: readonly OracleModule[];
  cmdline?: readonly string[];
  timeoutMs: number;
}): Promise<OracleBoot> {
  const work = mkdtempSync(join(tmpdir(), "kabi-oracle-"));
  try {
    const initrd = join(work, "initrd.cpio.gz");
    const built = spawnSync("bash", [BUILD_INITRAMFS, initrd, ...opts.modules.map((m) => m.file)], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(`build-initramfs.sh failed (${built.status}): ${built.stderr}`);
    const append = ["console=ttyS0", "panic=-1", "quiet", ...(opts.cmdline ?? [])].join(" ");
    const args = ["-accel", "tcg", "-m", "512", "-nographic", "-no-reboot", "-kernel", opts.vmlinuz, "-initrd", initrd, "-append", append];
    const started = Date.now();
    const { output, timedOut } = await runQemu(args, opts.timeoutMs);
    const bootMs = Date.now() - started;
    // The firmware's terminal escapes may precede a marker on its line: a marker line starts at its marker.
    const lines = output.split(/\r?\n/).map((l) => {
      const at = l.indexOf(MARK);
      return (at > 0 ? l.slice(at) : l).replace(/\r/g, "");
    });
    if (timedOut || !lines.some((l) => l.startsWith(`${MARK}DONE`))) {
      throw new Error(`the oracle's boot did not finish${timedOut ? ` within ${opts.timeoutMs} ms` : ""}; console tail:\n${lines.slice(-40).join("\n")}`);
    }
    return parseConsole(lines, opts.modules, bootMs);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function runQemu(args: string[], timeoutMs: number): Promise<{ output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", () => {
      clearTimeout(timer);
      resolve({ output: Buffer.concat(chunks).toString("latin1"), timedOut });
    });
  });
}

function parseConsole(lines: readonly string[], modules: readonly OracleModule[], bootMs: number): OracleBoot {
  const booted = lines.find((l) => l.startsWith(`${MARK}BOOTED `));
  if (booted === undefined) throw new Error("the oracle's /init printed no BOOTED line");
  const [release = "", ...rest] = booted.slice(`${MARK}BOOTED `.length).split(" ");
  const answers: LoaderAnswer[] = modules.map((m) => ({ name: m.name, file: m.file, insmodStatus: -1, loaded: false, initFailed: false, reasons: [], messages: [] }));
  for (const l of lines) {
    const insmod = /^KABI-ORACLE INSMOD (\d+) (\S+) (\d+)$/.exec(l);
    if (insmod) {
      const a = answers[Number(insmod[1])];
      if (a === undefined || insmod[2] !== basename(a.file)) throw new Error(`unexpected oracle line: ${l}`);
      a.insmodStatus = Number(insmod[3]);
      continue;
    }
    const dmesg = /^KABI-ORACLE DMESG (\d+) (?:\[[ \d.]+\] )?(.*)$/.exec(l);
    if (dmesg) answers[Number(dmesg[1])]?.messages.push(dmesg[2]!);
  }
  for (const a of answers) {
    if (a.insmodStatus < 0) throw new Error(`the oracle's /init did not try ${a.file}`);
    a.reasons = a.messages.filter((m) => LOADER_REFUSALS.some((re) => re.test(m)));
    if (a.insmodStatus === EKEYREJECTED && a.reasons.length === 0) a.reasons.push(SIGNATURE_REJECTED);
    a.initFailed = a.insmodStatus !== 0 && a.reasons.length === 0;
    a.loaded = a.insmodStatus === 0 || a.initFailed;
  }
  return { release, cmdline: rest.join(" "), bootMs, modules: answers };
}
