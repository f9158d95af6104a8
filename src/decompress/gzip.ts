import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { BoundedSink, DecodeError, type Codec } from "./codec.js";

/**
 * gzip through node:zlib. zlib is compiled into Node itself, not an addon that can fail to
 * load, so the native-free fallback uses this same codec.
 */
export function makeGzipCodec(kind: Codec["kind"]): Codec {
  return {
    name: "gzip",
    kind,
    async decompress(chunks, maxOutput) {
      const sink = new BoundedSink(maxOutput);
      try {
        await pipeline(Readable.from(chunks), createGunzip(), async (out: AsyncIterable<Buffer>) => {
          for await (const c of out) sink.push(c);
        });
      } catch (err) {
        throw err instanceof DecodeError ? err : new DecodeError(`corrupt gzip stream (${(err as Error).message})`);
      }
      return sink.result();
    },
  };
}

export const gzipCodec = makeGzipCodec("native");
