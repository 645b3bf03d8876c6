/**
 * `argus store`: the store gateway alone. Serves the blocks of a bucket through the query API (PromQL,
 * series, labels, label values, remote read, federate), each tenant (X-Scope-OrgID) seeing the blocks
 * whose `tenant_id` label names it. Ready once the first block sync succeeded.
 */
import { stringify as toYaml } from 'yaml';
import { loadConfig, queryReplicaLabels, type Config } from '../config/index.js';
import { Engine } from '../promql/engine/index.js';
import { FanoutStorage } from '../query/index.js';
import { DEFAULT_TENANT } from '../receive/index.js';
import { createApp, createRegistry } from '../server/index.js';
import { TENANT_LABEL } from '../config/schema.js';
import type { BucketStore } from '../store/index.js';
import { createLogger, type Logger } from '../util/log.js';
import { OBJSTORE_FLAG, STORE_FLAGS, logLevel, parseListenAddress, type Role } from './flags.js';
import { handleSignals, listen } from './server-runtime.js';
import { applyStorageFlags, bucketSettings, buildStore, describeBucket, every, openBucket } from './storage-runtime.js';

export const storeRole: Role = {
  name: 'store',
  summary: 'Serve the blocks of a bucket through the query API (PromQL, series, labels, remote read), per tenant.',
  flags: [
    { name: 'web.listen-address', help: 'Address to listen on for the query API.', default: '0.0.0.0:10902' },
    { name: 'storage.tsdb.path', help: 'Data directory; without a configured bucket, the bucket is the directory <path>/bucket (as `argus all` writes it).', default: './data' },
    { name: 'config.file', help: 'Argus configuration file (YAML): storage.bucket, store, query. Optional.' },
    { name: 'log.level', help: 'Only log messages with the given severity or above: debug, info, warn, error.', default: 'info' },
    OBJSTORE_FLAG,
    ...STORE_FLAGS,
  ],
};

export interface StoreRuntime {
  cfg: Config;
  logger: Logger;
  store: BucketStore;
  url: string;
  close(): Promise<void>;
}

export async function startStore(values: Record<string, unknown>): Promise<StoreRuntime> {
  const logger = createLogger(logLevel(values), { role: 'store' });
  const cfg = applyStorageFlags(await loadConfig(values['config.file'] as string | undefined), values);
  const { host, port } = parseListenAddress(values['web.listen-address'] as string);
  const settings = (await bucketSettings(cfg, values, 'store'))!;
  logger.info('store gateway starting', { ...describeBucket(settings) });
  const bucket = openBucket(settings);
  const registry = createRegistry();
  const store = buildStore(cfg, bucket, logger, registry);
  let ready = false;
  const sync = async (): Promise<void> => {
    await store.sync();
    if (!ready) logger.info('first block sync done; ready', { blocks: store.blocks().length });
    ready = true;
  };
  try {
    await sync();
  } catch (err) {
    logger.error('first block sync failed; not ready until a sync succeeds', { error: (err as Error).message, retry_in_ms: cfg.store.sync_interval });
  }
  const loop = every(cfg.store.sync_interval, sync, { later: ready });
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) flags[k] = String(v);
  const app = createApp({
    storage: new FanoutStorage({ store, tenantLabel: TENANT_LABEL, defaultTenant: DEFAULT_TENANT }),
    registry,
    logger,
    isReady: () => ready,
    engine: new Engine(),
    flags,
    configYaml: toYaml(cfg),
    dedup: { replicaLabels: queryReplicaLabels(cfg), dedup: cfg.query.dedup },
  });
  const { server, url, port: bound } = await listen(app.fetch, host, port);
  logger.info('Argus store gateway is listening', { listen: `${host}:${bound}`, blocks: store.blocks().length });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      await new Promise<void>((r) => server.close(() => r()));
      await loop.stop();
      await store.close();
      await bucket.close();
    })());
  return { cfg, logger, store, url, close };
}

export async function runStore(values: Record<string, unknown>): Promise<void> {
  handleSignals(await startStore(values));
}
