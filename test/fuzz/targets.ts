/**
 * The fuzz targets: every reader kabi has, each called through the API the command-line tools
 * use (readModule and readSymvers of kabi/records, the codec table's two implementations,
 * readSearchOrder of the weak-modules configuration, the record and symvers caches as a run
 * opens them), with the seeds and mutators that make its inputs.
 *
 * A target writes its input where its reader looks (a file in the scratch folder, a depmod.d
 * file inside a scratch root, a cache file under a scratch cache folder) and runs the reader; it
 * resolves when the reader gave a result or threw, and the oracle (oracle.ts) judges what it threw.
 */
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { readModule, readSymvers } from "../../src/api/records.js";
import { readSearchOrder } from "../../src/weak/weak-config.js";
import { loadKernelTargets } from "../../src/load/kernel-targets.js";
import { openSymvers } from "../../src/load/load-symvers.js";
import { decodePack, fileKey, RecordCache } from "../../src/cache/record-cache.js";
import { entryKey } from "../../src/cache/record-codec.js";
import { SymversCache } from "../../src/cache/symvers-cache.js";
import { seal, unseal } from "../../src/cache/sealed-file.js";
import { byteMutation, depmodText, mutateContainer, mutateElfOnce, mutateModinfo, mutateSignature, mutateSymversLines, viewElf, type FuzzInput } from "./mutators.js";
import { Rng } from "./rng.js";
import { elf32LittleToBig } from "./byte-order.js";

/** The repository root (this file runs from test/fuzz/ under vitest and from dist/test/fuzz/ when built). */
export const REPO_ROOT: string = (() => {
  let dir = new URL(".", import.meta.url).pathname;
  for (let k = 0; k < 6; k++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "fixtures"))) return dir;
    dir = join(dir, "..");
  }
  throw new Error("fuzz: repository root not found");
})();

/** How the built CLI is asked to read a target's input, when it can be. */
export interface CliCall {
  args: string[];
  env: Record<string, string>;
}

export interface FuzzTarget {
  /** The target's name in reports and fixture file names. */
  readonly name: string;
  /** Which reader this exercises, for the docs. */
  readonly reader: string;
  /** The input file's suffix (a module reader takes only *.ko*, by name). */
  readonly suffix: string;
  /** The input of one case. `heavy`: allow the cases that cost a broken reader gigabytes or minutes. */
  generate(rng: Rng, heavy: boolean): FuzzInput;
  /** Writes `input` where the reader looks (without reading it); returns the file written. */
  write(input: FuzzInput, scratch: string): string;
  /** Writes `input` (see write) and runs the reader on it; returns the file written. */
  run(input: FuzzInput, scratch: string): Promise<string>;
  /** The CLI command that reads the file `run` wrote in `scratch`, if any. */
  cli?(scratch: string): CliCall;
}

export interface TargetOptions {
  /** Also take seeds from ~/.cache/kabi-corpus when it is there (the long run). */
  corpus?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Seeds

function walk(dir: string, accept: (name: string) => boolean, out: string[] = [], limit = Infinity): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (out.length >= limit) break;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, accept, out, limit);
    else if (e.isFile() && accept(e.name)) out.push(p);
  }
  return out;
}

const fixture = (rel: string): string => join(REPO_ROOT, rel);
const CORPUS = join(process.env.HOME ?? "/root", ".cache/kabi-corpus");

/** Seed files, smallest first and at most `max` of them (the fuzzer's speed is the seeds' size). */
function seeds(dirs: string[], suffix: RegExp, max: number, maxBytes = 64 * 1024): Buffer[] {
  const files: string[] = [];
  for (const d of dirs) walk(d, (n) => suffix.test(n), files, 4000);
  const bufs = files.map((f) => readFileSync(f)).filter((b) => b.length <= maxBytes);
  bufs.sort((a, b) => a.length - b.length);
  const picked: Buffer[] = [];
  const step = Math.max(1, Math.floor(bufs.length / max));
  for (let k = 0; k < bufs.length && picked.length < max; k += step) picked.push(bufs[k]!);
  return picked;
}

export interface Seeds {
  elf64le: Buffer[];
  elf32le: Buffer[];
  elf64be: Buffer[];
  xz: Buffer[];
  gz: Buffer[];
  zst: Buffer[];
  symversLines: string[][];
}

export function loadSeeds(opts: TargetOptions): Seeds {
  const corpus = opts.corpus === true && existsSync(CORPUS);
  const c = (arch: string): string[] => (corpus ? [join(CORPUS, arch)] : []);
  const elf64le = seeds([fixture("fixtures/modules/6.1.0-53-amd64"), fixture("fixtures/modules/6.12.117+deb12-amd64"), fixture("fixtures/modules/no-modversions"), ...c("amd64-6.1")], /\.ko$/, 24);
  const elf32le = seeds([fixture("fixtures/real-sample/i386-6.1"), ...c("i386-6.1")], /\.ko$/, 12);
  const elf64be = seeds([fixture("fixtures/real-sample/s390x-6.1"), ...c("s390x-6.1")], /\.ko$/, 12);
  const xz = seeds([fixture("fixtures/real-sample/amd64-6.12"), ...c("amd64-6.12")], /\.ko\.xz$/, 8);
  const gz = seeds([fixture("fixtures/real-sample/amd64-6.1-gz"), ...c("amd64-6.1-gz")], /\.ko\.gz$/, 8);
  const zst = seeds([fixture("fixtures/real-sample/amd64-6.1-zst"), ...c("amd64-6.1-zst")], /\.ko\.zst$/, 8);
  for (const [name, list] of Object.entries({ elf64le, elf32le, elf64be, xz, gz, zst })) if (list.length === 0) throw new Error(`fuzz: no ${name} seed found`);
  // Symvers: slices of real files in each layout (a whole 27,000-line file per case would make
  // the fuzzer a parser benchmark), plus the 7.x `module:` namespace lines made by the mutator.
  const symversLines: string[][] = [];
  for (const f of ["test/symvers/data/pre-5.4-msm8974-3.4.symvers", "test/symvers/data/5.4-namespace-third.symvers", "test/symvers/data/current-6.1-gki-arm64.symvers"]) {
    symversLines.push(readFileSync(fixture(f), "utf8").split("\n").filter((l) => l !== ""));
  }
  for (const f of walk(fixture("fixtures/symvers"), (n) => n.endsWith(".symvers.gz")).slice(0, 3)) {
    const lines = gunzipSync(readFileSync(f)).toString("utf8").split("\n");
    for (let k = 0; k < 4; k++) symversLines.push(lines.slice(k * 5000, k * 5000 + 120));
  }
  return { elf64le, elf32le, elf64be, xz, gz, zst, symversLines };
}

// ---------------------------------------------------------------------------------------------
// Compressors (for inner-ELF mutations inside a container, and for bombs)

type Format = "xz" | "gzip" | "zstd";
const require = createRequire(import.meta.url);

function compressor(format: Format): ((b: Buffer) => Buffer) | null {
  try {
    if (format === "gzip") return (b) => gzipSync(b, { level: 1 });
    if (format === "zstd") {
      const z = require("zstd-napi") as { compress(b: Buffer): Buffer };
      return (b) => z.compress(b);
    }
    const x = require("node-liblzma") as { xzSync(b: Buffer, o?: object): Buffer };
    return (b) => x.xzSync(b, { preset: 0 });
  } catch {
    return null;
  }
}

const bombCache = new Map<string, Buffer>();
/** Sizes in MiB multiply by this (a shift would overflow 32 bits at 2 GiB). */
const MIB = 1024 * 1024;

/**
 * A decompression bomb: one compressed block of `fill` repeated as concatenated streams (valid
 * for all three formats) until it stands for `total` bytes. Small input, huge output.
 */
export function bomb(format: Format, fill: "zeros" | "newlines" | "lines", total: number): Buffer | null {
  const key = `${format}:${fill}:${total}`;
  const hit = bombCache.get(key);
  if (hit) return hit;
  const compress = compressor(format);
  if (compress === null) return null;
  const blockSize = 1 << 22;
  const block = fill === "zeros" ? Buffer.alloc(blockSize) : fill === "newlines" ? Buffer.alloc(blockSize, 0x0a) : Buffer.from("0x12345678\tsymbol_name\tvmlinux\tEXPORT_SYMBOL\t\n".repeat(Math.ceil(blockSize / 47)).slice(0, blockSize));
  const one = compress(block);
  const out = Buffer.concat(Array.from({ length: Math.max(1, Math.round(total / blockSize)) }, () => one));
  bombCache.set(key, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Targets

function writeInput(input: FuzzInput, file: string): string {
  writeFileSync(file, input.bytes);
  if (input.sparseSize !== undefined && input.sparseSize > input.bytes.length) truncateSync(file, input.sparseSize);
  return file;
}

function elfCase(rng: Rng, pool: Buffer[], donors: Buffer[], heavy: boolean, base = "seed"): FuzzInput {
  const seed = rng.pick(pool);
  let input: FuzzInput = { bytes: seed, note: `${base} ${pool.indexOf(seed)}` };
  const rounds = heavy ? 1 : rng.between(1, 3);
  for (let r = 0; r < rounds; r++) input = mutateElfOnce(rng, input, rng.pick(donors), heavy && r === 0);
  return input;
}

function moduleTarget(name: string, reader: string, gen: (rng: Rng, heavy: boolean) => FuzzInput, suffix: string, forceFallback: boolean): FuzzTarget {
  return {
    name,
    reader,
    suffix,
    generate: gen,
    write: (input, scratch) => writeInput(input, join(scratch, `case${suffix}`)),
    async run(input, scratch) {
      const file = writeInput(input, join(scratch, `case${suffix}`));
      await readModule(file, { forceFallback, ...(input.maxOutput !== undefined ? { maxDecompressedSize: input.maxOutput } : {}) });
      return file;
    },
    cli: (scratch) => ({ args: ["dump", "--json", join(scratch, `case${suffix}`)], env: { KABI_NO_NATIVE: forceFallback ? "1" : "" } }),
  };
}

function containerCase(rng: Rng, format: Format, pool: Buffer[], elfPool: Buffer[], heavy: boolean): FuzzInput {
  const compress = compressor(format);
  const roll = heavy ? 9 : rng.below(9);
  if (roll < 4 || compress === null) {
    const seed = rng.pick(pool);
    let bytes = seed;
    const notes = [`${format} seed ${pool.indexOf(seed)}`];
    for (let r = rng.between(1, 2); r > 0; r--) {
      const m = mutateContainer(rng, bytes, rng.pick(pool));
      bytes = m.bytes;
      notes.push(m.note);
    }
    return { bytes, note: notes.join("; ") };
  }
  if (roll < 8) {
    // The ELF reader behind the container (a decompressed module is read from memory, not a file).
    const inner = elfCase(rng, elfPool, elfPool, false, "elf seed");
    return { bytes: compress(inner.bytes), note: `${format} of (${inner.note})` };
  }
  if (roll === 8) {
    // A bomb against a small limit (the API's maxDecompressedSize): refused as soon as it passes it.
    const b = bomb(format, rng.pick(["zeros", "newlines"] as const), 8 << 20);
    if (b !== null) return { bytes: b, maxOutput: 512 << 10, note: `${format} bomb of 8 MiB against a 512 KiB limit` };
    return { bytes: rng.pick(pool), note: "seed" };
  }
  const total = rng.pick([300 * MIB, 2048 * MIB]);
  const b = bomb(format, "zeros", total);
  return b === null ? { bytes: rng.pick(pool), note: "seed" } : { bytes: b, note: `${format} bomb of ${total / MIB} MiB of zeros` };
}

function symversCase(rng: Rng, lines: string[][], heavy: boolean): { lines: string[]; note: string } {
  const seedIndex = rng.below(lines.length);
  let current = lines[seedIndex]!.slice();
  const notes = [`symvers seed ${seedIndex}`];
  const rounds = rng.between(1, 4);
  for (let r = 0; r < rounds; r++) {
    const m = mutateSymversLines(rng, current, heavy && r === 0);
    current = m.lines;
    notes.push(m.note);
  }
  return { lines: current, note: notes.join("; ") };
}

/** Symvers text as bytes: `\xff`-style characters stand for single bytes that are not UTF-8. */
function symversBytes(lines: string[]): Buffer {
  const text = lines.join("\n") + "\n";
  // eslint-disable-next-line no-control-regex
  return /[\x80-\xff]/.test(text) && !/[\u0100-\uffff]/.test(text) ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
}

/** The symbols a wanted-symbols read keeps (some in the seeds, some made by the mutators). */
const WANTED_SYMBOLS: ReadonlySet<string> = new Set(["system_state", "sym_1", "dup", "ipv6_chk_custom_prefix", "cfg80211_send_rx_assoc", "x"]);

function symversTarget(name: string, format: Format | "plain", fallback: boolean, wanted: boolean, lines: string[][]): FuzzTarget {
  const compress = format === "plain" ? null : compressor(format);
  return {
    name,
    reader: `readSymvers (${format}${fallback ? ", native-free codec" : ""}${wanted ? ", wanted symbols only, then openSymvers as weak-modules parses it" : format === "plain" ? ", then loadKernelTargets as kabi audit loads it" : ""})`,
    suffix: ".symvers",
    generate(rng, heavy) {
      if (compress !== null && format !== "plain" && heavy && rng.chance(0.5)) {
        const fill = rng.pick(["zeros", "newlines", "lines"] as const);
        const total = rng.pick([512 * MIB, 1024 * MIB, 2048 * MIB]);
        const b = bomb(format, fill, total);
        if (b !== null) return { bytes: b, note: `${format} bomb of ${total / MIB} MiB of ${fill}` };
      }
      const s = symversCase(rng, lines, heavy);
      const plain = symversBytes(s.lines);
      if (compress === null) return { bytes: plain, note: s.note };
      const packed = compress(plain);
      if (rng.chance(0.25)) {
        const m = mutateContainer(rng, packed, packed);
        return { bytes: m.bytes, note: `${format} of (${s.note}); ${m.note}` };
      }
      return { bytes: packed, note: `${format} of (${s.note})` };
    },
    write: (input, scratch) => writeInput(input, join(scratch, "case.symvers")),
    async run(input, scratch) {
      const file = writeInput(input, join(scratch, "case.symvers"));
      const saved = process.env.KABI_NO_NATIVE;
      process.env.KABI_NO_NATIVE = fallback ? "1" : "";
      try {
        const symbols = wanted ? WANTED_SYMBOLS : undefined;
        await readSymvers(file, symbols);
        // Then as the commands load it: `kabi audit` through the load stage (every kernel's
        // problems gathered), weak-modules and `kabi status` by decoding first and parsing only the
        // wanted symbols' lines. The load stage turns a reader's errors into lines, so the
        // reader itself is called first, above, where any other exception shows.
        if (format === "plain" && !wanted) await loadKernelTargets({ explicit: [{ release: "6.1.0-53-amd64", file }], releases: [], basedir: scratch, cache: false });
        if (format === "plain" && wanted) for (const o of await openSymvers([file])) o.parse(symbols);
      } finally {
        if (saved === undefined) delete process.env.KABI_NO_NATIVE;
        else process.env.KABI_NO_NATIVE = saved;
      }
      return file;
    },
    cli: (scratch) => ({ args: ["audit", "--symvers", `6.1.0-53-amd64=${join(scratch, "case.symvers")}`, join(REPO_ROOT, "fixtures/modules/6.1.0-53-amd64/kabi_consumer.ko")], env: { KABI_NO_NATIVE: fallback ? "1" : "" } }),
  };
}

function depmodTarget(): FuzzTarget {
  return {
    name: "depmod-config",
    reader: "readSearchOrder (depmod.d configuration of a weak-modules root)",
    suffix: ".conf",
    generate(rng, heavy) {
      const t = depmodText(rng, heavy);
      return { bytes: t.bytes, note: t.note };
    },
    write(input, scratch) {
      mkdirSync(join(scratch, "root/etc/depmod.d"), { recursive: true });
      return writeInput(input, join(scratch, "root/etc/depmod.d/fuzz.conf"));
    },
    async run(input, scratch) {
      const file = this.write(input, scratch);
      await readSearchOrder(join(scratch, "root"));
      return file;
    },
  };
}

/** A cache file's body mutated, then sealed again (with its own magic and format) so that the decoder behind the seal sees it. */
function sealedCase(rng: Rng, original: Buffer): FuzzInput {
  const kind = { magic: original.subarray(0, 8), format: original.readUInt32LE(8) };
  const opened = unseal(kind, original);
  if (opened === null || rng.chance(0.2)) {
    const m = byteMutation(rng, original, original);
    return { bytes: m.bytes, note: `sealed file: ${m.note}` };
  }
  let raw = opened.raw;
  const notes: string[] = [];
  for (let r = rng.between(1, 3); r > 0; r--) {
    if (rng.chance(0.6) && raw.length >= 4) {
      // A 32-bit field of the body (counts, offsets, string indexes are u32s) set to an edge value.
      const out = Buffer.from(raw);
      const at = rng.below(out.length >> 2) << 2;
      const value = rng.pick([0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, out.length, rng.u32()]);
      out.writeUInt32LE(value >>> 0, at);
      raw = out;
      notes.push(`body u32 at ${at} = ${value}`);
    } else {
      const m = byteMutation(rng, raw, raw);
      raw = m.bytes;
      notes.push(`body ${m.note}`);
    }
  }
  const count = rng.chance(0.2) ? rng.pick([0, 1, 0xffffffff, rng.u32()]) : opened.count;
  return { bytes: seal(kind, count, Buffer.from(raw)), note: `resealed: ${notes.join("; ")}${count !== opened.count ? `; count ${count}` : ""}` };
}

interface CacheSeeds {
  /** The module copy the pack was written for, and the cache folder it is in. */
  modulePath: string;
  packFile: string;
  pack: Buffer;
  /** The symvers copy the cached table was written for, its cache folder and entry. */
  symversPath: string;
  symversEntry: string;
  symversTable: Buffer;
  cacheDir: string;
}

function recordPackTarget(seeds: CacheSeeds): FuzzTarget {
  return {
    name: "record-pack",
    reader: "RecordCache (a pack file of the record cache, as a run looks a module up)",
    suffix: ".pack",
    generate: (rng) => sealedCase(rng, seeds.pack),
    write: (input) => writeInput(input, seeds.packFile),
    async run(input) {
      writeFileSync(seeds.packFile, input.bytes);
      const cache = new RecordCache(seeds.cacheDir);
      cache.scope([seeds.modulePath]);
      // Looked up under the key the pack holds (as for a file that did not change since), so that
      // the entry's body is decoded whatever the mutation did to the key.
      const decoded = decodePack(input.bytes);
      const key = decoded !== null && decoded.names.length > 0 ? entryKey(decoded, 0) : fileKey(seeds.modulePath)!;
      cache.lookupRecord(seeds.modulePath, key);
      return seeds.packFile;
    },
  };
}

function symversCacheTarget(seeds: CacheSeeds): FuzzTarget {
  return {
    name: "symvers-cache",
    reader: "SymversCache (a cached symvers table, as a run opens it)",
    suffix: ".symvers-cache",
    generate: (rng) => sealedCase(rng, seeds.symversTable),
    write: (input) => writeInput(input, seeds.symversEntry),
    async run(input) {
      writeFileSync(seeds.symversEntry, input.bytes);
      await new SymversCache(seeds.cacheDir).read(seeds.symversPath);
      return seeds.symversEntry;
    },
  };
}

/** A pack and a symvers cache entry written by kabi itself for copies of two fixtures under `scratch`. */
async function makeCacheSeeds(scratch: string): Promise<CacheSeeds> {
  const dir = join(scratch, "cache-seeds");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cacheDir = join(dir, "cache");
  const modulePath = join(dir, "m.ko");
  copyFileSync(fixture(PACK_MODULE), modulePath);
  const cache = new RecordCache(cacheDir);
  cache.scope([modulePath]);
  cache.storeRecord(modulePath, fileKey(modulePath)!, await readModule(modulePath));
  cache.flush();
  const packFile = join(cache.root, readdirSync(cache.root).find((n) => n.endsWith(".pack"))!);
  const symversPath = join(dir, "k.symvers");
  copyFileSync(fixture(CACHE_SYMVERS), symversPath);
  const sc = new SymversCache(cacheDir);
  await sc.read(symversPath);
  const symversEntry = join(sc.root, readdirSync(sc.root)[0]!);
  return { modulePath, packFile, pack: readFileSync(packFile), symversPath, symversEntry, symversTable: readFileSync(symversEntry), cacheDir };
}

/** The module whose pack, and the symvers whose cached table, are the cache targets' seeds. */
const PACK_MODULE = "fixtures/modules/6.1.0-53-amd64/kabi_provider.ko";
const CACHE_SYMVERS = "test/symvers/data/current-6.1-gki-arm64.symvers";

/**
 * The ELF32 big-endian seeds: each i386 seed rewritten big-endian, kept only when kabi reads it
 * as the same record as the original (but for the byte order), so that a seed is a valid module.
 */
async function bigEndianSeeds(elf32le: Buffer[], scratch: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  mkdirSync(scratch, { recursive: true });
  const le = join(scratch, "seed-le.ko");
  const be = join(scratch, "seed-be.ko");
  const same = (r: object): string => JSON.stringify({ ...r, path: "", endianness: "" });
  for (const seed of elf32le) {
    const converted = elf32LittleToBig(seed);
    if (converted === null) continue;
    writeFileSync(le, seed);
    writeFileSync(be, converted);
    const [a, b] = await Promise.all([readModule(le), readModule(be)]);
    if (b.endianness === "big" && same(a) === same(b)) out.push(converted);
  }
  if (out.length === 0) throw new Error("fuzz: no ELF32 big-endian seed could be made");
  return out;
}

/**
 * Every target, seeds loaded. `scratch` is a folder the seeds of the cache targets are made in
 * (a pack and a symvers cache entry written by kabi itself, then mutated).
 */
export async function prepareTargets(scratch: string, opts: TargetOptions = {}): Promise<FuzzTarget[]> {
  const s = loadSeeds(opts);
  const elf32be = await bigEndianSeeds(s.elf32le, scratch);
  const allElf = [...s.elf64le, ...s.elf32le, ...s.elf64be, ...elf32be];
  const cacheSeeds = await makeCacheSeeds(scratch);
  const elf = (name: string, pool: Buffer[], reader: string) => moduleTarget(name, reader, (rng, heavy) => elfCase(rng, pool, allElf, heavy), ".ko", false);
  const container = (format: Format, pool: Buffer[], fallback: boolean) =>
    moduleTarget(`module-${format}-${fallback ? "fallback" : "native"}`, `readModule of a ${format} module (${fallback ? "native-free" : "native"} codec)`, (rng, heavy) => containerCase(rng, format, pool, s.elf64le, heavy), format === "xz" ? ".ko.xz" : format === "gzip" ? ".ko.gz" : ".ko.zst", fallback);
  return [
    elf("elf64-le", s.elf64le, "readModule of a plain ELF64 little-endian module (amd64)"),
    elf("elf32-le", s.elf32le, "readModule of a plain ELF32 little-endian module (i386)"),
    elf("elf64-be", s.elf64be, "readModule of a plain ELF64 big-endian module (s390x)"),
    elf("elf32-be", elf32be, "readModule of a plain ELF32 big-endian module (the i386 seeds rewritten big-endian: byte-order.ts)"),
    moduleTarget(
      "module-modinfo",
      "readModule: the .modinfo section",
      (rng, heavy) => {
        const seed = rng.pick(allElf);
        const v = viewElf(seed)!;
        return mutateModinfo(rng, { bytes: seed, note: `seed ${allElf.indexOf(seed)}` }, v, heavy);
      },
      ".ko",
      false,
    ),
    moduleTarget("module-signature", "readModule: the signature trailer", (rng) => mutateSignature(rng, { bytes: rng.pick(allElf), note: "seed" }), ".ko", false),
    container("xz", s.xz, false),
    container("xz", s.xz, true),
    container("gzip", s.gz, false),
    container("gzip", s.gz, true),
    container("zstd", s.zst, false),
    container("zstd", s.zst, true),
    symversTarget("symvers-plain", "plain", false, false, s.symversLines),
    symversTarget("symvers-wanted", "plain", false, true, s.symversLines),
    symversTarget("symvers-gzip", "gzip", false, false, s.symversLines),
    symversTarget("symvers-xz-native", "xz", false, false, s.symversLines),
    symversTarget("symvers-xz-fallback", "xz", true, false, s.symversLines),
    symversTarget("symvers-zstd-native", "zstd", false, false, s.symversLines),
    symversTarget("symvers-zstd-fallback", "zstd", true, false, s.symversLines),
    depmodTarget(),
    recordPackTarget(cacheSeeds),
    symversCacheTarget(cacheSeeds),
  ];
}
