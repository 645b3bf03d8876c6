import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, series, v1Body, V1_HEADERS, type Stack } from '../support/stack.js';
import {
  decodeChunkedReadFrame,
  decodeReadResponse,
  encodeReadRequest,
  snappyCompress,
  snappyUncompress,
  type ReadRequest,
} from '../../src/codec/index.js';
import { XorChunk } from '../../src/tsdb/chunkenc/index.js';
import { ValueType } from '../../src/storage/interface.js';
import { STALE_NAN, isStaleNaN } from '../../src/model/value.js';
import { labelsFromObject } from '../../src/model/labels.js';
import { encodeWriteV1 } from '../../src/codec/index.js';

const T = 1_700_000_000_000;

async function load(st: Stack) {
  const body = v1Body([
    series({ __name__: 'up', job: 'node', instance: 'a:9100' }, [[T, 1], [T + 15_000, 1], [T + 30_000, 0]]),
    series({ __name__: 'up', job: 'node', instance: 'b:9100' }, [[T, 1]]),
    series({ __name__: 'up', job: 'api', instance: 'c:80' }, [[T + 60_000, 1]]),
    series({ __name__: 'http_requests_total', job: 'api', code: '200' }, [[T, 10]]),
  ]);
  const r = await st.app.request('/api/v1/push', { method: 'POST', body, headers: { ...V1_HEADERS } });
  assert.equal(r.status, 204);
}

async function json(st: Stack, path: string, init?: RequestInit) {
  const r = await st.app.request(path, init);
  return { status: r.status, body: (await r.json()) as { status: string; data: unknown; error?: string; errorType?: string; warnings?: string[] } };
}

test('series, labels and label values answer in the Prometheus JSON format', async () => {
  const st = await startStack();
  try {
    await load(st);
    const s = await json(st, '/api/v1/series?match[]=up{job="node"}');
    assert.equal(s.status, 200);
    assert.deepEqual(s.body, {
      status: 'success',
      data: [
        { __name__: 'up', instance: 'a:9100', job: 'node' },
        { __name__: 'up', instance: 'b:9100', job: 'node' },
      ],
    });
    // Several match[] are a union; start/end restrict by sample time (Unix seconds or RFC 3339).
    const u = await json(st, `/api/v1/series?match[]=up{instance="c:80"}&match[]=http_requests_total&start=${(T + 30_000) / 1000}&end=${new Date(T + 90_000).toISOString()}`);
    assert.deepEqual(u.body.data, [{ __name__: 'up', instance: 'c:80', job: 'api' }]);
    const form = await json(st, '/api/v1/series', {
      method: 'POST',
      body: new URLSearchParams({ 'match[]': 'http_requests_total' }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(form.body.data, [{ __name__: 'http_requests_total', code: '200', job: 'api' }]);
    const lim = await json(st, '/api/v1/series?match[]=up&limit=1');
    assert.equal((lim.body.data as unknown[]).length, 1);
    assert.deepEqual(lim.body.warnings, ['results truncated due to limit']);

    assert.deepEqual((await json(st, '/api/v1/labels')).body, { status: 'success', data: ['__name__', 'code', 'instance', 'job'] });
    assert.deepEqual((await json(st, '/api/v1/labels?match[]=up')).body.data, ['__name__', 'instance', 'job']);
    assert.deepEqual((await json(st, '/api/v1/label/job/values')).body.data, ['api', 'node']);
    assert.deepEqual((await json(st, '/api/v1/label/instance/values?match[]=up{job="node"}')).body.data, ['a:9100', 'b:9100']);
    assert.deepEqual((await json(st, '/api/v1/label/nope/values')).body.data, []);
    // Other tenants see nothing.
    assert.deepEqual((await json(st, '/api/v1/label/job/values', { headers: { 'X-Scope-OrgID': 'other' } })).body.data, []);
  } finally {
    await st.close();
  }
});

test('read API errors use Prometheus error types and status codes', async () => {
  const st = await startStack();
  try {
    const none = await json(st, '/api/v1/series');
    assert.equal(none.status, 400);
    assert.deepEqual(none.body, { status: 'error', errorType: 'bad_data', error: 'no match[] parameter provided' });
    const bad = await json(st, '/api/v1/series?match[]=up{');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errorType, 'bad_data');
    assert.match(bad.body.error!, /invalid parameter "match\[\]"/);
    const empty = await json(st, '/api/v1/series?match[]={a=""}');
    assert.equal(empty.status, 400);
    const t = await json(st, '/api/v1/labels?start=yesterday');
    assert.equal(t.status, 400);
    assert.match(t.body.error!, /invalid parameter "start": cannot parse "yesterday" to a valid timestamp/);
  } finally {
    await st.close();
  }
});

function readBody(req: ReadRequest): Uint8Array {
  return snappyCompress(encodeReadRequest(req));
}

test('remote read returns samples (with stale markers bit-exact) and streamed XOR chunks', async () => {
  const st = await startStack();
  try {
    await load(st);
    const vals = new Float64Array(2); // not from an array literal: JS arrays quiet the stale NaN
    vals[0] = 5;
    vals[1] = STALE_NAN;
    const stale = snappyCompress(encodeWriteV1([{ labels: labelsFromObject({ __name__: 'st' }), timestamps: [T, T + 1000], values: vals }]));
    assert.equal((await st.app.request('/api/v1/push', { method: 'POST', body: stale, headers: V1_HEADERS })).status, 204);

    const q = (name: string, acceptedResponseTypes: number[]): ReadRequest => ({
      queries: [{ startMs: T, endMs: T + 20_000, matchers: [{ type: 0, name: '__name__', value: name }, { type: 2, name: 'job', value: 'no.*|' }], hints: null }],
      acceptedResponseTypes,
    });
    const res = await st.app.request('/api/v1/read', { method: 'POST', body: readBody(q('up', [0])) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('Content-Encoding'), 'snappy');
    const out = decodeReadResponse(snappyUncompress(new Uint8Array(await res.arrayBuffer()), 1 << 24));
    assert.equal(out.length, 1);
    assert.deepEqual(
      out[0]!.map((s) => [s.labels.join(','), [...s.timestamps], [...s.values]]),
      [
        ['__name__,up,instance,a:9100,job,node', [T, T + 15_000], [1, 1]],
        ['__name__,up,instance,b:9100,job,node', [T], [1]],
      ],
    );
    const sres = await st.app.request('/api/v1/read', { method: 'POST', body: readBody({ ...q('st', [0]), queries: [{ ...q('st', [0]).queries[0]!, matchers: [{ type: 0, name: '__name__', value: 'st' }] }] }) });
    const sout = decodeReadResponse(snappyUncompress(new Uint8Array(await sres.arrayBuffer()), 1 << 24));
    assert.equal(isStaleNaN(sout[0]![0]!.values[1]!), true, 'stale marker survives remote read');

    const chunked = await st.app.request('/api/v1/read', { method: 'POST', body: readBody(q('up', [1])) });
    assert.equal(chunked.status, 200);
    assert.match(chunked.headers.get('Content-Type')!, /application\/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse/);
    const buf = new Uint8Array(await chunked.arrayBuffer());
    let off = 0;
    const got: [string, number[]][] = [];
    while (off < buf.length) {
      const frame = decodeChunkedReadFrame(buf, off);
      off = frame.next;
      for (const s of frame.series) {
        const ts: number[] = [];
        for (const c of s.chunks) {
          const it = new XorChunk(c.data).iterator();
          while (it.next() === ValueType.Float) ts.push(it.atT());
        }
        got.push([s.labels.join(','), ts]);
      }
    }
    assert.deepEqual(got, [
      ['__name__,up,instance,a:9100,job,node', [T, T + 15_000]],
      ['__name__,up,instance,b:9100,job,node', [T]],
    ]);
    const garbage = await st.app.request('/api/v1/read', { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    assert.equal(garbage.status, 400);
  } finally {
    await st.close();
  }
});

test('operational endpoints: /metrics, /-/healthy, /-/ready', async () => {
  const st = await startStack();
  try {
    await load(st);
    assert.equal((await st.app.request('/-/healthy')).status, 200);
    assert.equal((await st.app.request('/-/ready')).status, 200);
    const m = await (await st.app.request('/metrics')).text();
    assert.match(m, /^argus_receive_samples_total 6$/m);
    assert.match(m, /^argus_receive_requests_total\{code="204"\} 1$/m);
    assert.match(m, /^argus_head_series\{tenant="anonymous"\} 4$/m);
    assert.match(m, /^argus_wal_fsyncs\{tenant="anonymous"\} [1-9]/m);
  } finally {
    await st.close();
  }
});
