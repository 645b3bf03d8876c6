/**
 * HTTP assembly: mounts the receiver, the read API, remote read, HA status and the operational endpoints
 * on one Hono app. Tests call `app.request()` directly, no sockets needed.
 */
import { Hono, type Context } from 'hono';
import type { Registry } from 'prom-client';
import type { Receiver } from '../receive/index.js';
import { tenantOf, validateTenant } from '../receive/index.js';
import type { TSDB } from '../tsdb/index.js';
import { ApiError, STATUS_OF } from '../api/params.js';
import { labelNamesApi, labelValuesApi, seriesApi, type ApiData, type ApiParams } from '../api/labels-api.js';
import { remoteRead } from '../api/remote-read.js';
import type { Querier } from '../storage/interface.js';
import type { Logger } from '../util/log.js';

export interface AppDeps {
  receiver: Receiver;
  db: TSDB;
  registry: Registry;
  logger: Logger;
  /** False until startup (WAL replay) finished and while shutting down. */
  isReady: () => boolean;
}

type Env = { Variables: { tenant: string } };

/** An empty querier for tenants that have no data yet (reads never create a tenant). */
const EMPTY_QUERIER: Querier = {
  select: () => ({ warnings: [], async *[Symbol.asyncIterator]() {} }),
  labelNames: async () => [],
  labelValues: async () => [],
};

async function params(c: Context): Promise<ApiParams> {
  const url = new URL(c.req.url);
  const all = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) all.set(k, [...(all.get(k) ?? []), v]);
  if (c.req.method === 'POST' && (c.req.header('content-type') ?? '').includes('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(await c.req.text());
    for (const [k, v] of form) all.set(k, [...(all.get(k) ?? []), v]);
  }
  return { get: (n) => all.get(n)?.[0], getAll: (n) => all.get(n) ?? [] };
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

  app.onError((err, c) => {
    deps.logger.error('unhandled error serving request', { path: c.req.path, err });
    return c.text(`internal error: ${err.message}`, 500);
  });

  // Tenant: X-Scope-OrgID, or the default tenant.
  app.use('/api/*', async (c, next) => {
    const tenant = tenantOf(c.req.header('X-Scope-OrgID'));
    const bad = validateTenant(tenant);
    if (bad !== null) return c.text(bad, 400);
    c.set('tenant', tenant);
    await next();
  });

  const write = async (c: Context<Env>) => {
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

  const querier = (c: Context<Env>): Querier => db.getHead(c.get('tenant'))?.querier() ?? EMPTY_QUERIER;
  const readApi = (fn: (q: Querier, p: ApiParams, c: Context<Env>) => Promise<ApiData>) => async (c: Context<Env>) => {
    try {
      return apiSuccess(c, await fn(querier(c), await params(c), c));
    } catch (err) {
      return apiError(c, err);
    }
  };
  app.on(['GET', 'POST'], '/api/v1/series', readApi((q, p) => seriesApi(q, p)));
  app.on(['GET', 'POST'], '/api/v1/labels', readApi((q, p) => labelNamesApi(q, p)));
  app.get('/api/v1/label/:name/values', readApi((q, p, c) => labelValuesApi(q, c.req.param('name') ?? '', p)));

  app.post('/api/v1/read', async (c) => {
    const res = await remoteRead(querier(c), new Uint8Array(await c.req.arrayBuffer()));
    c.header('Content-Type', res.contentType);
    if (res.contentEncoding) c.header('Content-Encoding', res.contentEncoding);
    return c.body(res.body as never, res.status as 200);
  });

  app.get('/api/v1/ha/clusters', (c) => {
    const tenant = c.req.header('X-Scope-OrgID');
    const all = receiver.haStatus();
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
        'GET  /api/v1/series | /api/v1/labels | /api/v1/label/<name>/values\n' +
        'POST /api/v1/read                                       remote read\n' +
        'GET  /api/v1/ha/clusters                                HA election status\n' +
        'GET  /metrics | /-/healthy | /-/ready\n',
    ),
  );
  return app;
}
