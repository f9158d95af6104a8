import { hashRange } from "../symvers/symvers-entries.js";

/** Maps symbol names to small dense integers, once, so the hot loops never compare strings. */
export class SymbolInterner {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** hashRange of each name, made when first asked for (a name is looked up in every kernel's table). */
  private hashes = new Uint32Array(0);
  private hashed = 0;

  /** The id of `name`, allocating one when new. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  /** The id of `name`, or -1 when it was never interned. */
  lookup(name: string): number {
    const id = this.ids.get(name);
    return id === undefined ? -1 : id;
  }

  name(id: number): string {
    return this.names[id];
  }

  /** The symvers-table hash of name(id) (see SymversEntries.getHashed). */
  hash(id: number): number {
    if (id >= this.hashed) {
      if (this.names.length > this.hashes.length) {
        const grown = new Uint32Array(Math.max(1024, this.names.length * 2));
        grown.set(this.hashes);
        this.hashes = grown;
      }
      for (let i = this.hashed; i < this.names.length; i++) this.hashes[i] = hashRange(this.names[i], 0, this.names[i].length);
      this.hashed = this.names.length;
    }
    return this.hashes[id];
  }

  get size(): number {
    return this.names.length;
  }
}

let shared: SymbolInterner | undefined;

/**
 * The process-wide interner `evaluate` uses, so a symvers table resolved to ids once (see
 * resolved-symvers.ts) is reused by later evaluations. It only grows by distinct symbol names.
 */
export function sharedInterner(): SymbolInterner {
  return (shared ??= new SymbolInterner());
}
