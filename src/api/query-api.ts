/**
 * /api/v1/query and /api/v1/query_range: parameters parsed and checked in Prometheus's order and words, the
 * engine run with the request's signal (a client that goes away cancels the query), results written in
 * Prometheus's JSON (values as strings, timestamps as seconds) with warnings, infos and optional stats.
 */
import type { Labels } from '../model/labels.js';
import type { Queryable } from '../storage/interface.js';
import { StorageError } from '../storage/errors.js';
import { ParseError, parseExpr } from '../promql/parser/index.js';
import { Engine, PromQLError, type QueryOptions, type QueryResult, type QueryValue } from '../promql/engine/index.js';
import { dedupQueryable } from '../query/index.js';
import type { ApiParams } from './labels-api.js';
import { ApiError, NO_DEDUP, atoi, parseDedupParams, parseDuration, parseTime, type DedupDefaults } from './params.js';
import { formatFloatF, formatJSONNumber, formatSampleValue, formatTimestamp, quote } from './json.js';
import { successStream, type ApiResponse } from './response.js';

/** Prometheus's limit on the points of one range-query series. */
export const MAX_POINTS_PER_SERIES = 11_000;

export interface QueryContext {
  engine: Engine;
  queryable: Queryable;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** The clock (ms); `Date.now` unless a test fixes it. */
  now?: () => number;
  /** The longest any query may run (Prometheus's query.timeout); the `timeout` parameter can only shorten it. */
  maxTimeoutMs?: number;
  /** Query-time replica dedup for requests that do not set `dedup` / `replicaLabels[]` (default: none configured). */
  dedup?: DedupDefaults;
}

/** The queryable a request runs on: deduplicated over its replica labels when dedup is on. */
function requestQueryable(ctx: QueryContext, p: ApiParams): Queryable {
  return dedupQueryable(ctx.queryable, parseDedupParams(p, ctx.dedup ?? NO_DEDUP));
}

function invalidParam(name: string, err: unknown): ApiError {
  return new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${(err as Error).message}`);
}

/** parseLimitParam: 0 means no limit. */
function parseLimitParam(p: ApiParams): number {
  const s = p.get('limit') ?? '';
  if (s === '') return 0;
  let n: number;
  try {
    n = atoi(s);
  } catch (err) {
    throw invalidParam('limit', err);
  }
  if (n < 0) throw invalidParam('limit', new Error('limit must be non-negative'));
  return n;
}

function parseDurationParam(p: ApiParams, name: string): number | undefined {
  const s = p.get(name) ?? '';
  if (s === '') return undefined;
  try {
    return parseDuration(s);
  } catch (err) {
    throw invalidParam(name, err);
  }
}

/** extractQueryOpts: `lookback_delta` (its error has no "invalid parameter" prefix, as in Prometheus). */
function lookbackDelta(p: ApiParams): number | undefined {
  const s = p.get('lookback_delta') ?? '';
  if (s === '') return undefined;
  try {
    const ms = parseDuration(s);
    // The engine's default applies to zero (and negative) values.
    return ms > 0 ? ms : undefined;
  } catch (err) {
    throw new ApiError('bad_data', `error parsing lookback delta duration: ${(err as Error).message}`);
  }
}

/** Maps what the engine throws to the API's error types (Prometheus's returnAPIError). */
export function engineError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ParseError) return invalidParam('query', err);
  if (err instanceof PromQLError) {
    // Everything Prometheus rejects before evaluation (parse and type errors, bad options) is a bad query parameter.
    if (err.errorType === 'bad_data') return err.message.startsWith('invalid parameter') ? new ApiError('bad_data', err.message) : invalidParam('query', err);
    return new ApiError(err.errorType, err.message);
  }
  if (err instanceof StorageError) return new ApiError('internal', err.message);
  if (err instanceof Error && err.name === 'AbortError') return new ApiError('canceled', 'query was canceled');
  return new ApiError('internal', err instanceof Error ? err.message : String(err));
}

function metricJSON(ls: Labels): string {
  let out = '{';
  for (let i = 0; i < ls.length; i += 2) {
    if (i > 0) out += ',';
    out += quote(ls[i]!, false) + ':' + quote(ls[i + 1]!, false);
  }
  return out + '}';
}

/** The `result` of a query as Prometheus's JSON codec writes it, in pieces (one or more per series). */
export function* resultPieces(v: QueryValue): Generator<string> {
  switch (v.resultType) {
    case 'scalar':
      // promql.Scalar.MarshalJSON: [float64(t)/1000, FormatFloat(v, 'f', -1, 64)].
      yield '[' + formatJSONNumber(v.t / 1000) + ',"' + formatFloatF(v.f) + '"]';
      return;
    case 'string':
      yield '[' + formatJSONNumber(v.t / 1000) + ',' + quote(v.s) + ']';
      return;
    case 'vector': {
      yield '[';
      for (let i = 0; i < v.series.length; i++) {
        const s = v.series[i]!;
        yield (i > 0 ? ',' : '') + '{"metric":' + metricJSON(s.labels) + ',"value":[' + formatTimestamp(s.t) + ',"' + formatSampleValue(s.f) + '"]}';
      }
      yield ']';
      return;
    }
    case 'matrix': {
      yield '[';
      for (let i = 0; i < v.series.length; i++) {
        const s = v.series[i]!;
        let out = (i > 0 ? ',' : '') + '{"metric":' + metricJSON(s.labels);
        const n = Math.min(s.ts.length, s.fs.length);
        if (n > 0) {
          out += ',"values":[';
          for (let j = 0; j < n; j++) {
            out += (j > 0 ? ',[' : '[') + formatTimestamp(s.ts[j]!) + ',"' + formatSampleValue(s.fs[j]!) + '"]';
            if (out.length >= 1 << 16) {
              yield out;
              out = '';
            }
          }
          out += ']';
        }
        yield out + '}';
      }
      yield ']';
      return;
    }
  }
}

/** The `result` of a query as one string. */
export function resultJSON(v: QueryValue): string {
  let out = '';
  for (const p of resultPieces(v)) out += p;
  return out;
}

/** truncateResults: vectors and matrices keep their first `limit` series. */
function truncate(v: QueryValue, limit: number): { value: QueryValue; truncated: boolean } {
  if ((v.resultType === 'vector' || v.resultType === 'matrix') && v.series.length > limit) {
    return { value: { ...v, series: v.series.slice(0, limit) } as QueryValue, truncated: true };
  }
  return { value: v, truncated: false };
}

/**
 * The `stats` object of Prometheus's default renderer (timings in seconds). The engine does not time its
 * phases separately: evaluation is the engine call, preparation everything before it in the request.
 */
function statsJSON(res: QueryResult, totalMs: number, evalMs: number): string {
  const t = (ms: number) => formatJSONNumber(ms / 1000);
  return (
    '{"timings":{"evalTotalTime":' + t(evalMs) +
    ',"resultSortTime":0' +
    ',"queryPreparationTime":' + t(Math.max(0, totalMs - evalMs)) +
    ',"innerEvalTime":' + t(evalMs) +
    ',"execQueueTime":0' +
    ',"execTotalTime":' + t(totalMs) +
    '},"samples":{"totalQueryableSamples":' + res.stats.samplesLoaded +
    ',"peakSamples":' + res.stats.peakSamples + '}}'
  );
}

/** Runs the query and writes the result; `started` is when the request's handling began (for stats). */
async function run(
  p: ApiParams,
  started: number,
  limit: number,
  exec: (opts: QueryOptions) => Promise<QueryResult>,
  opts: QueryOptions,
): Promise<ApiResponse> {
  let res: QueryResult;
  const evalStart = performance.now();
  try {
    res = await exec(opts);
  } catch (err) {
    throw engineError(err);
  }
  const evalMs = performance.now() - evalStart;
  const warnings = [...res.warnings];
  let value = res.value;
  if (limit > 0) {
    const t = truncate(value, limit);
    value = t.value;
    if (t.truncated) warnings.push('results truncated due to limit');
  }
  const stats = (p.get('stats') ?? '') !== '' ? ',"stats":' + statsJSON(res, performance.now() - started, evalMs) : '';
  function* data(v: QueryValue): Generator<string> {
    yield '{"resultType":"' + v.resultType + '","result":';
    yield* resultPieces(v);
    yield stats + '}';
  }
  return successStream(data(value), warnings, res.infos);
}

function queryOptions(ctx: QueryContext, p: ApiParams, timeoutMs: number | undefined): QueryOptions {
  const opts: QueryOptions = {};
  const lb = lookbackDelta(p);
  if (lb !== undefined) opts.lookbackDeltaMs = lb;
  if (timeoutMs !== undefined) opts.timeoutMs = ctx.maxTimeoutMs !== undefined ? Math.min(timeoutMs, ctx.maxTimeoutMs) : timeoutMs;
  if (ctx.signal) opts.signal = ctx.signal;
  return opts;
}

/**
 * A `timeout` of zero or less is a deadline already past: Prometheus still rejects a bad query first, then
 * times out before evaluating anything.
 */
function expiredDeadline(query: string): never {
  try {
    parseExpr(query);
  } catch (err) {
    throw engineError(err);
  }
  throw new ApiError('timeout', 'query timed out in query execution');
}

/** GET/POST /api/v1/query */
export async function instantQueryApi(ctx: QueryContext, p: ApiParams): Promise<ApiResponse> {
  const started = performance.now();
  const limit = parseLimitParam(p);
  const now = (ctx.now ?? Date.now)();
  let time = now;
  const ts = p.get('time') ?? '';
  if (ts !== '') {
    try {
      time = parseTime(ts);
    } catch (err) {
      throw invalidParam('time', new Error(`invalid time value for 'time': ${(err as Error).message}`));
    }
  }
  const timeout = parseDurationParam(p, 'timeout');
  const opts = queryOptions(ctx, p, timeout);
  const query = p.get('query') ?? '';
  const queryable = requestQueryable(ctx, p);
  if (timeout !== undefined && timeout <= 0) expiredDeadline(query);
  return run(p, started, limit, (o) => ctx.engine.instantQuery(queryable, query, time, o), opts);
}

function requiredTime(p: ApiParams, name: string): number {
  try {
    return parseTime(p.get(name) ?? '');
  } catch (err) {
    throw invalidParam(name, err);
  }
}

/** GET/POST /api/v1/query_range */
export async function rangeQueryApi(ctx: QueryContext, p: ApiParams): Promise<ApiResponse> {
  const started = performance.now();
  const limit = parseLimitParam(p);
  const start = requiredTime(p, 'start');
  const end = requiredTime(p, 'end');
  if (end < start) throw invalidParam('end', new Error('end timestamp must not be before start time'));
  let step: number;
  try {
    step = parseDuration(p.get('step') ?? '');
  } catch (err) {
    throw invalidParam('step', err);
  }
  // Go keeps nanoseconds; the engine works in whole milliseconds.
  const stepMs = Math.trunc(step);
  if (!(step > 0) || stepMs <= 0) {
    throw invalidParam('step', new Error('zero or negative query resolution step widths are not accepted. Try a positive integer'));
  }
  // For safety, limit the number of returned points per timeseries (60s resolution for a week, 1h for a year).
  if (Math.trunc((end - start) / step) > MAX_POINTS_PER_SERIES) {
    throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  }
  const timeout = parseDurationParam(p, 'timeout');
  const opts = queryOptions(ctx, p, timeout);
  const query = p.get('query') ?? '';
  const queryable = requestQueryable(ctx, p);
  if (timeout !== undefined && timeout <= 0) expiredDeadline(query);
  return run(p, started, limit, (o) => ctx.engine.rangeQuery(queryable, query, start, end, stepMs, o), opts);
}
