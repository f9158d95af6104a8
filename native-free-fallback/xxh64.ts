/**
 * XXH64 (seed 0) in plain JavaScript, for the zstd frame content checksum (its low 32 bits),
 * which fzstd does not verify; whole (`xxh64`) or piece by piece (`Xxh64`). 64-bit words are
 * (hi, lo) pairs of uint32; the last result of each helper lands in H/L, avoiding allocation in
 * the hot loop.
 */

const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

let H = 0;
let L = 0;

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  L = lo >>> 0;
  H = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** The low 64 bits of a * b, by 16-bit limbs (every partial sum stays below 2^53). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  const c0 = a0 * b0;
  const c1 = Math.floor(c0 / 0x10000) + a0 * b1 + a1 * b0;
  const c2 = Math.floor(c1 / 0x10000) + a0 * b2 + a1 * b1 + a2 * b0;
  const c3 = Math.floor(c2 / 0x10000) + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  L = (((c1 & 0xffff) << 16) | (c0 & 0xffff)) >>> 0;
  H = (((c3 & 0xffff) << 16) | (c2 & 0xffff)) >>> 0;
}

/** Rotate left by 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  H = ((h << r) | (l >>> (32 - r))) >>> 0;
  L = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** acc = rotl(acc + input * P2, 31) * P1; result in H/L. */
function round(acch: number, accl: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(acch, accl, H, L);
  rotl(H, L, 31);
  mul(H, L, P1H, P1L);
}

export function xxh64(data: Uint8Array): { hi: number; lo: number } {
  return new Xxh64().update(data).digest();
}

/**
 * XXH64 over data given piece by piece (a zstd frame's content as it is decoded, never held
 * whole): the four lane accumulators run over each 32-byte stripe as it completes; up to 31
 * bytes wait in `tail` for the next piece or for the digest.
 */
export class Xxh64 {
  private v1h: number; private v1l: number;
  private v2h = P2H; private v2l = P2L;
  private v3h = 0; private v3l = 0;
  // 0 - P1 (P1's low word is not 0, so the high word is ~P1H with no carry in)
  private v4h = ~P1H >>> 0; private v4l = (0x100000000 - P1L) >>> 0;
  private readonly tail = new Uint8Array(32);
  private tailLength = 0;
  private total = 0;

  constructor() {
    add(P1H, P1L, P2H, P2L);
    this.v1h = H; this.v1l = L;
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let p = 0;
    if (this.tailLength > 0) {
      const take = Math.min(32 - this.tailLength, data.length);
      this.tail.set(data.subarray(0, take), this.tailLength);
      this.tailLength += take;
      p = take;
      if (this.tailLength < 32) return this;
      this.stripe(new DataView(this.tail.buffer, this.tail.byteOffset, 32), 0);
      this.tailLength = 0;
    }
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    while (p + 32 <= data.length) {
      this.stripe(dv, p);
      p += 32;
    }
    this.tail.set(data.subarray(p), 0);
    this.tailLength = data.length - p;
    return this;
  }

  private stripe(dv: DataView, p: number): void {
    round(this.v1h, this.v1l, dv.getUint32(p + 4, true), dv.getUint32(p, true));
    this.v1h = H; this.v1l = L;
    round(this.v2h, this.v2l, dv.getUint32(p + 12, true), dv.getUint32(p + 8, true));
    this.v2h = H; this.v2l = L;
    round(this.v3h, this.v3l, dv.getUint32(p + 20, true), dv.getUint32(p + 16, true));
    this.v3h = H; this.v3l = L;
    round(this.v4h, this.v4l, dv.getUint32(p + 28, true), dv.getUint32(p + 24, true));
    this.v4h = H; this.v4l = L;
  }

  digest(): { hi: number; lo: number } {
    const len = this.total;
    let hh: number, hl: number;
    if (len >= 32) {
      rotl(this.v1h, this.v1l, 1);
      hh = H; hl = L;
      rotl(this.v2h, this.v2l, 7);
      add(hh, hl, H, L);
      hh = H; hl = L;
      rotl(this.v3h, this.v3l, 12);
      add(hh, hl, H, L);
      hh = H; hl = L;
      rotl(this.v4h, this.v4l, 18);
      add(hh, hl, H, L);
      hh = H; hl = L;
      for (const [vh, vl] of [[this.v1h, this.v1l], [this.v2h, this.v2l], [this.v3h, this.v3l], [this.v4h, this.v4l]] as const) {
        round(0, 0, vh, vl);
        hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
        mul(hh, hl, P1H, P1L);
        add(H, L, P4H, P4L);
        hh = H; hl = L;
      }
    } else {
      hh = P5H; hl = P5L;
    }
    add(hh, hl, Math.floor(len / 0x100000000), len >>> 0);
    hh = H; hl = L;
    const data = this.tail;
    const end = this.tailLength;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let p = 0;
    while (p + 8 <= end) {
      round(0, 0, dv.getUint32(p + 4, true), dv.getUint32(p, true));
      hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 27);
      mul(H, L, P1H, P1L);
      add(H, L, P4H, P4L);
      hh = H; hl = L;
      p += 8;
    }
    if (p + 4 <= end) {
      mul(0, dv.getUint32(p, true), P1H, P1L);
      hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 23);
      mul(H, L, P2H, P2L);
      add(H, L, P3H, P3L);
      hh = H; hl = L;
      p += 4;
    }
    while (p < end) {
      mul(0, data[p]!, P5H, P5L);
      hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 11);
      mul(H, L, P1H, P1L);
      hh = H; hl = L;
      p++;
    }
    // avalanche
    hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
    mul(hh, hl, P2H, P2L);
    hh = H; hl = L;
    hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
    hh = (hh ^ (hh >>> 29)) >>> 0;
    mul(hh, hl, P3H, P3L);
    hh = H; hl = L;
    hl = (hl ^ hh) >>> 0; // h ^= h >> 32
    return { hi: hh, lo: hl };
  }
}
