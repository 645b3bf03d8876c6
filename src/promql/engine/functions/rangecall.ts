/**
 * Calls of functions that take a range vector: the series are read once for the whole query range (or
 * come from a subquery), and each step's window slides over the columns with two moving indexes.
 */
import type { Labels } from '../../../model/labels.js';
import { EMPTY_LABELS, getLabel, METRIC_NAME } from '../../../model/labels.js';
import { goQuote } from '../../parser/goutil.js';
import { DUPLICATE_LABELSET, execError } from '../errors.js';
import type { Evaluator } from '../evaluator.js';
import type { PosRange } from '../../parser/ast.js';
import type { CallNode, PNode } from '../plan.js';
import { streamSeries, withoutStale } from '../selectors.js';
import { Series, type Matrix } from '../value.js';
import { absentLabels, containsSameLabelset } from '../labels.js';
import { ANCHORED_SAFE, RANGE_FUNCTIONS, SMOOTHED_SAFE, type WindowCtx } from './range.js';

interface Source {
  labels: Labels;
  ts: Float64Array;
  fs: Float64Array;
  dropName: boolean;
}

const COUNTER_SUFFIXES = ['_total', '_sum', '_count', '_bucket'];

export async function evalRangeCall(ev: Evaluator, call: CallNode, mIdx: number): Promise<Matrix> {
  const name = call.name;
  const fn = RANGE_FUNCTIONS.get(name);
  if (fn === undefined) throw execError(`unknown range function ${name}`);
  const arg = call.args[mIdx]!;
  const lb = ev.q.lookback;

  let subquerySamples = 0;
  let subqueryMatrix: Matrix | null = null;
  if (arg.k === 'sq') {
    const r = await ev.evalSubquery(arg);
    subqueryMatrix = r.matrix;
    subquerySamples = r.samples;
  }
  // Scalar arguments (their value at each step).
  const params: Matrix[] = [];
  for (let i = 0; i < call.args.length; i++) {
    if (i === mIdx) continue;
    params.push(await ev.evalMatrix(call.args[i]!));
  }

  const argPos = call.args.map((a: PNode) => a.pos);
  const dropName = name !== 'last_over_time' && name !== 'first_over_time';
  const out: Matrix = [];
  let process: (src: Source) => void;

  if (arg.k === 'ms') {
    const vs = arg.vs;
    if (vs.anchored && !ANCHORED_SAFE.includes(name)) {
      throw execError(`anchored modifier can only be used with: ${ANCHORED_SAFE.join(', ')} - not with ${name}`);
    }
    if (vs.smoothed && !SMOOTHED_SAFE.includes(name)) {
      throw execError(`smoothed modifier can only be used with: ${SMOOTHED_SAFE.join(', ')} - not with ${name}`);
    }
    process = windows(ev, call, { range: arg.range, offset: vs.offset, at: vs.at, anchored: vs.anchored, smoothed: vs.smoothed }, params, argPos, dropName, out);
    const firstEnd = (vs.at ?? ev.start) - vs.offset;
    const lastEnd = (vs.at ?? ev.end) - vs.offset;
    const mint = firstEnd - arg.range - (vs.anchored || vs.smoothed ? lb : 0);
    const maxt = lastEnd + (vs.smoothed ? lb : 0);
    await streamSeries(ev, vs.matchers, mint + 1, maxt, { func: name, range: arg.range }, (r) => {
      process({ labels: r.labels, ...withoutStale(r), dropName: false });
    });
  } else if (arg.k === 'sq' && subqueryMatrix !== null) {
    process = windows(ev, call, { range: arg.range, offset: arg.offset, at: arg.at, anchored: false, smoothed: false }, params, argPos, dropName, out);
    for (const s of subqueryMatrix) {
      if (ev.shouldTick(s.n + ev.steps)) await ev.tick();
      process({ labels: s.labels, ...s.columns(), dropName: s.dropName });
    }
  } else {
    throw execError(`expected a range vector argument for ${name}`);
  }
  ev.q.current -= subquerySamples;

  if (name === 'absent_over_time') return absentOverTime(ev, out, arg);
  // Under eager name removal, two outputs left with the same labels are an error, even when their
  // points do not overlap (unlike operators, which merge such series).
  if (!ev.q.delayedNameRemoval && containsSameLabelset(out)) throw execError(DUPLICATE_LABELSET);
  return out;
}

interface Window {
  range: number;
  offset: number;
  at: number | null;
  anchored: boolean;
  smoothed: boolean;
}

/** Returns the per-series step loop: slides the windows over one series' columns and calls the function. */
function windows(
  ev: Evaluator,
  call: CallNode,
  w: Window,
  params: Matrix[],
  argPos: PosRange[],
  dropName: boolean,
  out: Matrix,
): (src: Source) => void {
  const name = call.name;
  const fn = RANGE_FUNCTIONS.get(name)!;
  const lb = ev.q.lookback;
  const { range, offset, at, anchored, smoothed } = w;
  const extendBack = anchored || smoothed ? lb : 0;
  const extendFwd = smoothed ? lb : 0;
  const capacity = Math.min(ev.steps, 1024);
  const ctx: WindowCtx = {
    ts: 0,
    rangeStart: 0,
    rangeEnd: 0,
    range,
    anchored,
    smoothed,
    params: params.map(() => NaN),
    labels: EMPTY_LABELS,
    argPos,
    annos: ev.q.annos,
  };
  return (src: Source): void => {
    const drop = dropName || src.dropName;
    const s = new Series(drop ? ev.dropName(src.labels) : src.labels, drop, capacity);
    ctx.labels = src.labels;
    const { ts, fs } = src;
    const n = ts.length;
    let lo = 0;
    let hi = 0;
    // Samples of the current window count as held in memory, as Prometheus's buffer does.
    let held = 0;
    for (let i = 0; i < ev.steps; i++) {
      const t = ev.stepTime(i);
      const end = (at ?? t) - offset;
      const start = end - range;
      if (i === 0 || at === null) {
        const maxt = end + extendFwd;
        const mint = start - extendBack;
        while (hi < n && ts[hi]! <= maxt) hi++;
        while (lo < n && ts[lo]! <= mint) lo++;
        ev.addSamples(hi - lo - held);
        held = hi - lo;
      }
      if (hi <= lo) continue;
      ctx.ts = t;
      ctx.rangeStart = start;
      ctx.rangeEnd = end;
      for (let p = 0; p < params.length; p++) ctx.params[p] = params[p]![0]?.fs[i] ?? NaN;
      const v = fn(ts, fs, lo, hi, ctx);
      if (v !== undefined) s.push(t, v);
    }
    if (s.n > 0) ev.addSamples(s.n);
    ev.q.current -= held;
    if (s.n === 0) return;
    out.push(s);
    if (name === 'rate' || name === 'increase') {
      const metric = getLabel(src.labels, METRIC_NAME);
      if (metric !== '' && !COUNTER_SUFFIXES.some((x) => metric.endsWith(x))) {
        ev.q.annos.info(
          `metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${goQuote(metric)}`,
          call.args[0]!.pos,
        );
      }
    }
  };
}

function absentOverTime(ev: Evaluator, mat: Matrix, arg: PNode): Matrix {
  for (const s of mat) if (s.n === ev.steps) return [];
  const found = new Uint8Array(ev.steps);
  let count = 0;
  for (const s of mat) {
    for (let i = 0; i < s.n; i++) {
      const k = ev.stepIndex(s.ts[i]!);
      if (found[k] === 0) {
        found[k] = 1;
        count++;
      }
    }
  }
  if (count === ev.steps) return [];
  const labels = arg.k === 'ms' ? absentLabels(arg.vs.matchers) : EMPTY_LABELS;
  const out = new Series(labels, true, ev.steps - count);
  for (let i = 0; i < ev.steps; i++) if (found[i] === 0) out.push(ev.stepTime(i), 1);
  return [out];
}
