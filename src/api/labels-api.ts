/**
 * /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values over any Querier. With replica labels (the
 * config's, or the request's `replicaLabels[]`) and `dedup` on, they answer over the deduplicated view, as
 * Thanos Query does for series: replicas are one series without the replica labels.
 */
import type { Querier } from '../storage/interface.js';
import { labelsToObject } from '../model/labels.js';
import { dedupQuerier } from '../query/index.js';
import { ApiError, NO_DEDUP, parseDedupParams, parseLimit, parseMatchers, parseTimeParam, type DedupDefaults } from './params.js';

export interface ApiParams {
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

export interface ApiData {
  data: unknown;
  warnings?: string[];
}

export async function seriesApi(inner: Querier, p: ApiParams, dedup: DedupDefaults = NO_DEDUP): Promise<ApiData> {
  const matches = p.getAll('match[]');
  if (matches.length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
  const start = parseTimeParam(p.get('start'), 'start', -Infinity);
  const end = parseTimeParam(p.get('end'), 'end', Infinity);
  if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start time');
  const limit = parseLimit(p.get('limit'));
  const q = dedupQuerier(inner, parseDedupParams(p, dedup));
  const seen = new Set<string>();
  const out: Record<string, string>[] = [];
  const warnings: string[] = [];
  for (const ms of parseMatchers(matches)) {
    const set = q.select({ start, end }, ms);
    for await (const s of set) {
      const key = s.labels.join('\xff');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(labelsToObject(s.labels));
    }
    warnings.push(...set.warnings);
  }
  if (limit > 0 && out.length > limit) {
    out.length = limit;
    warnings.push('results truncated due to limit');
  }
  return { data: out, warnings };
}

async function collect(
  inner: Querier,
  p: ApiParams,
  dedup: DedupDefaults,
  call: (q: Querier, hints: { start: number; end: number }, ms: import('../model/matcher.js').Matcher[]) => Promise<string[]>,
): Promise<ApiData> {
  const start = parseTimeParam(p.get('start'), 'start', -Infinity);
  const end = parseTimeParam(p.get('end'), 'end', Infinity);
  const limit = parseLimit(p.get('limit'));
  const matchSets = parseMatchers(p.getAll('match[]'));
  const q = dedupQuerier(inner, parseDedupParams(p, dedup));
  const values = new Set<string>();
  if (matchSets.length === 0) for (const v of await call(q, { start, end }, [])) values.add(v);
  for (const ms of matchSets) for (const v of await call(q, { start, end }, ms)) values.add(v);
  const out = [...values].sort();
  const warnings: string[] = [];
  if (limit > 0 && out.length > limit) {
    out.length = limit;
    warnings.push('results truncated due to limit');
  }
  return { data: out, warnings };
}

export function labelNamesApi(q: Querier, p: ApiParams, dedup: DedupDefaults = NO_DEDUP): Promise<ApiData> {
  return collect(q, p, dedup, (dq, h, ms) => dq.labelNames(h, ms));
}

/** Prometheus 3 lets clients send UTF-8 label names in the path as `U__` + escaped text. */
export function unescapeLabelName(name: string): string {
  if (!name.startsWith('U__')) return name;
  return name.slice(3).replace(/_([0-9a-fA-F]+)_|__/g, (m, hex: string | undefined) => (hex === undefined ? '_' : String.fromCodePoint(parseInt(hex, 16))));
}

export function labelValuesApi(q: Querier, rawName: string, p: ApiParams, dedup: DedupDefaults = NO_DEDUP): Promise<ApiData> {
  const name = unescapeLabelName(rawName);
  if (name === '') throw new ApiError('bad_data', `invalid label name: ${JSON.stringify(rawName)}`);
  return collect(q, p, dedup, (dq, h, ms) => dq.labelValues(name, h, ms));
}
