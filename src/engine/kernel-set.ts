/**
 * Sets of kernel indices as multi-word bitsets.
 *
 * A `KernelSetPool` stores many fixed-width sets back to back in one growing Uint32Array, so the
 * per-(symbol, crc) index costs no object per set. Sets are addressed by their slot number.
 * Standalone sets (accumulators, per-module results) are plain Uint32Arrays of `words` words.
 */

export function wordsFor(kernelCount: number): number {
  return Math.max(1, (kernelCount + 31) >>> 5);
}

export function newSet(words: number): Uint32Array {
  return new Uint32Array(words);
}

/** A set holding kernels 0 .. kernelCount-1. */
export function fullSet(kernelCount: number): Uint32Array {
  const words = wordsFor(kernelCount);
  const set = new Uint32Array(words);
  for (let k = 0; k < kernelCount; k++) set[k >>> 5] |= 1 << (k & 31);
  return set;
}

export function hasKernel(set: Uint32Array, k: number): boolean {
  return (set[k >>> 5] & (1 << (k & 31))) !== 0;
}

export function addKernel(set: Uint32Array, k: number): void {
  set[k >>> 5] |= 1 << (k & 31);
}

export function removeKernel(set: Uint32Array, k: number): void {
  set[k >>> 5] &= ~(1 << (k & 31));
}

export function isEmpty(set: Uint32Array): boolean {
  for (let i = 0; i < set.length; i++) if (set[i] !== 0) return false;
  return true;
}

export function setsEqual(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Kernel indices in ascending order. */
export function kernelsOf(set: Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < set.length; w++) {
    let bits = set[w];
    while (bits !== 0) {
      const low = bits & -bits;
      out.push((w << 5) + (31 - Math.clz32(low)));
      bits ^= low;
    }
  }
  return out;
}

/** Slot number meaning "no set" (the empty set). */
export const NO_SET = -1;

export class KernelSetPool {
  readonly words: number;
  private data: Uint32Array;
  private used = 0;

  constructor(kernelCount: number, initialSlots = 1024) {
    this.words = wordsFor(kernelCount);
    this.data = new Uint32Array(this.words * Math.max(1, initialSlots));
  }

  /** A new empty set; returns its slot. */
  alloc(): number {
    const slot = this.used++;
    if (this.used * this.words > this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    return slot;
  }

  add(slot: number, k: number): void {
    this.data[slot * this.words + (k >>> 5)] |= 1 << (k & 31);
  }

  has(slot: number, k: number): boolean {
    if (slot === NO_SET) return false;
    return (this.data[slot * this.words + (k >>> 5)] & (1 << (k & 31))) !== 0;
  }

  /** The backing words; valid until the next `alloc`. Slot s occupies [s*words, (s+1)*words). */
  raw(): Uint32Array {
    return this.data;
  }
}
