import { compareCodeUnits } from "./code-unit-order.js";

/**
 * Kernel release strings ("6.1.0-10-amd64", "5.14.0-427.13.1.el9_4.x86_64",
 * "6.12.117+deb12-amd64", "6.2.0~rc3") compared the way rpmvercmp does, which for
 * kernel releases also agrees with `sort -V`:
 *
 * - the strings are cut into runs of digits and runs of letters; every other character
 *   ('.', '-', '+', '_', ...) only separates runs;
 * - digit runs compare as numbers (any length: no overflow), a digit run is newer than
 *   a letter run, letter runs compare by code unit;
 * - '~' sorts before anything, even the end of the string (6.2~rc1 < 6.2);
 * - '^' sorts after the end of the string but before anything else;
 * - otherwise the string with runs left over is the newer one.
 *
 * Strings the rules find equal ("6.1-1" and "6.1_1") are then ordered by plain code-unit
 * comparison, so the order is total and sorting is deterministic. Nothing is ever
 * interpreted as a pattern.
 */
export function compareKernelReleases(a: string, b: string): number {
  const c = rpmvercmp(a, b);
  if (c !== 0) return c;
  return compareCodeUnits(a, b);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isAlnum(c: number): boolean {
  return isDigit(c) || isAlpha(c);
}

const TILDE = 126;
const CARET = 94;

function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const na = a.length;
  const nb = b.length;
  for (;;) {
    // Skip separators (anything but alphanumerics, '~' and '^').
    while (i < na && !isAlnum(a.charCodeAt(i)) && a.charCodeAt(i) !== TILDE && a.charCodeAt(i) !== CARET) i++;
    while (j < nb && !isAlnum(b.charCodeAt(j)) && b.charCodeAt(j) !== TILDE && b.charCodeAt(j) !== CARET) j++;

    const ca = i < na ? a.charCodeAt(i) : -1;
    const cb = j < nb ? b.charCodeAt(j) : -1;

    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (ca === -1) return -1;
      if (cb === -1) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === -1 || cb === -1) break;

    const numeric = isDigit(ca);
    const inRun = numeric ? isDigit : isAlpha;
    const si = i;
    const sj = j;
    while (i < na && inRun(a.charCodeAt(i))) i++;
    while (j < nb && inRun(b.charCodeAt(j))) j++;
    if (j === sj) {
      // b has a run of the other kind here: numbers are newer than letters.
      return numeric ? 1 : -1;
    }
    let ra = a.slice(si, i);
    let rb = b.slice(sj, j);
    if (numeric) {
      ra = stripZeros(ra);
      rb = stripZeros(rb);
      if (ra.length !== rb.length) return ra.length < rb.length ? -1 : 1;
    }
    if (ra !== rb) return compareCodeUnits(ra, rb);
  }
  const ea = i >= na;
  const eb = j >= nb;
  if (ea && eb) return 0;
  return ea ? -1 : 1;
}

function stripZeros(s: string): string {
  let k = 0;
  while (k < s.length - 1 && s.charCodeAt(k) === 48) k++;
  return k === 0 ? s : s.slice(k);
}

/** A control character (newline, tab, escape, ...): it would break the one-line-per-report output. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Whether a string can name a kernel release in a path (lib/modules/<K>): non-empty,
 * not "." or "..", no '/' and no control character (NUL, newline, tab, escape: every line kabi
 * prints about a kernel stays one line). Anything else (spaces, a leading '-', '+', '~', '_',
 * '*', '[', "a..b") is taken literally: never a pattern, never an option (external commands get
 * it after "--").
 */
export function isUsableKernelRelease(release: string): boolean {
  return release !== "" && release !== "." && release !== ".." && !release.includes("/") && !CONTROL.test(release);
}

/** Why a directory name under lib/modules is not taken as a kernel release, or null when it is one. */
export function unusableReleaseReason(name: string): string | null {
  if (CONTROL.test(name)) return "its name holds a control character (a newline, a tab, ...)";
  if (!isUsableKernelRelease(name)) return "not a kernel release";
  return null;
}
