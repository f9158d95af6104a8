/**
 * An input that could not be used: the file, the reason and, when reading went wrong at a known
 * place, the byte offset. The message is the one line every command prints for it (after its
 * own prefix): "FILE: REASON" or "FILE: REASON at offset N".
 */
export class FileError extends Error {
  readonly file: string;
  readonly reason: string;
  readonly offset: number | undefined;
  /** The system error code (ENOENT, EACCES, ...) when the reason is an I/O failure. */
  readonly code: string | undefined;

  constructor(file: string, reason: string, offset?: number, code?: string) {
    super(offset === undefined ? `${file}: ${reason}` : `${file}: ${reason} at offset ${offset}`);
    this.name = "FileError";
    this.file = file;
    this.reason = reason;
    this.offset = offset;
    this.code = code;
  }
}

/**
 * A malformed input: the file, the byte offset where reading went wrong
 * (when there is one) and the reason, in the spirit of Go's debug/elf FormatError.
 */
export class FormatError extends FileError {
  constructor(file: string, reason: string, offset?: number) {
    super(file, reason, offset);
    this.name = "FormatError";
  }
}

/** The reasons printed for the system errors an input commonly meets; others keep Node's message. */
const IO_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ELOOP: "too many levels of symbolic links",
  ENOTDIR: "not a directory",
  // What opening a socket, or a device without a driver, answers: no bytes to read there either.
  ENXIO: "not a regular file",
  ENODEV: "not a regular file",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
};

/** Any failure to read `file` as a FileError (a FileError thrown for that read is kept as it is). */
export function toFileError(file: string, err: unknown): FileError {
  if (err instanceof FileError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && typeof e.code === "string") return new FileError(file, IO_REASONS[e.code] ?? e.message, undefined, e.code);
  return new FileError(file, err instanceof Error ? err.message : String(err));
}

/** Any failure to read an input, reduced to one line naming the file and the reason. */
export function describeInputError(file: string, err: unknown): string {
  return toFileError(file, err).message;
}
