import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startStack, series, v1Body, V1_HEADERS, type Stack } from '../support/stack.js';
import { STALE_NAN } from '../../src/model/value.js';
import { labelsFromObject } from '../../src/model/labels.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';

async function push(st: Stack, body: Uint8Array, tenant?: string) {
  const headers: Record<string, string> = { ...V1_HEADERS };
  if (tenant) headers['X-Scope-OrgID'] = tenant;
  const r = await st.app.request('/api/v1/push', { method: 'POST', body, headers });
  assert.equal(r.status, 204, await r.text());
}

async function get(st: Stack, path: string, init?: RequestInit) {
  const r = await st.app.request(path, init);
  const text = await r.text();
  return { status: r.status, type: r.headers.get('Content-Type'), text, body: text ? (JSON.parse(text) as any) : null };
}

test('format_query pretty-prints and parse_query returns the syntax tree as Prometheus 3 does', async () => {
  const st = await startStack();
  try {
    const f = await get(st, `/api/v1/format_query?query=${encodeURIComponent('sum(rate(foo{job="a"}[5m]))by(job)')}`);
    assert.equal(f.status, 200);
    assert.equal(f.text, '{"status":"success","data":"sum by (job) (rate(foo{job=\\"a\\"}[5m]))"}');
    const post = await get(st, '/api/v1/format_query', {
      method: 'POST',
      body: new URLSearchParams({ query: 'a+b' }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(post.body.data, 'a + b');

    const p = await get(st, `/api/v1/parse_query?query=${encodeURIComponent('up')}`);
    assert.equal(
      p.text,
      '{"status":"success","data":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,' +
        '"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}}',
    );
    const q = 'sum without (i) (rate(x{a=~"b"}[5m] offset 1m @ 100)) > bool on (j) group_left (k) topk(3, y) - -2';
    const tree = (await get(st, `/api/v1/parse_query?query=${encodeURIComponent(q)}`)).body.data;
    assert.equal(tree.type, 'binaryExpr');
    assert.equal(tree.op, '>');
    assert.equal(tree.bool, true);
    assert.deepEqual(tree.matching, { card: 'many-to-one', include: ['k'], labels: ['j'], on: true });
    assert.deepEqual(tree.lhs.grouping, ['i']);
    assert.equal(tree.lhs.without, true);
    assert.equal(tree.lhs.param, null);
    assert.deepEqual(tree.lhs.expr.func, { argTypes: ['matrix'], name: 'rate', returnType: 'vector', variadic: 0 });
    assert.deepEqual(tree.lhs.expr.args[0], {
      anchored: false,
      matchers: [
        { name: 'a', type: '=~', value: 'b' },
        { name: '__name__', type: '=', value: 'x' },
      ],
      name: 'x',
      offset: 60000,
      range: 300000,
      smoothed: false,
      startOrEnd: null,
      timestamp: 100000,
      type: 'matrixSelector',
    });
    assert.deepEqual(tree.rhs.rhs, { type: 'numberLiteral', val: '-2' });
    assert.equal(tree.rhs.matching, null);
    assert.deepEqual(tree.rhs.lhs.param, { type: 'numberLiteral', val: '3' });
    // Go's encoder escapes '<' and '>' in strings.
    assert.match((await get(st, `/api/v1/parse_query?query=${encodeURIComponent('a < b')}`)).text, /"op":"\\u003c"/);
    const sub = (await get(st, `/api/v1/parse_query?query=${encodeURIComponent('max_over_time(rate(x[1m])[1h:5m] @ end())')}`)).body.data;
    assert.deepEqual({ ...sub.args[0], expr: null }, { expr: null, offset: 0, range: 3600000, startOrEnd: 'end', step: 300000, timestamp: null, type: 'subquery' });

    for (const path of ['/api/v1/format_query?query=foo{', '/api/v1/parse_query?query=foo{', '/api/v1/parse_query']) {
      const e = await get(st, path);
      assert.equal(e.status, 400);
      assert.equal(e.body.status, 'error');
      assert.equal(e.body.errorType, 'bad_data');
      assert.match(e.body.error, /^invalid parameter "query": (1:\d+|unknown position): parse error: /);
    }
    assert.equal((await get(st, '/api/v1/parse_query')).body.error, 'invalid parameter "query": unknown position: parse error: no expression found in input');
    assert.equal((await get(st, '/api/v1/format_query?query=foo{')).body.error, 'invalid parameter "query": 1:5: parse error: unexpected end of input inside braces');
  } finally {
    await st.close();
  }
});

test('status endpoints: buildinfo, runtimeinfo, flags, config', async () => {
  const st = await startStack();
  try {
    const b = await get(st, '/api/v1/status/buildinfo');
    assert.equal(b.status, 200);
    assert.equal(b.type, 'application/json');
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.deepEqual(Object.keys(b.body.data), ['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion']);
    assert.equal(b.body.data.version, version);
    assert.equal(b.body.data.goVersion, `node${process.versions.node}`);

    const r = await get(st, '/api/v1/status/runtimeinfo');
    assert.deepEqual(Object.keys(r.body.data), [
      'startTime',
      'CWD',
      'hostname',
      'serverTime',
      'reloadConfigSuccess',
      'lastConfigTime',
      'corruptionCount',
      'goroutineCount',
      'GOMAXPROCS',
      'GOMEMLIMIT',
      'GOGC',
      'GODEBUG',
      'storageRetention',
    ]);
    assert.equal(r.body.data.CWD, process.cwd());
    assert.ok(Date.parse(r.body.data.startTime) <= Date.parse(r.body.data.serverTime));
    assert.equal(r.body.data.corruptionCount, 0);

    // Without flags and config in the app's dependencies: empty, in the right shape.
    assert.deepEqual((await get(st, '/api/v1/status/flags')).body, { status: 'success', data: {} });
    assert.deepEqual((await get(st, '/api/v1/status/config')).body, { status: 'success', data: { yaml: '' } });
  } finally {
    await st.close();
  }
});

test('flags and config come from the app dependencies', async () => {
  const { createApp } = await import('../../src/server/app.js');
  const st = await startStack();
  try {
    const app = createApp({
      receiver: st.receiver,
      db: st.db,
      registry: st.registry,
      logger: (await import('../../src/util/log.js')).nopLogger,
      isReady: () => true,
      engine: new (await import('../../src/promql/engine/index.js')).Engine(),
      flags: { 'web.listen-address': '0.0.0.0:9090', 'log.level': 'info', 'storage.tsdb.path': './data' },
      configYaml: 'limits:\n  max_label_names_per_series: 30\n',
    });
    const f = await app.request('/api/v1/status/flags');
    assert.equal(
      await f.text(),
      '{"status":"success","data":{"log.level":"info","storage.tsdb.path":"./data","web.listen-address":"0.0.0.0:9090"}}',
    );
    const c = await app.request('/api/v1/status/config');
    assert.deepEqual(await c.json(), { status: 'success', data: { yaml: 'limits:\n  max_label_names_per_series: 30\n' } });
  } finally {
    await st.close();
  }
});

test('status/tsdb reports the tenant head cardinality like Prometheus', async () => {
  const st = await startStack();
  try {
    const T = 1_700_000_000_000;
    const rows = [];
    for (let i = 0; i < 12; i++) rows.push(series({ __name__: 'http_requests_total', code: String(200 + i), job: 'api' }, [[T, i], [T + 15_000, i]]));
    rows.push(series({ __name__: 'up', job: 'api', instance: 'a' }, [[T - 30_000, 1]]));
    rows.push(series({ __name__: 'up', job: 'node', instance: 'b' }, [[T + 60_000, 1]]));
    await push(st, v1Body(rows));
    await push(st, v1Body([series({ __name__: 'other_tenant_metric' }, [[T, 1]])]), 'team-b');

    const r = await get(st, '/api/v1/status/tsdb');
    assert.equal(r.status, 200);
    const d = r.body.data;
    assert.deepEqual(Object.keys(d), ['headStats', 'seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair']);
    assert.deepEqual(d.headStats, { numSeries: 14, numLabelPairs: 2 + 12 + 2 + 2, chunkCount: 14, minTime: T - 30_000, maxTime: T + 60_000 });
    assert.deepEqual(d.seriesCountByMetricName, [
      { name: 'http_requests_total', value: 12 },
      { name: 'up', value: 2 },
    ]);
    assert.deepEqual(d.labelValueCountByLabelName, [
      { name: 'code', value: 12 },
      { name: '__name__', value: 2 },
      { name: 'instance', value: 2 },
      { name: 'job', value: 2 },
    ]);
    // SizeOfLabels: (len(name)+1 + len(value)+1) × series with that pair, summed per label name.
    const nameBytes = (8 + 1 + 19 + 1) * 12 + (8 + 1 + 2 + 1) * 2;
    const jobBytes = (3 + 1 + 3 + 1) * 13 + (3 + 1 + 4 + 1);
    assert.deepEqual(d.memoryInBytesByLabelName, [
      { name: '__name__', value: nameBytes },
      { name: 'job', value: jobBytes },
      { name: 'code', value: (4 + 1 + 3 + 1) * 12 },
      { name: 'instance', value: (8 + 1 + 1 + 1) * 2 },
    ]);
    assert.equal(d.seriesCountByLabelValuePair.length, 10);
    assert.deepEqual(d.seriesCountByLabelValuePair.slice(0, 3), [
      { name: 'job=api', value: 13 },
      { name: '__name__=http_requests_total', value: 12 },
      { name: '__name__=up', value: 2 },
    ]);

    const lim = (await get(st, '/api/v1/status/tsdb?limit=1')).body.data;
    assert.equal(lim.seriesCountByLabelValuePair.length, 1);
    assert.equal(lim.labelValueCountByLabelName.length, 1);
    for (const [q, msg] of [
      ['0', 'limit must be a positive number'],
      ['x', 'limit must be a positive number'],
      ['10001', 'limit must not exceed 10000'],
    ]) {
      const e = await get(st, `/api/v1/status/tsdb?limit=${q}`);
      assert.equal(e.status, 400);
      assert.deepEqual(e.body, { status: 'error', errorType: 'bad_data', error: msg });
    }

    // Another tenant sees only its own head; a tenant without data gets Go's empty-head time range.
    const b = (await get(st, '/api/v1/status/tsdb', { headers: { 'X-Scope-OrgID': 'team-b' } })).body.data;
    assert.deepEqual(b.seriesCountByMetricName, [{ name: 'other_tenant_metric', value: 1 }]);
    const none = await get(st, '/api/v1/status/tsdb', { headers: { 'X-Scope-OrgID': 'nobody' } });
    assert.match(none.text, /"headStats":\{"numSeries":0,"numLabelPairs":0,"chunkCount":0,"minTime":9223372036854775807,"maxTime":-9223372036854775808\}/);
    assert.deepEqual(none.body.data.seriesCountByMetricName, []);
    assert.equal(st.db.getHead('nobody'), undefined, 'reads never create a tenant');
  } finally {
    await st.close();
  }
});

test('metadata and query_exemplars answer empty in the Prometheus shape', async () => {
  const st = await startStack();
  try {
    assert.equal((await get(st, '/api/v1/metadata')).text, '{"status":"success","data":{}}');
    assert.equal((await get(st, '/api/v1/metadata?metric=up&limit=5')).text, '{"status":"success","data":{}}');
    const bad = await get(st, '/api/v1/metadata?limit=x');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { status: 'error', errorType: 'bad_data', error: 'limit must be a number' });
    assert.equal((await get(st, '/api/v1/metadata?limit_per_metric=y')).body.error, 'limit_per_metric must be a number');

    assert.equal((await get(st, `/api/v1/query_exemplars?query=${encodeURIComponent('rate(x[5m]) + y')}&start=1&end=2`)).text, '{"status":"success","data":[]}');
    // Without a selector there is nothing to look up: 204 No Content, as Prometheus answers.
    const none = await st.app.request('/api/v1/query_exemplars?query=1%2B1');
    assert.equal(none.status, 204);
    assert.equal(await none.text(), '');
    const order = await get(st, '/api/v1/query_exemplars?query=x&start=10&end=5');
    assert.equal(order.status, 400);
    assert.equal(order.body.error, 'end timestamp must not be before start timestamp');
    const t = await get(st, '/api/v1/query_exemplars?query=x&start=abc');
    assert.equal(t.body.error, `invalid parameter "start": invalid time value for 'start': cannot parse "abc" to a valid timestamp`);
    const q = await get(st, '/api/v1/query_exemplars?query=x{');
    assert.equal(q.status, 400);
    assert.equal(q.body.error, '1:3: parse error: unexpected end of input inside braces');
  } finally {
    await st.close();
  }
});

test('federate writes the latest sample of each matching series in the text format', async () => {
  const st = await startStack();
  try {
    const now = Date.now();
    const vals = new Float64Array(2); // not from an array literal: JS arrays quiet the stale NaN
    vals[0] = 1;
    vals[1] = STALE_NAN;
    await push(
      st,
      v1Body([
        series({ __name__: 'up', job: 'node', instance: 'a:9100' }, [[now - 40_000, 1], [now - 25_000, 0]]),
        series({ __name__: 'up', job: 'api', instance: 'c:80' }, [[now - 20_000, 1]]),
        series({ __name__: 'http_requests_total', job: 'api', code: '200' }, [[now - 10_000, 1234567]]),
        series({ __name__: 'temp', job: 'x', path: 'C:\\dir "q"\nnext' }, [[now - 5_000, -0.000012]]),
        series({ __name__: 'old', job: 'x' }, [[now - 10 * 60_000, 1]]), // older than the 5m lookback
        series({ __name__: 'my.metric', 'the.label': 'v' }, [[now - 1000, Infinity]]),
      ]),
    );
    await push(st, snappyCompress(encodeWriteV1([{ labels: labelsFromObject({ __name__: 'gone', job: 'x' }), timestamps: [now - 3000, now - 2000], values: vals }])));
    await push(st, v1Body([series({ __name__: 'up', job: 'secret', instance: 'z' }, [[now - 1000, 1]])]), 'team-b');

    const r = await st.app.request(`/federate?match[]=${encodeURIComponent('{__name__=~".+"}')}&match[]=up`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8; escaping=underscores');
    assert.equal(
      await r.text(),
      [
        '# TYPE http_requests_total untyped',
        `http_requests_total{code="200",job="api",instance=""} 1.234567e+06 ${now - 10_000}`,
        '# TYPE my_metric untyped',
        `my_metric{the_label="v",instance=""} +Inf ${now - 1000}`,
        '# TYPE temp untyped',
        `temp{job="x",path="C:\\\\dir \\"q\\"\\nnext",instance=""} -1.2e-05 ${now - 5000}`,
        '# TYPE up untyped',
        `up{instance="a:9100",job="node"} 0 ${now - 25_000}`,
        `up{instance="c:80",job="api"} 1 ${now - 20_000}`,
        '',
      ].join('\n'),
    );

    // UTF-8 names stay as they are when the client asks for it.
    const utf8 = await st.app.request('/federate?match[]=%7B__name__%3D%22my.metric%22%7D', { headers: { Accept: 'text/plain;version=0.0.4;escaping=allow-utf-8' } });
    assert.equal(utf8.headers.get('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8');
    assert.equal(await utf8.text(), `# TYPE "my.metric" untyped\n{"my.metric","the.label"="v",instance=""} +Inf ${now - 1000}\n`);

    // The tenant header selects the data; other tenants see nothing.
    const b = await st.app.request('/federate?match[]=up', { headers: { 'X-Scope-OrgID': 'team-b' } });
    assert.equal(await b.text(), `# TYPE up untyped\nup{instance="z",job="secret"} 1 ${now - 1000}\n`);
    assert.equal(await (await st.app.request('/federate?match[]=up', { headers: { 'X-Scope-OrgID': 'nobody' } })).text(), '');
    assert.equal(st.db.getHead('nobody'), undefined);

    // POST form, no match[] (empty output), and a bad selector (400 in plain text, as Prometheus).
    const form = await st.app.request('/federate', {
      method: 'POST',
      body: new URLSearchParams({ 'match[]': 'http_requests_total' }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.match(await form.text(), /^# TYPE http_requests_total untyped\n/);
    const empty = await st.app.request('/federate');
    assert.equal(empty.status, 200);
    assert.equal(await empty.text(), '');
    const bad = await st.app.request('/federate?match[]=up{');
    assert.equal(bad.status, 400);
    assert.equal(await bad.text(), '1:4: parse error: unexpected end of input inside braces\n');
  } finally {
    await st.close();
  }
});
