/**
 * The evaluator: walks the planned tree over a step grid [start, end] (an instant query is a grid of one
 * step). Every vector or scalar sub-expression yields a `Matrix` over the grid, as in Prometheus; the node
 * kinds with their own files (selectors, binary operators, aggregations, functions) are dispatched from here.
 */
import type { Labels } from '../../model/labels.js';
import { EMPTY_LABELS } from '../../model/labels.js';
import type { Querier } from '../../storage/interface.js';
import { Annotations, DUPLICATE_LABELSET, execError, PromQLError, TOO_MANY_SAMPLES } from './errors.js';
import { dropMetadata, mergeSameLabelset } from './labels.js';
import type { NegNode, PNode, SINode, SQNode } from './plan.js';
import { evalAggregate } from './aggregations.js';
import { evalBinary } from './binary.js';
import { evalCall } from './functions/index.js';
import { evalMatrixSelector, evalVectorSelector } from './selectors.js';
import { isString, type Matrix, OutputCollector, Series, totalSamples, type Value } from './value.js';

/** State shared by every evaluator of one query (sub-queries and step-invariant parts have their own grid). */
export interface QueryState {
  querier: Querier;
  query: string;
  lookback: number;
  maxSamples: number;
  deadline: number;
  signal: AbortSignal | undefined;
  /** Samples currently held in memory by the evaluation (Prometheus's accounting). */
  current: number;
  peak: number;
  /** Samples read from storage. */
  loaded: number;
  annos: Annotations;
  /** Non-annotation warnings (from storage). */
  warnings: string[];
  lastYield: number;
  /** Work done since the clock was last checked (see `shouldTick`). */
  ticks: number;
  /** Default subquery resolution in ms. */
  subqueryStep: number;
  /**
   * Delayed name removal: series that lose their metric name keep it, flagged with `dropName`, until the
   * result is assembled. Otherwise (eager removal) it is removed where the function or operator runs.
   */
  delayedNameRemoval: boolean;
  /** Rejects with the timeout or cancellation error (for racing against storage that stalls). */
  done: Promise<never>;
}

/** One input sample at a step, for operations that work on a whole vector at a time. */
export interface Sample {
  labels: Labels;
  f: number;
  /** The step time. */
  t: number;
  dropName: boolean;
}

export type Vector = Sample[];


const YIELD_AFTER_MS = 10;
/** Units of work (about a sample each) between two looks at the clock. */
const WORK_PER_CHECK = 20_000;

export class Evaluator {
  readonly steps: number;

  constructor(
    readonly q: QueryState,
    readonly start: number,
    readonly end: number,
    readonly interval: number,
  ) {
    this.steps = end < start ? 0 : Math.floor((end - start) / interval) + 1;
  }

  get isInstant(): boolean {
    return this.start === this.end;
  }

  /**
   * Whether an instant evaluation keeps two output samples with the same labels (as separate series)
   * instead of failing: only with delayed name removal, where the final clean-up decides.
   */
  get keepDuplicates(): boolean {
    return this.isInstant && this.q.delayedNameRemoval;
  }

  /**
   * The labels of an output that drops the metric name: without it under eager removal; unchanged under
   * delayed removal (the caller flags the series with `dropName`).
   */
  dropName(ls: Labels): Labels {
    return this.q.delayedNameRemoval ? ls : dropMetadata(ls);
  }

  /**
   * After an operation dropped names series by series: under eager removal, series that now have the
   * same labels are merged, and two samples at one step are the duplicate-labelset error.
   */
  mergeDropped(m: Matrix): Matrix {
    return this.q.delayedNameRemoval ? m : mergeSameLabelset(m);
  }

  child(start: number, end: number, interval: number): Evaluator {
    return new Evaluator(this.q, start, end, interval);
  }

  /** Timestamp of step i. */
  stepTime(i: number): number {
    return this.start + i * this.interval;
  }

  /** Step index of timestamp t on this grid. */
  stepIndex(t: number): number {
    return Math.round((t - this.start) / this.interval);
  }

  // ---- limits, cancellation, cooperative yielding ----

  addSamples(n: number): void {
    const q = this.q;
    q.current += n;
    if (q.current > q.peak) q.peak = q.current;
    if (q.current > q.maxSamples) throw execError(TOO_MANY_SAMPLES);
  }

  setSamples(n: number): void {
    const q = this.q;
    q.current = n;
    if (n > q.peak) q.peak = n;
  }

  checkDone(): void {
    const q = this.q;
    if (q.signal?.aborted) throw new PromQLError('canceled', 'query was canceled in expression evaluation');
    if (Date.now() > q.deadline) throw new PromQLError('timeout', 'query timed out in expression evaluation');
  }

  /**
   * Counts `work` units (samples or series touched); true once enough work was done that the caller should
   * `await tick()`. Hot loops call this instead of awaiting on every iteration.
   */
  shouldTick(work = 1): boolean {
    const q = this.q;
    q.ticks += work;
    if (q.ticks < WORK_PER_CHECK) return false;
    q.ticks = 0;
    return true;
  }

  /** Yields to the event loop when ~10ms passed since the last yield; checks timeout and cancellation. */
  async tick(): Promise<void> {
    const q = this.q;
    const now = performance.now();
    if (now - q.lastYield >= YIELD_AFTER_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      q.lastYield = performance.now();
    }
    this.checkDone();
  }

  // ---- evaluation ----

  async eval(n: PNode): Promise<Value> {
    this.checkDone();
    if (this.end < this.start) return [];
    switch (n.k) {
      case 'num': {
        const out = new Series(EMPTY_LABELS, false, this.steps);
        for (let i = 0; i < this.steps; i++) out.push(this.stepTime(i), n.val);
        this.addSamples(this.steps);
        return [out];
      }
      case 'str':
        return { kind: 'string', s: n.val };
      case 'vs':
        return evalVectorSelector(this, n, false);
      case 'ms':
        if (!this.isInstant) throw execError('cannot do range evaluation of matrix selector');
        return evalMatrixSelector(this, n);
      case 'sq':
        return (await this.evalSubquery(n)).matrix;
      case 'neg':
        return this.evalNeg(n);
      case 'si':
        return this.evalStepInvariant(n);
      case 'bin':
        return evalBinary(this, n);
      case 'agg':
        return evalAggregate(this, n);
      case 'call':
        return evalCall(this, n);
    }
  }

  /** Evaluates an expression that must give a vector or scalar (a Matrix over the grid). */
  async evalMatrix(n: PNode): Promise<Matrix> {
    const v = await this.eval(n);
    if (isString(v)) throw execError(`unexpected string value for ${n.k}`);
    return v;
  }

  private async evalNeg(n: NegNode): Promise<Matrix> {
    const m = await this.evalMatrix(n.expr);
    for (const s of m) {
      s.dropName = true;
      s.labels = this.dropName(s.labels);
      for (let i = 0; i < s.n; i++) s.fs[i] = -s.fs[i]!;
    }
    return this.mergeDropped(m);
  }

  private async evalStepInvariant(n: SINode): Promise<Value> {
    const inner = this.child(this.start, this.start, this.interval);
    const v = await inner.eval(n.expr);
    if (isString(v)) return v;
    if (n.expr.k === 'ms' || n.expr.k === 'sq') return v;
    if (this.steps <= 1) return v;
    // Repeat the single point of each series at every step.
    const out: Matrix = [];
    for (const s of v) {
      if (s.n === 0) continue;
      const f = s.fs[0]!;
      const r = new Series(s.labels, s.dropName, this.steps);
      for (let i = 0; i < this.steps; i++) r.push(this.stepTime(i), f);
      this.addSamples(this.steps - 1);
      out.push(r);
      if (this.shouldTick(this.steps)) await this.tick();
    }
    return out;
  }

  /** The grid a subquery is evaluated on, aligned to its own step. */
  subqueryGrid(n: SQNode): { start: number; end: number; step: number } {
    const step = n.step !== 0 ? n.step : this.q.subqueryStep;
    let end: number;
    let from: number;
    if (n.at !== null) {
      end = n.at - n.offset;
      from = end - n.range;
    } else {
      const alignedEnd = this.interval > 0 ? this.start + Math.floor((this.end - this.start) / this.interval) * this.interval : this.end;
      end = alignedEnd - n.offset;
      from = this.start - n.offset - n.range;
    }
    // First step-aligned time strictly after `from`.
    let start = step * Math.trunc(from / step);
    if (start <= from) start += step;
    return { start, end, step };
  }

  /** Evaluates a subquery on its own grid; the points keep their own timestamps. */
  async evalSubquery(n: SQNode): Promise<{ matrix: Matrix; samples: number }> {
    const g = this.subqueryGrid(n);
    const child = this.child(g.start, g.end, g.step);
    const v = await child.eval(n.expr);
    if (isString(v)) throw execError('subquery over a string');
    return { matrix: v, samples: totalSamples(v) };
  }

  /**
   * Evaluates `args` (vector/scalar expressions; string arguments are skipped) and calls `fn` with the
   * vectors present at each step, collecting its output samples into series. `fn` returns the samples for
   * one step; they are taken over at once (their `labels`, `f` and `dropName`). Under eager name removal,
   * the samples flagged `dropName` lose their metric name here.
   */
  async rangeEval(args: (PNode | null)[], fn: (vecs: Vector[], t: number, step: number) => Vector): Promise<Matrix> {
    const orig = this.q.current;
    const mats: (Matrix | null)[] = [];
    for (const a of args) {
      if (a === null || a.type === 'string') {
        mats.push(null);
        continue;
      }
      mats.push(await this.evalMatrix(a));
    }
    const base = this.q.current;
    const cursors = mats.map((m) => (m === null ? null : new Int32Array(m.length)));
    const out = new OutputCollector(this.steps);
    const vecs: Vector[] = mats.map(() => []);
    let held = base;
    const work = mats.reduce((a, m) => a + (m?.length ?? 0), 1);
    const eager = !this.q.delayedNameRemoval;
    const keepDuplicates = this.keepDuplicates;
    // Name-dropped label sets, by the original array (so that one output series keeps one array).
    const dropped = new Map<Labels, Labels>();
    for (let i = 0; i < this.steps; i++) {
      if (this.shouldTick(work)) await this.tick();
      const t = this.stepTime(i);
      this.setSamples(held);
      for (let a = 0; a < mats.length; a++) {
        const m = mats[a];
        const vec: Vector = [];
        vecs[a] = vec;
        if (m === null) continue;
        const cur = cursors[a]!;
        for (let s = 0; s < m.length; s++) {
          const ser = m[s]!;
          const c = cur[s]!;
          if (c < ser.n && ser.ts[c] === t) {
            vec.push({ labels: ser.labels, f: ser.fs[c]!, t, dropName: ser.dropName });
            cur[s] = c + 1;
          }
        }
        this.addSamples(vec.length);
      }
      const res = fn(vecs, t, i);
      this.addSamples(res.length);
      held += res.length;
      for (const r of res) {
        let ls = r.labels;
        if (eager && r.dropName) {
          let d = dropped.get(ls);
          if (d === undefined) dropped.set(ls, (d = dropMetadata(ls)));
          ls = d;
        }
        if (!out.emit(ls, t, r.f, r.dropName, keepDuplicates)) throw execError(DUPLICATE_LABELSET);
      }
    }
    const m = out.matrix();
    this.setSamples(orig + totalSamples(m));
    return m;
  }
}
