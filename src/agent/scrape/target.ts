/**
 * Scrape targets: how a discovered target becomes a labelled, addressable target (Prometheus's
 * PopulateLabels), its scrape URL, its identity and scrape-time offset, and its health as the API shows it.
 *
 * Label population, in order: the target's own labels, then its group's labels where the target has none,
 * then `job`, `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`, `__scheme__` and the first
 * value of each `params` entry as `__param_<name>` where still unset. Those are the "discovered labels".
 * relabel_configs then run; a dropped target is kept only for the API. A kept one needs an `__address__`
 * without '/', valid interval/timeout labels; `__meta_*` labels go, and `instance` defaults to the address.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { ScrapeConfig } from '../../config/prometheus-types.js';
import { parseDuration } from '../../model/duration.js';
import { EMPTY_LABELS, getLabel, labelsFromObject, labelsToObject, labelsToString, type Labels } from '../../model/labels.js';
import { isValidLabelValue, relabel } from '../relabel.js';
import type { TargetGroup } from '../discovery/targetgroup.js';

export const JOB_LABEL = 'job';
export const INSTANCE_LABEL = 'instance';
export const ADDRESS_LABEL = '__address__';
export const SCHEME_LABEL = '__scheme__';
export const METRICS_PATH_LABEL = '__metrics_path__';
export const SCRAPE_INTERVAL_LABEL = '__scrape_interval__';
export const SCRAPE_TIMEOUT_LABEL = '__scrape_timeout__';
export const PARAM_LABEL_PREFIX = '__param_';
export const META_LABEL_PREFIX = '__meta_';
export const RESERVED_LABEL_PREFIX = '__';

export type TargetHealth = 'up' | 'down' | 'unknown';

// ---------------------------------------------------------------------------------------------------
// Durations and URLs written as Go writes them (the values end up in labels and the API)

const DURATION_UNITS: readonly [string, number, boolean][] = [
  ['y', 365 * 86_400_000, true],
  ['w', 7 * 86_400_000, true],
  ['d', 86_400_000, false],
  ['h', 3_600_000, false],
  ['m', 60_000, false],
  ['s', 1000, false],
  ['ms', 1, false],
];

/**
 * A duration as Prometheus's model.Duration prints it: largest units first, but years and weeks only when
 * they divide the whole duration (`90d`, not `12w6d`).
 */
export function formatPromDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.trunc(ms);
  let out = '';
  for (const [unit, size, exact] of DURATION_UNITS) {
    if (exact && rest % size !== 0) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const HEX = '0123456789ABCDEF';
const UNRESERVED = /[A-Za-z0-9\-_.~]/;
const PATH_KEEP = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

function escapeBytes(s: string, keep: RegExp, spaceAsPlus: boolean): string {
  let out = '';
  for (const ch of s) {
    if (ch.length === 1 && keep.test(ch)) out += ch;
    else if (ch === ' ' && spaceAsPlus) out += '+';
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** Go's url.QueryEscape. */
export function goQueryEscape(s: string): string {
  return escapeBytes(s, UNRESERVED, true);
}

/** Go's escaping of a URL path (url.URL.EscapedPath for a path without a raw form). */
export function goPathEscape(s: string): string {
  return escapeBytes(s, PATH_KEEP, false);
}

/** Go's url.Values.Encode: keys sorted, every value of a key in order. */
export function encodeQuery(params: ReadonlyMap<string, readonly string[]>): string {
  const parts: string[] = [];
  for (const k of [...params.keys()].sort()) {
    const ek = goQueryEscape(k);
    for (const v of params.get(k)!) parts.push(`${ek}=${goQueryEscape(v)}`);
  }
  return parts.join('&');
}

/** The scrape URL of a target: scheme, address and path from its labels; query from `params` and `__param_*`. */
export function targetUrl(labels: Labels, params: Readonly<Record<string, readonly string[]>>): string {
  const q = new Map<string, string[]>();
  for (const [k, v] of Object.entries(params)) q.set(k, [...v]);
  for (let i = 0; i < labels.length; i += 2) {
    const name = labels[i]!;
    if (!name.startsWith(PARAM_LABEL_PREFIX)) continue;
    const key = name.slice(PARAM_LABEL_PREFIX.length);
    const vs = q.get(key);
    if (vs !== undefined && vs.length > 0) vs[0] = labels[i + 1]!;
    else q.set(key, [labels[i + 1]!]);
  }
  let path = getLabel(labels, METRICS_PATH_LABEL);
  const host = getLabel(labels, ADDRESS_LABEL);
  if (path !== '' && !path.startsWith('/') && host !== '') path = '/' + path;
  const query = encodeQuery(q);
  return `${getLabel(labels, SCHEME_LABEL)}://${host}${goPathEscape(path)}${query !== '' ? '?' + query : ''}`;
}

// ---------------------------------------------------------------------------------------------------
// Label population

export interface PopulatedTarget {
  /** The labels after relabeling (reserved `__` labels included, `__meta_*` removed); null when dropped. */
  readonly labels: Labels | null;
  /** The labels before relabeling. */
  readonly discovered: Labels;
}

/** Prometheus's PopulateLabels; throws an Error saying why the target is unusable. */
export function populateLabels(cfg: ScrapeConfig, targetLabels: Labels, groupLabels: Labels): PopulatedTarget {
  const lb: Record<string, string> = Object.create(null);
  for (let i = 0; i < groupLabels.length; i += 2) lb[groupLabels[i]!] = groupLabels[i + 1]!;
  for (let i = 0; i < targetLabels.length; i += 2) lb[targetLabels[i]!] = targetLabels[i + 1]!;
  const defaults: [string, string][] = [
    [JOB_LABEL, cfg.job_name],
    [SCRAPE_INTERVAL_LABEL, formatPromDuration(cfg.scrape_interval)],
    [SCRAPE_TIMEOUT_LABEL, formatPromDuration(cfg.scrape_timeout)],
    [METRICS_PATH_LABEL, cfg.metrics_path],
    [SCHEME_LABEL, cfg.scheme],
  ];
  for (const [n, v] of defaults) if (!lb[n]) lb[n] = v;
  for (const [k, vs] of Object.entries(cfg.params)) {
    const name = PARAM_LABEL_PREFIX + k;
    if (vs.length > 0 && !lb[name]) lb[name] = vs[0]!;
  }
  const discovered = labelsFromObject(lb);
  const res = relabel(discovered, cfg.relabel_configs);
  if (res === null) return { labels: null, discovered };

  const addr = getLabel(res, ADDRESS_LABEL);
  if (addr === '') throw new Error('no address');
  if (addr.includes('/')) throw new Error(`${JSON.stringify(addr)} is not a valid hostname`);
  const interval = getLabel(res, SCRAPE_INTERVAL_LABEL);
  const intervalMs = parseLabelDuration(interval, 'scrape interval');
  if (intervalMs === 0) throw new Error('scrape interval cannot be 0');
  const timeout = getLabel(res, SCRAPE_TIMEOUT_LABEL);
  const timeoutMs = parseLabelDuration(timeout, 'scrape timeout');
  if (timeoutMs === 0) throw new Error('scrape timeout cannot be 0');
  if (timeoutMs > intervalMs) throw new Error(`scrape timeout cannot be greater than scrape interval (${JSON.stringify(timeout)} > ${JSON.stringify(interval)})`);

  const out = labelsToObject(res);
  for (const n of Object.keys(out)) if (n.startsWith(META_LABEL_PREFIX)) delete out[n];
  if (!out[INSTANCE_LABEL]) out[INSTANCE_LABEL] = addr;
  for (const [n, v] of Object.entries(out)) {
    if (!isValidLabelValue(v)) throw new Error(`invalid label value for ${JSON.stringify(n)}: ${JSON.stringify(v)}`);
  }
  return { labels: labelsFromObject(out), discovered };
}

function parseLabelDuration(v: string, what: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new Error(`error parsing ${what}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Targets

/** The labels of a target that are attached to its series: those not starting with `__`. */
export function publicLabels(ls: Labels): Labels {
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) if (!ls[i]!.startsWith(RESERVED_LABEL_PREFIX)) out.push(ls[i]!, ls[i + 1]!);
  return Object.freeze(out);
}

/** 64-bit FNV-1a; used for the scrape offset, which must be stable across restarts. */
export function fnv64a(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/**
 * The per-process seed mixed into every target's offset, as Prometheus's: the host name and the external
 * labels, so two HA replicas (which differ at least in their replica label) scrape at different moments.
 */
export function offsetSeed(externalLabels: Labels, host: string = hostname()): bigint {
  return fnv64a(host + labelsToString(externalLabels));
}

/**
 * Milliseconds from `now` to the target's first scrape: a fixed phase within the interval derived from
 * the target's hash and the seed, pinned to absolute time so it survives restarts and reloads.
 */
export function scrapeOffset(now: number, intervalMs: number, hash: bigint, seed: bigint): number {
  const interval = Math.max(1, Math.trunc(intervalMs));
  const phase = Number((hash ^ seed) % BigInt(interval));
  const base = interval - (Math.floor(now) % interval);
  let next = base + phase;
  if (next > interval) next -= interval;
  return next;
}

export class Target {
  /** Labels after relabeling, reserved ones included. */
  readonly labels: Labels;
  /** Labels before relabeling (what discovery found, with the job's defaults). */
  discoveredLabels: Labels;
  /** The labels every scraped series gets. */
  readonly publicLabels: Labels;
  readonly url: string;
  /** Identity within a pool: the same labels and URL are the same target. */
  readonly key: string;
  readonly hash: bigint;
  readonly intervalMs: number;
  readonly timeoutMs: number;

  health: TargetHealth = 'unknown';
  lastError = '';
  /** Wall-clock start of the last scrape in milliseconds (fractional), 0 before the first. */
  lastScrape = 0;
  lastScrapeDurationMs = 0;

  constructor(labels: Labels, discovered: Labels, params: Readonly<Record<string, readonly string[]>>) {
    this.labels = labels;
    this.discoveredLabels = discovered;
    this.publicLabels = publicLabels(labels);
    this.url = targetUrl(labels, params);
    this.key = labels.join('\xff') + '\xfe' + this.url;
    this.hash = fnv64a(this.key);
    this.intervalMs = parseDuration(getLabel(labels, SCRAPE_INTERVAL_LABEL));
    this.timeoutMs = parseDuration(getLabel(labels, SCRAPE_TIMEOUT_LABEL));
  }

  get scrapeInterval(): string {
    return getLabel(this.labels, SCRAPE_INTERVAL_LABEL);
  }
  get scrapeTimeout(): string {
    return getLabel(this.labels, SCRAPE_TIMEOUT_LABEL);
  }

  report(start: number, durationMs: number, err: string | null): void {
    this.health = err === null ? 'up' : 'down';
    this.lastError = err ?? '';
    this.lastScrape = start;
    this.lastScrapeDurationMs = durationMs;
  }
}

export interface TargetsFromGroups {
  readonly targets: Target[];
  /** Discovered labels of the targets relabeling dropped. */
  readonly dropped: Labels[];
  /** "instance 0 in group 0: no address"-style messages for unusable targets. */
  readonly failures: string[];
}

/** Builds the targets of a job from its groups, as Prometheus's TargetsFromGroup (no traffic is sent). */
export function targetsFromGroups(cfg: ScrapeConfig, groups: readonly TargetGroup[]): TargetsFromGroups {
  const targets: Target[] = [];
  const dropped: Labels[] = [];
  const failures: string[] = [];
  for (const g of groups) {
    g.targets.forEach((tl, i) => {
      try {
        const p = populateLabels(cfg, tl, g.labels ?? EMPTY_LABELS);
        if (p.labels === null) dropped.push(p.discovered);
        else targets.push(new Target(p.labels, p.discovered, cfg.params));
      } catch (err) {
        failures.push(`instance ${i} in group ${g.source}: ${(err as Error).message}`);
      }
    });
  }
  return { targets, dropped, failures };
}

/** A stable digest of a value (configs are frozen plain data); used to compare configurations. */
export function digest(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('base64');
}
