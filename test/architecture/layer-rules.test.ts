/**
 * The layer order of .dependency-cruiser.cjs, as CI runs it (`npm run lint:deps`): the tree as it
 * is passes, and an import against the data flow, one between sibling folders of a rank, and a
 * cycle each fail with the rule that names them. A probe file is written into src/ for each case
 * and removed again, so a loosened rule fails here and not only on a real back-import.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";

const DEPCRUISE = join(ROOT, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

function cruise(paths: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, ...paths, "--config", ".dependency-cruiser.cjs", "--output-type", "err"], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Writes probe files (path below the repository -> text), cruises `paths`, removes them. */
function withProbes(probes: Record<string, string>, paths: string[]): { status: number | null; out: string } {
  try {
    for (const [file, text] of Object.entries(probes)) writeFileSync(join(ROOT, file), text);
    return cruise(paths);
  } finally {
    for (const file of Object.keys(probes)) rmSync(join(ROOT, file), { force: true });
  }
}

describe("the layer rules", { timeout: 120_000 }, () => {
  it("hold on the tree as it is", () => {
    const r = cruise(["src", "native-free-fallback"]);
    expect(r.out).toContain("no dependency violations found");
    expect(r.status).toBe(0);
  });

  it("refuse an import from a lower layer to a higher one (elf -> engine)", () => {
    const probe = "src/elf/zz-layer-probe.ts";
    const r = withProbes({ [probe]: 'import { evaluate } from "../engine/index.js";\nexport const probe = evaluate;\n' }, [probe]);
    expect(r.out).toContain(`no-upward-import-from-src-elf: ${probe} → src/engine/index.ts`);
    expect(r.status).not.toBe(0);
  });

  it("refuse an import between the sibling folders of one rank (weak -> audit)", () => {
    const probe = "src/weak/zz-layer-probe.ts";
    const r = withProbes({ [probe]: 'import { writeAuditJson } from "../audit/audit-report.js";\nexport const probe = writeAuditJson;\n' }, [probe]);
    expect(r.out).toContain(`no-sibling-import: ${probe} → src/audit/audit-report.ts`);
    expect(r.status).not.toBe(0);
  });

  it("keep elfy in src/elf/elf-file.ts", () => {
    const probe = "src/elf/zz-layer-probe.ts";
    const r = withProbes({ [probe]: 'import elfy from "elfy";\nexport const probe = elfy;\n' }, [probe]);
    expect(r.out).toContain(`elfy-in-one-file: ${probe} → node_modules/elfy/`);
    expect(r.status).not.toBe(0);
  });

  it("keep native-free-fallback/ on src/types/ alone", () => {
    const probe = "native-free-fallback/zz-layer-probe.ts";
    const r = withProbes({ [probe]: 'import { compareCodeUnits } from "../src/root/code-unit-order.js";\nexport const probe = compareCodeUnits;\n' }, [probe]);
    expect(r.out).toContain(`native-free-imports-only-types: ${probe} → src/root/code-unit-order.ts`);
    expect(r.status).not.toBe(0);
  });

  it("give every folder of src/ its place in the layer list", () => {
    const dir = join(ROOT, "src/zz-unplaced");
    mkdirSync(dir);
    try {
      const probe = "src/zz-unplaced/probe.ts";
      const r = withProbes({ [probe]: 'import { compareCodeUnits } from "../root/code-unit-order.js";\nexport const probe = compareCodeUnits;\n' }, [probe]);
      expect(r.out).toContain(`every-file-in-a-layer: ${probe} → src/root/code-unit-order.ts`);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuse an import cycle", () => {
    const a = "src/root/zz-cycle-a.ts";
    const b = "src/root/zz-cycle-b.ts";
    const r = withProbes(
      { [a]: 'import { b } from "./zz-cycle-b.js";\nexport const a = () => b;\n', [b]: 'import { a } from "./zz-cycle-a.js";\nexport const b = () => a;\n' },
      [a, b],
    );
    expect(r.out).toContain("no-circular");
    expect(r.status).not.toBe(0);
  });
});
