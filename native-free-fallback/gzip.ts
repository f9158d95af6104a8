import { Readable } from "node:stream";
import { promisify } from "node:util";
import { createGunzip, gunzip } from "node:zlib";
import { collectInput, DecodeError, STREAM_OUTPUT_PIECE, TrackedInput, type Codec } from "../src/types/compression.js";

const gunzipBuffer = promisify(gunzip);

/**
 * gzip through node:zlib. zlib is compiled into Node itself, not an addon that can fail to
 * load: the native codec table row uses this same implementation (src/decompress/gzip.ts).
 *
 * The whole input goes to zlib's buffer API with maxOutputLength: zlib stops as soon as its output
 * passes the limit. A gunzip stream instead decodes a whole input chunk before anything downstream
 * can refuse its output, and a chunk of a few MB of a bomb is gigabytes of output.
 *
 * `stream` (a package payload, too large to hold) does use a gunzip stream, but gives it the
 * input in slices of STREAM_INPUT_SLICE bytes and pulls: what one slice inflates to (deflate
 * expands at most about 1032 times) is all that can be buffered ahead of the consumer.
 */
export function makeGzipCodec(kind: Codec["kind"]): Codec {
  return {
    name: "gzip",
    kind,
    async decompress(chunks, maxOutput) {
      const input = await collectInput(chunks, maxOutput);
      try {
        return await gunzipBuffer(input, { maxOutputLength: maxOutput });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
          throw new DecodeError(`decompressed size exceeds the limit of ${maxOutput} bytes`);
        }
        throw new DecodeError(`corrupt gzip stream (${(err as Error).message})`);
      }
    },
    stream: gunzipStream,
  };
}

async function* gunzipStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const input = new TrackedInput(chunks);
  const source = Readable.from(input.slices(), { objectMode: false, highWaterMark: 1 });
  const gunzip = createGunzip({ chunkSize: STREAM_OUTPUT_PIECE });
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    for await (const piece of gunzip) yield piece as Buffer;
  } catch (err) {
    throw input.explain(err, "gzip");
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  if (!input.sawInput) throw new DecodeError("corrupt gzip stream (empty input)");
}

export const gzipCodec = makeGzipCodec("fallback");
