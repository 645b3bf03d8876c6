/**
 * Long-term storage on a real S3 (Ceph radosgw): `argus all` ships its blocks to the bucket, serves them
 * from there once the local copies are gone, compacts them; a separate `argus store`, given the bucket in
 * Thanos's objstore format (--objstore.config-file), answers the same queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../src/cmd/server-runtime.js';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import { requireRadosgw, startRadosgw, type RunningRadosgw } from '../support/radosgw.js';
import { DAY, STEP, assertExactly, assertSameRange, era, expectedRange, metric, rangeQuery, startAll, writeEra } from './storage-support.js';

const NEW = era('s3', DAY, 12, 5);

test('argus all ships to S3 (radosgw) and serves from there; argus store reads the same bucket', { timeout: 180_000 }, async (t) => {
  if (!requireRadosgw(t)) return;
  const dir = await mkdtemp(join(tmpdir(), 'argus-e2e-storage-s3-'));
  let rgw: RunningRadosgw | null = null;
  let rt: Runtime | null = null;
  let store: ArgusProcess | null = null;
  const t0 = performance.now();
  const lap = (what: string) => t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms`);
  try {
    rgw = await startRadosgw({ bucket: 'argus-e2e' });
    lap(`radosgw started (${rgw.startMs} ms)`);
    const s3 = { bucket: rgw.bucket, endpoint: rgw.endpoint, region: rgw.region, access_key: rgw.accessKeyId, secret_key: rgw.secretAccessKey };
    rt = await startAll(
      dir,
      `storage:
  tsdb: {block_range: 1m, retention: 0s}
  ship: {interval: 1h}
  bucket: {type: s3, force_path_style: true, ${Object.entries(s3).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}
compactor: {block_ranges: [1m, 4m], delete_delay: 0s, consistency_delay: 0s, interval: 1h}
store: {sync_interval: 1h}
`,
    );
    await writeEra(rt.url, NEW);
    await rt.db.compactHeads();
    await rt.storage.syncNow();
    const served = await metric(rt.url, 'argus_store_blocks_loaded');
    assert.ok(served >= 8, `the store gateway serves the shipped blocks (${served})`);
    assert.equal(rt.db.getBlocks('anonymous').length, 1, 'local copies deleted but the newest');
    const before = await metric(rt.url, 'argus_store_bytes_fetched_total'); // index headers, read at sync
    await assertExactly(rt.url, [NEW], [], 'shipped to S3');
    assert.ok((await metric(rt.url, 'argus_store_bytes_fetched_total')) > before, 'the queries read chunks from S3');
    lap(`shipped ${served} blocks; queries exact`);
    await rt.storage.compactNow();
    assert.ok((await metric(rt.url, 'argus_compact_compactions_total')) > 0, 'compacted in S3');
    await assertExactly(rt.url, [NEW], [], 'compacted in S3');
    lap('compacted in S3; queries exact');
    let last = -Infinity;
    for (const b of rt.storage.store!.blocks()) last = Math.max(last, b.meta.maxTime);
    const shippedPart = { ...NEW, t1: Math.floor((last - 1) / STEP) * STEP };
    const allInOne = await rangeQuery(rt.url, shippedPart);
    assertSameRange(allInOne, expectedRange(shippedPart), 'the shipped part, in one query');

    const objstore = join(dir, 'objstore.yml');
    await writeFile(
      objstore,
      `type: S3\nconfig:\n  bucket: ${rgw.bucket}\n  endpoint: ${JSON.stringify(rgw.endpoint)}\n  region: ${rgw.region}\n  access_key: ${rgw.accessKeyId}\n  secret_key: ${rgw.secretAccessKey}\n  bucket_lookup_type: path\n`,
    );
    store = await startArgus('store', [`--objstore.config-file=${objstore}`, `--storage.tsdb.path=${join(dir, 'store')}`, '--log.level=warn']);
    assertSameRange(await rangeQuery(store.url, shippedPart), allInOne, 'argus store answers as argus all did');
    lap('argus store over the same S3 bucket agrees');
  } finally {
    await store?.stop();
    await rt?.close();
    await rgw?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
