/**
 * `meta.json`: a block's identity, time range (maxTime exclusive), stats and compaction history, as
 * Prometheus writes it (tab-indented, zero stats omitted), plus the optional `thanos` section that
 * Thanos-style buckets carry.
 */
import { isUlid } from './ulid.js';

export const META_VERSION = 1;
export const META_FILENAME = 'meta.json';

export interface BlockStats {
  numSamples?: number;
  numSeries?: number;
  numChunks?: number;
  numTombstones?: number;
}

export interface BlockDesc {
  ulid: string;
  minTime: number;
  maxTime: number;
}

export interface BlockCompaction {
  level: number;
  sources?: string[];
  deletable?: boolean;
  parents?: BlockDesc[];
  failed?: boolean;
  hints?: string[];
}

/** The Thanos section: external labels, downsampling resolution, who made the block, and more. */
export interface ThanosMeta {
  labels?: Record<string, string>;
  downsample?: { resolution: number };
  source?: string;
  [key: string]: unknown;
}

export interface BlockMeta {
  ulid: string;
  /** Inclusive, milliseconds. */
  minTime: number;
  /** Exclusive, milliseconds. */
  maxTime: number;
  stats: BlockStats;
  compaction: BlockCompaction;
  version: number;
  thanos?: ThanosMeta;
}

/** The JSON text, field order and omissions as Prometheus's encoder produces them. */
export function encodeMeta(meta: BlockMeta): string {
  const stats: BlockStats = {};
  // Go's `omitempty` drops zero counts.
  if (meta.stats.numSamples) stats.numSamples = meta.stats.numSamples;
  if (meta.stats.numSeries) stats.numSeries = meta.stats.numSeries;
  if (meta.stats.numChunks) stats.numChunks = meta.stats.numChunks;
  if (meta.stats.numTombstones) stats.numTombstones = meta.stats.numTombstones;
  const c = meta.compaction;
  const compaction: BlockCompaction = { level: c.level };
  if (c.sources && c.sources.length > 0) compaction.sources = c.sources;
  if (c.deletable) compaction.deletable = true;
  if (c.parents && c.parents.length > 0) {
    compaction.parents = c.parents.map((p) => ({ ulid: p.ulid, minTime: p.minTime, maxTime: p.maxTime }));
  }
  if (c.failed) compaction.failed = true;
  if (c.hints && c.hints.length > 0) compaction.hints = c.hints;
  const out: Record<string, unknown> = {
    ulid: meta.ulid,
    minTime: meta.minTime,
    maxTime: meta.maxTime,
  };
  if (Object.keys(stats).length > 0) out.stats = stats;
  out.compaction = compaction;
  out.version = meta.version;
  if (meta.thanos !== undefined) out.thanos = meta.thanos;
  return JSON.stringify(out, null, '\t');
}

/** Parses JSON text that must be an object (meta.json, thanos.shipper.json); errors name `file`. */
export function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  return raw as Record<string, unknown>;
}

/** Parses and validates `meta.json` text; errors name `file`. */
export function decodeMeta(text: string, file = META_FILENAME): BlockMeta {
  const m = parseJsonObject(text, file);
  const bad = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (m.version !== META_VERSION) bad(`unsupported meta version ${JSON.stringify(m.version)} (want ${META_VERSION})`);
  if (typeof m.ulid !== 'string' || !isUlid(m.ulid)) bad(`invalid ulid ${JSON.stringify(m.ulid)}`);
  const int = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return bad(`${what} must be an integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const minTime = int(m.minTime, 'minTime');
  const maxTime = int(m.maxTime, 'maxTime');
  if (maxTime < minTime) bad(`maxTime ${maxTime} is before minTime ${minTime}`);
  const stats: BlockStats = {};
  if (m.stats !== undefined) {
    if (typeof m.stats !== 'object' || m.stats === null) bad('stats must be an object');
    const s = m.stats as Record<string, unknown>;
    for (const k of ['numSamples', 'numSeries', 'numChunks', 'numTombstones'] as const) {
      if (s[k] !== undefined) stats[k] = int(s[k], `stats.${k}`);
    }
  }
  if (typeof m.compaction !== 'object' || m.compaction === null) bad('compaction must be an object');
  const c = m.compaction as Record<string, unknown>;
  const compaction: BlockCompaction = { level: c.level === undefined ? 0 : int(c.level, 'compaction.level') };
  if (c.sources !== undefined) {
    if (!Array.isArray(c.sources) || !c.sources.every((x) => typeof x === 'string')) bad('compaction.sources must be strings');
    compaction.sources = c.sources as string[];
  }
  if (c.deletable === true) compaction.deletable = true;
  if (c.failed === true) compaction.failed = true;
  if (Array.isArray(c.parents)) {
    compaction.parents = c.parents.map((p: unknown, i: number) => {
      const o = (p ?? {}) as Record<string, unknown>;
      return {
        ulid: String(o.ulid),
        minTime: int(o.minTime, `compaction.parents[${i}].minTime`),
        maxTime: int(o.maxTime, `compaction.parents[${i}].maxTime`),
      };
    });
  }
  if (Array.isArray(c.hints)) compaction.hints = c.hints.map(String);
  const meta: BlockMeta = { ulid: (m.ulid as string).toUpperCase(), minTime, maxTime, stats, compaction, version: META_VERSION };
  if (m.thanos !== undefined) {
    if (typeof m.thanos !== 'object' || m.thanos === null || Array.isArray(m.thanos)) bad('thanos must be an object');
    meta.thanos = m.thanos as ThanosMeta;
  }
  return meta;
}
