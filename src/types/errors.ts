/**
 * A malformed input: the file, the byte offset where reading went wrong
 * (when there is one) and the reason, in the spirit of Go's debug/elf FormatError.
 */
export class FormatError extends Error {
  readonly file: string;
  readonly offset: number | undefined;
  readonly reason: string;

  constructor(file: string, reason: string, offset?: number) {
    super(offset === undefined ? `${file}: ${reason}` : `${file}: ${reason} at offset ${offset}`);
    this.name = "FormatError";
    this.file = file;
    this.reason = reason;
    this.offset = offset;
  }
}

/** Any failure to read an input, reduced to one line naming the file and the reason. */
export function describeInputError(file: string, err: unknown): string {
  if (err instanceof FormatError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && typeof e.code === "string") {
    const what: Record<string, string> = {
      ENOENT: "no such file",
      EACCES: "permission denied",
      EISDIR: "is a directory",
      ELOOP: "too many levels of symbolic links",
      ENOTDIR: "not a directory",
    };
    return `${file}: ${what[e.code] ?? e.message}`;
  }
  return `${file}: ${err instanceof Error ? err.message : String(err)}`;
}
