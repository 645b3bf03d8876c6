/**
 * Crash safety: a compaction run is cut at every bucket operation in turn (the bucket throws from then on,
 * as if the process died), then a fresh compactor runs on the same bucket. At the crash point and after
 * recovery, a reader that ignores partial and deletion-marked blocks and merges overlapping blocks must
 * see exactly the samples that were uploaded; after recovery the bucket must hold exactly what an
 * uninterrupted run leaves (same blocks by range, labels and sources; no marks, no partial folders).
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { Compactor } from '../../src/compact/index.js';
import { MemoryBucket, type Bucket } from '../../src/objstore/index.js';
import { decodeMeta } from '../../src/tsdb/block/index.js';
import {
  CrashingBucket,
  HOUR,
  T0,
  assertSamples,
  cleanupScratch,
  expected,
  keys,
  makeSeries,
  readBucket,
  uploadBlock,
  type BlockCache,
  type SeriesData,
} from './helpers.js';

// tmpfs when there is one: the compactor fsyncs its local block, which is all cost and no value here.
const workRoot = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'argus-compact-crash-'));
after(async () => {
  await rm(workRoot, { recursive: true, force: true });
  await cleanupScratch();
});

async function clone(src: MemoryBucket): Promise<MemoryBucket> {
  const dst = new MemoryBucket();
  for (const k of await keys(src)) await dst.put(k, await src.get(k));
  return dst;
}

/** What a finished bucket looks like, independent of ULIDs: range, group labels, number of sources. */
async function shape(bucket: Bucket): Promise<string[]> {
  const out: string[] = [];
  const all = await keys(bucket);
  const dirs = [...new Set(all.map((k) => k.slice(0, k.indexOf('/'))))];
  for (const d of dirs) {
    const files = all.filter((k) => k.startsWith(d + '/')).map((k) => k.slice(d.length + 1));
    assert.ok(files.includes('meta.json'), `folder ${d} has no meta.json: ${files.join(',')}`);
    assert.ok(!files.includes('deletion-mark.json'), `folder ${d} still has a deletion mark`);
    const m = decodeMeta(new TextDecoder().decode(await bucket.get(`${d}/meta.json`)));
    out.push(`${JSON.stringify(m.thanos?.labels)} [${(m.minTime - T0) / HOUR}h,${(m.maxTime - T0) / HOUR}h) level ${m.compaction.level} sources ${m.compaction.sources?.length} files ${files.length}`);
  }
  return out.sort();
}

test('crash at every bucket operation of a run: no sample lost or duplicated, recovery reaches the same end state', async (t) => {
  const base = new MemoryBucket();
  const sets: SeriesData[][] = [];
  // Group 1: four 2h blocks and a newer one (horizontal compaction to 8h).
  for (let k = 0; k < 5; k++) {
    const lo = T0 + k * 2 * HOUR;
    const data = makeSeries(2, lo, lo + 2 * HOUR, 20 * 60_000, (i, ts) => ts / 1000 + i);
    sets.push(data);
    await uploadBlock(base, data, { minT: lo, maxT: lo + 2 * HOUR, ext: { cluster: 'one' } });
  }
  // Group 2: two replicas' overlapping blocks with identical samples (vertical compaction).
  const rep = makeSeries(2, T0, T0 + 2 * HOUR, 10 * 60_000, (i, ts) => i - ts / 7).map((s) => ({ ...s, labels: [...s.labels, 'zone', 'b'] }));
  sets.push(rep);
  await uploadBlock(base, rep, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'two', replica: 'A' } });
  await uploadBlock(base, rep, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'two', replica: 'B' } });
  const want = expected(...sets);

  const now = Date.now();
  const options = (bucket: Bucket, at: number) => ({
    bucket,
    workDir: join(workRoot, 'w'),
    now: () => at,
    replicaLabels: ['replica'],
    deleteDelayMs: 0, // deletions happen in the same run, so their crash points are covered too
    consistencyDelayMs: 30 * 60_000,
    partialUploadThresholdMs: HOUR,
  });

  // The uninterrupted run: its operation count bounds the crash points, its result is the reference.
  const ref = await clone(base);
  const counting = new CrashingBucket(ref);
  const sum = await new Compactor(options(counting, now)).runOnce();
  assert.deepEqual(sum.errors, []);
  assert.equal(sum.compactions.length, 2);
  const total = counting.ops;
  const refShape = await shape(ref);
  assert.equal(refShape.length, 3, refShape.join('\n'));
  assertSamples(await readBucket(ref), want, 'reference');

  const cache: BlockCache = new Map();
  let crashedRuns = 0;
  for (let k = 0; k < total; k++) {
    const bucket = await clone(base);
    let crashed = false;
    try {
      const r = await new Compactor(options(new CrashingBucket(bucket, k), now)).runOnce();
      crashed = r.errors.length > 0;
    } catch {
      crashed = true;
    }
    assert.ok(crashed, `crash at operation ${k} (${counting.log[k]}) was noticed`);
    crashedRuns++;
    const what = `crash at op ${k} (${counting.log[k]})`;
    assertSamples(await readBucket(bucket, { openMarked: true, cache }), want, `${what}: reader after the crash`);

    // A restarted compactor, late enough that the abandoned partial upload is past the threshold.
    const rec = await new Compactor(options(bucket, now + 2 * HOUR)).runOnce();
    assert.deepEqual(rec.errors, [], `${what}: recovery run`);
    assertSamples(await readBucket(bucket, { cache }), want, `${what}: reader after recovery`);
    assert.deepEqual(await shape(bucket), refShape, `${what}: end state`);
    const again = await new Compactor(options(bucket, now + 3 * HOUR)).runOnce();
    assert.equal(again.compactions.length + again.deleted.length + again.partialDeleted.length, 0, `${what}: a further run has nothing to do`);
  }
  t.diagnostic(`uninterrupted run: ${total} bucket operations; crashed at each of ${crashedRuns} points and recovered`);
});
