import type { Codec, CodecName } from "../types/compression.js";

/** How to load a format's two decoders: each is imported on first use only. */
export interface CodecImplementations {
  /** src/decompress/<name>.ts: a native addon (or Node's own zlib). */
  readonly native: () => Promise<Codec>;
  /** native-free-fallback/<name>.ts: pure JS or wasm, used with KABI_NO_NATIVE or when the addon does not load. */
  readonly fallback: () => Promise<Codec>;
}

/**
 * Each row of COMPRESSION_FORMATS (src/types/compression.ts) mapped to its two implementations;
 * keyed by CodecName, so a format row without both does not compile.
 */
export const IMPLEMENTATIONS: { readonly [name in CodecName]: CodecImplementations } = {
  xz: {
    native: async () => (await import("./xz.js")).xzCodec,
    fallback: async () => (await import("../../native-free-fallback/xz.js")).xzCodec,
  },
  gzip: {
    native: async () => (await import("./gzip.js")).gzipCodec,
    fallback: async () => (await import("../../native-free-fallback/gzip.js")).gzipCodec,
  },
  zstd: {
    native: async () => (await import("./zstd.js")).loadZstdCodec(),
    fallback: async () => (await import("../../native-free-fallback/zstd.js")).zstdCodec,
  },
};

export function nativeDisabled(): boolean {
  const v = process.env.KABI_NO_NATIVE;
  return v !== undefined && v !== "" && v !== "0";
}

/**
 * The native implementation unless `forceFallback`; when the native one fails to load (an
 * optional addon missing or built for another Node), the native-free one, without asking.
 */
export function chooseImplementation(impl: CodecImplementations, forceFallback: boolean): Promise<Codec> {
  return forceFallback ? impl.fallback() : impl.native().catch(() => impl.fallback());
}

const loaded = new Map<string, Promise<Codec>>();

/**
 * The codec for `name`: the native one unless KABI_NO_NATIVE is set or its addon does not
 * load, then the fallback. Loaded once, on first use.
 */
export function loadCodec(name: CodecName, forceFallback = nativeDisabled()): Promise<Codec> {
  const key = `${name}:${forceFallback ? "fallback" : "native"}`;
  let p = loaded.get(key);
  if (!p) {
    p = chooseImplementation(IMPLEMENTATIONS[name], forceFallback);
    loaded.set(key, p);
  }
  return p;
}
