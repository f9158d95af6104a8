/**
 * readModuleOnce (the bulk reader behind readModules) gives exactly readModule's record or
 * error for every kind of input: plain, xz, gzip, zstd, not a module, truncated, a bomb.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readModule, type ReadModuleOptions } from "../../src/module/read-module.js";
import { readModuleOnce } from "../../src/module/read-once.js";
import { fixtureModules, realSampleModules } from "../helpers/paths.js";

const work = mkdtempSync(join(tmpdir(), "kabi-read-once-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function outcome(read: typeof readModule, path: string, options: ReadModuleOptions) {
  try {
    return { record: await read(path, options) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe("readModuleOnce", () => {
  const mods = [...realSampleModules(), ...fixtureModules()];
  const broken = (): string[] => {
    const out: string[] = [];
    const add = (name: string, bytes: Buffer) => {
      const p = join(work, name);
      writeFileSync(p, bytes);
      out.push(p);
    };
    add("text.ko", Buffer.from("not a module\n"));
    add("empty.ko", Buffer.alloc(0));
    for (const m of mods.filter((f) => /\.ko\.(xz|gz|zst)$/.test(f)).slice(0, 6)) {
      const b = readFileSync(m);
      add(`cut-${out.length}${m.slice(m.lastIndexOf(".ko"))}`, b.subarray(0, Math.floor(b.length / 2)));
    }
    const plain = readFileSync(mods.find((f) => f.endsWith(".ko"))!);
    add("cut-plain.ko", plain.subarray(0, 200));
    return out;
  };

  it("matches readModule on every input, with either codec set and with a tiny size limit", async () => {
    const inputs = [...mods, ...broken(), join(work, "missing.ko")];
    expect(mods.some((f) => f.endsWith(".ko.xz"))).toBe(true);
    for (const options of [{}, { forceFallback: true }, { maxDecompressedSize: 4096 }] as ReadModuleOptions[]) {
      for (const f of inputs) {
        expect(await outcome(readModuleOnce, f, options), `${f} ${JSON.stringify(options)}`).toEqual(await outcome(readModule, f, options));
      }
    }
  });
});
