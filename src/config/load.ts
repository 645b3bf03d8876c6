/** Loads and validates the YAML configuration; errors name the offending key path. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { bucketSchema, configSchema, limitsSchema, type BucketSettings, type Config, type Limits } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseConfig(text: string, source = 'config'): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const res = configSchema.safeParse(raw);
  if (!res.success) throw new ConfigError(`${source}: ${formatIssues(res.error.issues, [])}`);
  for (const [tenant, o] of Object.entries(res.data.overrides)) {
    const merged = limitsSchema.safeParse({ ...(raw as { limits?: object }).limits, ...o });
    if (!merged.success) throw new ConfigError(`${source}: ${formatIssues(merged.error.issues, ['overrides', tenant])}`);
  }
  return res.data;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

function formatIssues(issues: readonly Issue[], prefix: string[]): string {
  return issues
    .map((i) => {
      const path = [...prefix, ...i.path.map(String)].join('.');
      const keys = i.code === 'unrecognized_keys' ? ` ${(i.keys ?? []).map((k) => (path ? `${path}.${k}` : k)).join(', ')}` : '';
      return i.code === 'unrecognized_keys' ? `unknown key${keys}` : `${path || '(top level)'}: ${i.message}`;
    })
    .join('; ');
}

export async function loadConfig(path: string | undefined): Promise<Config> {
  if (!path) return parseConfig('');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

/** The effective limits of a tenant: defaults with that tenant's overrides applied. */
export function limitsFor(cfg: Config, tenant: string): Limits {
  const o = cfg.overrides[tenant];
  if (!o) return cfg.limits;
  // Overrides hold raw YAML values (durations as text), so re-parse them over the parsed defaults' raw form.
  const parsed = limitsSchema.partial().parse(o) as Partial<Limits>;
  const picked = Object.fromEntries(Object.keys(o).map((k) => [k, parsed[k as keyof Limits]]));
  return { ...cfg.limits, ...picked } as Limits;
}

/** What a tenant's head needs from the config (structurally the TSDB's HeadOptions). */
export function headLimitsFor(cfg: Config, tenant: string): { outOfOrderWindowMs: number; maxSeries: number; chunkRangeMs: number } {
  const l = limitsFor(cfg, tenant);
  return { outOfOrderWindowMs: l.out_of_order_time_window, maxSeries: l.max_global_series_per_user, chunkRangeMs: cfg.storage.tsdb.block_range };
}

/** S3 fields of Thanos's objstore config that Argus implements (others are refused, not ignored). */
const THANOS_S3_FIELDS = ['bucket', 'endpoint', 'region', 'access_key', 'secret_key', 'insecure', 'bucket_lookup_type', 'force_path_style'];

/**
 * Parses a bucket config file in Thanos's objstore shape (`--objstore.config-file`):
 *
 *   type: FILESYSTEM | S3        (any case)
 *   config: { directory: ... } | { bucket, endpoint, region, access_key, secret_key, insecure, bucket_lookup_type }
 *   prefix: ""                   (only the bucket root is supported)
 *
 * Thanos's `bucket_lookup_type` (auto | virtual-hosted | path) becomes `force_path_style`. Fields Argus does
 * not implement (sse_config, http_config, …) are errors naming them, so a setting is never silently dropped.
 */
export function parseObjstoreConfig(text: string, source = 'objstore config'): BucketSettings {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${source}: expected a mapping with "type" and "config"`);
  const top = raw as Record<string, unknown>;
  const extra = Object.keys(top).filter((k) => !['type', 'config', 'prefix'].includes(k));
  if (extra.length > 0) throw new ConfigError(`${source}: unknown key ${extra.join(', ')} (want type, config)`);
  if (top.prefix !== undefined && top.prefix !== '') throw new ConfigError(`${source}: prefix: only the bucket root is supported (got ${JSON.stringify(top.prefix)})`);
  const type = typeof top.type === 'string' ? top.type.toLowerCase() : undefined;
  const conf = top.config ?? {};
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new ConfigError(`${source}: config: expected a mapping`);
  const c = { ...(conf as Record<string, unknown>) };
  let candidate: Record<string, unknown>;
  if (type === 'filesystem') {
    candidate = { type, ...c };
  } else if (type === 's3') {
    const unknown = Object.keys(c).filter((k) => !THANOS_S3_FIELDS.includes(k));
    if (unknown.length > 0) {
      throw new ConfigError(`${source}: config: ${unknown.join(', ')} not supported by Argus's S3 bucket (supported: ${THANOS_S3_FIELDS.join(', ')})`);
    }
    const lookup = c.bucket_lookup_type;
    delete c.bucket_lookup_type;
    if (lookup !== undefined) {
      if (lookup === 'path') c.force_path_style = true;
      else if (lookup === 'virtual-hosted') c.force_path_style = false;
      else if (lookup !== 'auto') throw new ConfigError(`${source}: config.bucket_lookup_type: must be auto, virtual-hosted or path (got ${JSON.stringify(lookup)})`);
    }
    candidate = { type, ...c };
  } else {
    throw new ConfigError(`${source}: type: must be FILESYSTEM or S3 (got ${JSON.stringify(top.type)})`);
  }
  const res = bucketSchema.safeParse(candidate);
  if (!res.success) throw new ConfigError(`${source}: ${formatIssues(res.error.issues, ['config']).replace(/config\.type: /, 'type: ')}`);
  return res.data;
}

export async function loadObjstoreConfig(path: string): Promise<BucketSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read objstore config file ${path}: ${(err as Error).message}`);
  }
  return parseObjstoreConfig(text, path);
}
