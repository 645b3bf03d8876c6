/**
 * What every serving role shares: config, logger, metrics, the TSDB, the HA tracker and KV, the receiver
 * and the HTTP server, plus graceful shutdown. Role files only choose flags and defaults.
 */
import { serve, type ServerType } from '@hono/node-server';
import { loadConfig, queryReplicaLabels, type Config } from '../config/index.js';
import { HATracker, Receiver, createMemoryKV, createReceiveMetrics, type KV, type ReplicaDesc } from '../receive/index.js';
import { createApp, createRegistry, registerTSDBMetrics, type AppDeps } from '../server/index.js';
import { headLimitsFor } from '../config/load.js';
import { TSDB } from '../tsdb/index.js';
import { createLogger, type Logger } from '../util/log.js';
import { logLevel, parseListenAddress } from './flags.js';
import { Gauge } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import { Engine } from '../promql/engine/index.js';
import { applyStorageFlags, bucketSettings, startLongTermStorage, type StorageRuntime } from './storage-runtime.js';

export interface Runtime {
  cfg: Config;
  logger: Logger;
  db: TSDB;
  receiver: Receiver;
  /** Bucket, shipping, compactor and store gateway as this role runs them (handles for tests). */
  storage: StorageRuntime;
  url: string;
  close(): Promise<void>;
}

async function createKV(cfg: Config): Promise<KV<ReplicaDesc>> {
  const kvCfg = cfg.receive.ha_tracker.kvstore;
  if (kvCfg.store === 'etcd') {
    const { createEtcdKV } = await import('../receive/ha/kv-etcd.js');
    const e = kvCfg.etcd!;
    return createEtcdKV<ReplicaDesc>({
      endpoints: e.endpoints,
      prefix: kvCfg.prefix,
      dialTimeoutMs: e.dial_timeout,
      requestTimeoutMs: e.request_timeout,
      ...(e.username ? { username: e.username, password: e.password } : {}),
    });
  }
  return createMemoryKV<ReplicaDesc>();
}

export async function startServer(values: Record<string, unknown>, roleName: string, opts: { extraRoutes?: AppDeps['extraRoutes'] } = {}): Promise<Runtime> {
  const logger = createLogger(logLevel(values), { role: roleName });
  const cfg = applyStorageFlags(await loadConfig(values['config.file'] as string | undefined), values);
  const bucket = await bucketSettings(cfg, values, roleName);
  const { host, port } = parseListenAddress(values['web.listen-address'] as string);
  const path = values['storage.tsdb.path'] as string;
  let ready = false;

  const registry = createRegistry();
  const kv = await createKV(cfg);
  const ha = cfg.receive.ha_tracker;
  const tracker = new HATracker(kv, {
    updateTimeoutMs: ha.update_timeout,
    updateTimeoutJitterMaxMs: ha.update_timeout_jitter_max,
    failoverTimeoutMs: ha.failover_timeout,
  }, {
    onElection: (tenant, cluster, replica) => logger.info('HA cluster seen for the first time; elected its first replica', { component: 'ha', tenant, cluster, replica }),
  });
  await tracker.sync();
  let storage: Awaited<ReturnType<typeof startLongTermStorage>> | null = null;
  logger.info('opening TSDB and replaying WALs', { path });
  const db = await TSDB.open({
    path,
    headOptions: (tenant) => headLimitsFor(cfg, tenant),
    walSegmentBytes: cfg.storage.tsdb.wal_segment_size,
    logger,
    onBlockWritten: () => storage?.onBlockWritten(),
  });
  registerTSDBMetrics(registry, db);
  // Blocks cut before this is set are shipped by its first pass.
  storage = await startLongTermStorage({ cfg, values, role: roleName, settings: bucket, db, logger, registry });
  const receiver = new Receiver(cfg, db, tracker, logger, createReceiveMetrics(registry));
  new Gauge({
    name: 'argus_receive_ha_kv_writes',
    help: 'Compare-and-swap writes of the HA tracker to its KV store since startup (elections, failovers, periodic receivedAt updates).',
    registers: [registry],
    collect() {
      this.set(tracker.kvWrites);
    },
  });
  new Gauge({
    name: 'argus_receive_ha_standby_buffered_samples',
    help: 'Samples of non-elected replicas kept for gapless failover.',
    registers: [registry],
    collect() {
      this.set(receiver.bufferedStandbySamples());
    },
  });
  const engine = new Engine();
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) flags[k] = String(v);
  const dedup = { replicaLabels: queryReplicaLabels(cfg), dedup: cfg.query.dedup };
  const app = createApp({ receiver, db, storage: storage.fanout, registry, logger, isReady: () => ready, engine, flags, configYaml: toYaml(cfg), dedup, extraRoutes: opts.extraRoutes });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', (err: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${boundPort}`;
  ready = true;
  logger.info('Argus is ready', { listen: `${host}:${boundPort}`, tenants: db.tenants().join(',') || undefined });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      await new Promise<void>((r) => server.close(() => r()));
      receiver.close();
      await tracker.close();
      await kv.close();
      // Shipping stops before the TSDB closes (a pass in progress finishes its upload first).
      await storage!.close();
      await db.close();
    })());
  return { cfg, logger, db, receiver, storage, url, close };
}

/** Stops cleanly on SIGINT/SIGTERM: no new requests, queued WAL writes flushed. */
export function handleSignals(rt: { logger: Logger; close(): Promise<void> }): void {
  const stop = (sig: string) => {
    rt.logger.info('shutting down', { signal: sig });
    rt.close().then(
      () => process.exit(0),
      (err) => {
        rt.logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** Serves `fetch` on host:port; the URL uses 127.0.0.1 for a wildcard host. */
export async function listen(fetch: (req: Request) => Response | Promise<Response>, host: string, port: number): Promise<{ server: ServerType; url: string; port: number }> {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch, hostname: host, port }, () => resolve(s));
    s.once('error', (err: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  return { server, port: boundPort, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${boundPort}` };
}
