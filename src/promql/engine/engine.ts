/**
 * The query engine: parses, plans and evaluates instant and range queries against a `Queryable`, enforcing
 * the timeout, the sample limit and cancellation, and shapes the result the way the HTTP API returns it.
 */
import type { Labels } from '../../model/labels.js';
import { compareLabels } from '../../model/labels.js';
import type { Querier, Queryable } from '../../storage/interface.js';
import { ParseError, parseExpr, type Expr } from '../parser/index.js';
import { Annotations, PromQLError } from './errors.js';
import { Evaluator, type QueryState } from './evaluator.js';
import { dropMetadata, mergeSameLabelset } from './labels.js';
import { plan, type PNode } from './plan.js';
import { isString, type Matrix } from './value.js';

export interface EngineOptions {
  /** How far back an instant selector looks for a sample (default 5m). */
  lookbackDeltaMs?: number;
  /** Query timeout (default 2m). */
  timeoutMs?: number;
  /** Maximum number of samples a query may hold in memory at once (default 50 million). */
  maxSamples?: number;
  /** Resolution of subqueries written without a step (default 1m). */
  subqueryStepMs?: number;
  /**
   * Remove `__name__` (and `__type__`/`__unit__`) only when the query result is assembled, instead of where
   * a function or operator drops it (default false: eager removal, Prometheus 3.x's default; true is its
   * `promql-delayed-name-removal` feature, which the upstream test scripts are written against).
   */
  enableDelayedNameRemoval?: boolean;
}

export interface QueryOptions {
  /** Overrides the engine's lookback delta for this query. */
  lookbackDeltaMs?: number;
  /** Shortens the engine's timeout for this query. */
  timeoutMs?: number;
  /** Aborting cancels the query (PromQLError 'canceled'). */
  signal?: AbortSignal;
}

export type Point = { t: number; f: number };

export type QueryValue =
  | { resultType: 'scalar'; t: number; f: number }
  | { resultType: 'string'; t: number; s: string }
  | { resultType: 'vector'; series: { labels: Labels; t: number; f: number }[] }
  | { resultType: 'matrix'; series: { labels: Labels; ts: Float64Array; fs: Float64Array }[] };

export interface QueryResult {
  value: QueryValue;
  warnings: string[];
  infos: string[];
  stats: { samplesLoaded: number; peakSamples: number };
}

const DEFAULT_LOOKBACK = 5 * 60_000;
const DEFAULT_TIMEOUT = 2 * 60_000;
const DEFAULT_MAX_SAMPLES = 50_000_000;

export class Engine {
  private readonly lookback: number;
  private readonly timeout: number;
  private readonly maxSamples: number;
  private readonly subqueryStep: number;
  private readonly delayedNameRemoval: boolean;

  constructor(opts: EngineOptions = {}) {
    this.lookback = opts.lookbackDeltaMs && opts.lookbackDeltaMs > 0 ? opts.lookbackDeltaMs : DEFAULT_LOOKBACK;
    this.timeout = opts.timeoutMs && opts.timeoutMs > 0 ? opts.timeoutMs : DEFAULT_TIMEOUT;
    this.maxSamples = opts.maxSamples && opts.maxSamples > 0 ? opts.maxSamples : DEFAULT_MAX_SAMPLES;
    this.subqueryStep = opts.subqueryStepMs && opts.subqueryStepMs > 0 ? opts.subqueryStepMs : 60_000;
    this.delayedNameRemoval = opts.enableDelayedNameRemoval === true;
  }

  /** Evaluates `query` at `timeMs`. Parse errors are `bad_data`; evaluation errors `execution`. */
  async instantQuery(q: Queryable, query: string, timeMs: number, opts: QueryOptions = {}): Promise<QueryResult> {
    const expr = parse(query);
    return this.exec(q, query, expr, timeMs, timeMs, 0, opts);
  }

  /** Evaluates `query` at every step from `startMs` to `endMs`; the result is always a matrix. */
  async rangeQuery(
    q: Queryable,
    query: string,
    startMs: number,
    endMs: number,
    stepMs: number,
    opts: QueryOptions = {},
  ): Promise<QueryResult> {
    const expr = parse(query);
    const vt = valueType(expr);
    if (vt !== 'vector' && vt !== 'scalar') {
      const name = vt === 'matrix' ? 'range vector' : vt;
      throw new PromQLError(
        'bad_data',
        `invalid expression type ${JSON.stringify(name)} for range query, must be Scalar or instant Vector`,
      );
    }
    if (!(stepMs > 0)) throw new PromQLError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endMs < startMs) throw new PromQLError('bad_data', 'end timestamp must not be before start time');
    return this.exec(q, query, expr, startMs, endMs, stepMs, opts);
  }

  private async exec(
    queryable: Queryable,
    query: string,
    expr: Expr,
    start: number,
    end: number,
    step: number,
    opts: QueryOptions,
  ): Promise<QueryResult> {
    // A per-query timeout can shorten the engine's, never extend it (as with Prometheus's `timeout` parameter).
    const timeout = opts.timeoutMs && opts.timeoutMs > 0 ? Math.min(opts.timeoutMs, this.timeout) : this.timeout;
    const lookback = opts.lookbackDeltaMs && opts.lookbackDeltaMs > 0 ? opts.lookbackDeltaMs : this.lookback;
    if (opts.signal?.aborted) throw new PromQLError('canceled', 'query was canceled in query execution');
    let root: PNode;
    let querier: Querier;
    try {
      root = plan(expr, start, end, step);
      querier = queryable.querier();
    } catch (err) {
      throw asPromQLError(err);
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const done = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PromQLError('timeout', 'query timed out in expression evaluation')), timeout);
      onAbort = () => reject(new PromQLError('canceled', 'query was canceled in expression evaluation'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
    done.catch(() => undefined);
    const state: QueryState = {
      querier,
      query,
      lookback,
      maxSamples: this.maxSamples,
      deadline: Date.now() + timeout,
      signal: opts.signal,
      current: 0,
      peak: 0,
      loaded: 0,
      annos: new Annotations(),
      warnings: [],
      lastYield: performance.now(),
      ticks: 0,
      subqueryStep: this.subqueryStep,
      delayedNameRemoval: this.delayedNameRemoval,
      done,
    };
    const instant = step === 0;
    const ev = new Evaluator(state, start, end, instant ? 1 : step);
    let value: QueryValue;
    try {
      const v = await ev.eval(root);
      if (isString(v)) {
        value = { resultType: 'string', t: start, s: v.s };
      } else {
        // With eager removal the names are gone already, and duplicates were caught where they arose.
        const m = this.delayedNameRemoval ? finish(v) : v;
        if (instant) {
          switch (root.type) {
            case 'scalar':
              value = { resultType: 'scalar', t: start, f: m[0] !== undefined && m[0].n > 0 ? m[0].fs[0]! : NaN };
              break;
            case 'matrix':
              value = toMatrix(m);
              break;
            default:
              value = {
                resultType: 'vector',
                series: m.filter((s) => s.n > 0).map((s) => ({ labels: s.labels, t: start, f: s.fs[0]! })),
              };
          }
        } else {
          ev.checkDone();
          value = toMatrix(m);
        }
      }
    } catch (err) {
      throw asPromQLError(err);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) opts.signal?.removeEventListener('abort', onAbort);
    }
    const { warnings, infos } = state.annos.format(query);
    return {
      value,
      warnings: [...state.warnings, ...warnings],
      infos,
      stats: { samplesLoaded: state.loaded, peakSamples: state.peak },
    };
  }
}

/** Any failure as a PromQLError: evaluation bugs and resource exhaustion become execution errors. */
function asPromQLError(err: unknown): PromQLError {
  if (err instanceof PromQLError) return err;
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new PromQLError('execution', 'query is nested too deeply to evaluate');
  }
  if (err instanceof RangeError && /allocation|Array buffer|Invalid typed array length/i.test(err.message)) {
    return new PromQLError('execution', `query needs too much memory: ${err.message}`);
  }
  return new PromQLError('execution', `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
}

function parse(query: string): Expr {
  try {
    return parseExpr(query);
  } catch (err) {
    if (err instanceof ParseError) throw new PromQLError('bad_data', err.message);
    throw err;
  }
}

function valueType(e: Expr): string {
  switch (e.type) {
    case 'ParenExpr':
      return valueType(e.expr);
    case 'NumberLiteral':
    case 'DurationExpr':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      return 'matrix';
    case 'Call':
      return e.func.returnType;
    case 'UnaryExpr':
      return valueType(e.expr);
    case 'BinaryExpr':
      return valueType(e.lhs) === 'scalar' && valueType(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    default:
      return 'vector';
  }
}

/** Delayed name removal at the end of evaluation, then the duplicate check it makes necessary. */
function finish(m: Matrix): Matrix {
  for (const s of m) if (s.dropName) s.labels = dropMetadata(s.labels);
  return mergeSameLabelset(m);
}

function toMatrix(m: Matrix): QueryValue {
  const series = m
    .filter((s) => s.n > 0)
    .sort((a, b) => compareLabels(a.labels, b.labels))
    .map((s) => {
      const { ts, fs } = s.columns();
      return { labels: s.labels, ts, fs };
    });
  return { resultType: 'matrix', series };
}
