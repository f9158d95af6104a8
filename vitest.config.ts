import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

// CI runs the tests as root, whose default cache folder is the system's /var/cache/kabi
// (src/cache/record-cache.ts): the tests' caches go to a folder of their own unless one is named.
const cacheEnv: Record<string, string> = process.env.KABI_CACHE_DIR ? {} : { KABI_CACHE_DIR: join(tmpdir(), "kabi-vitest-cache") };

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    env: cacheEnv,
  },
});
