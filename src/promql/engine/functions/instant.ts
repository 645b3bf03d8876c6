/**
 * Functions over instant vectors and scalars. Element-wise functions map each series' columns; functions
 * that look at a whole vector per step (sort, absent, scalar, histogram_quantile, …) go through
 * `Evaluator.rangeEval`.
 */
import { EMPTY_LABELS } from '../../../model/labels.js';
import { execError } from '../errors.js';
import type { Evaluator, Sample, Vector } from '../evaluator.js';
import { absentLabels } from '../labels.js';
import type { CallNode } from '../plan.js';
import { Series, scalarSeries, type Matrix, type Value } from '../value.js';
import { histogramFraction, histogramQuantile, histogramQuantiles } from './histogram.js';
import { naturalLess } from './labels.js';
import { compareLabels, getLabel } from '../../../model/labels.js';

type Unary = (v: number) => number;

const MATH: ReadonlyMap<string, Unary> = new Map<string, Unary>([
  ['abs', Math.abs],
  ['ceil', Math.ceil],
  ['floor', Math.floor],
  ['exp', Math.exp],
  ['sqrt', Math.sqrt],
  ['ln', Math.log],
  ['log2', Math.log2],
  ['log10', Math.log10],
  ['sin', Math.sin],
  ['cos', Math.cos],
  ['tan', Math.tan],
  ['asin', Math.asin],
  ['acos', Math.acos],
  ['atan', Math.atan],
  ['sinh', Math.sinh],
  ['cosh', Math.cosh],
  ['tanh', Math.tanh],
  ['asinh', Math.asinh],
  ['acosh', Math.acosh],
  ['atanh', Math.atanh],
  ['deg', (v) => (v * 180) / Math.PI],
  ['rad', (v) => (v * Math.PI) / 180],
  ['sgn', (v) => (v < 0 ? -1 : v > 0 ? 1 : v)],
]);

// ---- calendar (proleptic Gregorian, UTC), valid far beyond JavaScript Date's range ----

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
  yday: number;
}

function civil(seconds: number): Civil {
  const days = Math.floor(seconds / 86400);
  const secs = seconds - days * 86400;
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
  const yday = cum[month - 1]! + day + (leap && month > 2 ? 1 : 0);
  return {
    year,
    month,
    day,
    hour: Math.floor(secs / 3600),
    minute: Math.floor((secs % 3600) / 60),
    weekday: (((days + 4) % 7) + 7) % 7,
    yday,
  };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const DATE: ReadonlyMap<string, (c: Civil) => number> = new Map<string, (c: Civil) => number>([
  ['days_in_month', (c) => daysInMonth(c.year, c.month)],
  ['day_of_month', (c) => c.day],
  ['day_of_week', (c) => c.weekday],
  ['day_of_year', (c) => c.yday],
  ['hour', (c) => c.hour],
  ['minute', (c) => c.minute],
  ['month', (c) => c.month],
  ['year', (c) => c.year],
]);

/** Go's int64(f) for a float of seconds (truncation; out-of-range and NaN give the minimum int64). */
function toUnixSeconds(f: number): number {
  if (!Number.isFinite(f) || f >= 9223372036854775807 || f < -9223372036854775808) return -9223372036854775808;
  return Math.trunc(f);
}

/** Maps every point of every series; the output drops the metric name. `fn` may return undefined. */
function elementwise(ev: Evaluator, m: Matrix, fn: (v: number, step: number) => number | undefined): Matrix {
  const out: Matrix = [];
  let total = 0;
  for (const s of m) {
    const r = new Series(ev.dropName(s.labels), true, s.n);
    for (let k = 0; k < s.n; k++) {
      const v = fn(s.fs[k]!, ev.stepIndex(s.ts[k]!));
      if (v !== undefined) r.push(s.ts[k]!, v);
    }
    if (r.n > 0) {
      out.push(r);
      total += r.n;
    }
  }
  ev.addSamples(total);
  return ev.mergeDropped(out);
}

function scalarParam(m: Matrix | undefined, step: number, dflt: number): number {
  if (m === undefined) return dflt;
  const s = m[0];
  return s !== undefined && step < s.n ? s.fs[step]! : NaN;
}

function ascNaNLast(a: Sample, b: Sample): number {
  const an = Number.isNaN(a.f);
  const bn = Number.isNaN(b.f);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a.f < b.f ? -1 : a.f > b.f ? 1 : 0;
}

function descNaNLast(a: Sample, b: Sample): number {
  const an = Number.isNaN(a.f);
  const bn = Number.isNaN(b.f);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a.f > b.f ? -1 : a.f < b.f ? 1 : 0;
}

function stringArgs(n: CallNode, from: number): string[] {
  const out: string[] = [];
  for (let i = from; i < n.args.length; i++) {
    const a = n.args[i]!;
    if (a.k !== 'str') throw execError(`expected a string argument to ${n.name}`);
    out.push(a.val);
  }
  return out;
}

export async function evalInstantCall(ev: Evaluator, n: CallNode): Promise<Value> {
  const name = n.name;
  const unary = MATH.get(name);
  if (unary !== undefined) {
    const m = await ev.evalMatrix(n.args[0]!);
    return elementwise(ev, m, unary);
  }
  const date = DATE.get(name);
  if (date !== undefined) {
    if (n.args.length === 0) {
      const s = new Series(EMPTY_LABELS, false, ev.steps);
      for (let i = 0; i < ev.steps; i++) s.push(ev.stepTime(i), date(civil(Math.trunc(ev.stepTime(i) / 1000))));
      ev.addSamples(s.n);
      return [s];
    }
    const m = await ev.evalMatrix(n.args[0]!);
    return elementwise(ev, m, (v) => date(civil(toUnixSeconds(v))));
  }
  switch (name) {
    case 'round': {
      const m = await ev.evalMatrix(n.args[0]!);
      const p = n.args.length > 1 ? await ev.evalMatrix(n.args[1]!) : undefined;
      return elementwise(ev, m, (v, i) => {
        const inv = 1 / scalarParam(p, i, 1);
        return Math.floor(v * inv + 0.5) / inv;
      });
    }
    case 'clamp':
    case 'clamp_min':
    case 'clamp_max': {
      const m = await ev.evalMatrix(n.args[0]!);
      const a = n.args.length > 1 ? await ev.evalMatrix(n.args[1]!) : undefined;
      const b = n.args.length > 2 ? await ev.evalMatrix(n.args[2]!) : undefined;
      return elementwise(ev, m, (v, i) => {
        let lo = -Infinity;
        let hi = Infinity;
        if (name === 'clamp') {
          lo = scalarParam(a, i, NaN);
          hi = scalarParam(b, i, NaN);
        } else if (name === 'clamp_min') lo = scalarParam(a, i, NaN);
        else hi = scalarParam(a, i, NaN);
        if (hi < lo) return undefined;
        return Math.max(lo, Math.min(hi, v));
      });
    }
    case 'timestamp':
      return elementwise(ev, await ev.evalMatrix(n.args[0]!), (_v, i) => ev.stepTime(i) / 1000);
    case 'start_timestamp': {
      // Our storage keeps no start timestamps; a selector's samples have start time 0 (unknown), and an
      // expression's result has none.
      const arg = n.args[0]!;
      const m = await ev.evalMatrix(arg);
      if (arg.k !== 'vs') return [];
      return elementwise(ev, m, () => 0);
    }
    case 'time': {
      const s = scalarSeries(ev.start, ev.interval, ev.steps, (i) => ev.stepTime(i) / 1000);
      ev.addSamples(s.n);
      return [s];
    }
    case 'pi': {
      const s = scalarSeries(ev.start, ev.interval, ev.steps, () => Math.PI);
      ev.addSamples(s.n);
      return [s];
    }
    case 'max_of':
    case 'min_of': {
      const a = await ev.evalMatrix(n.args[0]!);
      const b = await ev.evalMatrix(n.args[1]!);
      const f = name === 'max_of' ? Math.max : Math.min;
      const s = scalarSeries(ev.start, ev.interval, ev.steps, (i) => f(scalarParam(a, i, NaN), scalarParam(b, i, NaN)));
      ev.addSamples(s.n);
      return [s];
    }
    case 'vector': {
      const a = await ev.evalMatrix(n.args[0]!);
      const s = scalarSeries(ev.start, ev.interval, ev.steps, (i) => scalarParam(a, i, NaN));
      ev.addSamples(s.n);
      return [s];
    }
    case 'scalar': {
      const m = await ev.evalMatrix(n.args[0]!);
      const cursors = new Int32Array(m.length);
      const s = scalarSeries(ev.start, ev.interval, ev.steps, (i) => {
        const t = ev.stepTime(i);
        let found = 0;
        let value = NaN;
        for (let k = 0; k < m.length; k++) {
          const ser = m[k]!;
          const c = cursors[k]!;
          if (c < ser.n && ser.ts[c] === t) {
            cursors[k] = c + 1;
            found++;
            value = ser.fs[c]!;
          }
        }
        return found === 1 ? value : NaN;
      });
      ev.addSamples(s.n);
      return [s];
    }
    case 'sort':
      return ev.rangeEval([n.args[0]!], (v) => [...v[0]!].sort(ascNaNLast));
    case 'sort_desc':
      return ev.rangeEval([n.args[0]!], (v) => [...v[0]!].sort(descNaNLast));
    case 'sort_by_label':
    case 'sort_by_label_desc': {
      const names = stringArgs(n, 1);
      const sign = name === 'sort_by_label' ? 1 : -1;
      return ev.rangeEval([n.args[0]!], (v) =>
        [...v[0]!].sort((a, b) => {
          for (const l of names) {
            const x = getLabel(a.labels, l);
            const y = getLabel(b.labels, l);
            if (x === y) continue;
            return naturalLess(x, y) ? -sign : sign;
          }
          return sign * compareLabels(a.labels, b.labels);
        }),
      );
    }
    case 'absent': {
      const arg = n.args[0]!;
      const labels = arg.k === 'vs' ? absentLabels(arg.matchers) : EMPTY_LABELS;
      return ev.rangeEval([arg], (v): Vector => (v[0]!.length > 0 ? [] : [{ labels, f: 1, t: 0, dropName: false }]));
    }
    case 'histogram_count':
    case 'histogram_sum':
    case 'histogram_avg':
    case 'histogram_stddev':
    case 'histogram_stdvar':
      // These read native histograms only; float samples are ignored.
      await ev.evalMatrix(n.args[0]!);
      return [];
    case 'histogram_quantile':
      return histogramQuantile(ev, n);
    case 'histogram_fraction':
      return histogramFraction(ev, n);
    case 'histogram_quantiles':
      return histogramQuantiles(ev, n);
  }
  throw execError(`function ${JSON.stringify(name)} is not supported`);
}
