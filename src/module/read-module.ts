import { FormatError } from "../types/errors.js";
import { BufferSource, type ByteSource } from "../elf/byte-source.js";
import { BlockFileSource } from "../elf/block-source.js";
import { ET_REL, ElfFile } from "../elf/elf-file.js";
import { readRecordSymbols, STB_WEAK, type ElfSymbol } from "../elf/symbol-table.js";
import { SHN_UNDEF } from "../elf/elf-file.js";
import { DecodeError, detectCodec, MAGIC_LENGTH, singleChunk } from "../types/compression.js";
import { loadCodec } from "../decompress/codec-table.js";
import { readExports } from "./exports.js";
import { modinfoValue, modinfoValues, readModinfo } from "./modinfo.js";
import { moduleNameFromFile } from "../root/module-file.js";
import { readModversions } from "./modversions.js";
import { readSignature, SIGNATURE_MARKER } from "./signature.js";
import type { ModuleRecord, UndefinedSymbol } from "../types/module-record.js";

/** No real module decompresses to more than a few tens of MiB; past this it is a bomb. */
export const DEFAULT_MAX_MODULE_SIZE = 256 * 1024 * 1024;

export interface ReadModuleOptions {
  maxDecompressedSize?: number;
  /** Use the native-free codecs regardless of KABI_NO_NATIVE. */
  forceFallback?: boolean;
}


/** An opened module: its ELF view, how it was stored, and the source to close. */
export interface OpenedModule {
  elf: ElfFile;
  compression: ModuleRecord["compression"];
  source: ByteSource;
}

/**
 * Opens a module file with a single open. A plain ELF is read in place with positioned reads in
 * 64 KiB blocks (BlockFileSource). A compressed one (recognized by its magic bytes, whatever its
 * name) within the size limit is read whole through the same descriptor and handed to its codec
 * as one chunk, which is cheaper than a read stream per file (bench/results.md). A compressed file larger than the limit is read in pieces instead, so the codec
 * refuses it without the file being held.
 */
export async function openModule(path: string, options: ReadModuleOptions = {}): Promise<OpenedModule> {
  const max = options.maxDecompressedSize ?? DEFAULT_MAX_MODULE_SIZE;
  const file = BlockFileSource.open(path);
  let source: ByteSource = file;
  try {
    const codecName = detectCodec(file.read(0, Math.min(MAGIC_LENGTH, file.size)));
    if (codecName === null) return { elf: kernelModule(ElfFile.parse(path, file)), compression: "none", source: file };
    // Streamed through the descriptor already open (and checked to be a regular file), not
    // opened again by name.
    const input = file.size <= max ? singleChunk(file.read(0, file.size)) : file.pieces();
    const codec = await loadCodec(codecName, options.forceFallback);
    let bytes: Buffer;
    try {
      bytes = await codec.decompress(input, max);
    } catch (err) {
      // Whatever a decoder throws is about this file's bytes: one line, never a stack trace.
      throw new FormatError(path, err instanceof DecodeError ? err.message : `corrupt ${codecName} stream (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      file.close();
    }
    source = new BufferSource(bytes);
    return { elf: kernelModule(ElfFile.parse(path, source)), compression: codecName, source };
  } catch (err) {
    source.close();
    file.close();
    throw err;
  }
}

/**
 * `elf` when it is a kernel module, as the kernel's loader (elf_validity_cache_copy) tells one:
 * a relocatable object with a `.gnu.linkonce.this_module` section (the struct module the loader
 * fills in). Any other ELF file, an executable or a shared library, would otherwise read as a
 * module that needs nothing.
 */
function kernelModule(elf: ElfFile): ElfFile {
  if (elf.type !== ET_REL) throw new FormatError(elf.file, `not a kernel module (ELF type ${elf.type}, a module is relocatable, type ${ET_REL})`, 16);
  if (elf.section(".gnu.linkonce.this_module") === undefined) throw new FormatError(elf.file, "not a kernel module (no .gnu.linkonce.this_module section)");
  return elf;
}

/**
 * The record of a module held in memory (a package member): `path` names it in records and
 * errors. Recognized, decompressed and checked as openModule does a file: by its magic bytes,
 * within the same size limit, a kernel module or a FormatError naming `path`. The bytes are not
 * kept by the record.
 */
export async function readModuleBytes(path: string, bytes: Buffer, options: ReadModuleOptions = {}): Promise<ModuleRecord> {
  const max = options.maxDecompressedSize ?? DEFAULT_MAX_MODULE_SIZE;
  const codecName = detectCodec(bytes.subarray(0, MAGIC_LENGTH));
  let data = bytes;
  if (codecName !== null) {
    const codec = await loadCodec(codecName, options.forceFallback);
    try {
      data = await codec.decompress(singleChunk(bytes), max);
    } catch (err) {
      throw new FormatError(path, err instanceof DecodeError ? err.message : `corrupt ${codecName} stream (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  const source = new BufferSource(data);
  try {
    return buildRecord(path, { elf: kernelModule(ElfFile.parse(path, source)), compression: codecName ?? "none", source });
  } finally {
    source.close();
  }
}

export async function readModule(path: string, options: ReadModuleOptions = {}): Promise<ModuleRecord> {
  const opened = await openModule(path, options);
  try {
    return buildRecord(path, opened);
  } finally {
    opened.source.close();
  }
}

export function buildRecord(path: string, { elf, compression, source }: OpenedModule): ModuleRecord {
  const symbols = readRecordSymbols(elf);
  const modversions = readModversions(elf);
  const modinfo = readModinfo(elf);
  const vermagic = modinfoValue(modinfo, "vermagic") ?? "";
  const depends = modinfoValue(modinfo, "depends") ?? "";
  return {
    path,
    compression,
    elfClass: elf.layout.elfClass,
    endianness: elf.layout.endianness,
    machine: elf.machine,
    name: modinfoValue(modinfo, "name") ?? moduleNameFromFile(path),
    builtFor: vermagic.trim().split(/\s+/)[0] ?? "",
    vermagic,
    modversions: modversions.entries,
    hasModversions: modversions.present,
    exports: readExports(elf, symbols),
    undefinedSymbols: undefinedSymbols(symbols),
    modinfo,
    depends: depends === "" ? [] : depends.split(","),
    importNamespaces: modinfoValues(modinfo, "import_ns"),
    signed: isSigned(source),
    signature: readSignature(source),
    // kernelModule checked that the section exists.
    thisModuleSize: elf.section(".gnu.linkonce.this_module")!.size,
  };
}

function undefinedSymbols(symbols: readonly ElfSymbol[]): UndefinedSymbol[] {
  const out: UndefinedSymbol[] = [];
  for (const s of symbols) {
    if (s.sectionIndex !== SHN_UNDEF || s.name === "") continue;
    out.push({ name: s.name, weak: s.bind === STB_WEAK });
  }
  return out;
}

function isSigned(source: ByteSource): boolean {
  if (source.size < SIGNATURE_MARKER.length) return false;
  return source.read(source.size - SIGNATURE_MARKER.length, SIGNATURE_MARKER.length).equals(SIGNATURE_MARKER);
}
