/**
 * HTTP assembly: mounts the receiver, the read API, remote read, HA status and the operational endpoints
 * on one Hono app. Tests call `app.request()` directly, no sockets needed.
 */
import { Hono, type Context } from 'hono';
import { compress } from 'hono/compress';
import type { Registry } from 'prom-client';
import type { Receiver } from '../receive/index.js';
import { tenantOf, validateTenant } from '../receive/index.js';
import type { TSDB } from '../tsdb/index.js';
import type { TenantStorage } from '../query/fanout.js';
import { ApiError, STATUS_OF, type DedupDefaults } from '../api/params.js';
import { labelNamesApi, labelValuesApi, seriesApi, type ApiData, type ApiParams } from '../api/labels-api.js';
import { remoteRead } from '../api/remote-read.js';
import type { Engine } from '../promql/engine/index.js';
import { instantQueryApi, rangeQueryApi } from '../api/query-api.js';
import { formatQueryApi, parseQueryApi } from '../api/parse-api.js';
import { buildInfoApi, configApi, flagsApi, metadataApi, queryExemplarsApi, runtimeInfoApi, tsdbStatusApi } from '../api/status-api.js';
import { federate } from '../api/federate.js';
import { handle, type ApiResponse } from '../api/response.js';
import type { Querier, Queryable } from '../storage/interface.js';
import type { Logger } from '../util/log.js';

export interface AppDeps {
  /** Remote write and HA status; absent in roles that only read (`argus store`): those routes answer 404. */
  receiver?: Receiver;
  /** The local TSDB (head status, WAL replay); absent in roles without one (`argus store`). */
  db?: TSDB;
  /**
   * Where every read goes (query, series, labels, remote read, federate): the tenant's fan-out over head,
   * local blocks and the store gateway. Default: the local TSDB alone.
   */
  storage?: TenantStorage;
  registry: Registry;
  logger: Logger;
  /** False until startup (WAL replay) finished and while shutting down. */
  isReady: () => boolean;
  /** The PromQL engine behind /api/v1/query and /api/v1/query_range. */
  engine: Engine;
  /** The longest a query may run whatever its `timeout` parameter says (default 2m, as Prometheus's query.timeout). */
  queryTimeoutMs?: number;
  /** Command-line flags as /api/v1/status/flags shows them (name without dashes → value). */
  flags?: Record<string, string>;
  /** The effective configuration as YAML, for /api/v1/status/config. */
  configYaml?: string;
  /** How far back /federate looks for a series' latest sample (default 5m, as the engine's lookback delta). */
  lookbackDeltaMs?: number;
  /**
   * Query-time replica dedup for query, query_range, series, labels and label values when a request does not
   * set `dedup` / `replicaLabels[]` (the config's `query` section). Absent: no replica labels configured.
   */
  dedup?: DedupDefaults;
  /** Mounts more routes after the built-in ones (`argus all --demo`: demo target, targets API, replica controls); may register metrics on `deps.registry`. */
  extraRoutes?: (app: Hono<Env>, deps: AppDeps) => void;
}

type Env = { Variables: { tenant: string } };

/** An empty querier for tenants that have no data yet (reads never create a tenant). */
const EMPTY_QUERIER: Querier = {
  select: () => ({ warnings: [], async *[Symbol.asyncIterator]() {} }),
  labelNames: async () => [],
  labelValues: async () => [],
};
const EMPTY_QUERYABLE: Queryable = { querier: () => EMPTY_QUERIER };

/**
 * Request parameters as Go's r.FormValue sees them: a POSTed form (urlencoded or multipart) first, then the
 * URL's query string.
 */
async function params(c: Context): Promise<ApiParams> {
  const url = new URL(c.req.url);
  const all = new Map<string, string[]>();
  const add = (k: string, v: string) => all.set(k, [...(all.get(k) ?? []), v]);
  if (c.req.method === 'POST') {
    const type = c.req.header('content-type') ?? '';
    if (type.includes('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(await c.req.text())) add(k, v);
    } else if (type.includes('multipart/form-data')) {
      // Like Go's FormValue, a body that does not parse is ignored.
      const form = await c.req.raw.formData().catch(() => null);
      for (const [k, v] of form ?? []) if (typeof v === 'string') add(k, v);
    }
  }
  for (const [k, v] of url.searchParams) add(k, v);
  return { get: (n) => all.get(n)?.[0], getAll: (n) => all.get(n) ?? [] };
}

function send(c: Context, r: ApiResponse) {
  for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
  if (r.body === null) return c.body(null, r.status as 204);
  if (typeof r.body === 'string') return c.body(r.body, r.status as 200);
  return c.body(r.body, r.status as 200);
}

function apiError(c: Context, err: unknown) {
  if (err instanceof ApiError) {
    return c.json({ status: 'error', errorType: err.errorType, error: err.message }, STATUS_OF[err.errorType] as 400);
  }
  return c.json({ status: 'error', errorType: 'internal', error: (err as Error).message }, 500);
}

function apiSuccess(c: Context, r: ApiData) {
  const body: Record<string, unknown> = { status: 'success', data: r.data };
  if (r.warnings && r.warnings.length > 0) body.warnings = r.warnings;
  return c.json(body);
}

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const { receiver, db, registry } = deps;
  const storage: TenantStorage | undefined = deps.storage ?? db;

  app.onError((err, c) => {
    deps.logger.error('unhandled error serving request', { path: c.req.path, err });
    return c.text(`internal error: ${err.message}`, 500);
  });

  // Tenant: X-Scope-OrgID, or the default tenant.
  const tenantMiddleware = async (c: Context<Env>, next: () => Promise<void>) => {
    const tenant = tenantOf(c.req.header('X-Scope-OrgID'));
    const bad = validateTenant(tenant);
    if (bad !== null) return c.text(bad, 400);
    c.set('tenant', tenant);
    await next();
  };
  app.use('/api/*', tenantMiddleware);
  app.use('/federate', tenantMiddleware);
  // Query results and federation can be large: gzip/deflate them when the client accepts it, as Prometheus does.
  for (const path of ['/api/v1/query', '/api/v1/query_range', '/federate']) app.use(path, compress());

  const write = async (c: Context<Env>) => {
    if (receiver === undefined) return c.text('this Argus role does not accept remote write; send it to `argus receive` or `argus all`\n', 404);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const res = await receiver.write({
      tenant: c.get('tenant'),
      body,
      contentType: c.req.header('Content-Type'),
      contentEncoding: c.req.header('Content-Encoding'),
    });
    for (const [k, v] of Object.entries(res.headers)) c.header(k, v);
    if (res.status === 204) return c.body(null, 204);
    return c.text(res.message, res.status as 400);
  };
  app.post('/api/v1/push', write);
  app.post('/api/v1/receive', write);
  app.post('/api/v1/write', write);

  const querier = (c: Context<Env>): Querier => storage?.querier(c.get('tenant')) ?? EMPTY_QUERIER;
  const readApi = (fn: (q: Querier, p: ApiParams, c: Context<Env>) => Promise<ApiData>) => async (c: Context<Env>) => {
    try {
      return apiSuccess(c, await fn(querier(c), await params(c), c));
    } catch (err) {
      return apiError(c, err);
    }
  };
  app.on(['GET', 'POST'], '/api/v1/series', readApi((q, p) => seriesApi(q, p, deps.dedup)));
  app.on(['GET', 'POST'], '/api/v1/labels', readApi((q, p) => labelNamesApi(q, p, deps.dedup)));
  app.get('/api/v1/label/:name/values', readApi((q, p, c) => labelValuesApi(q, c.req.param('name') ?? '', p, deps.dedup)));

  // PromQL and the rest of the Prometheus HTTP API v1.
  const queryable = (c: Context<Env>): Queryable => storage?.queryable(c.get('tenant')) ?? EMPTY_QUERYABLE;
  const api = (fn: (p: ApiParams, c: Context<Env>) => Promise<ApiResponse> | ApiResponse) => async (c: Context<Env>) => {
    const p = await params(c);
    return send(c, await handle(() => fn(p, c)));
  };
  const queryCtx = (c: Context<Env>) => ({
    engine: deps.engine,
    queryable: queryable(c),
    signal: c.req.raw.signal,
    maxTimeoutMs: deps.queryTimeoutMs ?? 2 * 60_000,
    dedup: deps.dedup,
  });
  app.on(['GET', 'POST'], '/api/v1/query', api((p, c) => instantQueryApi(queryCtx(c), p)));
  app.on(['GET', 'POST'], '/api/v1/query_range', api((p, c) => rangeQueryApi(queryCtx(c), p)));
  app.on(['GET', 'POST'], '/api/v1/query_exemplars', api((p) => queryExemplarsApi(p)));
  app.on(['GET', 'POST'], '/api/v1/format_query', api((p) => formatQueryApi(p)));
  app.on(['GET', 'POST'], '/api/v1/parse_query', api((p) => parseQueryApi(p)));
  app.get('/api/v1/metadata', api((p) => metadataApi(p)));
  app.get('/api/v1/status/buildinfo', api(() => buildInfoApi()));
  app.get(
    '/api/v1/status/runtimeinfo',
    api(() => runtimeInfoApi({ corruptionCount: db === undefined ? 0 : [...db.lastReplay.values()].filter((r) => r.truncated).length })),
  );
  app.get('/api/v1/status/flags', api(() => flagsApi(deps.flags)));
  app.get('/api/v1/status/config', api(() => configApi(deps.configYaml)));
  app.get('/api/v1/status/tsdb', api((p, c) => tsdbStatusApi(db?.getHead(c.get('tenant')), p)));
  app.on(['GET', 'POST'], '/federate', async (c) => {
    const p = await params(c);
    const r = await federate(querier(c), {
      matches: p.getAll('match[]'),
      accept: c.req.header('Accept'),
      now: Date.now(),
      lookbackDeltaMs: deps.lookbackDeltaMs ?? 5 * 60_000,
    });
    for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
    return c.body(r.body, r.status as 200);
  });

  app.post('/api/v1/read', async (c) => {
    const res = await remoteRead(querier(c), new Uint8Array(await c.req.arrayBuffer()));
    c.header('Content-Type', res.contentType);
    if (res.contentEncoding) c.header('Content-Encoding', res.contentEncoding);
    return c.body(res.body as never, res.status as 200);
  });

  app.get('/api/v1/ha/clusters', (c) => {
    const tenant = c.req.header('X-Scope-OrgID');
    const all = receiver?.haStatus() ?? [];
    const data = tenant ? all.filter((s) => s.tenant === tenant) : all;
    return c.json({
      status: 'success',
      data: data.map((s) => ({
        tenant: s.tenant,
        cluster: s.cluster,
        elected: s.elected,
        electedAt: new Date(s.electedAt).toISOString(),
        // When a receiver last recorded (in the KV, every update_timeout) samples from the elected replica.
        lastUpdated: new Date(s.receivedAt).toISOString(),
        failovers: s.failovers,
        replicas: Object.fromEntries(Object.entries(s.lastSeen).map(([r, t]) => [r, { lastSampleAt: new Date(t).toISOString() }])),
      })),
    });
  });

  app.get('/metrics', async (c) => {
    c.header('Content-Type', registry.contentType);
    return c.body(await registry.metrics());
  });
  app.get('/-/healthy', (c) => c.text('Argus is Healthy.\n'));
  app.get('/-/ready', (c) => (deps.isReady() ? c.text('Argus is Ready.\n') : c.text('Service Unavailable: starting or stopping\n', 503)));
  app.get('/', (c) =>
    c.text(
      'Argus — HA Prometheus-compatible metrics.\n\n' +
        'POST /api/v1/push | /api/v1/receive | /api/v1/write   remote write 1.0/2.0\n' +
        'GET  /api/v1/query | /api/v1/query_range                PromQL (Prometheus HTTP API v1)\n' +
        'GET  /api/v1/series | /api/v1/labels | /api/v1/label/<name>/values\n' +
        'GET  /api/v1/format_query | /api/v1/parse_query | /api/v1/metadata | /api/v1/query_exemplars\n' +
        'GET  /api/v1/status/{buildinfo,runtimeinfo,flags,config,tsdb}\n' +
        'GET  /federate?match[]=...                               latest samples, text exposition format\n' +
        'POST /api/v1/read                                       remote read\n' +
        'GET  /api/v1/ha/clusters                                HA election status\n' +
        'GET  /metrics | /-/healthy | /-/ready\n',
    ),
  );
  deps.extraRoutes?.(app, deps);
  return app;
}

/** The operational endpoints alone (/metrics, /-/healthy, /-/ready), for roles that serve no API (`argus compact`). */
export function createOpsApp(deps: { registry: Registry; isReady: () => boolean; what: string }): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    c.header('Content-Type', deps.registry.contentType);
    return c.body(await deps.registry.metrics());
  });
  app.get('/-/healthy', (c) => c.text('Argus is Healthy.\n'));
  app.get('/-/ready', (c) => (deps.isReady() ? c.text('Argus is Ready.\n') : c.text('Service Unavailable: starting or stopping\n', 503)));
  app.get('/', (c) => c.text(`Argus ${deps.what}.\n\nGET  /metrics | /-/healthy | /-/ready\n`));
  return app;
}
