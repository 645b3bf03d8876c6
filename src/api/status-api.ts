/**
 * The status and metadata endpoints of the Prometheus HTTP API: buildinfo, runtimeinfo, flags, config,
 * tsdb (cardinality statistics of a tenant's head), metadata and query_exemplars (Argus stores neither
 * metadata nor exemplars yet: both answer empty, in Prometheus's shape).
 */
import { readFileSync } from 'node:fs';
import { hostname, availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { METRIC_NAME } from '../model/labels.js';
import { inspect, parseExpr } from '../promql/parser/index.js';
import type { Head } from '../tsdb/index.js';
import type { ApiParams } from './labels-api.js';
import { ApiError, MAX_TIME_MS, MIN_TIME_MS, parseTime } from './params.js';
import { RawJSON, sortedMap, compareUtf8 } from './json.js';
import { noContent, success, type ApiResponse } from './response.js';

let version: string | undefined;

/** The version in package.json (two levels up from this file in src/ and in dist/). */
export function argusVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export function buildInfoApi(): ApiResponse {
  // Field names as Prometheus's PrometheusVersion; the runtime takes the place of Go's.
  return success({
    version: argusVersion(),
    revision: process.env.ARGUS_REVISION ?? '',
    branch: process.env.ARGUS_BRANCH ?? '',
    buildUser: process.env.ARGUS_BUILD_USER ?? '',
    buildDate: process.env.ARGUS_BUILD_DATE ?? '',
    goVersion: `node${process.versions.node}`,
  });
}

const START_TIME = Math.round(performance.timeOrigin);

/** Go's time.Time JSON: RFC 3339 with the fraction's trailing zeros trimmed. */
export function goTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z').replace(/\.Z$/, 'Z');
}

export interface RuntimeInfoDeps {
  /** WAL corruptions found (and truncated) at startup. */
  corruptionCount?: number;
  /** When the configuration was loaded (ms). */
  lastConfigTime?: number;
  storageRetention?: string;
  /** Whether the last configuration reload succeeded (default true). */
  reloadConfigSuccess?: boolean;
}

export function runtimeInfoApi(deps: RuntimeInfoDeps = {}): ApiResponse {
  return success({
    startTime: goTime(START_TIME),
    CWD: process.cwd(),
    hostname: hostname(),
    serverTime: goTime(Date.now()),
    reloadConfigSuccess: deps.reloadConfigSuccess ?? true,
    lastConfigTime: goTime(deps.lastConfigTime ?? START_TIME),
    corruptionCount: deps.corruptionCount ?? 0,
    // Node has no goroutines: active handles and requests stand in for them.
    goroutineCount: process.getActiveResourcesInfo().length,
    GOMAXPROCS: availableParallelism(),
    GOMEMLIMIT: getHeapStatistics().heap_size_limit,
    GOGC: '',
    GODEBUG: '',
    storageRetention: deps.storageRetention ?? 'unlimited',
  });
}

export function flagsApi(flags: Record<string, string> = {}): ApiResponse {
  return success(sortedMap(flags));
}

export function configApi(yaml = ''): ApiResponse {
  return success({ yaml });
}

function parseMetadataLimit(p: ApiParams, name: string): number {
  const s = p.get(name) ?? '';
  if (s === '') return -1;
  if (!/^[+-]?\d+$/.test(s)) throw new ApiError('bad_data', `${name} must be a number`);
  return Number(s);
}

/** /api/v1/metadata: Argus does not keep metric metadata yet, so the map is empty. */
export function metadataApi(p: ApiParams): ApiResponse {
  parseMetadataLimit(p, 'limit');
  parseMetadataLimit(p, 'limit_per_metric');
  return success({});
}

/** /api/v1/query_exemplars: parameters checked like Prometheus; no exemplars are stored yet. */
export function queryExemplarsApi(p: ApiParams): ApiResponse {
  const time = (name: string, dflt: number): number => {
    const s = p.get(name) ?? '';
    if (s === '') return dflt;
    try {
      return parseTime(s);
    } catch (err) {
      throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: invalid time value for '${name}': ${(err as Error).message}`);
    }
  };
  const start = time('start', MIN_TIME_MS);
  const end = time('end', MAX_TIME_MS);
  if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start timestamp');
  let selectors = 0;
  try {
    inspect(parseExpr(p.get('query') ?? ''), (n) => {
      if (n.type === 'VectorSelector') selectors++;
    });
  } catch (err) {
    throw new ApiError('bad_data', (err as Error).message);
  }
  if (selectors === 0) return noContent();
  return success([]);
}

const MAX_TSDB_LIMIT = 10_000;

interface Stat {
  name: string;
  value: number;
}

function utf8Len(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** labels.SizeOfLabels (stringlabels): each string with a 1-byte (or 4-byte from 255 bytes) length prefix. */
function labelSize(name: string, value: string): number {
  const n = utf8Len(name);
  const v = utf8Len(value);
  return n + (n < 255 ? 1 : 4) + v + (v < 255 ? 1 : 4);
}

function top(stats: Stat[], limit: number): Stat[] {
  stats.sort((a, b) => b.value - a.value || compareUtf8(a.name, b.name));
  return stats.slice(0, limit);
}

/** /api/v1/status/tsdb: cardinality statistics of the tenant's head, `limit` (default 10) entries each. */
export function tsdbStatusApi(head: Head | undefined, p: ApiParams): ApiResponse {
  let limit = 10;
  const s = p.get('limit') ?? '';
  if (s !== '') {
    limit = /^[+-]?\d+$/.test(s) ? Number(s) : NaN;
    if (!(limit >= 1)) throw new ApiError('bad_data', 'limit must be a positive number');
    if (limit > MAX_TSDB_LIMIT) throw new ApiError('bad_data', `limit must not exceed ${MAX_TSDB_LIMIT}`);
  }
  const metrics: Stat[] = [];
  const labels: Stat[] = [];
  const memory: Stat[] = [];
  const pairs: Stat[] = [];
  let numLabelPairs = 0;
  if (head !== undefined) {
    for (const name of head.postings.labelNames()) {
      if (name === '') continue;
      const values = head.postings.labelValues(name);
      labels.push({ name, value: values.length });
      numLabelPairs += values.length;
      let size = 0;
      for (const value of values) {
        const count = head.postings.get(name, value).length;
        if (name === METRIC_NAME) metrics.push({ name: value, value: count });
        pairs.push({ name: `${name}=${value}`, value: count });
        size += labelSize(name, value) * count;
      }
      memory.push({ name, value: size });
    }
  }
  const st = head?.stats();
  // An empty head reports Go's math.MaxInt64 / math.MinInt64 as its time range, as Prometheus's does.
  const minTime = st !== undefined && Number.isFinite(st.minTime) ? st.minTime : new RawJSON('9223372036854775807');
  const maxTime = st !== undefined && Number.isFinite(st.maxTime) ? st.maxTime : new RawJSON('-9223372036854775808');
  return success({
    headStats: {
      numSeries: head?.numSeries() ?? 0,
      numLabelPairs,
      chunkCount: st?.chunks ?? 0,
      minTime,
      maxTime,
    },
    seriesCountByMetricName: top(metrics, limit),
    labelValueCountByLabelName: top(labels, limit),
    memoryInBytesByLabelName: top(memory, limit),
    seriesCountByLabelValuePair: top(pairs, limit),
  });
}
