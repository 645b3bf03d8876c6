/**
 * Thanos's aggregate chunk (src/tsdb/chunkenc/aggr.ts): the byte layout, round trips, bad input, the
 * choice of aggregate by PromQL function, and the read-side iterators (counter resets, average, bounds).
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { STALE_NAN } from '../../src/model/value.js';
import { ValueType, type SampleIterator } from '../../src/storage/interface.js';
import {
  AggrChunkError,
  AggrType,
  CounterResetsIterator,
  ENCODING_AGGR,
  ENCODING_XOR,
  XorChunk,
  XorIterator,
  aggrForFunc,
  aggrIterator,
  aggrNumSamples,
  aggrPart,
  decodeAggrChunk,
  downsampledIterator,
  encodeAggrChunk,
  type AggrPart,
} from '../../src/tsdb/chunkenc/index.js';

function xor(samples: [number, number][]): Uint8Array {
  const c = new XorChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return c.bytes().slice();
}

function drain(it: SampleIterator): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < 1_000_000 && it.next() !== ValueType.None; i++) out.push([it.atT(), it.atF()]);
  return out;
}

describe('aggregate chunk format', () => {
  test('byte layout: uvarint length, encoding byte, chunk bytes per aggregate; 0 for an absent one', () => {
    const count = xor([[100, 30], [200, 50]]);
    // A part longer than 127 bytes needs a two-byte length.
    const longSamples: [number, number][] = [];
    for (let i = 0; i < 40; i++) longSamples.push([i * 1000 + (i % 7), Math.sin(i) * 1e6]);
    const sum = xor(longSamples);
    assert.ok(sum.length > 127, `sum chunk has ${sum.length} bytes`);
    const parts: (AggrPart | null)[] = [{ encoding: ENCODING_XOR, bytes: count }, { encoding: ENCODING_XOR, bytes: sum }, null, null, { encoding: ENCODING_XOR, bytes: count }];
    const b = encodeAggrChunk(parts);
    const want = [
      count.length, 1, ...count,
      (sum.length & 0x7f) | 0x80, sum.length >> 7, 1, ...sum,
      0,
      0,
      count.length, 1, ...count,
    ];
    assert.deepEqual([...b], want);
    assert.equal(ENCODING_AGGR, 0xff);
    assert.deepEqual(aggrPart(b, AggrType.Sum)?.bytes, sum);
    assert.equal(aggrPart(b, AggrType.Min), null);
    assert.equal(aggrPart(b, AggrType.Max), null);
    assert.equal(aggrNumSamples(b), 2);
    assert.deepEqual(drain(aggrIterator(b, AggrType.Count)), [[100, 30], [200, 50]]);
    assert.throws(() => aggrIterator(b, AggrType.Max), (e: Error) => e instanceof AggrChunkError && /max aggregate is not present/.test(e.message));
  });

  test('round trip of arbitrary parts (property)', () => {
    const part = fc.option(fc.record({ encoding: fc.integer({ min: 0, max: 255 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 400 }) }), { nil: null });
    fc.assert(
      fc.property(fc.tuple(part, part, part, part, part), (parts) => {
        const b = encodeAggrChunk(parts);
        const back = decodeAggrChunk(b);
        assert.deepEqual(back.map((p) => (p === null ? null : { encoding: p.encoding, bytes: [...p.bytes] })), parts.map((p) => (p === null ? null : { encoding: p.encoding, bytes: [...p.bytes] })));
        for (let i = 0; i < 5; i++) {
          const p = aggrPart(b, i as AggrType);
          assert.deepEqual(p === null ? null : [...p.bytes], parts[i] === null ? null : [...parts[i]!.bytes]);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('every truncation of a valid chunk is a clear error, never a crash', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.double({ noNaN: true })), { minLength: 1, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        (raw, present) => {
          const samples = raw.map(([t, v], i): [number, number] => [i * 1000 + (t % 1000), v]);
          const bytes = xor(samples);
          const parts = present.map((p) => (p ? { encoding: ENCODING_XOR, bytes } : null));
          const b = encodeAggrChunk(parts);
          for (let n = 0; n < b.length; n++) {
            assert.throws(() => decodeAggrChunk(b.subarray(0, n)), (e: Error) => e instanceof AggrChunkError && /truncated|varint/.test(e.message));
          }
          assert.throws(() => decodeAggrChunk(Uint8Array.of(...b, 7)), /1 unexpected bytes after the five aggregates/);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('garbage bytes: decoders and iterators throw AggrChunkError or end, bounded, never crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 4 }), (b, aggr) => {
        try {
          decodeAggrChunk(b);
        } catch (e) {
          assert.ok(e instanceof AggrChunkError, String(e));
        }
        try {
          const it = aggrIterator(b, aggr as AggrType);
          drain(it);
        } catch (e) {
          assert.ok(e instanceof AggrChunkError, String(e));
        }
        for (const pick of [aggr as AggrType, 'average' as const]) {
          const it = downsampledIterator([{ encoding: ENCODING_AGGR, bytes: b }, { encoding: ENCODING_AGGR, bytes: b }], pick, -Infinity, Infinity);
          const got = drain(it);
          assert.ok(got.length <= 2 * 0xffff, `${got.length} samples`);
          const err = it.err();
          assert.ok(err === null || typeof err === 'string', String(err));
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('errors name the aggregate and the problem', () => {
    assert.throws(() => decodeAggrChunk(new Uint8Array()), /aggregate chunk: truncated: the count entry is missing/);
    assert.throws(() => decodeAggrChunk(Uint8Array.of(5, 1, 0, 0)), /the count entry at byte 0 needs 6 bytes \(encoding \+ 5\), only 3 left/);
    assert.throws(() => decodeAggrChunk(Uint8Array.of(0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), /the sum entry's length at byte 1 is not a valid varint/);
    const hist = encodeAggrChunk([{ encoding: ENCODING_XOR, bytes: xor([[1, 1]]) }, { encoding: 3, bytes: Uint8Array.of(0, 0) }, null, null, null]);
    assert.throws(() => aggrIterator(hist, AggrType.Sum), /sum aggregate is a float histogram chunk; only XOR aggregates can be read/);
    assert.throws(() => encodeAggrChunk([null, null, null, null]), /want 5 parts/);
    assert.throws(() => encodeAggrChunk([{ encoding: 1, bytes: new Uint8Array() }, null, null, null, null]), /count part has no bytes/);
  });
});

describe('aggregate for a PromQL function (Thanos rule)', () => {
  test('table', () => {
    const table: [string | undefined, ReturnType<typeof aggrForFunc>][] = [
      ['count_over_time', AggrType.Count],
      ['count', AggrType.Count],
      ['sum_over_time', AggrType.Sum],
      ['min_over_time', AggrType.Min],
      ['min', AggrType.Min],
      ['max_over_time', AggrType.Max],
      ['max', AggrType.Max],
      ['rate', AggrType.Counter],
      ['increase', AggrType.Counter],
      ['irate', AggrType.Counter],
      ['resets', AggrType.Counter],
      ['xrate', AggrType.Counter],
      ['xincrease', AggrType.Counter],
      ['sum', 'average'],
      ['avg_over_time', 'average'],
      ['changes', 'average'],
      ['delta', 'average'],
      ['timestamp', 'average'],
      [undefined, 'average'],
    ];
    for (const [f, want] of table) assert.equal(aggrForFunc(f), want, `func ${f}`);
  });
});

/** Reset-adjusted running total of a raw counter, computed the obvious way. */
function adjusted(values: number[]): number[] {
  const out: number[] = [];
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    if (i === 0) total = values[0]!;
    else total += values[i]! >= values[i - 1]! ? values[i]! - values[i - 1]! : values[i]!;
    out.push(total);
  }
  return out;
}

describe('read-side iterators', () => {
  test('counter resets within and between raw chunks are added back; NaN and stale markers skipped', () => {
    const a: [number, number][] = [[0, 5], [10, 8], [20, 2], [30, 4]];
    const b: [number, number][] = [[40, 1], [50, 6], [60, NaN], [70, 9]];
    const c: [number, number][] = [[80, 20], [90, STALE_NAN], [100, 3]];
    const its = [a, b, c].map((s) => new XorIterator(xor(s)));
    const got = drain(new CounterResetsIterator(its));
    const raw = [...a, ...b, ...c].filter(([, v]) => v === v);
    const want = adjusted(raw.map(([, v]) => v));
    assert.deepEqual(got, raw.map(([t], i) => [t, want[i]]));
  });

  test('counter aggregate chunks: the trailing raw value reveals a reset at the chunk boundary', () => {
    // Two 5m-style counter chunks: first raw value, window totals, last raw value repeated at the last time.
    const c1 = xor([[10, 100], [299_999, 130], [400_000, 150], [400_000, 150]]);
    // The next chunk starts at 40 < 150: the counter was reset between the chunks.
    const c2 = xor([[650_000, 40], [899_999, 70], [1_000_000, 95], [1_000_000, 95]]);
    const chunks = [c1, c2].map((x) => ({ encoding: ENCODING_AGGR, bytes: encodeAggrChunk([null, null, null, null, { encoding: ENCODING_XOR, bytes: x }]) }));
    const got = drain(downsampledIterator(chunks, AggrType.Counter, -Infinity, Infinity));
    assert.deepEqual(got, [
      [10, 100],
      [299_999, 130],
      [400_000, 150],
      [650_000, 190],
      [899_999, 220],
      [1_000_000, 245],
    ]);
    // Without the trailing raw value the reset would be missed if the chunk ended on a high total.
    const c1b = xor([[10, 100], [299_999, 130], [400_000, 150], [400_000, 10]]);
    const c2b = xor([[650_000, 40], [1_000_000, 95], [1_000_000, 95]]);
    const got2 = drain(new CounterResetsIterator([new XorIterator(c1b), new XorIterator(c2b)]));
    // 10 -> 40 is growth of 30, not a reset.
    assert.deepEqual(got2, [[10, 100], [299_999, 130], [400_000, 150], [650_000, 180], [1_000_000, 235]]);
  });

  test('bounds apply after counter resets are summed; seek never goes back', () => {
    const c = xor([[0, 10], [100, 2], [200, 5], [300, 1], [400, 3]]);
    const it = downsampledIterator([{ encoding: ENCODING_XOR, bytes: c }], AggrType.Counter, 150, 350);
    assert.deepEqual(drain(it), [[200, 15], [300, 16]]);
    const it2 = downsampledIterator([{ encoding: ENCODING_XOR, bytes: c }], AggrType.Counter, 0, 1000);
    assert.equal(it2.seek(250), ValueType.Float);
    assert.equal(it2.atT(), 300);
    assert.equal(it2.seek(100), ValueType.Float);
    assert.equal(it2.atT(), 300);
    assert.equal(it2.next(), ValueType.Float);
    assert.deepEqual([it2.atT(), it2.atF()], [400, 18]);
    assert.equal(it2.next(), ValueType.None);
    assert.equal(it2.seek(0), ValueType.None);
  });

  test('average is sum/count; misaligned aggregates are reported', () => {
    const count = xor([[299_999, 20], [599_999, 10]]);
    const sum = xor([[299_999, 50], [599_999, 7]]);
    const ok = encodeAggrChunk([{ encoding: 1, bytes: count }, { encoding: 1, bytes: sum }, null, null, null]);
    assert.deepEqual(drain(downsampledIterator([{ encoding: ENCODING_AGGR, bytes: ok }], 'average', 0, Infinity)), [[299_999, 2.5], [599_999, 0.7]]);
    const bad = encodeAggrChunk([{ encoding: 1, bytes: count }, { encoding: 1, bytes: xor([[299_999, 50], [599_998, 7]]) }, null, null, null]);
    const it = downsampledIterator([{ encoding: ENCODING_AGGR, bytes: bad }], 'average', 0, Infinity);
    assert.deepEqual(drain(it), [[299_999, 2.5]]);
    assert.match(it.err() ?? '', /chunk 0: sum and count aggregates are not aligned \(count at 599999, sum at 599998\)/);
    const missing = downsampledIterator([{ encoding: ENCODING_AGGR, bytes: encodeAggrChunk([{ encoding: 1, bytes: count }, null, null, null, null]) }], AggrType.Max, 0, Infinity);
    assert.deepEqual(drain(missing), []);
    assert.match(missing.err() ?? '', /max aggregate is not present/);
  });

  test('chained chunks skip what overlaps the chunk before; raw XOR chunks read as they are', () => {
    const a = encodeAggrChunk([null, null, { encoding: 1, bytes: xor([[10, 1], [20, 2], [30, 3]]) }, null, null]);
    const b = encodeAggrChunk([null, null, { encoding: 1, bytes: xor([[25, 9], [30, 9], [40, 4]]) }, null, null]);
    const raw = xor([[50, 5], [60, 6]]);
    const chunks = [{ encoding: ENCODING_AGGR, bytes: a }, { encoding: ENCODING_AGGR, bytes: b }, { encoding: ENCODING_XOR, bytes: raw }];
    assert.deepEqual(drain(downsampledIterator(chunks, AggrType.Min, 0, 55)), [[10, 1], [20, 2], [30, 3], [40, 4], [50, 5]]);
    const hist = downsampledIterator([{ encoding: 2, bytes: raw }], AggrType.Min, 0, 100);
    assert.deepEqual(drain(hist), []);
    assert.match(hist.err() ?? '', /a histogram chunk cannot be read as downsampled data/);
  });
});
