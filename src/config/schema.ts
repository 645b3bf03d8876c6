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
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type HATrackerConfig = Config['receive']['ha_tracker'];

/** The replica labels query-time dedup uses (see `query.replica_labels`); an empty list turns it off. */
export function queryReplicaLabels(cfg: Config): string[] {
  return [...new Set(cfg.query.replica_labels ?? [cfg.limits.ha_replica_label])];
}
