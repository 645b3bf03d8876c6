/**
 * Functions over range windows (`rate`, `*_over_time`, `deriv`, …). Each gets one series' window as
 * columns [lo, hi) and returns the value for the step, or undefined for no output.
 */
import type { Labels } from '../../../model/labels.js';
import type { PosRange } from '../../parser/ast.js';
import { formatFixed, formatFloatG } from '../../parser/goutil.js';
import { type Annotations, execError } from '../errors.js';
import { interpolate, upperBound, lowerBound } from '../selectors.js';
import { kahanInc, kahanC, quantileOf } from './util.js';

export interface WindowCtx {
  /** The evaluation time of the step. */
  ts: number;
  /** The window (rangeStart, rangeEnd]; anchored/smoothed windows also hold samples outside it. */
  rangeStart: number;
  rangeEnd: number;
  /** Range in ms. */
  range: number;
  anchored: boolean;
  smoothed: boolean;
  /** Scalar arguments at this step, in argument order (the range argument left out). */
  params: number[];
  labels: Labels;
  /** Positions of the call's arguments. */
  argPos: PosRange[];
  annos: Annotations;
}

let scratch = new Float64Array(1024);

/** A reusable copy of f[lo, hi) (valid until the next call). */
function scratchCopy(f: Float64Array, lo: number, hi: number): Float64Array {
  const n = hi - lo;
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  const out = scratch.subarray(0, n);
  for (let i = 0; i < n; i++) out[i] = f[lo + i]!;
  return out;
}

export type RangeFn = (t: Float64Array, f: Float64Array, lo: number, hi: number, c: WindowCtx) => number | undefined;

function extrapolatedRate(
  t: Float64Array,
  f: Float64Array,
  lo: number,
  hi: number,
  c: WindowCtx,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  if (c.anchored || c.smoothed) return extendedRate(t, f, lo, hi, c, isCounter, isRate);
  const n = hi - lo;
  if (n < 2) return undefined;
  const firstT = t[lo]!;
  const lastT = t[hi - 1]!;
  let result = f[hi - 1]! - f[lo]!;
  if (isCounter) {
    for (let i = lo + 1; i < hi; i++) if (f[i]! < f[i - 1]!) result += f[i - 1]!;
  }
  let toStart = (firstT - c.rangeStart) / 1000;
  let toEnd = (c.rangeEnd - lastT) / 1000;
  const sampled = (lastT - firstT) / 1000;
  const avg = sampled / (n - 1);
  const threshold = avg * 1.1;
  if (toStart >= threshold) toStart = avg / 2;
  if (isCounter) {
    // A counter cannot go below zero: do not extrapolate further back than where it would reach zero.
    let toZero = toStart;
    if (result > 0 && f[lo]! >= 0) toZero = sampled * (f[lo]! / result);
    if (toZero < toStart) toStart = toZero;
  }
  if (toEnd >= threshold) toEnd = avg / 2;
  let factor = sampled !== 0 ? (sampled + toStart + toEnd) / sampled : 1;
  if (isRate) factor /= c.range / 1000;
  return result * factor;
}

/** rate/increase/delta over anchored or smoothed windows: the exact change between the range boundaries. */
function extendedRate(
  t: Float64Array,
  f: Float64Array,
  lo: number,
  hi: number,
  c: WindowCtx,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  let last = hi - 1;
  let first = Math.max(lo, upperBound(t, c.rangeStart, lo, last) - 1);
  if (c.smoothed) last = lowerBound(t, c.rangeEnd, lo, last);
  if (t[last]! <= c.rangeStart) return undefined;
  if (c.smoothed && t[first]! > c.rangeEnd) return undefined;
  const left =
    c.smoothed && t[first]! < c.rangeStart
      ? interpolate(t[first]!, f[first]!, t[first + 1]!, f[first + 1]!, c.rangeStart, isCounter)
      : f[first]!;
  const right =
    c.smoothed && last > lo && t[last]! > c.rangeEnd
      ? interpolate(t[last - 1]!, f[last - 1]!, t[last]!, f[last]!, c.rangeEnd, isCounter)
      : f[last]!;
  let result = right - left;
  if (isCounter) {
    if (t[first]! <= c.rangeStart) first++;
    if (t[last]! >= c.rangeEnd) last--;
    let correction = 0;
    let prev = left;
    for (let i = first; i <= last; i++) {
      if (f[i]! < prev) correction += prev;
      prev = f[i]!;
    }
    if (right < prev) correction += prev;
    result += correction;
  }
  if (isRate) result /= c.range / 1000;
  return result;
}

function instantValue(t: Float64Array, f: Float64Array, lo: number, hi: number, isRate: boolean): number | undefined {
  if (hi - lo < 2) return undefined;
  const t0 = t[hi - 2]!;
  const t1 = t[hi - 1]!;
  const f0 = f[hi - 2]!;
  const f1 = f[hi - 1]!;
  const interval = t1 - t0;
  if (interval === 0) return undefined;
  let result = f1;
  if (!isRate || !(f1 < f0)) result = f1 - f0;
  if (isRate) result /= interval / 1000;
  return result;
}

function avgOverTime(_t: Float64Array, f: Float64Array, lo: number, hi: number): number {
  let sum = f[lo]!;
  let c = 0;
  let mean = 0;
  let incremental = false;
  for (let i = lo + 1; i < hi; i++) {
    const count = i - lo + 1;
    const v = f[i]!;
    if (!incremental) {
      const ns = kahanInc(v, sum, c);
      if (ns !== Infinity && ns !== -Infinity) {
        sum = ns;
        c = kahanC();
        continue;
      }
      // The running sum would overflow: continue with an incremental mean.
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const q = (count - 1) / count;
    mean = kahanInc(v / count, q * mean, q * c);
    c = kahanC();
  }
  const count = hi - lo;
  return incremental ? mean + c : sum / count + c / count;
}

function sumOverTime(_t: Float64Array, f: Float64Array, lo: number, hi: number): number {
  let sum = 0;
  let c = 0;
  for (let i = lo; i < hi; i++) {
    sum = kahanInc(f[i]!, sum, c);
    c = kahanC();
  }
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
}

function variance(f: Float64Array, lo: number, hi: number): number {
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = lo; i < hi; i++) {
    const v = f[i]!;
    count++;
    const delta = v - (mean + cMean);
    mean = kahanInc(delta / count, mean, cMean);
    cMean = kahanC();
    aux = kahanInc(delta * (v - (mean + cMean)), aux, cAux);
    cAux = kahanC();
  }
  return (aux + cAux) / count;
}

type Cmp = (cur: number, best: number) => boolean;

function compareOverTime(t: Float64Array, f: Float64Array, lo: number, hi: number, better: Cmp, ts: boolean): number {
  let best = f[lo]!;
  let bestT = t[lo]!;
  for (let i = lo; i < hi; i++) {
    const v = f[i]!;
    if (better(v, best)) {
      best = v;
      bestT = t[i]!;
    }
  }
  return ts ? bestT / 1000 : best;
}

/** For anchored windows: start at the newest sample at or before the range start (if any). */
function firstIndex(t: Float64Array, lo: number, hi: number, c: WindowCtx): number | undefined {
  if (!c.anchored) return lo;
  const lastLE = upperBound(t, c.rangeStart, lo, hi) - 1;
  if (lastLE + 1 >= hi) return undefined;
  return lastLE >= lo ? lastLE : lo;
}

function linearRegression(t: Float64Array, f: Float64Array, lo: number, hi: number, interceptTime: number): [number, number] {
  let n = 0;
  let sumX = 0;
  let cX = 0;
  let sumY = 0;
  let cY = 0;
  let sumXY = 0;
  let cXY = 0;
  let sumX2 = 0;
  let cX2 = 0;
  const initY = f[lo]!;
  let constY = true;
  for (let i = lo; i < hi; i++) {
    const y = f[i]!;
    if (constY && i > lo && y !== initY) constY = false;
    n += 1;
    const x = (t[i]! - interceptTime) / 1e3;
    sumX = kahanInc(x, sumX, cX);
    cX = kahanC();
    sumY = kahanInc(y, sumY, cY);
    cY = kahanC();
    sumXY = kahanInc(x * y, sumXY, cXY);
    cXY = kahanC();
    sumX2 = kahanInc(x * x, sumX2, cX2);
    cX2 = kahanC();
  }
  if (constY) {
    if (initY === Infinity || initY === -Infinity) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  return [slope, sumY / n - (slope * sumX) / n];
}

function goF(v: number): string {
  return formatFixed(v, 6);
}

function doubleExponentialSmoothing(_t: Float64Array, f: Float64Array, lo: number, hi: number, c: WindowCtx): number | undefined {
  const sf = c.params[0]!;
  const tf = c.params[1]!;
  if (!(sf > 0 && sf < 1)) throw execError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goF(sf)}`);
  if (!(tf > 0 && tf < 1)) throw execError(`invalid trend factor. Expected: 0 < tf < 1, got: ${goF(tf)}`);
  if (hi - lo < 2) return undefined;
  let s0 = 0;
  let s1 = f[lo]!;
  let b = f[lo + 1]! - f[lo]!;
  for (let i = 1; i < hi - lo; i++) {
    const x = sf * f[lo + i]!;
    if (i - 1 !== 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

export const RANGE_FUNCTIONS: ReadonlyMap<string, RangeFn> = new Map<string, RangeFn>([
  ['rate', (t, f, lo, hi, c) => extrapolatedRate(t, f, lo, hi, c, true, true)],
  ['increase', (t, f, lo, hi, c) => extrapolatedRate(t, f, lo, hi, c, true, false)],
  ['delta', (t, f, lo, hi, c) => extrapolatedRate(t, f, lo, hi, c, false, false)],
  ['irate', (t, f, lo, hi) => instantValue(t, f, lo, hi, true)],
  ['idelta', (t, f, lo, hi) => instantValue(t, f, lo, hi, false)],
  ['avg_over_time', avgOverTime],
  ['sum_over_time', sumOverTime],
  ['count_over_time', (_t, _f, lo, hi) => hi - lo],
  ['present_over_time', () => 1],
  ['absent_over_time', () => 1],
  ['last_over_time', (_t, f, _lo, hi) => f[hi - 1]!],
  ['first_over_time', (_t, f, lo) => f[lo]!],
  ['ts_of_last_over_time', (t, _f, _lo, hi) => t[hi - 1]! / 1000],
  ['ts_of_first_over_time', (t, _f, lo) => t[lo]! / 1000],
  ['max_over_time', (t, f, lo, hi) => compareOverTime(t, f, lo, hi, (v, m) => v > m || Number.isNaN(m), false)],
  ['min_over_time', (t, f, lo, hi) => compareOverTime(t, f, lo, hi, (v, m) => v < m || Number.isNaN(m), false)],
  ['ts_of_max_over_time', (t, f, lo, hi) => compareOverTime(t, f, lo, hi, (v, m) => v >= m || Number.isNaN(m), true)],
  ['ts_of_min_over_time', (t, f, lo, hi) => compareOverTime(t, f, lo, hi, (v, m) => v <= m || Number.isNaN(m), true)],
  ['stddev_over_time', (_t, f, lo, hi) => Math.sqrt(variance(f, lo, hi))],
  ['stdvar_over_time', (_t, f, lo, hi) => variance(f, lo, hi)],
  [
    'quantile_over_time',
    (_t, f, lo, hi, c) => {
      const q = c.params[0]!;
      if (Number.isNaN(q) || q < 0 || q > 1) c.annos.warn(invalidQuantileText(q), c.argPos[0]!);
      return quantileOf(q, scratchCopy(f, lo, hi));
    },
  ],
  [
    'mad_over_time',
    (_t, f, lo, hi) => {
      const vals = f.slice(lo, hi);
      for (let i = 0; i < vals.length; i++) if (Number.isNaN(vals[i]!)) return NaN;
      const median = quantileOf(0.5, vals);
      for (let i = 0; i < vals.length; i++) vals[i] = Math.abs(vals[i]! - median);
      return quantileOf(0.5, vals);
    },
  ],
  [
    'changes',
    (t, f, lo, hi, c) => {
      const first = firstIndex(t, lo, hi, c);
      if (first === undefined) return undefined;
      let changes = 0;
      for (let i = first + 1; i < hi; i++) {
        const a = f[i - 1]!;
        const b = f[i]!;
        if (b !== a && !(Number.isNaN(a) && Number.isNaN(b))) changes++;
      }
      return changes;
    },
  ],
  [
    'resets',
    (t, f, lo, hi, c) => {
      const first = firstIndex(t, lo, hi, c);
      if (first === undefined) return undefined;
      let resets = 0;
      for (let i = first + 1; i < hi; i++) if (f[i]! < f[i - 1]!) resets++;
      return resets;
    },
  ],
  [
    'deriv',
    (t, f, lo, hi) => {
      if (hi - lo < 2) return undefined;
      return linearRegression(t, f, lo, hi, t[lo]!)[0];
    },
  ],
  [
    'predict_linear',
    (t, f, lo, hi, c) => {
      if (hi - lo < 2) return undefined;
      const [slope, intercept] = linearRegression(t, f, lo, hi, c.ts);
      return slope * c.params[0]! + intercept;
    },
  ],
  ['double_exponential_smoothing', doubleExponentialSmoothing],
]);

/** Functions that accept the `anchored` / `smoothed` modifiers. */
export const ANCHORED_SAFE = ['changes', 'delta', 'increase', 'rate', 'resets'];
export const SMOOTHED_SAFE = ['delta', 'increase', 'rate'];

export function invalidQuantileText(q: number): string {
  return `quantile value should be between 0 and 1, got ${formatFloatG(q)}`;
}
