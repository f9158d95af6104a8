import type { Codec, CodecName } from "../types/codec.js";

/** One row per codec: the magic bytes that identify it and how to load each implementation. */
interface CodecRow {
  name: CodecName;
  magic: readonly number[];
  native: () => Promise<Codec>;
  fallback: () => Promise<Codec>;
}

const ROWS: readonly CodecRow[] = [
  {
    name: "xz",
    magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    native: async () => (await import("./xz.js")).xzCodec,
    fallback: async () => (await import("../../native-free-fallback/xz.js")).xzCodec,
  },
  {
    name: "gzip",
    magic: [0x1f, 0x8b],
    native: async () => (await import("./gzip.js")).gzipCodec,
    fallback: async () => (await import("../../native-free-fallback/gzip.js")).gzipCodec,
  },
  {
    name: "zstd",
    magic: [0x28, 0xb5, 0x2f, 0xfd],
    native: async () => (await import("./zstd.js")).zstdCodec,
    fallback: async () => (await import("../../native-free-fallback/zstd.js")).zstdCodec,
  },
];

/** How many leading bytes `detectCodec` needs to see. */
export const MAGIC_LENGTH = Math.max(...ROWS.map((r) => r.magic.length));

export function detectCodec(head: Uint8Array): CodecName | null {
  for (const row of ROWS) {
    if (head.length >= row.magic.length && row.magic.every((b, i) => head[i] === b)) return row.name;
  }
  return null;
}

export function nativeDisabled(): boolean {
  const v = process.env.KABI_NO_NATIVE;
  return v !== undefined && v !== "" && v !== "0";
}

const loaded = new Map<CodecName, Promise<Codec>>();

/**
 * The codec for `name`: the native one unless KABI_NO_NATIVE is set or its addon does not
 * load, then the fallback. Loaded once, on first use.
 */
export function loadCodec(name: CodecName, forceFallback = nativeDisabled()): Promise<Codec> {
  const key = forceFallback ? (`${name}:fallback` as CodecName) : name;
  let p = loaded.get(key);
  if (!p) {
    const row = ROWS.find((r) => r.name === name)!;
    p = forceFallback ? row.fallback() : row.native().catch(() => row.fallback());
    loaded.set(key, p);
  }
  return p;
}

export const CODEC_NAMES: readonly CodecName[] = ROWS.map((r) => r.name);
