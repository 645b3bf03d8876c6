/**
 * The head: a tenant's recent data in memory (series, chunks, postings), made durable by its WAL.
 * It is both `Appendable` and `Queryable`; blocks (a later issue) answer through the same seams.
 */
import type { Labels } from '../../model/labels.js';
import { labelsKey, compareLabels } from '../../model/labels.js';
import type { Matcher } from '../../model/matcher.js';
import type {
  Appendable,
  LabelHints,
  Querier,
  Queryable,
  SelectHints,
  Series,
  SeriesSet,
} from '../../storage/interface.js';
import { StorageError } from '../../storage/errors.js';
import { Wal, type ReplayReport } from '../wal/wal.js';
import {
  REC_META,
  REC_SAMPLES,
  REC_SERIES,
  decodeMetaRecord,
  decodeSamplesRecord,
  decodeSeriesRecord,
  encodeMetaRecord,
  encodeSeriesRecord,
} from '../wal/records.js';
import { MemPostings } from './postings.js';
import { MemSeries, Appendable as Check } from './series.js';
import { snapshotIterator, snapshotOoo, type OooSamples } from './iterator.js';
import { HeadAppender } from './appender.js';

export interface HeadOptions {
  /** Accept samples up to this much older than a series' newest sample (0 = in order only, as Prometheus). */
  outOfOrderWindowMs?: number;
  /** Maximum number of series (0 = unlimited). */
  maxSeries?: number;
  /** Chunks never span this boundary (the block range; Prometheus's default is 2h). */
  chunkRangeMs?: number;
}

export interface HeadStats {
  series: number;
  chunks: number;
  minTime: number;
  maxTime: number;
  samplesAppended: number;
  outOfOrderSamples: number;
}

export class Head implements Appendable, Queryable {
  readonly tenant: string;
  /** Series by ref; index 0 is unused so that ref 0 can mean "unknown". */
  private readonly byRef: (MemSeries | undefined)[] = [undefined];
  private readonly byKey = new Map<string, MemSeries>();
  readonly postings = new MemPostings();
  private nextRef = 1;
  private seriesCount = 0;
  /** Series created since the last commit; their WAL record goes out ahead of the next samples record. */
  private pendingSeries: MemSeries[] = [];
  wal: Wal | null = null;
  opts: Required<HeadOptions>;
  minTime = Infinity;
  maxTime = -Infinity;
  samplesAppended = 0;
  outOfOrderSamples = 0;
  /**
   * Samples before this are in blocks: appends are rejected as too old (Prometheus's "out of bounds") and
   * WAL replay skips them, so nothing is counted twice.
   */
  minValidTime = -Infinity;
  /** Appenders holding staged samples; head compaction waits for them after raising `minValidTime`. */
  readonly activeAppenders = new Set<HeadAppender>();

  constructor(tenant: string, opts: HeadOptions = {}) {
    this.tenant = tenant;
    this.opts = { outOfOrderWindowMs: 0, maxSeries: 0, chunkRangeMs: 2 * 3_600_000, ...opts };
  }

  /** Opens a durable head: replays the WAL in `walDir` and logs to it from then on. */
  static async open(
    tenant: string,
    walDir: string,
    opts: HeadOptions = {},
    walOpts = {},
    minValidTime = -Infinity,
  ): Promise<{ head: Head; report: ReplayReport }> {
    const head = new Head(tenant, opts);
    head.minValidTime = minValidTime;
    const { wal, report } = await Wal.open(walDir, (rec) => head.replayRecord(rec), walOpts);
    head.wal = wal;
    return { head, report };
  }

  /** Records that passed their checksum but could not be decoded at replay (skipped, never fatal). */
  replaySkipped = 0;
  replaySkipReason = '';

  private replayRecord(rec: Uint8Array): number | void {
    try {
      return this.applyRecord(rec);
    } catch (err) {
      this.replaySkipped++;
      this.replaySkipReason ||= (err as Error).message;
      return Infinity; // unknown content: never let WAL truncation drop its segment
    }
  }

  /** Applies one WAL record; returns the newest sample time in it. */
  private applyRecord(rec: Uint8Array): number | void {
    switch (rec[0]) {
      case REC_SERIES:
        decodeSeriesRecord(rec, (ref, labels) => this.createWithRef(ref, labels));
        break;
      case REC_SAMPLES: {
        const { refs, ts, vs } = decodeSamplesRecord(rec);
        let maxT = -Infinity;
        for (let i = 0; i < refs.length; i++) {
          const t = ts[i]!;
          if (t > maxT) maxT = t;
          if (t < this.minValidTime) continue; // already in a block
          const s = this.byRef[refs[i]!];
          if (s === undefined) continue; // series record lost with a torn segment: nothing to attach to
          const c = s.check(t, vs[i]!, s.maxT, Infinity);
          if (c === Check.InOrder || c === Check.OutOfOrderInWindow) this.commitSample(s, t, vs[i]!);
        }
        return maxT;
      }
      case REC_META: {
        const m = decodeMetaRecord(rec);
        if (m.nextRef > this.nextRef) this.nextRef = m.nextRef;
        if (m.minValidTime > this.minValidTime) this.minValidTime = m.minValidTime;
        break;
      }
      default:
        // Unknown record types come from a newer version; skipping keeps the rest readable.
        break;
    }
  }

  private createWithRef(ref: number, labels: Labels): MemSeries {
    const key = labelsKey(labels);
    const existing = this.byKey.get(key);
    if (ref >= this.nextRef) this.nextRef = ref + 1;
    if (existing !== undefined) {
      // Replay: the same labels under another ref (a series dropped by compaction and created again, with
      // its old record still in a live segment). Later samples use the newer ref: route them here too.
      if (existing.ref !== ref && this.byRef[ref] === undefined) {
        this.byRef[ref] = existing;
        (existing.aliases ??= []).push(ref);
      }
      return existing;
    }
    const s = new MemSeries(ref, labels);
    this.byRef[ref] = s;
    this.byKey.set(key, s);
    this.postings.add(ref, labels);
    this.seriesCount++;
    return s;
  }

  /** Every series in the head (live iteration order: by labels key insertion). */
  allSeries(): IterableIterator<MemSeries> {
    return this.byKey.values();
  }

  /**
   * Drops the samples before `t` from memory (they were written to a block) and forgets series left
   * empty with nothing newer staged. Dropped refs are never handed out again (`nextRef` only grows), so a
   * cached ref either finds its series or nothing.
   */
  async truncateBefore(t: number): Promise<{ droppedSeries: number }> {
    const gone = new Set<number>();
    const goneLabels: Labels[] = [];
    let i = 0;
    for (const [key, s] of this.byKey) {
      const empty = s.truncateBefore(t);
      if (empty && s.stagedT < t && s.maxT < t && !this.pendingSeries.includes(s)) {
        // Unlinked at once (no await between the check and this), so no appender can stage into it later.
        gone.add(s.ref);
        goneLabels.push(s.labels);
        this.byKey.delete(key);
        this.byRef[s.ref] = undefined;
        for (const a of s.aliases ?? []) this.byRef[a] = undefined;
      }
      if (++i % 5_000 === 0) await new Promise((r) => setImmediate(r));
    }
    // Stale postings until here are harmless: selects skip refs without a series.
    this.postings.delete(gone, goneLabels);
    this.seriesCount -= gone.size;
    // One synchronous pass: samples committed during the yields above may have lowered a visited series' minT.
    let minT = Infinity;
    for (const s of this.byKey.values()) if (s.minT < minT) minT = s.minT;
    this.minTime = minT;
    if (minT === Infinity) this.maxTime = -Infinity;
    return { droppedSeries: gone.size };
  }

  /**
   * What a WAL checkpoint must hold for replay to rebuild the head's series: their records and nextRef.
   * Yields between batches (encoding a million series takes seconds); series created meanwhile are in
   * WAL segments after the checkpoint anyway.
   */
  async checkpointRecords(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [encodeMetaRecord(this.nextRef, this.minValidTime)];
    let batch: { ref: number; labels: Labels }[] = [];
    for (const s of this.byKey.values()) {
      batch.push({ ref: s.ref, labels: s.labels });
      for (const a of s.aliases ?? []) batch.push({ ref: a, labels: s.labels }); // later segments may use it
      if (batch.length >= 2_000) {
        out.push(encodeSeriesRecord(batch));
        batch = [];
        await new Promise((r) => setImmediate(r));
      }
    }
    if (batch.length > 0) out.push(encodeSeriesRecord(batch));
    return out;
  }

  /** Resolves when every appender active now has committed or rolled back (or after `timeoutMs`). */
  async waitForAppenders(timeoutMs: number): Promise<void> {
    const waits = [...this.activeAppenders].map((a) => a.finished);
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  getByRef(ref: number): MemSeries | undefined {
    return this.byRef[ref];
  }

  getByLabels(labels: Labels): MemSeries | undefined {
    return this.byKey.get(labelsKey(labels));
  }

  /**
   * Finds or creates the series. New series are visible to label queries at once (like Prometheus);
   * `created` tells the caller to log it to the WAL before its samples.
   */
  getOrCreate(labels: Labels): { series: MemSeries; created: boolean } {
    const key = labelsKey(labels);
    const existing = this.byKey.get(key);
    if (existing !== undefined) return { series: existing, created: false };
    if (this.opts.maxSeries > 0 && this.seriesCount >= this.opts.maxSeries) {
      throw new StorageError(
        'series_limit',
        `per-tenant series limit reached (limit max_global_series_per_user=${this.opts.maxSeries}); new series are rejected, existing ones still accept samples`,
      );
    }
    const series = this.createWithRef(this.nextRef, labels);
    this.pendingSeries.push(series);
    return { series, created: true };
  }

  /** Applies a validated sample to memory. */
  commitSample(s: MemSeries, t: number, v: number): void {
    const ooo = t < s.maxT;
    s.append(t, v, this.opts.chunkRangeMs);
    if (ooo) this.outOfOrderSamples++;
    this.samplesAppended++;
    if (t < this.minTime) this.minTime = t;
    if (t > this.maxTime) this.maxTime = t;
  }

  /** Takes the series created since the last call, for the WAL series record. */
  takePendingSeries(): MemSeries[] {
    const out = this.pendingSeries;
    this.pendingSeries = [];
    return out;
  }

  appender(): HeadAppender {
    return new HeadAppender(this);
  }

  numSeries(): number {
    return this.seriesCount;
  }

  stats(): HeadStats {
    let chunks = 0;
    for (const s of this.byKey.values()) chunks += s.numChunks();
    return {
      series: this.seriesCount,
      chunks,
      minTime: this.minTime,
      maxTime: this.maxTime,
      samplesAppended: this.samplesAppended,
      outOfOrderSamples: this.outOfOrderSamples,
    };
  }

  /** Series matching all matchers that have samples overlapping [mint, maxt], sorted by labels. */
  selectSeries(matchers: readonly Matcher[], mint: number, maxt: number): MemSeries[] {
    const refs = this.postings.select(matchers);
    const out: MemSeries[] = [];
    for (let i = 0; i < refs.length; i++) {
      const s = this.byRef[refs[i]!];
      if (s === undefined) continue;
      if (s.maxT === -Infinity || s.maxT < mint || s.minT > maxt) continue; // no samples yet, or none in range
      out.push(s);
    }
    out.sort((a, b) => compareLabels(a.labels, b.labels));
    return out;
  }

  querier(): Querier {
    return new HeadQuerier(this);
  }

  async close(): Promise<void> {
    await this.wal?.close();
  }
}

/**
 * A head series as of `select`: its chunk list (closed chunks are immutable; the open one is copied) and
 * out-of-order samples are taken at once, so head compaction dropping them later cannot cut a running
 * query short (the block that received them is part of queriers created from then on).
 */
class HeadSeries implements Series {
  private readonly chunks: Uint8Array[];
  private readonly ooo: OooSamples | null;
  constructor(
    s: MemSeries,
    private readonly mint: number,
    private readonly maxt: number,
  ) {
    this.labels = s.labels;
    this.chunks = s.chunksIn(mint, maxt);
    this.ooo = snapshotOoo(s, mint, maxt);
  }
  readonly labels: Labels;
  iterator() {
    return snapshotIterator(this.chunks, this.ooo, this.mint, this.maxt);
  }
}

class HeadQuerier implements Querier {
  constructor(private readonly head: Head) {}

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    const found = this.head.selectSeries(matchers, hints.start, hints.end);
    const limit = hints.limit && hints.limit > 0 ? Math.min(hints.limit, found.length) : found.length;
    const series: Series[] = new Array(limit);
    for (let i = 0; i < limit; i++) series[i] = new HeadSeries(found[i]!, hints.start, hints.end);
    return {
      warnings: [],
      async *[Symbol.asyncIterator]() {
        yield* series;
      },
    };
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const names = new Set<string>();
    if (matchers.length === 0 && this.overlaps(hints)) {
      for (const n of this.head.postings.labelNames()) names.add(n);
    } else {
      for (const s of this.head.selectSeries(matchers, hints.start, hints.end)) {
        for (let i = 0; i < s.labels.length; i += 2) names.add(s.labels[i]!);
      }
    }
    return limitSorted([...names], hints.limit);
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const values = new Set<string>();
    if (matchers.length === 0 && this.overlaps(hints)) {
      for (const v of this.head.postings.labelValues(name)) values.add(v);
    } else {
      for (const s of this.head.selectSeries(matchers, hints.start, hints.end)) {
        for (let i = 0; i < s.labels.length; i += 2) if (s.labels[i] === name) values.add(s.labels[i + 1]!);
      }
    }
    return limitSorted([...values], hints.limit);
  }

  private overlaps(h: LabelHints): boolean {
    return this.head.maxTime >= h.start && this.head.minTime <= h.end;
  }
}

function limitSorted(xs: string[], limit?: number): string[] {
  xs.sort();
  return limit && limit > 0 ? xs.slice(0, limit) : xs;
}

