/**
 * One remote_write endpoint: a WAL watcher feeding `shards` bounded shard queues (series routed by label
 * hash, so each series stays in order), batches sent by `RemoteWriteClient` with retries, the position up
 * to which everything is acknowledged persisted to `<dir>/queues/<name>.json` (see progress.ts), a disk
 * budget for the unsent part of the WAL, and a shard count that follows the load.
 *
 * Retries: 5xx, 429 (with `retry_on_http_429`, default on in Argus) and network errors are retried without
 * end, waiting `Retry-After` when the server sent one, else an exponential backoff from `min_backoff` to
 * `max_backoff`. Any other answer drops the batch: counted in `samplesFailed` and logged with the body.
 *
 * Disk budget (Argus extension `max_wal_bytes`, per endpoint): when the WAL this endpoint has not had
 * acknowledged grows past it, its oldest whole segments are given up: queued samples from them are dropped,
 * the watcher skips their samples (still reading their series), all counted in `samplesDroppedBudget` and
 * logged with the queue name and amount; the WAL can then delete those segments.
 */
import { createHash } from 'node:crypto';
import type { Labels } from '../../model/labels.js';
import { compileRelabelConfigs, type Relabeler } from '../relabel.js';
import type { RemoteWriteConfig } from '../../config/prometheus-types.js';
import type { SamplesColumns } from '../../tsdb/wal/records.js';
import type { Logger } from '../../util/log.js';
import { BucketCounts } from '../../util/metrics.js';
import type { AgentStorage } from '../storage/agent-storage.js';
import { comparePositions, segmentSize, type WalPosition } from '../storage/segments.js';
import { RemoteWriteClient, type SendResult } from './client.js';
import { BatchEncoder } from './encode.js';
import { AckTracker, PositionFile } from './progress.js';
import { QueueSeriesTable, QueueSeriesState } from './series-table.js';
import { Shard, filterBatch, type Batch } from './shards.js';
import { WalWatcher, type WatcherSink } from './watcher.js';

export interface QueueOptions {
  /** Unsent-WAL budget in bytes for this endpoint; 0 = unlimited. */
  maxWalBytes: number;
  /** How long `stop()` keeps sending what is queued before giving up (the rest is resent after restart). */
  flushDeadlineMs: number;
  /** Position writes happen at most this often (and always at stop). */
  persistIntervalMs: number;
  /** How often the shard count is reconsidered (0: never). */
  reshardIntervalMs: number;
  noSync: boolean;
}

export interface QueueMetrics {
  /** Samples handed to shards. */
  samplesIn: number;
  samplesSent: number;
  /** Dropped after an answer that a retry cannot fix (4xx other than 429). */
  samplesFailed: number;
  /** Sample sends that failed and were retried (one sample retried twice counts twice). */
  samplesRetried: number;
  /** Given up because the endpoint's unsent WAL passed its disk budget. */
  samplesDroppedBudget: number;
  /** Older than `sample_age_limit` when their turn came. */
  samplesDroppedAge: number;
  /** Dropped by write_relabel_configs (not an error). */
  samplesDroppedRelabel: number;
  /** Samples whose series record was not found (damaged WAL). */
  samplesUnknownSeries: number;
  batchesSent: number;
  bytesSent: number;
  requestsFailed: number;
  /** Milliseconds spent in successful sends. */
  sendMs: number;
  highestSentTimestampMs: number;
  highestReadTimestampMs: number;
  reshards: number;
}

/** Series labels first, then external labels the series does not have (Prometheus's precedence). */
export function withExternalLabels(ls: Labels, ext: Labels): Labels {
  if (ext.length === 0) return ls;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < ls.length || j < ext.length) {
    if (j >= ext.length || (i < ls.length && ls[i]! < ext[j]!)) {
      out.push(ls[i]!, ls[i + 1]!);
      i += 2;
    } else if (i >= ls.length || ext[j]! < ls[i]!) {
      out.push(ext[j]!, ext[j + 1]!);
      j += 2;
    } else {
      out.push(ls[i]!, ls[i + 1]!);
      i += 2;
      j += 2;
    }
  }
  return Object.freeze(out);
}

function hashLabels(ls: Labels): number {
  let h = 0x811c9dc5;
  for (const s of ls) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The shard count rule, every `reshardIntervalMs`: shards needed = (incoming samples/s + pending samples
 * / 10 s) x measured send time per sample, plus 30% headroom, within [min_shards, max_shards]. Changes
 * smaller than 30% of the current count (or 1) are ignored, and nothing changes while sends are failing
 * (more shards do not help a receiver that is down).
 */
export function desiredShards(p: { current: number; min: number; max: number; inRatePerSec: number; msPerSample: number; pending: number; healthy: boolean }): number {
  if (!p.healthy || !(p.msPerSample > 0)) return Math.min(Math.max(p.current, p.min), p.max);
  const needed = ((p.inRatePerSec + p.pending / 10) * p.msPerSample) / 1000;
  const want = Math.min(Math.max(Math.ceil(needed * 1.3), p.min), p.max);
  if (Math.abs(want - p.current) < Math.max(1, 0.3 * p.current) && p.current >= p.min && p.current <= p.max) return p.current;
  return want;
}

/** Default name of an unnamed queue: from its URL, so that editing other settings keeps its position. */
export function defaultQueueName(url: string): string {
  return 'rw-' + createHash('sha256').update(url).digest('hex').slice(0, 8);
}

export class QueueManager {
  readonly name: string;
  readonly cfg: RemoteWriteConfig;
  /** Seconds each send attempt took, answered or not (Prometheus's sent_batch_duration_seconds). */
  readonly sentBatchSeconds = new BucketCounts();
  readonly metrics: QueueMetrics = {
    samplesIn: 0,
    samplesSent: 0,
    samplesFailed: 0,
    samplesRetried: 0,
    samplesDroppedBudget: 0,
    samplesDroppedAge: 0,
    samplesDroppedRelabel: 0,
    samplesUnknownSeries: 0,
    batchesSent: 0,
    bytesSent: 0,
    requestsFailed: 0,
    sendMs: 0,
    highestSentTimestampMs: 0,
    highestReadTimestampMs: 0,
    reshards: 0,
  };
  readonly maxSamplesPerSend: number;
  readonly batchDeadlineMs: number;
  private readonly log: Logger;
  private readonly relabeler: Relabeler;
  /** Series by WAL ref (refs are small and sequential: typed arrays, see series-table.ts). */
  private readonly table: QueueSeriesTable;
  private readonly encoder: BatchEncoder;
  private shards: Shard[] = [];
  private tracker!: AckTracker;
  private watcher!: WalWatcher;
  private watcherRun: Promise<void> = Promise.resolve();
  private readonly positionFile: PositionFile;
  private persisted: WalPosition = { segment: 0, offset: 0 };
  private persistTimer: NodeJS.Timeout | null = null;
  private persistRunning: Promise<void> = Promise.resolve();
  private reshardTimer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private stopping = false;
  private hardStopped = false;
  private stopPromise: Promise<void> | null = null;
  /** Waits cut short by `stop()` (removed when they end normally, so none pile up). */
  private readonly stopListeners = new Set<() => void>();
  private sleepers = new Set<() => void>();
  /** Samples of segments before this are given up (disk budget); the first unit at or after it. */
  private skipBefore = -1;
  private floorUnit = 0;
  private skippedSamples = 0;
  private readonly segSizes = new Map<number, number>();
  /** Resharding: the watcher waits at `gate` before its next record. */
  private gate: Promise<void> | null = null;
  private inSamples = false;
  private samplesIdle: (() => void)[] = [];
  private failStreak = 0;
  private lastFailLogMs = 0;
  private lastFailAt = 0;
  private rate = { at: 0, samplesIn: 0, sent: 0, sendMs: 0 };

  private constructor(
    readonly storage: AgentStorage,
    cfg: RemoteWriteConfig,
    name: string,
    readonly externalLabels: Labels,
    private readonly client: RemoteWriteClient,
    private readonly opts: QueueOptions,
    logger: Logger,
  ) {
    this.cfg = cfg;
    this.name = name;
    this.log = logger.with({ component: 'remote', queue: name, url: redactUrl(cfg.url) });
    this.relabeler = compileRelabelConfigs(cfg.write_relabel_configs);
    this.maxSamplesPerSend = cfg.queue_config.max_samples_per_send;
    this.batchDeadlineMs = cfg.queue_config.batch_send_deadline;
    this.positionFile = new PositionFile(storage.queuesDir, name, opts.noSync);
    this.table = new QueueSeriesTable(client.isV2);
    this.encoder = new BatchEncoder(this.table);
  }

  /** Creates the queue and starts sending from its persisted position (or the WAL's end for a new queue). */
  static async start(storage: AgentStorage, cfg: RemoteWriteConfig, name: string, externalLabels: Labels, opts: QueueOptions, logger: Logger): Promise<QueueManager> {
    const client = await RemoteWriteClient.create(cfg);
    const q = new QueueManager(storage, cfg, name, externalLabels, client, opts, logger);
    await q.begin();
    return q;
  }

  private async begin(): Promise<void> {
    const start = await this.startPosition();
    this.tracker = new AckTracker(start, () => this.schedulePersist());
    await this.positionFile.write(start, { url: redactUrl(this.cfg.url) });
    this.persisted = start;
    const n = Math.min(Math.max(this.cfg.queue_config.min_shards, 1), this.cfg.queue_config.max_shards);
    this.shards = this.makeShards(n);
    this.rate = { at: performance.now(), samplesIn: 0, sent: 0, sendMs: 0 };
    if (this.opts.reshardIntervalMs > 0) {
      this.reshardTimer = setInterval(() => this.maybeReshard(), this.opts.reshardIntervalMs);
      this.reshardTimer.unref();
    }
    this.startWatcher(start);
  }

  private async startPosition(): Promise<WalPosition> {
    const committed = this.storage.committed();
    const segs = await this.storage.segments();
    const oldest = segs.length > 0 ? segs[0]! : committed.segment;
    let pos: WalPosition | null;
    try {
      pos = await this.positionFile.read();
    } catch (err) {
      // Unreadable: resend everything still in the WAL rather than lose any of it.
      this.log.warn('remote write position unreadable; sending from the oldest WAL segment', { err: (err as Error).message, segment: oldest });
      return { segment: oldest, offset: 0 };
    }
    if (pos === null) {
      this.log.info('new remote write queue: sending from the end of the WAL', { segment: committed.segment, offset: committed.offset });
      return { ...committed };
    }
    if (comparePositions(pos, committed) > 0) {
      this.log.warn('remote write position is past the end of the WAL (WAL lost or replaced); sending from its end', {
        position: `${pos.segment}:${pos.offset}`,
        wal_end: `${committed.segment}:${committed.offset}`,
      });
      return { ...committed };
    }
    if (pos.segment < oldest) {
      this.log.warn('remote write position is older than the WAL (this queue was not configured while the WAL was truncated); sending from the oldest segment', {
        position: `${pos.segment}:${pos.offset}`,
        oldest_segment: oldest,
      });
      return { segment: oldest, offset: 0 };
    }
    this.log.info('remote write queue resumes', { segment: pos.segment, offset: pos.offset });
    return pos;
  }

  private startWatcher(from: WalPosition): void {
    this.watcher = new WalWatcher(this.storage, from, this.sink, this.log);
    this.watcherRun = this.watcher.run().catch((err: Error) => {
      if (this.stopping) return;
      this.log.error('remote write WAL watcher failed; restarting it in 5s', { err: err.message, segment: this.watcher.pos.segment, offset: this.watcher.pos.offset });
      const t = setTimeout(() => {
        if (!this.stopping) this.startWatcher(this.watcher.pos);
      }, 5000);
      t.unref();
    });
  }

  private makeShards(n: number): Shard[] {
    const out: Shard[] = [];
    for (let i = 0; i < n; i++) {
      const s = new Shard(i, this.cfg.queue_config.capacity, this);
      s.start();
      out.push(s);
    }
    return out;
  }

  // ---- the watcher's sink ----------------------------------------------------------------------------

  private readonly sink: WatcherSink = {
    series: (ref, labels, seg) => {
      const t = this.table;
      if (t.has(ref)) {
        t.touch(ref, seg);
        return;
      }
      const ls = this.relabeler.process(withExternalLabels(labels, this.externalLabels));
      t.set(ref, ls, ls === null ? 0 : hashLabels(ls), seg);
    },
    forgetSeries: (seg, keep) => {
      this.table.forget(seg, keep);
    },
    samples: (cols, seg, end) => this.enqueue(cols, seg, end),
    other: (seg, end) => {
      this.tracker.seal(this.tracker.open(seg, end));
    },
    enterSegment: (seg) => {
      this.tracker.enterSegment(seg);
      if (this.skippedSamples > 0 && seg >= this.skipBefore) {
        this.log.warn('remote write skipped the samples of WAL segments over the disk budget', { samples: this.skippedSamples, up_to_segment: seg - 1 });
        this.skippedSamples = 0;
      }
    },
  };

  private async enqueue(cols: SamplesColumns, seg: number, end: number): Promise<void> {
    if (this.gate !== null) await this.gate;
    this.inSamples = true;
    let unit = -1;
    let added = 0;
    try {
      unit = this.tracker.open(seg, end);
      const { refs, ts, vs } = cols;
      const n = refs.length;
      const { state, hash } = this.table;
      // Samples handed to shards are counted into the unit in one add before any await (no send can
      // settle them before then).
      added = 0;
      let highest = this.metrics.highestReadTimestampMs;
      for (let i = 0; i < n; i++) {
        const ref = refs[i]!;
        const st = ref < state.length ? state[ref]! : QueueSeriesState.Unknown;
        if (st !== QueueSeriesState.Live) {
          if (st === QueueSeriesState.Dropped) {
            this.metrics.samplesDroppedRelabel++;
            continue;
          }
          this.metrics.samplesUnknownSeries++;
          if (this.metrics.samplesUnknownSeries === 1) this.log.error('remote write: samples of a series without a series record; dropped', { ref, segment: seg });
          continue;
        }
        if (seg < this.skipBefore) {
          this.metrics.samplesDroppedBudget++;
          this.skippedSamples++;
          continue;
        }
        const t = ts[i]!;
        if (t > highest) highest = t;
        added++;
        let shard = this.shards[hash[ref]! % this.shards.length]!;
        while (!shard.push(ref, t, vs[i]!, unit)) {
          this.tracker.add(unit, added);
          added = 0;
          if (highest > this.metrics.highestReadTimestampMs) this.metrics.highestReadTimestampMs = highest;
          await this.orStop(shard.waitForSpace());
          if (this.stopping) return; // unit stays open: the position never passes it
          shard = this.shards[hash[ref]! % this.shards.length]!;
          if (seg < this.skipBefore) {
            // Given up while we waited: this sample and the rest of the record.
            this.tracker.done(unit, 1);
            this.metrics.samplesDroppedBudget++;
            this.skippedSamples++;
            break;
          }
        }
        if (seg >= this.skipBefore) this.metrics.samplesIn++;
      }
      if (added > 0) this.tracker.add(unit, added);
      added = 0;
      if (highest > this.metrics.highestReadTimestampMs) this.metrics.highestReadTimestampMs = highest;
      this.tracker.seal(unit);
    } catch (err) {
      // The watcher restarts at this record; an unsealed unit would hold the position back for good.
      if (unit >= 0 && added > 0) this.tracker.add(unit, added);
      if (unit >= 0) this.tracker.seal(unit);
      throw err;
    } finally {
      this.inSamples = false;
      const ws = this.samplesIdle;
      this.samplesIdle = [];
      for (const w of ws) w();
    }
  }

  // ---- sending --------------------------------------------------------------------------------------

  /** ShardHost: sends one batch until it is acknowledged, dropped, or the queue stops for good. */
  async sendBatch(_shard: Shard, b: Batch): Promise<void> {
    const qc = this.cfg.queue_config;
    let backoff = Math.max(qc.min_backoff, 1);
    let attempt = 0;
    let body: Uint8Array | null = null;
    for (;;) {
      if (this.hardStopped) return;
      if (this.applyDrops(b)) body = null;
      if (b.n === 0) return;
      body ??= this.encode(b);
      const res = await this.client.send(body, attempt, this.abort.signal);
      if (this.hardStopped) return; // aborted or racing shutdown: not acknowledged, resent after restart
      this.sentBatchSeconds.observe(res.durationMs / 1000);
      if (res.outcome === 'ok') {
        this.onSent(b, body.length, res);
        return;
      }
      this.metrics.requestsFailed++;
      if (res.outcome === 'drop') {
        this.metrics.samplesFailed += b.n;
        this.log.error('remote write endpoint rejected a batch; dropped it (not retryable)', {
          status: res.status,
          samples: b.n,
          response: res.message.slice(0, 512),
        });
        this.tracker.doneMany(b.units, b.n);
        return;
      }
      this.metrics.samplesRetried += b.n;
      const wait = res.retryAfterMs ?? backoff;
      this.noteFailure(res, b.n, wait);
      backoff = Math.min(backoff * 2, Math.max(qc.max_backoff, qc.min_backoff, 1));
      attempt++;
      await this.sleep(wait);
    }
  }

  private onSent(b: Batch, bytes: number, res: SendResult): void {
    const m = this.metrics;
    m.samplesSent += b.n;
    m.batchesSent++;
    m.bytesSent += bytes;
    m.sendMs += res.durationMs;
    for (let i = 0; i < b.n; i++) if (b.ts[i]! > m.highestSentTimestampMs) m.highestSentTimestampMs = b.ts[i]!;
    if (this.failStreak > 0) {
      this.log.info('remote write endpoint accepts data again', { failed_attempts: this.failStreak });
      this.failStreak = 0;
    }
    this.tracker.doneMany(b.units, b.n);
  }

  private noteFailure(res: SendResult, samples: number, waitMs: number): void {
    this.failStreak++;
    this.lastFailAt = performance.now();
    const now = Date.now();
    // The first failure of a streak, then at most one line per 10 s: an outage must not flood the log.
    if (this.failStreak === 1 || now - this.lastFailLogMs >= 10_000) {
      this.lastFailLogMs = now;
      this.log.warn('remote write failed; retrying', {
        status: res.status || undefined,
        err: res.message.slice(0, 512),
        samples,
        retry_in_ms: Math.round(waitMs),
        retry_after: res.retryAfterMs !== undefined ? 'yes' : undefined,
        failed_attempts: this.failStreak,
        pending: this.pendingSamples,
      });
    }
  }

  /** Removes from `b` what the disk budget gave up and what is older than sample_age_limit; true when changed. */
  private applyDrops(b: Batch): boolean {
    let changed = false;
    if (this.skipBefore >= 0 && b.n > 0 && b.units[0]! < this.floorUnit) {
      const floor = this.floorUnit;
      const n = filterBatch(b, (i) => b.units[i]! >= floor, (u) => this.tracker.done(u, 1));
      this.metrics.samplesDroppedBudget += n;
      changed ||= n > 0;
    }
    const limit = this.cfg.queue_config.sample_age_limit;
    if (limit > 0 && b.n > 0) {
      const oldest = Date.now() - limit;
      const n = filterBatch(b, (i) => b.ts[i]! >= oldest, (u) => this.tracker.done(u, 1));
      if (n > 0) {
        this.metrics.samplesDroppedAge += n;
        this.log.warn('remote write dropped samples older than sample_age_limit', { samples: n, sample_age_limit_ms: limit });
      }
      changed ||= n > 0;
    }
    return changed;
  }

  /** Groups a batch by series (first-appearance order; a series' samples stay in order) and encodes it. */
  private encode(b: Batch): Uint8Array {
    return this.encoder.encode(b);
  }

  /** Resolves when `p` does or the queue starts stopping, whichever is first. */
  private orStop(p: Promise<unknown>): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.stopListeners.delete(done);
        resolve();
      };
      this.stopListeners.add(done);
      p.then(done, done);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.hardStopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  // ---- position, budget, shards ---------------------------------------------------------------------

  /** Everything before this is acknowledged by the endpoint (in memory; see `persistedPosition`). */
  get position(): WalPosition {
    return this.tracker.acked;
  }

  /** The position last written to disk: what a restart resumes from, and what WAL truncation honours. */
  get persistedPosition(): WalPosition {
    return this.persisted;
  }

  get pendingSamples(): number {
    let n = 0;
    for (const s of this.shards) n += s.pending;
    return n;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Series the queue knows (resolved from WAL series records, forgotten after checkpoints). */
  get seriesTracked(): number {
    return this.table.known;
  }

  private schedulePersist(): void {
    if (this.persistTimer !== null || this.stopping) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      void this.persist();
    }, this.opts.persistIntervalMs);
    this.persistTimer.unref();
  }

  /** Writes the acknowledged position when it moved. */
  persist(): Promise<void> {
    const run = this.persistRunning.then(async () => {
      const pos = { ...this.tracker.acked };
      if (comparePositions(pos, this.persisted) === 0) return;
      try {
        await this.positionFile.write(pos, { url: redactUrl(this.cfg.url) });
        this.persisted = pos;
      } catch (err) {
        this.log.error('cannot save the remote write position; will try again', { file: this.positionFile.path, err: (err as Error).message });
        this.schedulePersist();
      }
    });
    this.persistRunning = run;
    return run;
  }

  /**
   * Enforces the disk budget: when the WAL not yet acknowledged for this endpoint is larger than
   * `maxWalBytes`, gives up whole segments from the oldest until it fits (the segment being written is
   * never given up).
   */
  async checkDiskBudget(): Promise<void> {
    const budget = this.opts.maxWalBytes;
    if (budget <= 0 || this.stopping) return;
    const committed = this.storage.committed();
    const ack = this.tracker.acked;
    const from = Math.max(ack.segment, this.skipBefore);
    if (from >= committed.segment) return;
    const sizes: number[] = [];
    let unsent = committed.offset;
    for (let s = from; s < committed.segment; s++) {
      let size = this.segSizes.get(s);
      if (size === undefined) {
        size = await segmentSize(this.storage.walDir, s);
        this.segSizes.set(s, size); // finished segments never change
      }
      const part = s === ack.segment ? Math.max(0, size - ack.offset) : size;
      sizes.push(part);
      unsent += part;
    }
    for (const k of this.segSizes.keys()) if (k < ack.segment) this.segSizes.delete(k);
    if (unsent <= budget) return;
    let floor = from;
    let left = unsent;
    while (left > budget && floor < committed.segment) left -= sizes[floor++ - from]!;
    this.dropBefore(floor, unsent, left);
  }

  private dropBefore(floor: number, unsentBytes: number, keptBytes: number): void {
    if (floor <= this.skipBefore) return;
    const fromSeg = Math.max(this.tracker.acked.segment, this.skipBefore);
    this.skipBefore = floor;
    this.floorUnit = this.tracker.firstIdFromSegment(floor);
    let dropped = 0;
    for (const s of this.shards) {
      dropped += s.queue.dropBelow(this.floorUnit, (u) => this.tracker.done(u, 1));
      s.releaseSpaceWaiters();
      s.notifyIdle();
    }
    this.metrics.samplesDroppedBudget += dropped;
    this.log.warn('remote write queue is over its disk budget; dropping its oldest unsent WAL data', {
      max_wal_bytes: this.opts.maxWalBytes,
      unsent_bytes: unsentBytes,
      dropped_bytes: unsentBytes - keptBytes,
      dropped_segments: floor - 1 > fromSeg ? `${fromSeg}-${floor - 1}` : String(fromSeg),
      dropped_queued_samples: dropped,
      note: 'samples still on disk in those segments are counted as they are skipped',
    });
  }

  private maybeReshard(): void {
    if (this.stopping || this.gate !== null) return;
    const now = performance.now();
    const dt = (now - this.rate.at) / 1000;
    if (dt <= 0) return;
    const m = this.metrics;
    const inRate = (m.samplesIn - this.rate.samplesIn) / dt;
    const sent = m.samplesSent - this.rate.sent;
    const msPerSample = sent > 0 ? (m.sendMs - this.rate.sendMs) / sent : 0;
    const healthy = now - this.lastFailAt > this.opts.reshardIntervalMs && this.failStreak === 0;
    this.rate = { at: now, samplesIn: m.samplesIn, sent: m.samplesSent, sendMs: m.sendMs };
    const qc = this.cfg.queue_config;
    const want = desiredShards({ current: this.shards.length, min: qc.min_shards, max: qc.max_shards, inRatePerSec: inRate, msPerSample, pending: this.pendingSamples, healthy });
    if (want !== this.shards.length) void this.reshard(want, { inRate, msPerSample });
  }

  /**
   * Changes the shard count. Series move between shards, so to keep each series in order the old shards
   * are drained first (the watcher waits), then replaced.
   */
  async reshard(n: number, why: Record<string, unknown> = {}): Promise<void> {
    if (this.stopping || this.gate !== null || n === this.shards.length) return;
    let open!: () => void;
    this.gate = new Promise((r) => (open = r));
    try {
      if (this.inSamples) await this.orStop(new Promise<void>((r) => this.samplesIdle.push(r)));
      for (const s of this.shards) s.flush();
      await this.orStop(Promise.all(this.shards.map((s) => s.waitIdle())));
      if (this.stopping) return;
      const old = this.shards;
      this.shards = this.makeShards(n);
      await Promise.all(old.map((s) => s.stop()));
      this.metrics.reshards++;
      this.log.info('remote write shards changed', { from: old.length, to: n, ...roundAll(why) });
    } finally {
      this.gate = null;
      open();
    }
  }

  /**
   * Stops the queue: the watcher stops reading, queued samples get `flushDeadlineMs` to be sent, then
   * requests are aborted and the acknowledged position is saved. What was not acknowledged is sent again
   * after a restart.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    for (const l of [...this.stopListeners]) l();
    if (this.reshardTimer !== null) clearInterval(this.reshardTimer);
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.watcher.stop();
    await this.watcherRun;
    for (const s of this.shards) s.flush();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all(this.shards.map((s) => s.waitIdle())).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.opts.flushDeadlineMs))),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.log.warn('remote write queue stopped with unsent samples; they are sent again after restart', { pending: this.pendingSamples, flush_deadline_ms: this.opts.flushDeadlineMs });
    }
    this.hardStopped = true;
    this.abort.abort();
    for (const w of [...this.sleepers]) w();
    await Promise.all(this.shards.map((s) => s.stop()));
    this.client.close();
    await this.persist();
    await this.persistRunning;
  }
}

function roundAll(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'number' ? Math.round(v * 1000) / 1000 : v;
  return out;
}

/** The URL without credentials, for logs and position files. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = 'xxxxx';
    return u.toString();
  } catch {
    return url;
  }
}
