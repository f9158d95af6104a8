import { Readable } from "node:stream";
import xzDecompress from "xz-decompress";
import { BoundedSink, DecodeError, TrackedInput, type Codec } from "../src/types/compression.js";

/** xz through xz-decompress (xz-embedded compiled to wasm), streaming. */

/** The integrity checks xz-embedded (as xz-decompress builds it) verifies: none, CRC32, CRC64. */
const SUPPORTED_CHECKS: ReadonlySet<number> = new Set([0x00, 0x01, 0x04]);
const CHECK_NAMES: Readonly<Record<number, string>> = { 0x0a: "SHA-256" };

/**
 * xz-embedded refuses any other check with a bare "error code 6"; rpmbuild writes SHA-256 (xz's
 * --check=sha256), so an RPM's xz payload needs the native codec. Said in words, from the stream
 * header's flags (byte 7), before decoding.
 */
function refuseUnsupportedCheck(head: Uint8Array): void {
  if (head.length < 8) return;
  const check = head[7]! & 0x0f;
  if (!SUPPORTED_CHECKS.has(check)) {
    throw new DecodeError(`xz stream with a ${CHECK_NAMES[check] ?? `type ${check}`} integrity check, which the native-free xz decoder cannot verify (the native one, node-liblzma, can)`);
  }
}

/** `chunks` unchanged, the first 8 bytes checked by refuseUnsupportedCheck first. */
async function* checkedHead(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let head: Uint8Array | null = new Uint8Array(0);
  for await (const chunk of chunks) {
    if (head !== null) {
      const joined: Uint8Array = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      if (joined.length < 8) {
        head = joined;
        continue;
      }
      refuseUnsupportedCheck(joined);
      head = null;
      yield joined;
      continue;
    }
    yield chunk;
  }
  if (head !== null && head.length > 0) yield head;
}
// xz-decompress is CommonJS: under plain Node only its default export is importable by name.
const { XzReadableStream } = xzDecompress;

export const xzCodec: Codec = {
  name: "xz",
  kind: "fallback",
  async decompress(chunks, maxOutput) {
    const sink = new BoundedSink(maxOutput);
    const input = Readable.toWeb(Readable.from(checkedHead(chunks))) as ReadableStream<Uint8Array>;
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
    const input = new TrackedInput(checkedHead(chunks));
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
