/**
 * The malformed inputs of fixtures/malformed/ (made by its make.sh from
 * fixtures/modules/6.1.0-53-amd64/kabi_provider.ko), with the reason a reader must give
 * for each, plus inputs that are not files at all.
 */
import { join } from "node:path";
import { MALFORMED } from "./paths.js";

export interface MalformedCase {
  /** What is wrong, for test titles. */
  title: string;
  file: string;
  /** The reason the error must give (matched against the error message). */
  reason: RegExp;
  /** Byte offset the FormatError must report, when the defect has one. */
  offset?: number;
  /** Not a FormatError but a file-system error with this errno code. */
  code?: string;
}

const m = (name: string) => join(MALFORMED, name);

// Offsets: the provider's section header table starts at 0x18a0 (6304), __versions is section 25
// (header at 6304 + 25 * 64 = 7904) with its data at 0x380 (896); `readelf -S -W` shows them.
export const ELF_CASES: MalformedCase[] = [
  { title: "not ELF", file: m("not-elf.ko"), reason: /not an ELF file/ },
  { title: "empty file", file: m("empty.ko"), reason: /not an ELF file$/ },
  { title: "truncated header", file: m("truncated-header.ko"), reason: /truncated ELF header/, offset: 40 },
  { title: "wrong class byte", file: m("bad-class.ko"), reason: /unknown ELF class 3/, offset: 4 },
  { title: "section table past end of file", file: m("shtab-past-eof.ko"), reason: /truncated section table/, offset: 6304 },
  { title: "section data past end of file", file: m("section-past-eof.ko"), reason: /section 25 data past end of file/, offset: 7904 },
  { title: "__versions size not a multiple of 64", file: m("versions-size-63.ko"), reason: /__versions size 447 is not a multiple of 64/, offset: 896 },
  { title: "__versions name without NUL", file: m("versions-name-no-nul.ko"), reason: /__versions entry 1 has a name without NUL terminator/, offset: 896 + 64 + 8 },
];

export const STREAM_CASES: MalformedCase[] = [
  { title: "corrupt xz stream", file: m("corrupt.ko.xz"), reason: /corrupt xz stream/ },
  { title: "truncated xz stream", file: m("truncated.ko.xz"), reason: /corrupt xz stream/ },
  { title: "corrupt zstd stream", file: m("corrupt.ko.zst"), reason: /corrupt zstd stream/ },
  { title: "truncated zstd stream", file: m("truncated.ko.zst"), reason: /corrupt zstd stream/ },
  { title: "zstd stream with a wrong content checksum", file: m("bad-checksum.ko.zst"), reason: /corrupt zstd stream.*checksum/i },
  { title: "corrupt gzip stream", file: m("corrupt.ko.gz"), reason: /corrupt gzip stream/ },
  { title: "truncated gzip stream", file: m("truncated.ko.gz"), reason: /corrupt gzip stream/ },
  { title: "xz bomb (300 MiB of zeros)", file: m("bomb.ko.xz"), reason: /exceeds the limit of 268435456 bytes/ },
  { title: "zstd bomb (300 MiB of zeros)", file: m("bomb.ko.zst"), reason: /exceeds the limit of 268435456 bytes/ },
];

export const FILESYSTEM_CASES: MalformedCase[] = [
  { title: "missing file", file: m("does-not-exist.ko"), reason: /no such file/, code: "ENOENT" },
  { title: "a directory", file: MALFORMED, reason: /is a directory/, code: "EISDIR" },
];
