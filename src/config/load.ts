/** Loads and validates the YAML configuration; errors name the offending key path. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { configSchema, limitsSchema, type Config, type Limits } from './schema.js';

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
