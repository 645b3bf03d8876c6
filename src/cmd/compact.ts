/**
 * `argus compact`: the bucket compactor alone (compaction, downsampling, retention, deletion of marked
 * blocks), with /metrics, /-/healthy and /-/ready. One compactor per bucket, as with Thanos.
 */
import { join } from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import type { Compactor } from '../compact/index.js';
import { createOpsApp, createRegistry } from '../server/index.js';
import { createLogger, type Logger } from '../util/log.js';
import { COMPACT_FLAGS, OBJSTORE_FLAG, logLevel, parseListenAddress, type Role } from './flags.js';
import { handleSignals, listen } from './server-runtime.js';
import { applyStorageFlags, bucketSettings, buildCompactor, describeBucket, every, openBucket } from './storage-runtime.js';

export const compactRole: Role = {
  name: 'compact',
  summary: 'Compact, downsample and apply retention to the blocks of a bucket (one compactor per bucket).',
  flags: [
    { name: 'web.listen-address', help: 'Address to listen on for /metrics, /-/healthy and /-/ready.', default: '0.0.0.0:10912' },
    {
      name: 'storage.tsdb.path',
      help: 'Data directory: scratch space under <path>/compactor and, without a configured bucket, the bucket directory <path>/bucket.',
      default: './data',
    },
    { name: 'config.file', help: 'Argus configuration file (YAML): storage.bucket, compactor. Optional.' },
    { name: 'log.level', help: 'Only log messages with the given severity or above: debug, info, warn, error.', default: 'info' },
    OBJSTORE_FLAG,
    ...COMPACT_FLAGS,
  ],
};

export interface CompactRuntime {
  cfg: Config;
  logger: Logger;
  compactor: Compactor;
  url: string;
  close(): Promise<void>;
}

export async function startCompact(values: Record<string, unknown>): Promise<CompactRuntime> {
  const logger = createLogger(logLevel(values), { role: 'compact' });
  const cfg = applyStorageFlags(await loadConfig(values['config.file'] as string | undefined), values);
  const { host, port } = parseListenAddress(values['web.listen-address'] as string);
  const settings = (await bucketSettings(cfg, values, 'compact'))!;
  logger.info('compactor starting', { ...describeBucket(settings) });
  const bucket = openBucket(settings);
  const registry = createRegistry();
  const compactor = buildCompactor(cfg, bucket, logger, join(String(values['storage.tsdb.path']), 'compactor'), registry);
  let ready = true;
  const app = createOpsApp({ registry, isReady: () => ready, what: 'compactor' });
  const { server, url, port: bound } = await listen(app.fetch, host, port);
  logger.info('Argus compactor is listening', { listen: `${host}:${bound}` });
  const loop = every(cfg.compactor.interval, () => compactor.runOnce());
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      await compactor.stop();
      await loop.stop();
      await new Promise<void>((r) => server.close(() => r()));
      await bucket.close();
    })());
  return { cfg, logger, compactor, url, close };
}

export async function runCompact(values: Record<string, unknown>): Promise<void> {
  handleSignals(await startCompact(values));
}
