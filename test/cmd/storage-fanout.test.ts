/**
 * The read path and the local retention with the real pieces (TSDB, filesystem bucket, shipper, store
 * gateway, compactor), driven step by step so that each rule shows:
 * - a local block counts as served only once the store has loaded a raw block naming it as a source,
 *   including after compaction in the bucket;
 * - a local block is deleted only when shipped, served, and past the local retention; the newest stays;
 * - bucket blocks are split by their tenant_id label (none: the default tenant).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LocalShipping } from '../../src/cmd/storage-runtime.js';
import { Compactor } from '../../src/compact/index.js';
import { parseConfig, headLimitsFor } from '../../src/config/index.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { FilesystemBucket } from '../../src/objstore/index.js';
import { FanoutStorage } from '../../src/query/index.js';
import { BucketStore } from '../../src/store/index.js';
import { TSDB } from '../../src/tsdb/index.js';
import { drain } from '../../src/tsdb/head/index.js';
import { nopLogger } from '../../src/util/log.js';

const RANGE = 60_000;
const T0 = 1_600_000_000_000 - (1_600_000_000_000 % (16 * RANGE));

/** A TSDB, a filesystem bucket, a store and the shipping/retention of `argus all`; `retention` is storage.tsdb.retention. */
async function setup(retention: string) {
  const dir = await mkdtemp(join(tmpdir(), 'argus-fanout-'));
  const cfg = parseConfig(`storage:\n  tsdb:\n    block_range: 1m\n    retention: ${retention}\n  ship:\n    interval: 1h\n`);
  const db = await TSDB.open({ path: join(dir, 'data'), headOptions: (t) => headLimitsFor(cfg, t), compactIntervalMs: 0, logger: nopLogger });
  const bucket = new FilesystemBucket(join(dir, 'bucket'));
  const store = new BucketStore({ bucket, cacheBytes: 1 << 20 });
  const fanout = new FanoutStorage({ local: db, store });
  let clock = 1_000_000;
  const shipping = new LocalShipping({
    db,
    bucket,
    cfg,
    logger: nopLogger,
    registry: new Registry(),
    servedByStore: (t, u) => fanout.servedByStore(t, u),
    now: () => clock,
  });
  return {
    dir,
    cfg,
    db,
    bucket,
    store,
    fanout,
    shipping,
    advance: (ms: number) => (clock += ms),
    async close() {
      await shipping.stop();
      await store.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `minutes` minutes of one sample every 10 s to series s=0..n-1 of `tenant`, then cuts blocks. */
async function fill(db: TSDB, tenant: string, minutes: number, n = 3): Promise<void> {
  const head = await db.head(tenant);
  const app = head.appender();
  for (let t = T0; t < T0 + minutes * RANGE; t += 10_000) {
    for (let i = 0; i < n; i++) app.append(0, labelsFromObject({ __name__: 'm', s: String(i) }), t, t / 1000 + i);
  }
  await app.commit();
  await db.compactHeads();
}

/** Every sample of metric m through the fan-out: "s@t" -> value, and duplicates. */
async function read(fanout: FanoutStorage, tenant: string): Promise<{ n: number; dups: number; wrong: number }> {
  const q = fanout.querier(tenant);
  if (q === null) return { n: 0, dups: 0, wrong: 0 };
  const seen = new Set<string>();
  let dups = 0;
  let wrong = 0;
  for await (const s of q.select({ start: 0, end: Number.MAX_SAFE_INTEGER }, [new Matcher(MatchType.Equal, '__name__', 'm')])) {
    const i = Number(labelsToObject(s.labels).s);
    const { ts, vs } = drain(s.iterator());
    for (let k = 0; k < ts.length; k++) {
      const key = `${i}@${ts[k]}`;
      if (seen.has(key)) dups++;
      seen.add(key);
      if (vs[k] !== ts[k]! / 1000 + i) wrong++;
    }
  }
  return { n: seen.size, dups, wrong };
}

test('a local block is served by the store once a raw bucket block names it as a source, also after compaction', async () => {
  const s = await setup('0s');
  try {
    await fill(s.db, 'anonymous', 8);
    const local = s.db.getBlocks('anonymous').map((b) => b.meta.ulid);
    assert.ok(local.length >= 5, `blocks cut (${local.length})`);
    const total = (await read(s.fanout, 'anonymous')).n;
    assert.equal(total, 8 * 6 * 3);

    // Shipped but the store has not synced: nothing is served, nothing may be deleted.
    await s.shipping.runOnce();
    assert.ok(local.every((u) => !s.fanout.servedByStore('anonymous', u)));
    assert.equal(s.db.getBlocks('anonymous').length, local.length, 'no local block deleted before the store serves it');

    await s.store.sync();
    assert.ok(local.every((u) => s.fanout.servedByStore('anonymous', u)), 'served once loaded');
    assert.ok(!s.fanout.servedByStore('other', local[0]!), 'only for the tenant of the bucket block');
    assert.deepEqual(await read(s.fanout, 'anonymous'), { n: total, dups: 0, wrong: 0 }, 'local and bucket copies read once');

    await s.shipping.prune();
    assert.deepEqual(
      s.db.getBlocks('anonymous').map((b) => b.meta.ulid),
      [local[local.length - 1]],
      'served blocks deleted locally; the newest stays',
    );
    assert.deepEqual(await read(s.fanout, 'anonymous'), { n: total, dups: 0, wrong: 0 }, 'exact after local deletion');

    // Compaction in the bucket (sources marked, not yet deleted): the compacted block takes over.
    const compactor = new Compactor({ bucket: s.bucket, ranges: [RANGE, 4 * RANGE], consistencyDelayMs: 0, deleteDelayMs: 3_600_000 });
    const run = await compactor.runOnce();
    assert.ok(run.compactions.length > 0);
    await s.store.sync();
    const levels = s.store.blocks().map((b) => b.meta.compaction.level);
    assert.ok(levels.some((l) => l > 1), `the store serves compacted blocks (levels ${levels})`);
    assert.ok(local.every((u) => s.fanout.servedByStore('anonymous', u)), 'compacted blocks name the shipped ones as sources');
    assert.deepEqual(await read(s.fanout, 'anonymous'), { n: total, dups: 0, wrong: 0 }, 'exact after compaction');
  } finally {
    await s.close();
  }
});

test('local retention: shipped and served blocks stay for storage.tsdb.retention after they were first seen shipped', async () => {
  const s = await setup('10m');
  try {
    await fill(s.db, 'anonymous', 5);
    const n = s.db.getBlocks('anonymous').length;
    await s.shipping.runOnce();
    await s.store.sync();
    await s.shipping.prune();
    assert.equal(s.db.getBlocks('anonymous').length, n, 'kept: retention not over');
    s.advance(9 * 60_000);
    await s.shipping.prune();
    assert.equal(s.db.getBlocks('anonymous').length, n, 'kept at 9 of 10 minutes');
    s.advance(60_000);
    await s.shipping.prune();
    assert.equal(s.db.getBlocks('anonymous').length, 1, 'deleted after 10 minutes, but the newest');
  } finally {
    await s.close();
  }
});

test('bucket blocks are split by tenant_id; blocks without it belong to the default tenant', async () => {
  const s = await setup('0s');
  try {
    await fill(s.db, 'team-a', 4, 2);
    await fill(s.db, 'anonymous', 4, 3);
    await s.shipping.runOnce();
    await s.store.sync();
    await s.shipping.prune();
    assert.equal(s.db.getBlocks('team-a').length, 1);
    assert.deepEqual(await read(s.fanout, 'team-a'), { n: 4 * 6 * 2, dups: 0, wrong: 0 });
    assert.deepEqual(await read(s.fanout, 'anonymous'), { n: 4 * 6 * 3, dups: 0, wrong: 0 });
    assert.deepEqual(await read(s.fanout, 'nobody'), { n: 0, dups: 0, wrong: 0 });
    // Store only (argus store), reading a label no block has: every block is the default tenant's, and
    // team-a's series s=0,1 (same samples as the default tenant's) come out once.
    const storeOnly = new FanoutStorage({ store: s.store, tenantLabel: 'no_such_label' });
    const minutes = new Set(s.store.blocks().map((b) => b.meta.minTime)).size; // the shipped ones (not the head's)
    assert.ok(minutes >= 3);
    assert.deepEqual(await read(storeOnly, 'anonymous'), { n: minutes * 6 * 3, dups: 0, wrong: 0 });
    assert.equal((await read(storeOnly, 'team-a')).n, 0);
  } finally {
    await s.close();
  }
});
