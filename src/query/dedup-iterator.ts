/**
 * Query-time replica deduplication of one series: the samples of N replicas of the same series (the same
 * target scraped by an HA pair) merged into one stream by a penalty rule in the spirit of Thanos Query's
 * `dedupSeriesIterator`: stay on one replica, switch only when it misses scrapes, and never emit a sample
 * from another replica too close to the last one (which would raise the sampling rate).
 *
 * How Argus's rule differs from Thanos's, and why:
 * - Thanos penalises the replicas it did not pick by twice the last emitted delta, so at every switch up to
 *   two scrape intervals of the other replica's data are dropped (its own TODO, thanos#981). Argus keeps an
 *   estimate of the scrape interval `d` and switches as soon as the current replica is late — its next
 *   sample more than 1.5·d after the last one emitted — to the other replicas' earliest sample more than d/2
 *   after it. A scrape missed by one replica is filled by the other whenever that can be done without two
 *   samples closer than half an interval.
 * - `d` is the smallest of the last three deltas between consecutive samples of the replica followed (the
 *   smallest, so that missed scrapes do not stretch it). The delta across a gap that the merge fills from
 *   another replica is not an interval and is not counted — unless the merge had only just switched to the
 *   replica that is late again: flapping between replicas means the scrape interval itself grew (say from
 *   15 s to 1 m), and after three such deltas the merge follows one replica again, as Thanos's
 *   delta-proportional penalty also ends up doing.
 * - Thanos starts with a fixed 5 s penalty, so replicas whose scrape phases differ by more than 5 s emit both
 *   first samples. Argus reads each replica's first two samples before it emits anything and takes the
 *   smallest first delta as the initial interval (5 s half-interval only when no replica has two samples).
 * - Counters (selected by the function hint, exactly Thanos's list: rate, increase, irate, resets): Thanos
 *   only lifts a replica whose value is below the last one emitted. Argus aligns the replica switched to on
 *   its own sample nearest the last emitted timestamp (against the merged value at that time, interpolated
 *   between the last two emitted samples), so its increments continue from the merged counter: no false
 *   reset when it counts lower, no false jump when it counts higher. The result is never below the last
 *   value emitted (Thanos's lift is the floor, and the whole rule when the replica reset since that sample).
 *   After a stale marker nothing is adjusted (as Thanos: there is no last value to continue from).
 *
 * Per sample the iterator allocates no objects: replica state lives in typed arrays sized once.
 */
import { ValueType, type SampleIterator } from '../storage/interface.js';

/** Functions whose input Thanos treats as counters (pkg/dedup isCounter). */
const COUNTER_FUNCS = new Set(['rate', 'increase', 'irate', 'resets']);

export function isCounterFunction(func: string | undefined): boolean {
  return func !== undefined && COUNTER_FUNCS.has(func);
}

/** The interval assumed before any replica has shown two samples (so that half of it is Thanos's 5 s). */
export const FALLBACK_INTERVAL_MS = 10_000;
/** The current replica is late (a switch is considered) when its next sample is further than this many intervals. */
export const LATE_FACTOR = 1.5;
/** Another replica's sample is eligible only this many intervals after the last sample emitted. */
export const MIN_SWITCH_FACTOR = 0.5;

/** The offset `a` closest to `last - v` with `v + a >= last` in floating point (so no 1-ulp dip reads as a reset). */
function liftTo(v: number, last: number): number {
  let a = last - v;
  for (let i = 0; i < 8 && v + a < last; i++) a += Math.max(Math.abs(a) * Number.EPSILON, Number.MIN_VALUE);
  return a;
}

const enum State {
  Unstarted = 0,
  Running = 1,
  Done = 2,
}

export class DedupIterator implements SampleIterator {
  private readonly its: readonly SampleIterator[];
  private readonly counter: boolean;
  /** Each replica's current sample; `+Infinity` once the replica is exhausted. */
  private readonly curT: Float64Array;
  private readonly curV: Float64Array;
  private readonly curType: Uint8Array;
  /**
   * 1 when the replica's child iterator already sits one sample past `cur` (the start-up look-ahead), with
   * that sample's type in `heldType`.
   */
  private readonly held: Uint8Array;
  private readonly heldType: Uint8Array;
  /** 1 when the child iterator returned None: nothing beyond what is loaded. */
  private readonly childDone: Uint8Array;
  /** Counter offsets added to each replica's values, and the alignment sample found when a switch was considered. */
  private readonly adj: Float64Array;
  private readonly alignT: Float64Array;
  private readonly alignV: Float64Array;
  /** The last three deltas between consecutive samples of the replica followed (a ring; see the header). */
  private readonly hist = new Float64Array(3);
  private histN = 0;
  private histPos = 0;
  /** The scrape interval estimate: the smallest delta in the ring (the fallback while it is empty). */
  private d = FALLBACK_INTERVAL_MS;

  private state = State.Unstarted;
  private cur = -1;
  /** Whether the last sample emitted came from a switch of replica. */
  private switched = false;
  private lastT = -Infinity;
  private outV = 0;
  private outType: ValueType = ValueType.None;
  /** The value emitted at `lastT` (after adjustment); NaN when it was not a float or a stale marker. */
  private lastV = NaN;
  /** The sample emitted before that one (for interpolating the merged counter when aligning). */
  private prevT = -Infinity;
  private prevV = NaN;

  /** `its` are fresh iterators over the replicas, in a stable order (ties go to the first). */
  constructor(its: readonly SampleIterator[], counter: boolean) {
    if (its.length === 0) throw new Error('DedupIterator needs at least one replica iterator');
    const n = its.length;
    this.its = its;
    this.counter = counter;
    this.curT = new Float64Array(n);
    this.curV = new Float64Array(n);
    this.curType = new Uint8Array(n);
    this.held = new Uint8Array(n);
    this.heldType = new Uint8Array(n);
    this.childDone = new Uint8Array(n);
    this.adj = new Float64Array(n);
    this.alignT = new Float64Array(n);
    this.alignV = new Float64Array(n);
  }

  /** Records a delta between consecutive samples of one replica; `d` becomes the smallest in the ring. */
  private pushDelta(delta: number): void {
    const h = this.hist;
    h[this.histPos] = delta;
    this.histPos = this.histPos === 2 ? 0 : this.histPos + 1;
    if (this.histN < 3) this.histN++;
    let m = h[0]!;
    if (this.histN > 1 && h[1]! < m) m = h[1]!;
    if (this.histN > 2 && h[2]! < m) m = h[2]!;
    this.d = m;
  }

  private load(i: number): void {
    const it = this.its[i]!;
    this.curT[i] = it.atT();
    this.curV[i] = it.atF();
  }

  /** Moves replica `i` to its first sample at or after `t`; false when it has none. */
  private advanceTo(i: number, t: number): boolean {
    if (this.curT[i]! >= t) return this.curT[i] !== Infinity;
    if (this.held[i] === 1) {
      this.held[i] = 0;
      if (this.childDone[i] === 1) {
        this.curT[i] = Infinity;
        return false;
      }
      this.curType[i] = this.heldType[i]!;
      this.load(i);
      if (this.curT[i]! >= t) return true;
    }
    if (this.childDone[i] === 1) {
      this.curT[i] = Infinity;
      return false;
    }
    const vt = this.its[i]!.seek(t);
    if (vt === ValueType.None) {
      this.childDone[i] = 1;
      this.curT[i] = Infinity;
      return false;
    }
    this.curType[i] = vt;
    this.load(i);
    return true;
  }

  /**
   * Positions every replica on its first sample (at or after `from`) and looks one sample further, so that
   * the first interval estimate comes from the data; then emits the earliest first sample.
   */
  private start(from: number): ValueType {
    this.state = State.Running;
    let minDelta = Infinity;
    let best = -1;
    for (let i = 0; i < this.its.length; i++) {
      const it = this.its[i]!;
      this.alignT[i] = NaN;
      const vt = from === -Infinity ? it.next() : it.seek(from);
      if (vt === ValueType.None) {
        this.childDone[i] = 1;
        this.curT[i] = Infinity;
        continue;
      }
      this.curType[i] = vt;
      this.load(i);
      this.held[i] = 1;
      const vt2 = it.next();
      if (vt2 === ValueType.None) this.childDone[i] = 1;
      else {
        // The child now sits on the second sample; `advanceTo` loads it when the replica moves on.
        minDelta = Math.min(minDelta, it.atT() - this.curT[i]!);
        this.heldType[i] = vt2;
      }
      if (best < 0 || this.curT[i]! < this.curT[best]!) best = i;
    }
    if (minDelta !== Infinity) this.pushDelta(minDelta);
    if (best < 0) {
      this.state = State.Done;
      return ValueType.None;
    }
    return this.emit(best, false);
  }

  private emit(i: number, switched: boolean): ValueType {
    const t = this.curT[i]!;
    if (!switched && this.lastT !== -Infinity) this.pushDelta(t - this.lastT);
    if (switched && this.counter) this.align(i);
    this.cur = i;
    this.switched = switched;
    this.prevT = this.lastT;
    this.prevV = this.lastV;
    this.lastT = t;
    const type = this.curType[i]! as ValueType;
    const raw = this.curV[i]!;
    // Stale markers (and any NaN) go out bit for bit: arithmetic would turn the marker into an ordinary NaN.
    const v = this.counter && raw === raw ? raw + this.adj[i]! : raw;
    this.outType = type;
    this.outV = v;
    this.lastV = type === ValueType.Float ? v : NaN;
    return type;
  }

  /** Counter mode, at a switch to replica `j`: make its values continue from the merged counter. */
  private align(j: number): void {
    const last = this.lastV;
    if (last !== last) return; // after a stale marker (or a non-float) there is nothing to continue from
    const v = this.curV[j]!;
    const aT = this.alignT[j]!;
    const aV = this.alignV[j]!;
    // Its increments since the alignment sample, on top of the merged value then (unless it reset since).
    if (aT === aT && aV === aV && v >= aV) this.adj[j] = this.mergedAt(aT) - aV;
    // Never below the last value emitted, not even by rounding: that would read as a counter reset.
    if (last > v + this.adj[j]! && Number.isFinite(last) && Number.isFinite(v)) this.adj[j] = liftTo(v, last);
  }

  /** The merged counter at `t` (at most `lastT`): interpolated between the last two emitted samples, else the last. */
  private mergedAt(t: number): number {
    const { prevT, prevV, lastT, lastV } = this;
    if (t >= lastT || prevT === -Infinity || prevV !== prevV || t < prevT) return lastV;
    if (t === prevT) return prevV;
    return prevV + ((lastV - prevV) * (t - prevT)) / (lastT - prevT);
  }

  /**
   * Moves replica `j` (not the current one) to its first sample more than `minGap` after `lastT`. In counter
   * mode it first notes its sample nearest `lastT`, which `align` uses if the merge switches to it.
   */
  private positionOther(j: number, minGap: number, d: number): void {
    const lastT = this.lastT;
    if (this.counter) {
      let aT = NaN;
      let aV = NaN;
      if (this.curT[j]! <= lastT) {
        this.advanceTo(j, Math.floor(lastT - 2 * d));
        // Walk (rather than seek) to the last sample at or before lastT: at most about two intervals.
        while (this.curT[j]! <= lastT) {
          aT = this.curT[j]!;
          aV = this.curType[j] === ValueType.Float ? this.curV[j]! : NaN;
          this.advanceTo(j, aT + 1);
        }
      }
      const next = this.curT[j]!;
      if (next !== Infinity && (aT !== aT || next - lastT < lastT - aT)) {
        aT = next;
        aV = this.curType[j] === ValueType.Float ? this.curV[j]! : NaN;
      }
      this.alignT[j] = aT;
      this.alignV[j] = aV;
    }
    this.advanceTo(j, Math.floor(lastT + minGap) + 1);
  }

  next(): ValueType {
    if (this.state === State.Running) return this.step();
    if (this.state === State.Unstarted) return this.start(-Infinity);
    return ValueType.None;
  }

  private step(): ValueType {
    const c = this.cur;
    const lastT = this.lastT;
    const d = this.d;
    if (this.held[c] === 0 && this.childDone[c] === 0) {
      // The usual case: the child sits on the sample just emitted, so its next sample is the one after lastT
      // (a plain next(): no seek, and no double passed to a call, which V8 would box).
      const it = this.its[c]!;
      const vt = it.next();
      if (vt === ValueType.None) {
        this.childDone[c] = 1;
        this.curT[c] = Infinity;
      } else {
        this.curType[c] = vt;
        this.curT[c] = it.atT();
        this.curV[c] = it.atF();
      }
    } else this.advanceTo(c, lastT + 1);
    const tc = this.curT[c]!;
    if (tc !== Infinity && tc - lastT <= LATE_FACTOR * d) return this.emit(c, false);
    // The current replica is late or done: the earliest eligible sample of another replica, if earlier.
    let best = -1;
    let bt = tc;
    const minGap = MIN_SWITCH_FACTOR * d;
    for (let j = 0; j < this.its.length; j++) {
      if (j === c) continue;
      this.positionOther(j, minGap, d);
      if (this.curT[j]! < bt) {
        best = j;
        bt = this.curT[j]!;
      }
    }
    if (best >= 0) {
      // Late again right after a switch: flapping, so this replica's delta is the interval (see the header).
      if (this.switched && tc !== Infinity) this.pushDelta(tc - lastT);
      return this.emit(best, true);
    }
    if (tc !== Infinity) return this.emit(c, false);
    this.state = State.Done;
    this.outType = ValueType.None;
    return ValueType.None;
  }

  /**
   * Before the first `next()`, starts the merge at `t` (as a select starting at `t` would). Afterwards it
   * walks with `next()`, so that the replica choice and counter offsets stay those of a plain iteration.
   */
  seek(t: number): ValueType {
    if (this.state === State.Unstarted) return this.start(t);
    if (this.state === State.Done) return ValueType.None;
    if (this.lastT >= t) return this.outType;
    for (;;) {
      const vt = this.step();
      if (vt === ValueType.None || this.lastT >= t) return vt;
    }
  }

  atT(): number {
    return this.lastT;
  }

  atF(): number {
    return this.outV;
  }
}
