/**
 * The property-based layer of the fuzzing (fast-check, fixed seed): properties every reader must
 * keep for any input of a shape, shrunk to the smallest counterexample when one fails.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModule, readSymvers } from "../../src/api/records.js";
import { loadCodec } from "../../src/decompress/codec-table.js";
import { DecodeError, singleChunk, type CodecName } from "../../src/types/compression.js";
import { readSearchOrder } from "../../src/weak/weak-config.js";
import { seal } from "../../src/cache/sealed-file.js";
import { judgeThrown } from "./oracle.js";
import { prepareTargets, REPO_ROOT, type FuzzTarget } from "./targets.js";
import { viewElf } from "./mutators.js";

const SEED = 20261203;
const RUNS = { seed: SEED, numRuns: 150 };
const require = createRequire(import.meta.url);

let dir: string;
let targets: FuzzTarget[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kabi-props-"));
  targets = await prepareTargets(join(dir, "targets"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves to null when `p` resolves or rejects with a one-line FileError, else to what failed. */
async function oracle(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    const f = judgeThrown(err);
    return f === null ? null : `${f.errorClass}: ${f.message}${f.where ? ` at ${f.where}` : ""}`;
  }
}

const PROVIDER = readFileSync(join(REPO_ROOT, "fixtures/modules/6.1.0-53-amd64/kabi_provider.ko"));
const S390 = readFileSync(join(REPO_ROOT, "fixtures/real-sample/s390x-6.1/drivers/md/dm-zero.ko"));

describe("module reader properties", () => {
  it("any bytes, with or without the ELF magic in front, read as a record or one FileError line", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 2048 }), async (magic, body) => {
        const file = join(dir, "any.ko");
        writeFileSync(file, magic ? Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), body]) : body);
        expect(await oracle(readModule(file))).toBeNull();
      }),
      RUNS,
    );
  });

  it("a real module (ELF64 LE and BE) with any bytes of its ELF header or section table changed reads as a record or one FileError line", async () => {
    for (const seed of [PROVIDER, S390]) {
      const v = viewElf(seed)!;
      const region = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer({ min: v.shoff, max: v.shoff + v.shnum * v.shentsize - 1 }));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(region, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), async (patches) => {
          const b = Buffer.from(seed);
          for (const [at, value] of patches) b[at] = value;
          const file = join(dir, "patched.ko");
          writeFileSync(file, b);
          expect(await oracle(readModule(file))).toBeNull();
        }),
        RUNS,
      );
    }
  });
});

describe("codec properties (native and native-free)", () => {
  const compressors: Record<CodecName, (b: Buffer) => Buffer> = {
    gzip: (b) => gzipSync(b),
    zstd: (b) => (require("zstd-napi") as { compress(b: Buffer): Buffer }).compress(b),
    xz: (b) => (require("node-liblzma") as { xzSync(b: Buffer): Buffer }).xzSync(b),
  };
  for (const name of ["gzip", "zstd", "xz"] as const) {
    for (const fallback of [false, true]) {
      it(`${name} ${fallback ? "native-free" : "native"}: any data comes back whole; any damage to the stream is a DecodeError`, async () => {
        const codec = await loadCodec(name, fallback);
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), async (data, damage) => {
            const packed = compressors[name](Buffer.from(data));
            if (damage.length === 0) {
              expect(Buffer.compare(await codec.decompress(singleChunk(packed), 1 << 20), Buffer.from(data))).toBe(0);
              return;
            }
            const bad = Buffer.from(packed);
            for (const [at, v] of damage) bad[at % bad.length] = v;
            try {
              await codec.decompress(singleChunk(bad), 1 << 20);
            } catch (err) {
              expect(err, String(err)).toBeInstanceOf(DecodeError);
            }
          }),
          { ...RUNS, numRuns: 60 },
        );
      });
    }
  }
});

describe("symvers properties", () => {
  const symbol = fc.stringMatching(/^[a-z_][a-z0-9_]{0,24}$/);
  const entry = fc.record({
    symbol,
    crc: fc.nat({ max: 0xffffffff }),
    module: fc.constantFrom("vmlinux", "drivers/net/mii", "fs/ext4/ext4"),
    exportType: fc.constantFrom("EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL"),
    namespace: fc.constantFrom("", "CXL", "module:kvm,kvm_intel"),
  });
  /** A line that can never be an entry: no tab (and no NUL or line break). */
  const noise = fc.string({ maxLength: 80 }).map((s) => s.replace(/[\t\n\r\0]/g, " "));

  it("every well-formed line among any tab-less noise is read with its CRC, in the current layout", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entry, { selector: (e) => e.symbol, maxLength: 40 }), fc.array(noise, { maxLength: 40 }), fc.boolean(), async (entries, junk, crlf) => {
        const lines = entries.map((e) => `0x${e.crc.toString(16).padStart(8, "0")}\t${e.symbol}\t${e.module}\t${e.exportType}\t${e.namespace}`);
        junk.forEach((j, k) => lines.splice(k % (lines.length + 1), 0, j));
        const file = join(dir, "prop.symvers");
        writeFileSync(file, lines.join(crlf ? "\r\n" : "\n") + "\n");
        // With no well-formed line the file is refused as a whole (empty, or no valid line), by one FileError.
        if (entries.length === 0) {
          expect(await oracle(readSymvers(file))).toBeNull();
          return;
        }
        const table = await readSymvers(file);
        for (const e of entries) {
          expect(table.entries.get(e.symbol)?.crc, e.symbol).toBe(e.crc);
          expect(table.entries.get(e.symbol)?.namespace).toBe(e.namespace);
        }
      }),
      RUNS,
    );
  });

  it("any text reads as a table or one FileError line", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(noise, fc.string({ maxLength: 60 }), fc.constant("0x1\ta\tvmlinux\tEXPORT_SYMBOL\t")), { maxLength: 60 }), async (lines) => {
        const file = join(dir, "any.symvers");
        writeFileSync(file, lines.join("\n"));
        expect(await oracle(readSymvers(file))).toBeNull();
      }),
      RUNS,
    );
  });
});

describe("depmod.d properties", () => {
  it("any configuration gives a search order whose directories stay inside /lib/modules/<K>", async () => {
    const word = fc.oneof(fc.constantFrom("search", "built-in", "updates", "extra", "weak-updates", "..", ".", "/", "../x", "a/../b", "override", "#"), fc.string({ maxLength: 12 }));
    const line = fc.array(word, { maxLength: 8 }).map((w) => w.join(" "));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 20 }), async (lines) => {
        const root = join(dir, "root");
        mkdirSync(join(root, "etc/depmod.d"), { recursive: true });
        writeFileSync(join(root, "etc/depmod.d/p.conf"), lines.join("\n"));
        const order = await readSearchOrder(root);
        for (const e of order.entries) {
          if (e.kind !== "dir") continue;
          expect(e.dir.split("/")).not.toContain("..");
          expect(e.dir.startsWith("/")).toBe(false);
          expect(e.dir).not.toBe("");
        }
      }),
      RUNS,
    );
  });
});

describe("cache properties", () => {
  it("a pack or symvers cache entry with any sealed body is a hit or a miss, never an error", async () => {
    const pack = targets.find((t) => t.name === "record-pack")!;
    const sym = targets.find((t) => t.name === "symvers-cache")!;
    const kinds = [
      { t: pack, kind: { magic: Buffer.from("KABIPCK\n", "latin1"), format: 5 } },
      { t: sym, kind: { magic: Buffer.from("KABISYM\n", "latin1"), format: 1 } },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.uint8Array({ maxLength: 1024 }), fc.nat(), async (k, body, count) => {
        const { t, kind } = kinds[k]!;
        expect(await oracle(t.run({ bytes: seal(kind, count, Buffer.from(body)), note: "property" }, join(dir, "targets")))).toBeNull();
      }),
      RUNS,
    );
  });
});
