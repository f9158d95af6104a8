import { makeGzipCodec } from "../../native-free-fallback/gzip.js";

/** node:zlib is part of Node itself: the native row shares the native-free implementation. */
export const gzipCodec = makeGzipCodec("native");
