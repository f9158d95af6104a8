/**
 * dpkg's diversions, through the real dpkg-divert: the way a Debian system lets a file take the
 * place of another without dpkg putting the old one back on the next package upgrade (a package
 * that ships the path unpacks its file under the diverted name instead).
 */
import { spawnSync } from "node:child_process";

/** dpkg-divert's folders are searched after PATH: scriptlets and sudo may run with a PATH without them. */
const SEARCH_PATH = (process.env.PATH ?? "") + ":/usr/bin:/usr/sbin:/bin:/sbin";

/** Who diverts a path: null when nobody, "LOCAL" for a local diversion, else the package. */
export interface DiversionState {
  readonly by: string | null;
  /** Where the path's packaged file goes (the path itself when not diverted). */
  readonly divertTo: string;
}

export class DpkgDivert {
  private constructor(private readonly program: string) {}

  /** The dpkg-divert found on PATH (then /usr/bin, /usr/sbin), or null on a system without dpkg. */
  static find(): DpkgDivert | null {
    const r = spawnSync("dpkg-divert", ["--version"], { stdio: "ignore", env: { ...process.env, PATH: SEARCH_PATH } });
    return r.status === 0 ? new DpkgDivert("dpkg-divert") : null;
  }

  private run(args: string[]): { ok: boolean; stdout: string; reason: string } {
    const r = spawnSync(this.program, args, { encoding: "utf8", env: { ...process.env, PATH: SEARCH_PATH } });
    if (r.error !== undefined) return { ok: false, stdout: "", reason: r.error.message };
    // dpkg-divert's own message (its last line) is the reason: "rename involves overwriting ...".
    const last = (r.stderr ?? "").trim().split("\n").pop() ?? "";
    return { ok: r.status === 0, stdout: r.stdout ?? "", reason: last !== "" ? last : `dpkg-divert exited ${r.status}` };
  }

  state(path: string): DiversionState | string {
    const by = this.run(["--listpackage", path]);
    if (!by.ok) return `dpkg-divert --listpackage: ${by.reason}`;
    const to = this.run(["--truename", path]);
    if (!to.ok) return `dpkg-divert --truename: ${to.reason}`;
    const name = by.stdout.trim();
    return { by: name === "" ? null : name, divertTo: to.stdout.trim() };
  }

  /** `dpkg-divert --local --rename --divert TO --add PATH`: the reason when it failed, else null. */
  add(path: string, divertTo: string): string | null {
    const r = this.run(["--local", "--rename", "--divert", divertTo, "--add", path]);
    return r.ok ? null : r.reason;
  }

  /** `dpkg-divert --local --rename --divert TO --remove PATH`: the reason when it failed, else null. */
  remove(path: string, divertTo: string): string | null {
    const r = this.run(["--local", "--rename", "--divert", divertTo, "--remove", path]);
    return r.ok ? null : r.reason;
  }
}
