import type { SymversEntry } from "./symvers-table.js";

/** Per entry, in `fields`: symbol start and end, namespace start and end. */
export const FIELDS_PER_ENTRY = 4;

/** FNV-1a over the UTF-16 code units of text[start, end). */
export function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The entries of one symvers file, read in place from its text: a file lists ~25,000 symbols and
 * an evaluation looks up a few thousand of them, so the parser only records where each field is
 * (no string or object per line) and an entry object is made on its first lookup.
 * Keyed by symbol name in file order, the first listing of a name winning, as a Map built by
 * inserting the lines in order would be.
 */
export class SymversEntries implements ReadonlyMap<string, SymversEntry> {
  private count = 0;
  /** FIELDS_PER_ENTRY offsets per entry (namespace start -1: no namespace). */
  private fields: Int32Array;
  private crcs: Uint32Array;
  private readonly exportTypes: string[] = [];
  /** Entry objects made so far, by index (sized when first needed: lookups follow the parse). */
  private made: (SymversEntry | undefined)[] = [];
  /** Open addressing: entry index + 1 per slot, 0 when free; at most half full. */
  private slots: Int32Array;
  /** Module column of each entry, as an index into `moduleNames`. */
  private moduleIds: Int32Array;
  private readonly moduleNames: string[] = [];
  private readonly moduleIdOf = new Map<string, number>();
  private lastModuleId = -1;

  /** @param expected about how many entries will be added (the arrays grow past it) */
  constructor(
    private readonly text: string,
    expected = 0,
  ) {
    const capacity = Math.max(16, expected);
    this.fields = new Int32Array(capacity * FIELDS_PER_ENTRY);
    this.crcs = new Uint32Array(capacity);
    this.moduleIds = new Int32Array(capacity);
    this.slots = new Int32Array(slotCountFor(capacity));
  }

  get size(): number {
    return this.count;
  }

  /**
   * Files the line whose symbol is text[symStart, symEnd) (namespace start -1: none) unless that
   * symbol is already listed; returns whether it was added. No substring is made.
   */
  add(symStart: number, symEnd: number, moduleStart: number, moduleEnd: number, nsStart: number, nsEnd: number, crc: number, exportType: string): boolean {
    const text = this.text;
    let fields = this.fields;
    const mask = this.slots.length - 1;
    const len = symEnd - symStart;
    let s = hashRange(text, symStart, symEnd) & mask;
    for (; ; s = (s + 1) & mask) {
      const slot = this.slots[s];
      if (slot === 0) break;
      const o = (slot - 1) * FIELDS_PER_ENTRY;
      if (fields[o + 1] - fields[o] === len && sameRange(text, fields[o], symStart, len)) return false;
    }
    const i = this.count++;
    if (i === this.crcs.length) {
      fields = this.fields = grown(fields, fields.length * 2);
      this.crcs = grown(this.crcs, this.crcs.length * 2);
      this.moduleIds = grown(this.moduleIds, this.moduleIds.length * 2);
    }
    const o = i * FIELDS_PER_ENTRY;
    fields[o] = symStart;
    fields[o + 1] = symEnd;
    fields[o + 2] = nsStart;
    fields[o + 3] = nsEnd;
    this.crcs[i] = crc;
    this.moduleIds[i] = this.moduleId(moduleStart, moduleEnd);
    this.exportTypes.push(exportType);
    this.slots[s] = i + 1;
    if (this.count * 2 > this.slots.length) this.rehash();
    return true;
  }

  /** The id of the module name text[start, end); symvers lists a module's symbols together (since 5.19). */
  private moduleId(start: number, end: number): number {
    const last = this.lastModuleId;
    if (last >= 0) {
      const name = this.moduleNames[last];
      if (name.length === end - start && this.text.startsWith(name, start)) return last;
    }
    const name = this.text.slice(start, end);
    let id = this.moduleIdOf.get(name);
    if (id === undefined) {
      id = this.moduleNames.length;
      this.moduleNames.push(name);
      this.moduleIdOf.set(name, id);
    }
    return (this.lastModuleId = id);
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.count; i++) {
      const o = i * FIELDS_PER_ENTRY;
      let s = hashRange(this.text, this.fields[o], this.fields[o + 1]) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
  }

  /** Index of the entry of `name`, or -1; `hash` is hashRange(name, 0, name.length). */
  private find(name: string, hash: number): number {
    const text = this.text;
    const fields = this.fields;
    const mask = this.slots.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s];
      if (slot === 0) return -1;
      const o = (slot - 1) * FIELDS_PER_ENTRY;
      if (fields[o + 1] - fields[o] === name.length && text.startsWith(name, fields[o])) return slot - 1;
    }
  }

  /** Entry i, made on first use (`name`: its symbol, when the caller holds it already). */
  private entry(i: number, name?: string): SymversEntry {
    if (i >= this.made.length) {
      const made = new Array<SymversEntry | undefined>(this.count);
      for (let j = 0; j < this.made.length; j++) made[j] = this.made[j];
      this.made = made;
    }
    let e = this.made[i];
    if (e === undefined) {
      const text = this.text;
      const o = i * FIELDS_PER_ENTRY;
      const f = this.fields;
      e = this.made[i] = {
        symbol: name ?? text.slice(f[o], f[o + 1]),
        crc: this.crcs[i],
        module: this.moduleNames[this.moduleIds[i]],
        exportType: this.exportTypes[i],
        namespace: f[o + 2] < 0 ? "" : text.slice(f[o + 2], f[o + 3]),
      };
    }
    return e;
  }

  get(name: string): SymversEntry | undefined {
    return this.getHashed(name, hashRange(name, 0, name.length));
  }

  /** `get`, for a caller that keeps each name's hashRange (looking the same name up in many tables). */
  getHashed(name: string, hash: number): SymversEntry | undefined {
    const i = this.find(name, hash);
    return i < 0 ? undefined : this.entry(i, name);
  }

  has(name: string): boolean {
    return this.find(name, hashRange(name, 0, name.length)) >= 0;
  }

  *entries(): MapIterator<[string, SymversEntry]> {
    for (let i = 0; i < this.count; i++) {
      const e = this.entry(i);
      yield [e.symbol, e];
    }
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i < this.count; i++) yield this.entry(i).symbol;
  }

  *values(): MapIterator<SymversEntry> {
    for (let i = 0; i < this.count; i++) yield this.entry(i);
  }

  [Symbol.iterator](): MapIterator<[string, SymversEntry]> {
    return this.entries();
  }

  forEach(callback: (value: SymversEntry, key: string, map: ReadonlyMap<string, SymversEntry>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.count; i++) {
      const e = this.entry(i);
      callback.call(thisArg, e, e.symbol, this);
    }
  }
}

function sameRange(text: string, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (text.charCodeAt(a + i) !== text.charCodeAt(b + i)) return false;
  return true;
}

function slotCountFor(entries: number): number {
  let n = 1024;
  while (n < entries * 2) n *= 2;
  return n;
}

function grown<T extends Int32Array | Uint32Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
