import { spawn } from "node:child_process";
import { access, constants, lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { resolveInRoot } from "../root/resolve-in-root.js";

/** The outcome of one external command run after the links changed. */
export interface PostResult {
  kernel: string;
  step: "depmod" | "initramfs";
  command: string[];
  ok: boolean;
  /** Why it was not run, or how it failed. */
  message: string;
}

export interface PostOptions {
  root: string;
  /** depmod to run: a path, or null to look for it on PATH (skipped when absent). */
  depmod: string | null;
  /** dracut to run (default: looked up on PATH). */
  dracut: string | null;
  /** initramfs-tools' update-initramfs, used when there is no dracut (default: looked up on PATH). */
  updateInitramfs: string | null;
  /** A program run as `PROG <K>` in place of dracut (Red Hat's --check-initramfs-prog). */
  checkInitramfsProg: string | null;
  noInitramfs: boolean;
  /** Host path of each kernel's initramfs, or null. */
  initramfsOf: (release: string) => string | null;
  /** Inside-root kernel module directory ("/lib/modules/K"), for dracut --kmoddir when the root is not "/". */
  moduleDirOf: (release: string) => string;
}

/**
 * Why the external commands must not run for kernel `release`, or null when they may. depmod -b
 * ROOT K works on ROOT/lib/modules/K (or ROOT/usr/lib/modules/K, as kmod is configured) and dracut
 * --kmoddir on the one kabi found, each as the HOST resolves it (an absolute symlink there leads
 * out of the root), while kabi resolves them inside the root. They run only when, for each of the
 * two that exists on the host, both resolutions are the same directory, inside the root.
 */
export async function outsideRootReason(root: string, release: string): Promise<string | null> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (err) {
    return `${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)} while resolving it`;
  }
  for (const inside of [`lib/modules/${release}`, `usr/lib/modules/${release}`]) {
    const given = path.join(root, inside);
    try {
      await lstat(given);
    } catch {
      // Absent on the host (no component to follow): no command can be led out through it.
      continue;
    }
    let hostReal: string;
    try {
      hostReal = await realpath(given);
    } catch (err) {
      return `${given}: ${(err as NodeJS.ErrnoException).code ?? String(err)} while resolving it on this host`;
    }
    const rel = path.relative(rootReal, hostReal);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return `${given} resolves to ${hostReal}, outside the root`;
    const inRoot = await resolveInRoot(root, inside);
    let kabiReal: string | null = null;
    try {
      if (inRoot !== null) kabiReal = await realpath(inRoot);
    } catch {
      kabiReal = null;
    }
    if (kabiReal !== hostReal) return `${given} resolves to ${hostReal} on this host but to ${kabiReal ?? "nothing"} inside the root`;
  }
  return null;
}

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH (plus the sbin directories), or null. */
export async function findOnPath(name: string): Promise<string | null> {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  for (const d of [...dirs, "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    const p = path.join(d, name);
    if (await executable(p)) return p;
  }
  return null;
}

function run(argv: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (err) => resolve({ code: null, output: err.message }));
    child.on("close", (code) => resolve({ code, output }));
  });
}

async function runStep(kernel: string, stepName: PostResult["step"], argv: string[]): Promise<PostResult> {
  const { code, output } = await run(argv);
  const ok = code === 0;
  const tail = output.trim().split("\n").slice(-5).join("\n");
  return { kernel, step: stepName, command: argv, ok, message: ok ? "" : `exit ${code ?? "?"}${tail !== "" ? `: ${tail}` : ""}` };
}

/**
 * The command that regenerates `image`, the initramfs of kernel `release`, or why none is run.
 * dracut when it is given or on PATH (Red Hat's weak-modules runs it; Debian's dracut package
 * replaces initramfs-tools and keeps its image names), else initramfs-tools' update-initramfs for
 * an image it names (boot/initrd.img-K). `update-initramfs -u -k K` rebuilds K's image even under
 * dpkg: only a bare `-u` with DPKG_MAINTSCRIPT_PACKAGE set is deferred to its trigger, which then
 * rebuilds the newest kernel's image only. `-b` names the folder of the image kabi found. It has
 * no root option (it works on the running system's /etc/initramfs-tools and /lib/modules), so for
 * another root nothing is run.
 */
async function initramfsCommand(opts: PostOptions, release: string, image: string): Promise<{ argv: string[] } | { skipped: string }> {
  const dracut = opts.dracut ?? (await findOnPath("dracut"));
  if (dracut !== null) {
    const argv = [dracut, "-f"];
    if (path.resolve(opts.root) !== "/") argv.push("--kmoddir", path.join(opts.root, opts.moduleDirOf(release)));
    argv.push("--", image, release);
    return { argv };
  }
  if (path.basename(image) !== `initrd.img-${release}`) return { skipped: `dracut not found: ${image} not regenerated` };
  const updateInitramfs = opts.updateInitramfs ?? (await findOnPath("update-initramfs"));
  if (updateInitramfs === null) return { skipped: `neither dracut nor update-initramfs found: ${image} not regenerated` };
  if (path.resolve(opts.root) !== "/") return { skipped: `update-initramfs has no root option: ${image} not regenerated` };
  // getopt gives -k the next word whatever it starts with; update-initramfs takes no operand after "--".
  return { argv: [updateInitramfs, "-u", "-k", release, "-b", path.dirname(image)] };
}

/**
 * For each kernel whose links changed: `depmod -a -b <root> -- K`, then the initramfs (the
 * --check-initramfs-prog program as `PROG -- K`, else, for kernels that already have one,
 * `dracut -f ... -- IMAGE K` or initramfs-tools' `update-initramfs -u -k K`: initramfsCommand),
 * none of them for a kernel whose tree the host resolves elsewhere than kabi did
 * (outsideRootReason). Failures are reported, never undone.
 */
export async function runPostActions(kernels: readonly string[], opts: PostOptions): Promise<PostResult[]> {
  const out: PostResult[] = [];
  const depmod = opts.depmod ?? (await findOnPath("depmod"));
  for (const k of kernels) {
    const refused = await outsideRootReason(opts.root, k);
    if (refused !== null) {
      const message = `not run: ${refused}`;
      out.push({ kernel: k, step: "depmod", command: [], ok: false, message });
      if (!opts.noInitramfs) out.push({ kernel: k, step: "initramfs", command: [], ok: false, message });
      continue;
    }
    // Every release goes after "--": one starting with "-" is never read as an option.
    if (depmod === null) out.push({ kernel: k, step: "depmod", command: [], ok: true, message: "depmod not found: skipped" });
    else out.push(await runStep(k, "depmod", [depmod, "-a", "-b", opts.root, "--", k]));
    if (opts.noInitramfs) continue;
    if (opts.checkInitramfsProg !== null) {
      out.push(await runStep(k, "initramfs", [opts.checkInitramfsProg, "--", k]));
      continue;
    }
    const image = opts.initramfsOf(k);
    if (image === null) continue;
    const command = await initramfsCommand(opts, k, image);
    if ("skipped" in command) out.push({ kernel: k, step: "initramfs", command: [], ok: false, message: command.skipped });
    else out.push(await runStep(k, "initramfs", command.argv));
  }
  return out;
}
