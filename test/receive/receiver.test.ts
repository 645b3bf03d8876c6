import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, stored, series, v1Body, v2Body, V1_HEADERS, V2_HEADERS, type Stack } from '../support/stack.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';
import { writeUvarint } from '../../src/codec/index.js';

const NOW = Date.now();


async function post(st: Stack, body: Uint8Array, headers: Record<string, string> = V1_HEADERS, path = '/api/v1/push') {
  const res = await st.app.request(path, { method: 'POST', body, headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test('remote write 1.0 on all three endpoints stores samples and answers 204', async () => {
  const st = await startStack();
  try {
    for (const [i, path] of ['/api/v1/push', '/api/v1/receive', '/api/v1/write'].entries()) {
      const r = await post(st, v1Body([series({ __name__: 'up', job: 'j' }, [[NOW + i * 1000, i]])]), V1_HEADERS, path);
      assert.equal(r.status, 204, r.text);
    }
    const got = await stored(st, 'up');
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.vs, [0, 1, 2]);
  } finally {
    await st.close();
  }
});

test('remote write 2.0 answers with the written-count headers', async () => {
  const st = await startStack();
  try {
    const r = await post(st, v2Body([{ ...series({ __name__: 'c_total', a: 'b' }, [[NOW, 1], [NOW + 1, 2]]), metricType: 1, help: 'h' }]), V2_HEADERS);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers.get('X-Prometheus-Remote-Write-Samples-Written'), '2');
    assert.equal(r.headers.get('X-Prometheus-Remote-Write-Histograms-Written'), '0');
    assert.equal(r.headers.get('X-Prometheus-Remote-Write-Exemplars-Written'), '0');
    assert.deepEqual((await stored(st, 'c_total'))[0]!.vs, [1, 2]);
  } finally {
    await st.close();
  }
});

test('unsupported content types and encodings are 415, malformed bodies 400, oversized ones 413', async () => {
  const st = await startStack('receive:\n  max_decompressed_size: 1000\n');
  try {
    const body = v1Body([series({ __name__: 'x' }, [[NOW, 1]])]);
    assert.equal((await post(st, body, { ...V1_HEADERS, 'Content-Type': 'application/json' })).status, 415);
    assert.equal((await post(st, body, { ...V1_HEADERS, 'Content-Type': 'application/x-protobuf;proto=foo.Bar' })).status, 415);
    assert.equal((await post(st, body, { ...V1_HEADERS, 'Content-Encoding': 'gzip' })).status, 415);
    const bad = await post(st, snappyCompress(new Uint8Array([0x0a, 0xff, 0x01])));
    assert.equal(bad.status, 400);
    assert.match(bad.text, /malformed remote-write 1\.0 request/);
    // A snappy header announcing 1 GB: refused before anything is allocated.
    const hdr = new Uint8Array(10);
    const n = writeUvarint(hdr, 0, 1_000_000_000);
    const huge = await post(st, hdr.subarray(0, n));
    assert.equal(huge.status, 413, huge.text);
    assert.match(huge.text, /exceeds/);
  } finally {
    await st.close();
  }
});

test('a request with bad series stores the good ones and names the first bad one', async () => {
  const st = await startStack('limits:\n  max_label_value_length: 20\n  max_label_names_per_series: 4\n');
  try {
    const good = series({ __name__: 'good', a: '1' }, [[NOW, 1]]);
    const unsorted = { labels: ['__name__', 'bad', 'z', '1', 'a', '2'], timestamps: [NOW], values: [1] };
    const dup = { labels: ['__name__', 'bad2', 'a', '1', 'a', '2'], timestamps: [NOW], values: [1] };
    const long = series({ __name__: 'bad3', a: 'x'.repeat(30) }, [[NOW, 1]]);
    const many = series({ __name__: 'bad4', a: '1', b: '2', c: '3', d: '4' }, [[NOW, 1]]);
    const noName = series({ a: '1' }, [[NOW, 1]]);
    const r = await post(st, v1Body([good, unsorted, dup, long, many, noName, series({ __name__: 'good2' }, [[NOW, 2]])]));
    assert.equal(r.status, 400);
    assert.match(r.text, /^5 series rejected \(5 samples\), the rest stored; first: bad\{z="1", a="2"\}: labels are not sorted/);
    assert.equal((await stored(st, 'good')).length, 1);
    assert.equal((await stored(st, 'good2')).length, 1);
    for (const [b, re] of [
      [dup, /duplicate label name "a"/],
      [long, /30 bytes long \(limit max_label_value_length=20\)/],
      [many, /5 labels \(limit max_label_names_per_series=4\)/],
      [noName, /missing metric name/],
    ] as const) {
      const one = await post(st, v1Body([b]));
      assert.equal(one.status, 400);
      assert.match(one.text, re);
    }
    // Encode a label value "~" and then turn that byte into 0xff, which is never valid UTF-8.
    const raw = encodeWriteV1([{ labels: ['__name__', 'u', 'a', '~'], timestamps: [NOW], values: [1] }]);
    raw[raw.lastIndexOf(0x7e)] = 0xff;
    const u = await post(st, snappyCompress(raw));
    assert.equal(u.status, 400);
    assert.match(u.text, /not valid UTF-8/);
  } finally {
    await st.close();
  }
});

test('empty label values are dropped; samples too far in the future are rejected', async () => {
  const st = await startStack();
  try {
    const r = await post(st, v1Body([series({ __name__: 'e', a: '1' }, [[NOW, 1]]), { labels: ['__name__', 'e', 'a', '1', 'b', ''], timestamps: [NOW + 1], values: [2] }]));
    assert.equal(r.status, 204, r.text);
    const got = await stored(st, 'e');
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.labels, { __name__: 'e', a: '1' });
    const fut = await post(st, v1Body([series({ __name__: 'f' }, [[NOW + 3_600_000, 1]])]));
    assert.equal(fut.status, 400);
    assert.match(fut.text, /too far in the future \(limit creation_grace_period\)/);
  } finally {
    await st.close();
  }
});

test('out-of-order samples: 400 without a window, accepted inside one, too old outside', async () => {
  const st = await startStack('overrides:\n  ooo:\n    out_of_order_time_window: 10m\n');
  try {
    assert.equal((await post(st, v1Body([series({ __name__: 'o' }, [[NOW, 1]])]))).status, 204);
    const r = await post(st, v1Body([series({ __name__: 'o' }, [[NOW - 1000, 1]])]));
    assert.equal(r.status, 400);
    assert.match(r.text, /out of order sample/);
    const h = { ...V1_HEADERS, 'X-Scope-OrgID': 'ooo' };
    assert.equal((await post(st, v1Body([series({ __name__: 'o' }, [[NOW, 1]])]), h)).status, 204);
    assert.equal((await post(st, v1Body([series({ __name__: 'o' }, [[NOW - 60_000, 2]])]), h)).status, 204);
    const old = await post(st, v1Body([series({ __name__: 'o' }, [[NOW - 3_600_000, 3]])]), h);
    assert.equal(old.status, 400);
    assert.match(old.text, /too old sample/);
    assert.deepEqual((await stored(st, 'o', 'ooo'))[0]!.ts, [NOW - 60_000, NOW]);
  } finally {
    await st.close();
  }
});

test('tenants are separate; the rate limit answers 429 and the series limit 400, both naming the limit', async () => {
  const st = await startStack('overrides:\n  small:\n    ingestion_rate: 10\n    ingestion_burst_size: 20\n    max_global_series_per_user: 2\n');
  try {
    const h = { ...V1_HEADERS, 'X-Scope-OrgID': 'small' };
    const many = (n: number, t: number) => [...Array(n).keys()].map((i) => series({ __name__: 'r', i: String(i) }, [[t, i]]));
    const r1 = await post(st, v1Body(many(3, NOW)), h);
    assert.equal(r1.status, 400);
    assert.match(r1.text, /limit max_global_series_per_user=2/);
    const r2 = await post(st, v1Body(many(30, NOW + 1)), h);
    assert.equal(r2.status, 429);
    assert.match(r2.text, /ingestion_rate=10/);
    assert.equal((await stored(st, 'r', 'small')).length, 2);
    assert.equal((await stored(st, 'r', 'anonymous')).length, 0);
    const badTenant = await post(st, v1Body(many(1, NOW)), { ...V1_HEADERS, 'X-Scope-OrgID': '../etc' });
    assert.equal(badTenant.status, 400);
    assert.match(badTenant.text, /invalid tenant ID/);
  } finally {
    await st.close();
  }
});

test('native histograms are reported as not stored, floats in the same request are', async () => {
  const st = await startStack();
  try {
    // Build a RW1 series with a histogram field (4) by hand: a TimeSeries with one label and one empty Histogram.
    // Series h also carries a float sample too far in the future: one series, two problems, counted once.
    const base = encodeWriteV1([series({ __name__: 'h' }, [[NOW + 3_600_000, 1]])]);
    // WriteRequest{ timeseries: TimeSeries{ labels..., histograms: {} } }: append field 4 (len 0) inside the series.
    const ts = base.subarray(2); // tag(1) + len byte for small series
    const inner = new Uint8Array([...ts, 0x22, 0x00]);
    const req = new Uint8Array([0x0a, inner.length, ...inner]);
    const floats = encodeWriteV1([series({ __name__: 'fl' }, [[NOW, 1]])]);
    const r = await post(st, snappyCompress(new Uint8Array([...req, ...floats])));
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /^1 series rejected \(1 samples, 1 native histogram samples\)/);
    assert.match(r.text, /native histogram samples are not supported yet/);
    assert.equal((await stored(st, 'fl')).length, 1);
  } finally {
    await st.close();
  }
});
