/** Command-line flags, named like Prometheus's and Thanos's. Bad flags exit with code 2. */
import { parseArgs } from 'node:util';
import type { LogLevel } from '../util/log.js';

export interface FlagSpec {
  name: string;
  help: string;
  default?: string;
  boolean?: boolean;
}

/** The bucket, as Thanos's components take it. */
export const OBJSTORE_FLAG: FlagSpec = {
  name: 'objstore.config-file',
  help: "Bucket configuration in Thanos's objstore format (type: FILESYSTEM|S3, config: {...}); replaces storage.bucket of --config.file.",
};

export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'storage.tsdb.path', help: 'Base path for the WAL and head data of every tenant.', default: './data' },
  { name: 'config.file', help: 'Argus configuration file (YAML): limits, overrides, HA tracker, storage. Optional.' },
  { name: 'log.level', help: 'Only log messages with the given severity or above: debug, info, warn, error.', default: 'info' },
  OBJSTORE_FLAG,
];

/**
 * Compactor flags under Thanos's names (`thanos compact`), plus `--retention` as a Prometheus-style
 * shorthand for every resolution. Each overrides its key in --config.file's `compactor` section; none has
 * a default here, so that the config file's value stands when the flag is absent.
 */
export const COMPACT_FLAGS: FlagSpec[] = [
  { name: 'retention', help: 'Retention of blocks in the bucket for every resolution (e.g. 90d; 0 = forever). The resolution flags below override it. Config: compactor.retention.' },
  { name: 'retention.resolution-raw', help: 'Retention of raw blocks in the bucket (0 = forever). Default: 0.' },
  { name: 'retention.resolution-5m', help: 'Retention of 5m-downsampled blocks (0 = forever). Default: 0.' },
  { name: 'retention.resolution-1h', help: 'Retention of 1h-downsampled blocks (0 = forever). Default: 0.' },
  { name: 'delete-delay', help: 'Time between marking a block for deletion and deleting it, so store gateways can let go. Default: 48h.' },
  { name: 'downsampling.disable', help: 'Do not downsample blocks (5m and 1h resolutions).', boolean: true },
  { name: 'compact.block-ranges', help: 'Compaction levels, comma-separated, each a multiple of the previous. Default: the block range x1, x4, x24 (2h,8h,2d).' },
  { name: 'wait-interval', help: 'Time between the end of one compaction run and the start of the next. Default: 5m.' },
];

/** Store gateway flags (`thanos store` names where Thanos has one). */
export const STORE_FLAGS: FlagSpec[] = [
  { name: 'store.cache-size', help: 'Memory budget of the cache of postings, series and chunks read from the bucket (e.g. 256MiB; 0 disables it). Default: 256MiB.' },
  { name: 'sync-block-duration', help: 'How often the store gateway syncs its block list with the bucket. Default: 1m.' },
];

export interface Role {
  name: string;
  summary: string;
  flags: FlagSpec[];
}

export class UsageError extends Error {}

export function parseFlags(role: Role, argv: string[]): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = { help: { type: 'boolean' } };
  for (const f of role.flags) options[f.name] = f.boolean ? { type: 'boolean' } : { type: 'string', ...(f.default !== undefined ? { default: f.default } : {}) };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError(`argus ${role.name}: ${(err as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
  const level = values['log.level'];
  if (level !== undefined && !['debug', 'info', 'warn', 'error'].includes(String(level))) {
    throw new UsageError(`argus ${role.name}: --log.level must be one of debug, info, warn, error; got ${JSON.stringify(level)}`);
  }
  const addr = values['web.listen-address'];
  if (typeof addr === 'string') parseListenAddress(addr);
  return values;
}

export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--web.listen-address must be host:port (e.g. 0.0.0.0:9090), got ${JSON.stringify(addr)}`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function logLevel(values: Record<string, unknown>): LogLevel {
  return (values['log.level'] as LogLevel | undefined) ?? 'info';
}

export function roleHelp(role: Role): string {
  const lines = [`usage: argus ${role.name} [flags]`, '', role.summary, '', 'Flags:'];
  for (const f of role.flags) {
    const dflt = f.default !== undefined ? ` (default: ${JSON.stringify(f.default)})` : '';
    lines.push(`  --${f.name}${f.boolean ? '' : '=VALUE'}`, `      ${f.help}${dflt}`);
  }
  lines.push('  --help', '      Show this help.');
  return lines.join('\n') + '\n';
}
