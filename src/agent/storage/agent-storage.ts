/**
 * The agent's storage: a WAL and nothing else. Appenders stage samples; commit writes the series records
 * of series the WAL has not seen yet and one samples record, then fsyncs (group commit). No sample is kept
 * in memory; the remote-write queues read the WAL back (see ../remote/watcher.ts).
 *
 * In memory: the label set -> ref map of active series, with each series' newest timestamp (for ordering
 * checks) and the newest WAL segment that mentions it.
 *
 * WAL sync: by default the WAL is fdatasync'ed every second (and at segment end and close), not per commit,
 * like Prometheus's agent. A commit is then in the page cache when it resolves: a process crash or kill -9
 * loses nothing, a power loss can lose up to the last second. The queues read only whole records either
 * way. `walSyncIntervalMs: 0` restores an fsync per commit (at a CPU cost per scrape).
 *
 * Truncation (driven by the remote-write manager, which knows how far every queue has sent): segments that
 * every queue has passed are replaced by a checkpoint holding a META record (next ref) and the series
 * records still needed, then deleted. Series idle for `seriesIdleMs` whose newest record sits in a segment
 * being deleted are garbage-collected; like Prometheus's agent, a collected series stays in the checkpoint
 * while a remaining segment may still mention it, so replays and queues always find every ref's labels.
 *
 * Layout: `<dir>/wal/` (segments, checkpoint.N/) and `<dir>/queues/` (remote-write positions).
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Labels } from '../../model/labels.js';
import { labelsKey, labelsToString } from '../../model/labels.js';
import { sameBits } from '../../model/value.js';
import type { Appendable, Appender, SeriesRef } from '../../storage/interface.js';
import { StorageError } from '../../storage/errors.js';
import {
  Wal,
  REC_META,
  REC_SAMPLES,
  REC_SERIES,
  StagedSamples,
  decodeMetaRecord,
  decodeSamplesRecord,
  decodeSeriesRecord,
  encodeMetaRecord,
  encodeSamplesRecord,
  encodeSeriesRecord,
  type ReplayReport,
  type WalPosition,
} from '../../tsdb/wal/index.js';
import type { Logger } from '../../util/log.js';
import { listSegments, segmentName } from './segments.js';

export interface AgentStorageOptions {
  /** Data directory: the WAL goes to `<dir>/wal`, remote-write positions to `<dir>/queues`. */
  dir: string;
  logger: Logger;
  /** WAL segment size (default 128 MiB). Smaller segments let truncation and disk budgets act sooner. */
  segmentBytes?: number;
  /** A series not appended for this long may be garbage-collected at truncation (default 10 minutes). */
  seriesIdleMs?: number;
  /** Skip fsync (tests of non-durable paths only). */
  noSync?: boolean;
  /** fdatasync the WAL at most this often (default 1000 ms); 0 = before every commit resolves. See the file comment. */
  walSyncIntervalMs?: number;
  /** Wall clock, for tests. */
  now?: () => number;
}

const enum LogState {
  None = 0,
  InFlight = 1,
  Durable = 2,
}

interface AgentSeries {
  readonly ref: number;
  readonly labels: Labels;
  readonly key: string;
  /** Newest committed sample (time and value); -Infinity before the first. */
  lastTs: number;
  lastV: number;
  /** Newest staged sample of any open appender (ordering checks see it before commit). */
  stagedTs: number;
  stagedV: number;
  logState: LogState;
  /** Newest WAL segment holding a record of this series (may overstate, never understate). */
  lastSeg: number;
  lastAppendMs: number;
  /** Commits in progress that carry samples of this series. */
  inflight: number;
  deleted: boolean;
  /** The open appender whose touched list holds this series last (saves a per-sample Set lookup). */
  owner: AgentAppender | null;
}

export interface TruncateResult {
  deletedSegments: number;
  collectedSeries: number;
  checkpointSegment: number;
}

const SERIES_PER_CHECKPOINT_RECORD = 5000;

export class AgentStorage implements Appendable {
  readonly dir: string;
  readonly walDir: string;
  readonly queuesDir: string;
  readonly logger: Logger;
  private readonly now: () => number;
  private readonly seriesIdleMs: number;
  private wal!: Wal;
  /** Active series by ref: refs are small, sequential and never reused, so a dense array beats a Map. */
  private readonly byRef: (AgentSeries | undefined)[] = [];
  private activeSeries = 0;
  private readonly byKey = new Map<string, AgentSeries>();
  /** Collected series a remaining segment may still mention; dropped once a checkpoint passes lastSeg. */
  private readonly deleted = new Map<number, AgentSeries>();
  private nextRef = 1;
  private readonly commitListeners = new Set<() => void>();
  private truncating: Promise<TruncateResult> | null = null;
  private closed = false;
  /** Counters for self-monitoring. */
  readonly stats = { samplesAppended: 0, seriesCreated: 0, seriesCollected: 0, commits: 0, commitFailures: 0, replayUnknownRefs: 0 };
  replayReport: ReplayReport | null = null;

  private constructor(opts: AgentStorageOptions) {
    this.dir = opts.dir;
    this.walDir = join(opts.dir, 'wal');
    this.queuesDir = join(opts.dir, 'queues');
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.seriesIdleMs = opts.seriesIdleMs ?? 10 * 60_000;
  }

  /** Opens (creating if needed) the agent storage, replaying the WAL to rebuild the series map. */
  static async open(opts: AgentStorageOptions): Promise<AgentStorage> {
    const st = new AgentStorage(opts);
    await mkdir(st.queuesDir, { recursive: true });
    const t0 = performance.now();
    const { wal, report } = await Wal.open(st.walDir, (rec) => st.replayRecord(rec), {
      ...(opts.segmentBytes !== undefined ? { segmentBytes: opts.segmentBytes } : {}),
      ...(opts.noSync ? { noSync: true } : {}),
      syncIntervalMs: opts.walSyncIntervalMs ?? 1000,
    });
    st.wal = wal;
    st.replayReport = report;
    // Replay cannot tell which segment a record came from: every replayed series counts as in the newest.
    const seg = wal.segmentNumber();
    const nowMs = st.now();
    for (const s of st.byRef) {
      if (s === undefined) continue;
      s.lastSeg = seg;
      s.lastAppendMs = nowMs;
    }
    if (report.truncated !== null) {
      const t = report.truncated;
      st.logger.warn('agent WAL had a torn or corrupt tail; cut it and continue', {
        segment: t.segment,
        offset: t.offset,
        dropped_bytes: t.droppedBytes,
        removed_segments: t.removedSegments.join(',') || undefined,
        reason: t.reason,
      });
    }
    if (st.stats.replayUnknownRefs > 0) {
      st.logger.warn('agent WAL replay found samples of unknown series; ignored them', { samples: st.stats.replayUnknownRefs });
    }
    st.logger.info('agent WAL replayed', {
      dir: st.walDir,
      segments: report.segments,
      records: report.records,
      series: st.activeSeries,
      duration_ms: Math.round(performance.now() - t0),
    });
    return st;
  }

  private replayRecord(rec: Uint8Array): number | void {
    try {
      switch (rec[0]) {
        case REC_SERIES:
          decodeSeriesRecord(rec, (ref, labels) => {
            if (ref >= this.nextRef) this.nextRef = ref + 1;
            if (this.byRef[ref] !== undefined) return;
            const s = newSeries(ref, labels, labelsKey(labels));
            s.logState = LogState.Durable;
            this.setRef(s);
            // A label set re-created under a new ref (after collection) resolves to the newest ref.
            this.byKey.set(s.key, s);
          });
          return;
        case REC_SAMPLES: {
          const { refs, ts, vs } = decodeSamplesRecord(rec);
          let maxT = -Infinity;
          for (let i = 0; i < refs.length; i++) {
            const s = this.byRef[refs[i]!];
            const t = ts[i]!;
            if (t > maxT) maxT = t;
            if (s === undefined) {
              this.stats.replayUnknownRefs++;
              continue;
            }
            if (t >= s.lastTs) {
              s.lastTs = s.stagedTs = t;
              s.lastV = s.stagedV = vs[i]!;
            }
          }
          return maxT;
        }
        case REC_META: {
          const { nextRef } = decodeMetaRecord(rec);
          if (nextRef > this.nextRef) this.nextRef = nextRef;
          return;
        }
        default:
          this.logger.warn('agent WAL replay skipped a record of unknown type', { type: rec[0] });
      }
    } catch (err) {
      this.logger.warn('agent WAL replay skipped an undecodable record', { err: (err as Error).message, bytes: rec.length });
    }
  }

  appender(): Appender {
    if (this.closed) throw new Error(`agent storage ${this.dir} is closed`);
    return new AgentAppender(this);
  }

  /** Number of active series. */
  seriesCount(): number {
    return this.activeSeries;
  }

  private setRef(s: AgentSeries): void {
    // Fill holes with undefined so the array stays packed (holey-to-dictionary needs a far larger gap).
    while (this.byRef.length < s.ref) this.byRef.push(undefined);
    if (this.byRef[s.ref] === undefined) this.activeSeries++;
    this.byRef[s.ref] = s;
  }

  private unsetRef(ref: number): void {
    if (this.byRef[ref] === undefined) return;
    this.byRef[ref] = undefined;
    this.activeSeries--;
  }

  /** End of what is durable in the WAL (the queues read up to here). */
  committed(): WalPosition {
    return this.wal.committedPosition();
  }

  /** The newest checkpoint's segment (-1: none); segments up to it are gone. */
  checkpointSegment(): number {
    return this.wal.checkpointSegment();
  }

  checkpointFile(): string {
    return join(this.walDir, `checkpoint.${segmentName(this.wal.checkpointSegment())}`, segmentName(0));
  }

  segmentPath(n: number): string {
    return join(this.walDir, segmentName(n));
  }

  segments(): Promise<number[]> {
    return listSegments(this.walDir);
  }

  /** Calls `listener` after every commit (and at close) until the returned function is called. */
  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  private notifyCommit(): void {
    for (const l of [...this.commitListeners]) l();
  }

  /** @internal the appender's view. */
  getByRef(ref: number): AgentSeries | undefined {
    return this.byRef[ref];
  }

  /** @internal Finds or creates the series for `labels` (not written to the WAL until a commit carries it). */
  getOrCreate(labels: Labels): AgentSeries {
    const key = labelsKey(labels);
    let s = this.byKey.get(key);
    if (s !== undefined) return s;
    const problem = labelsProblem(labels);
    if (problem !== null) throw new StorageError('invalid', `invalid series ${safeLabels(labels)}: ${problem}`);
    s = newSeries(this.nextRef++, Object.isFrozen(labels) ? labels : Object.freeze([...labels]), key);
    s.lastAppendMs = this.now();
    this.setRef(s);
    this.byKey.set(key, s);
    this.stats.seriesCreated++;
    return s;
  }

  /** @internal Brings a collected series back because a commit carries its samples. */
  resurrect(s: AgentSeries): void {
    s.deleted = false;
    s.logState = LogState.None; // its series record may be gone with the truncated segments
    this.deleted.delete(s.ref);
    this.setRef(s);
    if (!this.byKey.has(s.key)) this.byKey.set(s.key, s);
  }

  /** @internal Writes one commit's records; see AgentAppender.commit. */
  async writeCommit(touched: readonly AgentSeries[], refs: Uint32Array, ts: Float64Array, vs: Float64Array, n: number): Promise<void> {
    if (this.closed) throw new Error(`agent storage ${this.dir} is closed; ${n} samples not written`);
    const newSeries: AgentSeries[] = [];
    for (const s of touched) {
      if (s.deleted) this.resurrect(s);
      // Written again while another commit's record of it is in flight: that write may yet fail.
      if (s.logState !== LogState.Durable) {
        newSeries.push(s);
        s.logState = LogState.InFlight;
      }
      s.inflight++;
    }
    const records: Uint8Array[] = [];
    if (newSeries.length > 0) records.push(encodeSeriesRecord(newSeries.map((s) => ({ ref: s.ref, labels: s.labels }))));
    let maxT = -Infinity;
    for (let i = 0; i < n; i++) if (ts[i]! > maxT) maxT = ts[i]!;
    if (n > 0) records.push(encodeSamplesRecord(refs, ts, vs, n));
    try {
      if (records.length > 0) await this.wal.log(records, maxT);
    } catch (err) {
      this.stats.commitFailures++;
      for (const s of newSeries) if (s.logState === LogState.InFlight) s.logState = LogState.None;
      throw new Error(`agent WAL commit of ${n} samples failed: ${(err as Error).message}`);
    } finally {
      for (const s of touched) s.inflight--;
    }
    for (const s of newSeries) s.logState = LogState.Durable;
    const seg = this.wal.committedPosition().segment;
    const nowMs = this.now();
    for (const s of touched) {
      if (seg > s.lastSeg) s.lastSeg = seg;
      s.lastAppendMs = nowMs;
    }
    this.stats.samplesAppended += n;
    this.stats.commits++;
    this.notifyCommit();
  }

  /**
   * Deletes the segments before `keepFrom` (every remote queue has sent them), writing a checkpoint of the
   * series still needed, and garbage-collects idle series whose records all sit in deleted segments.
   * Concurrent calls share one run.
   */
  truncate(keepFrom: number): Promise<TruncateResult> {
    if (this.truncating !== null) return this.truncating;
    this.truncating = this.doTruncate(keepFrom).finally(() => {
      this.truncating = null;
    });
    return this.truncating;
  }

  private async doTruncate(keepFrom: number): Promise<TruncateResult> {
    const segs = await this.segments();
    if (this.closed || segs.length === 0 || segs[0]! >= keepFrom) {
      return { deletedSegments: 0, collectedSeries: 0, checkpointSegment: this.wal.checkpointSegment() };
    }
    const idleBefore = this.now() - this.seriesIdleMs;
    let collected = 0;
    for (const s of this.byRef) {
      if (s === undefined || s.inflight > 0 || s.lastSeg >= keepFrom || s.lastAppendMs > idleBefore || s.stagedTs > s.lastTs) continue;
      this.unsetRef(s.ref);
      if (this.byKey.get(s.key) === s) this.byKey.delete(s.key);
      s.deleted = true;
      this.deleted.set(s.ref, s);
      collected++;
    }
    this.stats.seriesCollected += collected;
    const t0 = performance.now();
    const deletedSegments = await this.wal.checkpoint(Infinity, (last) => this.checkpointRecords(last), keepFrom - 1);
    const cp = this.wal.checkpointSegment();
    for (const [ref, s] of this.deleted) if (s.lastSeg <= cp) this.deleted.delete(ref);
    if (deletedSegments > 0 || collected > 0) {
      this.logger.info('agent WAL truncated', {
        deleted_segments: deletedSegments,
        checkpoint: cp,
        collected_series: collected,
        active_series: this.activeSeries,
        duration_ms: Math.round(performance.now() - t0),
      });
    }
    return { deletedSegments, collectedSeries: collected, checkpointSegment: cp };
  }

  /** META + every series a segment after `last` may mention; yields between batches. */
  private async checkpointRecords(last: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [encodeMetaRecord(this.nextRef, -Infinity)];
    let batch: { ref: number; labels: Labels }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      out.push(encodeSeriesRecord(batch));
      batch = [];
      await new Promise<void>((r) => setImmediate(r));
    };
    for (const s of this.byRef.slice()) {
      if (s === undefined) continue;
      batch.push({ ref: s.ref, labels: s.labels });
      if (batch.length >= SERIES_PER_CHECKPOINT_RECORD) await flush();
    }
    for (const s of [...this.deleted.values()]) {
      if (s.lastSeg <= last) continue;
      batch.push({ ref: s.ref, labels: s.labels });
      if (batch.length >= SERIES_PER_CHECKPOINT_RECORD) await flush();
    }
    await flush();
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.truncating?.catch(() => undefined);
    this.closed = true;
    await this.wal.close();
    this.notifyCommit();
  }
}

function newSeries(ref: number, labels: Labels, key: string): AgentSeries {
  return {
    ref,
    labels,
    key,
    lastTs: -Infinity,
    lastV: 0,
    stagedTs: -Infinity,
    stagedV: 0,
    logState: LogState.None,
    lastSeg: -1,
    lastAppendMs: 0,
    inflight: 0,
    deleted: false,
    owner: null,
  };
}

/** Why a label set cannot be stored (null when fine): Argus's `Labels` invariants. */
function labelsProblem(ls: Labels): string | null {
  if (ls.length === 0) return 'no labels';
  if ((ls.length & 1) !== 0) return `odd number of label strings (${ls.length})`;
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i];
    const v = ls[i + 1];
    if (typeof n !== 'string' || typeof v !== 'string') return `label ${i >> 1} is not a string pair`;
    if (n === '') return 'empty label name';
    if (v === '') return `label ${JSON.stringify(n)} has an empty value`;
    if (i > 0 && !(ls[i - 2]! < n)) return `label names not sorted or duplicated at ${JSON.stringify(n)}`;
  }
  return null;
}

function safeLabels(ls: Labels): string {
  try {
    const s = labelsToString(ls);
    return s.length > 200 ? s.slice(0, 200) + '…' : s;
  } catch {
    return '(unprintable labels)';
  }
}

const INITIAL_CAPACITY = 256;
/** Staging columns kept for reuse: about one per scrape in flight at a time. */
const MAX_POOLED_STAGING = 16;

/** An appender's staging columns; reused across appenders, so a scrape allocates none in steady state. */
class Staging extends StagedSamples {
  /** The series of each staged sample, so that commit needs no lookup. */
  ser: (AgentSeries | null)[] = [];

  constructor() {
    super(INITIAL_CAPACITY);
  }
}

const stagingPool: Staging[] = [];

function takeStaging(): Staging {
  return stagingPool.pop() ?? new Staging();
}

/** Returns staging columns to the pool, dropping its first `n` series references. */
function giveBackStaging(st: Staging, n: number): void {
  const ser = st.ser;
  for (let i = 0; i < n; i++) ser[i] = null;
  if (stagingPool.length < MAX_POOLED_STAGING) stagingPool.push(st);
}

/** One scrape's (or one request's) samples, staged in columns until commit. */
class AgentAppender implements Appender {
  private cols: Staging | null = null;
  private n = 0;
  /** Series this appender staged samples of, each once. */
  private readonly touched: AgentSeries[] = [];
  /**
   * Touched series whose `owner` another appender has taken since (only when two open appenders stage
   * the same series, which scrapes never do): membership must stay exact for the duplicate check.
   */
  private lost: Set<AgentSeries> | null = null;
  private done = false;

  constructor(private readonly st: AgentStorage) {}

  private hasTouched(s: AgentSeries): boolean {
    return s.owner === this || (this.lost !== null && this.lost.has(s));
  }

  private touch(s: AgentSeries): void {
    if (this.hasTouched(s)) return;
    const prev = s.owner;
    if (prev !== null) (prev.lost ??= new Set()).add(s);
    s.owner = this;
    this.touched.push(s);
  }

  /** Ends this appender's ownership marks (commit or rollback). */
  private release(): void {
    for (const s of this.touched) if (s.owner === this) s.owner = null;
    this.lost = null;
  }

  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef {
    if (this.done) throw new Error('appender already committed or rolled back');
    if (!Number.isSafeInteger(t)) throw new StorageError('invalid', `timestamp ${t} is not an integer number of milliseconds`);
    let s = ref !== 0 ? this.st.getByRef(ref) : undefined;
    if (s === undefined) s = this.st.getOrCreate(labels);
    const newest = s.stagedTs > s.lastTs ? s.stagedTs : s.lastTs;
    if (t <= newest) {
      const newestV = s.stagedTs > s.lastTs ? s.stagedV : s.lastV;
      if (t < newest) throw new StorageError('out_of_order', `out of order sample for ${safeLabels(s.labels)} at ${t}: the series already has one at ${newest}`);
      if (!sameBits(v, newestV)) throw new StorageError('duplicate_timestamp', `duplicate sample for ${safeLabels(s.labels)} at ${t} with a different value`);
      // An identical sample is dropped, unless only another open appender staged it (it may roll back).
      const stagedElsewhere = s.stagedTs > s.lastTs && !this.hasTouched(s);
      if (!stagedElsewhere) return s.ref;
    }
    s.stagedTs = t;
    s.stagedV = v;
    const c = (this.cols ??= takeStaging());
    const i = this.n;
    if (i === c.refs.length) c.grow();
    c.refs[i] = s.ref;
    c.ts[i] = t;
    c.vs[i] = v;
    c.ser[i] = s;
    this.n = i + 1;
    this.touch(s);
    return s.ref;
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error('appender already committed or rolled back');
    this.done = true;
    const c = this.cols;
    const n = this.n;
    if (c === null || n === 0) return;
    this.cols = null;
    try {
      await this.st.writeCommit(this.touched, c.refs, c.ts, c.vs, n);
    } catch (err) {
      this.unstage();
      this.release();
      giveBackStaging(c, n);
      throw err;
    }
    this.release();
    // Committed: the ordering state moves forward (per series, the newest sample of this commit).
    const { ser, ts, vs } = c;
    for (let i = 0; i < n; i++) {
      const s = ser[i]!;
      const t = ts[i]!;
      if (t >= s.lastTs) {
        s.lastTs = t;
        s.lastV = vs[i]!;
      }
    }
    giveBackStaging(c, n);
  }

  rollback(): void {
    if (this.done) return;
    this.done = true;
    this.unstage();
    this.release();
    if (this.cols !== null) giveBackStaging(this.cols, this.n);
    this.cols = null;
    this.n = 0;
  }

  /** Forgets what this appender staged so that the same samples can be appended again. */
  private unstage(): void {
    for (const s of this.touched) {
      if (s.stagedTs > s.lastTs) {
        s.stagedTs = s.lastTs;
        s.stagedV = s.lastV;
      }
    }
  }
}
