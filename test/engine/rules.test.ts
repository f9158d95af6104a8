/**
 * The per-requirement rules (src/engine/rules.ts) that the bitset pass uses on words and the
 * explanation uses on one kernel: the scalar forms are the word forms on one bit.
 */
import { describe, expect, it } from "vitest";
import { ANY_CRC } from "../../src/engine/requirements.js";
import {
  candidateMayProvide,
  candidateMayProvideWord,
  crcAcceptedWord,
  crcAccepts,
  mayStayUnresolved,
  staticSatisfiesWord,
  unresolvedOkWord,
} from "../../src/engine/rules.js";

const bools = [false, true];

describe("rules", () => {
  it("crcAccepts: a provider without CRC always, a name-only requirement unless strict, else the same CRC", () => {
    for (const required of [ANY_CRC, 0x1234, 0xffffffff]) {
      for (const strict of bools) {
        for (const provided of [null, 0x1234, 0xffffffff, 0]) {
          const expected = provided === null || (required === ANY_CRC ? !strict : provided === required);
          expect(crcAccepts(required, strict, provided)).toBe(expected);
        }
      }
    }
  });

  it("the word rules hold kernel by kernel", () => {
    // Four kernels, one per combination of two facts, in bits 0..3.
    const a = 0b1010;
    const b = 0b1100;
    expect(crcAcceptedWord(a, 0, b) >>> 0 & 15).toBe(0b0010);
    expect(unresolvedOkWord(a, b) >>> 0 & 15).toBe(0b1101);
    expect(candidateMayProvideWord(a, b, 0b1111) & 15).toBe(0b1101);
    for (const provided of bools) for (const hidden of bools) expect(mayStayUnresolved(true, provided, hidden)).toBe(!provided || hidden);
    for (const provided of bools) for (const hidden of bools) expect(mayStayUnresolved(false, provided, hidden)).toBe(false);
    for (const provided of bools) for (const standsIn of bools) for (const on of bools) expect(candidateMayProvide(provided, standsIn, on)).toBe(on && (!provided || standsIn));
  });

  it("staticSatisfiesWord: CRC, namespace, GPL-only, weak and strict-only together", () => {
    // Kernel 0: matching provider; 1: provider in a refused namespace; 2: GPL-only, hidden; 3: none.
    const provided = 0b0111;
    const match = 0b0111;
    expect(staticSatisfiesWord(match, 0, 0, 0b0010, 0b0100, provided, false, false) & 15).toBe(0b0001);
    expect(staticSatisfiesWord(match, 0, 0, 0b0010, 0b0100, provided, true, false) & 15).toBe(0b1101);
    // Strict kernels 0 and 1, name-only: a provider with CRC does not do there; strict-only holds off them.
    expect(staticSatisfiesWord(match, 0, 0b0011, 0, 0, provided, false, false) & 15).toBe(0b0100);
    expect(staticSatisfiesWord(match, 0, 0b0011, 0, 0, provided, true, true) & 15).toBe(0b1100);
  });
});
