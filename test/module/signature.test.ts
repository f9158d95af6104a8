/**
 * The appended module signature: real Debian modules (plain .ko of 6.1, .ko.xz of 6.12) read as
 * kmod's modinfo reports them (signer, sig_key, sig_hashalgo: an independent reader, built on
 * OpenSSL), the unsigned fixtures as null, and malformed trailers as one reason each.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource } from "../../src/elf/byte-source.js";
import { readModule, readModuleBytes } from "../../src/module/read-module.js";
import { mostCommonKeyId, readSignature, SIGNATURE_MARKER } from "../../src/module/signature.js";
import { caseModules, corpusCases, spread } from "../helpers/corpus.js";
import { fixtureModules } from "../helpers/paths.js";
import { commandPresent, requireUnderCi } from "../helpers/required.js";

function modinfoField(file: string, field: string): string {
  return execFileSync("modinfo", ["-F", field, file], { encoding: "utf8" }).replace(/\s+/g, "");
}

describe("module signatures", () => {
  for (const id of ["amd64-6.1", "amd64-6.12"]) {
    it(`${id}: signer, key id and hash algorithm equal modinfo's on a spread of the tree`, async (ctx) => {
      const c = corpusCases().find((k) => k.id === id);
      requireUnderCi(c !== undefined, `the corpus case ${id} (bench/corpus.sh)`, () => ctx.skip());
      requireUnderCi(commandPresent("modinfo", ["--version"]), "kmod's modinfo", () => ctx.skip());
      const files = spread(caseModules(c!), 40);
      expect(files.length).toBe(40);
      for (const file of files) {
        const r = await readModule(file);
        // modinfo wraps a long sig_key over lines with tabs: compared without white space.
        const expected = { signer: modinfoField(file, "signer"), keyId: modinfoField(file, "sig_key"), hashAlgorithm: modinfoField(file, "sig_hashalgo") };
        expect(expected.keyId, file).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2})+$/);
        expect(r.signature, file).not.toBeNull();
        const s = r.signature!;
        expect({ signer: s.signer.replace(/\s+/g, ""), keyId: s.keyId, hashAlgorithm: s.hashAlgorithm }, file).toEqual(expected);
        expect(s.idType).toBe(2);
        expect(s.invalid).toBeNull();
      }
    });
  }

  it("the unsigned fixtures (kbuild builds without a key) have no signature", async () => {
    const files = fixtureModules();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const r = await readModule(file);
      expect(r.signed, file).toBe(false);
      expect(r.signature, file).toBeNull();
    }
  });

  describe("malformed trailers: one reason each, the record kept", () => {
    const base = readFileSync(fixtureModules()[0]!);
    /** The fixture with a struct module_signature of `idType` and `sigLen` and `sig` before the marker. */
    function signedWith(sig: Buffer, idType: number, sigLen: number): Buffer {
      const info = Buffer.alloc(12);
      info[2] = idType;
      info.writeUInt32BE(sigLen, 8);
      return Buffer.concat([base, sig, info, SIGNATURE_MARKER]);
    }
    const cases: [string, Buffer, RegExp][] = [
      ["marker alone, struct cut off", Buffer.concat([Buffer.alloc(4), SIGNATURE_MARKER]), /no room for struct module_signature/],
      ["sig_len past the start of the file", signedWith(Buffer.alloc(0), 2, 0x7fffffff), /sig_len 2147483647 .* past the start of the file/],
      ["not PKCS#7", signedWith(Buffer.alloc(16), 1, 16), /id_type 1 .* is not PKCS#7/],
      ["PKCS#7 that does not parse", signedWith(Buffer.from("not DER at all!!"), 2, 16), /PKCS#7 signature at offset \d+ \(16 bytes\) does not parse/],
    ];
    for (const [name, bytes, reason] of cases) {
      it(name, async () => {
        const s = readSignature(new BufferSource(bytes));
        expect(s).not.toBeNull();
        expect(s!.invalid).toMatch(reason);
        expect([s!.signer, s!.keyId, s!.hashAlgorithm]).toEqual(["", "", ""]);
        if (name !== "marker alone, struct cut off") {
          const r = await readModuleBytes("/m/x.ko", bytes);
          expect(r.signed).toBe(true);
          expect(r.signature).toEqual(s);
        }
      });
    }

    it("a real signature cut short: a reason, not an exception", async (ctx) => {
      const c = corpusCases().find((k) => k.id === "amd64-6.1");
      requireUnderCi(c !== undefined, "the corpus case amd64-6.1 (bench/corpus.sh)", () => ctx.skip());
      const real = readFileSync(caseModules(c!)[0]!);
      const tail = real.length - SIGNATURE_MARKER.length - 12;
      const sigLen = real.readUInt32BE(tail + 8);
      // The DER message with its last 20 bytes dropped, the struct's sig_len fixed up to match.
      const der = real.subarray(tail - sigLen, tail - 20);
      const info = Buffer.from(real.subarray(tail, tail + 12));
      info.writeUInt32BE(der.length, 8);
      const cut = Buffer.concat([real.subarray(0, tail - sigLen), der, info, SIGNATURE_MARKER]);
      const r = await readModuleBytes("/m/cut.ko", cut);
      expect(r.signature!.invalid).toMatch(/does not parse/);
    });
  });

  it("mostCommonKeyId: the key most valid signatures rest on, the first on a tie; none without a valid one", () => {
    const sig = (keyId: string, invalid: string | null = null) => ({ signer: "s", keyId, hashAlgorithm: "sha256", idType: 2, invalid });
    expect(mostCommonKeyId([sig("A"), sig("B"), sig("B"), null, sig("A", "cut"), sig("A", "cut")])).toBe("B");
    expect(mostCommonKeyId([sig("A"), sig("B")])).toBe("A");
    expect(mostCommonKeyId([null, sig("A", "cut")])).toBeUndefined();
  });
});
