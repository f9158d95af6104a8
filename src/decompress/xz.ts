import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { collectInput, DecodeError, inputSlices, STREAM_OUTPUT_PIECE, type Codec } from "../types/compression.js";
import { xzDeclaredSize } from "./xz-index.js";

/**
 * The native xz codec: liblzma through node-liblzma's addon, one native call per module (its JS
 * wrapper, `unxzSync`, makes a round trip per 8 KiB and was the slowest of the xz decoders
 * measured, see bench/results.md). The whole compressed file goes in, and one output buffer
 * exactly as large as the size the xz index declares (checked against the limit before anything
 * is allocated), so a stream cannot write past it; anything but a clean end of stream filling
 * it exactly is a corrupt stream.
 *
 * node-liblzma is an optional dependency: when its addon cannot be loaded, importing this
 * module fails and the codec table uses native-free-fallback/xz.ts instead.
 */

interface LzmaHandle {
  codeSync(flush: number, input: Buffer, inOffset: number, availIn: number, output: Buffer, outOffset: number): [number, number, number];
  close(): void;
}

interface LzmaBinding {
  LZMA: new (mode: number, options: Record<string, number | number[]>) => LzmaHandle;
  STREAM_DECODE: number;
  LZMA_FINISH: number;
  LZMA_STREAM_END: number;
  LZMA_RUN: number;
  LZMA_OK: number;
  versionString(): string;
}

const require = createRequire(import.meta.url);

function loadLiblzma(): LzmaBinding {
  const pkgDir = dirname(dirname(require.resolve("node-liblzma")));
  // Prefer the prebuilt addon (it bundles a newer, faster liblzma than most distributions ship);
  // else whatever node-gyp-build finds (a local build against the system liblzma).
  const prebuilt = join(pkgDir, "prebuilds", `${process.platform}-${process.arch}`, "node-liblzma.node");
  let binding: LzmaBinding | undefined;
  if (existsSync(prebuilt)) {
    try {
      binding = require(prebuilt) as LzmaBinding;
    } catch {
      binding = undefined;
    }
  }
  if (binding === undefined) {
    const gypBuild = createRequire(join(pkgDir, "package.json"))("node-gyp-build") as (dir: string) => unknown;
    binding = gypBuild(pkgDir) as LzmaBinding;
  }
  if (typeof binding.LZMA !== "function" || typeof binding.LZMA.prototype.codeSync !== "function") {
    throw new Error("node-liblzma: unexpected addon interface");
  }
  return binding;
}

function liblzmaDecoder(lib: LzmaBinding): (input: Buffer, declared: number) => Buffer {
  const options = { check: 0, preset: 6, filters: [0x21], mode: 2, threads: 1, chunkSize: 65536, flushFlag: lib.LZMA_RUN };
  return (input, declared) => {
    const out = Buffer.allocUnsafe(Math.max(declared, 1));
    const handle = new lib.LZMA(lib.STREAM_DECODE, options);
    try {
      const [status, availIn, availOut] = handle.codeSync(lib.LZMA_FINISH, input, 0, input.length, out, 0);
      const produced = out.length - availOut;
      if (status !== lib.LZMA_STREAM_END) {
        throw new DecodeError(produced === out.length ? `corrupt xz stream (more data than the ${declared} bytes its index declares)` : `corrupt xz stream (liblzma status ${status})`);
      }
      if (produced !== declared) throw new DecodeError(`corrupt xz stream (index says ${declared} bytes, decoded ${produced})`);
      if (availIn !== 0) throw new DecodeError("corrupt xz stream (trailing data)");
      return declared === out.length ? out : out.subarray(0, declared);
    } finally {
      handle.close();
    }
  };
}

/**
 * A stream too large to hold (a package payload) through the same liblzma handle, one output
 * buffer of STREAM_OUTPUT_PIECE bytes per call: LZMA_RUN while input comes, LZMA_FINISH at its
 * end until liblzma says the stream ended. A FINISH call that neither reads nor writes means the
 * input stopped inside the stream.
 */
function liblzmaStream(lib: LzmaBinding): (chunks: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array> {
  const options = { check: 0, preset: 6, filters: [0x21], mode: 2, threads: 1, chunkSize: STREAM_OUTPUT_PIECE, flushFlag: lib.LZMA_RUN };
  const statusError = (status: number) => new DecodeError(`corrupt xz stream (${LIBLZMA_STATUS[status] ?? `liblzma status ${status}`})`);
  return async function* (chunks) {
    const handle = new lib.LZMA(lib.STREAM_DECODE, options);
    let ended = false;
    let sawInput = false;
    try {
      for await (const slice of inputSlices(chunks)) {
        if (ended) throw new DecodeError("corrupt xz stream (trailing data after the end of the stream)");
        sawInput = true;
        const input = Buffer.isBuffer(slice) ? slice : Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength);
        let at = 0;
        for (;;) {
          const out = Buffer.allocUnsafe(STREAM_OUTPUT_PIECE);
          const [status, availIn, availOut] = handle.codeSync(lib.LZMA_RUN, input, at, input.length - at, out, 0);
          const consumed = input.length - availIn - at;
          at = input.length - availIn;
          if (availOut < out.length) yield out.subarray(0, out.length - availOut);
          else if (consumed === 0 && status === lib.LZMA_OK) throw new DecodeError("corrupt xz stream (the decoder made no progress)");
          if (status === lib.LZMA_STREAM_END) {
            if (availIn !== 0) throw new DecodeError("corrupt xz stream (trailing data after the end of the stream)");
            ended = true;
            break;
          }
          if (status !== lib.LZMA_OK) throw statusError(status);
          if (availIn === 0 && availOut > 0) break;
        }
      }
      if (!sawInput) throw new DecodeError("corrupt xz stream (empty input)");
      const none = Buffer.alloc(0);
      while (!ended) {
        const out = Buffer.allocUnsafe(STREAM_OUTPUT_PIECE);
        const [status, , availOut] = handle.codeSync(lib.LZMA_FINISH, none, 0, 0, out, 0);
        if (availOut < out.length) yield out.subarray(0, out.length - availOut);
        if (status === lib.LZMA_STREAM_END) ended = true;
        else if (status !== lib.LZMA_OK) throw statusError(status);
        else if (availOut === out.length) throw new DecodeError("corrupt xz stream (truncated)");
      }
    } finally {
      handle.close();
    }
  };
}

/** liblzma's lzma_ret values as its documentation names them. */
const LIBLZMA_STATUS: Readonly<Record<number, string>> = {
  5: "memory allocation failed",
  6: "memory usage limit reached",
  7: "not an xz stream",
  8: "unsupported options",
  9: "data is corrupt",
  10: "truncated",
};

const lib = loadLiblzma();
const stream = liblzmaStream(lib);
const decode = liblzmaDecoder(lib);

/** Which native xz implementation is in use (for the bench report). */
export const xzBackend = `liblzma ${lib.versionString()} (node-liblzma)`;

export const xzCodec: Codec = {
  name: "xz",
  kind: "native",
  async decompress(chunks, maxOutput) {
    const input = await collectInput(chunks, maxOutput);
    const declared = xzDeclaredSize(input);
    if (declared > maxOutput) throw new DecodeError(`decompressed size ${declared} exceeds the limit of ${maxOutput} bytes`);
    try {
      return decode(input, declared);
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(`corrupt xz stream (${(err as Error).message})`);
    }
  },
  stream,
};
