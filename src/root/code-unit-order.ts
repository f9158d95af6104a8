/**
 * Orders two strings by UTF-16 code unit, as `Array.prototype.sort` does without a comparator:
 * the order kabi lists directories, paths and names in, the same on every machine and locale
 * (never localeCompare, whose order depends on the ICU data and the locale).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
