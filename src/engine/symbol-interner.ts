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
