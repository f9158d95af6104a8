import { Readable } from "node:stream";
import xzDecompress from "xz-decompress";
import { BoundedSink, DecodeError, TrackedInput, type Codec } from "../src/types/compression.js";

/** xz through xz-decompress (xz-embedded compiled to wasm), streaming. */
// xz-decompress is CommonJS: under plain Node only its default export is importable by name.
const { XzReadableStream } = xzDecompress;

export const xzCodec: Codec = {
  name: "xz",
  kind: "fallback",
  async decompress(chunks, maxOutput) {
    const sink = new BoundedSink(maxOutput);
    const input = Readable.toWeb(Readable.from(chunks)) as ReadableStream<Uint8Array>;
    const reader = new XzReadableStream(input).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        sink.push(value);
      }
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      throw err instanceof DecodeError ? err : new DecodeError(`corrupt xz stream (${(err as Error).message})`);
    }
    return sink.result();
  },
  async *stream(chunks) {
    const input = new TrackedInput(chunks);
    const reader = new XzReadableStream(Readable.toWeb(Readable.from(input.slices(), { objectMode: false, highWaterMark: 1 })) as ReadableStream<Uint8Array>).getReader();
    let done = false;
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          done = true;
          throw input.explain(err, "xz");
        }
        if (next.done) break;
        yield next.value;
      }
      done = true;
    } finally {
      if (!done) await reader.cancel().catch(() => undefined);
    }
    if (!input.sawInput) throw new DecodeError("corrupt xz stream (empty input)");
  },
};
