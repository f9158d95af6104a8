import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { FileError, FormatError } from "../types/errors.js";
import { callVisitor, normalizeMemberPath, VisitorFailure, type PackageInfo, type PackageMember, type PackageVisitor } from "./package-member.js";

/** Where a tar archive sits, for messages: the package file and the part holding it ("data.tar.xz"). */
export interface TarPlace {
  readonly file: string;
  readonly part: string;
}

export interface TarReadOptions {
  readonly maxMemberSize: number;
  /** One line per skipped member (path leaving the package, too large), the read goes on. */
  readonly problems: string[];
}

/**
 * Reads the tar archive `chunks` (the decompressed payload of a deb) with tar-stream, visiting
 * each member as a PackageMember. tar-stream decodes the headers (ustar, GNU, pax; long names
 * and sizes from GNU and pax headers); here each member's path is normalized, a path with a ".."
 * segment or a NUL is a problem line and the member is skipped, a member larger than
 * maxMemberSize is a problem line whose bytes are not read. The whole input is read, past the
 * end-of-archive blocks, so that the decompressor sees (and checks) its stream to the end.
 *
 * Errors: a malformed archive is a FormatError naming the package and `place.part`; an error
 * of the input (a truncated ar member, a corrupt compressed stream) and the visitor's own
 * errors come out as they are.
 */
export async function readTar(chunks: AsyncIterable<Uint8Array>, place: TarPlace, info: PackageInfo, visit: PackageVisitor, options: TarReadOptions): Promise<void> {
  let inputFailure: { error: unknown } | null = null;
  const framing = new LongHeaderGuard(place);
  async function* tracked(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of chunks) {
        framing.check(chunk);
        yield chunk;
      }
    } catch (err) {
      inputFailure = { error: err };
      throw err;
    }
  }
  const source = Readable.from(tracked(), { objectMode: false, highWaterMark: 1 });
  const extract = tarStream.extract();
  source.on("error", (err) => extract.destroy(err));
  source.pipe(extract as unknown as NodeJS.WritableStream);
  let last = "(first member)";
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const stored = header.name;
      const normalized = normalizeMemberPath(stored);
      last = stored;
      let body: Promise<Buffer> | null = null;
      // What bytes() rejects with is the reader's error (a FormatError naming the package, the part
      // and the member), also when the visitor passes it on as its own.
      const readBody = (): Promise<Buffer> =>
        (body ??= collect(entry).catch((err: unknown) => {
          if (err instanceof FileError) throw err;
          throw new FormatError(place.file, `${place.part}: ${JSON.stringify(stored).slice(1, -1)}: ${err instanceof Error ? err.message : String(err)}`);
        }));
      if ("reason" in normalized) {
        options.problems.push(`${place.file}: ${place.part}: ${JSON.stringify(stored).slice(1, -1)}: ${normalized.reason}`);
      } else if (normalized.path !== "") {
        const type = memberType(header.type);
        const size = type === "file" ? (header.size ?? 0) : 0;
        if (type === "file" && size > options.maxMemberSize) {
          options.problems.push(`${place.file}: ${place.part}: ${normalized.path}: member of ${size} bytes, past the limit of ${options.maxMemberSize}: skipped`);
        } else {
          let current = true;
          const member: PackageMember = {
            path: normalized.path,
            type,
            size,
            linkTarget: type === "symlink" || header.type === "link" ? (header.linkname ?? null) : null,
            bytes: () => {
              if (!current) return Promise.reject(new Error(`${normalized.path}: bytes() called after the visit moved on`));
              return type === "file" ? readBody() : Promise.resolve(Buffer.alloc(0));
            },
          };
          try {
            await callVisitor(visit, member, info);
          } catch (err) {
            // A read the visitor started and left: its failure is not what the caller hears about.
            (body as Promise<Buffer> | null)?.catch(() => undefined);
            throw err;
          } finally {
            current = false;
          }
        }
      }
      // Whatever the visitor did not read is read and dropped: tar-stream moves on only when a
      // member's stream has ended (and destroying one would destroy the whole archive).
      if (body !== null) await (body as Promise<Buffer>).catch(() => undefined);
      else await drain(entry);
      if (inputFailure !== null) throw (inputFailure as { error: unknown }).error;
    }
  } catch (err) {
    if (err instanceof VisitorFailure) throw err;
    if (inputFailure !== null && (inputFailure as { error: unknown }).error === err) throw err;
    if (err instanceof FormatError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new FormatError(place.file, `${place.part}: bad tar archive after member ${JSON.stringify(last)}: ${reason}`);
  } finally {
    source.destroy();
  }
  if (inputFailure !== null) throw (inputFailure as { error: unknown }).error;
  // tar-stream accepts an archive that stops between two members; every tar writer ends one with
  // zero blocks, so their absence is a truncation (of a plain data.tar, or of a compressed one cut
  // where a zstd or gzip frame ends).
  if (!framing.sawEnd) throw new FormatError(place.file, `${place.part}: truncated tar archive (no end-of-archive block after member ${JSON.stringify(last)})`);
}

function memberType(type: string | null | undefined): PackageMember["type"] {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
      return "directory";
    case "symlink":
      return "symlink";
    default:
      return "other";
  }
}

async function collect(entry: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of entry) {
    parts.push(c);
    total += c.length;
  }
  return Buffer.concat(parts, total);
}

async function drain(entry: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of entry) {
    // dropped
  }
}

/** The largest pax or GNU long-name header read: real ones are a few hundred bytes. */
export const MAX_LONG_HEADER = 1024 * 1024;

const BLOCK = 512;
const LONG_HEADER_TYPES = new Set(["x", "g", "L", "K"]);

/**
 * tar-stream gathers a pax or GNU long-name header whole before decoding it, taking input for as
 * long as that needs: a header claiming 4 GiB, followed by a compressed run of zeros, would be
 * held in memory as it is decompressed. This follows the archive's 512-byte blocks as tar-stream
 * does (a member's size from its header or its pax "size" record, directories without data) and
 * refuses a long header larger than MAX_LONG_HEADER before tar-stream has buffered it. Only
 * headers with the ustar/GNU magic are trusted, as tar-stream does. It also notes the
 * end-of-archive marker (a zero block where a header is due).
 */
class LongHeaderGuard {
  private header = Buffer.alloc(BLOCK);
  private have = 0;
  /** Bytes of the current member's data and padding still to pass. */
  private skip = 0;
  /** The long header being passed: its type, its size and its body so far (pax bodies are parsed). */
  private long: { type: string; size: number; parts: Buffer[]; got: number } | null = null;
  private paxSize: number | null = null;
  private offset = 0;

  constructor(private readonly place: TarPlace) {}

  check(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    while (i < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - i);
        if (this.long !== null && this.long.got < this.long.size) {
          const keep = Math.min(n, this.long.size - this.long.got);
          this.long.parts.push(Buffer.from(buf.subarray(i, i + keep)));
          this.long.got += keep;
        }
        i += n;
        this.offset += n;
        this.skip -= n;
        if (this.skip === 0 && this.long !== null) this.endLongHeader();
        continue;
      }
      const n = Math.min(BLOCK - this.have, buf.length - i);
      buf.copy(this.header, this.have, i, i + n);
      this.have += n;
      i += n;
      this.offset += n;
      if (this.have === BLOCK) {
        this.have = 0;
        this.onHeader();
      }
    }
  }

  /** Whether a zero block came where a header was due: tar's end-of-archive marker. */
  sawEnd = false;

  private onHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      this.sawEnd = true;
      return;
    }
    const magic = h.toString("latin1", 257, 263);
    if (magic !== "ustar\0" && magic !== "ustar ") return; // end-of-archive zeros, or what tar-stream refuses itself
    const type = String.fromCharCode(h[156]!);
    const size = headerSize(h);
    if (LONG_HEADER_TYPES.has(type)) {
      if (size > MAX_LONG_HEADER) {
        throw new FormatError(this.place.file, `${this.place.part}: tar ${type === "x" || type === "g" ? "pax" : "GNU long-name"} header of ${size} bytes (at most ${MAX_LONG_HEADER} read) at archive offset ${this.offset - BLOCK}`);
      }
      this.long = { type, size, parts: [], got: 0 };
      this.skip = roundUp(size);
      if (this.skip === 0) this.endLongHeader();
      return;
    }
    const effective = this.paxSize ?? size;
    this.paxSize = null;
    this.skip = type === "5" ? 0 : roundUp(effective);
  }

  private endLongHeader(): void {
    const long = this.long!;
    this.long = null;
    if (long.type !== "x") return;
    const body = Buffer.concat(long.parts);
    for (const record of body.toString("utf8").split("\n")) {
      const m = /^\d+ size=(\d+)$/.exec(record);
      if (m) this.paxSize = Number.parseInt(m[1]!, 10);
    }
  }
}

/** A header's size field: octal, or GNU base-256 when its first byte has the high bit set. */
function headerSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    let v = 0;
    for (let k = 125; k < 136; k++) v = v * 256 + h[k]!;
    return h[124] === 0x80 ? v : 0;
  }
  const text = h.toString("latin1", 124, 136).replace(/[\0 ]+$/, "").replace(/^[ \0]+/, "");
  const v = Number.parseInt(text === "" ? "0" : text, 8);
  return Number.isFinite(v) ? v : 0;
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}
