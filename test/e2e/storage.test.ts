/**
 * Long-term storage end to end, with a 1m block range and compaction levels 1m, 4m, 16m:
 *
 *  1. `argus all` (in this process) takes three eras of samples over remote write (400, 100 and 1 day old)
 *     and two tenants, and cuts blocks;
 *  2. ships them to `<data>/bucket`; the store gateway serves them and the local copies are deleted;
 *  3. compacts them in the bucket (levels 2 and 3);
 *  4. restarts; 5. restarts with a raw retention of 200d, which deletes the oldest era;
 *  6. `argus compact` and `argus store` run as processes over the same bucket: the compactor applies
 *     `--retention.resolution-raw=50d` (a flag), and the store answers as the all-in-one did.
 *
 * At every stage query_range, series and remote read return exactly the samples written (and none that
 * retention removed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/cmd/server-runtime.js';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import {
  DAY,
  STEP,
  assertExactly,
  assertSameRange,
  era,
  expectedRange,
  liveBucketBlocks,
  metric,
  rangeQuery,
  seriesOf,
  startAll,
  until,
  writeEra,
  value,
  METRIC,
  type Era,
} from './storage-support.js';
import type { BlockMeta } from '../../src/tsdb/block/index.js';

const CONFIG = (retention = '0') => `
storage:
  tsdb:
    block_range: 1m
    retention: 0s
  ship:
    interval: 1h
    external_labels: {cluster: e2e}
compactor:
  block_ranges: [1m, 4m, 16m]
  delete_delay: 0s
  consistency_delay: 0s
  interval: 1h
  retention: {raw: ${retention}, 5m: ${retention}}
  downsampling: {raw_to_5m_after: 8m}
store:
  sync_interval: 1h
`;

const OLD = era('old', 400 * DAY, 10, 6);
const MID = era('mid', 100 * DAY, 6, 6);
const NEW = era('new', DAY, 10, 6);
const TEAM_B = era('teamb', DAY, 5, 3, 'team-b');

/** Team B's data is visible to team B only. */
async function assertTenants(url: string, stage: string): Promise<void> {
  assertSameRange(await rangeQuery(url, TEAM_B), expectedRange(TEAM_B), `${stage}: team-b reads its own data`);
  assert.deepEqual(await seriesOf(url, TEAM_B, 'anonymous'), [], `${stage}: the default tenant does not see team-b`);
  assert.deepEqual(await seriesOf(url, NEW, 'team-b'), [], `${stage}: team-b does not see the default tenant`);
}

test('argus all: blocks are cut, shipped, served from the bucket, compacted, kept across restarts and expired by retention; argus store and argus compact take over the bucket', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-e2e-storage-'));
  const bucketDir = join(dir, 'data', 'bucket');
  let rt: Runtime | null = null;
  const procs: ArgusProcess[] = [];
  const t0 = performance.now();
  const lap = (what: string) => t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms`);
  try {
    rt = await startAll(dir, CONFIG());
    let written = 0;
    for (const e of [OLD, MID, NEW, TEAM_B]) written += await writeEra(rt.url, e);
    await rt.db.compactHeads();
    // New blocks are shipped (and then deleted locally) in the background already: count both places.
    const cut = new Set([...rt.db.getBlocks('anonymous'), ...rt.db.getBlocks('team-b')].map((b) => b.meta.ulid));
    for (const m of await liveBucketBlocks(bucketDir)) cut.add(m.ulid);
    assert.ok(cut.size >= 25, `blocks were cut from the head (${cut.size})`);
    await assertExactly(rt.url, [OLD, MID, NEW], [], 'cut');
    lap(`1. ${written} samples written, ${cut.size} blocks cut`);

    // 2. Ship; the store gateway serves the blocks; local copies go (all but the newest of each tenant).
    await rt.storage.syncNow();
    const shipped = await liveBucketBlocks(bucketDir);
    assert.deepEqual(new Set(shipped.map((m) => m.ulid)), cut, 'every block cut is in the bucket');
    for (const m of shipped) {
      assert.equal(m.thanos?.labels?.cluster, 'e2e', 'external labels are in the thanos section');
      assert.ok(['anonymous', 'team-b'].includes(String(m.thanos?.labels?.tenant_id)), 'tenant_id names the tenant');
    }
    assert.equal(rt.db.getBlocks('anonymous').length, 1, 'local blocks served by the store are deleted, the newest stays');
    assert.equal(rt.db.getBlocks('team-b').length, 1);
    assert.equal(await metric(rt.url, 'argus_store_blocks_loaded'), shipped.length);
    await assertExactly(rt.url, [OLD, MID, NEW], [], 'shipped');
    await assertTenants(rt.url, 'shipped');
    lap(`2. ${shipped.length} blocks shipped and served by the store gateway`);

    // 3. Compaction in the bucket.
    await rt.storage.compactNow();
    const compacted = await liveBucketBlocks(bucketDir);
    const levels = compacted.map((m) => m.compaction.level);
    assert.ok(levels.includes(3), `a level-3 (16m) block was made: levels ${levels.join(',')}`);
    const raw = compacted.filter((m) => !m.thanos?.downsample?.resolution);
    assert.ok(raw.length < shipped.length / 3, `compaction merged blocks: ${shipped.length} -> ${raw.length}`);
    assert.equal(await metric(rt.url, 'argus_store_blocks_loaded'), compacted.length, 'the store serves the compacted blocks only');
    assert.ok((await metric(rt.url, 'argus_compact_compactions_total')) > 0);
    await assertExactly(rt.url, [OLD, MID, NEW], [], 'compacted');
    // Downsampling: the old era's 10m block got a 5m version, which a query with a 30m step reads.
    assert.ok(compacted.some((m) => m.thanos?.downsample?.resolution === 300_000 && m.minTime === OLD.t0), 'a 5m block of the old era');
    assert.deepEqual(await maxOverTime(rt.url, OLD), expectedMax(OLD), 'max_over_time through the 5m block');
    await assertTenants(rt.url, 'compacted');
    lap(`3. compacted: ${shipped.length} -> ${raw.length} raw blocks (levels ${[...new Set(levels)].sort().join(',')}) + ${compacted.length - raw.length} downsampled`);

    // 4. Restart: the head comes back from the WAL, the blocks from the bucket.
    await rt.close();
    rt = await startAll(dir, CONFIG());
    await assertExactly(rt.url, [OLD, MID, NEW], [], 'restarted');
    await assertTenants(rt.url, 'restarted');
    lap('4. restarted');

    // 5. Raw retention of 200d: the oldest era is deleted from the bucket.
    await rt.close();
    rt = await startAll(dir, CONFIG('200d'));
    await rt.storage.compactNow();
    const kept = await liveBucketBlocks(bucketDir);
    assert.ok(kept.every((m) => m.maxTime > OLD.t1), 'no block of the old era is left');
    assert.ok((await metric(rt.url, 'argus_compact_retention_marks_total')) > 0);
    await assertExactly(rt.url, [MID, NEW], [OLD], 'retention 200d');
    await assertTenants(rt.url, 'retention 200d');
    // The part of the newest era that is in the bucket (the rest is in the head and the newest local block).
    const inBucket = await liveBucketBlocks(bucketDir);
    const newShipped = { ...NEW, t1: lastSample(inBucket, 'anonymous') };
    const teamBShipped = { ...TEAM_B, t1: lastSample(inBucket, 'team-b') };
    const allInOne = await rangeQuery(rt.url, newShipped);
    assertSameRange(allInOne, expectedRange(newShipped), 'retention 200d: the shipped part of the new era');
    await rt.close();
    rt = null;
    lap('5. retention applied');

    // 6. The roles alone, as processes, over the same bucket.
    const common = [`--storage.tsdb.path=${join(dir, 'data')}`, `--config.file=${join(dir, 'argus.yml')}`, '--log.level=warn'];
    await writeFile(join(dir, 'argus.yml'), CONFIG('200d'));
    const compact = await startArgus('compact', [...common, '--retention.resolution-raw=50d']);
    procs.push(compact);
    await until('a successful compaction run', 20_000, async () => (await metric(compact.url, 'argus_compact_last_successful_run_timestamp_seconds')) > 0);
    assert.ok((await metric(compact.url, 'argus_compact_retention_marks_total')) > 0, 'the flag overrode the config: the mid era expired');
    const store = await startArgus('store', [...common, '--store.cache-size=1KiB', '--sync-block-duration=1s']);
    procs.push(store);
    assertSameRange(await rangeQuery(store.url, newShipped), allInOne, 'the store gateway answers as argus all did');
    assert.deepEqual(await seriesOf(store.url, newShipped), [...Array(NEW.series).keys()].map(String));
    assert.equal((await rangeQuery(store.url, MID)).size, 0, 'the mid era is gone');
    assert.equal((await rangeQuery(store.url, OLD)).size, 0, 'the old era is gone');
    assertSameRange(await rangeQuery(store.url, teamBShipped), expectedRange(teamBShipped), 'team-b reads its blocks through X-Scope-OrgID');
    assert.deepEqual(await seriesOf(store.url, teamBShipped, 'anonymous'), [], 'and the default tenant does not');
    // The configured cache budget reaches the store: the cache held at most 1 KiB while the queries read
    // several times that through it (the store's own tests prove that the budget bounds the heap).
    const max = await metric(store.url, 'argus_store_cache_max_bytes');
    assert.equal(max, 1024);
    const peak = await metric(store.url, 'argus_store_cache_peak_bytes');
    assert.ok(peak > 0 && peak <= max, `cache peak ${peak} within ${max}`);
    const fetched = await metric(store.url, 'argus_store_bytes_fetched_total');
    assert.ok(fetched > 4 * max, `the queries read ${fetched} bytes through a ${max}-byte cache`);
    t.diagnostic(`store: ${fetched} bytes fetched, cache peak ${peak} of ${max} bytes`);
    lap('6. argus compact and argus store processes agree');
  } finally {
    await rt?.close();
    for (const p of procs) await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** max_over_time of each series of an era over the whole era, at one 30m step (the store may read 5m blocks). */
async function maxOverTime(url: string, e: Era): Promise<Record<string, number>> {
  const q = new URLSearchParams({ query: `max_over_time(${METRIC}{era="${e.name}"}[20m])`, start: String(e.t1 / 1000), end: String(e.t1 / 1000), step: '1800' });
  const res = await fetch(`${url}/api/v1/query_range?${q}`);
  const body = (await res.json()) as { data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  assert.equal(res.status, 200, JSON.stringify(body));
  return Object.fromEntries(body.data.result.map((r) => [r.metric.s!, Number(r.values[0]![1])]));
}

function expectedMax(e: Era): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < e.series; i++) {
    let m = -Infinity;
    for (let t = e.t0; t <= e.t1; t += STEP) m = Math.max(m, value(e, i, t));
    out[String(i)] = m;
  }
  return out;
}

/** The last sample time of a tenant's data in the bucket (a block's maxTime is exclusive; samples every STEP). */
function lastSample(metas: BlockMeta[], tenant: string): number {
  let max = -Infinity;
  for (const m of metas) if (m.thanos?.labels?.tenant_id === tenant && m.maxTime > max) max = m.maxTime;
  return Math.floor((max - 1) / STEP) * STEP;
}
