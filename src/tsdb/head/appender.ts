/**
 * Stages samples for one request in columns, then commits them: WAL write + fsync first, memory after, so
 * nothing is visible that is not durable. Samples are validated at staging against the committed state
 * and against what other in-flight appenders staged (`stagedT`), so concurrent requests cannot
 * interleave out of order.
 */
import type { Labels } from '../../model/labels.js';
import { sameBits } from '../../model/value.js';
import type { Appender, SeriesRef } from '../../storage/interface.js';
import { StorageError } from '../../storage/errors.js';
import { StagedSamples, encodeSamplesRecord, encodeSeriesRecord } from '../wal/records.js';
import type { Head } from './head.js';
import { Appendable as Check, type MemSeries } from './series.js';

export class HeadAppender implements Appender {
  private readonly head: Head;
  private readonly cols = new StagedSamples(1024);
  private n = 0;
  private done = false;
  private release: (() => void) | null = null;
  /** Settles when this appender has committed or rolled back (set once it holds staged samples). */
  finished: Promise<void> = Promise.resolve();

  constructor(head: Head) {
    this.head = head;
  }

  oooWindowMs(): number {
    return this.head.opts.outOfOrderWindowMs;
  }

  /** Samples before this are in blocks and rejected. */
  minValidTime(): number {
    return this.head.minValidTime;
  }

  /** Number of samples staged. */
  get size(): number {
    return this.n;
  }

  /**
   * The hot path used by the receiver: decides and stages one sample of a known series. Returns the
   * outcome; `InOrder`/`OutOfOrderInWindow` were staged, `Duplicate` was dropped as identical, others
   * are rejections for the caller to report.
   */
  stage(s: MemSeries, t: number, v: number): Check {
    let c: Check;
    if (t < this.head.minValidTime) {
      c = Check.TooOld; // that time range is in a block already
    } else if (t > s.stagedT && t > s.maxT) {
      c = Check.InOrder;
      s.stagedT = t;
      s.stagedV = v;
    } else if (t === s.stagedT && t > s.maxT) {
      // Another request staged the same sample (a retry): stage it again, the WAL and memory dedup it.
      c = sameBits(v, s.stagedV) ? Check.InOrder : Check.DuplicateTimestamp;
    } else {
      c = s.check(t, v, Math.max(s.maxT, s.stagedT), this.head.opts.outOfOrderWindowMs);
    }
    if (c === Check.InOrder || c === Check.OutOfOrderInWindow) this.push(s.ref, t, v);
    return c;
  }

  private push(ref: number, t: number, v: number): void {
    if (this.release === null && !this.done) {
      this.finished = new Promise<void>((r) => (this.release = r));
      this.head.activeAppenders.add(this);
    }
    const c = this.cols;
    if (this.n === c.refs.length) c.grow();
    c.refs[this.n] = ref;
    c.ts[this.n] = t;
    c.vs[this.n] = v;
    this.n++;
  }

  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef {
    let s = ref !== 0 ? this.head.getByRef(ref) : undefined;
    if (s === undefined) s = this.head.getOrCreate(labels).series;
    const c = this.stage(s, t, v);
    switch (c) {
      case Check.OutOfOrder:
        throw new StorageError('out_of_order', `out of order sample at ${t} (newest is ${s.maxT})`);
      case Check.TooOld:
        throw new StorageError(
          'too_old',
          t < this.head.minValidTime
            ? `too old sample at ${t}: before ${this.head.minValidTime}, which is already compacted into a block`
            : `too old sample at ${t}: older than the out-of-order window of ${this.head.opts.outOfOrderWindowMs}ms behind ${s.maxT}`,
        );
      case Check.DuplicateTimestamp:
        throw new StorageError('duplicate_timestamp', `duplicate sample for timestamp ${t} with a different value`);
      default:
        return s.ref;
    }
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error('appender already committed or rolled back');
    this.done = true;
    const head = this.head;
    const newSeries = head.takePendingSeries();
    const records: Uint8Array[] = [];
    if (newSeries.length > 0) records.push(encodeSeriesRecord(newSeries.map((s) => ({ ref: s.ref, labels: s.labels }))));
    const { refs, ts, vs } = this.cols;
    if (this.n > 0) records.push(encodeSamplesRecord(refs, ts, vs, this.n));
    try {
      if (records.length > 0 && head.wal !== null) {
        let maxT = -Infinity;
        for (let i = 0; i < this.n; i++) if (ts[i]! > maxT) maxT = ts[i]!;
        await head.wal.log(records, maxT);
      }
      for (let i = 0; i < this.n; i++) {
        const s = head.getByRef(refs[i]!);
        if (s !== undefined) head.commitSample(s, ts[i]!, vs[i]!);
      }
    } finally {
      this.settle();
    }
  }

  rollback(): void {
    this.done = true;
    this.n = 0;
    this.settle();
  }

  private settle(): void {
    this.head.activeAppenders.delete(this);
    this.release?.();
  }
}
