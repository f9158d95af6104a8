import { Decompress } from "fzstd";
import { BoundedSink, DecodeError, type Codec } from "../src/decompress/codec.js";

/** zstd in pure JavaScript (fzstd), streaming. */
export const zstdCodec: Codec = {
  name: "zstd",
  kind: "fallback",
  async decompress(chunks, maxOutput) {
    const sink = new BoundedSink(maxOutput);
    const decoder = new Decompress((chunk) => sink.push(chunk));
    let sawInput = false;
    try {
      for await (const c of chunks) {
        if (c.length === 0) continue;
        sawInput = true;
        decoder.push(c);
      }
      if (!sawInput) throw new DecodeError("corrupt zstd stream (empty input)");
      decoder.push(new Uint8Array(0), true);
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`corrupt zstd stream (${(err as Error).message})`);
    }
    return sink.result();
  },
};
