/**
 * Differential tests against kmod: for each module, what `kabi dump --modversions` and
 * `kabi dump --exports` print equals the stdout of `modprobe --dump-modversions FILE` and
 * `modprobe --show-exports FILE`. kabi is run in-process through the same functions the CLI
 * uses; kmod in batches of files (see test/helpers/kmod.ts).
 *
 * Sets: the kbuild fixtures and the committed real Debian sample always; with the corpus cache
 * of bench/corpus.sh, a deterministic spread of 300 modules per case (every module of every
 * case with KABI_FULL_CORPUS=1, several minutes).
 */
import { describe, expect, it } from "vitest";
import { caseModules, corpusCases, fullCorpus, spread } from "../helpers/corpus.js";
import { compareWithKmod, kabiListings } from "../helpers/differential.js";
import { haveModprobe, kmodListings } from "../helpers/kmod.js";
import { fixtureModules, MODULE_FIXTURES, realSampleModules } from "../helpers/paths.js";
import { runsWith } from "../helpers/required.js";
import { join } from "node:path";

const KMOD = haveModprobe();
const SPREAD = 300;

// kmod is not part of the repository: skipped where modprobe is not installed, except under CI,
// where .ci/run installs kmod and a missing modprobe fails.
describe.skipIf(!runsWith(KMOD))("kabi dump listings equal kmod's", () => {
  it("has kmod's modprobe (.ci/run installs kmod)", () => {
    expect(KMOD, "modprobe --version does not print a kmod version").toBe(true);
  });

  it("on every kbuild fixture module", async () => {
    const files = fixtureModules();
    // 7 modules x 3 kernels, plus kabi_proprietary on the two 6.1 kernels, plus the three
    // no-modversions/<release>/kabi_provider_nocrc.ko, plus the four
    // proprietary-taint/<release>/ modules x 3 kernels.
    expect(files.length).toBe(38);
    const r = await compareWithKmod(files);
    expect(r.mismatches).toEqual([]);
    // Not vacuous: all but the three kabi_noversions.ko and the three kabi_provider_nocrc.ko have
    // __versions; the three providers, kabi_prop_provider and kabi_taint_relay export with CRCs,
    // the three kabi_provider_nocrc.ko without.
    expect(r.withModversions).toBe(32);
    expect(r.withExports).toBe(12);
  });

  // Committed: realSampleModules() throws when the sample is lost.
  it("on every module of the committed real sample", async () => {
    const files = realSampleModules();
    const r = await compareWithKmod(files);
    expect(r.mismatches).toEqual([]);
    expect(r.withModversions).toBe(files.length);
    expect(r.withExports).toBeGreaterThan(0);
  });

  it("prints nothing for a module without __versions, where kmod fails with empty stdout", async () => {
    const file = join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_noversions.ko");
    const [k] = await kmodListings([file]);
    expect(k!.modversions).toBe("");
    expect(k!.modversionsStatus).not.toBe(0); // "could not get modversions"
    expect(k!.exports).toBe("");
    expect(k!.exportsStatus).not.toBe(0); // no exports either
    expect(await kabiListings(file)).toEqual({ modversions: "", exports: "" });
  });

  it("lists the provider's exports with the CRCs of fixtures/modules/README.md, like kmod", async () => {
    const file = join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_provider.ko");
    const expected = "0x355d2822\tkabi_provider_add\n0x5c9eea81\tkabi_provider_gpl_mul\n0x813b6494\tkabi_provider_ns_sub\n";
    const [k] = await kmodListings([file]);
    const lines = (s: string) => s.split("\n").filter(Boolean).sort();
    expect(lines(k!.exports)).toEqual(lines(expected));
    expect(lines((await kabiListings(file)).exports)).toEqual(lines(expected));
  });

  // The corpus cache (bench/corpus.sh) is not part of the repository: skipped without it.
  const cases = corpusCases();
  describe.skipIf(cases.length === 0)("on the corpus cache", () => {
    for (const c of cases) {
      const all = caseModules(c);
      const files = fullCorpus() ? all : spread(all, SPREAD);
      it(`${c.id}: ${files.length} of ${all.length} modules (${c.compression})`, { timeout: fullCorpus() ? 900_000 : 120_000 }, async () => {
        expect(all.length).toBeGreaterThan(1000);
        const r = await compareWithKmod(files);
        expect(r.mismatches.slice(0, 10)).toEqual([]);
        expect(r.mismatches.length).toBe(0);
        // Debian builds everything with modversions; a fifth or so of the modules export symbols.
        expect(r.withModversions).toBe(files.length);
        expect(r.withExports).toBeGreaterThan(files.length / 10);
      });
    }
  });
});
