import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { describeInputError } from "../errors.js";
import { readModule } from "../module/read-module.js";
import { isModuleFileName, parseExternalPath } from "./installed-tree.js";

/** A module path given on standard input, checked. */
export interface InputModule {
  /** As given. */
  given: string;
  hostPath: string;
  /** As seen inside the root. */
  insidePath: string;
  release: string;
}

export interface InputCheck {
  modules: InputModule[];
  errors: string[];
}

/**
 * Checks module paths from standard input (one per line; relative ones taken from `cwd`). Each
 * must be a host path inside `root`, without any ".." component, naming a module file under some
 * kernel's extra/ or updates/. With `mustExist` (--add-modules) the file must exist and, once
 * symlinks are resolved, still be inside the root, and read as a module; for --remove-modules a
 * missing file is normal.
 */
export async function checkInputPaths(root: string, text: string, cwd: string, mustExist: boolean): Promise<InputCheck> {
  const hostRoot = path.resolve(root);
  const out: InputCheck = { modules: [], errors: [] };
  const seen = new Set<string>();
  for (const raw of text.split("\n")) {
    const given = raw.replace(/\r$/, "");
    if (given.trim() === "") continue;
    const quoted = JSON.stringify(given);
    if (given.includes("\0")) {
      out.errors.push(`${quoted}: contains a NUL byte`);
      continue;
    }
    if (given.split("/").includes("..")) {
      out.errors.push(`${quoted}: ".." is not allowed in module paths`);
      continue;
    }
    const hostPath = path.resolve(cwd, given);
    const rel = path.relative(hostRoot, hostPath);
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
      out.errors.push(`${quoted}: outside the root ${hostRoot}`);
      continue;
    }
    const insidePath = "/" + rel.split(path.sep).join("/");
    const parsed = parseExternalPath(insidePath);
    if (parsed === null || !isModuleFileName(path.posix.basename(insidePath))) {
      out.errors.push(`${quoted}: not a module file (*.ko, *.ko.xz, *.ko.gz, *.ko.zst) under /lib/modules/<kernel>/extra/ or updates/ of the root`);
      continue;
    }
    if (mustExist) {
      let real: string;
      try {
        real = await realpath(hostPath);
        if (!(await stat(real)).isFile()) {
          out.errors.push(`${quoted}: not a regular file`);
          continue;
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        out.errors.push(`${quoted}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
        continue;
      }
      const realRoot = await realpath(hostRoot);
      const r = path.relative(realRoot, real);
      if (r === "" || r.startsWith("..") || path.isAbsolute(r)) {
        out.errors.push(`${quoted}: resolves to ${real}, outside the root ${hostRoot}`);
        continue;
      }
      try {
        await readModule(real);
      } catch (err) {
        out.errors.push(`${quoted}: not a kernel module: ${describeInputError(hostPath, err)}`);
        continue;
      }
    }
    if (seen.has(insidePath)) continue;
    seen.add(insidePath);
    out.modules.push({ given, hostPath, insidePath, release: parsed.release });
  }
  return out;
}
