/**
 * Aggregation operators. Input series are mapped to groups once; each step then folds the samples present
 * into per-group accumulators held in typed arrays (no object per sample).
 */
import type { Labels } from '../../model/labels.js';
import { labelsKey } from '../../model/labels.js';
import { formatFloatF, formatFloatG, goQuote } from '../parser/goutil.js';
import { DUPLICATE_LABELSET, execError } from './errors.js';
import type { Evaluator, Sample } from './evaluator.js';
import { invalidQuantileText } from './functions/range.js';
import { kahanC, kahanInc, quantileOf } from './functions/util.js';
import { xxhash64Labels } from './hash.js';
import { groupingLabels, isValidLabelName } from './labels.js';
import type { AggNode } from './plan.js';
import { OutputCollector, Series, totalSamples, type Matrix } from './value.js';

/** Group key of a series: its `by` labels, or all labels but the `without` ones and the name. */
function groupKey(ls: Labels, grouping: readonly string[], without: boolean): string {
  return labelsKey(groupingLabels(ls, grouping, without));
}

const MAX_INT64 = 9223372036854774784;
const MIN_INT64 = -9223372036854775808;

export async function evalAggregate(ev: Evaluator, n: AggNode): Promise<Matrix> {
  if (n.op === 'count_values') return countValues(ev, n);
  const orig = ev.q.current;
  const param = n.param !== null ? await ev.evalMatrix(n.param) : null;
  const input = await ev.evalMatrix(n.expr);
  const params = new Float64Array(ev.steps).fill(NaN);
  if (param !== null && param[0] !== undefined) {
    const p = param[0];
    for (let i = 0; i < ev.steps && i < p.n; i++) params[i] = p.fs[i]!;
  }
  let result: Matrix;
  if (n.op === 'topk' || n.op === 'bottomk' || n.op === 'limitk' || n.op === 'limit_ratio') {
    result = await aggregateK(ev, n, input, params);
  } else {
    result = await aggregate(ev, n, input, params);
  }
  ev.setSamples(orig + totalSamples(result));
  return result;
}

function paramStats(params: Float64Array): { min: number; max: number; nan: boolean } {
  let min = Infinity;
  let max = -Infinity;
  let nan = false;
  for (const p of params) {
    if (Number.isNaN(p)) nan = true;
    else {
      if (p < min) min = p;
      if (p > max) max = p;
    }
  }
  // Go's min/max over the values propagate NaN the same way math.Min/Max would.
  if (nan) {
    min = NaN;
    max = NaN;
  }
  return { min, max, nan };
}

async function aggregate(ev: Evaluator, n: AggNode, input: Matrix, params: Float64Array): Promise<Matrix> {
  const op = n.op;
  if (op === 'quantile') {
    const { min, max, nan } = paramStats(params);
    const pos = n.param!.pos;
    if (nan) ev.q.annos.warn(invalidQuantileText(NaN), pos);
    if (max > 1) ev.q.annos.warn(invalidQuantileText(max), pos);
    if (min < 0) ev.q.annos.warn(invalidQuantileText(min), pos);
  }
  // Map series to groups, in order of first appearance.
  const groupOf = new Int32Array(input.length);
  const keys = new Map<string, number>();
  const outputs: Series[] = [];
  for (let i = 0; i < input.length; i++) {
    const ls = input[i]!.labels;
    const key = groupKey(ls, n.grouping, n.without);
    let g = keys.get(key);
    if (g === undefined) {
      g = outputs.length;
      keys.set(key, g);
      outputs.push(new Series(groupingLabels(ls, n.grouping, n.without), false, Math.min(ev.steps, 64)));
    }
    groupOf[i] = g;
  }
  const ng = outputs.length;
  if (op !== 'quantile' && ng * ev.steps <= SERIES_MAJOR_LIMIT) {
    return aggregateBySeries(ev, op, input, groupOf, outputs);
  }
  const seen = new Uint8Array(ng);
  const val = new Float64Array(ng);
  const mean = new Float64Array(ng);
  const comp = new Float64Array(ng);
  const count = new Float64Array(ng);
  const incremental = new Uint8Array(ng);
  const dropName = new Uint8Array(ng);
  const heaps: number[][] = op === 'quantile' ? Array.from({ length: ng }, () => []) : [];
  const cursors = new Int32Array(input.length);
  const base = ev.q.current;

  for (let i = 0; i < ev.steps; i++) {
    if (ev.shouldTick(input.length)) await ev.tick();
    const t = ev.stepTime(i);
    ev.setSamples(base);
    seen.fill(0);
    for (let si = 0; si < input.length; si++) {
      const s = input[si]!;
      const c = cursors[si]!;
      if (c >= s.n || s.ts[c] !== t) continue;
      cursors[si] = c + 1;
      const f = s.fs[c]!;
      const g = groupOf[si]!;
      if (seen[g] === 0) {
        seen[g] = 1;
        val[g] = f;
        mean[g] = f;
        comp[g] = 0;
        count[g] = 1;
        incremental[g] = 0;
        if (s.dropName) dropName[g] = 1;
        switch (op) {
          case 'stddev':
          case 'stdvar':
            val[g] = Number.isNaN(f) || f === Infinity || f === -Infinity ? NaN : 0;
            break;
          case 'group':
            val[g] = 1;
            break;
          case 'quantile':
            heaps[g]!.length = 0;
            heaps[g]!.push(f);
            break;
        }
        continue;
      }
      if (s.dropName) dropName[g] = 1;
      switch (op) {
        case 'sum':
          val[g] = kahanInc(f, val[g]!, comp[g]!);
          comp[g] = kahanC();
          break;
        case 'avg': {
          const cnt = ++count[g]!;
          if (incremental[g] === 0) {
            const nv = kahanInc(f, val[g]!, comp[g]!);
            if (nv !== Infinity && nv !== -Infinity) {
              val[g] = nv;
              comp[g] = kahanC();
              break;
            }
            incremental[g] = 1;
            mean[g] = val[g]! / (cnt - 1);
            comp[g] = comp[g]! / (cnt - 1);
          }
          const q = (cnt - 1) / cnt;
          mean[g] = kahanInc(f / cnt, q * mean[g]!, q * comp[g]!);
          comp[g] = kahanC();
          break;
        }
        case 'count':
          count[g]!++;
          break;
        case 'group':
          break;
        case 'max':
          if (val[g]! < f || Number.isNaN(val[g]!)) val[g] = f;
          break;
        case 'min':
          if (val[g]! > f || Number.isNaN(val[g]!)) val[g] = f;
          break;
        case 'stddev':
        case 'stdvar': {
          const cnt = ++count[g]!;
          const delta = f - mean[g]!;
          mean[g] = mean[g]! + delta / cnt;
          val[g] = val[g]! + delta * (f - mean[g]!);
          break;
        }
        case 'quantile':
          heaps[g]!.push(f);
          break;
        default:
          throw execError(`expected aggregation operator but got ${op}`);
      }
    }
    for (let g = 0; g < ng; g++) {
      if (seen[g] === 0) continue;
      let v: number;
      switch (op) {
        case 'avg':
          v = incremental[g] === 1 ? mean[g]! + comp[g]! : val[g]! / count[g]! + comp[g]! / count[g]!;
          break;
        case 'count':
          v = count[g]!;
          break;
        case 'stdvar':
          v = val[g]! / count[g]!;
          break;
        case 'stddev':
          v = Math.sqrt(val[g]! / count[g]!);
          break;
        case 'quantile':
          v = quantileOf(params[i]!, Float64Array.from(heaps[g]!));
          break;
        case 'sum':
          v = val[g]! + comp[g]!;
          break;
        default:
          v = val[g]!;
      }
      outputs[g]!.push(t, v);
    }
  }
  const out: Matrix = [];
  for (let g = 0; g < ng; g++) {
    const s = outputs[g]!;
    if (s.n === 0) continue;
    s.dropName = dropName[g] === 1;
    out.push(s);
  }
  return out;
}

/** Above this many (group × step) cells, aggregate step by step instead of series by series. */
const SERIES_MAJOR_LIMIT = 1 << 20;

/**
 * sum/avg/count/min/max/group/stddev/stdvar walking each input series once, in input order, accumulating
 * into one cell per (group, step): the same arithmetic in the same order as the step-by-step loop, but
 * reading each series' columns sequentially.
 */
function aggregateBySeries(ev: Evaluator, op: AggNode['op'], input: Matrix, groupOf: Int32Array, outputs: Series[]): Matrix {
  const steps = ev.steps;
  const cells = outputs.length * steps;
  const seen = new Uint8Array(cells);
  const val = new Float64Array(cells);
  const comp = new Float64Array(cells);
  const mean = op === 'avg' || op === 'stddev' || op === 'stdvar' ? new Float64Array(cells) : val;
  const count = op === 'avg' || op === 'count' || op === 'stddev' || op === 'stdvar' ? new Float64Array(cells) : val;
  const incremental = op === 'avg' ? new Uint8Array(cells) : seen;
  const dropName = new Uint8Array(outputs.length);
  const start = ev.start;
  const interval = ev.interval;
  for (let si = 0; si < input.length; si++) {
    const s = input[si]!;
    if (s.n === 0) continue;
    const g = groupOf[si]!;
    if (s.dropName) dropName[g] = 1;
    const base = g * steps;
    const ts = s.ts;
    const fs = s.fs;
    for (let k = 0; k < s.n; k++) {
      const c = base + Math.round((ts[k]! - start) / interval);
      const f = fs[k]!;
      if (seen[c] === 0) {
        seen[c] = 1;
        switch (op) {
          case 'stddev':
          case 'stdvar':
            val[c] = Number.isNaN(f) || f === Infinity || f === -Infinity ? NaN : 0;
            mean[c] = f;
            count[c] = 1;
            break;
          case 'group':
            val[c] = 1;
            break;
          case 'count':
            count[c] = 1;
            break;
          case 'avg':
            val[c] = f;
            mean[c] = f;
            count[c] = 1;
            break;
          default:
            val[c] = f;
        }
        continue;
      }
      switch (op) {
        case 'sum': {
          val[c] = kahanInc(f, val[c]!, comp[c]!);
          comp[c] = kahanC();
          break;
        }
        case 'avg': {
          const cnt = ++count[c]!;
          if (incremental[c] === 0) {
            const nv = kahanInc(f, val[c]!, comp[c]!);
            if (nv !== Infinity && nv !== -Infinity) {
              val[c] = nv;
              comp[c] = kahanC();
              break;
            }
            incremental[c] = 1;
            mean[c] = val[c]! / (cnt - 1);
            comp[c] = comp[c]! / (cnt - 1);
          }
          const q = (cnt - 1) / cnt;
          mean[c] = kahanInc(f / cnt, q * mean[c]!, q * comp[c]!);
          comp[c] = kahanC();
          break;
        }
        case 'count':
          count[c]!++;
          break;
        case 'max':
          if (val[c]! < f || Number.isNaN(val[c]!)) val[c] = f;
          break;
        case 'min':
          if (val[c]! > f || Number.isNaN(val[c]!)) val[c] = f;
          break;
        case 'stddev':
        case 'stdvar': {
          const cnt = ++count[c]!;
          const delta = f - mean[c]!;
          mean[c] = mean[c]! + delta / cnt;
          val[c] = val[c]! + delta * (f - mean[c]!);
          break;
        }
      }
    }
  }
  const out: Matrix = [];
  for (let g = 0; g < outputs.length; g++) {
    const o = outputs[g]!;
    const base = g * steps;
    for (let i = 0; i < steps; i++) {
      const c = base + i;
      if (seen[c] === 0) continue;
      let v: number;
      switch (op) {
        case 'sum':
          v = val[c]! + comp[c]!;
          break;
        case 'avg':
          v = incremental[c] === 1 ? mean[c]! + comp[c]! : val[c]! / count[c]! + comp[c]! / count[c]!;
          break;
        case 'count':
          v = count[c]!;
          break;
        case 'stdvar':
          v = val[c]! / count[c]!;
          break;
        case 'stddev':
          v = Math.sqrt(val[c]! / count[c]!);
          break;
        default:
          v = val[c]!;
      }
      o.push(ev.stepTime(i), v);
    }
    if (o.n === 0) continue;
    o.dropName = dropName[g] === 1;
    out.push(o);
  }
  return out;
}

/** The deterministic sampling offset of a series for `limit_ratio`, in [0, 1). */
function ratioOffset(ls: Labels): number {
  return Number(xxhash64Labels(ls)) / 18446744073709551615;
}

function keepForRatio(r: number, offset: number): boolean {
  return (r >= 0 && offset < r) || (r < 0 && offset >= 1 + r);
}

async function aggregateK(ev: Evaluator, n: AggNode, input: Matrix, params: Float64Array): Promise<Matrix> {
  const op = n.op;
  const { min, max, nan } = paramStats(params);
  if (op === 'limit_ratio') {
    if (max === 0 && min === 0) return [];
    if (nan) throw execError('Ratio value is NaN');
    const pos = n.param!.pos;
    if (max > 1) ev.q.annos.warn(`ratio value should be between -1 and 1, got ${formatFloatG(max)}, capping to 1`, pos);
    if (min < -1) ev.q.annos.warn(`ratio value should be between -1 and 1, got ${formatFloatG(min)}, capping to -1`, pos);
  } else {
    if (max < 1) return [];
    if (nan) throw execError('Parameter value is NaN');
    if (min <= MIN_INT64) throw execError(`Scalar value ${formatFloatG(min)} underflows int64`);
    if (max >= MAX_INT64) throw execError(`Scalar value ${formatFloatG(max)} overflows int64`);
  }
  const groupOf = new Int32Array(input.length);
  const keys = new Map<string, number>();
  for (let i = 0; i < input.length; i++) {
    const key = groupKey(input[i]!.labels, n.grouping, n.without);
    let g = keys.get(key);
    if (g === undefined) {
      g = keys.size;
      keys.set(key, g);
    }
    groupOf[i] = g;
  }
  const ng = keys.size;
  const members: number[][] = Array.from({ length: ng }, () => []);
  const memberVals: number[][] = Array.from({ length: ng }, () => []);
  const offsets = op === 'limit_ratio' ? input.map((s) => ratioOffset(s.labels)) : [];
  const cursors = new Int32Array(input.length);
  const out = new OutputCollector(ev.steps);
  for (let i = 0; i < ev.steps; i++) {
    if (ev.shouldTick(input.length * 4)) await ev.tick();
    const t = ev.stepTime(i);
    const p = params[i]!;
    for (let g = 0; g < ng; g++) {
      members[g]!.length = 0;
      memberVals[g]!.length = 0;
    }
    let any = false;
    for (let si = 0; si < input.length; si++) {
      const s = input[si]!;
      const c = cursors[si]!;
      if (c >= s.n || s.ts[c] !== t) continue;
      cursors[si] = c + 1;
      members[groupOf[si]!]!.push(si);
      memberVals[groupOf[si]!]!.push(s.fs[c]!);
      any = true;
    }
    if (!any) continue;
    let k = 0;
    let r = 0;
    if (op === 'limit_ratio') {
      if (p === 0) continue;
      r = Math.max(-1, Math.min(1, p));
    } else {
      k = Math.min(Math.trunc(p), input.length);
      if (k < 1) continue;
    }
    for (let g = 0; g < ng; g++) {
      const idx = members[g]!;
      const vals = memberVals[g]!;
      if (idx.length === 0) continue;
      let chosen: number[];
      if (op === 'limitk') chosen = idx.map((_, j) => j).slice(0, k);
      else if (op === 'limit_ratio') chosen = idx.map((_, j) => j).filter((j) => keepForRatio(r, offsets[idx[j]!]!));
      else chosen = topK(vals, k, op === 'topk');
      for (const j of chosen) {
        const s = input[idx[j]!]!;
        if (!out.emit(s.labels, t, vals[j]!, s.dropName, ev.isInstant)) throw execError(DUPLICATE_LABELSET);
      }
    }
  }
  return out.matrix();
}

/** `before(a, b)`: a ranks before b (larger first for topk, smaller first for bottomk, NaN last). */
function ranksBefore(a: number, b: number, desc: boolean): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return desc ? a > b : a < b;
}

/**
 * Indexes of the k best values in rank order; among equal values the earlier one wins, as with
 * Prometheus's heap (a later sample replaces a kept one only when strictly better).
 */
function topK(vals: number[], k: number, desc: boolean): number[] {
  const kept: number[] = [];
  for (let j = 0; j < vals.length; j++) {
    const v = vals[j]!;
    if (kept.length === k && !ranksBefore(v, vals[kept[k - 1]!]!, desc)) continue;
    // Insert after every kept value that ranks before or equal to v.
    let pos = kept.length;
    while (pos > 0 && ranksBefore(v, vals[kept[pos - 1]!]!, desc)) pos--;
    kept.splice(pos, 0, j);
    if (kept.length > k) kept.pop();
  }
  return kept;
}

async function countValues(ev: Evaluator, n: AggNode): Promise<Matrix> {
  const labelArg = n.param;
  if (labelArg === null || labelArg.k !== 'str') throw execError('count_values needs a string parameter');
  const valueLabel = labelArg.val;
  if (!isValidLabelName(valueLabel)) throw execError(`invalid label name ${goQuote(valueLabel)}`);
  const grouping = n.without ? n.grouping : [...n.grouping, valueLabel].sort();
  return ev.rangeEval([n.expr], (vecs) => {
    const groups = new Map<string, { labels: Labels; count: number }>();
    for (const s of vecs[0]!) {
      const metric = withLabel(s.labels, valueLabel, formatFloatF(s.f));
      const key = groupKey(metric, grouping, n.without);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { labels: groupingLabels(metric, grouping, n.without), count: 1 });
      else g.count++;
    }
    const out: Sample[] = [];
    for (const g of groups.values()) out.push({ labels: g.labels, f: g.count, t: 0, dropName: false });
    return out;
  });
}

function withLabel(ls: Labels, name: string, value: string): Labels {
  const out: string[] = [];
  let done = false;
  for (let i = 0; i < ls.length; i += 2) {
    const k = ls[i]!;
    if (!done && k >= name) {
      if (value !== '') out.push(name, value);
      done = true;
      if (k === name) continue;
    }
    out.push(k, ls[i + 1]!);
  }
  if (!done && value !== '') out.push(name, value);
  return Object.freeze(out);
}
