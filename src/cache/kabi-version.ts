import { readFileSync } from "node:fs";

/** kabi's version from its package.json (src/cache/ and dist/src/cache/ both find it), "unknown" if not found. */
function findVersion(): string {
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "kabi" && typeof pkg.version === "string") return pkg.version;
    } catch {
      /* try the next */
    }
  }
  return "unknown";
}

export const KABI_VERSION: string = findVersion();
