// Cross-checks our hand-written codecs against protobufjs driven by the upstream .proto files
// (read in place from ../shared/proto), in both directions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import {
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
  readUvarint,
  crc32c,
  type DecodedWrite,
  type ReadRequest,
  type ReadSeries,
} from '../../src/codec/index.js';
import { STALE_NAN } from '../../src/model/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const protoDir = path.join(repoRoot, '..', 'shared', 'proto');

/** Parses upstream .proto files into one Root, dropping the gogoproto options (Go codegen hints only). */
function loadRoot(files: string[], edit: (text: string) => string = (t) => t): protobuf.Root {
  const root = new protobuf.Root();
  for (const f of files) {
    const text = readFileSync(path.join(protoDir, f), 'utf8')
      .replace(/^import\s+"[^"]*";/gm, '')
      .replace(/\s*\[\(gogoproto\.[^\]]*\]/g, '');
    protobuf.parse(edit(text), root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

const v1Root = loadRoot(['types.proto', 'remote.proto']);
const v2Root = loadRoot(['io/prometheus/write/v2/types.proto']);
const v2OldRoot = loadRoot(['v3.6.0/io/prometheus/write/v2/types.proto']);
// Same newest schema, but labels_refs written one varint per field (proto2 style), which receivers must accept.
const v2UnpackedRoot = loadRoot(['io/prometheus/write/v2/types.proto'], (t) =>
  t.replace(/repeated uint32 labels_refs = 1;/g, 'repeated uint32 labels_refs = 1 [packed = false];'),
);

const WriteRequest = v1Root.lookupType('prometheus.WriteRequest');
const ReadRequestT = v1Root.lookupType('prometheus.ReadRequest');
const ReadResponseT = v1Root.lookupType('prometheus.ReadResponse');
const ChunkedReadResponse = v1Root.lookupType('prometheus.ChunkedReadResponse');

function pbEncode(t: protobuf.Type, obj: Record<string, unknown>): Uint8Array {
  const err = t.verify(obj);
  assert.equal(err, null, `protobufjs rejects the test object: ${err}`);
  return t.encode(t.fromObject(obj)).finish();
}

function pbDecode(t: protobuf.Type, buf: Uint8Array): any {
  return t.toObject(t.decode(buf), { longs: Number, defaults: true, arrays: true });
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
function bits(v: number): string {
  f64[0] = v;
  return u32[1]!.toString(16).padStart(8, '0') + u32[0]!.toString(16).padStart(8, '0');
}
function bitsOf(a: ArrayLike<number>): string[] {
  return Array.from(a, bits);
}

const NOW = 1_700_000_000_123;
// Values that a lossy codec would change: the stale marker, another NaN payload, -0, infinities, subnormals.
const OTHER_NAN = (() => {
  u32[0] = 0xdeadbeef;
  u32[1] = 0x7ff8dead;
  return f64[0]!;
})();
// A Float64Array, not an array literal: V8 quiets signalling NaNs such as the stale marker (it sets bit 51)
// when it stores them in a plain array's double elements.
const VALUES = Float64Array.of(1.5, 0, -0, Infinity, -Infinity, 0, 5e-324, 0, -123456.789, Number.MAX_VALUE);
VALUES[1] = STALE_NAN;
VALUES[5] = OTHER_NAN;
const staleOnly = new Float64Array(1);
staleOnly[0] = STALE_NAN;
const TIMESTAMPS = [NOW, NOW + 15000, -1, -1_600_000_000_000, 0, 2 ** 53 - 1, -(2 ** 53) + 1, 1, 42, NOW * 2];

interface Series {
  labels: string[];
  timestamps: number[];
  values: Float64Array;
}

const SERIES: Series[] = [
  {
    labels: ['__name__', 'http_requests_total', 'code', '200', 'empty', '', 'job', 'api'],
    timestamps: TIMESTAMPS,
    values: VALUES,
  },
  { labels: ['__name__', 'température_°C', 'ville', 'Zürich ☃ 😀', 'x'.repeat(300), 'long ' + 'v'.repeat(1000)], timestamps: [NOW], values: Float64Array.of(21.5) },
  { labels: ['__name__', 'no_samples'], timestamps: [], values: new Float64Array(0) },
  { labels: [], timestamps: [NOW], values: staleOnly },
  { labels: ['__name__', 'rpc_duration_seconds_count', 'le', '+Inf'], timestamps: [NOW, NOW + 1], values: Float64Array.of(3, 4) },
];

function checkDecoded(d: DecodedWrite, series: Series[]): void {
  assert.equal(d.seriesCount, series.length);
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    assert.deepEqual([...decodedLabels(d, i)], s.labels, `labels of series ${i}`);
    const a = d.sampleStart[i]!;
    const b = d.sampleStart[i + 1]!;
    assert.deepEqual(Array.from(d.timestamps.subarray(a, b)), s.timestamps, `timestamps of series ${i}`);
    assert.deepEqual(bitsOf(d.values.subarray(a, b)), bitsOf(s.values), `value bits of series ${i}`);
  }
}

describe('RW 1.0 against protobufjs', () => {
  const metadata = [
    { type: 1, metric_family_name: 'http_requests_total', help: 'Requests.', unit: '' },
    { type: 5, metric_family_name: 'rpc_duration_seconds', help: 'RPC latency ☃', unit: 'seconds' },
    { type: 7, metric_family_name: 'unrelated', help: '', unit: '' },
  ];

  it('decodes what protobufjs encodes (labels, bit-exact values, exemplars, histograms, metadata)', () => {
    const body = pbEncode(WriteRequest, {
      timeseries: SERIES.map((s, i) => ({
        labels: pairs(s.labels),
        samples: s.timestamps.map((t, j) => ({ value: s.values[j], timestamp: t })),
        exemplars:
          i === 0
            ? [
                { labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: NOW },
                { labels: [], value: 2, timestamp: NOW + 1 },
              ]
            : [],
        histograms:
          i === 1
            ? [
                { count_int: 5, sum: 12.5, schema: 3, zero_threshold: 1e-128, zero_count_int: 1, positive_spans: [{ offset: -2, length: 2 }], positive_deltas: [1, 2], timestamp: NOW },
                { count_float: 5.5, sum: 1, schema: -4, negative_spans: [{ offset: 1, length: 1 }], negative_counts: [5.5], reset_hint: 3, timestamp: NOW + 1, custom_values: [1, 2] },
                { timestamp: NOW + 2 },
              ]
            : [],
      })),
      metadata,
    });
    const d = decodeWriteV1(body);
    assert.equal(d.version, 1);
    assert.equal(d.buf, body);
    checkDecoded(d, SERIES);
    assert.equal(bits(d.values[1]!), '7ff0000000000002', 'stale marker');
    assert.equal(bits(d.values[5]!), '7ff8deaddeadbeef', 'NaN payload');
    assert.deepEqual(Array.from(d.exemplarCount), [2, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(d.histogramCount), [0, 3, 0, 0, 0]);
    assert.deepEqual(
      d.metadata,
      metadata.map((m) => ({ metricFamilyName: m.metric_family_name, type: m.type, help: m.help, unit: m.unit })),
    );
    // counter by exact family name, summary through the _count suffix, the rest unknown.
    assert.deepEqual(Array.from(d.metricType), [1, 0, 0, 0, 5]);
    assert.equal(d.startTimestamps, null);
    assert.equal(d.createdTimestamps, null);
    assert.equal(d.metaRanges, null);
  });

  it('encodes what protobufjs decodes', () => {
    const body = encodeWriteV1(
      SERIES.map((s) => ({ labels: s.labels, timestamps: s.timestamps, values: s.values })),
      metadata.map((m) => ({ metricFamilyName: m.metric_family_name, type: m.type, help: m.help, unit: m.unit })),
    );
    const obj = pbDecode(WriteRequest, body);
    assert.equal(obj.timeseries.length, SERIES.length);
    for (let i = 0; i < SERIES.length; i++) {
      const ts = obj.timeseries[i];
      assert.deepEqual(
        ts.labels.flatMap((l: { name: string; value: string }) => [l.name, l.value]),
        SERIES[i]!.labels,
      );
      assert.deepEqual(ts.samples.map((s: { timestamp: number }) => s.timestamp), SERIES[i]!.timestamps);
      assert.deepEqual(bitsOf(Float64Array.from(ts.samples, (s: { value: number }) => s.value)), bitsOf(SERIES[i]!.values));
    }
    assert.deepEqual(obj.metadata, metadata);
    // And our decoder reads our encoder.
    checkDecoded(decodeWriteV1(body), SERIES);
  });

  it('keeps the stale marker bit-exact from a Float64Array and from a non-array ArrayLike', () => {
    const values = { length: 2, 0: STALE_NAN, 1: OTHER_NAN } as ArrayLike<number>;
    for (const vs of [VALUES.subarray(1, 3), values]) {
      const d = decodeWriteV1(encodeWriteV1([{ labels: ['__name__', 'x'], timestamps: [1, 2], values: vs }]));
      assert.deepEqual(bitsOf(d.values), bitsOf(vs));
    }
    assert.deepEqual(bitsOf(VALUES.subarray(1, 3)), ['7ff0000000000002', '8000000000000000']);
    assert.deepEqual(bitsOf(values), ['7ff0000000000002', '7ff8deaddeadbeef']);
  });
});

function pairs(labels: string[]): { name: string; value: string }[] {
  const out = [];
  for (let i = 0; i < labels.length; i += 2) out.push({ name: labels[i]!, value: labels[i + 1]! });
  return out;
}

/** Builds an RW2 Request object for protobufjs with a symbol table (starting with ""). */
function v2Object(series: Series[], extra: (i: number, ref: (s: string) => number) => Record<string, unknown>): Record<string, unknown> {
  const symbols = [''];
  const index = new Map([['', 0]]);
  const ref = (s: string): number => {
    let r = index.get(s);
    if (r === undefined) {
      r = symbols.length;
      symbols.push(s);
      index.set(s, r);
    }
    return r;
  };
  const timeseries = series.map((s, i) => ({
    labels_refs: s.labels.map(ref),
    ...extra(i, ref),
  }));
  return { symbols, timeseries };
}

describe('RW 2.0 (newest schema: per-sample start_timestamp) against protobufjs', () => {
  const build = (root: protobuf.Root): Uint8Array =>
    pbEncode(
      root.lookupType('io.prometheus.write.v2.Request'),
      v2Object(SERIES, (i, ref) => ({
        samples: SERIES[i]!.timestamps.map((t, j) => ({ value: SERIES[i]!.values[j], timestamp: t, start_timestamp: i === 0 ? j * 7 - 3 : 0 })),
        histograms: i === 4 ? [{ count_int: 3, sum: 1, schema: -53, custom_values: [0.1, 1], positive_spans: [{ offset: 0, length: 2 }], positive_deltas: [1, 1], timestamp: NOW, start_timestamp: NOW - 100 }] : [],
        exemplars: i === 0 ? [{ labels_refs: [ref('trace_id'), ref('00ff')], value: 3, timestamp: NOW }, { value: 1 }] : [],
        metadata: i === 0 ? { type: 1, help_ref: ref('Requests ☃.'), unit_ref: 0 } : i === 4 ? { type: 5, unit_ref: ref('seconds') } : {},
      })),
    );

  for (const [name, root] of [
    ['packed labels_refs', v2Root],
    ['unpacked labels_refs', v2UnpackedRoot],
  ] as const) {
    it(`decodes what protobufjs encodes (${name})`, () => {
      const body = build(root);
      const d = decodeWriteV2(body);
      assert.equal(d.version, 2);
      checkDecoded(d, SERIES);
      assert.equal(bits(d.values[1]!), '7ff0000000000002', 'stale marker');
      assert.deepEqual(Array.from(d.startTimestamps!.subarray(0, 10)), [-3, 4, 11, 18, 25, 32, 39, 46, 53, 60]);
      assert.deepEqual(Array.from(d.startTimestamps!.subarray(10)), new Array(d.timestamps.length - 10).fill(0));
      assert.equal(d.createdTimestamps, null);
      assert.deepEqual(Array.from(d.exemplarCount), [2, 0, 0, 0, 0]);
      assert.deepEqual(Array.from(d.histogramCount), [0, 0, 0, 0, 1]);
      assert.deepEqual(Array.from(d.metricType), [1, 0, 0, 0, 5]);
      assert.deepEqual(d.metadata, []);
      const m = d.metaRanges!;
      const text = (off: number, len: number): string => new TextDecoder().decode(d.buf.subarray(off, off + len));
      assert.equal(text(m[0]!, m[1]!), 'Requests ☃.');
      assert.equal(m[3], 0);
      assert.equal(text(m[16 + 2]!, m[16 + 3]!), 'seconds');
      assert.equal(m[16 + 1], 0);
    });
  }

  it('encodes what protobufjs decodes', () => {
    const body = encodeWriteV2(
      SERIES.map((s, i) => ({
        labels: s.labels,
        timestamps: s.timestamps,
        values: s.values,
        startTimestamps: i === 0 ? s.timestamps.map((_, j) => j * 3 - 1) : undefined,
        metricType: i === 0 ? 1 : undefined,
        help: i === 0 ? 'Requests.' : undefined,
        unit: i === 4 ? 'seconds' : undefined,
      })),
    );
    const obj = pbDecode(v2Root.lookupType('io.prometheus.write.v2.Request'), body);
    assert.equal(obj.symbols[0], '');
    assert.equal(new Set(obj.symbols).size, obj.symbols.length, 'symbols are de-duplicated');
    for (let i = 0; i < SERIES.length; i++) {
      const ts = obj.timeseries[i];
      assert.deepEqual(ts.labels_refs.map((r: number) => obj.symbols[r]), SERIES[i]!.labels);
      assert.deepEqual(ts.samples.map((s: { timestamp: number }) => s.timestamp), SERIES[i]!.timestamps);
      assert.deepEqual(bitsOf(Float64Array.from(ts.samples, (s: { value: number }) => s.value)), bitsOf(SERIES[i]!.values));
      if (i === 0) {
        assert.deepEqual(ts.samples.map((s: { start_timestamp: number }) => s.start_timestamp), SERIES[0]!.timestamps.map((_, j) => j * 3 - 1));
        assert.equal(ts.metadata.type, 1);
        assert.equal(obj.symbols[ts.metadata.help_ref], 'Requests.');
      }
      if (i === 4) assert.equal(obj.symbols[ts.metadata.unit_ref], 'seconds');
    }
    const d = decodeWriteV2(body);
    checkDecoded(d, SERIES);
    assert.deepEqual(Array.from(d.metricType), [1, 0, 0, 0, 0]);
  });
});

describe('RW 2.0 (v3.6.0 schema: per-series created_timestamp) against protobufjs', () => {
  it('decodes created_timestamp (field 6) per series', () => {
    const body = pbEncode(
      v2OldRoot.lookupType('io.prometheus.write.v2.Request'),
      v2Object(SERIES, (i) => ({
        samples: SERIES[i]!.timestamps.map((t, j) => ({ value: SERIES[i]!.values[j], timestamp: t })),
        created_timestamp: i === 1 ? NOW - 60_000 : i === 3 ? -5 : 0,
        histograms: i === 0 ? [{ count_float: 1, timestamp: NOW }, { count_int: 2, timestamp: NOW + 1 }] : [],
        metadata: { type: 2 },
      })),
    );
    const d = decodeWriteV2(body);
    checkDecoded(d, SERIES);
    assert.deepEqual(Array.from(d.createdTimestamps!), [0, NOW - 60_000, 0, -5, 0]);
    assert.equal(d.startTimestamps, null);
    assert.deepEqual(Array.from(d.histogramCount), [2, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(d.metricType), [2, 2, 2, 2, 2]);
    assert.equal(d.metaRanges, null);
  });

  it('reads a v1 body as an empty v2 request (fields 1..3 are reserved in v2)', () => {
    const body = encodeWriteV1([{ labels: ['__name__', 'x'], timestamps: [1], values: [1] }]);
    assert.equal(decodeWriteV2(body).seriesCount, 0);
  });
});

describe('remote read against protobufjs', () => {
  const req: ReadRequest = {
    queries: [
      {
        startMs: NOW - 3_600_000,
        endMs: NOW,
        matchers: [
          { type: 0, name: '__name__', value: 'up' },
          { type: 1, name: 'job', value: '' },
          { type: 2, name: 'instance', value: '.*:9090' },
          { type: 3, name: 'ville', value: 'Zürich|☃' },
        ],
        hints: { stepMs: 15000, func: 'rate', startMs: NOW - 3_600_000, endMs: NOW, grouping: ['job', 'instance'], by: true, rangeMs: 300_000 },
      },
      { startMs: -1000, endMs: 0, matchers: [{ type: 0, name: 'a', value: 'b' }], hints: null },
    ],
    acceptedResponseTypes: [1, 0],
  };
  const pbReq = {
    queries: [
      {
        start_timestamp_ms: NOW - 3_600_000,
        end_timestamp_ms: NOW,
        matchers: req.queries[0]!.matchers,
        hints: { step_ms: 15000, func: 'rate', start_ms: NOW - 3_600_000, end_ms: NOW, grouping: ['job', 'instance'], by: true, range_ms: 300_000 },
      },
      { start_timestamp_ms: -1000, end_timestamp_ms: 0, matchers: [{ type: 0, name: 'a', value: 'b' }] },
    ],
    accepted_response_types: [1, 0],
  };

  it('decodes a ReadRequest encoded by protobufjs', () => {
    assert.deepEqual(decodeReadRequest(pbEncode(ReadRequestT, pbReq)), req);
  });

  it('encodes a ReadRequest protobufjs decodes', () => {
    const obj = pbDecode(ReadRequestT, encodeReadRequest(req));
    assert.deepEqual(obj.accepted_response_types, [1, 0]);
    assert.equal(obj.queries[0].start_timestamp_ms, NOW - 3_600_000);
    assert.deepEqual(obj.queries[0].matchers, req.queries[0]!.matchers);
    assert.deepEqual(obj.queries[0].hints, pbReq.queries[0]!.hints);
    assert.equal(obj.queries[1].start_timestamp_ms, -1000);
    assert.equal(obj.queries[1].hints, null);
    assert.deepEqual(decodeReadRequest(encodeReadRequest(req)), req);
  });

  const results: ReadSeries[][] = [
    SERIES.map((s) => ({ labels: s.labels, timestamps: Float64Array.from(s.timestamps), values: s.values })),
    [],
  ];

  it('encodes a ReadResponse protobufjs decodes, values bit-exact', () => {
    const obj = pbDecode(ReadResponseT, encodeReadResponse(results));
    assert.equal(obj.results.length, 2);
    assert.equal(obj.results[1].timeseries.length, 0);
    obj.results[0].timeseries.forEach((ts: any, i: number) => {
      assert.deepEqual(ts.labels.flatMap((l: any) => [l.name, l.value]), SERIES[i]!.labels);
      assert.deepEqual(ts.samples.map((s: any) => s.timestamp), SERIES[i]!.timestamps);
      assert.deepEqual(bitsOf(Float64Array.from(ts.samples, (s: any) => s.value)), bitsOf(SERIES[i]!.values));
    });
  });

  it('decodes a ReadResponse encoded by protobufjs', () => {
    const body = pbEncode(ReadResponseT, {
      results: [
        {
          timeseries: SERIES.map((s) => ({
            labels: pairs(s.labels),
            samples: s.timestamps.map((t, j) => ({ value: s.values[j], timestamp: t })),
            histograms: [{ count_int: 1, timestamp: 5 }],
          })),
        },
        {},
      ],
    });
    const out = decodeReadResponse(body);
    assert.equal(out.length, 2);
    assert.equal(out[1]!.length, 0);
    out[0]!.forEach((s, i) => {
      assert.deepEqual([...s.labels], SERIES[i]!.labels);
      assert.deepEqual(Array.from(s.timestamps), SERIES[i]!.timestamps);
      assert.deepEqual(bitsOf(s.values), bitsOf(SERIES[i]!.values));
    });
    assert.deepEqual(decodeReadResponse(encodeReadResponse(results)).map((r) => r.length), [SERIES.length, 0]);
  });

  it('writes ChunkedReadResponse frames: uvarint length, big-endian CRC-32C, message', () => {
    const xor = new Uint8Array([0, 1, 2, 3, 0xff, 0xfe]);
    const series = [
      { labels: ['__name__', 'up', 'job', 'x'], chunks: [{ minTimeMs: NOW - 7_200_000, maxTimeMs: NOW, type: 1, data: xor }, { minTimeMs: -5, maxTimeMs: -1, type: 2, data: new Uint8Array(300).fill(7) }] },
      { labels: ['__name__', 'empty'], chunks: [] },
    ];
    const frame = encodeChunkedReadFrame(series, 3);
    const [len, p] = readUvarint(frame, 0);
    assert.equal(p + 4 + len, frame.length);
    const msg = frame.subarray(p + 4);
    assert.equal(new DataView(frame.buffer, frame.byteOffset).getUint32(p, false), crc32c(msg));
    const obj = pbDecode(ChunkedReadResponse, msg);
    assert.equal(obj.query_index, 3);
    assert.deepEqual(obj.chunked_series[0].labels, pairs(series[0]!.labels));
    assert.equal(obj.chunked_series[0].chunks[0].min_time_ms, NOW - 7_200_000);
    assert.equal(obj.chunked_series[0].chunks[0].type, 1);
    assert.deepEqual(Array.from(obj.chunked_series[0].chunks[0].data), Array.from(xor));
    assert.equal(obj.chunked_series[0].chunks[1].min_time_ms, -5);
    assert.equal(obj.chunked_series[0].chunks[1].data.length, 300);
    assert.equal(obj.chunked_series[1].chunks.length, 0);

    // Two frames back to back, read with our decoder.
    const two = Buffer.concat([frame, encodeChunkedReadFrame([series[1]!], 0)]);
    const f1 = decodeChunkedReadFrame(two, 0);
    assert.equal(f1.queryIndex, 3);
    assert.deepEqual(f1.series.map((s) => [...s.labels]), series.map((s) => s.labels));
    assert.deepEqual(Array.from(f1.series[0]!.chunks[0]!.data), Array.from(xor));
    assert.equal(f1.series[0]!.chunks[1]!.maxTimeMs, -1);
    const f2 = decodeChunkedReadFrame(two, f1.next);
    assert.equal(f2.queryIndex, 0);
    assert.equal(f2.next, two.length);

    // A frame whose message protobufjs wrote decodes too.
    const pbMsg = pbEncode(ChunkedReadResponse, { chunked_series: [{ labels: [{ name: 'a', value: 'b' }], chunks: [{ min_time_ms: 1, max_time_ms: 2, type: 1, data: xor }] }], query_index: 1 });
    const head = new Uint8Array(10);
    const hp = (() => {
      let v = pbMsg.length;
      let i = 0;
      while (v >= 128) {
        head[i++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      head[i++] = v;
      return i;
    })();
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32c(pbMsg), false);
    const f3 = decodeChunkedReadFrame(Buffer.concat([head.subarray(0, hp), crc, pbMsg]));
    assert.equal(f3.queryIndex, 1);
    assert.deepEqual([...f3.series[0]!.labels], ['a', 'b']);
    assert.equal(f3.series[0]!.chunks[0]!.maxTimeMs, 2);
  });
});
