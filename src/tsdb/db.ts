/**
 * The multi-tenant database: one head (and WAL) per tenant under `<path>/tenants/<tenant>/wal`, and the
 * blocks cut from it under `<path>/tenants/<tenant>/blocks`, opened on first use and re-opened (blocks
 * loaded, then WAL checkpoint and segments replayed) at startup. A timer compacts heads into blocks.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import type { Querier, Queryable } from '../storage/interface.js';
import { MergeQuerier } from '../storage/merge.js';
import { Head, type HeadOptions } from './head/index.js';
import type { ReplayReport } from './wal/wal.js';
import { openBlock, TMP_SUFFIX, isUlid, type Block } from './block/index.js';
import { compactHeadOnce, compactableRange } from './head-compact.js';

export interface TSDBOptions {
  path: string;
  headOptions: (tenant: string) => HeadOptions;
  walSegmentBytes?: number;
  logger: Logger;
  /** How often heads are checked for compaction (default: block range / 60, within [1s, 1m]; 0 = never). */
  compactIntervalMs?: number;
  /** Called once head compaction has written and registered a new block (e.g. to ship it); errors are logged. */
  onBlockWritten?: (tenant: string, blocksDir: string, ulid: string) => void;
}

/** A block directory being deleted (Prometheus's suffix); removed at startup if a crash left it. */
const DELETE_SUFFIX = '.tmp-for-deletion';

export interface LocalQuerierOptions {
  /** Blocks (by ULID) to leave out, asked at every select: e.g. those the store gateway serves already. */
  skipBlock?: (ulid: string) => boolean;
}

export class TSDB {
  private readonly opts: TSDBOptions;
  private readonly heads = new Map<string, Head>();
  private readonly opening = new Map<string, Promise<Head>>();
  /** What each tenant's WAL replay found at startup (for /metrics). */
  readonly lastReplay = new Map<string, ReplayReport>();
  /** Each tenant's blocks, oldest first. */
  private readonly blocks = new Map<string, Block[]>();
  private timer: NodeJS.Timeout | null = null;
  private compacting: Promise<void> | null = null;
  private closing = false;

  private constructor(opts: TSDBOptions) {
    this.opts = opts;
  }

  private tenantDir(tenant: string): string {
    return join(this.opts.path, 'tenants', encodeURIComponent(tenant));
  }

  /** The directory of the tenant's blocks (`<path>/tenants/<tenant>/blocks`), whether or not it exists yet. */
  blocksDir(tenant: string): string {
    return join(this.tenantDir(tenant), 'blocks');
  }

  /** Opens the database and replays every tenant's WAL found on disk. */
  static async open(opts: TSDBOptions): Promise<TSDB> {
    const db = new TSDB(opts);
    const dir = join(opts.path, 'tenants');
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) await db.head(decodeURIComponent(name));
    let every = opts.compactIntervalMs;
    if (every === undefined) {
      const range = opts.headOptions('').chunkRangeMs ?? 2 * 3_600_000;
      every = Math.max(1000, Math.min(60_000, Math.floor(range / 60)));
    }
    if (every > 0) {
      db.timer = setInterval(() => void db.compactHeads().catch(() => undefined), every);
      db.timer.unref();
    }
    return db;
  }

  /**
   * Cuts blocks from every head that spans more than 1.5 block ranges (repeatedly, until none does).
   * Runs one at a time; a call during a run waits for it and then runs again.
   */
  async compactHeads(): Promise<void> {
    while (this.compacting !== null) await this.compacting;
    const run = this.runCompaction();
    this.compacting = run.finally(() => (this.compacting = null));
    await this.compacting;
  }

  private async runCompaction(): Promise<void> {
    for (const [tenant, head] of this.heads) {
      const log = this.opts.logger.with({ component: 'tsdb', tenant });
      while (!this.closing && compactableRange(head) !== null) {
        const t0 = performance.now();
        try {
          const dir = join(this.tenantDir(tenant), 'blocks');
          const res = await compactHeadOnce(head, dir, async (meta) => {
            const block = await openBlock(join(dir, meta.ulid));
            // The list is read after the await, and replaced rather than pushed to: removeBlocks may have
            // installed a new array meanwhile (a block pushed to the old one would vanish from queries
            // while the head drops its range), and queriers built earlier keep the list they saw.
            this.blocks.set(tenant, [...this.getBlocks(tenant), block]);
            try {
              this.opts.onBlockWritten?.(tenant, dir, meta.ulid);
            } catch (err) {
              log.error('onBlockWritten hook failed; the block is written and stays local', { ulid: meta.ulid, error: (err as Error).message });
            }
          });
          if (res === null) break;
          log.info('head compacted into a block', {
            ulid: res.block.ulid,
            mint: res.block.minTime,
            maxt: res.block.maxTime,
            series: res.block.stats.numSeries,
            samples: res.block.stats.numSamples,
            dropped_series: res.droppedSeries,
            wal_segments_deleted: res.deletedSegments,
            duration_ms: Math.round(performance.now() - t0),
          });
        } catch (err) {
          log.error('head compaction failed', { error: (err as Error).message });
          break;
        }
      }
    }
  }

  /** The tenant's blocks, oldest first. */
  getBlocks(tenant: string): readonly Block[] {
    return this.blocks.get(tenant) ?? [];
  }

  /**
   * A querier over the tenant's blocks and head (null when the tenant has no data here). The block list
   * is read at each call: compaction registers a block before the head drops its range, so every select
   * sees each sample in the head, the block, or both (the merge dedupes).
   */
  querier(tenant: string, opts: LocalQuerierOptions = {}): Querier | null {
    const head = this.heads.get(tenant);
    if (head === undefined) return null;
    const skip = opts.skipBlock;
    const now = (): Querier => {
      const blocks = skip === undefined ? this.getBlocks(tenant) : this.getBlocks(tenant).filter((b) => !skip(b.meta.ulid));
      const qs: Querier[] = blocks.map((b) => b.querier());
      qs.push(head.querier());
      return qs.length === 1 ? qs[0]! : new MergeQuerier(qs);
    };
    return {
      select: (hints, matchers) => now().select(hints, matchers),
      labelNames: (hints, matchers) => now().labelNames(hints, matchers),
      labelValues: (name, hints, matchers) => now().labelValues(name, hints, matchers),
    };
  }

  /** The tenant's data as a Queryable (null when the tenant has no data here). */
  queryable(tenant: string, opts: LocalQuerierOptions = {}): Queryable | null {
    if (!this.heads.has(tenant)) return null;
    return { querier: () => this.querier(tenant, opts)! };
  }

  /**
   * Deletes local blocks of a tenant (e.g. shipped ones past the local retention). Each block leaves the
   * query path first, then its directory is removed; queries already running keep reading it, since a
   * block's data is in memory. Returns the ULIDs removed; a directory that cannot be removed is logged and
   * left for the next call (the block is no longer queried, and is picked up again at the next startup).
   */
  async removeBlocks(tenant: string, ulids: Iterable<string>): Promise<string[]> {
    const want = new Set(ulids);
    const list = this.blocks.get(tenant);
    if (list === undefined || want.size === 0) return [];
    const gone = list.filter((b) => want.has(b.meta.ulid));
    if (gone.length === 0) return [];
    // A new array, so that a querier built a moment ago keeps the list it saw.
    this.blocks.set(tenant, list.filter((b) => !want.has(b.meta.ulid)));
    const log = this.opts.logger.with({ component: 'tsdb', tenant });
    const removed: string[] = [];
    for (const b of gone) {
      await b.close();
      const dir = join(this.blocksDir(tenant), b.meta.ulid);
      try {
        // Renamed first so that a crash mid-removal leaves a *.tmp-for-deletion folder, not a half block.
        const tmp = `${dir}${DELETE_SUFFIX}`;
        await rename(dir, tmp);
        await rm(tmp, { recursive: true, force: true });
        removed.push(b.meta.ulid);
      } catch (err) {
        log.error('could not delete a local block directory; it is no longer queried here', { block: b.meta.ulid, dir, error: (err as Error).message });
      }
    }
    return removed;
  }

  /** The tenant's head, opening it (and replaying its WAL) if needed. */
  head(tenant: string): Promise<Head> {
    const h = this.heads.get(tenant);
    if (h !== undefined) return Promise.resolve(h);
    let p = this.opening.get(tenant);
    if (p === undefined) {
      p = this.openHead(tenant).finally(() => this.opening.delete(tenant));
      this.opening.set(tenant, p);
    }
    return p;
  }

  /** The tenant's head if it is open (no I/O). */
  getHead(tenant: string): Head | undefined {
    return this.heads.get(tenant);
  }

  private async openHead(tenant: string): Promise<Head> {
    const walDir = join(this.tenantDir(tenant), 'wal');
    const log = this.opts.logger.with({ component: 'tsdb', tenant });
    const blocks = await this.loadBlocks(tenant, log);
    // Samples below the newest block's end are in blocks: replay skips them, appends reject them.
    let minValid = -Infinity;
    for (const b of blocks) if (b.meta.maxTime > minValid) minValid = b.meta.maxTime;
    const t0 = performance.now();
    const { head, report } = await Head.open(tenant, walDir, this.opts.headOptions(tenant), { segmentBytes: this.opts.walSegmentBytes }, minValid);
    if (report.truncated) {
      const t = report.truncated;
      log.warn('WAL had a torn or corrupt tail; truncated it and kept every intact record before it', {
        segment: t.segment,
        offset: t.offset,
        dropped_bytes: t.droppedBytes,
        removed_segments: t.removedSegments.join(',') || undefined,
        reason: t.reason,
      });
    }
    if (head.replaySkipped > 0) {
      log.warn('WAL records that could not be decoded were skipped', { records: head.replaySkipped, first_error: head.replaySkipReason });
    }
    if (report.records > 0 || report.truncated) {
      log.info('WAL replayed', { segments: report.segments, records: report.records, series: head.numSeries(), samples: head.samplesAppended, duration_ms: Math.round(performance.now() - t0) });
    }
    this.blocks.set(tenant, blocks);
    this.heads.set(tenant, head);
    this.lastReplay.set(tenant, report);
    return head;
  }

  /** Opens the tenant's blocks; removes leftovers of interrupted block writes. */
  private async loadBlocks(tenant: string, log: Logger): Promise<Block[]> {
    const dir = join(this.tenantDir(tenant), 'blocks');
    await mkdir(dir, { recursive: true });
    const out: Block[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (name.endsWith(TMP_SUFFIX) || name.endsWith(DELETE_SUFFIX)) {
        await rm(join(dir, name), { recursive: true, force: true });
        continue;
      }
      if (!isUlid(name)) continue;
      try {
        out.push(await openBlock(join(dir, name)));
      } catch (err) {
        log.error('could not open block; skipped', { block: name, error: (err as Error).message });
      }
    }
    out.sort((a, b) => a.meta.minTime - b.meta.minTime);
    return out;
  }

  tenants(): string[] {
    return [...this.heads.keys()].sort();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.compacting !== null) await this.compacting.catch(() => undefined);
    for (const h of this.heads.values()) await h.close();
    for (const bs of this.blocks.values()) for (const b of bs) await b.close();
    this.heads.clear();
    this.blocks.clear();
  }
}
