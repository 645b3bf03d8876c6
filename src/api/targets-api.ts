/**
 * The targets endpoints of the Prometheus HTTP API: `/api/v1/targets` (active and dropped targets, the
 * `state` and `scrapePool` filters), `/api/v1/targets/metadata` and `/api/v1/scrape_pools`, in Prometheus's
 * JSON shape: label sets as objects with sorted keys, `lastScrape` as Go's RFC 3339 time with nanoseconds,
 * `droppedTargetCounts` null unless dropped targets were asked for.
 */
import type { Context } from 'hono';
import { hostname } from 'node:os';
import type { ActiveTargetStatus, TargetMetadata, TargetsSnapshot } from '../agent/scrape/manager.js';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { parseMetricSelector } from '../promql/parser/index.js';
import { ApiError } from './params.js';
import { sortedMap } from './json.js';
import { handle, success, type ApiResponse } from './response.js';

/** What the endpoints read; the ScrapeManager is one. */
export interface TargetSource {
  targets(): TargetsSnapshot;
  scrapePools(): string[];
  targetMetadata?(): TargetMetadata[];
}

/**
 * How `globalUrl` is derived for targets on localhost (Prometheus's GlobalURLOptions): the externally
 * reachable scheme and host of this server, and the address it listens on.
 */
export interface GlobalUrlOptions {
  readonly listenAddress: string;
  readonly host: string;
  readonly scheme: string;
}

const LOCALHOST = new Set(['127.0.0.1', 'localhost', '::1']);

function splitHostPort(hostport: string): [string, string] {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return [hostport, ''];
    const rest = hostport.slice(end + 1);
    return [hostport.slice(1, end), rest.startsWith(':') ? rest.slice(1) : ''];
  }
  const i = hostport.lastIndexOf(':');
  if (i < 0 || hostport.indexOf(':') !== i) return [hostport, ''];
  return [hostport.slice(0, i), hostport.slice(i + 1)];
}

const joinHostPort = (host: string, port: string): string => (port === '' ? host : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** A target URL as seen from outside: localhost replaced by this server's external host. */
export function globalUrl(scrapeUrl: string, opts: GlobalUrlOptions): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(scrapeUrl);
  if (!m) return scrapeUrl;
  const [, scheme, hostport, rest] = m as unknown as [string, string, string, string];
  const [host, port] = splitHostPort(hostport);
  if (!LOCALHOST.has(host)) return scrapeUrl;
  const [, ownPort] = splitHostPort(opts.listenAddress);
  if (port === ownPort) return `${opts.scheme}://${opts.host}${rest}`; // scraping ourselves
  const [extHost] = splitHostPort(opts.host);
  return `${scheme}://${joinHostPort(extHost, port)}${rest}`;
}

export function defaultGlobalUrlOptions(listenAddress = ':9090'): GlobalUrlOptions {
  const [, port] = splitHostPort(listenAddress);
  return { listenAddress, host: joinHostPort(hostname(), port), scheme: 'http' };
}

/** Go's time.Time JSON (RFC 3339, UTC, nanoseconds with trailing zeros trimmed); 0 is Go's zero time. */
export function goRfc3339Nano(ms: number): string {
  if (ms === 0) return '0001-01-01T00:00:00Z';
  const whole = Math.floor(ms);
  // Microsecond precision: finer digits of a float millisecond clock are noise.
  const micros = Math.round((ms - whole) * 1000);
  const d = new Date(whole + (micros === 1000 ? 1 : 0));
  const nanos = (d.getUTCMilliseconds() * 1000 + (micros === 1000 ? 0 : micros)) * 1000;
  const base = d.toISOString().slice(0, 19);
  if (nanos === 0) return base + 'Z';
  return base + '.' + String(nanos).padStart(9, '0').replace(/0+$/, '') + 'Z';
}

function labelsObject(ls: Labels): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i < ls.length; i += 2) m[ls[i]!] = ls[i + 1]!;
  return sortedMap(m);
}

export interface TargetsQuery {
  readonly state?: string | undefined;
  readonly scrapePool?: string | undefined;
}

function activeJson(t: ActiveTargetStatus, opts: GlobalUrlOptions): Record<string, unknown> {
  return {
    discoveredLabels: labelsObject(t.discoveredLabels),
    labels: labelsObject(t.labels),
    scrapePool: t.scrapePool,
    scrapeUrl: t.scrapeUrl,
    globalUrl: globalUrl(t.scrapeUrl, opts),
    lastError: t.lastError,
    lastScrape: goRfc3339Nano(t.lastScrape),
    lastScrapeDuration: t.lastScrapeDurationSeconds,
    health: t.health,
    scrapeInterval: t.scrapeInterval,
    scrapeTimeout: t.scrapeTimeout,
  };
}

/** `/api/v1/targets`. An unknown `state` shows neither kind, as Prometheus does. */
export function targetsApi(source: TargetSource, q: TargetsQuery, opts: GlobalUrlOptions = defaultGlobalUrlOptions()): ApiResponse {
  const state = (q.state ?? '').toLowerCase();
  const pool = q.scrapePool ?? '';
  const showActive = state === '' || state === 'any' || state === 'active';
  const showDropped = state === '' || state === 'any' || state === 'dropped';
  const snap = source.targets();
  const active = showActive ? snap.activeTargets.filter((t) => pool === '' || t.scrapePool === pool).map((t) => activeJson(t, opts)) : [];
  const dropped = showDropped
    ? snap.droppedTargets.filter((t) => pool === '' || t.scrapePool === pool).map((t) => ({ discoveredLabels: labelsObject(t.discoveredLabels), scrapePool: t.scrapePool }))
    : [];
  return success({
    activeTargets: active,
    droppedTargets: dropped,
    droppedTargetCounts: showDropped ? sortedMap(snap.droppedTargetCounts) : null,
  });
}

/** `/api/v1/scrape_pools`. */
export function scrapePoolsApi(source: TargetSource): ApiResponse {
  return success({ scrapePools: source.scrapePools() });
}

export interface TargetMetadataQuery {
  readonly matchTarget?: string | undefined;
  readonly metric?: string | undefined;
  readonly limit?: string | undefined;
}

function parseTargetMatchers(text: string): Matcher[] {
  try {
    return parseMetricSelector(text);
  } catch (err) {
    throw new ApiError('bad_data', `invalid parameter "match_target": ${(err as Error).message}`);
  }
}

/** `/api/v1/targets/metadata`: metric metadata per target, filtered by `match_target`, `metric` and `limit`. */
export function targetMetadataApi(source: TargetSource, q: TargetMetadataQuery): ApiResponse {
  let limit = -1;
  if (q.limit !== undefined && q.limit !== '') {
    limit = Number(q.limit);
    if (!Number.isInteger(limit)) throw new ApiError('bad_data', 'limit must be a number');
  }
  const matchers = q.matchTarget ? parseTargetMatchers(q.matchTarget) : [];
  const metric = q.metric ?? '';
  const out: Record<string, unknown>[] = [];
  for (const m of source.targetMetadata?.() ?? []) {
    if (limit >= 0 && out.length >= limit) break;
    if (metric !== '' && m.metric !== metric) continue;
    if (!matchers.every((mt) => mt.matches(labelValue(m.target, mt.name)))) continue;
    const entry: Record<string, unknown> = { target: labelsObject(m.target) };
    if (metric === '') entry.metric = m.metric;
    entry.type = m.type;
    entry.help = m.help;
    entry.unit = m.unit;
    out.push(entry);
  }
  return success(out);
}

function labelValue(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return ls[i + 1]!;
  return '';
}

function send(c: Context, r: ApiResponse): Response {
  for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
  return c.body(r.body as string, r.status as 200);
}

/** Hono handler for `GET /api/v1/targets`. */
export function targetsHandler(source: TargetSource, opts?: GlobalUrlOptions) {
  const o = opts ?? defaultGlobalUrlOptions();
  return async (c: Context): Promise<Response> => send(c, await handle(() => targetsApi(source, { state: c.req.query('state'), scrapePool: c.req.query('scrapePool') }, o)));
}

/** Hono handler for `GET /api/v1/targets/metadata`. */
export function targetMetadataHandler(source: TargetSource) {
  return async (c: Context): Promise<Response> =>
    send(c, await handle(() => targetMetadataApi(source, { matchTarget: c.req.query('match_target'), metric: c.req.query('metric'), limit: c.req.query('limit') })));
}

/** Hono handler for `GET /api/v1/scrape_pools`. */
export function scrapePoolsHandler(source: TargetSource) {
  return async (c: Context): Promise<Response> => send(c, await handle(() => scrapePoolsApi(source)));
}
