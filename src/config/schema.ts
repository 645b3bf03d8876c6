/**
 * The Argus configuration file (`--config.file`, YAML). Every key has a default, so an empty file (or
 * none) runs the embedded single-node setup. Names follow Mimir where the concept is Mimir's (limits,
 * HA tracker) so that operators can carry their settings over.
 */
import { z } from 'zod';
import { parseDuration } from '../model/duration.js';

/** A Prometheus duration string (`30s`, `1h30m`) parsed to milliseconds. */
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === 'number') return v * 1000; // plain numbers are seconds, as in Mimir's YAML
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
/** A byte size: a number of bytes or `64MiB`-style text. */
const bytes = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(v.trim());
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a byte size: ${JSON.stringify(v)} (use e.g. 104857600 or 100MiB)` });
    return z.NEVER;
  }
  return Math.round(Number(m[1]) * unit);
});

const nonNegInt = z.number().int().nonnegative();

/** Per-tenant limits: `limits` holds the defaults, `overrides.<tenant>` replaces individual keys. */
export const limitsSchema = z
  .object({
    ingestion_rate: z.number().nonnegative().default(0),
    ingestion_burst_size: nonNegInt.default(0),
    max_global_series_per_user: nonNegInt.default(0),
    max_label_names_per_series: nonNegInt.default(30),
    max_label_name_length: nonNegInt.default(1024),
    max_label_value_length: nonNegInt.default(2048),
    out_of_order_time_window: duration.default(0),
    creation_grace_period: duration.default(600_000),
    reject_old_samples: z.boolean().default(false),
    reject_old_samples_max_age: duration.default(14 * 86_400_000),
    accept_ha_samples: z.boolean().default(true),
    ha_cluster_label: z.string().min(1).default('cluster'),
    ha_replica_label: z.string().min(1).default('__replica__'),
    ha_max_clusters: nonNegInt.default(100),
  })
  .strict();

export type Limits = z.infer<typeof limitsSchema>;

const etcdSchema = z
  .object({
    endpoints: z.array(z.string().min(1)).min(1),
    dial_timeout: duration.default(1000),
    request_timeout: duration.default(2000),
    username: z.string().default(''),
    password: z.string().default(''),
  })
  .strict();

const haTrackerSchema = z
  .object({
    kvstore: z
      .object({
        store: z.enum(['memory', 'etcd']).default('memory'),
        prefix: z.string().default('ha-tracker/'),
        etcd: etcdSchema.optional(),
      })
      .strict()
      .prefault({}),
    update_timeout: duration.default(15_000),
    update_timeout_jitter_max: duration.default(5_000),
    failover_timeout: duration.default(30_000),
    /** Gapless failover: how much of the standby replicas' recent data to keep beyond the failover timeout. */
    standby_buffer_extra: duration.default(60_000),
    /** Upper bound on buffered standby samples per tenant; samples past it are not buffered (counted). */
    standby_buffer_max_samples: nonNegInt.default(5_000_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.kvstore.store === 'etcd' && !v.kvstore.etcd) {
      ctx.addIssue({ code: 'custom', path: ['kvstore', 'etcd'], message: 'store is "etcd" but no etcd.endpoints are configured' });
    }
    if (v.failover_timeout < v.update_timeout + v.update_timeout_jitter_max + 1000) {
      ctx.addIssue({
        code: 'custom',
        path: ['failover_timeout'],
        message: `must be at least update_timeout + update_timeout_jitter_max + 1s (${v.update_timeout + v.update_timeout_jitter_max + 1000}ms), got ${v.failover_timeout}ms`,
      });
    }
  });

/** Label names as Prometheus allows them (external labels end up as block labels in the bucket). */
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The block label that names a block's tenant, as Thanos receive sets it (`--receive.tenant-label-name`). */
export const TENANT_LABEL = 'tenant_id';

const nonEmpty = (what: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).min(1, `${what} must not be empty`);

/**
 * `storage.bucket`: where blocks go. Field names as in Thanos's objstore config (`type: s3` takes the
 * fields of Thanos's S3 `config:` section that Argus implements; unset credentials come from AWS_*).
 */
export const bucketSchema = z.discriminatedUnion(
  'type',
  [
    z
      .object({
        type: z.literal('filesystem'),
        /** Default: `<storage.tsdb.path>/bucket`. */
        directory: nonEmpty('directory').optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal('s3'),
        bucket: nonEmpty('bucket'),
        endpoint: nonEmpty('endpoint').optional(),
        region: nonEmpty('region').optional(),
        force_path_style: z.boolean().optional(),
        access_key: nonEmpty('access_key').optional(),
        secret_key: nonEmpty('secret_key').optional(),
        insecure: z.boolean().optional(),
      })
      .strict(),
  ],
  { error: (iss) => (iss.code === 'invalid_union' ? 'type must be "filesystem" or "s3"' : undefined) },
);

export type BucketSettings = z.infer<typeof bucketSchema>;

const shipSchema = z
  .object({
    /** Default: on when a bucket is configured (always in `argus all`). */
    enabled: z.boolean().optional(),
    /** How often local blocks are checked for shipping (new blocks are shipped at once as well). */
    interval: duration.default(30_000),
    /** Labels put in each shipped block's `thanos.labels`, besides `tenant_id: <tenant>`. */
    external_labels: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.interval <= 0) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'must be positive' });
    for (const name of Object.keys(v.external_labels)) {
      if (!LABEL_NAME_RE.test(name)) ctx.addIssue({ code: 'custom', path: ['external_labels', name], message: `${JSON.stringify(name)} is not a valid label name` });
      else if (name === TENANT_LABEL) {
        ctx.addIssue({ code: 'custom', path: ['external_labels', name], message: `"${TENANT_LABEL}" is set per tenant by Argus and cannot be configured` });
      }
    }
  });

const compactorSchema = z
  .object({
    /** Default: on in `argus all` and `argus compact`. */
    enabled: z.boolean().optional(),
    /**
     * Compaction levels, each a multiple of the previous. Default: the block range times 1, 4 and 24
     * (2h, 8h, 2d for the default 2h block range).
     */
    block_ranges: z.array(duration).min(1, 'needs at least one range').optional(),
    /** Retention per resolution (0 keeps blocks forever), as Thanos's --retention.resolution-* flags. */
    retention: z
      .object({
        raw: duration.default(0),
        '5m': duration.default(0),
        '1h': duration.default(0),
      })
      .strict()
      .prefault({}),
    /** Time between marking a block for deletion and deleting it, so readers can let go (Thanos: 48h). */
    delete_delay: duration.default(48 * 3_600_000),
    /** Folders without meta.json younger than this are taken for uploads in progress (Thanos: 30m). */
    consistency_delay: duration.default(30 * 60_000),
    /** Time between the end of one compaction run and the start of the next. */
    interval: duration.default(5 * 60_000),
    downsampling: z
      .object({
        enabled: z.boolean().default(true),
        /** Raw blocks spanning at least this long get a 5m version (Thanos: 40h). */
        raw_to_5m_after: duration.default(40 * 3_600_000),
        /** 5m blocks spanning at least this long get a 1h version (Thanos: 10d). */
        '5m_to_1h_after': duration.default(10 * 86_400_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((v, ctx) => {
    const r = v.block_ranges ?? [];
    for (let i = 0; i < r.length; i++) {
      if (!(r[i]! > 0)) ctx.addIssue({ code: 'custom', path: ['block_ranges', i], message: 'must be positive' });
      else if (i > 0 && r[i]! % r[i - 1]! !== 0) {
        ctx.addIssue({ code: 'custom', path: ['block_ranges', i], message: `${r[i]}ms is not a multiple of the previous range ${r[i - 1]}ms` });
      }
    }
    if (v.interval <= 0) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'must be positive' });
  });

const storeSchema = z
  .object({
    /** Default: on in `argus all` and `argus store`. */
    enabled: z.boolean().optional(),
    /** Memory budget of the cache of postings, series and chunks read from the bucket (0 disables it). */
    cache_bytes: bytes.default(256 * 1024 * 1024),
    /** Chunk bytes one query may hold in flight across all blocks it reads. */
    fetch_budget_bytes: bytes.default(32 * 1024 * 1024),
    /** How often the block list is synced with the bucket (Argus's own uploads and compactions sync at once). */
    sync_interval: duration.default(60_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.sync_interval <= 0) ctx.addIssue({ code: 'custom', path: ['sync_interval'], message: 'must be positive' });
    if (v.fetch_budget_bytes <= 0) ctx.addIssue({ code: 'custom', path: ['fetch_budget_bytes'], message: 'must be positive' });
  });

export const configSchema = z
  .object({
    receive: z
      .object({
        max_recv_msg_size: bytes.default(100 * 1024 * 1024),
        max_decompressed_size: bytes.default(256 * 1024 * 1024),
        ha_tracker: haTrackerSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    limits: limitsSchema.prefault({}),
    /** Per-tenant overrides of `limits` keys (validated against the limits schema when loaded). */
    overrides: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /**
     * Query-time replica deduplication (Thanos Query's `--query.replica-label`). `replica_labels` defaults to
     * the HA tracker's replica label (`limits.ha_replica_label`, `__replica__` unless changed): the label
     * Argus's own agents and Mimir-style HA pairs put on each replica. Ordinary names such as `replica` are
     * not assumed, since merging series that only look like replicas would silently hide data; Thanos
     * likewise dedups on no label until told. `dedup` is what a request without a `dedup` parameter gets.
     */
    query: z
      .object({
        replica_labels: z.array(z.string().min(1, 'replica label names must not be empty')).optional(),
        dedup: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        tsdb: z
          .object({
            block_range: duration.default(2 * 3_600_000),
            wal_segment_size: bytes.default(128 * 1024 * 1024),
            /**
             * How long a local block stays after it was shipped (counted from when this process saw it in
             * the bucket). In `argus all` a block also waits until the store gateway serves it, so queries
             * never lose it; 0 deletes it as soon as that is so. Without shipping, local blocks are kept.
             */
            retention: duration.default(6 * 3_600_000),
          })
          .strict()
          .prefault({}),
        /** The object store blocks are shipped to (default in `argus all`: `<storage.tsdb.path>/bucket`). */
        bucket: bucketSchema.optional(),
        ship: shipSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    compactor: compactorSchema.prefault({}),
    store: storeSchema.prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type HATrackerConfig = Config['receive']['ha_tracker'];
export type CompactorConfig = Config['compactor'];
export type StoreConfig = Config['store'];

/** The compaction levels: configured, or the block range times 1, 4 and 24 (2h, 8h, 2d by default). */
export function compactorRanges(cfg: Config): number[] {
  const r = cfg.storage.tsdb.block_range;
  return cfg.compactor.block_ranges ?? [r, 4 * r, 24 * r];
}

/** The replica labels query-time dedup uses (see `query.replica_labels`); an empty list turns it off. */
export function queryReplicaLabels(cfg: Config): string[] {
  return [...new Set(cfg.query.replica_labels ?? [cfg.limits.ha_replica_label])];
}
