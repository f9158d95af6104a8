import { xz } from "@napi-rs/lzma";
import { collectInput, DecodeError, type Codec } from "./codec.js";
import { xzDeclaredSize } from "./xz-index.js";

/**
 * xz through @napi-rs/lzma. It decodes whole buffers only, so the declared size in the
 * stream index is checked against the limit first, and the result again after.
 */
export const xzCodec: Codec = {
  name: "xz",
  kind: "native",
  async decompress(chunks, maxOutput) {
    const input = await collectInput(chunks, maxOutput);
    const declared = xzDeclaredSize(input);
    if (declared > maxOutput) throw new DecodeError(`decompressed size ${declared} exceeds the limit of ${maxOutput} bytes`);
    let out: Buffer;
    try {
      out = xz.decompressSync(input);
    } catch (err) {
      throw new DecodeError(`corrupt xz stream (${(err as Error).message})`);
    }
    if (out.length !== declared) throw new DecodeError(`corrupt xz stream (index says ${declared} bytes, decoded ${out.length})`);
    return out;
  },
};
