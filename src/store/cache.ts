/**
 * One byte-budgeted LRU for everything the store gateway reads by range: postings lists, series entries and
 * chunks. Keys name the block, the kind and the offset in the object (`<ulid>/p/<offset>`), so entries of a
 * block that disappears simply age out.
 *
 * Accounting: an entry costs its value's bytes plus its key's characters plus a fixed overhead for the map
 * slot and the typed-array header, so that `bytes` tracks what the cache pins on the heap, not only the
 * payload. `bytes` never exceeds `maxBytes`: an entry is admitted only after evicting enough older ones, and
 * entries bigger than `maxItemBytes` are never admitted (one huge postings list would otherwise flush
 * everything else).
 */

export type CacheKind = 'postings' | 'series' | 'chunks';

/** Per-entry cost beyond the payload: Map slot, key string header and the typed array object. */
const ENTRY_OVERHEAD = 96;

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped to make room. */
  evictions: number;
  /** Entries refused because they alone exceed `maxItemBytes`. */
  rejected: number;
  /** Bytes currently held (payload + keys + overhead). */
  bytes: number;
  /** The highest `bytes` ever reached: never above the budget. */
  peakBytes: number;
  items: number;
}

export type CacheValue = Uint8Array | Uint32Array;

export class ByteLru {
  readonly maxBytes: number;
  readonly maxItemBytes: number;
  private readonly map = new Map<string, CacheValue>();
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, rejected: 0, bytes: 0, peakBytes: 0, items: 0 };
  /** Hits and misses per kind, for metrics and tests. */
  readonly byKind: Record<CacheKind, { hits: number; misses: number }> = {
    postings: { hits: 0, misses: 0 },
    series: { hits: 0, misses: 0 },
    chunks: { hits: 0, misses: 0 },
  };

  constructor(maxBytes: number, maxItemBytes = Math.floor(maxBytes / 4)) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`cache size ${maxBytes} must be a non-negative integer of bytes`);
    this.maxBytes = maxBytes;
    this.maxItemBytes = Math.min(maxItemBytes, maxBytes);
  }

  static key(block: string, kind: CacheKind, offset: number): string {
    return `${block}/${kind[0]}/${offset}`;
  }

  private static cost(key: string, v: CacheValue): number {
    return v.byteLength + key.length + ENTRY_OVERHEAD;
  }

  get(kind: CacheKind, key: string): CacheValue | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.stats.misses++;
      this.byKind[kind].misses++;
      return undefined;
    }
    // Re-insert to move the entry to the young end (Map iterates in insertion order).
    this.map.delete(key);
    this.map.set(key, v);
    this.stats.hits++;
    this.byKind[kind].hits++;
    return v;
  }

  /**
   * Stores `value`, which the cache then owns: pass a copy, never a view into a larger fetched buffer
   * (the view would pin the whole buffer while the accounting sees only the view).
   */
  set(key: string, value: CacheValue): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.stats.bytes -= ByteLru.cost(key, old);
      this.stats.items--;
    }
    const cost = ByteLru.cost(key, value);
    if (cost > this.maxItemBytes) {
      this.stats.rejected++;
      return;
    }
    for (const [k, v] of this.map) {
      if (this.stats.bytes + cost <= this.maxBytes) break;
      this.map.delete(k);
      this.stats.bytes -= ByteLru.cost(k, v);
      this.stats.items--;
      this.stats.evictions++;
    }
    this.map.set(key, value);
    this.stats.bytes += cost;
    this.stats.items++;
    if (this.stats.bytes > this.stats.peakBytes) this.stats.peakBytes = this.stats.bytes;
  }

  /** Drops every entry of `block` (a block that left the store). */
  dropBlock(block: string): void {
    const prefix = block + '/';
    for (const [k, v] of this.map) {
      if (!k.startsWith(prefix)) continue;
      this.map.delete(k);
      this.stats.bytes -= ByteLru.cost(k, v);
      this.stats.items--;
    }
  }

  clear(): void {
    this.map.clear();
    this.stats.bytes = 0;
    this.stats.items = 0;
  }
}
