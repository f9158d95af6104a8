/**
 * XXH64 (seed 0) in plain JavaScript, for the zstd frame content checksum (its low 32 bits),
 * which fzstd does not verify. 64-bit words are (hi, lo) pairs of uint32; the last result of
 * each helper lands in H/L, avoiding allocation in the hot loop.
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
  const len = data.length;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let p = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    add(P1H, P1L, P2H, P2L);
    let v1h = H, v1l = L;
    let v2h = P2H, v2l = P2L;
    let v3h = 0, v3l = 0;
    // 0 - P1 (P1's low word is not 0, so the high word is ~P1H with no carry in)
    let v4h = ~P1H >>> 0, v4l = (0x100000000 - P1L) >>> 0;
    const limit = len - 32;
    while (p <= limit) {
      round(v1h, v1l, dv.getUint32(p + 4, true), dv.getUint32(p, true));
      v1h = H; v1l = L;
      round(v2h, v2l, dv.getUint32(p + 12, true), dv.getUint32(p + 8, true));
      v2h = H; v2l = L;
      round(v3h, v3l, dv.getUint32(p + 20, true), dv.getUint32(p + 16, true));
      v3h = H; v3l = L;
      round(v4h, v4l, dv.getUint32(p + 28, true), dv.getUint32(p + 24, true));
      v4h = H; v4l = L;
      p += 32;
    }
    rotl(v1h, v1l, 1);
    hh = H; hl = L;
    rotl(v2h, v2l, 7);
    add(hh, hl, H, L);
    hh = H; hl = L;
    rotl(v3h, v3l, 12);
    add(hh, hl, H, L);
    hh = H; hl = L;
    rotl(v4h, v4l, 18);
    add(hh, hl, H, L);
    hh = H; hl = L;
    for (const [vh, vl] of [[v1h, v1l], [v2h, v2l], [v3h, v3l], [v4h, v4l]] as const) {
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
  while (p + 8 <= len) {
    round(0, 0, dv.getUint32(p + 4, true), dv.getUint32(p, true));
    hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
    rotl(hh, hl, 27);
    mul(H, L, P1H, P1L);
    add(H, L, P4H, P4L);
    hh = H; hl = L;
    p += 8;
  }
  if (p + 4 <= len) {
    mul(0, dv.getUint32(p, true), P1H, P1L);
    hh = (hh ^ H) >>> 0; hl = (hl ^ L) >>> 0;
    rotl(hh, hl, 23);
    mul(H, L, P2H, P2L);
    add(H, L, P3H, P3L);
    hh = H; hl = L;
    p += 4;
  }
  while (p < len) {
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
