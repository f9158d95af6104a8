import type { Compression } from "./compression.js";

/** One `(crc, symbol)` the module was built against, from `__versions` or the extended modversions. */
export interface ModversionEntry {
  crc: number;
  symbol: string;
}

/** One symbol the module exports. */
export interface ExportedSymbol {
  name: string;
  /** CRC from `__crc_<name>`, or null when the module was built without modversions. */
  crc: number | null;
  gplOnly: boolean;
  /** Symbol namespace ("" when none). */
  namespace: string;
}

/** A symbol the module references but does not define. */
export interface UndefinedSymbol {
  name: string;
  weak: boolean;
}

export interface ModinfoEntry {
  key: string;
  value: string;
}

/**
 * The appended module signature (a PKCS#7 message after the module's bytes, then struct
 * module_signature and the marker), as `modinfo` reports it.
 */
export interface ModuleSignature {
  /** The signing certificate issuer's common name (`modinfo -F signer`); "" when not known. */
  signer: string;
  /** The certificate's serial number, or its subject key identifier, as colon-separated upper-case hex (`modinfo -F sig_key`). */
  keyId: string;
  /** The digest algorithm as kmod names it ("sha256", ...; the OID when kmod has no name for it) (`modinfo -F sig_hashalgo`). */
  hashAlgorithm: string;
  /** struct module_signature's id_type (2: PKCS#7, the only kind the kernel accepts); -1 when the struct is cut off. */
  idType: number;
  /** Why the signature cannot be read (the other fields are then ""), or null. */
  invalid: string | null;
}

export type ElfClass = 32 | 64;
export type Endianness = "little" | "big";

/** Everything kabi knows about one module file. Plain data: it can be JSON-encoded and cached. */
export interface ModuleRecord {
  /** The path the module was read from. */
  path: string;
  /** The codec the file was stored with. */
  compression: Compression;
  elfClass: ElfClass;
  endianness: Endianness;
  /** ELF e_machine. */
  machine: number;
  /** Module name: `.modinfo` `name=`, else the file name without `.ko*`. */
  name: string;
  /** Kernel release the module was built for: the first word of vermagic ("" when none). */
  builtFor: string;
  vermagic: string;
  /** `(crc, symbol)` in file order, from `__versions` then the extended format. */
  modversions: ModversionEntry[];
  /** Whether the file carries modversions at all (`__versions` or `__version_ext_*`). */
  hasModversions: boolean;
  exports: ExportedSymbol[];
  undefinedSymbols: UndefinedSymbol[];
  /** `.modinfo` key/values in file order; repeated keys (alias, import_ns, ...) appear repeatedly. */
  modinfo: ModinfoEntry[];
  /** `depends=` split on commas. */
  depends: string[];
  /** `import_ns=` values. */
  importNamespaces: string[];
  /** Whether `~Module signature appended~` ends the file. */
  signed: boolean;
  /** The appended signature when `signed`, else null. */
  signature: ModuleSignature | null;
  /**
   * sh_size of `.gnu.linkonce.this_module`: the size of `struct module` the module was built with.
   * The kernel refuses a module whose size differs from its own (kernel/module/main.c).
   */
  thisModuleSize: number;
}
