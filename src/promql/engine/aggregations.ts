/**
 * Aggregation operators. Input series are mapped to groups once; each step then folds the samples present
 * into per-group accumulators held in typed arrays (no object per sample).
 */
import type { Labels } from '../../model/labels.js';
import { METRIC_NAME } from '../../model/labels.js';
import { formatFloatF, formatFloatG, goQuote } from '../parser/goutil.js';
import { DUPLICATE_LABELSET, execError } from './errors.js';
import type { Evaluator, Sample } from './evaluator.js';
import { invalidQuantileText } from './functions/range.js';
import { kahanC, kahanInc, quantileOf } from './functions/util.js';
import { xxhash64Labels } from './hash.js';
import { groupingLabels, isValidLabelName } from './labels.js';
import type { AggNode } from './plan.js';
import { OutputCollector, Series, totalSamples, type Matrix, type Slot } from './value.js';

/**
 * The group key function of an aggregation: a series' `by` labels, or all labels but the `without` ones and
 * the name, as one string (equal for equal label subsets; only compared within one aggregation).
 */
function groupKeyer(grouping: readonly string[], without: boolean): (ls: Labels) => string {
  if (!without && grouping.length === 0) return () => '';
  const names = new Set(grouping);
  return (ls) => {
    let key = '';
    for (let i = 0; i < ls.length; i += 2) {
      const name = ls[i]!;
      if (without ? name !== METRIC_NAME && !names.has(name) : names.has(name)) key += `${name}\xff${ls[i + 1]!}\xff`;
    }
    return key;
  };
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
  const groupKey = groupKeyer(n.grouping, n.without);
  for (let i = 0; i < input.length; i++) {
    const ls = input[i]!.labels;
    const key = groupKey(ls);
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
  const groupKey = groupKeyer(n.grouping, n.without);
  for (let i = 0; i < input.length; i++) {
    const key = groupKey(input[i]!.labels);
    let g = keys.get(key);
    if (g === undefined) {
      g = keys.size;
      keys.set(key, g);
    }
    groupOf[i] = g;
  }
  const ng = keys.size;
  if (op === 'topk' || op === 'bottomk') return rankK(ev, input, groupOf, ng, params, op === 'topk');
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
      else chosen = idx.map((_, j) => j).filter((j) => keepForRatio(r, offsets[idx[j]!]!));
      for (const j of chosen) {
        const s = input[idx[j]!]!;
        if (!out.emit(s.labels, t, vals[j]!, s.dropName, ev.isInstant)) throw execError(DUPLICATE_LABELSET);
      }
    }
  }
  return out.matrix();
}

/** Kept-sample slots (per step × group) that topk/bottomk works on at once; bounds its memory. */
const RANK_TILE_SLOTS = 1 << 15;

/**
 * The kept samples of topk/bottomk for a tile of steps: for each step and group a run of slots in rank
 * order (best first, at most k, never more than the group has members). A sample displaces kept ones only
 * when it ranks strictly before them, so among equal values the earlier series wins; NaN ranks after every
 * number. Most samples are turned away by one comparison with the run's worst sample.
 */
class RankRuns {
  /** First step of the tile. */
  i0 = 0;
  readonly idx: Int32Array;
  readonly val: Float64Array;
  /** Samples kept per (step, group) cell. */
  readonly count: Int32Array;

  constructor(
    readonly tile: number,
    readonly ng: number,
    /** Slots of one step: the sum of the groups' run capacities. */
    readonly width: number,
    readonly cap: Int32Array,
    readonly base: Int32Array,
    /** k at each step of the query. */
    readonly ks: Int32Array,
    readonly desc: boolean,
    readonly start: number,
    readonly interval: number,
  ) {
    this.idx = new Int32Array(tile * width);
    this.val = new Float64Array(tile * width);
    this.count = new Int32Array(tile * ng);
  }

  reset(i0: number): void {
    this.i0 = i0;
    this.count.fill(0);
  }

  /**
   * Offers the points of series `si` (group g) from index c on, up to time tLast, to the runs of their
   * steps; returns the index of the first point not taken.
   */
  offer(si: number, g: number, ts: Float64Array, fs: Float64Array, n: number, c: number, tLast: number): number {
    const { ks, count, val, idx, ng, width, desc, start, interval, i0 } = this;
    const capG = this.cap[g]!;
    const baseG = this.base[g]!;
    // Step of the previous point: the points lie on the step grid, mostly one step apart (a guess that
    // is checked, since a division per point costs more than the rest of the work).
    let i = c > 0 ? Math.round((ts[c - 1]! - start) / interval) : -1;
    for (; c < n; c++) {
      const t = ts[c]!;
      if (t > tLast) break;
      i++;
      if (start + i * interval !== t) i = Math.round((t - start) / interval);
      const k = ks[i]!;
      if (k < 1) continue;
      const v = fs[c]!;
      const cell = (i - i0) * ng + g;
      const b = (i - i0) * width + baseG;
      const have = count[cell]!;
      // The kept samples that stay: all of them, or all but the worst when the run is full.
      let end = have;
      if (have === (k < capG ? k : capG)) {
        // Full: v must rank strictly before the worst kept sample, which it then replaces (a number
        // ranks before NaN; the comparison is false when either is NaN).
        const w = val[b + have - 1]!;
        if (!(desc ? v > w : v < w) && !(w !== w && v === v)) continue;
        end = have - 1;
      } else {
        count[cell] = have + 1;
      }
      // v goes before the first kept sample it ranks strictly before (binary search: the run is sorted).
      let lo = 0;
      let hi = end;
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        const w = val[b + m]!;
        if (v === v && (w !== w || (desc ? v > w : v < w))) hi = m;
        else lo = m + 1;
      }
      if (end - lo > 16) {
        val.copyWithin(b + lo + 1, b + lo, b + end);
        idx.copyWithin(b + lo + 1, b + lo, b + end);
      } else {
        for (let j = b + end; j > b + lo; j--) {
          val[j] = val[j - 1]!;
          idx[j] = idx[j - 1]!;
        }
      }
      val[b + lo] = v;
      idx[b + lo] = si;
    }
    return c;
  }
}

/**
 * topk/bottomk. The steps are taken a tile at a time; within a tile series by series, reading each series'
 * columns in order and in input order (so every run sees its samples in the same order as step by step
 * would), then the tile's runs are emitted step by step, group by group, in rank order.
 */
async function rankK(
  ev: Evaluator,
  input: Matrix,
  groupOf: Int32Array,
  ng: number,
  params: Float64Array,
  desc: boolean,
): Promise<Matrix> {
  const steps = ev.steps;
  const ns = input.length;
  // k at each step (below 1: that step has no output).
  const ks = new Int32Array(steps);
  let kMax = 0;
  for (let i = 0; i < steps; i++) {
    const k = Math.max(0, Math.min(Math.trunc(params[i]!), ns));
    ks[i] = k;
    if (k > kMax) kMax = k;
  }
  // Run capacity of each group and its offset within a step's slots.
  const size = new Int32Array(ng);
  for (let si = 0; si < ns; si++) size[groupOf[si]!]!++;
  const cap = new Int32Array(ng);
  const base = new Int32Array(ng + 1);
  for (let g = 0; g < ng; g++) {
    cap[g] = Math.min(kMax, size[g]!);
    base[g + 1] = base[g]! + cap[g]!;
  }
  const width = base[ng]!;
  const tile = Math.min(steps, Math.max(1, Math.floor(RANK_TILE_SLOTS / Math.max(1, width))));
  const runs = new RankRuns(tile, ng, width, cap, base, ks, desc, ev.start, ev.interval);
  const cursors = new Int32Array(ns);
  const slots: (Slot | undefined)[] = new Array(ns);
  const out = new OutputCollector(steps);
  const keepDuplicates = ev.isInstant;
  for (let i0 = 0; i0 < steps; i0 += tile) {
    const i1 = Math.min(steps, i0 + tile);
    const tLast = ev.stepTime(i1 - 1);
    runs.reset(i0);
    for (let si = 0; si < ns; si++) {
      const s = input[si]!;
      const first = cursors[si]!;
      const c = runs.offer(si, groupOf[si]!, s.ts, s.fs, s.n, first, tLast);
      cursors[si] = c;
      if (ev.shouldTick(c - first + 1)) await ev.tick();
    }
    for (let i = i0; i < i1; i++) {
      if (ks[i]! < 1) continue;
      const t = ev.stepTime(i);
      for (let g = 0; g < ng; g++) {
        const b = (i - i0) * width + base[g]!;
        const have = runs.count[(i - i0) * ng + g]!;
        for (let j = 0; j < have; j++) {
          const si = runs.idx[b + j]!;
          let slot = slots[si];
          if (slot === undefined) {
            const s = input[si]!;
            slots[si] = slot = out.slot(s.labels, s.dropName);
          }
          if (!out.push(slot, t, runs.val[b + j]!, keepDuplicates)) throw execError(DUPLICATE_LABELSET);
        }
      }
    }
  }
  return out.matrix();
}

async function countValues(ev: Evaluator, n: AggNode): Promise<Matrix> {
  const labelArg = n.param;
  if (labelArg === null || labelArg.k !== 'str') throw execError('count_values needs a string parameter');
  const valueLabel = labelArg.val;
  if (!isValidLabelName(valueLabel)) throw execError(`invalid label name ${goQuote(valueLabel)}`);
  const grouping = n.without ? n.grouping : [...n.grouping, valueLabel].sort();
  const groupKey = groupKeyer(grouping, n.without);
  return ev.rangeEval([n.expr], (vecs) => {
    const groups = new Map<string, { labels: Labels; count: number }>();
    for (const s of vecs[0]!) {
      const metric = withLabel(s.labels, valueLabel, formatFloatF(s.f));
      const key = groupKey(metric);
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
