/** Parsing of Prometheus HTTP API parameters (times, match[]), with Prometheus's error wording. */
import type { Matcher } from '../model/matcher.js';
import { parseMetricSelector } from '../promql/parser/index.js';
import { parseDuration as parseModelDuration } from '../model/duration.js';

export class ApiError extends Error {
  constructor(
    readonly errorType: 'bad_data' | 'execution' | 'internal' | 'timeout' | 'canceled' | 'unavailable' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

export const STATUS_OF: Record<ApiError['errorType'], number> = {
  bad_data: 400,
  execution: 422,
  canceled: 499,
  internal: 500,
  timeout: 503,
  unavailable: 503,
  not_found: 404,
};

/**
 * Go's strconv.ParseFloat(s, 64) for the syntax clients send: decimal (with exponent), hexadecimal floats,
 * `Inf`/`Infinity`/`NaN`. Null when Go would return an error (including out of range).
 */
export function parseGoFloat(s: string): number | null {
  const m = /^([+-]?)(?:(inf(?:inity)?)|(nan)|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))[pP]([+-]?\d+))$/i.exec(s);
  if (m === null) return null;
  const neg = m[1] === '-';
  if (m[2] !== undefined) return neg ? -Infinity : Infinity;
  if (m[3] !== undefined) return NaN;
  let v: number;
  if (m[4] !== undefined) v = Number(m[4]);
  else {
    const [int, frac = ''] = m[5]!.split('.') as [string, string?];
    v = parseInt(int || '0', 16);
    for (let i = 0; i < frac.length; i++) v += parseInt(frac[i]!, 16) / 16 ** (i + 1);
    v *= 2 ** Number(m[6]);
  }
  if (!Number.isFinite(v)) return null; // ErrRange
  return neg ? -v : v;
}

/** Go's %q for error messages. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's math.Round: halves away from zero. */
function goRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** The bounds Prometheus clients send for "no limit" (Go's time.Time formatting of its MinTime/MaxTime). */
const MIN_TIME_FORMATTED = '-292273086-05-16T16:47:06Z';
const MAX_TIME_FORMATTED = '292277025-08-18T07:12:54.999999999Z';
export const MIN_TIME_MS = -9223309901257974000;
export const MAX_TIME_MS = 9223309901257974999;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function parseRFC3339(s: string): number | null {
  const m = RFC3339.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (mo! < 1 || mo! > 12 || h! > 23 || mi! > 59 || se! > 59 || d! < 1) return null;
  const date = new Date(0);
  date.setUTCFullYear(y!, mo! - 1, d!);
  if (date.getUTCMonth() !== mo! - 1) return null; // day out of range for the month
  let ms = date.getTime() + h! * 3_600_000 + mi! * 60_000 + se! * 1000;
  if (m[7] !== undefined) ms += Number(m[7].padEnd(9, '0').slice(0, 3));
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    const off = (oh * 60 + om) * 60_000;
    ms += m[9] === '-' ? off : -off;
  }
  return ms;
}

/**
 * Prometheus's parseTime: Unix seconds as a Go float (the fraction rounded to milliseconds) or RFC 3339 with
 * optional nanoseconds; returns milliseconds.
 */
export function parseTime(s: string): number {
  const f = parseGoFloat(s);
  if (f !== null && Number.isFinite(f)) {
    let sec = Math.trunc(f);
    let ns = Math.trunc((goRound((f - sec) * 1000) / 1000) * 1e9);
    if (ns < 0) {
      sec -= 1;
      ns += 1e9;
    } else if (ns >= 1e9) {
      sec += 1;
      ns -= 1e9;
    }
    return sec * 1000 + Math.floor(ns / 1e6);
  }
  const t = parseRFC3339(s);
  if (t !== null) return t;
  if (s === MIN_TIME_FORMATTED) return MIN_TIME_MS;
  if (s === MAX_TIME_FORMATTED) return MAX_TIME_MS;
  throw new Error(`cannot parse ${goQuote(s)} to a valid timestamp`);
}

/**
 * Prometheus's API parseDuration: seconds as a Go float, or a Prometheus duration (`5m`, `1h30m`).
 * Returns milliseconds (fractional below 1ms, as Go keeps nanoseconds).
 */
export function parseDuration(s: string): number {
  const f = parseGoFloat(s);
  if (f !== null) {
    const ns = f * 1e9;
    if (ns > 9223372036854775807 || ns < -9223372036854775808) {
      throw new Error(`cannot parse ${goQuote(s)} to a valid duration. It overflows int64`);
    }
    // Go converts NaN to the minimum int64, a negative duration.
    return Number.isNaN(ns) ? -9223372036854.775 : Math.trunc(ns) / 1e6;
  }
  try {
    return parseModelDuration(s);
  } catch {
    throw new Error(`cannot parse ${goQuote(s)} to a valid duration`);
  }
}

/** Go's strconv.Atoi with its error text. */
export function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`);
  const n = Number(s);
  if (Math.abs(n) > 9223372036854775807) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: value out of range`);
  return n === 0 ? 0 : n;
}

/** Prometheus's sentinels for "no bound" map to infinities here. */
export function parseTimeParam(value: string | undefined, name: string, dflt: number): number {
  if (value === undefined || value === '') return dflt;
  try {
    return parseTime(value);
  } catch (err) {
    throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
}

export function parseMatchers(matches: string[]): Matcher[][] {
  return matches.map((m) => {
    try {
      const ms = parseMetricSelector(m);
      if (ms.every((x) => x.matchesEmpty())) throw new Error('match[] must contain at least one non-empty matcher');
      return ms;
    } catch (err) {
      throw new ApiError('bad_data', `invalid parameter "match[]": ${(err as Error).message}`);
    }
  });
}

export function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ApiError('bad_data', `invalid parameter "limit": cannot parse ${JSON.stringify(value)} to a non-negative integer`);
  return n;
}

/** Go's strconv.ParseBool, with its error text. */
export function parseGoBool(s: string): boolean {
  if (s === '1' || s === 't' || s === 'T' || s === 'TRUE' || s === 'true' || s === 'True') return true;
  if (s === '0' || s === 'f' || s === 'F' || s === 'FALSE' || s === 'false' || s === 'False') return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

/** What query-time replica dedup does for a request that does not say (from the `query` config section). */
export interface DedupDefaults {
  /** Replica labels (`query.replica_labels`); none means dedup is off. */
  replicaLabels: readonly string[];
  /** Whether a request without `dedup` is deduplicated (`query.dedup`). */
  dedup: boolean;
}

/** No replica labels configured: only a request's own `replicaLabels[]` turns dedup on. */
export const NO_DEDUP: DedupDefaults = { replicaLabels: [], dedup: true };

/** Param names as Thanos Query takes them. */
export const DEDUP_PARAM = 'dedup';
export const REPLICA_LABELS_PARAM = 'replicaLabels[]';

/**
 * The replica labels a request deduplicates over, as Thanos Query reads them: `dedup` (a Go bool; default
 * from the config) and `replicaLabels[]` (replaces the configured labels for this request). An empty list
 * means no dedup.
 */
export function parseDedupParams(p: { get(name: string): string | undefined; getAll(name: string): string[] }, defaults: DedupDefaults): string[] {
  let dedup = defaults.dedup;
  const raw = p.get(DEDUP_PARAM) ?? '';
  if (raw !== '') {
    try {
      dedup = parseGoBool(raw);
    } catch (err) {
      throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(DEDUP_PARAM)}: ${(err as Error).message}`);
    }
  }
  const given = p.getAll(REPLICA_LABELS_PARAM);
  for (const l of given) {
    if (l === '') throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(REPLICA_LABELS_PARAM)}: empty label name`);
  }
  if (!dedup) return [];
  return [...new Set(given.length > 0 ? given : defaults.replicaLabels)];
}
