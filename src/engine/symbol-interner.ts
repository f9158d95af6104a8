/** Maps symbol names to small dense integers, once, so the hot loops never compare strings. */
export class SymbolInterner {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

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
