// Hand-built wire bytes: non-canonical but legal encodings, unknown fields, and malformed input with the
// exact errors we promise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DecodeError,
  decodeChunkedReadFrame,
  decodeReadRequest,
  decodeReadResponse,
  decodeWriteV1,
  decodeWriteV2,
  decodedLabels,
  encodeChunkedReadFrame,
  encodeWriteV1,
  encodeWriteV2,
  type DecodedWrite,
} from '../../src/codec/index.js';

// --- tiny wire builder --------------------------------------------------------------------------

type Bytes = number[];

function uvarint(v: number | bigint): Bytes {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: Bytes = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const tag = (field: number, wt: number): Bytes => uvarint(field * 8 + wt);
const vfield = (field: number, v: number | bigint): Bytes => [...tag(field, 0), ...uvarint(v)];
const lfield = (field: number, payload: Bytes): Bytes => [...tag(field, 2), ...uvarint(payload.length), ...payload];
const sfield = (field: number, s: string): Bytes => lfield(field, [...new TextEncoder().encode(s)]);
function dfield(field: number, v: number): Bytes {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [...tag(field, 1), ...b];
}
const u8 = (...parts: Bytes[]): Uint8Array => new Uint8Array(parts.flat());

/** One of each wire type under field `n`, for forward-compatibility checks. */
const unknowns = (n: number): Bytes => [
  ...vfield(n, 12345678901),
  ...tag(n + 1, 1), 1, 2, 3, 4, 5, 6, 7, 8,
  ...lfield(n + 2, [1, 2, 3]),
  ...tag(n + 3, 5), 1, 2, 3, 4,
  ...tag(n + 4, 3), ...vfield(1, 1), ...lfield(2, [9]), ...tag(n + 4, 4),
];

const label = (name: string, value: string): Bytes => [...sfield(1, name), ...sfield(2, value)];
const sample = (v: number, t: number): Bytes => [...dfield(1, v), ...vfield(2, t)];

function summary(d: DecodedWrite): unknown {
  return Array.from({ length: d.seriesCount }, (_, i) => ({
    labels: [...decodedLabels(d, i)],
    ts: Array.from(d.timestamps.subarray(d.sampleStart[i]!, d.sampleStart[i + 1]!)),
    vs: Array.from(d.values.subarray(d.sampleStart[i]!, d.sampleStart[i + 1]!)),
  }));
}

function throwsDecode(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

// --- RW1 ----------------------------------------------------------------------------------------

describe('RW1 decoding of legal but unusual encodings', () => {
  const expected = [{ labels: ['__name__', 'up', 'job', 'a'], ts: [1000, -2000], vs: [1, 2.5] }];

  it('skips unknown fields of every wire type at every level', () => {
    const body = u8(
      unknowns(20),
      lfield(1, [
        ...unknowns(30),
        ...lfield(1, [...unknowns(40), ...label('__name__', 'up')]),
        ...lfield(1, label('job', 'a')),
        ...lfield(2, [...sample(1, 1000), ...unknowns(50)]),
        ...lfield(2, [...unknowns(60), ...sample(2.5, -2000)]),
      ]),
      lfield(2, [1, 2, 3]), // reserved field 2 of WriteRequest
    );
    assert.deepEqual(summary(decodeWriteV1(body)), expected);
  });

  it('accepts fields out of order, repeated scalars (last wins), long tags and non-minimal lengths', () => {
    const body = u8(
      lfield(1, [
        ...lfield(2, [...vfield(2, 5), ...dfield(1, 9), ...vfield(2, 1000), ...dfield(1, 1)]), // reversed, repeated
        ...lfield(1, [...sfield(2, 'up'), ...sfield(1, '__name__')]),
        // field 1 (label) with a 2-byte tag and a 2-byte length
        0x8a, 0x00, 0x88, 0x00, ...label('job', 'a'),
        ...lfield(2, [...vfield(2, -2000), ...dfield(1, 2.5)]),
      ]),
    );
    assert.deepEqual(summary(decodeWriteV1(body)), expected);
  });

  it('gives absent fields their zero values', () => {
    const body = u8(lfield(1, [...lfield(1, sfield(1, 'only_name')), ...lfield(1, []), ...lfield(2, []), ...lfield(2, vfield(2, 7))]));
    assert.deepEqual(summary(decodeWriteV1(body)), [{ labels: ['only_name', '', '', ''], ts: [0, 7], vs: [0, 0] }]);
  });

  it('decodes timestamps of every varint length, negatives and 10-byte forms', () => {
    const ts = [0, 1, 127, 128, 2 ** 21, 2 ** 28, 2 ** 35, 2 ** 42, 2 ** 49, 2 ** 53 - 1, -1, -(2 ** 31), -(2 ** 49), -(2 ** 53) + 1];
    const body = u8(lfield(1, ts.flatMap((t) => lfield(2, sample(1, t)))));
    assert.deepEqual(Array.from(decodeWriteV1(body).timestamps), ts);
    // A varint with redundant continuation bytes is still the same number.
    const padded = u8(lfield(1, lfield(2, [...tag(2, 0), 0x85, 0x80, 0x80, 0x00])));
    assert.deepEqual(Array.from(decodeWriteV1(padded).timestamps), [5]);
  });

  it('returns results that stay valid after later decodes', () => {
    const a = decodeWriteV1(encodeWriteV1([{ labels: ['__name__', 'a'], timestamps: [1, 2], values: [1, 2] }]));
    const big = encodeWriteV1(
      Array.from({ length: 3000 }, (_, i) => ({ labels: ['__name__', `m${i}`, 'i', String(i)], timestamps: [1, 2, 3, 4, 5, 6, 7], values: [i, i, i, i, i, i, i] })),
    );
    const b = decodeWriteV1(big);
    const c = decodeWriteV1(encodeWriteV1([{ labels: ['__name__', 'c'], timestamps: [9], values: [9] }]));
    assert.deepEqual(summary(a), [{ labels: ['__name__', 'a'], ts: [1, 2], vs: [1, 2] }]);
    assert.deepEqual(summary(c), [{ labels: ['__name__', 'c'], ts: [9], vs: [9] }]);
    assert.equal(b.seriesCount, 3000);
    assert.equal(b.timestamps.length, 21000);
    assert.deepEqual([...decodedLabels(b, 2999)], ['__name__', 'm2999', 'i', '2999']);
    assert.equal(b.values[20999], 2999);
  });
});

describe('RW1 malformed input', () => {
  const good = [...lfield(1, label('__name__', 'x')), ...lfield(2, sample(1, 1_700_000_000_000))];

  it('names the field and offset', () => {
    throwsDecode(() => decodeWriteV1(u8(vfield(1, 5))), /^WriteRequest: wrong wire type varint for field 1 at offset 0$/);
    throwsDecode(() => decodeWriteV1(u8([0x0a, 0x64], good)), /^WriteRequest.timeseries: length 100 exceeds the \d+ bytes left at offset 1$/);
    throwsDecode(() => decodeWriteV1(u8([0x0a])), /^WriteRequest.timeseries: truncated varint at offset 1$/);
    throwsDecode(() => decodeWriteV1(u8([0x80])), /^WriteRequest: truncated varint at offset 0$/);
    throwsDecode(() => decodeWriteV1(u8([0x00, 0x01])), /^WriteRequest: field number 0 at offset 0$/);
    throwsDecode(() => decodeWriteV1(u8([0x0f])), /^WriteRequest: wrong wire type invalid\(7\) for field 1 at offset 0$/);
    throwsDecode(() => decodeWriteV1(u8([0x4e])), /^WriteRequest field 9: invalid wire type 6 at offset 1$/);
  });

  it('prefixes errors inside a series with its index', () => {
    const series1 = [...lfield(1, label('__name__', 'y')), ...lfield(2, [...dfield(1, 1), ...tag(2, 0), 0xff, 0xff])];
    throwsDecode(() => decodeWriteV1(u8(lfield(1, good), lfield(1, series1))), /^series 1: Sample.timestamp: truncated varint at offset \d+$/);
    const overlong = [...lfield(2, [...tag(2, 0), ...new Array(10).fill(0xff), 0x01])];
    throwsDecode(() => decodeWriteV1(u8(lfield(1, overlong))), /^series 0: Sample.timestamp: varint longer than 10 bytes at offset 5$/);
    const wrongLabel = lfield(1, vfield(1, 3));
    throwsDecode(() => decodeWriteV1(u8(lfield(1, good), lfield(1, good), lfield(1, wrongLabel))), /^series 2: Label: wrong wire type varint for field 1 at offset \d+$/);
    const wrongValue = lfield(2, [...tag(1, 5), 0, 0, 0, 0]);
    throwsDecode(() => decodeWriteV1(u8(lfield(1, wrongValue))), /^series 0: Sample: wrong wire type i32 for field 1 at offset 4$/);
  });

  it('does not let a nested message run past its parent', () => {
    // The Label claims 20 bytes, the TimeSeries holds only its 2-byte header plus 3 bytes.
    const body = u8([0x0a, 0x05, 0x0a, 0x14, 0x0a, 0x01, 0x61], good);
    throwsDecode(() => decodeWriteV1(body), /^series 0: TimeSeries.labels: length 20 exceeds the 3 bytes left at offset 3$/);
    // A varint that would only end in the next message.
    const split = u8([0x0a, 0x04, 0x12, 0x02, 0x10, 0x80], lfield(1, good));
    throwsDecode(() => decodeWriteV1(split), /^series 0: Sample.timestamp: truncated varint at offset 5$/);
  });

  it('rejects bad metadata', () => {
    throwsDecode(() => decodeWriteV1(u8(lfield(3, lfield(1, [1])))), /^MetricMetadata: wrong wire type len for field 1 at offset 2$/);
  });
});

// --- RW2 ----------------------------------------------------------------------------------------

describe('RW2 decoding', () => {
  const syms = ['', '__name__', 'up', 'job', 'a', 'help text', 'seconds'].flatMap((s) => sfield(4, s));
  const packedRefs = (...refs: number[]): Bytes => lfield(1, refs.flatMap((r) => uvarint(r)));

  it('accepts symbols after the series, split and mixed packed/unpacked refs, and unknown fields', () => {
    const ts = lfield(5, [
      ...unknowns(20),
      ...packedRefs(1),
      ...vfield(1, 2),
      ...packedRefs(3, 4),
      ...lfield(2, [...sample(1, 1000), ...vfield(3, 999), ...unknowns(30)]),
      ...lfield(5, [...vfield(1, 1), ...vfield(3, 5), ...vfield(4, 6), ...unknowns(30)]),
      ...lfield(4, [...packedRefs(3, 4), ...dfield(2, 1), ...vfield(3, 5), ...unknowns(30)]),
    ]);
    const d = decodeWriteV2(u8(unknowns(40), ts, syms));
    assert.deepEqual(summary(d), [{ labels: ['__name__', 'up', 'job', 'a'], ts: [1000], vs: [1] }]);
    assert.deepEqual(Array.from(d.startTimestamps!), [999]);
    assert.equal(d.metricType[0], 1);
    assert.equal(d.exemplarCount[0], 1);
    const m = d.metaRanges!;
    assert.equal(new TextDecoder().decode(d.buf.subarray(m[0]!, m[0]! + m[1]!)), 'help text');
    assert.equal(new TextDecoder().decode(d.buf.subarray(m[2]!, m[2]! + m[3]!)), 'seconds');
  });

  it('maps unknown metric types to 0 and takes refs written with more bytes than needed', () => {
    const ts = lfield(5, [...tag(1, 2), 3, 0x81, 0x00, 2, ...lfield(5, vfield(1, 99))]);
    const d = decodeWriteV2(u8(syms, ts));
    assert.deepEqual([...decodedLabels(d, 0)], ['__name__', 'up']);
    assert.equal(d.metricType[0], 0);
  });

  it('reports odd and out-of-range references with the series index', () => {
    const ok = lfield(5, packedRefs(1, 2));
    throwsDecode(() => decodeWriteV2(u8(syms, ok, lfield(5, packedRefs(1, 2, 3)))), /^series 1: labels_refs has odd length 3$/);
    throwsDecode(
      () => decodeWriteV2(u8(syms, ok, ok, lfield(5, packedRefs(1, 2, 3, 7)))),
      /^series 2: labels_refs\[3\]: symbol reference 7 out of range \(7 symbols\) at offset \d+$/,
    );
    throwsDecode(() => decodeWriteV2(u8(syms, lfield(5, [...packedRefs(1, 2), ...lfield(5, vfield(3, 70))]))), /^series 0: Metadata.help_ref\[0\]: symbol reference 70 out of range/);
    throwsDecode(() => decodeWriteV2(u8(syms, lfield(5, [...packedRefs(1, 2), ...lfield(4, packedRefs(3))]))), /^series 0: exemplars\[0\].labels_refs has odd length 1$/);
    throwsDecode(() => decodeWriteV2(u8(lfield(5, packedRefs(0, 0)))), /^series 0: labels_refs\[0\]: symbol reference 0 out of range \(0 symbols\)/);
  });

  it('rejects wrong wire types and truncation', () => {
    throwsDecode(() => decodeWriteV2(u8(vfield(4, 1))), /^Request: wrong wire type varint for field 4 at offset 0$/);
    throwsDecode(() => decodeWriteV2(u8(syms, lfield(5, dfield(6, 1)))), /^series 0: TimeSeries: wrong wire type i64 for field 6 at offset \d+$/);
    throwsDecode(() => decodeWriteV2(u8(syms, lfield(5, [...tag(1, 2), 2, 0x81]))), /^series 0: TimeSeries.labels_refs: length 2 exceeds the 1 bytes left/);
    throwsDecode(() => decodeWriteV2(u8(syms, lfield(5, [...tag(1, 2), 1, 0x81]))), /^series 0: TimeSeries.labels_refs: truncated varint/);
  });

  it('returns independent results for back-to-back decodes with and without optional columns', () => {
    const withSt = decodeWriteV2(encodeWriteV2([{ labels: ['__name__', 'a'], timestamps: [1, 2], values: [1, 2], startTimestamps: [0, 5], help: 'h' }]));
    const without = decodeWriteV2(encodeWriteV2([{ labels: ['__name__', 'b'], timestamps: [3], values: [3] }]));
    assert.deepEqual(Array.from(withSt.startTimestamps!), [0, 5]);
    assert.equal(without.startTimestamps, null);
    assert.equal(without.metaRanges, null);
    assert.deepEqual(summary(withSt), [{ labels: ['__name__', 'a'], ts: [1, 2], vs: [1, 2] }]);
  });
});

// --- remote read --------------------------------------------------------------------------------

describe('remote read malformed input', () => {
  it('rejects unknown matcher types and bad nesting', () => {
    const q = lfield(1, lfield(3, [...vfield(1, 4), ...sfield(2, 'a')]));
    throwsDecode(() => decodeReadRequest(u8(q)), /^queries\[0\].matchers\[0\].type: unknown matcher type 4 at offset 4$/);
    throwsDecode(() => decodeReadRequest(u8([0x0a, 0x03, 0x1a, 0x05, 0x08])), /^queries\[0\].matchers: length 5 exceeds the 1 bytes left at offset 3$/);
    assert.deepEqual(decodeReadRequest(u8(vfield(2, 1), lfield(2, [0, 1]), unknowns(9))).acceptedResponseTypes, [1, 0, 1]);
  });

  it('checks frame checksums and lengths', () => {
    const frame = encodeChunkedReadFrame([{ labels: ['a', 'b'], chunks: [{ minTimeMs: 1, maxTimeMs: 2, type: 1, data: new Uint8Array([1, 2, 3]) }] }], 0);
    const bad = frame.slice();
    bad[bad.length - 1] ^= 1;
    throwsDecode(() => decodeChunkedReadFrame(bad), /checksum mismatch/);
    throwsDecode(() => decodeChunkedReadFrame(frame.subarray(0, frame.length - 1)), /length \d+ exceeds/);
    throwsDecode(() => decodeChunkedReadFrame(frame.subarray(0, 3)), /truncated checksum/);
    throwsDecode(() => decodeChunkedReadFrame(new Uint8Array(0)), /truncated length/);
  });

  it('rejects a read response with a wrong wire type', () => {
    throwsDecode(() => decodeReadResponse(u8(lfield(1, vfield(1, 1)))), /^results\[0\]: wrong wire type varint for field 1 at offset 2$/);
  });
});
