/**
 * `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic histograms (`le`
 * bucket series). Native histograms never reach here: the storage holds floats only, and a selector
 * that meets a histogram sample fails the query.
 */
import type { Labels } from '../../../model/labels.js';
import { getLabel, labelsKey, METRIC_NAME } from '../../../model/labels.js';
import { formatFloatG, goQuote } from '../../parser/goutil.js';
import type { Evaluator, Sample, Vector } from '../evaluator.js';
import type { CallNode } from '../plan.js';
import type { Matrix } from '../value.js';
import { invalidQuantileText } from './range.js';

interface Bucket {
  upper: number;
  count: number;
}

const GO_FLOAT = /^[+-]?(?:(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?|0[xX](?:[\da-fA-F_]+(?:\.[\da-fA-F_]*)?|\.[\da-fA-F_]+)[pP][+-]?\d+)$/;

/** Go's strconv.ParseFloat(s, 64); NaN for what it rejects. */
export function parseGoFloat(s: string): number | null {
  const lower = s.toLowerCase();
  if (/^[+-]?(inf|infinity)$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(lower)) return NaN;
  if (!GO_FLOAT.test(s)) return null;
  if (/^[+-]?0[xX]/.test(s)) {
    const neg = s.startsWith('-');
    const body = s.replace(/^[+-]?0[xX]/, '').replace(/_/g, '');
    const [mant, exp] = body.split(/[pP]/) as [string, string];
    const [ip, fp = ''] = mant.split('.') as [string, string?];
    let v = parseInt(ip === '' ? '0' : ip, 16);
    for (let i = 0; i < fp.length; i++) v += parseInt(fp[i]!, 16) / Math.pow(16, i + 1);
    v *= Math.pow(2, Number(exp));
    return neg ? -v : v;
  }
  if (s.includes('_')) return null;
  return Number(s);
}

function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  const minNormal = 2.2250738585072014e-308;
  if (a === 0 || b === 0 || absSum < minNormal) return diff < epsilon * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

function sortBuckets(b: Bucket[]): void {
  b.sort((x, y) => (x.upper < y.upper ? -1 : x.upper > y.upper ? 1 : 0));
}

function coalesce(b: Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  let last = { ...b[0]! };
  for (let i = 1; i < b.length; i++) {
    const x = b[i]!;
    if (x.upper === last.upper) last.count += x.count;
    else {
      out.push(last);
      last = { ...x };
    }
  }
  out.push(last);
  return out;
}

interface Monotonicity {
  forced: boolean;
  minBucket: number;
  maxBucket: number;
  maxDiff: number;
}

function ensureMonotonic(b: Bucket[]): Monotonicity {
  const r: Monotonicity = { forced: false, minBucket: Infinity, maxBucket: -Infinity, maxDiff: 0 };
  let prev = b[0]!.count;
  for (let i = 1; i < b.length; i++) {
    const curr = b[i]!.count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, 1e-12)) {
      b[i]!.count = prev;
      continue;
    }
    if (curr < prev) {
      b[i]!.count = prev;
      r.forced = true;
      r.minBucket = Math.min(r.minBucket, b[i]!.upper);
      r.maxBucket = Math.max(r.maxBucket, b[i]!.upper);
      r.maxDiff = Math.max(r.maxDiff, prev - curr);
      continue;
    }
    prev = curr;
  }
  return r;
}

/** The q-quantile of a classic histogram, interpolating linearly within the bucket. */
export function bucketQuantile(q: number, input: Bucket[]): { value: number; mono: Monotonicity | null } {
  if (Number.isNaN(q)) return { value: NaN, mono: null };
  if (q < 0) return { value: -Infinity, mono: null };
  if (q > 1) return { value: Infinity, mono: null };
  sortBuckets(input);
  if (input[input.length - 1]!.upper !== Infinity) return { value: NaN, mono: null };
  const b = coalesce(input);
  const mono = ensureMonotonic(b);
  if (b.length < 2) return { value: NaN, mono };
  const observations = b[b.length - 1]!.count;
  if (observations === 0) return { value: NaN, mono };
  let rank = q * observations;
  let i = 0;
  while (i < b.length - 1 && !(b[i]!.count >= rank)) i++;
  if (i === b.length - 1) return { value: b[b.length - 2]!.upper, mono };
  if (i === 0 && b[0]!.upper <= 0) return { value: b[0]!.upper, mono };
  let start = 0;
  const end = b[i]!.upper;
  let count = b[i]!.count;
  if (i > 0) {
    start = b[i - 1]!.upper;
    count -= b[i - 1]!.count;
    rank -= b[i - 1]!.count;
  }
  return { value: start + (end - start) * (rank / count), mono };
}

/** The fraction of observations between lower and upper in a classic histogram. */
export function bucketFraction(lower: number, upper: number, input: Bucket[]): number {
  sortBuckets(input);
  if (input[input.length - 1]!.upper !== Infinity) return NaN;
  const b = coalesce(input);
  const count = b[b.length - 1]!.count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  let lowerBound = b[0]!.upper <= 0 ? -Infinity : 0;
  for (let i = 0; i < b.length; i++) {
    if (i > 0) lowerBound = b[i - 1]!.upper;
    const upperBound = b[i]!.upper;
    const bc = b[i]!.count;
    const interp = (v: number): number =>
      lowerBound === -Infinity ? bc : rank + ((bc - rank) * (v - lowerBound)) / (upperBound - lowerBound);
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interp(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interp(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = bc;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}

interface Group {
  metric: Labels;
  buckets: Bucket[];
}

function withoutLabel(ls: Labels, name: string): Labels {
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) if (ls[i] !== name) out.push(ls[i]!, ls[i + 1]!);
  return Object.freeze(out);
}

/** Groups bucket samples by their labels without `le`; malformed `le` values give a warning. */
function groupBuckets(ev: Evaluator, vec: Vector, n: CallNode, argIdx: number): Group[] {
  const groups = new Map<string, Group>();
  const cache = new Map<Labels, { key: string; metric: Labels }>();
  for (const s of vec) {
    const le = getLabel(s.labels, 'le');
    const upper = parseGoFloat(le);
    if (upper === null) {
      // Under eager name removal the output has no name any more, and the warning names none.
      const name = ev.q.delayedNameRemoval ? getLabel(s.labels, METRIC_NAME) : '';
      let text = `bucket label "le" is missing or has a malformed value of ${goQuote(le)}`;
      if (name !== '') text += ` for metric name ${goQuote(name)}`;
      ev.q.annos.warn(text, n.args[argIdx]!.pos);
      continue;
    }
    let c = cache.get(s.labels);
    if (c === undefined) {
      const metric = withoutLabel(s.labels, 'le');
      c = { key: labelsKey(metric), metric };
      cache.set(s.labels, c);
    }
    let g = groups.get(c.key);
    if (g === undefined) {
      g = { metric: c.metric, buckets: [] };
      groups.set(c.key, g);
    }
    g.buckets.push({ upper, count: s.f });
  }
  return [...groups.values()];
}

function monotonicityInfo(ev: Evaluator, g: Group, n: CallNode, argIdx: number, t: number, mono: Monotonicity | null): void {
  if (mono === null || !mono.forced) return;
  const name = ev.q.delayedNameRemoval ? getLabel(g.metric, METRIC_NAME) : '';
  let text =
    'input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)';
  if (name !== '') text += ` for metric name ${goQuote(name)}`;
  ev.q.annos.addMonotonicity(text, n.args[argIdx]!.pos, t, mono.minBucket, mono.maxBucket, mono.maxDiff);
}

function checkQuantile(ev: Evaluator, q: number, n: CallNode, argIdx: number): void {
  if (Number.isNaN(q) || q < 0 || q > 1) ev.q.annos.warn(invalidQuantileText(q), n.args[argIdx]!.pos);
}

export function histogramQuantile(ev: Evaluator, n: CallNode): Promise<Matrix> {
  return ev.rangeEval([n.args[0]!, n.args[1]!], (vecs, t) => {
    const qs = vecs[0]!;
    if (qs.length === 0) return [];
    const q = qs[0]!.f;
    checkQuantile(ev, q, n, 0);
    const out: Sample[] = [];
    for (const g of groupBuckets(ev, vecs[1]!, n, 1)) {
      const { value, mono } = bucketQuantile(q, g.buckets);
      monotonicityInfo(ev, g, n, 1, t, mono);
      out.push({ labels: g.metric, f: value, t, dropName: true });
    }
    return out;
  });
}

/** Prometheus's formatting of a quantile as a label value (`0.0`, `0.25`, `1.0`). */
function openMetricsFloat(f: number): string {
  if (f === 1) return '1.0';
  if (f === 0) return '0.0';
  if (f === -1) return '-1.0';
  const s = formatFloatG(f);
  if (Number.isNaN(f) || !Number.isFinite(f)) return s;
  return /[.eE]/.test(s) ? s : s + '.0';
}

function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: string[] = [];
  let done = false;
  for (let i = 0; i < ls.length; i += 2) {
    const k = ls[i]!;
    if (!done && k >= name) {
      out.push(name, value);
      done = true;
      if (k === name) continue;
    }
    out.push(k, ls[i + 1]!);
  }
  if (!done) out.push(name, value);
  return Object.freeze(out);
}

export function histogramQuantiles(ev: Evaluator, n: CallNode): Promise<Matrix> {
  const labelArg = n.args[1]!;
  const label = labelArg.k === 'str' ? labelArg.val : 'quantile';
  const args = [n.args[0]!, null, ...n.args.slice(2)];
  const labelCache = new Map<string, Labels>();
  return ev.rangeEval(args, (vecs, t) => {
    const qs: number[] = [];
    for (let i = 2; i < vecs.length; i++) {
      const q = vecs[i]![0]?.f ?? NaN;
      checkQuantile(ev, q, n, i);
      qs.push(q);
    }
    const groups = groupBuckets(ev, vecs[0]!, n, 0);
    const out: Sample[] = [];
    for (const q of qs) {
      for (const g of groups) {
        const { value, mono } = bucketQuantile(q, g.buckets.map((b) => ({ ...b })));
        monotonicityInfo(ev, g, n, 0, t, mono);
        const qs = Number.isNaN(q) ? 'NaN' : openMetricsFloat(q);
        const key = `${labelsKey(g.metric)}\x00${qs}`;
        let ls = labelCache.get(key);
        if (ls === undefined) {
          ls = setLabel(g.metric, label, qs);
          labelCache.set(key, ls);
        }
        out.push({ labels: ls, f: value, t, dropName: true });
      }
    }
    return out;
  });
}

export function histogramFraction(ev: Evaluator, n: CallNode): Promise<Matrix> {
  return ev.rangeEval([n.args[0]!, n.args[1]!, n.args[2]!], (vecs, t) => {
    const lo = vecs[0]![0];
    const hi = vecs[1]![0];
    if (lo === undefined || hi === undefined) return [];
    const out: Sample[] = [];
    for (const g of groupBuckets(ev, vecs[2]!, n, 2)) {
      out.push({ labels: g.metric, f: bucketFraction(lo.f, hi.f, g.buckets), t, dropName: true });
    }
    return out;
  });
}
