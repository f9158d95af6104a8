import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { collectInput, DecodeError, type Codec } from "../src/types/compression.js";

const gunzipBuffer = promisify(gunzip);

/**
 * gzip through node:zlib. zlib is compiled into Node itself, not an addon that can fail to
 * load: the native codec table row uses this same implementation (src/decompress/gzip.ts).
 *
 * The whole input goes to zlib's buffer API with maxOutputLength: zlib stops as soon as its output
 * passes the limit. A gunzip stream instead decodes a whole input chunk before anything downstream
 * can refuse its output, and a chunk of a few MB of a bomb is gigabytes of output.
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
  };
}

export const gzipCodec = makeGzipCodec("fallback");
