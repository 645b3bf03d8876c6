/**
 * Selectors. Each selector reads its series once for the whole query range through the storage's sync
 * cursors into columns; instant-vector steps then look back over those columns, and range windows slide
 * over them.
 */
import type { Labels } from '../../model/labels.js';
import type { Matcher } from '../../model/matcher.js';
import { labelsToString } from '../../model/labels.js';
import { isStaleNaN } from '../../model/value.js';
import { ValueType, type SampleIterator, type SelectHints, type Series as StorageSeries } from '../../storage/interface.js';
import { execError, PromQLError } from './errors.js';
import type { Evaluator } from './evaluator.js';
import type { MSNode, VSNode } from './plan.js';
import { Series, type Matrix } from './value.js';

/**
 * The samples of one selected series in [mint, maxt], stale markers included. The columns passed to a
 * `streamSeries` callback are views of buffers reused for the next series: copy what must outlive it.
 */
export interface RawSeries {
  labels: Labels;
  ts: Float64Array;
  fs: Float64Array;
}

export function nativeHistogramError(labels: Labels): Error {
  return execError(
    `native histograms are not supported yet: series ${labelsToString(labels)} has native histogram samples`,
  );
}

/**
 * Selects the series matching `matchers` with samples in [mint, maxt] (inclusive) and reads each one's
 * samples into columns through the storage's sync cursor, one series at a time: `fn` sees a series, then
 * its buffers are reused, so memory stays at one series' raw samples plus what `fn` keeps.
 */
export async function streamSeries(
  ev: Evaluator,
  matchers: readonly Matcher[],
  mint: number,
  maxt: number,
  hintsExtra: Partial<SelectHints>,
  fn: (r: RawSeries) => void,
): Promise<void> {
  ev.checkDone();
  const hints: SelectHints = { start: mint, end: maxt, ...hintsExtra };
  if (!ev.isInstant && hints.step === undefined) hints.step = ev.interval;
  const buf = new SampleBuffer();
  let iter: AsyncIterator<StorageSeries> | null = null;
  try {
    const set = ev.q.querier.select(hints, matchers);
    iter = set[Symbol.asyncIterator]();
    for (;;) {
      // A storage that stalls must not outlive the query's deadline or cancellation.
      const next = await Promise.race([iter.next(), ev.q.done]);
      if (next.done === true) break;
      const s = next.value;
      const n = buf.read(s.iterator(), mint, maxt);
      if (n < 0) throw nativeHistogramError(s.labels);
      ev.q.loaded += n;
      fn({ labels: s.labels, ts: buf.ts.subarray(0, n), fs: buf.fs.subarray(0, n) });
      if (ev.shouldTick(n)) await ev.tick();
    }
    iter = null;
    for (const w of set.warnings) ev.q.warnings.push(w);
  } catch (err) {
    if (err instanceof PromQLError) throw err;
    throw execError(`expanding series: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    // Stop a storage iteration that ends early (error, timeout).
    if (iter !== null) void iter.return?.()?.catch(() => undefined);
  }
}

/** Growable columns that one series' samples are read into, reused for the next series. */
class SampleBuffer {
  ts = new Float64Array(256);
  fs = new Float64Array(256);

  /**
   * Reads the iterator's samples in [mint, maxt] into the columns; returns their number, or -1 when the
   * series has a sample that is not a float. (A plain method rather than a loop in the async caller, so
   * that the hottest loop of a query compiles on its own.)
   */
  read(it: SampleIterator, mint: number, maxt: number): number {
    let ts = this.ts;
    let fs = this.fs;
    let n = 0;
    for (;;) {
      const vt = it.next();
      if (vt === ValueType.None) break;
      if (vt !== ValueType.Float) return -1;
      const t = it.atT();
      if (t < mint) continue;
      if (t > maxt) break;
      if (n === ts.length) {
        const t2 = new Float64Array(n * 2);
        const f2 = new Float64Array(n * 2);
        t2.set(ts);
        f2.set(fs);
        this.ts = ts = t2;
        this.fs = fs = f2;
      }
      ts[n] = t;
      fs[n] = it.atF();
      n++;
    }
    return n;
  }
}

/** The series' columns without stale markers (range windows never contain them); compacts in place. */
export function withoutStale(r: RawSeries): { ts: Float64Array; fs: Float64Array } {
  const { ts, fs } = r;
  let j = 0;
  for (let i = 0; i < fs.length; i++) {
    const f = fs[i]!;
    if (f !== f && isStaleNaN(f)) continue;
    if (j !== i) {
      ts[j] = ts[i]!;
      fs[j] = f;
    }
    j++;
  }
  return j === fs.length ? { ts, fs } : { ts: ts.subarray(0, j), fs: fs.subarray(0, j) };
}

/**
 * An instant vector selector over the grid: at each step the newest sample within the lookback delta
 * (none when it is a stale marker). With `timestamps`, the value is the sample's own time in seconds
 * (`timestamp(selector)`), and the output drops the metric name.
 */
export async function evalVectorSelector(ev: Evaluator, vs: VSNode, timestamps: boolean): Promise<Matrix> {
  const lb = ev.q.lookback;
  // With `timestamp(x @ T)` Prometheus looks up exactly at T, without the selector's offset.
  const atRef = vs.at === null ? null : timestamps ? vs.at : vs.at - vs.offset;
  const firstRef = atRef ?? ev.start - vs.offset;
  const lastRef = atRef ?? ev.end - vs.offset;
  const out: Matrix = [];
  const capacity = Math.min(ev.steps, 1024);
  const smoothed = vs.smoothed && !timestamps;
  await streamSeries(ev, vs.matchers, firstRef - lb + 1, lastRef + (vs.smoothed ? lb : 0), { func: timestamps ? 'timestamp' : undefined }, (r) => {
    const s = smoothed ? smoothOne(ev, vs, r) : lookback(ev, vs, r, atRef, timestamps, capacity);
    if (s.n > 0) out.push(s);
  });
  // `timestamp(selector)` drops the metric name.
  return timestamps ? ev.mergeDropped(out) : out;
}

/** The newest sample within the lookback delta at each step. */
function lookback(ev: Evaluator, vs: VSNode, r: RawSeries, atRef: number | null, timestamps: boolean, capacity: number): Series {
  const lb = ev.q.lookback;
  const s = new Series(timestamps ? ev.dropName(r.labels) : r.labels, timestamps, capacity);
  const rts = r.ts;
  const rfs = r.fs;
  const n = rts.length;
  const steps = ev.steps;
  const start = ev.start;
  const interval = ev.interval;
  const offset = vs.offset;
  let j = 0;
  for (let i = 0; i < steps; i++) {
    const t = start + i * interval;
    const ref = atRef ?? t - offset;
    while (j < n && rts[j]! <= ref) j++;
    if (j === 0) continue;
    const st = rts[j - 1]!;
    if (st <= ref - lb) continue;
    const f = rfs[j - 1]!;
    if (f !== f && isStaleNaN(f)) continue;
    s.push(t, timestamps ? st / 1000 : f);
  }
  // Counted once per series: the count only grows, so the limit trips exactly when it would sample by sample.
  ev.addSamples(s.n);
  return s;
}

/** `smoothed` instant selector: the value interpolated at the reference time from its neighbours. */
function smoothOne(ev: Evaluator, vs: VSNode, r: RawSeries): Series {
  const lb = ev.q.lookback;
  const { ts, fs } = withoutStale(r);
  const s = new Series(r.labels, false, Math.min(ev.steps, 64));
  for (let i = 0; i < ev.steps; i++) {
    const t = ev.stepTime(i);
    const ref = (vs.at ?? t) - vs.offset;
    // Window (ref - lb, ref + lb].
    const lo = upperBound(ts, ref - lb);
    const hi = upperBound(ts, ref + lb);
    if (lo >= hi) continue;
    const k = lowerBound(ts, ref, lo, hi);
    if (k < hi && ts[k] === ref) s.push(t, fs[k]!);
    else if (k > lo && k < hi) s.push(t, interpolate(ts[k - 1]!, fs[k - 1]!, ts[k]!, fs[k]!, ref, false));
    else if (k > lo) s.push(t, fs[k - 1]!);
    else continue;
    ev.addSamples(1);
  }
  return s;
}

/** First index in [lo, hi) with ts[i] > x. */
export function upperBound(ts: Float64Array, x: number, lo = 0, hi = ts.length): number {
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ts[m]! <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** First index in [lo, hi) with ts[i] >= x. */
export function lowerBound(ts: Float64Array, x: number, lo = 0, hi = ts.length): number {
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ts[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

export function interpolate(t1: number, f1: number, t2: number, f2: number, t: number, isCounter: boolean): number {
  let y1 = f1;
  if (isCounter && f2 < f1) y1 = 0;
  return y1 + ((f2 - y1) * (t - t1)) / (t2 - t1);
}

/**
 * Anchored/smoothed windows: the samples inside (mint, maxt) plus points exactly at both boundaries, taken
 * from the nearest sample outside (anchored) or interpolated (smoothed). Input covers the extended window.
 */
export function extendWindow(
  ts: Float64Array,
  fs: Float64Array,
  lo: number,
  hi: number,
  mint: number,
  maxt: number,
  smoothed: boolean,
): { ts: Float64Array; fs: Float64Array } | null {
  if (hi <= lo) return null;
  let last = hi - 1;
  let first = Math.max(lo, upperBound(ts, mint, lo, last) - 1);
  if (smoothed) last = lowerBound(ts, maxt, lo, last);
  if (ts[last]! <= mint) return { ts: new Float64Array(0), fs: new Float64Array(0) };
  const left =
    smoothed && ts[first]! < mint ? interpolate(ts[first]!, fs[first]!, ts[first + 1]!, fs[first + 1]!, mint, false) : fs[first]!;
  const right =
    smoothed && last > lo && ts[last]! > maxt
      ? interpolate(ts[last - 1]!, fs[last - 1]!, ts[last]!, fs[last]!, maxt, false)
      : fs[last]!;
  if (ts[first]! <= mint) first++;
  if (ts[last]! >= maxt) last--;
  const count = Math.max(last - first + 1, 0);
  const ots = new Float64Array(count + 2);
  const ofs = new Float64Array(count + 2);
  ots[0] = mint;
  ofs[0] = left;
  for (let i = 0; i < count; i++) {
    ots[i + 1] = ts[first + i]!;
    ofs[i + 1] = fs[first + i]!;
  }
  ots[count + 1] = maxt;
  ofs[count + 1] = right;
  return { ts: ots, fs: ofs };
}

/** A range selector as the result of an instant query: the window's samples of each series. */
export async function evalMatrixSelector(ev: Evaluator, ms: MSNode): Promise<Matrix> {
  const vs = ms.vs;
  const lb = ev.q.lookback;
  const maxt = (vs.at ?? ev.start) - vs.offset;
  const mint = maxt - ms.range;
  const selMint = vs.anchored || vs.smoothed ? mint - lb : mint;
  const selMaxt = vs.smoothed ? maxt + lb : maxt;
  const out: Matrix = [];
  await streamSeries(ev, vs.matchers, selMint + 1, selMaxt, { range: ms.range }, (r) => {
    const { ts, fs } = withoutStale(r);
    const lo = upperBound(ts, selMint);
    const hi = upperBound(ts, selMaxt);
    let wts: Float64Array;
    let wfs: Float64Array;
    if (vs.anchored || vs.smoothed) {
      const ext = extendWindow(ts, fs, lo, hi, mint, maxt, vs.smoothed);
      if (ext === null) return;
      wts = ext.ts;
      wfs = ext.fs;
    } else {
      wts = ts.slice(lo, hi);
      wfs = fs.slice(lo, hi);
    }
    if (wts.length === 0) return;
    ev.addSamples(wts.length);
    out.push(Series.from(r.labels, wts, wfs));
  });
  return out;
}
