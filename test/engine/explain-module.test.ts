import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/engine/index.js";
import { readModules } from "../../src/module/read-many.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";
import { MODULE_FIXTURES, REAL_SAMPLE, ROOT, modulesUnder } from "../helpers/paths.js";

const RELEASES = ["6.1.0-53-amd64", "6.1.0-54-amd64", "6.1.0-55-amd64", "6.12.113+deb12-amd64", "6.12.117+deb12-amd64"];

describe("explainModule", () => {
  it("gives every kernel's verdict of a module equal to the pair-by-pair ones", async () => {
    const kernels = await Promise.all(
      RELEASES.map(async (release) => ({ release, symvers: await readSymvers(join(ROOT, "fixtures/symvers", `${release}.symvers.gz`)) })),
    );
    const paths = [
      ...modulesUnder(join(MODULE_FIXTURES, "6.1.0-53-amd64")),
      ...modulesUnder(join(REAL_SAMPLE, "amd64-6.1")),
      ...modulesUnder(join(REAL_SAMPLE, "amd64-6.12")),
    ];
    const { records } = await readModules(paths, { workers: 1 });
    // Not every module a candidate everywhere, so null pairs are covered too.
    const options = { isCandidate: (m: number, k: number) => (m + k) % 7 !== 0 };
    const byModule = evaluate(records, kernels, options);
    const byPair = evaluate(records, kernels, options);
    let mismatches = 0;
    for (let m = 0; m < records.length; m++) {
      const all = byModule.explainModule(m);
      expect(all).toHaveLength(kernels.length);
      for (let k = 0; k < kernels.length; k++) {
        expect(all[k], `${records[m]!.path} on ${RELEASES[k]}`).toEqual(byPair.verdict(m, k));
        mismatches += all[k]?.mismatched.length ?? 0;
      }
    }
    expect(mismatches).toBeGreaterThan(0);
  });
});
