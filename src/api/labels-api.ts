/** /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values over any Querier. */
import type { Querier } from '../storage/interface.js';
import { labelsToObject } from '../model/labels.js';
import { ApiError, parseLimit, parseMatchers, parseTimeParam } from './params.js';

export interface ApiParams {
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

export interface ApiData {
  data: unknown;
  warnings?: string[];
}

export async function seriesApi(q: Querier, p: ApiParams): Promise<ApiData> {
  const matches = p.getAll('match[]');
  if (matches.length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
  const start = parseTimeParam(p.get('start'), 'start', -Infinity);
  const end = parseTimeParam(p.get('end'), 'end', Infinity);
  if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start time');
  const limit = parseLimit(p.get('limit'));
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
  p: ApiParams,
  fn: (hints: { start: number; end: number }, ms: import('../model/matcher.js').Matcher[]) => Promise<string[]>,
): Promise<ApiData> {
  const start = parseTimeParam(p.get('start'), 'start', -Infinity);
  const end = parseTimeParam(p.get('end'), 'end', Infinity);
  const limit = parseLimit(p.get('limit'));
  const matchSets = parseMatchers(p.getAll('match[]'));
  const values = new Set<string>();
  if (matchSets.length === 0) for (const v of await fn({ start, end }, [])) values.add(v);
  for (const ms of matchSets) for (const v of await fn({ start, end }, ms)) values.add(v);
  const out = [...values].sort();
  const warnings: string[] = [];
  if (limit > 0 && out.length > limit) {
    out.length = limit;
    warnings.push('results truncated due to limit');
  }
  return { data: out, warnings };
}

export function labelNamesApi(q: Querier, p: ApiParams): Promise<ApiData> {
  return collect(p, (h, ms) => q.labelNames(h, ms));
}

/** Prometheus 3 lets clients send UTF-8 label names in the path as `U__` + escaped text. */
export function unescapeLabelName(name: string): string {
  if (!name.startsWith('U__')) return name;
  return name.slice(3).replace(/_([0-9a-fA-F]+)_|__/g, (m, hex: string | undefined) => (hex === undefined ? '_' : String.fromCodePoint(parseInt(hex, 16))));
}

export function labelValuesApi(q: Querier, rawName: string, p: ApiParams): Promise<ApiData> {
  const name = unescapeLabelName(rawName);
  if (name === '') throw new ApiError('bad_data', `invalid label name: ${JSON.stringify(rawName)}`);
  return collect(p, (h, ms) => q.labelValues(name, h, ms));
}
