/**
 * The store gateway: serves the blocks of a Thanos-layout bucket (`<ULID>/meta.json`, `<ULID>/index`,
 * `<ULID>/chunks/NNNNNN`) through the `Querier` seam, reading index and chunk files only by range.
 *
 * `sync()` reconciles the in-memory block set with the bucket: new blocks are loaded (meta.json and
 * tombstones read whole, the index header built by range reads), blocks that disappeared or carry a
 * `deletion-mark.json` are dropped, blocks without meta.json (uploads in progress) are skipped until
 * their meta appears, and blocks whose external labels (`thanos.labels`) fail the configured matchers are
 * never loaded (one store can serve one tenant). `start(intervalMs)` repeats it in the background.
 *
 * Memory: per block, its index header (`stats().indexHeaderBytes`; roughly the symbol bytes plus 12 bytes
 * per label pair, see index-header.ts) and its tombstones; shared, the LRU cache (`cacheBytes`); per
 * query, the fetch budget (see querier.ts).
 */
import { isNotFound, type Bucket } from '../objstore/index.js';
import type { Matcher } from '../model/matcher.js';
import type { Queryable } from '../storage/interface.js';
import { nopLogger, type Logger } from '../util/log.js';
import { META_FILENAME, decodeMeta, decodeTombstones, isUlid, type BlockMeta, type Tombstones } from '../tsdb/block/index.js';
import { BucketBlock, type StoreContext } from './bucket-block.js';
import { ByteLru, type CacheStats } from './cache.js';
import { forEachLimited, newFetchStats, type FetchStats } from './fetch.js';
import { readIndexHeader } from './index-header.js';
import { BucketQuerier, type BucketQuerierOptions } from './querier.js';

export const DELETION_MARK_FILENAME = 'deletion-mark.json';
const TOMBSTONES_FILENAME = 'tombstones';

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_GAP_BYTES = 128 * 1024;
export const DEFAULT_CHUNK_SIZE_ESTIMATE = 2048;
export const DEFAULT_FETCH_BUDGET_BYTES = 32 * 1024 * 1024;

export interface BucketStoreOptions {
  bucket: Bucket;
  logger?: Logger;
  /** Byte budget of the cache of postings, series entries and chunks (default 256 MiB; 0 disables it). */
  cacheBytes?: number;
  /** Only blocks whose `thanos.labels` satisfy every matcher are served (an absent label reads as ""). */
  blockLabelMatchers?: readonly Matcher[];
  /** Key prefix under which the block folders live, e.g. `tenants/a/` (default: the bucket root). */
  prefix?: string;
  /** Gaps up to this size between wanted byte ranges are read rather than split (default 128 KiB). */
  maxGapBytes?: number;
  /** First-read size for a chunk whose end is unknown (default 2 KiB; larger chunks cost a second read). */
  chunkSizeEstimate?: number;
  /** Chunk bytes one select may hold in flight across all its blocks (default 32 MiB). */
  fetchBudgetBytes?: number;
  /**
   * A served block that gets a deletion mark keeps being served until a served, unmarked block lists all
   * of its sources (its compaction replacement), or until this long after the mark's deletion_time
   * (Thanos's --ignore-deletion-marks-delay; default 24h, below the compactor's 48h delete delay). So a
   * compaction never opens a gap, even when the replacement fails to load at first.
   */
  ignoreDeletionMarksDelayMs?: number;
  /** Wall clock (ms), for tests. */
  now?: () => number;
  /** Blocks loaded (or checked for deletion marks) concurrently during a sync (default 8). */
  syncConcurrency?: number;
}

export interface SyncResult {
  /** ULIDs loaded by this sync. */
  added: string[];
  /** ULIDs dropped: gone from the bucket or marked for deletion. */
  removed: string[];
  /** Folders without meta.json (partial uploads), skipped. */
  partial: string[];
  /** Blocks marked for deletion that were never loaded. */
  marked: string[];
  /** Blocks whose external labels do not match this store's matchers. */
  filtered: string[];
  /** Blocks that could not be loaded, with the reason; retried at the next sync. */
  failed: { ulid: string; error: string }[];
  /** Blocks served after the sync. */
  blocks: number;
}

export interface StoreStats extends FetchStats {
  cache: CacheStats;
  cacheByKind: ByteLru['byKind'];
  blocks: number;
  /** Estimated heap bytes of all index headers. */
  indexHeaderBytes: number;
  syncs: number;
  syncFailures: number;
}

export class BucketStore implements Queryable {
  readonly bucket: Bucket;
  readonly fetchBudgetBytes: number;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly matchers: readonly Matcher[];
  private readonly syncConcurrency: number;
  private readonly ctx: StoreContext;
  private readonly byId = new Map<string, BucketBlock>();
  private sorted: BucketBlock[] = [];
  /** Blocks known not to be served whatever happens (filtered out or marked): not re-read each sync. */
  private readonly ignored = new Map<string, 'filtered' | 'marked'>();
  /** Served blocks whose deletion mark was seen: ulid → deletion_time (ms). */
  private readonly markedServed = new Map<string, number>();
  private readonly ignoreMarksDelayMs: number;
  private readonly now: () => number;
  /** Last load error per block, so that a block failing at every sync is logged once per distinct error. */
  private readonly lastError = new Map<string, string>();
  private syncing: Promise<SyncResult> | null = null;
  /** The run queued behind `syncing` for calls made while it was in progress. */
  private queuedSync: Promise<SyncResult> | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private syncs = 0;
  private syncFailures = 0;

  constructor(opts: BucketStoreOptions) {
    this.bucket = opts.bucket;
    this.logger = (opts.logger ?? nopLogger).with({ component: 'store' });
    this.prefix = opts.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) throw new Error(`store prefix ${JSON.stringify(this.prefix)} must end with '/'`);
    this.matchers = opts.blockLabelMatchers ?? [];
    this.ignoreMarksDelayMs = nonNegative(opts.ignoreDeletionMarksDelayMs ?? 24 * 3_600_000, 'ignoreDeletionMarksDelayMs');
    this.now = opts.now ?? Date.now;
    this.syncConcurrency = positive(opts.syncConcurrency ?? 8, 'syncConcurrency');
    this.fetchBudgetBytes = positive(opts.fetchBudgetBytes ?? DEFAULT_FETCH_BUDGET_BYTES, 'fetchBudgetBytes');
    const cacheBytes = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) throw new RangeError(`cacheBytes ${cacheBytes} must be a non-negative integer`);
    this.ctx = {
      bucket: opts.bucket,
      cache: new ByteLru(cacheBytes),
      stats: newFetchStats(),
      logger: this.logger,
      maxGapBytes: nonNegative(opts.maxGapBytes ?? DEFAULT_MAX_GAP_BYTES, 'maxGapBytes'),
      chunkSizeEstimate: positive(opts.chunkSizeEstimate ?? DEFAULT_CHUNK_SIZE_ESTIMATE, 'chunkSizeEstimate'),
    };
  }

  /** The blocks served now, sorted by minTime (then maxTime). */
  blocks(): readonly BucketBlock[] {
    return this.sorted;
  }

  /** A Querier over the blocks served at the time of each call. */
  querier(opts?: BucketQuerierOptions): BucketQuerier {
    return new BucketQuerier(this, opts);
  }

  stats(): StoreStats {
    let headerBytes = 0;
    for (const b of this.sorted) headerBytes += b.header.memoryBytes();
    return {
      ...this.ctx.stats,
      cache: { ...this.ctx.cache.stats },
      cacheByKind: structuredClone(this.ctx.cache.byKind),
      blocks: this.sorted.length,
      indexHeaderBytes: headerBytes,
      syncs: this.syncs,
      syncFailures: this.syncFailures,
    };
  }

  /**
   * Reconciles the served blocks with the bucket. The result always reflects a listing made after the
   * call: a sync in progress may have listed the bucket before the caller's upload, so a call during one
   * waits for it and then for one more run, which every call made meanwhile shares.
   */
  sync(): Promise<SyncResult> {
    if (this.syncing === null) return this.startSync();
    this.queuedSync ??= this.syncing
      .catch(() => undefined)
      .then(() => {
        this.queuedSync = null;
        if (this.closed) throw new Error('store gateway closed; sync not run');
        return this.syncing ?? this.startSync(); // a run started after the previous one ended will do
      });
    return this.queuedSync;
  }

  /** Only called when no run is in progress. */
  private startSync(): Promise<SyncResult> {
    this.syncing = this.runSync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async runSync(): Promise<SyncResult> {
    const started = performance.now();
    const res: SyncResult = { added: [], removed: [], partial: [], marked: [], filtered: [], failed: [], blocks: 0 };
    const listed = new Set<string>();
    try {
      for await (const item of this.bucket.iter(this.prefix)) {
        const name = item.slice(this.prefix.length).replace(/\/$/, '');
        if (item.endsWith('/') && isUlid(name)) listed.add(name);
      }
    } catch (err) {
      this.syncFailures++;
      this.logger.error('cannot list blocks; keeping the blocks served so far', { bucket: this.bucket.name, prefix: this.prefix, err });
      throw new Error(`store sync: listing ${this.bucket.name}/${this.prefix}: ${(err as Error).message}`, { cause: err });
    }
    const ids = [...listed];
    await forEachLimited(ids, this.syncConcurrency, async (ulid) => {
      const ignored = this.ignored.get(ulid);
      if (ignored !== undefined) {
        res[ignored].push(ulid);
        return;
      }
      try {
        if (this.byId.has(ulid)) {
          if (!this.markedServed.has(ulid)) {
            const markedAt = await this.deletionTime(ulid);
            if (markedAt !== null) this.markedServed.set(ulid, markedAt);
          }
          return;
        }
        const outcome = await this.load(ulid);
        if (outcome === 'added') res.added.push(ulid);
        else if (outcome === 'partial') res.partial.push(ulid);
        else {
          this.ignored.set(ulid, outcome);
          res[outcome].push(ulid);
        }
        this.lastError.delete(ulid);
      } catch (err) {
        const msg = (err as Error).message;
        res.failed.push({ ulid, error: msg });
        if (this.lastError.get(ulid) !== msg) {
          this.logger.warn(
            this.byId.has(ulid) ? 'cannot check block for a deletion mark; still serving it, will retry at the next sync' : 'cannot load block; skipping it, will retry at the next sync',
            { block: ulid, err: msg },
          );
          this.lastError.set(ulid, msg);
        }
      }
    });
    for (const ulid of [...this.byId.keys()]) {
      if (listed.has(ulid)) continue;
      this.drop(ulid);
      this.markedServed.delete(ulid);
      res.removed.push(ulid);
    }
    this.retireMarked(res);
    for (const ulid of [...this.ignored.keys()]) if (!listed.has(ulid)) this.ignored.delete(ulid);
    for (const ulid of [...this.lastError.keys()]) if (!listed.has(ulid)) this.lastError.delete(ulid);
    this.sorted = [...this.byId.values()].sort((a, b) => a.meta.minTime - b.meta.minTime || a.meta.maxTime - b.meta.maxTime || cmp(a.ulid, b.ulid));
    res.blocks = this.sorted.length;
    this.syncs++;
    if (res.added.length > 0 || res.removed.length > 0 || res.failed.length > 0) {
      this.logger.info('blocks synced', {
        added: res.added.length,
        removed: res.removed.length,
        failed: res.failed.length,
        partial: res.partial.length,
        blocks: res.blocks,
        ms: Math.round(performance.now() - started),
      });
    }
    return res;
  }

  /** The mark's deletion_time in ms, or null when the block has no deletion mark. */
  private async deletionTime(ulid: string): Promise<number | null> {
    let body: Uint8Array;
    try {
      body = await this.bucket.get(this.key(ulid, DELETION_MARK_FILENAME));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    let t = NaN;
    try {
      t = Number((JSON.parse(new TextDecoder().decode(body)) as { deletion_time?: unknown }).deletion_time) * 1000;
    } catch {
      // An unreadable mark still marks the block; it is retired at once rather than served forever.
    }
    return Number.isFinite(t) ? t : -Infinity;
  }

  /**
   * Stops serving marked blocks whose data another served block now holds (every source of theirs is a
   * source of an unmarked served block), or whose mark is older than the ignore delay.
   */
  private retireMarked(res: SyncResult): void {
    if (this.markedServed.size === 0) return;
    const covering: Set<string>[] = [];
    for (const [ulid, b] of this.byId) {
      if (this.markedServed.has(ulid)) continue;
      covering.push(new Set(b.meta.compaction?.sources ?? [ulid]));
    }
    const now = this.now();
    for (const [ulid, markedAt] of [...this.markedServed]) {
      const b = this.byId.get(ulid);
      if (b === undefined) {
        this.markedServed.delete(ulid);
        continue;
      }
      const sources = b.meta.compaction?.sources ?? [ulid];
      const replaced = covering.some((set) => sources.every((s) => set.has(s)));
      if (!replaced && now - markedAt < this.ignoreMarksDelayMs) continue;
      this.drop(ulid);
      this.markedServed.delete(ulid);
      this.ignored.set(ulid, 'marked');
      res.removed.push(ulid);
    }
  }

  private key(ulid: string, file: string): string {
    return `${this.prefix}${ulid}/${file}`;
  }

  private async load(ulid: string): Promise<'added' | 'partial' | 'filtered' | 'marked'> {
    const metaKey = this.key(ulid, META_FILENAME);
    let metaBytes: Uint8Array;
    try {
      metaBytes = await this.bucket.get(metaKey);
      this.ctx.stats.objectGets++;
    } catch (err) {
      // No meta.json yet: the uploader writes it last, so the block is still arriving.
      if (isNotFound(err)) return 'partial';
      throw err;
    }
    const meta: BlockMeta = decodeMeta(new TextDecoder().decode(metaBytes), `${this.bucket.name}:${metaKey}`);
    if (meta.ulid !== ulid) throw new Error(`${this.bucket.name}:${metaKey}: meta.json names block ${meta.ulid}, not its folder ${ulid}`);
    if (!this.labelsMatch(meta)) return 'filtered';
    if (await this.bucket.exists(this.key(ulid, DELETION_MARK_FILENAME))) return 'marked';
    const header = await readIndexHeader(this.bucket, this.key(ulid, 'index'), this.ctx.stats);
    const tombstones = await this.readTombstones(ulid);
    this.byId.set(ulid, new BucketBlock(this.ctx, meta, header, tombstones, `${this.prefix}${ulid}/`));
    return 'added';
  }

  private labelsMatch(meta: BlockMeta): boolean {
    const labels = meta.thanos?.labels ?? {};
    for (const m of this.matchers) {
      const v = labels[m.name];
      if (!m.matches(typeof v === 'string' ? v : '')) return false;
    }
    return true;
  }

  private async readTombstones(ulid: string): Promise<Tombstones> {
    const key = this.key(ulid, TOMBSTONES_FILENAME);
    let bytes: Uint8Array;
    try {
      bytes = await this.bucket.get(key);
      this.ctx.stats.objectGets++;
    } catch (err) {
      // Thanos buckets usually carry no tombstones file: nothing is deleted.
      if (isNotFound(err)) return new Map();
      throw err;
    }
    return decodeTombstones(bytes, `${this.bucket.name}:${key}`);
  }

  private drop(ulid: string): void {
    if (!this.byId.delete(ulid)) return;
    this.ctx.cache.dropBlock(ulid);
  }

  /** Syncs now and then every `intervalMs` until stop(); failures are logged and retried. */
  start(intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError(`sync interval ${intervalMs} must be positive`);
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async (): Promise<void> => {
      this.timer = null;
      try {
        await this.sync();
      } catch (err) {
        this.logger.error('block sync failed; retrying at the next interval', { err, interval_ms: intervalMs });
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void loop(), intervalMs);
        this.timer.unref();
      }
    };
    void loop();
  }

  /** Stops periodic syncs and waits for one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.syncing?.catch(() => undefined);
    await this.queuedSync?.catch(() => undefined);
  }

  /** Stops syncing and forgets every block and cached byte. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
    this.byId.clear();
    this.sorted = [];
    this.ctx.cache.clear();
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function positive(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${what} ${v} must be a positive integer`);
  return v;
}

function nonNegative(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} ${v} must be a non-negative integer`);
  return v;
}
