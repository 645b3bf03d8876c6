/**
 * The HTTP surface of `argus agent`, as Prometheus serves it in agent mode: /metrics, the health and
 * readiness probes, the lifecycle endpoints (/-/reload, /-/quit with --web.enable-lifecycle), the targets
 * and status APIs. Endpoints that need a local TSDB (query, series, labels, ...) answer 422
 * "unavailable with Prometheus Agent" in Prometheus's error envelope, so clients learn what they talk to.
 */
import { Hono, type Context } from 'hono';
import type { Registry } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import type { Agent } from '../agent/agent.js';
import type { TargetSource } from '../api/targets-api.js';
import { scrapePoolsHandler, targetMetadataHandler, targetsHandler, type GlobalUrlOptions } from '../api/targets-api.js';
import { buildInfoApi, configApi, flagsApi, runtimeInfoApi } from '../api/status-api.js';
import type { ApiResponse } from '../api/response.js';
import type { PrometheusConfig } from '../config/prometheus.js';
import { formatPromDuration } from '../agent/scrape/target.js';
import type { Labels } from '../model/labels.js';
import type { Logger } from '../util/log.js';

export interface AgentAppDeps {
  /** The running agent; null while it starts or after it stopped. */
  agent: () => Agent | null;
  registry: Registry;
  logger: Logger;
  /** False until the WAL is replayed and the configuration applied, and while shutting down. */
  isReady: () => boolean;
  /** Command-line flags as /api/v1/status/flags shows them. */
  flags: Record<string, string>;
  /** --web.enable-lifecycle: without it /-/reload and /-/quit answer 403, as in Prometheus. */
  enableLifecycle: boolean;
  /** Re-reads the configuration file; rejects with the reason when it is invalid. */
  reload: () => Promise<void>;
  /** Asks the process to shut down cleanly (/-/quit). */
  quit: () => void;
  /** How localhost target URLs are shown as `globalUrl`. */
  globalUrl?: GlobalUrlOptions;
}

const EMPTY_SOURCE: TargetSource = {
  targets: () => ({ activeTargets: [], droppedTargets: [], droppedTargetCounts: {} }),
  scrapePools: () => [],
  targetMetadata: () => [],
};

/** Endpoints Prometheus refuses in agent mode (web/api/v1's wrapAgent), and what else needs a TSDB. */
const TSDB_ONLY: readonly [methods: string[], path: string][] = [
  [['GET', 'POST'], '/api/v1/query'],
  [['GET', 'POST'], '/api/v1/query_range'],
  [['GET', 'POST'], '/api/v1/query_exemplars'],
  [['GET', 'POST'], '/api/v1/series'],
  [['GET', 'POST'], '/api/v1/labels'],
  [['GET'], '/api/v1/label/:name/values'],
  [['GET'], '/api/v1/alerts'],
  [['GET'], '/api/v1/rules'],
  [['GET'], '/api/v1/status/tsdb'],
  [['POST'], '/api/v1/read'],
  [['GET', 'POST'], '/federate'],
];

function send(c: Context, r: ApiResponse): Response {
  for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
  return c.body(r.body as string, r.status as 200);
}

export function createAgentApp(deps: AgentAppDeps): Hono {
  const app = new Hono();
  const log = deps.logger.with({ component: 'web' });
  app.onError((err, c) => {
    log.error('unhandled error serving request', { path: c.req.path, err });
    return c.text(`internal error: ${err.message}`, 500);
  });

  // The agent can be replaced or absent; the targets handlers read through this indirection.
  const source: TargetSource = {
    targets: () => (deps.agent()?.scrape ?? EMPTY_SOURCE).targets(),
    scrapePools: () => (deps.agent()?.scrape ?? EMPTY_SOURCE).scrapePools(),
    targetMetadata: () => (deps.agent()?.scrape ?? EMPTY_SOURCE).targetMetadata!(),
  };
  app.get('/api/v1/targets', targetsHandler(source, deps.globalUrl));
  app.get('/api/v1/targets/metadata', targetMetadataHandler(source));
  app.get('/api/v1/scrape_pools', scrapePoolsHandler(source));
  app.get('/api/v1/status/buildinfo', (c) => send(c, buildInfoApi()));
  app.get('/api/v1/status/flags', (c) => send(c, flagsApi(deps.flags)));
  app.get('/api/v1/status/config', (c) => {
    const agent = deps.agent();
    return send(c, configApi(agent === null ? '' : prometheusConfigYaml(agent.config)));
  });
  app.get('/api/v1/status/runtimeinfo', (c) => {
    const st = deps.agent()?.reloadStatus;
    return send(c, runtimeInfoApi({ ...(st && st.lastSuccessMs > 0 ? { lastConfigTime: st.lastSuccessMs } : {}), ...(st ? { reloadConfigSuccess: st.success } : {}) }));
  });
  for (const [methods, path] of TSDB_ONLY) {
    app.on(methods, path, (c) => c.json({ status: 'error', errorType: 'execution', error: 'unavailable with Prometheus Agent' }, 422));
  }

  const lifecycle = (fn: (c: Context) => Promise<Response> | Response) => async (c: Context) => {
    if (!deps.enableLifecycle) return c.text('Lifecycle API is not enabled.', 403);
    return fn(c);
  };
  app.on(['POST', 'PUT'], '/-/reload', lifecycle(async (c) => {
    try {
      await deps.reload();
      return c.body(null, 200);
    } catch (err) {
      // The agent already logged it; the caller gets the reason, as Prometheus's handler gives.
      return c.text(`failed to reload config: ${(err as Error).message}\n`, 500);
    }
  }));
  app.on(['POST', 'PUT'], '/-/quit', lifecycle((c) => {
    log.info('termination requested over HTTP (/-/quit)');
    setImmediate(deps.quit);
    return c.text('Requesting termination... Goodbye!\n');
  }));
  for (const path of ['/-/reload', '/-/quit']) app.get(path, (c) => c.text('Only POST or PUT requests allowed', 405));

  app.get('/metrics', async (c) => {
    c.header('Content-Type', deps.registry.contentType);
    return c.body(await deps.registry.metrics());
  });
  app.get('/-/healthy', (c) => c.text('Argus Agent is Healthy.\n'));
  app.get('/-/ready', (c) => (deps.isReady() ? c.text('Argus Agent is Ready.\n') : c.text('Service Unavailable: starting or stopping\n', 503)));
  app.get('/', (c) =>
    c.text(
      'Argus agent — scrapes targets into its WAL and remote-writes them.\n\n' +
        'GET      /api/v1/targets | /api/v1/targets/metadata | /api/v1/scrape_pools\n' +
        'GET      /api/v1/status/{config,flags,buildinfo,runtimeinfo}\n' +
        'POST|PUT /-/reload | /-/quit                    with --web.enable-lifecycle\n' +
        'GET      /metrics | /-/healthy | /-/ready\n',
    ),
  );
  return app;
}

// ---------------------------------------------------------------------------------------------------
// The effective configuration as YAML (/api/v1/status/config): defaults filled in, durations written
// the way Prometheus writes them, secrets replaced by <secret>, empty settings left out.

const DURATION_KEYS = new Set([
  'scrape_interval',
  'scrape_timeout',
  'evaluation_interval',
  'rule_query_offset',
  'refresh_interval',
  'remote_timeout',
  'batch_send_deadline',
  'min_backoff',
  'max_backoff',
  'sample_age_limit',
  'send_interval',
  'timeout',
]);
const SECRET_KEYS = new Set(['password', 'credentials', 'client_secret', 'key', 'client_certificate_key', 'secrets']);
const LABEL_KEYS = new Set(['external_labels', 'labels']);
const LEADING_KEYS = new Set(['job_name', 'url', 'name']);
/** Derived or internal fields that are not keys of the file. */
const INTERNAL_KEYS = new Set(['unsupported', 'name_validation_scheme', 'other_sd_configs']);

function labelsMap(ls: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < ls.length; i += 2) out[ls[i]!] = ls[i + 1]!;
  return out;
}

function plain(key: string, v: unknown, inArray = false): unknown {
  if (v === undefined || v === null || v === '') return undefined;
  if (SECRET_KEYS.has(key)) return Array.isArray(v) ? (v.length > 0 ? v.map(() => '<secret>') : undefined) : '<secret>';
  if (typeof v === 'number') return DURATION_KEYS.has(key) ? formatPromDuration(v) : v;
  if (typeof v !== 'object') return v;
  if (LABEL_KEYS.has(key) && Array.isArray(v)) return v.length > 0 ? labelsMap(v as Labels) : undefined;
  if (Array.isArray(v)) {
    const items = v.map((x) => plain('', x, true)).filter((x) => x !== undefined);
    return items.length > 0 ? items : undefined;
  }
  const out: Record<string, unknown> = {};
  // What names an entry comes first, as in Prometheus's output; the rest keep the loader's order.
  const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => Number(LEADING_KEYS.has(b)) - Number(LEADING_KEYS.has(a)));
  for (const [k, x] of entries) {
    if (INTERNAL_KEYS.has(k)) continue;
    const p = plain(k, x);
    if (p !== undefined) out[k] = p;
  }
  // Discovery mechanisms Argus keeps as written come back under their own keys.
  const other = (v as { other_sd_configs?: Record<string, unknown> }).other_sd_configs;
  if (other) for (const [k, x] of Object.entries(other)) out[k] = x;
  // An empty entry of a list (e.g. a static config without targets) is still an entry.
  return Object.keys(out).length > 0 || inArray ? out : undefined;
}

/** The loaded configuration as YAML, in the file's key order. */
export function prometheusConfigYaml(cfg: PrometheusConfig): string {
  return toYaml(plain('', cfg) ?? {}, { lineWidth: 0 });
}
