/** Command-line flags, named like Prometheus's and Thanos's. Bad flags exit with code 2. */
import { parseArgs } from 'node:util';
import type { LogLevel } from '../util/log.js';

export interface FlagSpec {
  name: string;
  help: string;
  default?: string;
  boolean?: boolean;
}

export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'storage.tsdb.path', help: 'Base path for the WAL and head data of every tenant.', default: './data' },
  { name: 'config.file', help: 'Argus configuration file (YAML): limits, overrides, HA tracker, storage. Optional.' },
  { name: 'log.level', help: 'Only log messages with the given severity or above: debug, info, warn, error.', default: 'info' },
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
