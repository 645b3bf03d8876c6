/** Parsing of Prometheus HTTP API parameters (times, match[]), with Prometheus's error wording. */
import type { Matcher } from '../model/matcher.js';
import { parseMetricSelector } from '../promql/parser/index.js';

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

/** Parses `123`, `123.456` (Unix seconds) or RFC 3339 into milliseconds. */
export function parseTime(s: string): number {
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    if (Number.isFinite(ms)) return ms;
  }
  const t = Date.parse(s);
  if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}T/.test(s)) return t;
  throw new Error(`cannot parse ${JSON.stringify(s)} to a valid timestamp`);
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
