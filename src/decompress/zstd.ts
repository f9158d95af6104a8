import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DecompressStream } from "zstd-napi";
import { BoundedSink, DecodeError, type Codec } from "../types/compression.js";

/** zstd through zstd-napi (libzstd as a native addon), streaming. */
export const zstdCodec: Codec = {
  name: "zstd",
  kind: "native",
  async decompress(chunks, maxOutput) {
    const sink = new BoundedSink(maxOutput);
    let sawInput = false;
    try {
      await pipeline(
        Readable.from(chunks),
        async function* (src: AsyncIterable<Uint8Array>) {
          for await (const c of src) {
            if (c.length) sawInput = true;
            yield c;
          }
        },
        new DecompressStream(),
        async (out: AsyncIterable<Buffer>) => {
          for await (const c of out) sink.push(c);
        },
      );
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
    }
    if (!sawInput) throw new DecodeError("corrupt zstd stream (empty input)");
    return sink.result();
  },
};
