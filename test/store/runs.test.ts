/**
 * Chunk runs: the store reads a series' chunks of a block as one range and caches them as one entry. Here
 * series have many small chunks that cross segment files (tiny segments), reads are sized by a tiny
 * estimate (so the last record of a range is often read again), and a sequence of ranges on one store
 * makes cached runs be reused, narrowed and replaced; every answer must equal the in-memory block reader's.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { MergeQuerier } from '../../src/storage/merge.js';
import type { Querier } from '../../src/storage/interface.js';
import { openBlock, writeBlock } from '../../src/tsdb/block/index.js';
import { BucketStore } from '../../src/store/index.js';
import { makeSeries, readSet, toChunks, uploadBlockDir } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'argus-store-runs-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
const ALL = [new Matcher(MatchType.Regexp, '__name__', 'store_metric_.*')];

describe('chunk runs across segments, refetches and cache reuse', () => {
  const bucket = new MemoryBucket();
  let reference: Querier;
  let segments = 0;

  before(async () => {
    const dirs: string[] = [];
    for (let b = 0; b < 3; b++) {
      const minT = T0 + b * 4 * H;
      // 10 samples per chunk: ~48 chunks per series and block; 3 KiB segments: a series' chunks span several.
      const series = makeSeries(10 + b, 40, minT, minT + 4 * H, 30_000).map((s) => toChunks(s, 10));
      const meta = await writeBlock(join(root, 'blocks'), series, { minT, maxT: minT + 4 * H, segmentSize: 3 * 1024 });
      dirs.push(join(root, 'blocks', meta.ulid));
      segments += readdirSync(join(root, 'blocks', meta.ulid, 'chunks')).length;
    }
    reference = new MergeQuerier(await Promise.all(dirs.map(async (d) => (await openBlock(d)).querier())));
    for (const d of dirs) await uploadBlockDir(bucket, d);
  });

  const ranges: [number, number][] = [
    [T0 + 5 * H, T0 + 6 * H], // inside one block: a narrow run is cached
    [T0, T0 + 12 * H], // everything: the narrow run does not cover it and is replaced
    [T0 + 30 * 60_000, T0 + 9 * H + 7 * 60_000], // served from the wide runs
    [T0 + 4 * H - 1, T0 + 4 * H], // the edge between two blocks
    [T0 + 11 * H, T0 + 13 * H], // past the end
  ];

  // With an estimate of 1 byte the first read of a range stops just past the start of its last record.
  for (const [cacheBytes, estimate] of [
    [8 * 1024 * 1024, 64],
    [0, 64],
    [0, 1],
  ] as const) {
    test(`same samples as the in-memory reader for a sequence of ranges (cache ${cacheBytes} B, estimate ${estimate} B)`, async () => {
      assert.ok(segments >= 9, `the blocks have ${segments} segment files`);
      const store = new BucketStore({ bucket, cacheBytes, chunkSizeEstimate: estimate });
      await store.sync();
      let samples = 0;
      for (const [start, end] of ranges) {
        const want = await readSet(reference.select({ start, end }, ALL));
        const got = await readSet(store.querier().select({ start, end }, ALL));
        assert.deepEqual(got, want, `range [${start - T0}, ${end - T0}]`);
        for (const s of got) samples += s.ts.length;
      }
      assert.ok(samples > 50_000, `${samples} samples compared`);
      assert.ok(store.stats().refetches > 0, 'the tiny estimate made some records be read again');
      await store.close();
    });
  }

  test('a repeated query: one cache hit per series and block, no request', async () => {
    const store = new BucketStore({ bucket, cacheBytes: 8 * 1024 * 1024 });
    await store.sync();
    const hints = { start: T0, end: T0 + 12 * H };
    const first = await readSet(store.querier().select(hints, ALL));
    const before = store.stats();
    const again = await readSet(store.querier().select(hints, ALL));
    const after = store.stats();
    assert.deepEqual(again, first);
    assert.equal(after.requests, before.requests, 'no request for a cached query');
    // 40 series in each of 3 blocks, each series' ~48 chunks per block in one entry.
    assert.equal(after.cacheByKind.chunks.hits - before.cacheByKind.chunks.hits, 3 * 40);
    assert.equal(after.cacheByKind.chunks.misses, before.cacheByKind.chunks.misses);
    await store.close();
  });
});
