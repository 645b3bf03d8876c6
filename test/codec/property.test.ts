// Property tests: encode -> decode is the identity for random input, and no byte sequence makes a
// decoder throw anything but DecodeError (or hang, or return ranges outside its buffer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DecodeError,
  decodeChunkedReadFrame,
  decodeReadRequest,
  decodeReadResponse,
  decodeWriteV1,
  decodeWriteV2,
  decodedLabels,
  encodeChunkedReadFrame,
  encodeReadRequest,
  encodeReadResponse,
  encodeWriteV1,
  encodeWriteV2,
  snappyCompress,
  snappyUncompress,
  type DecodedWrite,
  type ReadRequest,
} from '../../src/codec/index.js';

// Fixed so CI is reproducible; set FC_SEED to explore further.
const SEED = Number(process.env.FC_SEED ?? 20240611);
// Decoders return ordinary objects; fast-check's records otherwise have a null prototype.
const plain = { noNullPrototype: true } as const;

// --- generators ---------------------------------------------------------------------------------

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('', '__name__', 'job', 'x'.repeat(130)),
);
const labels = fc.array(fc.tuple(text, text), { maxLength: 6 }).map((ps) => ps.flat());
const timestamp = fc.oneof(fc.maxSafeInteger(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1.6e12, max: 1.8e12 }));
/** Any 64-bit pattern (so every NaN payload, -0, subnormals), kept in a Float64Array. */
const valueBits = fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }));

function toFloat64(words: [number, number][]): Float64Array {
  const u = new Uint32Array(words.length * 2);
  words.forEach(([lo, hi], i) => {
    u[2 * i] = lo;
    u[2 * i + 1] = hi;
  });
  return new Float64Array(u.buffer);
}

const samples = fc.array(fc.tuple(timestamp, valueBits, timestamp), { maxLength: 12 }).map((xs) => ({
  timestamps: xs.map((x) => x[0]),
  values: toFloat64(xs.map((x) => x[1])),
  startTimestamps: xs.map((x) => x[2]),
}));

const series = fc.record({ labels, s: samples }).map(({ labels, s }) => ({ labels, ...s }));

function bitsOf(a: Float64Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
}

/** Structural sanity of any successful decode: everything points inside the buffer and is ordered. */
function checkInvariants(d: DecodedWrite): void {
  const n = d.seriesCount;
  assert.equal(d.labelStart.length, n + 1);
  assert.equal(d.sampleStart.length, n + 1);
  assert.equal(d.labelStart[n]! * 4, d.labelRanges.length);
  assert.equal(d.sampleStart[n], d.timestamps.length);
  assert.equal(d.values.length, d.timestamps.length);
  for (let i = 0; i < n; i++) {
    assert.ok(d.labelStart[i]! <= d.labelStart[i + 1]!);
    assert.ok(d.sampleStart[i]! <= d.sampleStart[i + 1]!);
  }
  for (let k = 0; k < d.labelRanges.length; k += 2) assert.ok(d.labelRanges[k]! + d.labelRanges[k + 1]! <= d.buf.length);
  if (d.metaRanges) for (let k = 0; k < d.metaRanges.length; k += 2) assert.ok(d.metaRanges[k]! + d.metaRanges[k + 1]! <= d.buf.length);
  for (const c of [d.histogramCount, d.exemplarCount, d.metricType]) assert.equal(c.length, n);
}

// --- round trips --------------------------------------------------------------------------------

describe('round trips (fast-check)', () => {
  it('RW1: encodeWriteV1 then decodeWriteV1 is the identity', () => {
    fc.assert(
      fc.property(fc.array(series, { maxLength: 8 }), (ss) => {
        const d = decodeWriteV1(encodeWriteV1(ss));
        checkInvariants(d);
        assert.equal(d.seriesCount, ss.length);
        ss.forEach((s, i) => {
          assert.deepEqual([...decodedLabels(d, i)], s.labels);
          const a = d.sampleStart[i]!;
          const b = d.sampleStart[i + 1]!;
          assert.deepEqual(Array.from(d.timestamps.subarray(a, b)), s.timestamps);
          assert.deepEqual(bitsOf(d.values.subarray(a, b)), bitsOf(s.values));
        });
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('RW2: encodeWriteV2 then decodeWriteV2 is the identity, with start timestamps and metadata', () => {
    const s2 = fc.record({ s: series, metricType: fc.nat({ max: 7 }), help: text, unit: text });
    fc.assert(
      fc.property(fc.array(s2, { maxLength: 8 }), (ss) => {
        const input = ss.map((x) => ({ ...x.s, metricType: x.metricType, help: x.help, unit: x.unit }));
        const d = decodeWriteV2(encodeWriteV2(input));
        checkInvariants(d);
        assert.equal(d.seriesCount, input.length);
        const utf8 = (off: number, len: number): string => new TextDecoder().decode(d.buf.subarray(off, off + len));
        input.forEach((s, i) => {
          assert.deepEqual([...decodedLabels(d, i)], s.labels);
          const a = d.sampleStart[i]!;
          const b = d.sampleStart[i + 1]!;
          assert.deepEqual(Array.from(d.timestamps.subarray(a, b)), s.timestamps);
          assert.deepEqual(bitsOf(d.values.subarray(a, b)), bitsOf(s.values));
          const st = d.startTimestamps ? Array.from(d.startTimestamps.subarray(a, b)) : s.timestamps.map(() => 0);
          assert.deepEqual(st, s.startTimestamps);
          assert.equal(d.metricType[i], s.metricType);
          const m = d.metaRanges;
          assert.equal(m ? utf8(m[4 * i]!, m[4 * i + 1]!) : '', s.help);
          assert.equal(m ? utf8(m[4 * i + 2]!, m[4 * i + 3]!) : '', s.unit);
        });
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('remote read request, response and chunk frames round-trip', () => {
    const matcher = fc.record({ type: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const), name: text, value: text }, plain);
    const hints = fc.option(
      fc.record({ stepMs: timestamp, func: text, startMs: timestamp, endMs: timestamp, grouping: fc.array(text, { maxLength: 3 }), by: fc.boolean(), rangeMs: timestamp }, plain),
    );
    const query = fc.record({ startMs: timestamp, endMs: timestamp, matchers: fc.array(matcher, { maxLength: 4 }), hints }, plain);
    const request = fc.record({ queries: fc.array(query, { maxLength: 3 }), acceptedResponseTypes: fc.array(fc.nat({ max: 5 }), { maxLength: 3 }) }, plain);
    fc.assert(
      fc.property(request, (req: ReadRequest) => {
        assert.deepEqual(decodeReadRequest(encodeReadRequest(req)), req);
      }),
      { numRuns: 200, seed: SEED },
    );
    fc.assert(
      fc.property(fc.array(fc.array(series, { maxLength: 3 }), { maxLength: 3 }), (results) => {
        const back = decodeReadResponse(encodeReadResponse(results));
        assert.equal(back.length, results.length);
        back.forEach((list, q) =>
          list.forEach((s, i) => {
            assert.deepEqual([...s.labels], results[q]![i]!.labels);
            assert.deepEqual(Array.from(s.timestamps), results[q]![i]!.timestamps);
            assert.deepEqual(bitsOf(s.values), bitsOf(results[q]![i]!.values));
          }),
        );
      }),
      { numRuns: 200, seed: SEED },
    );
    const chunk = fc.record({ minTimeMs: timestamp, maxTimeMs: timestamp, type: fc.nat({ max: 6 }), data: fc.uint8Array({ maxLength: 200 }) });
    const chunked = fc.array(fc.record({ labels, chunks: fc.array(chunk, { maxLength: 3 }) }), { maxLength: 3 });
    fc.assert(
      fc.property(chunked, fc.nat({ max: 1000 }), (list, qi) => {
        const f = decodeChunkedReadFrame(encodeChunkedReadFrame(list, qi));
        assert.equal(f.queryIndex, qi);
        assert.deepEqual(
          f.series.map((s) => ({ labels: [...s.labels], chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) })),
          list.map((s) => ({ labels: s.labels, chunks: s.chunks.map((c) => ({ ...c, data: Array.from(c.data) })) })),
        );
      }),
      { numRuns: 200, seed: SEED },
    );
  });
});

// --- fuzz ---------------------------------------------------------------------------------------

type Decoder = (b: Uint8Array) => unknown;

const decoders: [string, Decoder][] = [
  ['decodeWriteV1', (b) => checkInvariants(decodeWriteV1(b))],
  ['decodeWriteV2', (b) => checkInvariants(decodeWriteV2(b))],
  ['decodeReadRequest', decodeReadRequest],
  ['decodeReadResponse', decodeReadResponse],
  ['decodeChunkedReadFrame', (b) => decodeChunkedReadFrame(b)],
  ['snappyUncompress', (b) => snappyUncompress(b, 1 << 16)],
];

function onlyDecodeErrors(name: string, fn: Decoder, b: Uint8Array): void {
  try {
    fn(b);
  } catch (e) {
    if (!(e instanceof DecodeError)) {
      throw new Error(`${name} threw ${String(e)} for ${Buffer.from(b).toString('hex').slice(0, 400)}`);
    }
  }
}

/** Valid bodies of every kind to mutate. */
const fixedSeries = [
  {
    labels: ['__name__', 'http_requests_total', 'code', '200', 'city', 'Zürich'],
    timestamps: [1_700_000_000_000, -5, 0],
    values: Float64Array.of(1, NaN, -0),
    startTimestamps: [1, 0, 3],
    metricType: 1,
    help: 'Requests.',
    unit: 'seconds',
  },
  { labels: ['__name__', 'x'.repeat(200)], timestamps: [1], values: Float64Array.of(2), startTimestamps: [0] },
];
const seeds: Uint8Array[] = [
  encodeWriteV1(fixedSeries, [{ metricFamilyName: 'http_requests_total', type: 1, help: 'h', unit: '' }]),
  encodeWriteV2(fixedSeries),
  encodeReadRequest({
    queries: [{ startMs: 1, endMs: 2, matchers: [{ type: 2, name: 'job', value: '.+' }], hints: { stepMs: 1, func: 'f', startMs: 1, endMs: 2, grouping: ['a'], by: true, rangeMs: 5 } }],
    acceptedResponseTypes: [1, 0],
  }),
  encodeReadResponse([fixedSeries, []]),
  encodeChunkedReadFrame([{ labels: ['a', 'b'], chunks: [{ minTimeMs: 1, maxTimeMs: 2, type: 1, data: new Uint8Array([1, 2, 3]) }] }], 2),
];
seeds.push(...seeds.map((s) => snappyCompress(s)));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(src: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
    else if (m.kind === 'set' && at < b.length) b[at] = m.byte;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
  }
  return b;
}

describe('fuzz: decoders return or throw DecodeError, nothing else', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        for (const [name, fn] of decoders) onlyDecodeErrors(name, fn, b);
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('mutations of valid bodies (bit flips, overwrites, truncations, insertions, deletions)', () => {
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
        const b = mutate(seeds[i]!, ms);
        for (const [name, fn] of decoders) onlyDecodeErrors(name, fn, b);
      }),
      { numRuns: 4000, seed: SEED },
    );
  });

  it('every truncation of every valid body', () => {
    for (const s of seeds) for (let n = 0; n <= s.length; n++) for (const [name, fn] of decoders) onlyDecodeErrors(name, fn, s.subarray(0, n));
  });
});
