/**
 * Things the tests need that the repository does not contain, but that CI provides: .ci/run
 * installs kmod (modprobe) and builds dist/ before running the tests. Outside CI a test may skip
 * without them (visibly, as skipped); under CI (CI set, as CI services do) their absence fails.
 * The repository's own fixtures are never optional: see committedModules (paths.ts) and
 * fixtureReleases / realSampleCases (test/engine/real-data.ts).
 */
import { spawnSync } from "node:child_process";

/**
 * Whether `command` can be started (found on PATH and executable), run with `args` that make it
 * print its version and exit: the `present` of requireUnderCi for a tool CI installs.
 */
export function commandPresent(command: string, args: readonly string[] = ["--version"]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).error === undefined;
}

/** Whether the tests run under CI (CI set to anything but "", "0" or "false"). */
export function underCi(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== "" && v !== "0" && v !== "false";
}

/**
 * Whether tests needing something CI provides should run: where it is present, and under CI
 * always (so that they fail there when it is missing).
 */
export function runsWith(present: boolean): boolean {
  return present || underCi();
}

/**
 * Inside a test: returns when `present`; else fails under CI, or skips the test (vitest's
 * context.skip) outside it.
 */
export function requireUnderCi(present: boolean, what: string, skip: () => void): void {
  if (present) return;
  if (underCi()) throw new Error(`${what} is missing, and CI provides it (.ci/run): it must be there`);
  skip();
}
