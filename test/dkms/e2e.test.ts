/**
 * DKMS end to end, with Debian's real dkms (3.0.10) and two real Debian kernels (issue 15, items 3
 * and 4): kabi's weak-modules is put where dkms looks for it (/sbin/weak-modules), the tiny DKMS
 * package of fixtures/dkms/kabi_dkms-1.0 goes through dkms add/build/install for kernel A, and
 * what dkms, kabi and depmod leave in /lib/modules is checked after each dkms step.
 *
 * Everything runs in a system sandbox (test/helpers/system-sandbox.ts): /usr, /etc, /var are
 * overlays, and each kernel's /lib/modules/<K> is one more overlay over the module tree unpacked
 * from the linux-image package by fixtures/dkms/fetch-kernels.sh (CI runs it; the test never
 * downloads), with the headers package's build link added; no other kernel is visible. Nothing
 * outside the sandbox's folder is written: dkms's temporary files go to the sandbox's /var/tmp
 * and kabi's caches to its /var/cache.
 *
 * One sandbox is taken to "A installed" once; each case starts from a copy of it (the upper
 * layers copied), so that a failing case does not change what the next one starts from.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";
import { requireUnderCi } from "../helpers/required.js";
import { requireSystemSandbox, systemSandbox, systemSandboxWorks, type SandboxResult, type SystemSandbox } from "../helpers/system-sandbox.js";

const A = "6.1.0-53-amd64";
const B = "6.1.0-54-amd64";
const KERNELS = [A, B] as const;
const MODULES = ["kabi_dkms_provider", "kabi_dkms_user"] as const;
const FIXTURE = path.join(ROOT, "fixtures/dkms/kabi_dkms-1.0");
const FETCH = path.join(ROOT, "fixtures/dkms/fetch-kernels.sh");
const PATCH = path.join(ROOT, "contrib/dkms-3.0.10-weak-status.patch");
const WEAK_MODULES_JS = path.join(ROOT, "dist/src/cli/weak-modules.js");
const KABI_JS = path.join(ROOT, "dist/src/cli/kabi.js");
/** The line dkms 3.0.10's own status form gives a weak install (COMMON.md; contrib patch, kabi status --dkms). */
const WEAK_LINE = `kabi_dkms/1.0, ${B}, x86_64: installed-weak from ${A}`;

/** The unpacked module tree of each kernel (the folder holding lib/modules/<K>), when fetched. */
function fetchedTrees(): Map<string, string> | undefined {
  const r = spawnSync("bash", [FETCH, "--check", ...KERNELS], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const trees = new Map<string, string>();
  for (const line of r.stdout.trim().split("\n")) {
    const [k, dir] = line.split("\t");
    if (k !== undefined && dir !== undefined) trees.set(k, dir);
  }
  return KERNELS.every((k) => trees.has(k)) ? trees : undefined;
}

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * A sandbox whose /lib/modules/<K> are overlays too: the upper layers under <sandbox>/kmods/<K>
 * persist like the sandbox's own. A prelude that mounts them is prepended to every script.
 */
interface DkmsSandbox {
  box: SystemSandbox;
  run(script: string): Promise<SandboxResult>;
  check(script: string): Promise<SandboxResult>;
}

function dkmsSandbox(trees: Map<string, string>, from?: SystemSandbox): DkmsSandbox {
  const box = systemSandbox("dkms");
  // Only A and B are installed kernels in the sandbox: /usr/lib/modules is an empty tmpfs there
  // (any other kernel of the machine would take part in weak-modules' and dkms's choices), and
  // each kernel's folder an overlay over its unpacked linux-image tree.
  const mounts = ["mount -t tmpfs -o mode=0755 kabi-e2e-modules /usr/lib/modules"];
  for (const k of KERNELS) {
    const upper = path.join(box.dir, "kmods", k, "upper");
    const work = path.join(box.dir, "kmods", k, "work");
    mkdirSync(upper, { recursive: true });
    mkdirSync(work, { recursive: true });
    const lower = `${trees.get(k)}/lib/modules/${k}`;
    mounts.push(`mkdir /usr/lib/modules/${k}`);
    mounts.push(`mount -t overlay overlay -o ${q(`lowerdir=${lower},upperdir=${upper},workdir=${work}`)} /usr/lib/modules/${k}`);
  }
  if (from !== undefined) {
    // A copy of another sandbox's state: its upper layers (cp -a keeps overlayfs's whiteouts and
    // xattrs), each overlay then mounted with a fresh work folder.
    const r = spawnSync(
      "bash",
      [
        "-ec",
        `cp -a ${q(path.join(from.dir, "upper"))}/. ${q(path.join(box.dir, "upper"))}/
         for k in ${KERNELS.join(" ")}; do cp -a ${q(from.dir)}/kmods/$k/upper/. ${q(box.dir)}/kmods/$k/upper/; done`,
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`copying the sandbox failed: ${r.stderr}`);
  }
  // dkms's temporary files (TMPDIR) and kabi's caches land inside the sandbox's overlays.
  const env = { TMPDIR: "/var/tmp", KABI_CACHE_DIR: "/var/cache/kabi-e2e", PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` };
  const prelude = `${mounts.join("\n")}\nA=${A}\nB=${B}\n`;
  return {
    box,
    run: (script) => box.run(prelude + script, { env }),
    check: (script) => box.check(prelude + script, { env }),
  };
}

/**
 * Every kabi_dkms file and link of both kernels (updates/ and weak-updates/, any depth), one
 * `<type> <path> -> <link target>` line each, sorted: what dkms and weak-modules left.
 */
const LIST_ENTRIES = `find /lib/modules/$A /lib/modules/$B -name 'kabi_dkms*' -printf '%y %p -> %l\\n' | LC_ALL=C sort`;

function linkLine(k: string, from: string, m: string): string {
  return `l /lib/modules/${k}/weak-updates/dkms/${m}.ko -> /lib/modules/${from}/updates/dkms/${m}.ko`;
}
function fileLine(k: string, m: string): string {
  return `f /lib/modules/${k}/updates/dkms/${m}.ko -> `;
}
function entries(r: SandboxResult): string[] {
  return r.stdout.split("\n").filter((l) => l !== "");
}
/** The module file modprobe/modinfo load for `m` in kernel `k` (after depmod), or "" for none. */
function modinfoScript(k: string, m: string): string {
  return `modinfo -k ${k} -n ${m} 2>/dev/null || true`;
}

/**
 * `kabi status` inside the sandbox (kabi's own judgement of every external module in every
 * kernel, as weak-modules would decide): its exit status and, per module name, the state it
 * gives each kernel (`  <K>: <state>` lines under `<module> (<path>, built for <K>)`).
 */
async function kabiStatus(s: DkmsSandbox): Promise<{ code: number; text: string; states: Map<string, Map<string, string>> }> {
  const r = await s.run(`${process.execPath} ${KABI_JS} status 2>&1`);
  const states = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of r.stdout.split("\n")) {
    const head = /^(\S+) \(/.exec(line);
    const state = /^ {2}(\S+): (.*)$/.exec(line);
    if (head?.[1] !== undefined) states.set(head[1], (current = new Map()));
    else if (state?.[1] !== undefined && state[2] !== undefined && current !== undefined) current.set(state[1], state[2]);
    else current = undefined;
  }
  return { code: r.code, text: r.stdout, states };
}

/** Both modules of the package served in B by A's build, as kabi status sees it, and exit 0. */
async function expectServedFromA(s: DkmsSandbox): Promise<void> {
  const st = await kabiStatus(s);
  for (const m of MODULES) expect(st.states.get(m)?.get(B), `${m} in ${B}:\n${st.text}`).toBe(`installed-weak from ${A}`);
  expect(st.code, st.text).toBe(0);
}

let trees: Map<string, string> | undefined;
let base: DkmsSandbox | undefined;
let baseInstall: SandboxResult | undefined;
const forks: DkmsSandbox[] = [];

/** Everything the cases need: skips outside CI when missing, fails under CI (.ci/run provides it). */
function prerequisites(skip: () => void): Map<string, string> {
  requireSystemSandbox(skip);
  requireUnderCi(existsSync("/usr/sbin/dkms"), "dkms (/usr/sbin/dkms)", skip);
  for (const k of KERNELS) requireUnderCi(existsSync(`/usr/lib/modules/${k}/build/Module.symvers`), `linux-headers-${k}`, skip);
  requireUnderCi(existsSync(WEAK_MODULES_JS) && existsSync(KABI_JS), "dist/ (npm run build)", skip);
  requireUnderCi(spawnSync("patch", ["--version"]).status === 0, "patch", skip);
  trees ??= fetchedTrees();
  requireUnderCi(trees !== undefined, `the module trees of ${A} and ${B} (fixtures/dkms/fetch-kernels.sh)`, skip);
  return trees as Map<string, string>;
}

async function fork(): Promise<DkmsSandbox> {
  if (base === undefined || trees === undefined) throw new Error("the base sandbox was not set up");
  const s = dkmsSandbox(trees, base.box);
  forks.push(s);
  return s;
}

describe("DKMS end to end with Debian's dkms, kabi at /sbin/weak-modules", () => {
  beforeAll(async () => {
    // Without what the cases need, each case skips or fails in prerequisites() with its reason.
    const headers = KERNELS.every((k) => existsSync(`/usr/lib/modules/${k}/build/Module.symvers`));
    if (!systemSandboxWorks() || !existsSync(WEAK_MODULES_JS) || !existsSync("/usr/sbin/dkms") || !headers) return;
    trees = fetchedTrees();
    if (trees === undefined) return;
    base = dkmsSandbox(trees);
    // kabi where dkms 3.0.10 looks for weak-modules (/sbin is /usr/sbin on merged-usr Debian).
    const wrapper = `#!/bin/sh\nexec ${process.execPath} ${WEAK_MODULES_JS} "$@"\n`;
    // The headers packages' build and source links, as installing the kernel's packages leaves them.
    const links = KERNELS.flatMap((k) =>
      ["build", "source"]
        .filter((l) => existsSync(`/usr/lib/modules/${k}/${l}`))
        .map((l) => `ln -s ${q(readlinkSync(`/usr/lib/modules/${k}/${l}`))} /usr/lib/modules/${k}/${l}`),
    );
    await base.check(`
      ${links.join("\n")}
      depmod -a $A
      depmod -a $B
      printf '%s' ${q(wrapper)} > /usr/sbin/weak-modules
      chmod 755 /usr/sbin/weak-modules
      cp -r ${q(FIXTURE)} /usr/src/kabi_dkms-1.0
      dkms add kabi_dkms/1.0
      dkms build kabi_dkms/1.0 -k $A
    `);
    baseInstall = await base.check(`dkms install kabi_dkms/1.0 -k $A 2>&1`);
  }, 600_000);

  afterAll(() => {
    for (const s of forks) s.box.dispose();
    base?.box.dispose();
  });

  it("dkms install -k A: dkms calls kabi, which links both modules into B's weak-updates/, and depmod resolves B's modules through them", async (ctx) => {
    prerequisites(ctx.skip);
    expect(baseInstall?.stdout).toContain("Adding any weak-modules");
    const s = base as DkmsSandbox;
    const listed = entries(await s.check(LIST_ENTRIES));
    expect(listed).toEqual(
      [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => linkLine(B, A, m))].sort(),
    );
    // depmod ran for B (by kabi): modprobe finds the user in B through its link, and its
    // dependency on the provider through the provider's link.
    const found = await s.check(`${modinfoScript(B, "kabi_dkms_user")}\nmodprobe -S $B --show-depends kabi_dkms_user`);
    expect(found.stdout.split("\n")).toEqual([
      `/lib/modules/${B}/weak-updates/dkms/kabi_dkms_user.ko`,
      `insmod /lib/modules/${B}/weak-updates/dkms/kabi_dkms_provider.ko `,
      `insmod /lib/modules/${B}/weak-updates/dkms/kabi_dkms_user.ko `,
      "",
    ]);
    await expectServedFromA(s);
  });

  it(`kabi status --dkms prints "${WEAK_LINE}" while B is served by A's build, and not once B has its own`, async (ctx) => {
    prerequisites(ctx.skip);
    const s = await fork();
    const status = `${process.execPath} ${KABI_JS} status --dkms 2>&1 || true`;
    const before = await s.check(status);
    expect(before.stdout.split("\n")).toContain(`kabi_dkms/1.0, ${A}, x86_64: installed`);
    expect(before.stdout.split("\n")).toContain(WEAK_LINE);
    await s.check(`dkms install --force kabi_dkms/1.0 -k $B`);
    const after = await s.check(status);
    expect(after.stdout.split("\n")).toContain(`kabi_dkms/1.0, ${B}, x86_64: installed`);
    expect(after.stdout).not.toContain("installed-weak");
  });

  it("a native build for B supersedes the link; dkms uninstall -k B brings the link back", async (ctx) => {
    prerequisites(ctx.skip);
    const s = await fork();
    // dkms 3.0.10 refuses a plain `dkms install -k B` here: its version check finds the weak link
    // (same version) as if it were B's own module. --force is what a user types (the contrib
    // patch makes the plain install work: see below).
    await s.check(`dkms build kabi_dkms/1.0 -k $B\ndkms install --force kabi_dkms/1.0 -k $B`);
    expect(entries(await s.check(LIST_ENTRIES))).toEqual(
      [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => fileLine(B, m))].sort(),
    );
    expect((await s.check(modinfoScript(B, "kabi_dkms_user"))).stdout.trim()).toBe(`/lib/modules/${B}/updates/dkms/kabi_dkms_user.ko`);
    const native = await kabiStatus(s);
    expect(native.code, native.text).toBe(0);
    expect(native.text).not.toContain(`installed-weak from ${A}`);

    const uninstall = await s.check(`dkms uninstall kabi_dkms/1.0 -k $B 2>&1`);
    // The files dkms is deleting are leaving (weak-modules --remove-modules): they shadow nothing.
    expect(uninstall.stdout).not.toMatch(/shadowed by \S*\/updates\/dkms\/kabi_dkms/);
    expect(entries(await s.check(LIST_ENTRIES))).toEqual(
      [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => linkLine(B, A, m))].sort(),
    );
    expect((await s.check(modinfoScript(B, "kabi_dkms_user"))).stdout.trim()).toBe(`/lib/modules/${B}/weak-updates/dkms/kabi_dkms_user.ko`);
    await expectServedFromA(s);
  });

  it("dkms install --force -k B then dkms remove -k B: B ends served by the weak link from A, not by nothing", async (ctx) => {
    prerequisites(ctx.skip);
    const s = await fork();
    await s.check(`dkms install --force kabi_dkms/1.0 -k $B`);
    const remove = await s.check(`dkms remove kabi_dkms/1.0 -k $B 2>&1`);
    expect(remove.stdout).not.toMatch(/shadowed by \S*\/updates\/dkms\/kabi_dkms/);
    expect(entries(await s.check(LIST_ENTRIES))).toEqual(
      [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => linkLine(B, A, m))].sort(),
    );
    const after = await s.check(`${modinfoScript(B, "kabi_dkms_user")}\n${modinfoScript(B, "kabi_dkms_provider")}\nls /var/lib/dkms/kabi_dkms/1.0`);
    expect(after.stdout.split("\n")).toEqual([
      `/lib/modules/${B}/weak-updates/dkms/kabi_dkms_user.ko`,
      `/lib/modules/${B}/weak-updates/dkms/kabi_dkms_provider.ko`,
      A,
      "source",
      "",
    ]);
    await expectServedFromA(s);
  });

  for (const nativeB of [false, true]) {
    it(`dkms remove --all${nativeB ? " (built for A and B)" : ""} leaves no file, no link and no depmod entry in any kernel`, async (ctx) => {
      prerequisites(ctx.skip);
      const s = await fork();
      if (nativeB) await s.check(`dkms install --force kabi_dkms/1.0 -k $B`);
      await s.check(`dkms remove kabi_dkms/1.0 --all`);
      expect(entries(await s.check(LIST_ENTRIES))).toEqual([]);
      // No link of any name is left in weak-updates/ (not even a dangling one), and depmod's
      // indexes (rebuilt by dkms and by kabi) name no kabi_dkms module.
      const left = await s.check(`
        find /lib/modules/$A/weak-updates /lib/modules/$B/weak-updates -type l 2>/dev/null || true
        grep -l kabi_dkms /lib/modules/$A/modules.dep /lib/modules/$B/modules.dep || true
        ${modinfoScript(A, "kabi_dkms_user")}
        ${modinfoScript(B, "kabi_dkms_user")}
        ls /var/lib/dkms
        dkms status`);
      expect(left.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("mok."))).toEqual([]);
      const st = await kabiStatus(s);
      expect(st.code, st.text).toBe(0);
      expect(st.text).not.toContain("kabi_dkms");
    });
  }

  describe("contrib/dkms-3.0.10-weak-status.patch", () => {
    it("unpatched dkms 3.0.10: dkms status shows no installed-weak and dkms autoinstall -k B rebuilds a module B already has through a weak link", async (ctx) => {
      prerequisites(ctx.skip);
      const s = await fork();
      const status = await s.check(`dkms status`);
      expect(status.stdout).toContain(`kabi_dkms/1.0, ${A}, x86_64: installed`);
      expect(status.stdout).not.toContain("installed-weak");
      const auto = await s.check(`dkms autoinstall -k $B 2>&1; ls /var/lib/dkms/kabi_dkms/1.0`);
      expect(auto.stdout.split("\n")).toContain(B);
    });

    it("unpatched dkms 3.0.10 refuses a plain dkms install -k B while the weak link is there", async (ctx) => {
      prerequisites(ctx.skip);
      const s = await fork();
      // (dkms still exits 0: it skips each module with a message.)
      const r = await s.check(`dkms build kabi_dkms/1.0 -k $B >/dev/null\ndkms install kabi_dkms/1.0 -k $B 2>&1`);
      expect(r.stdout).toContain(`exactly matches what is already found in kernel ${B}`);
      expect(entries(await s.check(LIST_ENTRIES))).toEqual(
        [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => linkLine(B, A, m))].sort(),
      );
    });

    it(`patched: dkms status prints "${WEAK_LINE}", dkms autoinstall -k B and the header_postinst.d hook do not rebuild, a plain dkms install -k B works`, async (ctx) => {
      prerequisites(ctx.skip);
      const s = await fork();
      // The patch applied to the sandbox's /usr/sbin/dkms (an overlay copy), as the README says.
      await s.check(`patch /usr/sbin/dkms < ${q(PATCH)}`);
      const status = await s.check(`dkms status`);
      expect(status.stdout.split("\n")).toEqual([`kabi_dkms/1.0, ${A}, x86_64: installed`, WEAK_LINE, ""]);
      const auto = await s.check(`dkms autoinstall -k $B 2>&1; /etc/kernel/header_postinst.d/dkms $B 2>&1; echo; ls /var/lib/dkms/kabi_dkms/1.0`);
      expect(auto.stdout).not.toContain("Building module");
      expect(auto.stdout.trim().split("\n").slice(-2)).toEqual([A, "source"]);
      expect(entries(await s.check(LIST_ENTRIES))).toEqual(
        [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => linkLine(B, A, m))].sort(),
      );
      // With weak-updates/ no longer read as B's own modules, a native install needs no --force.
      await s.check(`dkms build kabi_dkms/1.0 -k $B\ndkms install kabi_dkms/1.0 -k $B`);
      expect(entries(await s.check(LIST_ENTRIES))).toEqual(
        [...MODULES.map((m) => fileLine(A, m)), ...MODULES.map((m) => fileLine(B, m))].sort(),
      );
      const after = await s.check(`dkms status`);
      expect(after.stdout.split("\n")).toEqual([`kabi_dkms/1.0, ${A}, x86_64: installed`, `kabi_dkms/1.0, ${B}, x86_64: installed`, ""]);
    });
  });
});

// The patch is a plain unified diff of /usr/sbin/dkms: a quick guard that the file is the one
// the README names (a lost or emptied patch fails here, without the sandbox).
describe("contrib/", () => {
  it("holds the dkms patch against usr/sbin/dkms", () => {
    const text = readFileSync(PATCH, "utf8");
    expect(text.startsWith("--- a/usr/sbin/dkms\n+++ b/usr/sbin/dkms\n")).toBe(true);
    expect(text).toContain("module_status_weak");
  });
});
