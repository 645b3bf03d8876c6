/**
 * The queue's request encoder (src/agent/remote/encode.ts) against the reference encoders: for any batch
 * (series repeated or not, any order, NaN payloads, zero and negative values and times, non-ASCII and
 * long labels) the bytes equal encodeWriteV1/encodeWriteV2 of the batch grouped by series.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeWriteV1, encodeWriteV2, snappyUncompress, type WriteSeries } from '../../src/codec/index.js';
import { BatchEncoder } from '../../src/agent/remote/encode.js';
import { QueueSeriesTable } from '../../src/agent/remote/series-table.js';
import { emptyBatch } from '../../src/agent/remote/shards.js';
import type { Labels } from '../../src/model/labels.js';
import { encodeLabelsV1 } from '../../src/codec/index.js';

const labelStr = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.string({ minLength: 100, maxLength: 200 }));
const labelsArb = fc.uniqueArray(fc.tuple(labelStr, labelStr), { minLength: 1, maxLength: 6, selector: ([n]) => n }).map((pairs) => {
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.freeze(pairs.flat());
});
const valueBits = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, 1, Number.NaN),
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([lo, hi]) => {
    const f = new Float64Array(1);
    const u = new Uint32Array(f.buffer);
    u[0] = lo;
    u[1] = hi;
    return f[0]!; // read back through a Float64Array below, so payload bits stay as far as V8 allows
  }),
);
const timeArb = fc.oneof(fc.constantFrom(0, 1, -1), fc.integer({ min: -(2 ** 40), max: 2 ** 41 }), fc.constant(1_763_700_000_000));

function grouped(series: Labels[], idx: number[], ts: Float64Array, vs: Float64Array): WriteSeries[] {
  const order: Labels[] = [];
  const by = new Map<Labels, number[]>();
  for (const i of idx) {
    const s = series[i]!;
    let l = by.get(s);
    if (l === undefined) {
      by.set(s, (l = []));
      order.push(s);
    }
    l.push(i);
  }
  return order.map((s) => {
    const is = by.get(s)!;
    return { labels: s, timestamps: Float64Array.from(is, (i) => ts[i]!), values: Float64Array.from(is, (i) => vs[i]!) };
  });
}

test('BatchEncoder (property): v1 and v2 bodies equal the reference encoders on the batch grouped by series', () => {
  fc.assert(
    fc.property(
      fc.array(labelsArb, { minLength: 1, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), timeArb, valueBits), { minLength: 1, maxLength: 60 }),
      fc.boolean(),
      (labelSets, picks, v2) => {
        const table = new QueueSeriesTable(v2);
        // Refs with gaps, as a WAL with collected series has them.
        const refOf = labelSets.map((_, i) => 1 + 3 * i);
        labelSets.forEach((ls, i) => table.set(refOf[i]!, ls, 0, 0));
        const enc = new BatchEncoder(table);
        // Two batches through one encoder: marks and buffers from the first must not leak into the second.
        for (let round = 0; round < 2; round++) {
          const b = emptyBatch(picks.length);
          const which: Labels[] = [];
          picks.forEach(([k, t, v], i) => {
            const j = (k + round) % labelSets.length;
            b.refs[i] = refOf[j]!;
            which.push(labelSets[j]!);
            b.ts[i] = t;
            b.vs[i] = v;
          });
          b.n = picks.length;
          const got = snappyUncompress(enc.encode(b), 1 << 24);
          const groups = grouped(which, [...Array(b.n).keys()], b.ts, b.vs);
          const want = v2 ? encodeWriteV2(groups) : encodeWriteV1(groups);
          assert.deepEqual(Buffer.from(got), Buffer.from(want));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('BatchEncoder: the stale-marker NaN payload is sent bit for bit; a non-integer timestamp is refused by name', () => {
  const table = new QueueSeriesTable(false);
  table.set(7, Object.freeze(['__name__', 'up', 'job', 'j']), 0, 0);
  const b = emptyBatch(2);
  const stale = new Uint32Array(b.vs.buffer);
  b.refs[0] = 7;
  b.ts[0] = 1000;
  stale[0] = 0x00000002;
  stale[1] = 0x7ff00000;
  b.n = 1;
  const body = Buffer.from(snappyUncompress(new BatchEncoder(table).encode(b), 1 << 24));
  assert.ok(body.includes(Buffer.from([0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f])), 'stale NaN bits kept');
  b.ts[0] = 1.5;
  assert.throws(() => new BatchEncoder(table).encode(b), /timestamp 1.5 is not an int64 integer/);
});

test('QueueSeriesTable (property): label bytes survive growth, forgetting and arena compaction; states and counts add up', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(labelsArb, fc.nat({ max: 5000 }), fc.nat({ max: 9 })), { minLength: 1, maxLength: 80 }),
      fc.nat({ max: 9 }),
      fc.boolean(),
      (entries, forgetSeg, v2) => {
        const table = new QueueSeriesTable(v2);
        const want = new Map<number, { ls: Labels | null; seg: number }>();
        for (const [ls, ref, seg] of entries) {
          if (want.has(ref)) {
            table.touch(ref, seg);
            want.get(ref)!.seg = Math.max(want.get(ref)!.seg, seg);
            continue;
          }
          const kept = ref % 7 === 0 ? null : ls; // some dropped by relabeling
          table.set(ref, kept, 0, seg);
          want.set(ref, { ls: kept, seg });
        }
        const keep = new Set([...want.keys()].filter((r) => r % 2 === 0));
        table.forget(forgetSeg, keep);
        // Force new series after forgetting, so a compaction and a growth both happen in some runs.
        for (let i = 0; i < 50; i++) table.set(10_000 + i, Object.freeze(['__name__', 'x'.repeat(1 + (i % 40)), 'i', String(i)]), 0, 99);
        let known = 50;
        for (const [ref, w] of want) {
          const gone = w.seg <= forgetSeg && !keep.has(ref);
          assert.equal(table.has(ref), !gone);
          if (gone) continue;
          known++;
          if (w.ls === null) continue;
          if (v2) assert.deepEqual(table.labelsOf(ref), w.ls);
          else {
            const off = table.labelOff[ref]!;
            assert.deepEqual(Buffer.from(table.arena.subarray(off, off + table.labelLen[ref]!)), Buffer.from(encodeLabelsV1(w.ls)));
          }
        }
        assert.equal(table.known, known);
      },
    ),
    { numRuns: 200 },
  );
});

test('QueueSeriesTable: forgetting most series compacts the arena; the rest keep their bytes and new ones fit', () => {
  const table = new QueueSeriesTable(false);
  const ls = (i: number): Labels => Object.freeze(['__name__', `metric_${i}`, 'instance', `host-${i}.example:9100`, 'pad', 'p'.repeat(150)]);
  for (let ref = 1; ref <= 2000; ref++) table.set(ref, ls(ref), 0, ref <= 1900 ? 1 : 2);
  const arenaBefore = table.arena.length;
  assert.equal(table.forget(1, new Set([5])), 1899);
  assert.ok(table.arena.length < arenaBefore, `arena compacted (${arenaBefore} -> ${table.arena.length} bytes)`);
  for (let ref = 2001; ref <= 2500; ref++) table.set(ref, ls(ref), 0, 3);
  for (const ref of [5, 1901, 2000, 2001, 2500]) {
    const off = table.labelOff[ref]!;
    assert.deepEqual(Buffer.from(table.arena.subarray(off, off + table.labelLen[ref]!)), Buffer.from(encodeLabelsV1(ls(ref))), `ref ${ref}`);
  }
  assert.equal(table.known, 1 + 100 + 500);
  assert.throws(() => table.set(5, ls(5), 0, 4), /ref 5 recorded twice/);
});
