/**
 * One byte-budgeted LRU for everything the store gateway reads by range: postings lists, series entries and
 * runs of chunks. Entries live in a space per block (`space(ulid)`) and are keyed there by kind and a
 * number (a file offset or a series id), so a lookup builds no string: a warm query touches thousands of
 * entries and must not pay for key strings and their hashing. Recency is an intrusive doubly-linked list
 * (a hit moves one node; an insert evicts from the old end), so no operation allocates beyond the entry.
 *
 * Accounting: an entry costs what its caller says its value pins (payload bytes plus typed-array headers)
 * plus a fixed overhead for the node and its map slot, so that `bytes` tracks what the cache holds on the
 * heap. `bytes` never exceeds `maxBytes`: an entry is admitted only after evicting enough older ones, and
 * entries costing more than `maxItemBytes` are never admitted (one huge postings list would otherwise flush
 * everything else).
 */

export type CacheKind = 'postings' | 'series' | 'chunks';

/** Per-entry cost beyond the value: the list node, its map slot. */
export const ENTRY_OVERHEAD = 96;
/** Heap bytes of a typed array's header and its ArrayBuffer, beyond the payload. */
export const TYPED_ARRAY_OVERHEAD = 96;

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped to make room. */
  evictions: number;
  /** Entries refused because they alone exceed `maxItemBytes`. */
  rejected: number;
  /** Bytes currently held (values + overhead). */
  bytes: number;
  /** The highest `bytes` ever reached: never above the budget. */
  peakBytes: number;
  items: number;
}

const KIND_INDEX: Record<CacheKind, number> = { postings: 0, series: 1, chunks: 2 };

class Node {
  prev: Node | null = null;
  next: Node | null = null;
  constructor(
    readonly space: CacheSpace | null,
    readonly kind: number,
    readonly key: number,
    public value: unknown,
    public cost: number,
  ) {}
}

/** The entries of one block. Obtain with `ByteLru.space`; the block keeps it for its lifetime. */
export class CacheSpace {
  /** One map per kind. */
  readonly maps: Map<number, Node>[] = [new Map(), new Map(), new Map()];
  dropped = false;
  constructor(readonly name: string) {}
}

export class ByteLru {
  readonly maxBytes: number;
  readonly maxItemBytes: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, rejected: 0, bytes: 0, peakBytes: 0, items: 0 };
  /** Hits and misses per kind, for metrics and tests. */
  readonly byKind: Record<CacheKind, { hits: number; misses: number }> = {
    postings: { hits: 0, misses: 0 },
    series: { hits: 0, misses: 0 },
    chunks: { hits: 0, misses: 0 },
  };
  private readonly spaces = new Map<string, CacheSpace>();
  /** Sentinel of the recency list: `head.next` is the oldest entry, `head.prev` the youngest. */
  private readonly head = new Node(null, -1, -1, null, 0);

  constructor(maxBytes: number, maxItemBytes = Math.floor(maxBytes / 4)) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`cache size ${maxBytes} must be a non-negative integer of bytes`);
    this.maxBytes = maxBytes;
    this.maxItemBytes = Math.min(maxItemBytes, maxBytes);
    this.head.prev = this.head.next = this.head;
  }

  /** The space of `name` (a block ULID), created on first use. */
  space(name: string): CacheSpace {
    let s = this.spaces.get(name);
    if (s === undefined || s.dropped) this.spaces.set(name, (s = new CacheSpace(name)));
    return s;
  }

  /** The cost of a typed array held as a value: payload plus header. */
  static arrayCost(v: ArrayBufferView): number {
    return v.byteLength + TYPED_ARRAY_OVERHEAD;
  }

  get<T>(space: CacheSpace, kind: CacheKind, key: number): T | undefined {
    const k = KIND_INDEX[kind];
    const n = space.maps[k]!.get(key);
    if (n === undefined) {
      this.stats.misses++;
      this.byKind[kind].misses++;
      return undefined;
    }
    this.unlink(n);
    this.append(n);
    this.stats.hits++;
    this.byKind[kind].hits++;
    return n.value as T;
  }

  /**
   * Stores `value` at an estimated cost of `valueBytes` (see `arrayCost`); the cache then owns it: pass a
   * copy, never a view into a larger fetched buffer (the view would pin the whole buffer while the
   * accounting sees only the view).
   */
  set(space: CacheSpace, kind: CacheKind, key: number, value: unknown, valueBytes: number): void {
    if (space.dropped) return; // the block left the store while its read was in flight
    const map = space.maps[KIND_INDEX[kind]]!;
    const old = map.get(key);
    if (old !== undefined) this.remove(old);
    const cost = valueBytes + ENTRY_OVERHEAD;
    if (cost > this.maxItemBytes) {
      this.stats.rejected++;
      return;
    }
    while (this.stats.bytes + cost > this.maxBytes && this.head.next !== this.head) {
      this.remove(this.head.next!);
      this.stats.evictions++;
    }
    const n = new Node(space, KIND_INDEX[kind], key, value, cost);
    map.set(key, n);
    this.append(n);
    this.stats.bytes += cost;
    this.stats.items++;
    if (this.stats.bytes > this.stats.peakBytes) this.stats.peakBytes = this.stats.bytes;
  }

  /** Drops every entry of `name` (a block that left the store). */
  dropBlock(name: string): void {
    const s = this.spaces.get(name);
    if (s === undefined) return;
    this.spaces.delete(name);
    s.dropped = true;
    for (const m of s.maps) for (const n of [...m.values()]) this.remove(n);
  }

  clear(): void {
    for (const s of this.spaces.values()) {
      s.dropped = true;
      for (const m of s.maps) m.clear();
    }
    this.spaces.clear();
    this.head.prev = this.head.next = this.head;
    this.stats.bytes = 0;
    this.stats.items = 0;
  }

  private remove(n: Node): void {
    n.space!.maps[n.kind]!.delete(n.key);
    this.unlink(n);
    this.stats.bytes -= n.cost;
    this.stats.items--;
  }

  private unlink(n: Node): void {
    n.prev!.next = n.next;
    n.next!.prev = n.prev;
    n.prev = n.next = null;
  }

  private append(n: Node): void {
    const last = this.head.prev!;
    n.prev = last;
    n.next = this.head;
    last.next = n;
    this.head.prev = n;
  }
}
