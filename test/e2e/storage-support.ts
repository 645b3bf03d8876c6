/**
 * Shared by the long-term storage end-to-end tests: synthetic eras of samples (known exactly), writing
 * them over remote write, reading them back through query_range, series and remote read, and looking
 * into a filesystem bucket.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer, type Runtime } from '../../src/cmd/server-runtime.js';
import { decodeMeta, type BlockMeta } from '../../src/tsdb/block/index.js';
import { series, v1Body, V1_HEADERS } from '../support/stack.js';
import { labelOf, remoteReadMetric } from '../support/remote-read.js';

export const MINUTE = 60_000;
export const DAY = 86_400_000;
/** The head block range of these tests (and the first compaction level). */
export const RANGE = MINUTE;
/** Sample spacing: query_range with this step returns each sample as it was written. */
export const STEP = 10_000;
export const METRIC = 'st_metric';

export interface Era {
  name: string;
  /** First sample (aligned to 16 ranges, the highest compaction level). */
  t0: number;
  /** Last sample. */
  t1: number;
  series: number;
  tenant?: string;
}

export function era(name: string, ageMs: number, minutes: number, nSeries: number, tenant?: string): Era {
  const level = 16 * RANGE;
  const t0 = Math.floor((Date.now() - ageMs) / level) * level;
  return { name, t0, t1: t0 + minutes * MINUTE - STEP, series: nSeries, ...(tenant ? { tenant } : {}) };
}

/** The value of series `i` of an era at `t`: distinct per series and time, with a fraction. */
export function value(e: Era, i: number, t: number): number {
  return i * 1e6 + ((t / 1000) % 100_003) + 0.25;
}

export function labelsOf(e: Era, i: number): Record<string, string> {
  return { __name__: METRIC, era: e.name, s: String(i) };
}

/** Writes an era through remote write, one request per minute of samples. */
export async function writeEra(url: string, e: Era): Promise<number> {
  let n = 0;
  for (let from = e.t0; from <= e.t1; from += MINUTE) {
    const batch = [];
    for (let i = 0; i < e.series; i++) {
      const samples: [number, number][] = [];
      for (let t = from; t < from + MINUTE && t <= e.t1; t += STEP) samples.push([t, value(e, i, t)]);
      batch.push(series(labelsOf(e, i), samples));
      n += samples.length;
    }
    const headers: Record<string, string> = { ...V1_HEADERS };
    if (e.tenant) headers['X-Scope-OrgID'] = e.tenant;
    const res = await fetch(`${url}/api/v1/push`, { method: 'POST', body: v1Body(batch), headers });
    assert.equal(res.status, 204, await res.text());
  }
  return n;
}

function headers(tenant?: string): Record<string, string> {
  return tenant ? { 'X-Scope-OrgID': tenant } : {};
}

async function getJson(url: string, tenant?: string): Promise<{ status: string; data: unknown; error?: string }> {
  const res = await fetch(url, { headers: headers(tenant) });
  const body = (await res.json()) as { status: string; data: unknown; error?: string };
  assert.equal(res.status, 200, `${url}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * query_range over [t0, t1] of the era's metric, step STEP: series label `s` -> "t:v" strings (seconds
 * and the value as Prometheus prints it), so a mismatch shows which sample differs.
 */
export async function rangeQuery(url: string, e: Era, tenant = e.tenant): Promise<Map<string, string[]>> {
  const q = new URLSearchParams({ query: `${METRIC}{era="${e.name}"}`, start: String(e.t0 / 1000), end: String(e.t1 / 1000), step: String(STEP / 1000) });
  const body = await getJson(`${url}/api/v1/query_range?${q}`, tenant);
  const out = new Map<string, string[]>();
  for (const r of (body.data as { result: { metric: Record<string, string>; values: [number, string][] }[] }).result) {
    out.set(r.metric.s!, r.values.map(([t, v]) => `${t}:${v}`));
  }
  return out;
}

/** What rangeQuery must return for an era written in full. */
export function expectedRange(e: Era): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < e.series; i++) {
    const vs: string[] = [];
    for (let t = e.t0; t <= e.t1; t += STEP) vs.push(`${t / 1000}:${value(e, i, t)}`);
    out.set(String(i), vs);
  }
  return out;
}

/**
 * Compares two rangeQuery results and, when they differ, fails with a short account (per series: how many
 * samples, the first one that differs) rather than both maps in full, which hides the stage in CI logs.
 */
export function assertSameRange(actual: Map<string, string[]>, expected: Map<string, string[]>, what: string): void {
  const lines: string[] = [];
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const a = actual.get(key) ?? [];
    const e = expected.get(key) ?? [];
    let i = 0;
    while (i < a.length && i < e.length && a[i] === e[i]) i++;
    if (i === a.length && i === e.length) continue;
    lines.push(`series s=${key}: ${a.length} samples, want ${e.length}; first difference at #${i}: got ${a[i] ?? '(none)'}, want ${e[i] ?? '(none)'}`);
  }
  if (lines.length > 0) assert.fail(`${what}:\n  ${lines.slice(0, 8).join('\n  ')}${lines.length > 8 ? `\n  ... and ${lines.length - 8} more series` : ''}`);
}

/** /api/v1/series over the era's time range: the `s` labels found, sorted. */
export async function seriesOf(url: string, e: Era, tenant = e.tenant): Promise<string[]> {
  const q = new URLSearchParams({ 'match[]': `${METRIC}{era="${e.name}"}`, start: String(e.t0 / 1000), end: String(e.t1 / 1000) });
  const body = await getJson(`${url}/api/v1/series?${q}`, tenant);
  return (body.data as Record<string, string>[]).map((m) => m.s!).sort((a, b) => Number(a) - Number(b));
}

/** Remote read of everything of the metric for the default tenant: "era/s@t" -> value, and duplicates seen. */
export async function readAll(url: string): Promise<{ samples: Map<string, number>; dups: number }> {
  const samples = new Map<string, number>();
  let dups = 0;
  for (const s of await remoteReadMetric(url, METRIC)) {
    for (let i = 0; i < s.timestamps.length; i++) {
      const k = `${labelOf(s, 'era')}/${labelOf(s, 's')}@${s.timestamps[i]}`;
      if (samples.has(k)) dups++;
      samples.set(k, s.values[i]!);
    }
  }
  return { samples, dups };
}

/** Asserts that query_range, series and remote read return exactly the given eras' samples (and no others). */
export async function assertExactly(url: string, present: Era[], absent: Era[], stage: string): Promise<void> {
  for (const e of present) {
    assertSameRange(await rangeQuery(url, e), expectedRange(e), `${stage}: query_range of era ${e.name}`);
    assert.deepEqual(await seriesOf(url, e), [...Array(e.series).keys()].map(String), `${stage}: series of era ${e.name}`);
  }
  for (const e of absent) {
    assert.equal((await rangeQuery(url, e)).size, 0, `${stage}: era ${e.name} must be gone`);
    assert.deepEqual(await seriesOf(url, e), [], `${stage}: no series of era ${e.name}`);
  }
  const { samples, dups } = await readAll(url);
  assert.equal(dups, 0, `${stage}: remote read returned samples twice`);
  const want = new Map<string, number>();
  for (const e of present.filter((x) => !x.tenant)) {
    for (let i = 0; i < e.series; i++) for (let t = e.t0; t <= e.t1; t += STEP) want.set(`${e.name}/${i}@${t}`, value(e, i, t));
  }
  assert.equal(samples.size, want.size, `${stage}: remote read sample count`);
  for (const [k, v] of want) if (samples.get(k) !== v) assert.fail(`${stage}: remote read ${k} = ${samples.get(k)}, want ${v}`);
}

/** The blocks of a filesystem bucket that have meta.json and no deletion mark. */
export async function liveBucketBlocks(dir: string): Promise<BlockMeta[]> {
  if (!existsSync(dir)) return [];
  const out: BlockMeta[] = [];
  for (const name of await readdir(dir)) {
    if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(name)) continue;
    const meta = join(dir, name, 'meta.json');
    if (!existsSync(meta) || existsSync(join(dir, name, 'deletion-mark.json'))) continue;
    out.push(decodeMeta(await readFile(meta, 'utf8'), meta));
  }
  return out.sort((a, b) => a.minTime - b.minTime);
}

/** `argus all` in this process over `dir` (config written to dir/argus.yml). */
export async function startAll(dir: string, yaml: string, extra: Record<string, string> = {}): Promise<Runtime> {
  const cfg = join(dir, 'argus.yml');
  await writeFile(cfg, yaml);
  return startServer(
    { 'web.listen-address': '127.0.0.1:0', 'storage.tsdb.path': join(dir, 'data'), 'config.file': cfg, 'log.level': process.env.ARGUS_TEST_LOG ?? 'error', ...extra },
    'all',
  );
}

/** Prometheus-exposition value of an unlabelled metric (NaN when absent). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Polls `fn` until it returns true (every 100 ms, at most `ms`). */
export async function until(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
