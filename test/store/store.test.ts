/**
 * The store gateway against the in-memory block reader: the same blocks, written by writeBlock, answer the
 * same through `openBlock(...).querier()` (merged) and through a BucketStore over a MemoryBucket, for a table
 * of matchers and ranges; plus sync (new, removed, partial, deletion-marked, filtered, corrupt blocks), the
 * cache, range reads only, limits and the resolution rule.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MemoryBucket, type IterOptions } from '../../src/objstore/index.js';
import { MergeQuerier } from '../../src/storage/merge.js';
import type { Querier } from '../../src/storage/interface.js';
import { encodeTombstones, openBlock, writeBlock, type Block, type BlockMeta } from '../../src/tsdb/block/index.js';
import { BucketStore, blocksFor, partitionRanges, type BucketBlock } from '../../src/store/index.js';
import { makeSeries, readSet, toChunks, uploadBlockDir, type SeriesData } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'argus-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));

/** A MemoryBucket that remembers which keys were read whole. */
class RecordingBucket extends MemoryBucket {
  readonly wholeReads: string[] = [];
  override async get(key: string): Promise<Uint8Array> {
    this.wholeReads.push(key);
    return super.get(key);
  }
}

const m = (name: string, type: MatchType, value: string) => new Matcher(type, name, value);
const EQ = MatchType.Equal;
const NEQ = MatchType.NotEqual;
const RE = MatchType.Regexp;
const NRE = MatchType.NotRegexp;

async function writeRaw(dir: string, series: SeriesData[], minT: number, maxT: number, thanos?: BlockMeta['thanos']): Promise<string> {
  const meta = await writeBlock(dir, series.map((s) => toChunks(s)), { minT, maxT, ...(thanos ? { thanos } : {}) });
  return join(dir, meta.ulid);
}

/** Every other sample of `s` (so that overlapping blocks share identical samples). */
function thin(s: SeriesData): SeriesData {
  const ts: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < s.ts.length; i += 2) {
    ts.push(s.ts[i]!);
    vs.push(s.vs[i]!);
  }
  return { labels: s.labels, ts, vs: Float64Array.from(vs) };
}

describe('BucketStore answers like the in-memory block reader', () => {
  const blocksDir = join(root, 'blocks');
  const bucket = new RecordingBucket();
  let dirs: string[] = [];
  let reference: Querier;
  let opened: Block[] = [];
  let store: BucketStore;

  before(async () => {
    const b1 = makeSeries(1, 120, T0, T0 + 2 * H, 30_000);
    const b2 = makeSeries(2, 150, T0 + 2 * H, T0 + 4 * H, 30_000);
    const b3 = makeSeries(3, 150, T0 + 4 * H, T0 + 6 * H, 30_000);
    // Overlaps b3: a subset of its series with identical samples, and series of its own.
    const b4 = [...b3.filter((_, i) => i % 5 === 0).map(thin), ...makeSeries(4, 170, T0 + 4 * H, T0 + 6 * H, 45_000).slice(150)];
    // Labels whose UTF-8 and UTF-16 orders differ, and tombstones.
    const b5 = makeSeries(5, 100, T0 + 6 * H, T0 + 8 * H, 60_000, { odd: true });
    dirs = [
      await writeRaw(blocksDir, b1, T0, T0 + 2 * H),
      await writeRaw(blocksDir, b2, T0 + 2 * H, T0 + 4 * H),
      await writeRaw(blocksDir, b3, T0 + 4 * H, T0 + 6 * H),
      await writeRaw(blocksDir, b4, T0 + 4 * H, T0 + 6 * H),
      await writeRaw(blocksDir, b5, T0 + 6 * H, T0 + 8 * H),
    ];
    const b5Block = await openBlock(dirs[4]!);
    const ids = b5Block.selectIds([m('__name__', EQ, 'store_metric_0')]);
    writeFileSync(
      join(dirs[4]!, 'tombstones'),
      encodeTombstones(new Map([[ids[0]!, [T0 + 6 * H, T0 + 6 * H + 20 * 60_000]], [ids[2]!, [T0 + 7 * H, T0 + 9 * H]]])),
    );
    opened = await Promise.all(dirs.map((d) => openBlock(d)));
    reference = new MergeQuerier(opened.map((b) => b.querier()));
    for (const d of dirs) await uploadBlockDir(bucket, d);
    store = new BucketStore({ bucket, cacheBytes: 4 * 1024 * 1024 });
    const res = await store.sync();
    assert.equal(res.added.length, 5, JSON.stringify(res));
  });

  const matcherTable: [string, Matcher[]][] = [
    ['no matchers', []],
    ['name =', [m('__name__', EQ, 'store_metric_1')]],
    ['!=', [m('job', NEQ, 'db')]],
    ['=~ alternation', [m('job', RE, 'api|web')]],
    ['!~', [m('job', NRE, 'a.*')]],
    ['absent label =""', [m('env', EQ, '')]],
    ['present label !=""', [m('env', NEQ, '')]],
    ['empty-matching regex', [m('env', RE, 'prod|')]],
    ['!~ matching absent', [m('env', NRE, 'dev')]],
    ['unknown label = value', [m('nope', EQ, 'x')]],
    ['unknown label =""', [m('nope', EQ, '')]],
    ['unknown label != value', [m('nope', NEQ, 'x')]],
    ['two narrowing', [m('__name__', RE, 'store_metric_[12]'), m('env', EQ, 'prod')]],
    ['odd labels', [m('odd', RE, '.+')]],
    ['mixed', [m('instance', RE, 'host-1.*'), m('job', NEQ, 'web'), m('env', NRE, 'staging|')]],
    ['value not present', [m('job', EQ, 'nosuchjob')]],
  ];
  const ranges: [string, number, number][] = [
    ['everything', T0 - H, T0 + 9 * H],
    ['inside one block', T0 + 30 * 60_000, T0 + 50 * 60_000],
    ['across blocks', T0 + 90 * 60_000, T0 + 4 * H + 10 * 60_000],
    ['overlapping blocks + tombstones', T0 + 5 * H, T0 + 8 * H],
    ['before the data', T0 - 5 * H, T0 - 4 * H],
    ['one instant', T0 + 3 * H, T0 + 3 * H],
  ];

  test('select: same series and samples (bit for bit) for every matcher x range', async () => {
    let series = 0;
    let samples = 0;
    for (const [mname, ms] of matcherTable) {
      for (const [rname, start, end] of ranges) {
        const want = await readSet(reference.select({ start, end }, ms));
        const got = await readSet(store.querier().select({ start, end }, ms));
        assert.deepEqual(got.map((s) => s.key), want.map((s) => s.key), `series of ${mname} over ${rname}`);
        assert.deepEqual(got, want, `samples of ${mname} over ${rname}`);
        series += got.length;
        for (const s of got) samples += s.ts.length;
      }
    }
    assert.ok(series > 2500 && samples > 100_000, `compared ${series} series, ${samples} samples`);
  });

  test('labelNames and labelValues: same answers with and without matchers, for every range', async () => {
    const q = store.querier();
    for (const [mname, ms] of matcherTable) {
      for (const [rname, start, end] of ranges) {
        const hints = { start, end };
        assert.deepEqual(await q.labelNames(hints, ms), await reference.labelNames(hints, ms), `names ${mname} ${rname}`);
        for (const name of ['job', 'env', 'odd', 'nope', '__name__']) {
          assert.deepEqual(await q.labelValues(name, hints, ms), await reference.labelValues(name, hints, ms), `values of ${name}, ${mname} ${rname}`);
        }
      }
    }
    const limited = await q.labelValues('instance', { start: T0, end: T0 + 8 * H, limit: 3 }, []);
    assert.deepEqual(limited, (await reference.labelValues('instance', { start: T0, end: T0 + 8 * H }, [])).slice(0, 3));
  });

  test('limit: the first N series in label order', async () => {
    const hints = { start: T0, end: T0 + 8 * H, limit: 17 };
    const got = await readSet(store.querier().select(hints, [m('job', NEQ, 'x')]));
    const want = await readSet(reference.select({ start: T0, end: T0 + 8 * H }, [m('job', NEQ, 'x')]));
    assert.equal(got.length, 17);
    assert.deepEqual(got, want.slice(0, 17));
  });

  test('range reads only: index and chunk objects are never read whole', async () => {
    const gets = bucket.wholeReads.filter((k) => !k.endsWith('/meta.json') && !k.endsWith('/tombstones'));
    assert.deepEqual(gets, [], 'whole-object reads other than meta.json and tombstones');
    assert.equal(bucket.wholeReads.length, store.stats().objectGets);
    assert.ok(bucket.stats.getRanges > 0);
  });

  test('cache: a repeated query is answered from the cache without new requests', async () => {
    const ms = [m('__name__', EQ, 'store_metric_3')];
    const hints = { start: T0, end: T0 + 8 * H };
    const first = await readSet(store.querier().select(hints, ms));
    const before = store.stats();
    const second = await readSet(store.querier().select(hints, ms));
    const afterStats = store.stats();
    assert.deepEqual(second, first);
    assert.equal(afterStats.requests, before.requests, 'no request for a cached query');
    assert.ok(afterStats.cache.hits > before.cache.hits);
    assert.ok(afterStats.cacheByKind.chunks.hits > before.cacheByKind.chunks.hits);
    assert.ok(afterStats.cache.peakBytes <= 4 * 1024 * 1024);
  });

  test('a small cache evicts and never holds more than its budget; answers stay right', async () => {
    const budget = 64 * 1024;
    const small = new BucketStore({ bucket, cacheBytes: budget, fetchBudgetBytes: 128 * 1024 });
    await small.sync();
    const hints = { start: T0 - H, end: T0 + 9 * H };
    const ms = [m('job', RE, 'api|db')];
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await readSet(small.querier().select(hints, ms)), await readSet(reference.select(hints, ms)));
    }
    const s = small.stats();
    assert.ok(s.cache.evictions > 0, 'evictions');
    assert.ok(s.cache.peakBytes <= budget, `peak ${s.cache.peakBytes} > budget ${budget}`);
    assert.ok(s.cache.bytes <= budget);
  });

  test('near ranges are merged: far fewer requests than items read', async () => {
    const fresh = new BucketStore({ bucket, cacheBytes: 0 });
    await fresh.sync();
    const afterSync = fresh.stats().requests;
    const got = await readSet(fresh.querier().select({ start: T0, end: T0 + 8 * H }, [m('env', NEQ, '')]));
    const items = got.length + got.reduce((n, s) => n + Math.ceil(s.ts.length / 120), 0);
    const requests = fresh.stats().requests - afterSync;
    assert.ok(requests * 10 < items, `${requests} requests for ${got.length} series (${items} series entries + chunks)`);
  });
});

describe('BucketStore sync', () => {
  test('a sync called while one is in progress reflects a listing made after the call', async () => {
    // The shipper uploads a block, then syncs so that the local copy may go: a sync already running may
    // have listed the bucket before the upload, so sharing its result would miss the block.
    const dir = join(root, 'sync-queued');
    let release: () => void = () => {};
    let gate: Promise<void> | null = null;
    class GatedBucket extends MemoryBucket {
      override async *iter(prefix: string, opts?: IterOptions): AsyncIterable<string> {
        const items: string[] = [];
        for await (const x of super.iter(prefix, opts)) items.push(x);
        if (gate !== null) await gate; // listed, not yet reconciled
        yield* items;
      }
    }
    const bucket = new GatedBucket();
    const ua = await uploadBlockDir(bucket, await writeRaw(dir, makeSeries(21, 5, T0, T0 + 2 * H, 60_000), T0, T0 + 2 * H));
    const store = new BucketStore({ bucket });
    gate = new Promise((r) => (release = r));
    const first = store.sync(); // lists [a], then waits at the gate
    await new Promise((r) => setTimeout(r, 10));
    const ub = await uploadBlockDir(bucket, await writeRaw(dir, makeSeries(22, 5, T0 + 2 * H, T0 + 4 * H, 60_000), T0 + 2 * H, T0 + 4 * H));
    const second = store.sync();
    const third = store.sync();
    assert.equal(second, third, 'calls made during one run share the next run');
    gate = null;
    release();
    assert.deepEqual((await first).added, [ua]);
    assert.deepEqual((await second).added, [ub], 'the queued run saw the block uploaded after the first listing');
    assert.deepEqual(store.blocks().map((b) => b.ulid), [ua, ub]);
    await store.close();
  });

  test('picks up new blocks, drops removed and deletion-marked ones, skips partial uploads, filters by external labels', async () => {
    const dir = join(root, 'sync');
    const bucket = new MemoryBucket();
    const series = makeSeries(11, 20, T0, T0 + 2 * H, 60_000);
    const a = await writeRaw(dir, series, T0, T0 + 2 * H, { labels: { tenant: 'a' } });
    const b = await writeRaw(dir, makeSeries(12, 20, T0 + 2 * H, T0 + 4 * H, 60_000), T0 + 2 * H, T0 + 4 * H, { labels: { tenant: 'a' } });
    const c = await writeRaw(dir, makeSeries(13, 20, T0 + 4 * H, T0 + 6 * H, 60_000), T0 + 4 * H, T0 + 6 * H, { labels: { tenant: 'b' } });
    const ua = await uploadBlockDir(bucket, a);
    const store = new BucketStore({ bucket, blockLabelMatchers: [m('tenant', EQ, 'a')] });
    const all = new BucketStore({ bucket });

    let r = await store.sync();
    assert.deepEqual(r.added, [ua]);
    assert.equal(r.blocks, 1);

    // b arrives without meta.json (upload in progress), c belongs to another tenant.
    const ub = await uploadBlockDir(bucket, b, { skipMeta: true });
    const uc = await uploadBlockDir(bucket, c);
    r = await store.sync();
    assert.deepEqual(r.partial, [ub]);
    assert.deepEqual(r.filtered, [uc]);
    assert.deepEqual(r.added, []);
    assert.equal((await all.sync()).blocks, 2);

    // The upload completes.
    await uploadBlockDir(bucket, b);
    r = await store.sync();
    assert.deepEqual(r.added, [ub]);
    assert.deepEqual(store.blocks().map((x) => x.ulid), [ua, ub]);
    const q = store.querier();
    assert.deepEqual(await q.labelValues('job', { start: T0, end: T0 + 6 * H }, []), ['api', 'db', 'web']);
    const before = (await readSet(q.select({ start: T0, end: T0 + 6 * H }, []))).length;
    assert.equal(before, 20);

    // A deletion mark hides a block at once; deleting the files drops it too.
    await bucket.put(`${ua}/deletion-mark.json`, new TextEncoder().encode(JSON.stringify({ id: ua, deletion_time: 1, version: 1 })));
    r = await store.sync();
    assert.deepEqual(r.removed, [ua]);
    assert.deepEqual(store.blocks().map((x) => x.ulid), [ub]);
    const got = await readSet(store.querier().select({ start: T0, end: T0 + 2 * H - 1 }, []));
    assert.equal(got.length, 0, 'the marked block answers nothing');
    for await (const k of bucket.iter(`${ub}/`, { recursive: true })) await bucket.delete(k);
    r = await store.sync();
    assert.deepEqual(r.removed, [ub]);
    assert.equal(r.blocks, 0);
    r = await all.sync();
    assert.deepEqual(r.removed, [ua]);
    assert.deepEqual(all.blocks().map((x) => x.ulid), [uc]);
  });

  test('a block marked for deletion is served until its compaction replacement is, so compaction opens no gap', async () => {
    const dir = join(root, 'marked-replaced');
    const bucket = new MemoryBucket();
    const series = makeSeries(21, 10, T0, T0 + 2 * H, 60_000);
    const src = await writeRaw(dir, series, T0, T0 + 2 * H);
    const usrc = await uploadBlockDir(bucket, src);
    let now = T0 + 10 * H;
    const store = new BucketStore({ bucket, now: () => now });
    await store.sync();
    const want = await readSet(store.querier().select({ start: T0, end: T0 + 2 * H }, []));
    assert.equal(want.length, 10);

    // The compactor marks the source, but its replacement is not in the bucket yet (or failed to load).
    const mark = (ulid: string) => new TextEncoder().encode(JSON.stringify({ id: ulid, deletion_time: Math.floor(now / 1000), version: 1 }));
    await bucket.put(`${usrc}/deletion-mark.json`, mark(usrc));
    let r = await store.sync();
    assert.deepEqual(r.removed, [], 'a marked block without a served replacement stays');
    assert.deepEqual(await readSet(store.querier().select({ start: T0, end: T0 + 2 * H }, [])), want);

    // The replacement (listing the source among its sources) arrives: the source is retired, answers unchanged.
    const repl = await writeBlock(dir, series.map((s) => toChunks(s)), { minT: T0, maxT: T0 + 2 * H, compaction: { level: 2, sources: [usrc], parents: [{ ulid: usrc, minTime: T0, maxTime: T0 + 2 * H }] } });
    const urepl = await uploadBlockDir(bucket, join(dir, repl.ulid));
    r = await store.sync();
    assert.deepEqual(r.added, [urepl]);
    assert.deepEqual(r.removed, [usrc]);
    assert.deepEqual(await readSet(store.querier().select({ start: T0, end: T0 + 2 * H }, [])), want);

    // A mark with no replacement (retention) is honoured once the ignore delay has passed.
    await bucket.put(`${urepl}/deletion-mark.json`, mark(urepl));
    assert.deepEqual((await store.sync()).removed, []);
    now += 24 * H;
    assert.deepEqual((await store.sync()).removed, [urepl]);
    assert.equal(store.blocks().length, 0);
  });

  test('a corrupt or incomplete block is reported by name and retried; the others are served', async () => {
    const dir = join(root, 'corrupt');
    const bucket = new MemoryBucket();
    const good = await uploadBlockDir(bucket, await writeRaw(dir, makeSeries(21, 10, T0, T0 + 2 * H, 60_000), T0, T0 + 2 * H));
    const badDir = await writeRaw(dir, makeSeries(22, 10, T0 + 2 * H, T0 + 4 * H, 60_000), T0 + 2 * H, T0 + 4 * H);
    const bad = await uploadBlockDir(bucket, badDir);
    // Flip a byte of the TOC: its CRC no longer matches.
    const idx = await bucket.get(`${bad}/index`);
    idx[idx.length - 10] ^= 0xff;
    await bucket.put(`${bad}/index`, idx);
    const lines: string[] = [];
    const { createLogger } = await import('../../src/util/log.js');
    const store = new BucketStore({ bucket, logger: createLogger('info', {}, (l) => lines.push(l)) });
    let r = await store.sync();
    assert.deepEqual(r.added, [good]);
    assert.equal(r.failed.length, 1);
    assert.equal(r.failed[0]!.ulid, bad);
    assert.match(r.failed[0]!.error, new RegExp(`${bad}/index: at offset \\d+: TOC: checksum mismatch`));
    assert.ok(lines.some((l) => l.includes('level=warn') && l.includes(bad) && l.includes('will retry')), lines.join(''));
    await store.sync();
    assert.equal(lines.filter((l) => l.includes('level=warn')).length, 1, 'the same failure is logged once');
    // Fixed in the bucket: picked up at the next sync.
    await uploadBlockDir(bucket, badDir);
    r = await store.sync();
    assert.deepEqual(r.added, [bad]);

    // A missing chunk segment fails the query with a message naming the block and the object.
    await bucket.delete(`${bad}/chunks/000001`);
    const fresh = new BucketStore({ bucket, cacheBytes: 0 });
    await fresh.sync();
    await assert.rejects(
      readSet(fresh.querier().select({ start: T0, end: T0 + 4 * H }, [])),
      (err: Error) => err.message.includes(`block ${bad}`) && err.message.includes(`${bad}/chunks/000001`) && /not found/.test(err.message),
    );
  });

  test('start/stop: periodic sync picks up a block uploaded later', async () => {
    const dir = join(root, 'periodic');
    const bucket = new MemoryBucket();
    const store = new BucketStore({ bucket });
    store.start(20);
    try {
      const u = await uploadBlockDir(bucket, await writeRaw(dir, makeSeries(31, 5, T0, T0 + 2 * H, 60_000), T0, T0 + 2 * H));
      const deadline = Date.now() + 3000;
      while (store.blocks().length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(store.blocks().map((b) => b.ulid), [u]);
    } finally {
      await store.stop();
    }
    const syncs = store.stats().syncs;
    await new Promise((res) => setTimeout(res, 60));
    assert.equal(store.stats().syncs, syncs, 'no sync after stop()');
  });
});

describe('resolution and range planning', () => {
  const fake = (minTime: number, maxTime: number, resolution: number, id: string) =>
    ({ ulid: id, resolution, meta: { minTime, maxTime } }) as unknown as BucketBlock;

  test('blocksFor: coarsest resolution <= the limit, gaps filled from finer blocks (Thanos rule)', () => {
    const R5 = 300_000;
    const R1H = 3_600_000;
    const blocks = [
      fake(0, 100, 0, 'raw0'),
      fake(0, 100, R5, 'm0'),
      fake(100, 200, 0, 'raw1'),
      fake(200, 300, 0, 'raw2'),
      fake(200, 300, R5, 'm2'),
      fake(0, 300, R1H, 'h0'),
      fake(300, 400, 0, 'raw3'),
    ].sort((a, b) => a.meta.minTime - b.meta.minTime);
    const ids = (xs: BucketBlock[]) => xs.map((b) => b.ulid);
    assert.deepEqual(ids(blocksFor(blocks, 0, 399, 0)), ['raw0', 'raw1', 'raw2', 'raw3']);
    assert.deepEqual(ids(blocksFor(blocks, 0, 399, R5)), ['m0', 'raw1', 'm2', 'raw3']);
    assert.deepEqual(ids(blocksFor(blocks, 0, 399, R1H)), ['h0', 'raw3']);
    assert.deepEqual(ids(blocksFor(blocks, 150, 250, R5)), ['raw1', 'm2']);
    assert.deepEqual(ids(blocksFor(blocks, 150, 250, R5 - 1)), ['raw1', 'raw2']);
    assert.deepEqual(ids(blocksFor(blocks, 500, 600, R1H)), []);
  });

  test('the querier derives the limit from the step (step/5) unless told', async () => {
    const store = new BucketStore({ bucket: new MemoryBucket() });
    assert.equal(store.querier().maxResolution({ start: 0, end: 1 }), 0);
    assert.equal(store.querier().maxResolution({ start: 0, end: 1, step: 1_500_000 }), 300_000);
    assert.equal(store.querier().maxResolution({ start: 0, end: 1, step: 60_000 }), 12_000);
    assert.equal(store.querier({ maxSourceResolution: 0 }).maxResolution({ start: 0, end: 1, step: 1e9 }), 0);
    assert.throws(() => store.querier({ maxSourceResolution: -1 }), /maxSourceResolution -1/);
  });

  test('partitionRanges: merges small gaps, splits big ones, never reads more than about twice what is wanted', () => {
    const r = (start: number, end: number) => ({ start, end });
    assert.deepEqual(partitionRanges([r(0, 10), r(20, 30), r(1000, 1010)], 100), [
      { start: 0, end: 30, first: 0, last: 1 },
      { start: 1000, end: 1010, first: 2, last: 2 },
    ]);
    // Overlapping ranges (estimates reaching into the next item) merge.
    assert.deepEqual(partitionRanges([r(0, 50), r(40, 60)], 0), [{ start: 0, end: 60, first: 0, last: 1 }]);
    // Many tiny ranges with 3 KiB gaps: merged only while the gaps stay near the wanted bytes.
    const many = Array.from({ length: 100 }, (_, i) => r(i * 3000, i * 3000 + 10));
    const parts = partitionRanges(many, 1 << 20);
    let read = 0;
    for (const p of parts) read += p.end - p.start;
    assert.ok(parts.length > 1 && read <= 2 * 100 * 10 + parts.length * 4096 + 3000, `${parts.length} parts, ${read} bytes`);
    assert.throws(() => partitionRanges([r(10, 20), r(0, 5)], 10), /not sorted/);
  });
});

