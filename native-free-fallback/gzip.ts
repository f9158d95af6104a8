import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { BoundedSink, DecodeError, type Codec } from "../src/types/compression.js";

/**
 * gzip through node:zlib. zlib is compiled into Node itself, not an addon that can fail to
 * load: the native codec table row uses this same implementation (src/decompress/gzip.ts).
 */
export function makeGzipCodec(kind: Codec["kind"]): Codec {
  return {
    name: "gzip",
    kind,
    async decompress(chunks, maxOutput) {
      const sink = new BoundedSink(maxOutput);
      // pipeline() may reject with the AbortError of the gunzip stream it tears down rather than
      // with the sink's "exceeds the limit" error, so that one is kept aside.
      let limitError: DecodeError | undefined;
      try {
        await pipeline(Readable.from(chunks), createGunzip(), async (out: AsyncIterable<Buffer>) => {
          for await (const c of out) {
            try {
              sink.push(c);
            } catch (err) {
              limitError = err as DecodeError;
              throw err;
            }
          }
        });
      } catch (err) {
        if (limitError) throw limitError;
        throw err instanceof DecodeError ? err : new DecodeError(`corrupt gzip stream (${(err as Error).message})`);
      }
      return sink.result();
    },
  };
}

export const gzipCodec = makeGzipCodec("fallback");
