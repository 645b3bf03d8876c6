/**
 * Downsampled blocks through the store gateway: with a query step of 25m (max source resolution 5m) the
 * store reads the 5m block where one exists and raw blocks elsewhere; the aggregate follows the function
 * hint (count_over_time reads counts, which must add up to the raw sample count); with a 1m step or an
 * explicit maxSourceResolution of 0 it reads raw data only.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { MemoryBucket } from '../../src/objstore/index.js';
import { MergeQuerier } from '../../src/storage/merge.js';
import { ValueType } from '../../src/storage/interface.js';
import { ChunkReader, IndexReader, openBlock, writeBlock } from '../../src/tsdb/block/index.js';
import { downsampledIterator } from '../../src/tsdb/chunkenc/index.js';
import { downsampleBlock } from '../../src/compact/downsample/index.js';
import { BucketStore } from '../../src/store/index.js';
import { labelsKey, makeSeries, readSet, toChunks, uploadBlockDir } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'argus-store-ds-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3_600_000;
const R5 = 300_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (8 * H));

describe('downsampled blocks', () => {
  let store: BucketStore;
  let rawA = '';
  let rawB = '';
  let ds = '';
  const rawSamples = new Map<string, number>();

  before(async () => {
    const dir = join(root, 'blocks');
    const a = makeSeries(7, 12, T0, T0 + 8 * H, 30_000);
    const b = makeSeries(8, 12, T0 + 8 * H, T0 + 10 * H, 30_000);
    for (const s of a) rawSamples.set(labelsKey(s.labels), s.ts.length);
    const ma = await writeBlock(dir, a.map((s) => toChunks(s)), { minT: T0, maxT: T0 + 8 * H });
    const mb = await writeBlock(dir, b.map((s) => toChunks(s)), { minT: T0 + 8 * H, maxT: T0 + 10 * H });
    rawA = join(dir, ma.ulid);
    rawB = join(dir, mb.ulid);
    const md = await downsampleBlock(rawA, R5, join(root, 'ds'));
    assert.ok(md !== null);
    assert.equal(md.thanos?.downsample?.resolution, R5);
    ds = join(root, 'ds', md.ulid);
    const bucket = new MemoryBucket();
    for (const d of [rawA, rawB, ds]) await uploadBlockDir(bucket, d);
    store = new BucketStore({ bucket });
    assert.equal((await store.sync()).blocks, 3);
  });

  test('step 25m: the 5m block where it exists, raw elsewhere; count_over_time reads counts', async () => {
    const hints = { start: T0, end: T0 + 10 * H, step: 25 * 60_000, func: 'count_over_time' };
    const got = await readSet(store.querier().select(hints, []));
    assert.equal(got.length, 12);
    const rawTail = new MergeQuerier([(await openBlock(rawB)).querier()]);
    const tail = new Map((await readSet(rawTail.select({ start: T0 + 8 * H, end: T0 + 10 * H }, []))).map((s) => [s.key, s]));
    for (const s of got) {
      const vs = new Float64Array(s.bits.buffer);
      let counted = 0;
      let i = 0;
      for (; i < s.ts.length && s.ts[i]! < T0 + 8 * H; i++) counted += vs[i]!;
      assert.equal(counted, rawSamples.get(s.key), `5m counts of ${s.key} add up to its raw samples`);
      assert.ok(i < 8 * 12 + 2, `${i} aggregated samples in 8h at 5m`);
      // After the downsampled range: the raw block, sample for sample.
      const want = tail.get(s.key)!;
      assert.deepEqual([...s.ts.subarray(i)], [...want.ts]);
      assert.deepEqual([...s.bits.subarray(2 * i)], [...want.bits]);
    }
  });

  test('plain selector (average) equals sum/count read from the 5m block files directly', async () => {
    const start = T0 + 2 * H;
    const end = T0 + 5 * H;
    const got = await readSet(store.querier().select({ start, end, step: 30 * 60_000 }, []));
    const index = IndexReader.parse(new Uint8Array(readFileSync(join(ds, 'index'))));
    const chunks = await ChunkReader.open(join(ds, 'chunks'));
    const ids = index.allPostings();
    assert.equal(got.length, ids.length);
    const want = new Map<string, { ts: number[]; vs: number[] }>();
    for (const id of ids) {
      const e = index.series(id);
      const cs = e.chunks.filter((c) => c.maxT >= start && c.minT <= end).map((c) => chunks.chunk(c.ref));
      const it = downsampledIterator(cs, 'average', start, end);
      const ts: number[] = [];
      const vs: number[] = [];
      while (it.next() !== ValueType.None) {
        ts.push(it.atT());
        vs.push(it.atF());
      }
      assert.equal(it.err(), null);
      want.set(labelsKey(e.labels), { ts, vs });
    }
    for (const s of got) {
      const w = want.get(s.key)!;
      assert.ok(w.ts.length > 30, `${w.ts.length} averages`);
      assert.deepEqual([...s.ts], w.ts);
      assert.deepEqual([...new Float64Array(s.bits.buffer)], w.vs);
    }
    // max_over_time reads the max aggregate: never below the average.
    const max = await readSet(store.querier().select({ start, end, step: 30 * 60_000, func: 'max_over_time' }, []));
    for (let k = 0; k < max.length; k++) {
      const a = new Float64Array(got[k]!.bits.buffer);
      const mx = new Float64Array(max[k]!.bits.buffer);
      for (let j = 0; j < a.length; j++) assert.ok(mx[j]! >= a[j]!);
    }
  });

  test('step 1m or maxSourceResolution 0: raw blocks only', async () => {
    const reference = new MergeQuerier([(await openBlock(rawA)).querier(), (await openBlock(rawB)).querier()]);
    const want = await readSet(reference.select({ start: T0, end: T0 + 10 * H }, []));
    assert.deepEqual(await readSet(store.querier().select({ start: T0, end: T0 + 10 * H, step: 60_000 }, [])), want);
    assert.deepEqual(await readSet(store.querier({ maxSourceResolution: 0 }).select({ start: T0, end: T0 + 10 * H, step: 3_600_000 }, [])), want);
  });
});
