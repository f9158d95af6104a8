/** Where the test data lives: committed fixtures, the committed real sample, the optional corpus cache. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const MODULE_FIXTURES = join(ROOT, "fixtures/modules");
export const REAL_SAMPLE = join(ROOT, "fixtures/real-sample");
export const MALFORMED = join(ROOT, "fixtures/malformed");

/** The kbuild-built fixture that exports three symbols (see fixtures/modules/README.md). */
export const PROVIDER_61 = join(MODULE_FIXTURES, "6.1.0-53-amd64/kabi_provider.ko");

const MODULE_RE = /\.ko(\.(xz|gz|zst))?$/;

/** Every module file under `dir` (recursively), sorted, as absolute paths. */
export function modulesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && MODULE_RE.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Every module file under `dir`, a folder of the repository's own fixtures: a lost (or emptied)
 * folder throws, so that the tests using it fail instead of checking nothing.
 */
export function committedModules(dir: string): string[] {
  const found = modulesUnder(dir);
  if (found.length === 0) throw new Error(`committed fixture modules missing: nothing under ${dir}`);
  return found;
}

/** The kbuild fixtures: fixtures/modules/<release>/*.ko (committed). */
export function fixtureModules(): string[] {
  return committedModules(MODULE_FIXTURES).filter((p) => !relative(MODULE_FIXTURES, p).startsWith("src/"));
}

/** The committed real Debian sample. */
export function realSampleModules(): string[] {
  return committedModules(REAL_SAMPLE);
}

export function isDirectory(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** A short name for test titles. */
export function shortName(p: string): string {
  return relative(ROOT, p);
}
