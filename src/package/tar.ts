import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { FormatError } from "../types/errors.js";
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
  async function* tracked(): AsyncGenerator<Uint8Array> {
    try {
      yield* chunks;
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
      const readBody = (): Promise<Buffer> => (body ??= collect(entry));
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
