/**
 * `argus agent`: one replica of an HA pair, in place of `prometheus --enable-feature=agent`. Loads an
 * ordinary prometheus.yml, scrapes into its own WAL and remote-writes from it. Flags are Prometheus's
 * agent-mode names. SIGHUP (or POST /-/reload) re-reads the file; SIGINT/SIGTERM stop scraping, let the
 * queues flush up to --storage.remote.flush-deadline, close the WAL and exit.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Agent } from '../agent/agent.js';
import { registerAgentMetrics } from '../agent/metrics.js';
import { defaultGlobalUrlOptions } from '../api/targets-api.js';
import { loadPrometheusConfig } from '../config/prometheus.js';
import { parseBytes } from '../config/prometheus-yaml.js';
import { parseDuration } from '../model/duration.js';
import { createAgentApp } from '../server/agent-app.js';
import { createRegistry } from '../server/metrics.js';
import { createLogger } from '../util/log.js';
import { UsageError, logLevel, parseListenAddress, type Role } from './flags.js';

export const agentRole: Role = {
  name: 'agent',
  summary: 'Scrape the targets of a prometheus.yml into a local WAL and remote-write them (one replica of an HA pair).',
  flags: [
    { name: 'config.file', help: 'Prometheus configuration file (global, scrape_configs, remote_write).', default: 'prometheus.yml' },
    { name: 'storage.agent.path', help: 'Directory of the agent WAL and the remote-write queue positions.', default: 'data-agent/' },
    { name: 'web.listen-address', help: 'Address to listen on for /metrics, the targets API and the lifecycle endpoints.', default: '0.0.0.0:9090' },
    { name: 'web.enable-lifecycle', help: 'Enable reload and shutdown over HTTP (POST /-/reload, POST /-/quit).', boolean: true },
    {
      name: 'storage.agent.max-wal-bytes',
      help: 'Disk budget per remote_write endpoint for WAL not yet sent (e.g. 512MiB, 4GiB; 0 = unlimited); past it the oldest data is dropped, counted and logged. queue_config.max_wal_bytes overrides it per endpoint.',
      default: '4GiB',
    },
    { name: 'storage.remote.flush-deadline', help: 'How long shutdown or a reload keeps sending queued samples; the rest is sent after the next start.', default: '1m' },
    { name: 'log.level', help: 'Only log messages with the given severity or above: debug, info, warn, error.', default: 'info' },
  ],
};

function flagBytes(values: Record<string, unknown>, name: string): number {
  const text = String(values[name]);
  const n = parseBytes(text);
  if (n === undefined) throw new UsageError(`argus agent: --${name} must be a byte size such as 512MiB, 4GiB or 0; got ${JSON.stringify(text)}`);
  return n;
}

function flagDuration(values: Record<string, unknown>, name: string): number {
  const text = String(values[name]);
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`argus agent: --${name}: ${(err as Error).message}`);
  }
}

export async function runAgent(values: Record<string, unknown>): Promise<void> {
  const maxWalBytes = flagBytes(values, 'storage.agent.max-wal-bytes');
  const flushDeadlineMs = flagDuration(values, 'storage.remote.flush-deadline');
  const configFile = String(values['config.file']);
  const dataDir = String(values['storage.agent.path']);
  const { host, port } = parseListenAddress(String(values['web.listen-address']));
  const logger = createLogger(logLevel(values), { role: 'agent' });

  // An invalid file is reported (exit 2, key path named) before anything listens or touches the WAL.
  await loadPrometheusConfig(configFile, { agentMode: true });

  let agent: Agent | null = null;
  let ready = false;
  const flags: Record<string, string> = {};
  for (const f of agentRole.flags) flags[f.name] = values[f.name] === undefined ? (f.boolean ? 'false' : '') : String(values[f.name]);
  const registry = createRegistry();
  registerAgentMetrics(registry, () => (agent === null ? [] : [{ agent, labels: {} }]));

  let shutdown: (why: string) => void = () => undefined;
  const app = createAgentApp({
    agent: () => agent,
    registry,
    logger,
    isReady: () => ready,
    flags,
    enableLifecycle: values['web.enable-lifecycle'] === true,
    reload: () => (agent === null ? Promise.reject(new Error('the agent is not running')) : agent.reload()),
    quit: () => shutdown('/-/quit'),
    globalUrl: defaultGlobalUrlOptions(`${host}:${port}`),
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', (err: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
  });
  const closeServer = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    });

  try {
    agent = await Agent.start({ configFile, dataDir, logger, maxWalBytesPerQueue: maxWalBytes, flushDeadlineMs });
  } catch (err) {
    await closeServer();
    throw err;
  }
  ready = true;
  logger.info('Argus agent is ready', { listen: `${host}:${port}`, config: configFile, wal: dataDir });

  let stopping = false;
  shutdown = (why: string) => {
    if (stopping) {
      logger.warn('second stop request while flushing; exiting now (unsent samples are sent after the next start)', { signal: why });
      process.exit(1);
    }
    stopping = true;
    ready = false;
    logger.info('shutting down: stopping scrapes, flushing remote-write queues, closing the WAL', { signal: why, flush_deadline: String(values['storage.remote.flush-deadline']) });
    (async () => {
      await agent?.stop();
      agent = null;
      await closeServer();
    })().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error('shutdown failed', { err: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    if (agent === null || stopping) return;
    logger.info('SIGHUP: reloading the configuration', { config: configFile });
    // A failed reload is logged by the agent and leaves the running configuration in place.
    agent.reload().catch(() => undefined);
  });
}
