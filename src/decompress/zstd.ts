import { createRequire } from "node:module";
import { BoundedSink, DecodeError, inputSlices, type Codec } from "../types/compression.js";

/**
 * zstd through zstd-napi's low-level binding (libzstd's ZSTD_decompressStream as a native addon).
 * Its stream class decodes a whole input chunk in one transform call, so a chunk of a few KB could
 * expand to gigabytes before anything downstream could refuse it; here each call writes at most
 * one output buffer of ZSTD_DStreamOutSize() bytes, and the size limit is checked after every call.
 *
 * zstd-napi is loaded with require, inside this module's own try: when its addon cannot be loaded
 * the codec table gets the error from `loadZstdCodec` and uses native-free-fallback/zstd.ts.
 */

interface DCtx {
  /** ZSTD_decompressStream: [hint (0 at the end of a frame), bytes written to dst, bytes read from src]. */
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

interface ZstdBinding {
  DCtx: new () => DCtx;
  dStreamOutSize(): number;
}

const require = createRequire(import.meta.url);

export function loadZstdCodec(): Codec {
  const lib = require("zstd-napi/binding") as ZstdBinding;
  if (typeof lib.DCtx !== "function" || typeof lib.DCtx.prototype.decompressStream !== "function") {
    throw new Error("zstd-napi: unexpected addon interface");
  }
  const outSize = lib.dStreamOutSize();
  return {
    name: "zstd",
    kind: "native",
    async decompress(chunks, maxOutput) {
      const sink = new BoundedSink(maxOutput);
      const dctx = new lib.DCtx();
      let sawInput = false;
      let inFrame = false;
      try {
        for await (const chunk of chunks) {
          if (chunk.length === 0) continue;
          sawInput = true;
          let src = chunk;
          for (;;) {
            const dst = Buffer.allocUnsafe(outSize);
            const [hint, produced, consumed] = dctx.decompressStream(dst, src);
            if (produced > 0) sink.push(dst.subarray(0, produced));
            // libzstd always moves when it has input and room; a call that does neither would loop for ever.
            if (produced === 0 && consumed === 0 && src.length > 0) throw new DecodeError("corrupt zstd stream (the decoder made no progress)");
            src = src.subarray(consumed);
            inFrame = hint !== 0;
            // Done with this chunk when it is consumed and the decoder has nothing more to flush
            // (it filled less than the whole buffer, or ended a frame).
            if (src.length === 0 && (produced < dst.length || hint === 0)) break;
          }
        }
      } catch (err) {
        throw err instanceof DecodeError ? err : new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
      }
      if (!sawInput) throw new DecodeError("corrupt zstd stream (empty input)");
      if (inFrame) throw new DecodeError("corrupt zstd stream (Stream ended in middle of compressed data frame)");
      return sink.result();
    },
    // The same loop as `decompress`, each output buffer handed on instead of gathered.
    async *stream(chunks) {
      const dctx = new lib.DCtx();
      const state = { sawInput: false, inFrame: false };
      for await (const slice of inputSlices(chunks)) {
        state.sawInput = true;
        let src = slice;
        for (;;) {
          const dst = Buffer.allocUnsafe(outSize);
          let result: [number, number, number];
          try {
            result = dctx.decompressStream(dst, src);
          } catch (err) {
            throw new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
          }
          const [hint, produced, consumed] = result;
          if (produced === 0 && consumed === 0 && src.length > 0) throw new DecodeError("corrupt zstd stream (the decoder made no progress)");
          src = src.subarray(consumed);
          state.inFrame = hint !== 0;
          if (produced > 0) yield dst.subarray(0, produced);
          if (src.length === 0 && (produced < dst.length || hint === 0)) break;
        }
      }
      if (!state.sawInput) throw new DecodeError("corrupt zstd stream (empty input)");
      if (state.inFrame) throw new DecodeError("corrupt zstd stream (Stream ended in middle of compressed data frame)");
    },
  };
}
