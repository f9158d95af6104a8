/**
 * `kabi audit --html FILE` outside the browser: the page is written whole or not at all, an
 * unwritable FILE is one line and exit 2 after the usual report, and the embedded data survives
 * names that would end a `<script>` element. (What the page shows: html-report.browser.test.ts.)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AuditInput } from "../../src/audit/audit-report.js";
import { auditHtml, htmlReportData, shortNames } from "../../src/audit/html-report.js";
import { main } from "../../src/cli/main.js";
import { evaluate } from "../../src/engine/index.js";
import { loadKernelTargets } from "../../src/load/kernel-targets.js";
import { readModules } from "../../src/load/read-many.js";
import { captureIO } from "../helpers/capture-io.js";
import { MODULE_FIXTURES, PROVIDER_61, ROOT } from "../helpers/paths.js";

const K53 = "6.1.0-53-amd64";
const ARGS = ["--symvers", `${K53}=${join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`)}`, join(MODULE_FIXTURES, K53)];

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kabi-html-"));
  temps.push(dir);
  return dir;
}

/** The JSON the page embeds, parsed from the page's text. */
function embedded(page: string): unknown {
  const m = /<script type="application\/json" id="kabi-data">([^<]*)<\/script>/.exec(page);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!);
}

describe("kabi audit --html FILE", () => {
  it("writes the page and still prints the report on stdout (text or JSON)", async () => {
    const dir = tempDir();
    const file = join(dir, "sub", "report.html");
    const io = captureIO();
    expect(await main(["audit", "--json", "--html", file, ...ARGS], io)).toBe(1);
    expect(io.stderr).toBe("");
    const report = JSON.parse(io.stdout) as { modules: { path: string }[] };
    const page = readFileSync(file, "utf8");
    const data = embedded(page) as { paths: string[]; kernels: { release: string }[] };
    expect(data.paths).toEqual(report.modules.map((m) => m.path));
    expect(data.kernels.map((k) => k.release)).toEqual([K53]);
    // Self-contained: nothing the page would fetch.
    expect(page).not.toMatch(/<(link|img|iframe)\b|\bsrc=|https?:\/\//i);
    expect(readdirSync(join(dir, "sub"))).toEqual(["report.html"]);
  });

  it("names the modules of two trees audited together by the part that tells them apart", async () => {
    const K612 = "6.12.117+deb12-amd64";
    const file = join(tempDir(), "two-trees.html");
    const io = captureIO();
    const args = ["--symvers", `${K53}=${join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`)}`, join(MODULE_FIXTURES, K53), join(MODULE_FIXTURES, K612)];
    expect(await main(["audit", "--html", file, ...args], io)).toBe(1);
    const data = embedded(readFileSync(file, "utf8")) as { names: string[]; paths: string[] };
    // Each name is the end of its path (whole folders), no two alike, and shorter than the path.
    data.names.forEach((name, m) => {
      expect(data.paths[m]!.endsWith("/" + name)).toBe(true);
    });
    expect(new Set(data.names).size).toBe(data.names.length);
    expect(data.names.filter((n) => n.startsWith(K53 + "/"))).toHaveLength(data.paths.filter((p) => p.includes(`/${K53}/`)).length);
  });

  it("drops the folder every name repeats, and the folder the names left as paths share, never just \"/\"", () => {
    // A tree given above its modules: every name starts with modules/<release>/kernel/.
    expect(shortNames(["modules/6.12/kernel/a.ko", "modules/6.12/kernel/b/c.ko"], ["/t/modules/6.12/kernel/a.ko", "/t/modules/6.12/kernel/b/c.ko"])).toEqual(["a.ko", "b/c.ko"]);
    // Paths (the names displayNames could not shorten) beside a bare name: their shared folder goes.
    const paths = ["/w/f/m/53/x.ko", "/elsewhere/k.ko", "/w/f/m/612/x.ko"];
    expect(shortNames(["/w/f/m/53/x.ko", "k.ko", "/w/f/m/612/x.ko"], paths)).toEqual(["53/x.ko", "k.ko", "612/x.ko"]);
    // Nothing shared but "/": the names stay.
    expect(shortNames(["/a/x.ko", "/b/y.ko", "z.ko"], ["/a/x.ko", "/b/y.ko", "/c/z.ko"])).toEqual(["/a/x.ko", "/b/y.ko", "z.ko"]);
    // Never two names made one.
    expect(shortNames(["53/x.ko", "/w/53/x.ko", "/w/612/x.ko"], ["/v/53/x.ko", "/w/53/x.ko", "/w/612/x.ko"])).toEqual(["53/x.ko", "/w/53/x.ko", "/w/612/x.ko"]);
  });

  it("an unwritable FILE is one line naming it, exit 2, after the report; nothing is left half-written", async () => {
    const dir = tempDir();
    const notFolder = join(dir, "plain-file");
    writeFileSync(notFolder, "x");
    const io = captureIO();
    expect(await main(["audit", "--html", join(notFolder, "report.html"), ...ARGS], io)).toBe(2);
    expect(io.stdout).toContain("kernels:\n");
    expect(io.stderr).toBe(`kabi audit: ${join(notFolder, "report.html")}: cannot write the HTML report: ${notFolder} is not a directory\n`);

    // FILE is a folder: the rename fails, the folder stays, and no temporary file is left beside it.
    const folder = join(dir, "is-a-folder.html");
    mkdirSync(folder);
    const io2 = captureIO();
    expect(await main(["audit", "--html", folder, ...ARGS], io2)).toBe(2);
    expect(io2.stderr.split("\n").filter((l) => l !== "")).toHaveLength(1);
    expect(io2.stderr).toMatch(/^kabi audit: .*is-a-folder\.html: cannot write the HTML report: /);
    expect(statSync(folder).isDirectory()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["is-a-folder.html", "plain-file"]);
  });

  it("embeds names that hold </script> and U+2028 escaped, and gives them back unchanged", async () => {
    const read = await readModules([PROVIDER_61], { cache: false });
    const hostile = `/tmp/</script><script>window.hacked=1</script>\u2028\u2029<!--/kabi_provider.ko`;
    const modules = [{ ...read.records[0]!, path: hostile }];
    const kernels = await loadKernelTargets({ explicit: [{ release: K53, file: join(ROOT, "fixtures/symvers", `${K53}.symvers.gz`) }], releases: [], basedir: "/", cache: false });
    const input: AuditInput = {
      kernels: kernels.kernels.map((k) => ({ release: k.release, symvers: k.symversPath })),
      modules,
      report: evaluate(modules, kernels.kernels),
      errors: [{ path: "x", message: "x: </SCRIPT> in an error" }],
      symversProblems: [],
      operands: [hostile],
    };
    const page = auditHtml(input);
    const dataText = page.slice(page.indexOf('id="kabi-data">'), page.indexOf("</script>", page.indexOf('id="kabi-data">')));
    expect(dataText.toLowerCase()).not.toContain("</script");
    expect(dataText).not.toMatch(/[\u2028\u2029]|<!--/);
    // Exactly the page's own two script elements.
    expect(page.match(/<script\b/g)).toHaveLength(2);
    expect(embedded(page)).toEqual(JSON.parse(JSON.stringify(htmlReportData(input))));
    expect((embedded(page) as { paths: string[] }).paths).toEqual([hostile]);
  });
});
