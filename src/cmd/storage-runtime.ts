/**
 * Long-term storage wiring shared by the roles: which bucket (config, flags, defaults), the compactor and
 * the store gateway built from config, and `LocalShipping`, which ships each tenant's local blocks and
 * deletes them locally once they are safe in the bucket.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import { compactorRanges, loadObjstoreConfig, TENANT_LABEL, type BucketSettings, type Config } from '../config/index.js';
import { Compactor } from '../compact/index.js';
import { downsampleStep } from '../compact/downsample/index.js';
import { formatDuration, parseDuration } from '../model/duration.js';
import { bucketFromConfig, type Bucket } from '../objstore/index.js';
import { BucketStore } from '../store/index.js';
import { registerCompactorMetrics, registerLocalRetentionMetrics, registerShipperMetrics, registerStoreMetrics } from '../server/index.js';
import type { TSDB } from '../tsdb/index.js';
import { SHIPPER_META_FILENAME, Shipper, decodeShipperMeta } from '../tsdb/shipper.js';
import type { Logger } from '../util/log.js';
import { FanoutStorage } from '../query/index.js';
import { DEFAULT_TENANT } from '../receive/index.js';
import { UsageError } from './flags.js';

/** Roles that default to the embedded bucket `<storage.tsdb.path>/bucket` when none is configured. */
const EMBEDDED_BUCKET_ROLES = new Set(['all', 'store', 'compact']);

/**
 * The bucket a role uses: `--objstore.config-file`, else `storage.bucket`, else (for all/store/compact) the
 * directory `<storage.tsdb.path>/bucket`; null when the role has none (`argus receive` ships nothing then).
 */
export async function bucketSettings(cfg: Config, values: Record<string, unknown>, role: string): Promise<BucketSettings | null> {
  const file = values['objstore.config-file'];
  let s: BucketSettings | null = typeof file === 'string' && file !== '' ? await loadObjstoreConfig(file) : (cfg.storage.bucket ?? null);
  if (s === null && EMBEDDED_BUCKET_ROLES.has(role)) s = { type: 'filesystem' };
  if (s !== null && s.type === 'filesystem' && s.directory === undefined) s = { ...s, directory: join(String(values['storage.tsdb.path'] ?? './data'), 'bucket') };
  return s;
}

/** Where the bucket is, for the startup log line (no credentials). */
export function describeBucket(s: BucketSettings): Record<string, unknown> {
  if (s.type === 'filesystem') return { bucket_type: 'filesystem', bucket_directory: resolve(s.directory!) };
  return { bucket_type: 's3', bucket: s.bucket, bucket_endpoint: s.endpoint ?? '(AWS default or AWS_ENDPOINT_URL)', bucket_region: s.region };
}

export function openBucket(s: BucketSettings): Bucket {
  return bucketFromConfig(s.type === 'filesystem' ? { type: 'filesystem', directory: s.directory! } : s);
}

function flagDuration(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  try {
    return parseDuration(String(v));
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

function flagBytes(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(String(v).trim());
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--${name} must be a byte size such as 268435456 or 256MiB; got ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * unit);
}

/** The config with the compactor and store flags of this role applied over it (flags win). */
export function applyStorageFlags(cfg: Config, values: Record<string, unknown>): Config {
  const c = structuredClone(cfg);
  const all = flagDuration(values, 'retention');
  const res = c.compactor.retention;
  if (all !== undefined) res.raw = res['5m'] = res['1h'] = all;
  res.raw = flagDuration(values, 'retention.resolution-raw') ?? res.raw;
  res['5m'] = flagDuration(values, 'retention.resolution-5m') ?? res['5m'];
  res['1h'] = flagDuration(values, 'retention.resolution-1h') ?? res['1h'];
  c.compactor.delete_delay = flagDuration(values, 'delete-delay') ?? c.compactor.delete_delay;
  c.compactor.interval = flagDuration(values, 'wait-interval') ?? c.compactor.interval;
  if (!(c.compactor.interval > 0)) throw new UsageError('--wait-interval must be positive');
  if (values['downsampling.disable'] === true) c.compactor.downsampling.enabled = false;
  const ranges = values['compact.block-ranges'];
  if (ranges !== undefined) {
    const list = String(ranges)
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    if (list.length === 0) throw new UsageError('--compact.block-ranges needs at least one duration, e.g. 2h,8h,2d');
    const ms = list.map((x) => {
      try {
        return parseDuration(x);
      } catch (err) {
        throw new UsageError(`--compact.block-ranges: ${(err as Error).message}`);
      }
    });
    for (let i = 0; i < ms.length; i++) {
      if (!(ms[i]! > 0)) throw new UsageError(`--compact.block-ranges: ${list[i]} must be positive`);
      if (i > 0 && ms[i]! % ms[i - 1]! !== 0) throw new UsageError(`--compact.block-ranges: ${list[i]} is not a multiple of ${list[i - 1]}`);
    }
    c.compactor.block_ranges = ms;
  }
  c.store.cache_bytes = flagBytes(values, 'store.cache-size') ?? c.store.cache_bytes;
  c.store.sync_interval = flagDuration(values, 'sync-block-duration') ?? c.store.sync_interval;
  if (!(c.store.sync_interval > 0)) throw new UsageError('--sync-block-duration must be positive');
  return c;
}

/** The compactor as configured, its metrics registered. `workDir` is its scratch space. */
export function buildCompactor(cfg: Config, bucket: Bucket, logger: Logger, workDir: string, registry: Registry): Compactor {
  const k = cfg.compactor;
  const ds = k.downsampling;
  const compactor = new Compactor({
    bucket,
    workDir,
    logger,
    ranges: compactorRanges(cfg),
    deleteDelayMs: k.delete_delay,
    consistencyDelayMs: k.consistency_delay,
    retention: { raw: k.retention.raw, fiveMinutes: k.retention['5m'], oneHour: k.retention['1h'] },
    ...(ds.enabled
      ? {
          downsample: (ctx) =>
            downsampleStep({
              ...ctx,
              options: { raw5mAfterMs: ds.raw_to_5m_after, fiveM1hAfterMs: ds['5m_to_1h_after'], consistencyDelayMs: k.consistency_delay },
            }),
        }
      : {}),
  });
  registerCompactorMetrics(registry, compactor.metrics);
  const days = (ms: number) => (ms === 0 ? 'forever' : formatDuration(ms));
  logger.info('compactor configured', {
    component: 'compact',
    ranges: compactorRanges(cfg).map(formatDuration).join(','),
    retention_raw: days(k.retention.raw),
    retention_5m: days(k.retention['5m']),
    retention_1h: days(k.retention['1h']),
    delete_delay_ms: k.delete_delay,
    downsampling: ds.enabled,
    interval_ms: k.interval,
    work_dir: workDir,
  });
  return compactor;
}

/** The store gateway as configured (every tenant's blocks; the fan-out splits them), its metrics registered. */
export function buildStore(cfg: Config, bucket: Bucket, logger: Logger, registry: Registry): BucketStore {
  const store = new BucketStore({ bucket, logger, cacheBytes: cfg.store.cache_bytes, fetchBudgetBytes: cfg.store.fetch_budget_bytes });
  registerStoreMetrics(registry, () => store.stats(), cfg.store.cache_bytes);
  logger.info('store gateway configured', {
    component: 'store',
    bucket: bucket.name,
    cache_bytes: cfg.store.cache_bytes,
    fetch_budget_bytes: cfg.store.fetch_budget_bytes,
    sync_interval_ms: cfg.store.sync_interval,
  });
  return store;
}

/**
 * Runs `fn` now (or after one interval with `later`) and then every `intervalMs` after the previous call
 * ended, until `stop()` (which waits for a call in progress). Failures are the callee's to log.
 */
export function every(intervalMs: number, fn: () => Promise<unknown>, opts: { later?: boolean } = {}): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  const tick = (): void => {
    timer = null;
    running = fn()
      .catch(() => undefined)
      .finally(() => {
        running = null;
        if (!stopped) {
          timer = setTimeout(tick, intervalMs);
          timer.unref();
        }
      });
  };
  if (opts.later) {
    timer = setTimeout(tick, intervalMs);
    timer.unref();
  } else {
    tick();
  }
  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running;
    },
  };
}

export interface LocalShippingOptions {
  db: TSDB;
  bucket: Bucket;
  cfg: Config;
  logger: Logger;
  registry: Registry;
  /** When the store gateway runs in this process: whether it serves a local block (only then is it deleted). */
  servedByStore?: (tenant: string, ulid: string) => boolean;
  /** Called after a pass that uploaded blocks (e.g. to sync the in-process store gateway before pruning). */
  afterUpload?: () => Promise<void>;
  now?: () => number;
}

/**
 * Ships every tenant's blocks (one Shipper per tenant, external labels plus `tenant_id`) and applies the
 * local retention: a local block is deleted once it is in the bucket (thanos.shipper.json lists it), the
 * in-process store gateway (if any) serves it, and `storage.tsdb.retention` has passed since this process
 * first saw it shipped. Whatever the retention, a shipped block whose data is past the bucket's raw
 * retention goes as well (the compactor deletes it there). The newest local block of a tenant always
 * stays: its end tells a restart which samples are in blocks already.
 */
export class LocalShipping {
  private readonly shippers = new Map<string, Shipper>();
  private readonly shippedSince = new Map<string, number>();
  private readonly deleted = new Map<string, number>();
  private readonly log: Logger;
  private readonly now: () => number;
  private chain: Promise<unknown> = Promise.resolve();
  private loop: { stop(): Promise<void> } | null = null;
  /** A kicked pass is queued and has not started: further kicks ride on it. */
  private queued = false;
  private closed = false;

  constructor(private readonly opts: LocalShippingOptions) {
    this.log = opts.logger.with({ component: 'shipper' });
    this.now = opts.now ?? Date.now;
    registerShipperMetrics(opts.registry, () => [...this.shippers].map(([t, s]) => [t, s.metrics] as [string, typeof s.metrics]));
    registerLocalRetentionMetrics(opts.registry, () => this.deleted.entries());
  }

  private shipperFor(tenant: string): Shipper {
    let s = this.shippers.get(tenant);
    if (s === undefined) {
      s = new Shipper({
        dir: this.opts.db.blocksDir(tenant),
        bucket: this.opts.bucket,
        externalLabels: { ...this.opts.cfg.storage.ship.external_labels, [TENANT_LABEL]: tenant },
        logger: this.opts.logger.with({ tenant }),
        source: 'receive',
      });
      this.shippers.set(tenant, s);
    }
    return s;
  }

  /** Ships and prunes every `storage.ship.interval`; `kick()` asks for a pass sooner. */
  start(): void {
    this.loop ??= every(this.opts.cfg.storage.ship.interval, () => this.runOnce());
  }

  /** Asks for a pass soon (a new block was written); kicks while one is queued coalesce. */
  kick(): void {
    if (this.queued || this.closed) return;
    this.queued = true;
    void this.runOnce();
  }

  /** One pass: ship every tenant's pending blocks, then prune. Passes run one at a time. */
  runOnce(): Promise<void> {
    return this.serial(async () => {
      this.queued = false;
      let uploaded = 0;
      for (const tenant of this.opts.db.tenants()) {
        if (this.closed) return;
        const r = await this.shipperFor(tenant).sync();
        uploaded += r.uploaded.length;
      }
      if (uploaded > 0 && this.opts.afterUpload) {
        try {
          await this.opts.afterUpload();
        } catch (err) {
          this.log.warn('store gateway sync after upload failed; local blocks stay until it serves them', { error: (err as Error).message });
        }
      }
      await this.pruneAll();
    });
  }

  /** Only the retention pass (e.g. after the store gateway synced a compaction). */
  prune(): Promise<void> {
    return this.serial(() => this.pruneAll());
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err) => this.log.error('shipping pass failed', { error: (err as Error).message }));
    return run;
  }

  private async pruneAll(): Promise<void> {
    for (const tenant of this.opts.db.tenants()) {
      if (this.closed) return;
      await this.pruneTenant(tenant);
    }
  }

  private async shipped(tenant: string): Promise<Set<string>> {
    const file = join(this.opts.db.blocksDir(tenant), SHIPPER_META_FILENAME);
    try {
      return new Set(decodeShipperMeta(await readFile(file, 'utf8'), file));
    } catch (err) {
      // Missing: nothing shipped yet. Unreadable: the shipper rewrites it; keep every block until then.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('cannot read the shipper file; no local block is deleted until it is readable', { tenant, file, error: (err as Error).message });
      return new Set();
    }
  }

  private async pruneTenant(tenant: string): Promise<void> {
    const blocks = this.opts.db.getBlocks(tenant);
    if (blocks.length < 2) return;
    const shipped = await this.shipped(tenant);
    const now = this.now();
    const keepFor = this.opts.cfg.storage.tsdb.retention;
    const rawRetention = this.opts.cfg.compactor.retention.raw;
    let newest = blocks[0]!;
    for (const b of blocks) if (b.meta.maxTime > newest.meta.maxTime) newest = b;
    const doomed: { ulid: string; why: string }[] = [];
    for (const b of blocks) {
      const ulid = b.meta.ulid;
      if (b === newest) continue;
      if (!(b.meta.stats.numSamples ?? 0)) {
        doomed.push({ ulid, why: 'empty block (never shipped)' });
        continue;
      }
      if (!shipped.has(ulid)) continue;
      const key = `${tenant}/${ulid}`;
      let since = this.shippedSince.get(key);
      if (since === undefined) this.shippedSince.set(key, (since = now));
      if (rawRetention > 0 && b.meta.maxTime < now - rawRetention) {
        doomed.push({ ulid, why: 'past the bucket raw retention' });
        continue;
      }
      if (now - since < keepFor) continue;
      if (this.opts.servedByStore && !this.opts.servedByStore(tenant, ulid)) continue;
      doomed.push({ ulid, why: this.opts.servedByStore ? 'shipped, served by the store gateway, past the local retention' : 'shipped, past the local retention' });
    }
    if (doomed.length === 0) return;
    const removed = new Set(await this.opts.db.removeBlocks(tenant, doomed.map((d) => d.ulid)));
    for (const d of doomed) {
      if (!removed.has(d.ulid)) continue;
      this.shippedSince.delete(`${tenant}/${d.ulid}`);
      this.log.info('local block deleted', { tenant, block: d.ulid, reason: d.why });
    }
    this.deleted.set(tenant, (this.deleted.get(tenant) ?? 0) + removed.size);
  }

  /** Stops the loop and every shipper, waiting for a pass in progress. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.loop?.stop();
    await this.chain.catch(() => undefined);
    for (const s of this.shippers.values()) await s.stop();
  }
}

/** The long-term storage of a receiving role, with handles for shutdown and for tests. */
export interface StorageRuntime {
  /** What the HTTP app reads through. */
  fanout: FanoutStorage;
  bucket: Bucket | null;
  shipping: LocalShipping | null;
  compactor: Compactor | null;
  store: BucketStore | null;
  /** Ships every pending block, syncs the store gateway and applies the local retention, now. */
  syncNow(): Promise<void>;
  /** One compactor run (if it runs here), then a store sync and the local retention. */
  compactNow(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires the bucket, shipping, compactor and store gateway around an open TSDB for `argus all` (all of
 * them by default) and `argus receive` (shipping when a bucket is configured; compactor and store only
 * when enabled in the config). Call `onBlockWritten` from the TSDB's hook.
 */
export async function startLongTermStorage(args: {
  cfg: Config;
  values: Record<string, unknown>;
  role: string;
  /** From `bucketSettings` (resolved before the TSDB opens, so that a bad bucket file fails fast). */
  settings: BucketSettings | null;
  db: TSDB;
  logger: Logger;
  registry: Registry;
}): Promise<StorageRuntime & { onBlockWritten(): void }> {
  const { cfg, values, role, settings, db, logger, registry } = args;
  const inAll = role === 'all';
  if (settings === null) {
    logger.info('no bucket configured: blocks stay on local disk and are not shipped (set storage.bucket or --objstore.config-file)', { component: 'storage' });
    for (const [what, on] of [['compactor', cfg.compactor.enabled], ['store', cfg.store.enabled]] as const) {
      if (on) logger.warn(`${what}.enabled is set but no bucket is configured; the ${what} does not run`, { component: 'storage' });
    }
    const fanout = new FanoutStorage({ local: db });
    return { fanout, bucket: null, shipping: null, compactor: null, store: null, syncNow: async () => {}, compactNow: async () => {}, close: async () => {}, onBlockWritten: () => {} };
  }
  const bucket = openBucket(settings);
  const ship = cfg.storage.ship.enabled ?? true;
  const runStore = cfg.store.enabled ?? inAll;
  const runCompactor = cfg.compactor.enabled ?? inAll;
  logger.info('long-term storage', {
    component: 'storage',
    ...describeBucket(settings),
    shipping: ship,
    compactor: runCompactor,
    store_gateway: runStore,
    local_retention_ms: cfg.storage.tsdb.retention,
  });

  const store = runStore ? buildStore(cfg, bucket, logger, registry) : null;
  const fanout = new FanoutStorage({ local: db, ...(store ? { store } : {}), tenantLabel: TENANT_LABEL, defaultTenant: DEFAULT_TENANT });
  const storeSync = async (): Promise<void> => {
    await store?.sync();
  };
  const shipping = ship
    ? new LocalShipping({
        db,
        bucket,
        cfg,
        logger,
        registry,
        ...(store ? { servedByStore: (t: string, u: string) => fanout.servedByStore(t, u), afterUpload: storeSync } : {}),
      })
    : null;
  if (store) {
    try {
      await store.sync();
    } catch (err) {
      logger.error('first store gateway sync failed; serving local data only until a sync succeeds', { component: 'store', error: (err as Error).message });
    }
  }
  const compactor = runCompactor ? buildCompactor(cfg, bucket, logger, join(String(values['storage.tsdb.path']), 'compactor'), registry) : null;
  const afterCompaction = async (): Promise<void> => {
    try {
      await storeSync();
    } catch {
      // logged by the store; the next sync retries
    }
    await shipping?.prune();
  };
  const compactNow = async (): Promise<void> => {
    if (compactor === null) return;
    try {
      await compactor.runOnce();
    } finally {
      await afterCompaction();
    }
  };
  const syncNow = async (): Promise<void> => {
    if (shipping) await shipping.runOnce();
    else await storeSync();
  };
  const loops: { stop(): Promise<void> }[] = [];
  shipping?.start();
  if (store) {
    const syncAndPrune = async (): Promise<void> => {
      await store.sync().catch(() => undefined); // logged by the store
      await shipping?.prune();
    };
    loops.push(every(cfg.store.sync_interval, syncAndPrune, { later: true }));
  }
  if (compactor) loops.push(every(cfg.compactor.interval, compactNow));
  return {
    fanout,
    bucket,
    shipping,
    compactor,
    store,
    syncNow,
    compactNow,
    onBlockWritten: () => shipping?.kick(),
    async close() {
      await compactor?.stop();
      for (const l of loops) await l.stop();
      await shipping?.stop();
      await store?.close();
      await bucket.close();
    },
  };
}
