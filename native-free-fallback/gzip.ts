import { makeGzipCodec } from "../src/decompress/gzip.js";

/** node:zlib is part of Node itself, so the fallback shares the native gzip implementation. */
export const gzipCodec = makeGzipCodec("fallback");
