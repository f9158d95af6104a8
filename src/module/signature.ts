import { AsnConvert } from "@peculiar/asn1-schema";
import { ContentInfo, SignedData, id_signedData } from "@peculiar/asn1-cms";
import type { ByteSource } from "../elf/byte-source.js";
import type { ModuleSignature } from "../types/module-record.js";

/** The marker that ends a signed module (include/linux/module_signature.h MODULE_SIG_STRING). */
export const SIGNATURE_MARKER = Buffer.from("~Module signature appended~\n");

/**
 * struct module_signature (include/linux/module_signature.h): algo, hash, id_type, signer_len,
 * key_id_len (u8 each), __pad[3], sig_len (big-endian u32); it sits right before the marker and
 * right after the signature's sig_len bytes.
 */
const MODULE_SIGNATURE_SIZE = 12;
/** id_type of a PKCS#7 signature, the only kind the kernel checks (mod_check_sig: others are -ENOPKG). */
export const PKEY_ID_PKCS7 = 2;

/**
 * Hash algorithms by digest OID, named as kmod names them (libkmod-signature.c pkey_hash_algo,
 * which `modinfo -F sig_hashalgo` prints).
 */
const HASH_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.113549.2.4": "md4",
  "1.2.840.113549.2.5": "md5",
  "1.3.14.3.2.26": "sha1",
  "1.3.36.3.2.1": "rmd160",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "1.2.156.10197.1.401": "sm3",
  "2.16.840.1.101.3.4.2.8": "sha3-256",
  "2.16.840.1.101.3.4.2.9": "sha3-384",
  "2.16.840.1.101.3.4.2.10": "sha3-512",
};

const COMMON_NAME = "2.5.4.3";

/**
 * The appended signature of a module's (decompressed) bytes, or null when the bytes do not end in
 * the marker. A signature that cannot be read (cut, a sig_len past the start of the file, not
 * PKCS#7, DER that does not parse) is still returned, with empty fields and `invalid` saying why:
 * the rest of the record stays usable and the reason reaches the user, where an exception would
 * lose the whole module. The kernel refuses such a module on a kernel that enforces signatures
 * (mod_verify_sig), so a reason is what the audit needs, not a guess.
 */
export function readSignature(source: ByteSource): ModuleSignature | null {
  const size = source.size;
  const marker = SIGNATURE_MARKER.length;
  if (size < marker || !source.read(size - marker, marker).equals(SIGNATURE_MARKER)) return null;
  const invalid = (idType: number, reason: string): ModuleSignature => ({ signer: "", keyId: "", hashAlgorithm: "", idType, invalid: reason });
  const infoAt = size - marker - MODULE_SIGNATURE_SIZE;
  if (infoAt < 0) return invalid(-1, `signature marker at offset ${size - marker} with no room for struct module_signature (${MODULE_SIGNATURE_SIZE} bytes) before it`);
  const info = source.read(infoAt, MODULE_SIGNATURE_SIZE);
  const idType = info[2]!;
  const sigLen = info.readUInt32BE(8);
  // In mod_check_sig's order (kernel/module_signature.c): the length, the kind, then the fields
  // PKCS#7 leaves at zero.
  if (sigLen >= infoAt) return invalid(idType, `signature sig_len ${sigLen} at offset ${infoAt + 8} reaches past the start of the file (${infoAt} bytes precede struct module_signature)`);
  if (idType !== PKEY_ID_PKCS7) return invalid(idType, `signature id_type ${idType} at offset ${infoAt + 2} is not PKCS#7 (${PKEY_ID_PKCS7}), the only kind the kernel accepts`);
  if (info[0] !== 0 || info[1] !== 0 || info[3] !== 0 || info[4] !== 0 || info[5] !== 0 || info[6] !== 0 || info[7] !== 0) {
    // mod_check_sig: a PKCS#7 signature keeps its signer, key and algorithms inside the message.
    return invalid(idType, `struct module_signature at offset ${infoAt} has non-zero algo/hash/signer_len/key_id_len/pad fields for a PKCS#7 signature`);
  }
  if (sigLen === 0) return invalid(idType, `signature at offset ${infoAt} has sig_len 0`);
  const sigAt = infoAt - sigLen;
  const der = source.read(sigAt, sigLen);
  try {
    return { ...parsePkcs7(der), idType, invalid: null };
  } catch (err) {
    return invalid(idType, `PKCS#7 signature at offset ${sigAt} (${sigLen} bytes) does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Signer, key id and hash algorithm of the first SignerInfo, as kmod reports them. */
function parsePkcs7(der: Buffer): { signer: string; keyId: string; hashAlgorithm: string } {
  // A copy: the ASN.1 reader wants an ArrayBuffer of its own, not a view into a pooled buffer.
  const bytes = new Uint8Array(der).buffer;
  const content = AsnConvert.parse(bytes, ContentInfo);
  if (content.contentType !== id_signedData) throw new Error(`content type ${content.contentType} is not signedData (${id_signedData})`);
  const signed = AsnConvert.parse(content.content, SignedData);
  const first = signed.signerInfos[0];
  if (first === undefined) throw new Error("no SignerInfo");
  const oid = first.digestAlgorithm.algorithm;
  const hashAlgorithm = HASH_NAMES[oid] ?? oid;
  const byIssuer = first.sid.issuerAndSerialNumber;
  if (byIssuer !== undefined) {
    let signer = "";
    for (const rdn of byIssuer.issuer) for (const atv of rdn) if (atv.type === COMMON_NAME) signer = atv.value.toString();
    // kmod prints the serial as a number (ASN1_INTEGER_to_BN, BN_bn2bin): no leading zero bytes.
    return { signer, keyId: colonHex(stripLeadingZeros(new Uint8Array(byIssuer.serialNumber))), hashAlgorithm };
  }
  const skid = first.sid.subjectKeyIdentifier;
  if (skid !== undefined) return { signer: "", keyId: colonHex(new Uint8Array(skid.buffer, skid.byteOffset, skid.byteLength)), hashAlgorithm };
  throw new Error("SignerInfo names its signer neither by issuer and serial number nor by subject key identifier");
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** Upper-case hex bytes joined by colons, as modinfo prints sig_key. */
export function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}

/**
 * The key id most of `signatures` rest on (valid ones only; the first seen on a tie), or undefined
 * when none is valid: a kernel build's key, told from its own modules (a distribution signs every
 * module of a build with that build's key, so one module re-signed by the user is outvoted).
 */
export function mostCommonKeyId(signatures: Iterable<ModuleSignature | null>): string | undefined {
  const counts = new Map<string, number>();
  for (const sig of signatures) if (sig !== null && sig.invalid === null) counts.set(sig.keyId, (counts.get(sig.keyId) ?? 0) + 1);
  let best: string | undefined;
  for (const [key, n] of counts) if (best === undefined || n > counts.get(best)!) best = key;
  return best;
}
