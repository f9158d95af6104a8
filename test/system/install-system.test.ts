/**
 * `kabi install-system` / `uninstall-system` on a copy of this machine's system (the system
 * sandbox: /usr, /etc, /var, /boot are overlays; the machine's own folders are never written),
 * with the real dpkg-divert: a weak-modules that is not kabi's is diverted and given back, none
 * means no diversion, the hooks are in place and executable, a second install changes nothing,
 * and uninstalling leaves the system as it was (the upper layers compared; only dpkg's own
 * diversions bookkeeping may differ).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandPresent, requireUnderCi } from "../helpers/required.js";
import { requireSystemSandbox, systemSandbox, systemSandboxWorks, type SystemSandbox } from "../helpers/system-sandbox.js";
import { addKernel, installFixture, K53, K54, makeRoot, removeRoot } from "../weak/weak-root.js";
import { HOOK_PLACES, packageTree, upperListing, type PackageTree } from "./package-tree.js";

/** What a weak-modules that is not kabi's looks like here (kmod's script on Red Hat-family systems). */
const STAND_IN = "#!/bin/sh\necho 'kmod weak-modules stand-in'\n";

/**
 * dpkg-divert's bookkeeping: its record of the diversions, rewritten by each --add and --remove
 * (after the round trip it lists the same diversions as before), and diversions-old, its backup of
 * the previous record.
 */
const DPKG_BOOKKEEPING = /^\/var\/lib\/dpkg\/diversions(-old)? /;

let pkg: PackageTree;
const sandboxes: SystemSandbox[] = [];

beforeAll(() => {
  if (systemSandboxWorks()) pkg = packageTree();
});
afterAll(() => {
  pkg?.dispose();
  for (const s of sandboxes) s.dispose();
});

function sandbox(): SystemSandbox {
  const s = systemSandbox("install");
  sandboxes.push(s);
  return s;
}

/** The listing with dpkg's diversions bookkeeping left out. */
function withoutBookkeeping(listing: string[]): string[] {
  return listing.filter((l) => !DPKG_BOOKKEEPING.test(l));
}

describe("kabi install-system and uninstall-system", { timeout: 300_000 }, () => {
  it("diverts a weak-modules that is not kabi's, installs the hooks, changes nothing the second time, and gives everything back", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    await s.check(`cat > /usr/sbin/weak-modules <<'EOF'\n${STAND_IN}EOF\nchmod 755 /usr/sbin/weak-modules`);
    const before = upperListing(s.dir);

    const first = await s.run(`${pkg.kabi} install-system --prefix /usr/local`);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("diverted /usr/sbin/weak-modules to /usr/sbin/weak-modules.distrib (dpkg-divert --local --rename)\n");
    const state = await s.check(
      [
        "dpkg-divert --list /usr/sbin/weak-modules",
        "cat /usr/sbin/weak-modules.distrib",
        "/sbin/weak-modules --version",
        ...HOOK_PLACES.map(([, target]) => `test -x ${target} && test -f ${target} && echo executable ${target}`),
        "test -f /usr/local/share/man/man1/kabi.1 && test -f /usr/local/share/man/man8/weak-modules.8 && echo man pages",
      ].join("\n"),
    );
    const version = (JSON.parse(readFileSync(path.join(pkg.dir, "package.json"), "utf8")) as { version: string }).version;
    expect(state.stdout).toBe(
      [
        "local diversion of /usr/sbin/weak-modules to /usr/sbin/weak-modules.distrib",
        STAND_IN.trimEnd(),
        `weak-modules (kabi) ${version}`,
        ...HOOK_PLACES.map(([, target]) => `executable ${target}`),
        "man pages",
        "",
      ].join("\n"),
    );
    for (const [source, target] of HOOK_PLACES) {
      const installed = await s.check(`cat ${target}`);
      expect(installed.stdout, target).toBe(readFileSync(path.join(pkg.dir, source), "utf8"));
    }

    // A second install: nothing to do, and not one file touched (mtimes included).
    const installed = upperListing(s.dir, true);
    const second = await s.run(`${pkg.kabi} install-system --prefix /usr/local`);
    expect(second).toEqual({ code: 0, stdout: "nothing to do: kabi's weak-modules, hooks and man pages are in place\n", stderr: "" });
    expect(upperListing(s.dir, true)).toEqual(installed);

    const removed = await s.run(`${pkg.kabi} uninstall-system`);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("restored /usr/sbin/weak-modules from /usr/sbin/weak-modules.distrib (dpkg-divert --local --rename --remove)\n");
    const after = await s.check("dpkg-divert --list /usr/sbin/weak-modules; cat /usr/sbin/weak-modules; ls /var/lib/kabi 2>&1 || true");
    expect(after.stdout).toBe(`${STAND_IN}ls: cannot access '/var/lib/kabi': No such file or directory\n`);
    const listing = upperListing(s.dir);
    expect(withoutBookkeeping(listing)).toEqual(withoutBookkeeping(before));
    // What remains of the round trip is dpkg-divert's: its diversions file, rewritten, and its backup.
    for (const l of listing.filter((x) => !before.includes(x))) expect(l).toMatch(DPKG_BOOKKEEPING);

    const again = await s.run(`${pkg.kabi} uninstall-system`);
    expect(again).toEqual({ code: 0, stdout: "nothing to undo: no kabi install-system manifest (/var/lib/kabi/install-manifest.json)\n", stderr: "" });
  });

  it("diverts nothing where there is no weak-modules, and leaves nothing behind", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    await s.check("test ! -e /usr/sbin/weak-modules");
    const before = upperListing(s.dir);
    const first = await s.run(`${pkg.kabi} install-system`);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain("divert");
    const state = await s.check("dpkg-divert --list /usr/sbin/weak-modules; head -2 /usr/sbin/weak-modules; weak-modules --version");
    expect(state.stdout).toMatch(/^#!\/bin\/sh\n# kabi's weak-modules, installed by `kabi install-system` \(kabi [^)]+\);\nweak-modules \(kabi\) /);
    const removed = await s.run(`${pkg.kabi} uninstall-system`);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(upperListing(s.dir)).toEqual(before);
  });

  it("refuses without root in one line; --dry-run shows the plan without root and changes nothing", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    const before = upperListing(s.dir, true);
    const notRoot = await s.run(`setpriv --reuid=65534 --regid=65534 --clear-groups ${pkg.kabi} install-system`);
    expect(notRoot).toEqual({
      code: 1,
      stdout: "",
      stderr: "kabi install-system: must be run as root: it writes /usr/sbin, /etc/kernel, /var/lib and dpkg's diversions (--dry-run shows what it would do)\n",
    });
    const un = await s.run(`setpriv --reuid=65534 --regid=65534 --clear-groups ${pkg.kabi} uninstall-system`);
    expect(un.code).toBe(1);
    expect(un.stderr.split("\n")).toHaveLength(2);
    const dry = await s.run(`setpriv --reuid=65534 --regid=65534 --clear-groups ${pkg.kabi} install-system --dry-run --prefix /usr/local/k`);
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("would install weak-modules /usr/sbin/weak-modules\n");
    expect(dry.stdout).toContain("would install man page /usr/local/k/share/man/man1/kabi.1\n");
    for (const [, target] of HOOK_PLACES) expect(dry.stdout).toContain(`would install hook ${target}\n`);
    expect(upperListing(s.dir, true)).toEqual(before);
  });

  it("a step that fails is one line naming the file, the others are done, and a re-run converges", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    const before = upperListing(s.dir);
    // A hook that is not kabi's, where kabi's goes: never overwritten.
    await s.check("mkdir -p /etc/kernel/postrm.d && printf 'mine\\n' > /etc/kernel/postrm.d/kabi");
    const withForeign = upperListing(s.dir);
    const first = await s.run(`${pkg.kabi} install-system`);
    expect(first.code).toBe(1);
    expect(first.stderr).toBe("kabi install-system: /etc/kernel/postrm.d/kabi: a file kabi did not install is there: not replaced\n");
    expect(first.stdout).toContain("installed hook /etc/kernel/postinst.d/kabi\n");
    expect((await s.check("cat /etc/kernel/postrm.d/kabi")).stdout).toBe("mine\n");
    // Uninstalling takes back what was done and leaves the foreign hook.
    expect((await s.run(`${pkg.kabi} uninstall-system`)).code).toBe(0);
    expect(upperListing(s.dir)).toEqual(withForeign);
    // The obstacle gone, install converges; uninstall leaves the system as before.
    // Only what the test made: the folder may be the machine's (initramfs-tools ships a postrm.d hook).
    await s.check("rm /etc/kernel/postrm.d/kabi && { rmdir /etc/kernel/postrm.d 2>/dev/null || true; }");
    expect((await s.run(`${pkg.kabi} install-system`)).code).toBe(0);
    expect((await s.run(`${pkg.kabi} install-system`)).stdout).toBe("nothing to do: kabi's weak-modules, hooks and man pages are in place\n");
    expect((await s.run(`${pkg.kabi} uninstall-system`)).code).toBe(0);
    expect(upperListing(s.dir)).toEqual(before);
  });

  it("an install killed at any rename is completed by the next one, or undone by uninstall-system", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    requireUnderCi(commandPresent("strace", ["-V"]), "strace", ctx.skip);
    const setUp = `cat > /usr/sbin/weak-modules <<'EOF'\n${STAND_IN}EOF\nchmod 755 /usr/sbin/weak-modules`;
    // The state an uninterrupted install leaves.
    const reference = sandbox();
    await reference.check(setUp);
    await reference.check(`${pkg.kabi} install-system`);
    const installed = withoutBookkeeping(upperListing(reference.dir));
    // Each of install-system's renames (the manifest before each change and after it, each file),
    // in turn, is where it is killed: strace traces node's main thread, where the writes run.
    const killed = (when: number) => `strace -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=${when} ${pkg.kabi} install-system`;
    let kills = 0;
    for (let when = 1; ; when++) {
      const s = systemSandbox("killed");
      try {
        await s.check(setUp);
        const before = withoutBookkeeping(upperListing(s.dir));
        const first = await s.run(killed(when));
        if (first.code === 0) break; // fewer renames than `when`: every point was tried
        expect(first.code, `when=${when}: ${first.stderr}`).toBe(137);
        kills++;
        const undo = await s.run(`${pkg.kabi} uninstall-system`);
        expect(undo.stderr, `when=${when}`).toBe("");
        expect(undo.code, `when=${when}`).toBe(0);
        expect(withoutBookkeeping(upperListing(s.dir)), `uninstall after a kill at rename ${when}`).toEqual(before);
        expect((await s.run(killed(when))).code).toBe(137);
        const again = await s.run(`${pkg.kabi} install-system`);
        expect(again.stderr, `when=${when}`).toBe("");
        expect(again.code, `when=${when}`).toBe(0);
        expect(withoutBookkeeping(upperListing(s.dir)), `install after a kill at rename ${when}`).toEqual(installed);
      } finally {
        s.dispose();
      }
    }
    expect(kills).toBeGreaterThan(5);
  });

  it("leaves a diversion that is not kabi's alone, and the file it guards", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    await s.check(`dpkg-divert --local --divert /usr/sbin/weak-modules.mine --add /usr/sbin/weak-modules >/dev/null\ncat > /usr/sbin/weak-modules <<'EOF'\n${STAND_IN}EOF`);
    const before = upperListing(s.dir);
    const r = await s.run(`${pkg.kabi} install-system`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "kabi install-system: /usr/sbin/weak-modules: already diverted (by a local diversion, to /usr/sbin/weak-modules.mine) and holding a file kabi did not install: not replaced\n",
    );
    expect(r.stdout).toContain("installed hook /etc/kernel/postrm.d/kabi\n");
    expect((await s.run(`${pkg.kabi} uninstall-system`)).code).toBe(0);
    const after = await s.check("dpkg-divert --list /usr/sbin/weak-modules; cat /usr/sbin/weak-modules");
    expect(after.stdout).toBe(`local diversion of /usr/sbin/weak-modules to /usr/sbin/weak-modules.mine\n${STAND_IN}`);
    expect(upperListing(s.dir)).toEqual(before);
  });

  it("as root, weak-modules keeps its cache in /var/cache/kabi, not under HOME; uninstall-system removes it", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    const root = await makeRoot();
    const home = await makeRoot();
    try {
      await addKernel(root, K53, "rhel");
      await addKernel(root, K54, "rhel");
      await installFixture(root, K53, "kabi_gpl_twin.ko", K53, "kabi/kabi_gpl_twin.ko");
      expect((await s.run(`${pkg.kabi} install-system`)).code).toBe(0);
      // A kernel package scriptlet's environment: no cache variables, HOME whatever the caller left.
      const run = await s.run(`env -u KABI_CACHE_DIR -u XDG_CACHE_HOME HOME=${home} weak-modules --basedir ${root} --no-initramfs --depmod /bin/true --add-kernel ${K54}\nls /var/cache/kabi | sort`);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^records-v\d+\n/m);
      expect(readdirSync(home)).toEqual([]);
      expect((await s.run(`${pkg.kabi} uninstall-system`)).stdout).toContain("removed /var/cache/kabi (root's caches)\n");
      expect((await s.run("test -e /var/cache/kabi")).code).toBe(1);
    } finally {
      await removeRoot(root);
      await removeRoot(home);
    }
  });

  it("an install with another --prefix moves the man pages, and uninstall still leaves nothing", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    const before = upperListing(s.dir);
    expect((await s.run(`${pkg.kabi} install-system --prefix /usr/local`)).code).toBe(0);
    // (A prefix under /usr: the sandbox overlays /usr, /etc, /var and /boot only.)
    const moved = await s.run(`${pkg.kabi} install-system --prefix /usr/local/kabi-alt`);
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    expect(moved.stdout).toBe(
      [
        "created folder /usr/local/kabi-alt",
        "created folder /usr/local/kabi-alt/share",
        "created folder /usr/local/kabi-alt/share/man",
        "created folder /usr/local/kabi-alt/share/man/man1",
        "installed man page /usr/local/kabi-alt/share/man/man1/kabi.1",
        "created folder /usr/local/kabi-alt/share/man/man8",
        "installed man page /usr/local/kabi-alt/share/man/man8/weak-modules.8",
        "removed /usr/local/share/man/man1/kabi.1 (not part of this install)",
        "removed /usr/local/share/man/man8/weak-modules.8 (not part of this install)",
        "",
      ].join("\n"),
    );
    expect((await s.run(`${pkg.kabi} uninstall-system`)).code).toBe(0);
    expect(upperListing(s.dir)).toEqual(before);
  });

  it("a malformed manifest is one line and changes nothing", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    await s.check("mkdir -p /var/lib/kabi && echo '{' > /var/lib/kabi/install-manifest.json");
    const before = upperListing(s.dir, true);
    for (const command of ["install-system", "uninstall-system"]) {
      const r = await s.run(`${pkg.kabi} ${command}`);
      expect(r).toEqual({ code: 1, stdout: "", stderr: `kabi ${command}: /var/lib/kabi/install-manifest.json: not a kabi install manifest (not JSON)\n` });
    }
    expect(upperListing(s.dir, true)).toEqual(before);
  });

  it("a FIFO, a huge sparse file or a folder in the manifest's place is one line, not a wait or a read of gigabytes", async (ctx) => {
    requireSystemSandbox(ctx.skip);
    const s = sandbox();
    const manifest = "/var/lib/kabi/install-manifest.json";
    const cases: [string, string][] = [
      [`mkfifo ${manifest}`, `${manifest}: not a regular file: not a kabi install manifest`],
      [`truncate -s 3G ${manifest}`, `${manifest}: 3221225472 bytes, more than the 1048576 an install manifest may have: not a kabi install manifest`],
      [`mkdir ${manifest}`, `${manifest}: not a regular file: not a kabi install manifest`],
    ];
    for (const [make, line] of cases) {
      await s.check(`mkdir -p /var/lib/kabi && rm -rf ${manifest} && ${make}`);
      for (const command of ["install-system", "uninstall-system"]) {
        // timeout: a wait on the FIFO would show as exit 124 instead of hanging the test.
        const r = await s.run(`timeout 60 ${pkg.kabi} ${command}`);
        expect(r, make).toEqual({ code: 1, stdout: "", stderr: `kabi ${command}: ${line}\n` });
      }
    }
    expect((await s.check("ls /usr/sbin/weak-modules /etc/kernel/postinst.d/kabi 2>&1 || true")).stdout).toContain("No such file");
  });
});
