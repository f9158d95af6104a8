/**
 * The flags part of a vermagic string: everything after the first whitespace-separated word
 * (the release), with runs of whitespace collapsed to one space and no leading/trailing space.
 * `"6.1.0-18-amd64 SMP preempt mod_unload modversions "` → `"SMP preempt mod_unload modversions"`.
 */
export function vermagicFlags(vermagic: string): string {
  const words = vermagic.trim().split(/\s+/);
  return words.slice(1).join(" ");
}
