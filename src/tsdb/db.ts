/**
 * The multi-tenant database: one head (and WAL) per tenant under `<path>/tenants/<tenant>/`, opened on
 * first use and re-opened (WAL replayed) at startup.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { Head, type HeadOptions } from './head/index.js';

export interface TSDBOptions {
  path: string;
  headOptions: (tenant: string) => HeadOptions;
  walSegmentBytes?: number;
  logger: Logger;
}

export class TSDB {
  private readonly opts: TSDBOptions;
  private readonly heads = new Map<string, Head>();
  private readonly opening = new Map<string, Promise<Head>>();

  private constructor(opts: TSDBOptions) {
    this.opts = opts;
  }

  /** Opens the database and replays every tenant's WAL found on disk. */
  static async open(opts: TSDBOptions): Promise<TSDB> {
    const db = new TSDB(opts);
    const dir = join(opts.path, 'tenants');
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) await db.head(decodeURIComponent(name));
    return db;
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
    const walDir = join(this.opts.path, 'tenants', encodeURIComponent(tenant), 'wal');
    const t0 = performance.now();
    const { head, report } = await Head.open(tenant, walDir, this.opts.headOptions(tenant), { segmentBytes: this.opts.walSegmentBytes });
    const log = this.opts.logger.with({ component: 'tsdb', tenant });
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
    this.heads.set(tenant, head);
    this.lastReplay.set(tenant, report);
    return head;
  }

  readonly lastReplay = new Map<string, import('./wal/wal.js').ReplayReport>();

  tenants(): string[] {
    return [...this.heads.keys()].sort();
  }

  async close(): Promise<void> {
    for (const h of this.heads.values()) await h.close();
    this.heads.clear();
  }
}
