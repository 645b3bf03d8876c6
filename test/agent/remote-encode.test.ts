/**
 * The queue's request encoder (src/agent/remote/encode.ts) against the reference encoders: for any batch
 * (series repeated or not, any order, NaN payloads, zero and negative values and times, non-ASCII and
 * long labels) the bytes equal encodeWriteV1/encodeWriteV2 of the batch grouped by series.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeWriteV1, encodeWriteV2, snappyUncompress, type WriteSeries } from '../../src/codec/index.js';
import { BatchEncoder, LabelBytesPool, newEncSeries, type EncSeries } from '../../src/agent/remote/encode.js';
import { emptyBatch } from '../../src/agent/remote/shards.js';

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

function grouped(series: EncSeries[], idx: number[], ts: Float64Array, vs: Float64Array): WriteSeries[] {
  const order: EncSeries[] = [];
  const by = new Map<EncSeries, number[]>();
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
    return { labels: s.labels, timestamps: Float64Array.from(is, (i) => ts[i]!), values: Float64Array.from(is, (i) => vs[i]!) };
  });
}

test('BatchEncoder (property): v1 and v2 bodies equal the reference encoders on the batch grouped by series', () => {
  fc.assert(
    fc.property(
      fc.array(labelsArb, { minLength: 1, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), timeArb, valueBits), { minLength: 1, maxLength: 60 }),
      fc.boolean(),
      (labelSets, picks, v2) => {
        const pool = new LabelBytesPool();
        const series = labelSets.map((ls) => newEncSeries(ls, v2, pool));
        const enc = new BatchEncoder(v2);
        // Two batches through one encoder: marks and buffers from the first must not leak into the second.
        for (let round = 0; round < 2; round++) {
          const b = emptyBatch(picks.length);
          const which: EncSeries[] = [];
          picks.forEach(([k, t, v], i) => {
            const s = series[(k + round) % series.length]!;
            b.series[i] = s;
            which.push(s);
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
  const pool = new LabelBytesPool();
  const s = newEncSeries(Object.freeze(['__name__', 'up', 'job', 'j']), false, pool);
  const b = emptyBatch(2);
  const stale = new Uint32Array(b.vs.buffer);
  b.series[0] = s;
  b.ts[0] = 1000;
  stale[0] = 0x00000002;
  stale[1] = 0x7ff00000;
  b.n = 1;
  const body = Buffer.from(snappyUncompress(new BatchEncoder(false).encode(b), 1 << 24));
  assert.ok(body.includes(Buffer.from([0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f])), 'stale NaN bits kept');
  b.ts[0] = 1.5;
  assert.throws(() => new BatchEncoder(false).encode(b), /timestamp 1.5 is not an int64 integer/);
});

test('LabelBytesPool: copies share slabs and keep their bytes', () => {
  const pool = new LabelBytesPool();
  const a = pool.copy(Uint8Array.of(1, 2, 3));
  const b = pool.copy(Uint8Array.of(4, 5));
  assert.equal(a.buffer, b.buffer);
  assert.deepEqual([...a, ...b], [1, 2, 3, 4, 5]);
  const big = new Uint8Array(20_000).fill(7);
  assert.equal(pool.copy(big), big, 'large encodings are kept as they are');
});
