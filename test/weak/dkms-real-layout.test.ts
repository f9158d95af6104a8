/**
 * The DKMS tree layout kabi status --dkms reads, as the real dkms makes it: a two-module package
 * (kabi_gpl_twin and kabi_proprietary from the fixtures' sources) goes through the real `dkms
 * add/build/install -k 6.1.0-53-amd64` in a system sandbox; its /var/lib/dkms and the installed
 * files are copied into a test root, weak-modules links them into 6.1.0-54-amd64, and --dkms must
 * see `installed` and `installed-weak`. (The whole dkms round trip, with kabi where dkms calls it,
 * is test/dkms/; this test pins the tree layout dkms-status.test.ts builds by hand.)
 */
import { existsSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { captureIO } from "../helpers/capture-io.js";
import { requireUnderCi } from "../helpers/required.js";
import { requireSystemSandbox, systemSandbox, type SystemSandbox } from "../helpers/system-sandbox.js";
import { addKernel, baseArgs, K53, K54, makeRoot, removeRoot, REPO, runWeak } from "./weak-root.js";

const SRC = path.join(REPO, "fixtures/modules/src");
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const DKMS_CONF = `PACKAGE_NAME=kabi_twin
PACKAGE_VERSION=1.0
BUILT_MODULE_NAME[0]=kabi_gpl_twin
BUILT_MODULE_NAME[1]=kabi_proprietary
DEST_MODULE_LOCATION[0]=/updates/dkms
DEST_MODULE_LOCATION[1]=/updates/dkms
MAKE[0]="make KDIR=/lib/modules/\${kernelver}/build"
CLEAN="true"
AUTOINSTALL=no
`;

describe("kabi status --dkms on a tree made by the real dkms", () => {
  it("reads dkms's layout: installed on the build kernel, installed-weak on the other", { timeout: 600_000 }, async (ctx) => {
    requireSystemSandbox(ctx.skip);
    requireUnderCi(existsSync("/usr/sbin/dkms") || existsSync("/sbin/dkms"), "dkms", ctx.skip);
    requireUnderCi(existsSync(`/usr/lib/modules/${K53}/build/Makefile`), `linux-headers-${K53}`, ctx.skip);
    const sb: SystemSandbox = systemSandbox("dkms-layout");
    cleanups.push(() => sb.dispose());
    const out = path.join(sb.dir, "out");
    await sb.check(`
src=/usr/src/kabi_twin-1.0
mkdir -p "$src"
cp '${SRC}/kabi_proprietary/kabi_proprietary.c' "$src/"
sed 's#../kabi_proprietary/kabi_proprietary.c#kabi_proprietary.c#' '${SRC}/kabi_gpl_twin/kabi_gpl_twin.c' > "$src/kabi_gpl_twin.c"
echo 'obj-m := kabi_gpl_twin.o kabi_proprietary.o' > "$src/Kbuild"
cp '${SRC}/kabi_provider/Makefile' "$src/Makefile"
cat > "$src/dkms.conf" <<'EOF'
${DKMS_CONF}EOF
dkms add kabi_twin/1.0
dkms build kabi_twin/1.0 -k ${K53}
dkms install kabi_twin/1.0 -k ${K53}
mkdir -p '${out}'
cp -a /var/lib/dkms '${out}/dkms'
cp -a /lib/modules/${K53}/updates '${out}/updates'
dkms status > '${out}/dkms-status'
`);
    const root = await makeRoot();
    cleanups.push(() => removeRoot(root));
    await addKernel(root, K53, "debian");
    await addKernel(root, K54, "debian");
    await mkdir(path.join(root, "var/lib"), { recursive: true });
    await cp(path.join(out, "dkms"), path.join(root, "var/lib/dkms"), { recursive: true, verbatimSymlinks: true });
    await cp(path.join(out, "updates"), path.join(root, "lib/modules", K53, "updates"), { recursive: true, verbatimSymlinks: true });
    const weak = await runWeak([...baseArgs(root), "--add-kernel", K54]);
    expect(weak.code, weak.err).toBe(0);
    const io = captureIO();
    const code = await main(["status", "--basedir", root, "--dkms"], io);
    expect(io.stderr).toBe("");
    expect(io.stdout).toBe(`kabi_twin/1.0, ${K53}, x86_64: installed\nkabi_twin/1.0, ${K54}, x86_64: installed-weak from ${K53}\n`);
    expect(code).toBe(0);
  });
});
