/**
 * What the system-install tests run: kabi as a package folder of its own (package.json, the built
 * dist/, man/, hooks/), as `npm install -g` leaves it, with the repository's node_modules linked
 * in, and the repository's hooks.
 */
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers/paths.js";

/** The hooks by the fixed names (source in the package -> installed path). */
export const HOOK_PLACES: ReadonlyArray<readonly [string, string]> = [
  ["hooks/postinst.d/kabi", "/etc/kernel/postinst.d/kabi"],
  ["hooks/header_postinst.d/kabi", "/etc/kernel/header_postinst.d/kabi"],
  ["hooks/postrm.d/kabi", "/etc/kernel/postrm.d/kabi"],
  ["hooks/install.d/45-kabi.install", "/etc/kernel/install.d/45-kabi.install"],
];

export interface PackageTree {
  /** The package folder (holds package.json). */
  readonly dir: string;
  /** `node <dir>/dist/src/cli/kabi.js`, quoted for a shell. */
  readonly kabi: string;
  dispose(): void;
}

export function packageTree(): PackageTree {
  const built = path.join(ROOT, "dist/src/cli/kabi.js");
  if (!existsSync(built)) throw new Error(`${built} missing: npm run build first (.ci/run does)`);
  const base = mkdtempSync(path.join(os.tmpdir(), "kabi-pkg-"));
  // Readable by all, as an installed package is (the not-root case runs it as nobody).
  chmodSync(base, 0o755);
  const dir = path.join(base, "kabi");
  mkdirSync(dir);
  cpSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  for (const d of ["dist/src", "dist/native-free-fallback", "man"]) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  cpSync(path.join(ROOT, "hooks"), path.join(dir, "hooks"), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return {
    dir,
    kabi: `${process.execPath} ${dir}/dist/src/cli/kabi.js`,
    dispose: () => rmSync(base, { recursive: true, force: true }),
  };
}

/**
 * The entries of a sandbox's upper layers (what the sandboxed commands changed), one line each:
 * path, type, mode, and a file's content hash or a symlink's target; with `times`, also the
 * mtime. A folder that exists on the machine is left out: overlayfs copies a folder up when
 * something is made in it, and the copy stays after that thing is removed again. So is root's
 * cache, /var/cache/kabi: any kabi run as root on the machine may have made it (it is then in
 * the lower layer, and uninstall-system's removal of it a whiteout); the test of the cache
 * checks it on its own.
 */
export function upperListing(sandboxDir: string, times = false): string[] {
  const out: string[] = [];
  const upper = path.join(sandboxDir, "upper");
  for (const layer of readdirSync(upper)) {
    const mountPoint = "/" + layer.replaceAll("_", "/");
    const walk = (dir: string, rel: string): void => {
      for (const name of readdirSync(dir).sort()) {
        const p = path.join(dir, name);
        const r = `${rel}/${name}`;
        if (r === "/var/cache/kabi") continue;
        const st = lstatSync(p);
        const mode = (st.mode & 0o7777).toString(8);
        const when = times ? ` ${st.mtimeMs}` : "";
        if (st.isDirectory()) {
          if (!existsSync(r)) out.push(`${r}/ dir ${mode}${when}`);
          walk(p, r);
        } else if (st.isSymbolicLink()) out.push(`${r} symlink -> ${readlinkSync(p)}${when}`);
        else if (st.isFile()) out.push(`${r} file ${mode} ${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}${when}`);
        else if (st.isCharacterDevice() && st.rdev === 0) out.push(`${r} whiteout`);
        else out.push(`${r} other`);
      }
    };
    walk(path.join(upper, layer), mountPoint === "/" ? "" : mountPoint);
  }
  return out.sort();
}
