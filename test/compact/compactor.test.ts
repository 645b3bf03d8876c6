/**
 * The compactor against a MemoryBucket: horizontal and vertical compaction checked sample by sample
 * against the sources, levels, tombstones, redundant blocks, retention, delete delay, partial uploads,
 * no-compact marks, bad data, the downsampling hook and the schedule.
 */
import { strict as assert } from 'node:assert';
import { stat } from 'node:fs/promises';
import { after, describe, test } from 'node:test';

import { Compactor, type DownsampleHookContext } from '../../src/compact/index.js';
import { decodeDeletionMark, decodeNoCompactMark, markNoCompact } from '../../src/compact/index.js';
import { labelsKey } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { IndexReader, decodeMeta, encodeMeta, type BlockMeta } from '../../src/tsdb/block/index.js';
import { createLogger } from '../../src/util/log.js';
import { bits, fromBits } from '../support/random.js';
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
  type SeriesData,
} from './helpers.js';

after(cleanupScratch);

function logs(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', {}, (l) => lines.push(l)) };
}

async function metaOf(bucket: MemoryBucket, ulid: string): Promise<BlockMeta> {
  return decodeMeta(new TextDecoder().decode(await bucket.get(`${ulid}/meta.json`)));
}

/** Chunk sample counts of a block in the bucket, read from its index and chunk headers. */
async function chunkSizes(bucket: MemoryBucket, ulid: string): Promise<number[]> {
  const ix = IndexReader.parse(await bucket.get(`${ulid}/index`));
  const seg = await bucket.get(`${ulid}/chunks/000001`);
  const out: number[] = [];
  for (const id of ix.allPostings()) {
    for (const c of ix.series(id).chunks) {
      let p = c.ref % 2 ** 32;
      while (seg[p]! & 0x80) p++; // skip the length varint
      p += 2; // last varint byte, encoding byte
      out.push((seg[p]! << 8) | seg[p + 1]!);
    }
  }
  return out;
}

const counter = (i: number, t: number) => Math.floor((t - T0) / 15000) * (i + 1);
const noisy = (i: number, t: number) => Math.sin(t / 1e6 + i) * 1000;

describe('horizontal compaction', () => {
  test('4x2h -> 8h: every sample intact, chunks copied, meta as Thanos writes it; sources deleted after the delay', async () => {
    const bucket = new MemoryBucket();
    const ext = { cluster: 'eu1', tenant: 'a' };
    const sets: SeriesData[][] = [];
    const metas: BlockMeta[] = [];
    for (let k = 0; k < 5; k++) {
      const lo = T0 + k * 2 * HOUR;
      const data = makeSeries(20, lo, lo + 2 * HOUR, 15_000, k % 2 ? noisy : counter);
      data[3]!.vs[10] = STALE_NAN;
      sets.push(data);
      metas.push(await uploadBlock(bucket, data, { minT: lo, maxT: lo + 2 * HOUR, ext }));
    }
    let now = T0 + 11 * HOUR;
    const { lines, logger } = logs();
    const c = new Compactor({ bucket, logger, now: () => now, chunkWindowBytes: 2048 });
    const before = bucket.stats.getRanges;
    const sum = await c.runOnce();
    assert.deepEqual(sum.errors, []);
    assert.equal(sum.compactions.length, 1);
    const res = sum.compactions[0]!;
    assert.equal(res.kind, 'horizontal');
    assert.deepEqual(res.sources, metas.slice(0, 4).map((m) => m.ulid));
    const out = res.block!;
    assert.ok(bucket.stats.getRanges - before > 4, 'chunks were read through several small windows');

    const meta = await metaOf(bucket, out.ulid);
    assert.equal(meta.minTime, T0);
    assert.equal(meta.maxTime, T0 + 8 * HOUR);
    assert.equal(meta.compaction.level, 2);
    assert.deepEqual(meta.compaction.sources, metas.slice(0, 4).map((m) => m.ulid).sort());
    assert.deepEqual(meta.compaction.parents, metas.slice(0, 4).map((m) => ({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime })));
    assert.deepEqual(meta.thanos?.labels, ext);
    assert.deepEqual(meta.thanos?.downsample, { resolution: 0 });
    assert.equal(meta.thanos?.source, 'compactor');
    const files = meta.thanos?.files as { rel_path: string; size_bytes?: number }[];
    assert.deepEqual(files.map((f) => f.rel_path), ['chunks/000001', 'index', 'meta.json']);
    for (const f of files.filter((x) => x.rel_path !== 'meta.json')) {
      assert.equal(f.size_bytes, (await bucket.attributes(`${out.ulid}/${f.rel_path}`)).size, f.rel_path);
    }
    const srcChunks = metas.slice(0, 4).reduce((n, m) => n + m.stats.numChunks!, 0);
    const srcSamples = metas.slice(0, 4).reduce((n, m) => n + m.stats.numSamples!, 0);
    assert.equal(meta.stats.numChunks, srcChunks, 'one chunk out per chunk in');
    assert.equal(meta.stats.numSamples, srcSamples);
    assert.equal(meta.stats.numSeries, 20);
    assert.equal(res.stats.chunksCopied, srcChunks);
    assert.equal(res.stats.chunksEncoded, 0, 'non-overlapping chunks are not re-encoded');

    // Sample by sample: what a reader sees equals what was uploaded, and the compacted block alone holds
    // exactly the four sources' samples.
    const view = await readBucket(bucket);
    assert.deepEqual(view.blocks.map((b) => b.ulid).sort(), [out.ulid, metas[4]!.ulid].sort());
    const n = assertSamples(view, expected(...sets), 'after compaction');
    assert.equal(view.overlaps, 0);
    assert.equal(n, srcSamples + metas[4]!.stats.numSamples!);
    for (const m of metas.slice(0, 4)) {
      const mark = decodeDeletionMark(await bucket.get(`${m.ulid}/deletion-mark.json`), 'mark', m.ulid);
      assert.equal(mark.deletion_time, Math.floor(now / 1000));
    }
    assert.ok(lines.some((l) => l.includes('msg="compacted blocks"') && l.includes(out.ulid) && l.includes(metas[0]!.ulid)), 'compaction is logged with the blocks');
    assert.equal(c.metrics.compactions, 1);
    assert.equal(c.metrics.blocksCompacted, 4);
    assert.equal(c.metrics.samplesWritten, srcSamples);

    // Nothing more to do; the sources stay until the delete delay (48h) has passed.
    now += 47 * HOUR;
    const second = await c.runOnce();
    assert.equal(second.compactions.length, 0);
    assert.deepEqual(second.deleted, []);
    now += 1 * HOUR;
    const third = await c.runOnce();
    assert.deepEqual(third.deleted.sort(), metas.slice(0, 4).map((m) => m.ulid).sort());
    const left = new Set((await keys(bucket)).map((k) => k.slice(0, k.indexOf('/'))));
    assert.deepEqual([...left].sort(), [out.ulid, metas[4]!.ulid].sort(), 'no object of a deleted block remains');
    assertSamples(await readBucket(bucket), expected(...sets), 'after deletion');
  });

  test('levels: 24x2h + a newer block become one 2d block (level 3) in one run', async () => {
    const bucket = new MemoryBucket();
    const sets: SeriesData[][] = [];
    for (let k = 0; k < 25; k++) {
      const lo = T0 + k * 2 * HOUR;
      const data = makeSeries(3, lo, lo + 2 * HOUR, 600_000, counter);
      sets.push(data);
      await uploadBlock(bucket, data, { minT: lo, maxT: lo + 2 * HOUR, ext: { cluster: 'x' } });
    }
    const c = new Compactor({ bucket, now: () => T0 + 60 * HOUR, deleteDelayMs: 0 });
    const sum = await c.runOnce();
    assert.deepEqual(sum.errors, []);
    assert.equal(sum.compactions.length, 7, '6 compactions to 8h, one to 2d');
    assert.deepEqual(
      sum.compactions.map((r) => r.block!.maxTime - r.block!.minTime),
      [8, 8, 8, 8, 8, 8, 48].map((h) => h * HOUR),
    );
    const view = await readBucket(bucket);
    assert.equal(view.blocks.length, 2);
    const big = view.blocks.find((b) => b.maxTime - b.minTime === 48 * HOUR)!;
    assert.equal(big.compaction.level, 3);
    assert.equal(big.compaction.sources!.length, 24);
    assert.equal(big.compaction.parents!.length, 6);
    assertSamples(view, expected(...sets), '2d block');
    assert.equal(sum.deleted.length, 24 + 6, 'every intermediate and source block deleted (delete delay 0)');
    assert.equal((await keys(bucket)).filter((k) => k.endsWith('deletion-mark.json')).length, 0);
  });

  test('tombstones in a source are applied: deleted samples are gone, chunks touched by them re-encoded', async () => {
    const bucket = new MemoryBucket();
    const sets: SeriesData[][] = [];
    const del = { mint: T0 + 30 * 60_000, maxt: T0 + 50 * 60_000 };
    for (let k = 0; k < 5; k++) {
      const lo = T0 + k * 2 * HOUR;
      const data = makeSeries(4, lo, lo + 2 * HOUR, 15_000, counter);
      sets.push(data);
      const deleteRanges = k === 0 ? [{ match: (ls: readonly string[]) => ls.includes('host-001'), ...del }] : undefined;
      await uploadBlock(bucket, data, { minT: lo, maxT: lo + 2 * HOUR, ...(deleteRanges ? { deleteRanges } : {}) });
    }
    const before = await readBucket(bucket);
    const c = new Compactor({ bucket, now: () => T0 + 11 * HOUR });
    const sum = await c.runOnce();
    const res = sum.compactions[0]!;
    const deletedWant = sets[0]![1]!.ts.filter((t) => t >= del.mint && t <= del.maxt).length;
    assert.equal(res.stats.deletedSamples, deletedWant);
    assert.ok(res.stats.chunksEncoded >= 1);
    const after = await readBucket(bucket);
    assert.equal(after.series.get(labelsKey(sets[0]![1]!.labels))!.ts.some((t) => t >= del.mint && t <= del.maxt), false);
    assert.deepEqual(after.series, before.series, 'the reader sees the same samples before and after');
  });
});

describe('vertical compaction', () => {
  test("two replicas' identical blocks: samples once, chunks copied once, replica label dropped", async () => {
    const bucket = new MemoryBucket();
    const data = makeSeries(10, T0, T0 + 2 * HOUR, 15_000, noisy);
    const a = await uploadBlock(bucket, data, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'eu', replica: 'A' } });
    const b = await uploadBlock(bucket, data, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'eu', replica: 'B' } });

    // Without replica labels the replicas are different groups: nothing to do.
    const plain = await new Compactor({ bucket, now: () => T0 + 3 * HOUR }).runOnce();
    assert.equal(plain.compactions.length, 0);

    const c = new Compactor({ bucket, now: () => T0 + 3 * HOUR, replicaLabels: ['replica'] });
    const sum = await c.runOnce();
    assert.equal(sum.compactions.length, 1);
    const res = sum.compactions[0]!;
    assert.equal(res.kind, 'vertical');
    assert.equal(res.stats.duplicateSamples, a.stats.numSamples);
    assert.equal(res.stats.chunksCopied, a.stats.numChunks);
    assert.equal(res.stats.chunksEncoded, 0);
    assert.equal(res.stats.conflictingSamples, 0);
    const meta = res.block!;
    assert.deepEqual(meta.thanos?.labels, { cluster: 'eu' });
    assert.equal(meta.stats.numSamples, a.stats.numSamples);
    assert.deepEqual(meta.compaction.sources, [a.ulid, b.ulid].sort());
    assert.equal(meta.compaction.level, 2);
    const view = await readBucket(bucket);
    assert.deepEqual(view.blocks.map((x) => x.ulid), [meta.ulid]);
    assertSamples(view, expected(data), 'deduplicated');
    assert.equal(c.metrics.duplicateSamples, a.stats.numSamples);
    assert.equal(c.metrics.verticalCompactions, 1);
  });

  test('replicas cut differently and shifted: merged sample by sample, re-encoded into chunks of <= 120', async () => {
    const bucket = new MemoryBucket();
    const full = makeSeries(6, T0, T0 + 2 * HOUR, 15_000, counter);
    // Replica B: the same samples, but it started 20 min late, stopped 10 min early, and cut chunks at 100.
    const part = full.map((s) => {
      const keep = s.ts.map((t, i) => [t, i] as const).filter(([t]) => t >= T0 + 20 * 60_000 && t < T0 + 110 * 60_000);
      return { labels: s.labels, ts: keep.map(([t]) => t), vs: Float64Array.from(keep.map(([, i]) => s.vs[i]!)) };
    });
    await uploadBlock(bucket, full, { minT: T0, maxT: T0 + 2 * HOUR, ext: { replica: 'A' } });
    const b = await uploadBlock(bucket, part, { minT: T0, maxT: T0 + 2 * HOUR, ext: { replica: 'B' }, perChunk: 100 });
    const c = new Compactor({ bucket, now: () => T0 + 3 * HOUR, replicaLabels: ['replica'] });
    const res = (await c.runOnce()).compactions[0]!;
    assert.equal(res.stats.duplicateSamples, b.stats.numSamples);
    assert.equal(res.stats.conflictingSamples, 0);
    assert.ok(res.stats.chunksEncoded > 0);
    const sizes = await chunkSizes(bucket, res.block!.ulid);
    assert.ok(sizes.every((n) => n > 0 && n <= 120), `chunk sizes ${sizes.join(',')}`);
    assertSamples(await readBucket(bucket), expected(full), 'union');
  });

  test('same timestamp, different values: one deterministic choice (larger bit pattern), counted', async () => {
    const bucket = new MemoryBucket();
    const a = makeSeries(2, T0, T0 + HOUR, 60_000, counter);
    const b = a.map((s) => ({ labels: s.labels, ts: [...s.ts], vs: Float64Array.from(s.vs) }));
    b[0]!.vs[5] = -1; // sign bit set: the larger pattern, so B's value wins
    b[0]!.vs[6] = 0.5; // smaller pattern than the counter's value? computed below
    b[1]!.vs[7] = fromBits(0x7ff80000, 1); // a NaN with payload
    const want = a.map((s) => ({ labels: s.labels, ts: [...s.ts], vs: Float64Array.from(s.vs) }));
    let conflicts = 0;
    for (let i = 0; i < a.length; i++) {
      for (let k = 0; k < a[i]!.ts.length; k++) {
        const x = bits(a[i]!.vs[k]!);
        const y = bits(b[i]!.vs[k]!);
        if (x === y) continue;
        conflicts++;
        // 16 hex digits compare like the unsigned 64-bit integers they spell.
        if (y > x) want[i]!.vs[k] = b[i]!.vs[k]!;
      }
    }
    assert.equal(conflicts, 3);
    await uploadBlock(bucket, a, { minT: T0, maxT: T0 + 2 * HOUR });
    await uploadBlock(bucket, b, { minT: T0 + HOUR / 2 - 30 * 60_000, maxT: T0 + 2 * HOUR });
    const { lines, logger } = logs();
    const c = new Compactor({ bucket, logger, now: () => T0 + 3 * HOUR });
    const res = (await c.runOnce()).compactions[0]!;
    assert.equal(res.stats.conflictingSamples, 3);
    assert.equal(c.metrics.conflictingSamples, 3);
    assert.ok(lines.some((l) => l.includes('level=warn') && l.includes('conflicting_samples=3')));
    assertSamples(await readBucket(bucket), expected(want), 'conflicts resolved');
  });
});

describe('marks, retention, deletion, partial uploads', () => {
  test('a block whose sources are all in another block is marked (crash between upload and marking)', async () => {
    const bucket = new MemoryBucket();
    const d1 = makeSeries(3, T0, T0 + 2 * HOUR, 60_000, counter);
    const d2 = makeSeries(3, T0 + 2 * HOUR, T0 + 4 * HOUR, 60_000, counter);
    const m1 = await uploadBlock(bucket, d1, { minT: T0, maxT: T0 + 2 * HOUR });
    const m2 = await uploadBlock(bucket, d2, { minT: T0 + 2 * HOUR, maxT: T0 + 4 * HOUR });
    const merged = await uploadBlock(bucket, [...d1.map((s, i) => ({ labels: s.labels, ts: [...s.ts, ...d2[i]!.ts], vs: Float64Array.from([...s.vs, ...d2[i]!.vs]) }))], {
      minT: T0,
      maxT: T0 + 4 * HOUR,
      compaction: { level: 2, sources: [m1.ulid, m2.ulid].sort() },
    });
    const c = new Compactor({ bucket, now: () => T0 + 5 * HOUR });
    const sum = await c.runOnce();
    assert.equal(sum.compactions.length, 0, 'nothing is compacted twice');
    assert.deepEqual(sum.redundantMarked.sort(), [m1.ulid, m2.ulid].sort());
    assert.equal(c.metrics.redundantMarks, 2);
    const view = await readBucket(bucket);
    assert.deepEqual(view.blocks.map((b) => b.ulid), [merged.ulid]);
    assertSamples(view, expected(d1, d2), 'redundant');
  });

  test('retention per resolution: old raw blocks marked and deleted, 5m kept forever (0), 1h by its own', async () => {
    const bucket = new MemoryBucket();
    const now = T0 + 40 * 24 * HOUR;
    const old = await uploadBlock(bucket, makeSeries(1, T0, T0 + 2 * HOUR, 60_000, counter), { minT: T0, maxT: T0 + 2 * HOUR });
    const young = await uploadBlock(bucket, makeSeries(1, now - 5 * 24 * HOUR, now - 5 * 24 * HOUR + HOUR, 60_000, counter), {
      minT: now - 5 * 24 * HOUR,
      maxT: now - 5 * 24 * HOUR + HOUR,
    });
    const fiveM = await uploadBlock(bucket, makeSeries(1, T0, T0 + 2 * HOUR, 300_000, counter), { minT: T0, maxT: T0 + 2 * HOUR, resolution: 300_000 });
    const oneH = await uploadBlock(bucket, makeSeries(1, T0, T0 + 2 * HOUR, 3_600_000, counter), { minT: T0, maxT: T0 + 2 * HOUR, resolution: 3_600_000 });
    const c = new Compactor({ bucket, now: () => now, retention: { raw: 10 * 24 * HOUR, fiveMinutes: 0, oneHour: 30 * 24 * HOUR }, deleteDelayMs: HOUR });
    const sum = await c.runOnce();
    assert.deepEqual(sum.retentionMarked.sort(), [old.ulid, oneH.ulid].sort());
    const mark = decodeDeletionMark(await bucket.get(`${old.ulid}/deletion-mark.json`), 'mark', old.ulid);
    assert.deepEqual(mark, { id: old.ulid, deletion_time: Math.floor(now / 1000), version: 1, details: 'retention' });
    assert.deepEqual(sum.deleted, [], 'not before the delete delay');
    const c2 = new Compactor({ bucket, now: () => now + HOUR, retention: { raw: 10 * 24 * HOUR }, deleteDelayMs: HOUR });
    const sum2 = await c2.runOnce();
    assert.deepEqual(sum2.deleted.sort(), [old.ulid, oneH.ulid].sort());
    const left = new Set((await keys(bucket)).map((k) => k.slice(0, 26)));
    assert.deepEqual([...left].sort(), [young.ulid, fiveM.ulid].sort());
    assert.throws(() => new Compactor({ bucket, retention: { raw: -1 } }), /retention.raw: -1/);
  });

  test('deletion order: meta.json first, data, deletion mark last; an interrupted deletion is finished', async () => {
    const mem = new MemoryBucket();
    const m = await uploadBlock(mem, makeSeries(2, T0, T0 + HOUR, 60_000, counter), { minT: T0, maxT: T0 + HOUR });
    const now = T0 + 100 * HOUR;
    await new Compactor({ bucket: mem, now: () => now, retention: { raw: HOUR }, deleteDelayMs: 10 * HOUR }).runOnce();
    const counting = new CrashingBucket(mem);
    await new Compactor({ bucket: counting, now: () => now + 10 * HOUR, deleteDelayMs: 10 * HOUR }).runOnce();
    const dels = counting.log.filter((l) => l.startsWith('delete '));
    assert.equal(dels[0], `delete ${m.ulid}/meta.json`);
    assert.equal(dels[dels.length - 1], `delete ${m.ulid}/deletion-mark.json`);
    assert.deepEqual(await keys(mem), []);

    // Crash right after meta.json is gone: the next run sees a partial block with a mark and finishes.
    const m3 = await uploadBlock(mem, makeSeries(2, T0, T0 + HOUR, 60_000, counter), { minT: T0, maxT: T0 + HOUR });
    await new Compactor({ bucket: mem, now: () => now, retention: { raw: HOUR }, deleteDelayMs: 10 * HOUR }).runOnce();
    await mem.delete(`${m3.ulid}/meta.json`);
    const sum = await new Compactor({ bucket: mem, now: () => now + 10 * HOUR, deleteDelayMs: 10 * HOUR }).runOnce();
    assert.deepEqual(sum.partialDeleted, [m3.ulid]);
    assert.deepEqual(await keys(mem), []);
  });

  test('partial uploads: kept while young, logged while waiting, deleted after the threshold', async () => {
    const bucket = new MemoryBucket();
    const full = await uploadBlock(bucket, makeSeries(2, T0, T0 + HOUR, 60_000, counter), { minT: T0, maxT: T0 + HOUR });
    const partial = await uploadBlock(bucket, makeSeries(2, T0, T0 + HOUR, 60_000, counter), { minT: T0, maxT: T0 + HOUR, partial: true });
    const real = Date.now();
    const run = async (offset: number) => {
      const { lines, logger } = logs();
      const sum = await new Compactor({ bucket, logger, now: () => real + offset }).runOnce();
      return { sum, lines };
    };
    let r = await run(10 * 60_000);
    assert.deepEqual(r.sum.partialDeleted, []);
    assert.equal(r.sum.compactions.length, 0, 'a partial block is never compacted (no overlap seen)');
    assert.ok(r.lines.some((l) => l.includes('younger than the consistency delay') && l.includes(partial.ulid)));
    r = await run(5 * HOUR);
    assert.deepEqual(r.sum.partialDeleted, []);
    assert.ok(r.lines.some((l) => l.includes('level=info') && l.includes('partial block') && l.includes(partial.ulid)));
    r = await run(49 * HOUR);
    assert.deepEqual(r.sum.partialDeleted, [partial.ulid]);
    assert.ok(r.lines.some((l) => l.includes('level=warn') && l.includes('deleted aborted partial upload') && l.includes(partial.ulid)));
    assert.deepEqual([...new Set((await keys(bucket)).map((k) => k.slice(0, 26)))], [full.ulid]);
  });

  test('no-compact marks: the block stays out; unreadable meta.json is logged and left alone', async () => {
    const bucket = new MemoryBucket();
    const d = makeSeries(2, T0, T0 + HOUR, 60_000, counter);
    const a = await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR });
    await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR });
    await markNoCompact(bucket, a.ulid, T0);
    const bad = '01JBADBADBADBADBADBADBADBA';
    await bucket.put(`${bad}/meta.json`, new TextEncoder().encode('{"version": 1, "ulid": "nope"'));
    const { lines, logger } = logs();
    const sum = await new Compactor({ bucket, logger, now: () => T0 + 2 * HOUR }).runOnce();
    assert.equal(sum.compactions.length, 0);
    assert.ok(lines.some((l) => l.includes("level=error") && l.includes(bad) && l.includes("not valid JSON")));
    assert.ok(await bucket.exists(`${bad}/meta.json`), 'a block with a broken meta.json is not deleted');
  });

  test('bad data in a source: the group fails, the block gets a no-compact mark, other groups proceed', async () => {
    const bucket = new MemoryBucket();
    const d = makeSeries(3, T0, T0 + HOUR, 60_000, counter);
    const a = await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR, ext: { g: '1' } });
    await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR, ext: { g: '1' } });
    const seg = await bucket.get(`${a.ulid}/chunks/000001`);
    seg[20] = seg[20]! ^ 0xff; // inside the first chunk: CRC mismatch
    await bucket.put(`${a.ulid}/chunks/000001`, seg);
    await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR, ext: { g: '2' } });
    await uploadBlock(bucket, d, { minT: T0, maxT: T0 + HOUR, ext: { g: '2' } });
    const { lines, logger } = logs();
    const c = new Compactor({ bucket, logger, now: () => T0 + 2 * HOUR });
    const sum = await c.runOnce();
    assert.equal(sum.errors.length, 1);
    assert.match(sum.errors[0]!, new RegExp(`block ${a.ulid}: .*checksum mismatch`));
    assert.equal(sum.compactions.length, 1, 'group g=2 compacted');
    assert.equal(sum.compactions[0]!.group, '0@{g="2"}');
    const mark = decodeNoCompactMark(await bucket.get(`${a.ulid}/no-compact-mark.json`), 'mark', a.ulid);
    assert.equal(mark.reason, 'block-data-error');
    assert.equal(c.metrics.compactionFailures, 1);
    assert.equal(c.metrics.noCompactMarks, 1);
    assert.equal(c.metrics.runFailures, 1);
    assert.ok(lines.some((l) => l.includes('level=error') && l.includes('compaction failed') && l.includes(a.ulid)));
    const again = await c.runOnce();
    assert.deepEqual(again.errors, [], 'the marked block is left alone from now on');
    assert.equal(again.compactions.length, 0);
  });
});

describe('compactor lifecycle', () => {
  test('downsampling hook: called after compaction with the live blocks and its own work dir; failures counted', async () => {
    const bucket = new MemoryBucket();
    for (let k = 0; k < 5; k++) {
      const lo = T0 + k * 2 * HOUR;
      await uploadBlock(bucket, makeSeries(2, lo, lo + 2 * HOUR, 600_000, counter), { minT: lo, maxT: lo + 2 * HOUR });
    }
    const seen: DownsampleHookContext[] = [];
    let fail = false;
    const c = new Compactor({
      bucket,
      now: () => T0 + 11 * HOUR,
      downsample: async (ctx) => {
        seen.push(ctx);
        assert.ok((await stat(ctx.workDir)).isDirectory());
        if (fail) throw new Error('downsampler exploded');
      },
    });
    const sum = await c.runOnce();
    assert.equal(seen.length, 1);
    const spans = seen[0]!.metas.map((m) => (m.maxTime - m.minTime) / HOUR).sort();
    assert.deepEqual(spans, [2, 8], 'the new 8h block and the newest 2h block; marked sources are not offered');
    assert.equal(seen[0]!.metas.find((m) => m.maxTime - m.minTime === 8 * HOUR)!.ulid, sum.compactions[0]!.block!.ulid);
    fail = true;
    const sum2 = await c.runOnce();
    assert.equal(c.metrics.downsampleFailures, 1);
    assert.equal(c.metrics.downsampleRuns, 2);
    assert.match(sum2.errors.join('\n'), /downsampling step failed: downsampler exploded/);
  });

  test('start/stop: runs on a schedule, stop waits for the run and ends the schedule; concurrent runOnce share a run', async () => {
    const bucket = new MemoryBucket();
    await uploadBlock(bucket, makeSeries(1, T0, T0 + HOUR, 60_000, counter), { minT: T0, maxT: T0 + HOUR });
    const c = new Compactor({ bucket, now: () => T0 + 2 * HOUR });
    const [x, y] = [c.runOnce(), c.runOnce()];
    assert.equal(x, y);
    await x;
    c.start(20);
    const deadline = Date.now() + 3000;
    while (c.metrics.runs < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await c.stop();
    const runs = c.metrics.runs;
    assert.ok(runs >= 4, `${runs} runs`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(c.metrics.runs, runs, 'no run after stop');
    assert.throws(() => c.start(0), /must be positive/);
  });

  test('stop() aborts a compaction in progress; the bucket stays complete and the next run finishes the work', async () => {
    const mem = new MemoryBucket();
    const sets: SeriesData[][] = [];
    for (let k = 0; k < 5; k++) {
      const lo = T0 + k * 2 * HOUR;
      sets.push(makeSeries(50, lo, lo + 2 * HOUR, 15_000, noisy));
      await uploadBlock(mem, sets[k]!, { minT: lo, maxT: lo + 2 * HOUR });
    }
    // Stop as soon as the compaction starts reading chunks.
    let c: Compactor;
    let stopping: Promise<void> | null = null;
    const spy = new CrashingBucket(mem);
    const getRange = spy.getRange.bind(spy);
    spy.getRange = async (k, o, l) => {
      stopping ??= c.stop();
      return getRange(k, o, l);
    };
    c = new Compactor({ bucket: spy, now: () => T0 + 11 * HOUR, chunkWindowBytes: 4096 });
    c.start(60_000);
    const deadline = Date.now() + 5000;
    while (stopping === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await stopping;
    assert.equal(c.metrics.runFailures, 1, 'the run was aborted');
    assert.equal(c.metrics.compactions, 0);
    assert.ok(!spy.log.some((l) => l.includes('meta.json') && l.startsWith('put')), 'no block was published');
    assertSamples(await readBucket(mem), expected(...sets), 'after the abort');
    const sum = await new Compactor({ bucket: mem, now: () => T0 + 11 * HOUR }).runOnce();
    assert.equal(sum.compactions.length, 1);
    assertSamples(await readBucket(mem), expected(...sets), 'after the next run');
  });

  test('the meta.json we upload round-trips through our decoder and our encoder byte for byte', async () => {
    const bucket = new MemoryBucket();
    for (let k = 0; k < 5; k++) {
      const lo = T0 + k * 2 * HOUR;
      await uploadBlock(bucket, makeSeries(2, lo, lo + 2 * HOUR, 600_000, counter), { minT: lo, maxT: lo + 2 * HOUR, ext: { a: 'b' } });
    }
    const sum = await new Compactor({ bucket, now: () => T0 + 11 * HOUR }).runOnce();
    const text = new TextDecoder().decode(await bucket.get(`${sum.compactions[0]!.block!.ulid}/meta.json`));
    assert.equal(encodeMeta(decodeMeta(text)), text);
    assert.match(text, /"thanos": \{\n\t\t"labels": \{\n\t\t\t"a": "b"\n\t\t\},\n\t\t"downsample": \{\n\t\t\t"resolution": 0\n\t\t\},\n\t\t"source": "compactor",\n\t\t"segment_files": \[/);
  });
});
