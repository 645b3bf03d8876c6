/**
 * The pieces under the compactor: the streaming block writer, the sample and chunk merge (property tests
 * against a straightforward model), and fuzzing of what the compactor decodes from the bucket (chunk
 * segments read through windows, index files, marker JSON).
 */
import { strict as assert } from 'node:assert';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';

import {
  BlockDataError,
  BucketBlockReader,
  decodeDeletionMark,
  decodeNoCompactMark,
  encodeDeletionMark,
  encodeNoCompactMark,
  mergeChunks,
  mergeSamples,
  mergeSeries,
  newMergeStats,
  type MergeItem,
} from '../../src/compact/index.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { ValueType } from '../../src/storage/interface.js';
import { XorChunk, XorIterator } from '../../src/tsdb/chunkenc/index.js';
import { writeBlock, writeBlockStream, type BlockSeriesInput } from '../../src/tsdb/block/index.js';
import { bits, fromBits, rng } from '../support/random.js';
import { toChunks } from '../support/blocks.js';
import { HOUR, T0, cleanupScratch, makeSeries, scratch, uploadBlock } from './helpers.js';

after(cleanupScratch);
const SEED = 20261121;

describe('writeBlockStream', () => {
  test('writes the same bytes as writeBlock for the same series', async () => {
    const data = makeSeries(30, T0, T0 + 2 * HOUR, 15_000, (i, t) => Math.cos(t / 1e5) * i);
    const input = data.map((s) => toChunks(s));
    const dir = await scratch();
    const ulidA = '01HZZZZZZZZZZZZZZZZZZZZZZA';
    const ulidB = '01HZZZZZZZZZZZZZZZZZZZZZZB';
    const a = await writeBlock(join(dir, 'a'), [...input].reverse(), { minT: T0, maxT: T0 + 2 * HOUR, ulid: ulidA });
    async function* gen(): AsyncIterable<BlockSeriesInput> {
      yield* input; // makeSeries output is already in index order
    }
    const b = await writeBlockStream(join(dir, 'b'), gen(), { minT: T0, maxT: T0 + 2 * HOUR, ulid: ulidB });
    assert.deepEqual({ ...b, ulid: 'x', compaction: {} }, { ...a, ulid: 'x', compaction: {} });
    for (const f of ['index', 'chunks/000001', 'tombstones']) {
      assert.ok((await readFile(join(dir, 'a', ulidA, f))).equals(await readFile(join(dir, 'b', ulidB, f))), f);
    }
  });

  test('rejects series out of index order or repeated, naming them, and leaves nothing behind', async () => {
    const data = makeSeries(3, T0, T0 + HOUR, 60_000, () => 1).map((s) => toChunks(s));
    const dir = await scratch();
    await assert.rejects(writeBlockStream(dir, [data[1]!, data[0]!], { minT: T0, maxT: T0 + HOUR }), /instance="host-000".*arrives after.*host-001.*index order/);
    await assert.rejects(writeBlockStream(dir, [data[0]!, data[0]!], { minT: T0, maxT: T0 + HOUR }), /host-000.*appears twice/);
    await assert.rejects(
      writeBlockStream(dir, [{ labels: data[0]!.labels, chunks: [{ ...data[0]!.chunks[0]!, maxT: T0 + HOUR }] }], { minT: T0, maxT: T0 + HOUR }),
      /lies outside the block range/,
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

/** A run of samples: strictly increasing times from a small domain, values from a small set. */
const VALUES = [0, -0, 1, 1.5, -1, Infinity, NaN, fromBits(0x7ff00000, 2), fromBits(0x7ff80000, 7), 1e300];
const runArb = fc
  .uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 40 })
  .chain((ts) => fc.tuple(fc.constant(ts.sort((a, b) => a - b)), fc.array(fc.integer({ min: 0, max: VALUES.length - 1 }), { minLength: ts.length, maxLength: ts.length })));

function toRun([ts, vi]: [number[], number[]]) {
  const vs = new Float64Array(ts.length);
  vi.forEach((k, i) => (vs[i] = VALUES[k]!));
  return { ts: Float64Array.from(ts), vs, n: ts.length };
}

/** Model: per time, the value with the largest bit pattern; k samples of d distinct values: k-d duplicates, d-1 conflicts. */
function model(runs: { ts: Float64Array; vs: Float64Array; n: number }[]) {
  const best = new Map<number, string>();
  const seen = new Map<number, string[]>();
  for (const r of runs) {
    for (let i = 0; i < r.n; i++) {
      const b = bits(r.vs[i]!);
      (seen.get(r.ts[i]!) ?? seen.set(r.ts[i]!, []).get(r.ts[i]!)!).push(b);
      const had = best.get(r.ts[i]!);
      if (had === undefined || b > had) best.set(r.ts[i]!, b);
    }
  }
  let duplicates = 0;
  let conflicts = 0;
  for (const list of seen.values()) {
    const d = new Set(list).size;
    duplicates += list.length - d;
    conflicts += d - 1;
  }
  const ts = [...best.keys()].sort((a, b) => a - b);
  return { ts, bits: ts.map((t) => best.get(t)!), duplicates, conflicts };
}

function show(s: { ts: Float64Array; vs: Float64Array; n: number }) {
  const ts: number[] = [];
  const b: string[] = [];
  for (let i = 0; i < s.n; i++) {
    ts.push(s.ts[i]!);
    b.push(bits(s.vs[i]!));
  }
  return { ts, bits: b };
}

describe('sample merge', () => {
  test('property: union by time, larger bit pattern on conflicts, counts as the model; order and grouping do not matter', () => {
    fc.assert(
      fc.property(fc.array(runArb, { minLength: 1, maxLength: 4 }), (raw) => {
        const runs = raw.map(toRun);
        const stats = newMergeStats();
        const got = mergeSamples(runs, stats);
        const want = model(runs);
        assert.deepEqual(show(got), { ts: want.ts, bits: want.bits });
        assert.equal(stats.duplicateSamples, want.duplicates);
        assert.equal(stats.conflictingSamples, want.conflicts);
        const reversed = mergeSamples([...runs].reverse(), newMergeStats());
        assert.deepEqual(show(reversed), show(got));
        if (runs.length >= 2) {
          const stepwise = mergeSamples([mergeSamples(runs.slice(0, 1 + (runs.length >> 1)), newMergeStats()), ...runs.slice(1 + (runs.length >> 1))], newMergeStats());
          assert.deepEqual(show(stepwise), show(got));
        }
      }),
      { numRuns: 400, seed: SEED },
    );
  });

  test('property: chunk merge keeps isolated chunks as they are and re-encodes overlaps into ordered chunks of <= 120', () => {
    const itemsArb = fc.array(
      fc.record({
        src: fc.integer({ min: 0, max: 2 }),
        start: fc.integer({ min: 0, max: 400 }),
        len: fc.integer({ min: 1, max: 150 }),
        step: fc.integer({ min: 1, max: 5 }),
        seed: fc.integer({ min: 1, max: 1000 }),
      }),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(itemsArb, (specs) => {
        // One source never overlaps itself: drop specs that would.
        const bySrc = new Map<number, [number, number][]>();
        const items: MergeItem[] = [];
        const runs: { ts: Float64Array; vs: Float64Array; n: number }[] = [];
        for (const sp of specs) {
          const minT = sp.start;
          const maxT = sp.start + (sp.len - 1) * sp.step;
          const taken = bySrc.get(sp.src) ?? [];
          if (taken.some(([a, b]) => a <= maxT && minT <= b)) continue;
          taken.push([minT, maxT]);
          bySrc.set(sp.src, taken);
          const r = rng(sp.seed);
          const c = new XorChunk();
          const app = c.appender();
          const ts = new Float64Array(sp.len);
          const vs = new Float64Array(sp.len);
          for (let i = 0; i < sp.len; i++) {
            ts[i] = minT + i * sp.step;
            vs[i] = r() < 0.5 ? Math.floor(ts[i]! / 3) : Math.round(r() * 4); // same values often agree
            app.append(ts[i]!, vs[i]!);
          }
          runs.push({ ts, vs, n: sp.len });
          items.push({ src: sp.src, minT, maxT, encoding: 1, bytes: c.bytes().slice(), deleted: undefined });
        }
        const stats = newMergeStats();
        const inputBytes = new Set(items.map((it) => Buffer.from(it.bytes).toString('hex')));
        const out = mergeChunks([...items], ['a', 'b'], [{ ulid: 'A' }, { ulid: 'B' }, { ulid: 'C' }], stats, 120);
        const it = new XorIterator();
        const ts: number[] = [];
        const b: string[] = [];
        let prevMax = -Infinity;
        for (const c of out) {
          assert.ok(c.minT > prevMax, 'chunks ordered and disjoint');
          prevMax = c.maxT;
          const n = (c.bytes[0]! << 8) | c.bytes[1]!;
          if (!inputBytes.has(Buffer.from(c.bytes).toString('hex'))) assert.ok(n <= 120, `re-encoded chunk of ${n}`);
          it.reset(c.bytes);
          let first = true;
          while (it.next() !== ValueType.None) {
            if (first) assert.equal(it.atT(), c.minT);
            first = false;
            ts.push(it.atT());
            b.push(bits(it.atF()));
          }
          assert.equal(ts[ts.length - 1], c.maxT);
        }
        const want = model(runs);
        assert.deepEqual({ ts, bits: b }, { ts: want.ts, bits: want.bits });
        assert.equal(stats.duplicateSamples, want.duplicates);
        assert.equal(stats.conflictingSamples, want.conflicts);
      }),
      { numRuns: 300, seed: SEED },
    );
  });
});

describe('decoders fuzzed', () => {
  test('chunk segments read through windows: a corrupted or truncated segment gives the right chunk or a BlockDataError', async () => {
    const bucket = new MemoryBucket();
    const data = makeSeries(8, T0, T0 + 2 * HOUR, 30_000, (i, t) => Math.sin(t / 1e6) * i);
    const meta = await uploadBlock(bucket, data, { minT: T0, maxT: T0 + 2 * HOUR });
    const key = `${meta.ulid}/chunks/000001`;
    const pristine = await bucket.get(key);
    const want = new Map<number, string>();
    const ref = await BucketBlockReader.open(bucket, meta, 100);
    const refs: number[] = [];
    for (const id of ref.index.allPostings()) for (const c of ref.index.series(id).chunks) refs.push(c.ref);
    for (const r of refs) want.set(r, Buffer.from((await ref.chunk(r)).bytes).toString('hex'));
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat()),
        fc.integer({ min: 16, max: 3000 }),
        async (flips, cut, window) => {
          let buf = pristine.slice();
          for (const [pos, x] of flips) buf[pos % buf.length] = buf[pos % buf.length]! ^ x;
          if (cut !== null) buf = buf.subarray(0, cut % (buf.length + 1));
          await bucket.put(key, buf);
          const r = await BucketBlockReader.open(bucket, meta, window);
          for (const c of refs) {
            try {
              const got = await r.chunk(c);
              assert.equal(Buffer.from(got.bytes).toString('hex'), want.get(c), `chunk ${c} decoded wrong data without an error`);
            } catch (err) {
              assert.ok(err instanceof BlockDataError, `not a BlockDataError: ${(err as Error).stack}`);
              assert.match((err as Error).message, new RegExp(`block ${meta.ulid}: memory:${meta.ulid}/chunks/000001: at offset \\d+: `));
              errors++;
            }
          }
        },
      ),
      { numRuns: 150, seed: SEED },
    );
    assert.ok(errors > 100, `${errors} corruptions detected`);
  });

  test('index files: corruption gives a BlockDataError at open or while merging, never another failure', async () => {
    const bucket = new MemoryBucket();
    const data = makeSeries(6, T0, T0 + HOUR, 60_000, (i) => i);
    const meta = await uploadBlock(bucket, data, { minT: T0, maxT: T0 + HOUR });
    const key = `${meta.ulid}/index`;
    const pristine = await bucket.get(key);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), async (flips) => {
        const buf = pristine.slice();
        for (const [pos, x] of flips) buf[pos % buf.length] = buf[pos % buf.length]! ^ x;
        await bucket.put(key, buf);
        try {
          const r = await BucketBlockReader.open(bucket, meta);
          let n = 0;
          for await (const s of mergeSeries([r], { stats: newMergeStats() })) n += s.chunks.length;
          assert.ok(n <= 6 * 60, 'bounded output');
        } catch (err) {
          if (!(err instanceof BlockDataError)) {
            // Changing a chunk ref inside a valid series entry can only show up as a wrong chunk, which the
            // CRC of the chunk catches (BlockDataError) — anything else is a bug.
            assert.fail(`unexpected ${(err as Error).stack}`);
          }
        }
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  test('markers: round trip, and any input decodes or fails with a message naming the file', () => {
    const id = '01HZZZZZZZZZZZZZZZZZZZZZZA';
    const d = { id, deletion_time: 1700000000, version: 1, details: 'x' };
    assert.deepEqual(decodeDeletionMark(encodeDeletionMark(d)), d);
    assert.equal(new TextDecoder().decode(encodeDeletionMark({ id, deletion_time: 5, version: 1 })), `{"id":"${id}","version":1,"deletion_time":5}`);
    const n = { id, no_compact_time: 1, version: 1, reason: 'manual' };
    assert.deepEqual(decodeNoCompactMark(encodeNoCompactMark(n)), n);
    assert.throws(() => decodeDeletionMark(encodeDeletionMark(d), 'f', '01HZZZZZZZZZZZZZZZZZZZZZZB'), /f: mark is for block 01HZ.*A, not 01HZ.*B/);
    assert.throws(() => decodeDeletionMark(new TextEncoder().encode('{"id":"x","version":1,"deletion_time":1}'), 'f'), /f: invalid id "x"/);
    assert.throws(() => decodeDeletionMark(new TextEncoder().encode(`{"id":"${id}","version":2,"deletion_time":1}`), 'f'), /f: unsupported version 2/);
    assert.throws(() => decodeDeletionMark(new TextEncoder().encode(`{"id":"${id}","version":1,"deletion_time":"soon"}`), 'f'), /f: deletion_time must be/);
    const jsonish = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.json().map((s) => new TextEncoder().encode(s)),
      fc
        .record({ id: fc.oneof(fc.constant(id), fc.string()), version: fc.oneof(fc.constant(1), fc.integer()), deletion_time: fc.oneof(fc.nat(), fc.double(), fc.string()), no_compact_time: fc.nat() })
        .map((o) => new TextEncoder().encode(JSON.stringify(o))),
    );
    fc.assert(
      fc.property(jsonish, (bytes) => {
        for (const dec of [decodeDeletionMark, decodeNoCompactMark]) {
          try {
            const m = dec(bytes, 'the-file.json');
            assert.equal(m.id, id);
            assert.equal(m.version, 1);
          } catch (err) {
            assert.ok(err instanceof Error);
            assert.match(err.message, /^the-file\.json: /);
          }
        }
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});
