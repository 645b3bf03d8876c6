/**
 * Binary operators: arithmetic, comparisons (with and without `bool`), `atan2` and the set operators, between
 * scalars and vectors, with one-to-one, many-to-one/one-to-many (`group_left`/`group_right`) and
 * many-to-many (set operators) matching, and `fill` values for unmatched samples.
 */
import type { Labels } from '../../model/labels.js';
import { EMPTY_LABELS, labelsKey, labelsFromPairs, METRIC_NAME } from '../../model/labels.js';
import type { BinaryOp, VectorMatching } from '../parser/ast.js';
import { DUPLICATE_LABELSET, execError } from './errors.js';
import type { Evaluator } from './evaluator.js';
import type { BinNode } from './plan.js';
import { dropMetadata, promLabelsString } from './labels.js';
import { OutputCollector, Series, totalSamples, type Matrix, type Slot } from './value.js';

/** Go's math.Pow special cases that differ from JavaScript's. */
export function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1;
  if ((x === -1 || x === 1) && (y === Infinity || y === -Infinity)) return 1;
  return Math.pow(x, y);
}

function changesMetricSchema(op: BinaryOp): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '^' || op === '%' || op === 'atan2';
}

function arith(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return l / r;
    case '^':
      return goPow(l, r);
    case '%':
      return l % r;
    case 'atan2':
      return Math.atan2(l, r);
    default:
      return NaN;
  }
}

function compare(op: BinaryOp, l: number, r: number): boolean {
  switch (op) {
    case '==':
      return l === r;
    case '!=':
      return l !== r;
    case '>':
      return l > r;
    case '<':
      return l < r;
    case '>=':
      return l >= r;
    case '<=':
      return l <= r;
    default:
      return false;
  }
}

function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

function isTrim(op: BinaryOp): boolean {
  return op === '</' || op === '>/';
}

function trimInfo(op: BinaryOp): string {
  return `incompatible sample types encountered for binary operator "${op}": float ${op} float`;
}

export async function evalBinary(ev: Evaluator, n: BinNode): Promise<Matrix> {
  const lt = n.lhs.type;
  const rt = n.rhs.type;
  if (lt === 'scalar' && rt === 'scalar') return scalarScalar(ev, n);
  if (lt === 'vector' && rt === 'vector') {
    if (n.op === 'and' || n.op === 'or' || n.op === 'unless') return setOp(ev, n);
    return vectorVector(ev, n);
  }
  return vectorScalar(ev, n, lt === 'scalar');
}

async function scalarScalar(ev: Evaluator, n: BinNode): Promise<Matrix> {
  const orig = ev.q.current;
  const l = await ev.evalMatrix(n.lhs);
  const r = await ev.evalMatrix(n.rhs);
  const out = new Series(EMPTY_LABELS, false, ev.steps);
  const ls = l[0];
  const rs = r[0];
  for (let i = 0; i < ev.steps; i++) {
    const a = ls !== undefined && i < ls.n ? ls.fs[i]! : NaN;
    const b = rs !== undefined && i < rs.n ? rs.fs[i]! : NaN;
    const v = isComparison(n.op) ? (compare(n.op, a, b) ? 1 : 0) : arith(n.op, a, b);
    out.push(ev.stepTime(i), v);
  }
  ev.setSamples(orig);
  ev.addSamples(out.n);
  return [out];
}

async function vectorScalar(ev: Evaluator, n: BinNode, scalarLeft: boolean): Promise<Matrix> {
  const orig = ev.q.current;
  const lv = await ev.evalMatrix(n.lhs);
  const rv = await ev.evalMatrix(n.rhs);
  const vec = scalarLeft ? rv : lv;
  const sc = (scalarLeft ? lv : rv)[0];
  const op = n.op;
  const cmp = isComparison(op);
  const dropAll = changesMetricSchema(op) || n.bool;
  const out: Matrix = [];
  let samples = 0;
  for (const s of vec) {
    if (ev.shouldTick(s.n)) await ev.tick();
    const r = new Series(dropAll ? ev.dropName(s.labels) : s.labels, dropAll || s.dropName, s.n);
    for (let k = 0; k < s.n; k++) {
      const t = s.ts[k]!;
      const i = ev.stepIndex(t);
      const x = sc !== undefined && i < sc.n ? sc.fs[i]! : NaN;
      const v = s.fs[k]!;
      const lf = scalarLeft ? x : v;
      const rf = scalarLeft ? v : x;
      if (isTrim(op)) {
        ev.q.annos.info(trimInfo(op), n.pos);
        continue;
      }
      let value: number;
      let keep = true;
      if (cmp) {
        keep = compare(op, lf, rf);
        // The vector's value is kept, whichever side it is on.
        value = v;
      } else value = arith(op, lf, rf);
      if (n.bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (keep) r.push(t, value);
    }
    if (r.n > 0) {
      out.push(r);
      samples += r.n;
      ev.addSamples(r.n);
    }
  }
  ev.setSamples(orig + samples);
  return dropAll ? ev.mergeDropped(out) : out;
}

/** The join signature of a series: the `on` labels, or all labels but the `ignoring` ones and the name. */
function signature(ls: Labels, on: boolean, names: ReadonlySet<string>): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const name = ls[i]!;
    const keep = on ? names.has(name) : name !== METRIC_NAME && !names.has(name);
    if (keep) parts.push(name, ls[i + 1]!);
  }
  return parts.join('\xff');
}

/** Labels restricted as the match group: the `on` labels, or everything but the `ignoring` labels and the name. */
function matchLabels(ls: Labels, on: boolean, names: ReadonlySet<string>): Labels {
  const pairs: [string, string][] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const name = ls[i]!;
    const keep = on ? names.has(name) : name !== METRIC_NAME && !names.has(name);
    if (keep) pairs.push([name, ls[i + 1]!]);
  }
  return labelsFromPairs(pairs);
}

interface Sides {
  lhs: Matrix;
  rhs: Matrix;
  lsig: Int32Array;
  rsig: Int32Array;
  numSigs: number;
}

async function evalSides(ev: Evaluator, n: BinNode): Promise<Sides> {
  const lhs = await ev.evalMatrix(n.lhs);
  const rhs = await ev.evalMatrix(n.rhs);
  const m = n.matching!;
  const names = new Set(m.labels);
  const ords = new Map<string, number>();
  const sigs = (mat: Matrix): Int32Array => {
    const out = new Int32Array(mat.length);
    for (let i = 0; i < mat.length; i++) {
      const key = signature(mat[i]!.labels, m.on, names);
      let o = ords.get(key);
      if (o === undefined) {
        o = ords.size;
        ords.set(key, o);
      }
      out[i] = o;
    }
    return out;
  };
  const lsig = sigs(lhs);
  const rsig = sigs(rhs);
  return { lhs, rhs, lsig, rsig, numSigs: ords.size };
}

/** Indexes (and values) of the series of `m` that have a point at `t`, advancing per-series cursors. */
class Gatherer {
  readonly idx: Int32Array;
  readonly val: Float64Array;
  n = 0;
  private readonly cur: Int32Array;
  constructor(private readonly m: Matrix) {
    this.idx = new Int32Array(m.length);
    this.val = new Float64Array(m.length);
    this.cur = new Int32Array(m.length);
  }
  gather(t: number): number {
    let n = 0;
    const m = this.m;
    for (let s = 0; s < m.length; s++) {
      const ser = m[s]!;
      const c = this.cur[s]!;
      if (c < ser.n && ser.ts[c] === t) {
        this.idx[n] = s;
        this.val[n++] = ser.fs[c]!;
        this.cur[s] = c + 1;
      }
    }
    this.n = n;
    return n;
  }
}

async function setOp(ev: Evaluator, n: BinNode): Promise<Matrix> {
  const orig = ev.q.current;
  const { lhs, rhs, lsig, rsig, numSigs } = await evalSides(ev, n);
  const base = ev.q.current;
  const gl = new Gatherer(lhs);
  const gr = new Gatherer(rhs);
  const present = new Uint8Array(numSigs);
  const out = new OutputCollector(ev.steps);
  const slotsL: (Slot | undefined)[] = new Array(lhs.length);
  const slotsR: (Slot | undefined)[] = new Array(rhs.length);
  const keepDuplicates = ev.keepDuplicates;
  const emit = (m: Matrix, slots: (Slot | undefined)[], idx: number, t: number, f: number): void => {
    let slot = slots[idx];
    if (slot === undefined) {
      const s = m[idx]!;
      slots[idx] = slot = out.slot(s.labels, s.dropName);
    }
    if (!out.push(slot, t, f, keepDuplicates)) throw execError(DUPLICATE_LABELSET);
  };
  for (let i = 0; i < ev.steps; i++) {
    if (ev.shouldTick(lhs.length + rhs.length)) await ev.tick();
    const t = ev.stepTime(i);
    const nl = gl.gather(t);
    const nr = gr.gather(t);
    ev.setSamples(base + out.samples);
    ev.addSamples(nl + nr);
    switch (n.op) {
      case 'and':
        if (nl === 0 || nr === 0) break;
        present.fill(0);
        for (let k = 0; k < nr; k++) present[rsig[gr.idx[k]!]!] = 1;
        for (let k = 0; k < nl; k++) {
          const s = gl.idx[k]!;
          if (present[lsig[s]!] === 1) emit(lhs, slotsL, s, t, gl.val[k]!);
        }
        break;
      case 'or':
        present.fill(0);
        for (let k = 0; k < nl; k++) {
          const s = gl.idx[k]!;
          present[lsig[s]!] = 1;
          emit(lhs, slotsL, s, t, gl.val[k]!);
        }
        for (let k = 0; k < nr; k++) {
          const s = gr.idx[k]!;
          if (nl === 0 || present[rsig[s]!] === 0) emit(rhs, slotsR, s, t, gr.val[k]!);
        }
        break;
      case 'unless':
        present.fill(0);
        if (nl > 0 && nr > 0) for (let k = 0; k < nr; k++) present[rsig[gr.idx[k]!]!] = 1;
        for (let k = 0; k < nl; k++) {
          const s = gl.idx[k]!;
          if (present[lsig[s]!] === 0) emit(lhs, slotsL, s, t, gl.val[k]!);
        }
        break;
      default:
        throw execError(`operator ${n.op} is not a set operator`);
    }
  }
  const m = out.matrix();
  ev.setSamples(orig + totalSamples(m));
  return m;
}

function resultLabels(lhs: Labels, rhs: Labels, dropName: boolean, m: VectorMatching, names: ReadonlySet<string>): Labels {
  let ls = dropName ? dropMetadata(lhs) : lhs;
  const obj = new Map<string, string>();
  for (let i = 0; i < ls.length; i += 2) obj.set(ls[i]!, ls[i + 1]!);
  if (m.card === 'one-to-one') {
    for (const k of [...obj.keys()]) {
      const listed = names.has(k);
      if (m.on ? !listed : listed) obj.delete(k);
    }
  }
  for (const name of m.include) {
    let v = '';
    for (let i = 0; i < rhs.length; i += 2) if (rhs[i] === name) v = rhs[i + 1]!;
    if (v !== '') obj.set(name, v);
    else obj.delete(name);
  }
  ls = labelsFromPairs([...obj.entries()]);
  return ls;
}

async function vectorVector(ev: Evaluator, n: BinNode): Promise<Matrix> {
  const orig = ev.q.current;
  const sides = await evalSides(ev, n);
  const base = ev.q.current;
  const m = n.matching!;
  const names = new Set(m.labels);
  const oneToMany = m.card === 'one-to-many';
  const oneToOne = m.card === 'one-to-one';
  // For one-to-many, work as many-to-one with the sides swapped.
  const L = oneToMany ? sides.rhs : sides.lhs;
  const R = oneToMany ? sides.lhs : sides.rhs;
  const lsig = oneToMany ? sides.rsig : sides.lsig;
  const rsig = oneToMany ? sides.lsig : sides.rsig;
  const fillR = m.fill.rhs;
  const fillL = m.fill.lhs;
  const gl = new Gatherer(L);
  const gr = new Gatherer(R);
  const numSigs = sides.numSigs;
  const rightIdx = new Int32Array(numSigs);
  const rightVal = new Float64Array(numSigs);
  const rightPresent = new Uint8Array(numSigs);
  const matchedPresent = new Uint8Array(numSigs);
  const matchedSets: (Set<Labels> | undefined)[] = new Array(numSigs);
  const out = new OutputCollector(ev.steps);
  const cache = new Map<Labels, Map<Labels, Labels>>();
  const interned = new Map<string, Labels>();
  const fillLabelsL: (Labels | undefined)[] = new Array(L.length);
  const fillLabelsR: (Labels | undefined)[] = new Array(R.length);
  const op = n.op;
  const cmp = isComparison(op);
  const trim = isTrim(op);
  // Arithmetic always drops the name right away; `bool` comparisons do so too under eager removal (under
  // delayed removal their output is flagged instead).
  const dropName = changesMetricSchema(op) || (n.bool && !ev.q.delayedNameRemoval);
  const keepDuplicates = ev.keepDuplicates;
  // The pairing of a left series with its match rarely changes between steps: remember the last one.
  const lastRight: (Labels | undefined)[] = new Array(L.length);
  const lastMetric: (Labels | undefined)[] = new Array(L.length);
  const lastSlot: (Slot | undefined)[] = new Array(L.length);
  const result = (a: Labels, b: Labels): Labels => {
    let inner = cache.get(a);
    if (inner === undefined) {
      inner = new Map();
      cache.set(a, inner);
    }
    let r = inner.get(b);
    if (r === undefined) {
      r = resultLabels(a, b, dropName, m, names);
      // Equal label sets share one array, so identity compares them below.
      const key = labelsKey(r);
      const known = interned.get(key);
      if (known !== undefined) r = known;
      else interned.set(key, r);
      inner.set(b, r);
    }
    return r;
  };

  const doOp = (lLabels: Labels, lf: number, rLabels: Labels, rf: number, sig: number, t: number, li: number): void => {
    let fl = lf;
    let fr = rf;
    if (oneToMany) {
      fl = rf;
      fr = lf;
    }
    if (trim) {
      ev.q.annos.info(trimInfo(op), n.pos);
      return;
    }
    let value: number;
    let keep = true;
    if (cmp) {
      keep = compare(op, fl, fr);
      value = fl;
    } else value = arith(op, fl, fr);
    if (n.bool) value = keep ? 1 : 0;
    let metric: Labels;
    let slot: Slot | undefined;
    if (li >= 0 && lastRight[li] === rLabels) {
      metric = lastMetric[li]!;
      slot = lastSlot[li];
    } else {
      metric = result(lLabels, rLabels);
      if (li >= 0) {
        lastRight[li] = rLabels;
        lastMetric[li] = metric;
        lastSlot[li] = undefined;
      }
    }
    if (oneToOne) {
      if (matchedPresent[sig] === 1) {
        throw execError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      }
      matchedPresent[sig] = 1;
    } else {
      let set = matchedSets[sig];
      if (set === undefined) {
        set = new Set();
        matchedSets[sig] = set;
      }
      if (set.has(metric)) throw execError('multiple matches for labels: grouping labels must ensure unique matches');
      set.add(metric);
    }
    if (!keep && !n.bool) return;
    if (slot === undefined) {
      slot = out.slot(metric, n.bool);
      if (li >= 0) lastSlot[li] = slot;
    }
    if (!out.push(slot, t, value, keepDuplicates)) throw execError(DUPLICATE_LABELSET);
  };

  for (let i = 0; i < ev.steps; i++) {
    if (ev.shouldTick(L.length + R.length)) await ev.tick();
    const t = ev.stepTime(i);
    const nl = gl.gather(t);
    const nr = gr.gather(t);
    ev.setSamples(base + out.samples);
    ev.addSamples(nl + nr);
    if ((nl === 0 && nr === 0) || ((nl === 0 || nr === 0) && fillL === null && fillR === null)) continue;
    rightPresent.fill(0);
    if (oneToOne) matchedPresent.fill(0);
    else matchedSets.fill(undefined);
    for (let k = 0; k < nr; k++) {
      const s = gr.idx[k]!;
      const sig = rsig[s]!;
      if (rightPresent[sig] === 1) {
        const a = R[s]!.labels;
        const b = R[rightIdx[sig]!]!.labels;
        let d1 = promLabelsString(a);
        let d2 = promLabelsString(b);
        if (d1 > d2) [d1, d2] = [d2, d1];
        const group = promLabelsString(matchLabels(a, m.on, names));
        throw execError(
          `found duplicate series for the match group ${group} on the ${oneToMany ? 'left' : 'right'} hand-side of the operation: ` +
            `[${d1}, ${d2}];many-to-many matching not allowed: matching labels must be unique on one side`,
        );
      }
      rightPresent[sig] = 1;
      rightIdx[sig] = s;
      rightVal[sig] = gr.val[k]!;
    }
    for (let k = 0; k < nl; k++) {
      const s = gl.idx[k]!;
      const sig = lsig[s]!;
      const ll = L[s]!.labels;
      if (rightPresent[sig] === 1) {
        doOp(ll, gl.val[k]!, R[rightIdx[sig]!]!.labels, rightVal[sig]!, sig, t, s);
      } else if (fillR !== null) {
        let fl = fillLabelsL[s];
        if (fl === undefined) fillLabelsL[s] = fl = matchLabels(ll, m.on, names);
        doOp(ll, gl.val[k]!, fl, fillR, sig, t, s);
      }
    }
    if (fillL !== null) {
      for (let k = 0; k < nr; k++) {
        const s = gr.idx[k]!;
        const sig = rsig[s]!;
        const matched = oneToOne ? matchedPresent[sig] === 1 : (matchedSets[sig]?.size ?? 0) > 0;
        if (matched) continue;
        const rl = R[s]!.labels;
        let fl = fillLabelsR[s];
        if (fl === undefined) fillLabelsR[s] = fl = matchLabels(rl, m.on, names);
        doOp(fl, fillL, rl, gr.val[k]!, sig, t, -1);
      }
    }
  }
  const res = out.matrix();
  ev.setSamples(orig + totalSamples(res));
  return res;
}
