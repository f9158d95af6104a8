import { fileKey, sameKey, type FileKey } from "../cache/file-key.js";
import type { ModuleRecord } from "../types/module-record.js";

/**
 * Module records read earlier in a run, each tied to the identity of the file it was read from
 * (the record cache's stat key: device, inode, size, mtime), so that a later step takes a record
 * again instead of reading the file twice, but only while the file is still the one it was read
 * from. Made by readModules (ReadManyOptions.known); the key stays inside the load stage.
 */
export class KnownRecords {
  private readonly byPath = new Map<string, { key: FileKey; record: ModuleRecord }>();

  /** Records `record`, read from `path` while it had `key`. */
  add(path: string, key: FileKey, record: ModuleRecord): void {
    this.byPath.set(path, { key, record });
  }

  get size(): number {
    return this.byPath.size;
  }

  /** The paths known, in the order their records were added. */
  paths(): IterableIterator<string> {
    return this.byPath.keys();
  }

  /** The record read from `path`, if the file there is still the one it was read from; else undefined. */
  current(path: string): ModuleRecord | undefined {
    const known = this.byPath.get(path);
    if (known === undefined) return undefined;
    const now = fileKey(path);
    return now !== null && sameKey(now, known.key) ? known.record : undefined;
  }
}
