import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, series, v1Body, V1_HEADERS, type Stack } from '../support/stack.js';

const T = 1_700_000_000_000; // ms
const S = T / 1000; // the same instant in seconds

async function push(st: Stack, body: Uint8Array, tenant?: string) {
  const headers: Record<string, string> = { ...V1_HEADERS };
  if (tenant) headers['X-Scope-OrgID'] = tenant;
  const r = await st.app.request('/api/v1/push', { method: 'POST', body, headers });
  assert.equal(r.status, 204, await r.text());
}

async function load(st: Stack) {
  await push(
    st,
    v1Body([
      series({ __name__: 'up', job: 'node', instance: 'a' }, [[T - 30_000, 1], [T - 15_000, 1], [T, 0]]),
      series({ __name__: 'up', job: 'node', instance: 'b' }, [[T - 30_000, 1], [T, 1]]),
      series({ __name__: 'odd', case: 'inf' }, [[T, Infinity]]),
      series({ __name__: 'odd', case: 'neg_inf' }, [[T, -Infinity]]),
      series({ __name__: 'odd', case: 'nan' }, [[T, NaN]]),
      series({ __name__: 'odd', case: 'neg_zero' }, [[T, -0]]),
      series({ __name__: 'odd', case: 'big' }, [[T, 1e21]]),
      series({ __name__: 'odd', case: 'large' }, [[T, 123456789012345680000]]),
      series({ __name__: 'odd', case: 'small' }, [[T, 1e-7]]),
      series({ __name__: 'odd', case: 'tiny' }, [[T, 0.000001]]),
      series({ __name__: 'odd', case: 'fraction' }, [[T, -1 / 3]]),
      series({ __name__: 'dup', job: 'node', instance: 'a' }, [[T, 2]]),
      series({ __name__: 'old', job: 'x' }, [[T - 8 * 60_000, 7]]),
      series({ __name__: 'esc', label: '<a href="x">&\u2028' }, [[T + 1, 1]]),
    ]),
  );
  await push(st, v1Body([series({ __name__: 'up', job: 'secret', instance: 'z' }, [[T, 1]])]), 'team-b');
}

async function get(st: Stack, path: string, init?: RequestInit) {
  const r = await st.app.request(path, init);
  const text = await r.text();
  return { status: r.status, type: r.headers.get('Content-Type'), text, body: text ? (JSON.parse(text) as any) : null };
}

const q = (query: string, extra = '') => `/api/v1/query?query=${encodeURIComponent(query)}${extra}`;

test('instant queries answer in the Prometheus JSON format, byte for byte', async () => {
  const st = await startStack();
  try {
    await load(st);
    const v = await get(st, q('up', `&time=${S}`));
    assert.equal(v.status, 200);
    assert.equal(v.type, 'application/json');
    assert.equal(
      v.text,
      '{"status":"success","data":{"resultType":"vector","result":[' +
        `{"metric":{"__name__":"up","instance":"a","job":"node"},"value":[${S},"0"]},` +
        `{"metric":{"__name__":"up","instance":"b","job":"node"},"value":[${S},"1"]}]}}`,
    );
    // Millisecond timestamps, always three fraction digits in vectors (jsonutil.MarshalTimestamp).
    const ms = await get(st, q('up{instance="b"}', `&time=${S}.5`));
    assert.match(ms.text, new RegExp(`"value":\\[${S}\\.500,"1"\\]`));
    const rfc = await get(st, q('up{instance="b"}', `&time=${new Date(T + 781).toISOString()}`));
    assert.match(rfc.text, new RegExp(`"value":\\[${S}\\.781,"1"\\]`));

    // Scalars and strings: [seconds as a JSON number, text].
    assert.equal((await get(st, q('1/0', `&time=${S}.1`))).text, `{"status":"success","data":{"resultType":"scalar","result":[${S}.1,"+Inf"]}}`);
    assert.deepEqual((await get(st, q('-1/0', `&time=${S}`))).body.data, { resultType: 'scalar', result: [S, '-Inf'] });
    assert.deepEqual((await get(st, q('0/0', `&time=${S}`))).body.data.result, [S, 'NaN']);
    assert.deepEqual((await get(st, q('-0', `&time=${S}`))).body.data.result, [S, '-0']);
    // Scalars never use an exponent (strconv.FormatFloat 'f'); vector values do below 1e-6 and from 1e21.
    assert.deepEqual((await get(st, q('1e21', `&time=${S}`))).body.data.result, [S, '1000000000000000000000']);
    assert.deepEqual((await get(st, q('1e-7', `&time=${S}`))).body.data.result, [S, '0.0000001']);
    assert.equal((await get(st, q('"a<b"', `&time=${S}`))).text, `{"status":"success","data":{"resultType":"string","result":[${S},"a\\u003cb"]}}`);

    const odd = await get(st, q('odd', `&time=${S}`));
    const values = Object.fromEntries((odd.body.data.result as { metric: { case: string }; value: [number, string] }[]).map((s) => [s.metric.case, s.value[1]]));
    assert.deepEqual(values, {
      big: '1e+21',
      fraction: '-0.3333333333333333',
      inf: '+Inf',
      large: '123456789012345680000',
      nan: 'NaN',
      neg_inf: '-Inf',
      neg_zero: '-0',
      small: '1e-07',
      tiny: '0.000001',
    });
    // Label values are written as they are (no HTML escaping in label sets, as Prometheus's codec).
    assert.match((await get(st, q('esc', `&time=${S}.001`))).text, /"label":"<a href=\\"x\\">&\u2028"/);

    // A range vector selector as an instant query gives a matrix.
    const m = await get(st, q('up{instance="a"}[1m]', `&time=${S}`));
    assert.equal(
      m.text,
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"a","job":"node"},' +
        `"values":[[${S - 30},"1"],[${S - 15},"1"],[${S},"0"]]}]}}`,
    );
  } finally {
    await st.close();
  }
});

test('query parameters: default time, POST form, lookback_delta, limit, stats', async () => {
  const st = await startStack();
  try {
    await load(st);
    const before = Date.now() / 1000;
    const now = await get(st, q('time()'));
    const [t, v] = now.body.data.result as [number, string];
    assert.ok(t >= Math.floor(before) && t <= Date.now() / 1000 + 1, `time defaults to now, got ${t}`);
    assert.equal(Number(v), t);

    const form = await get(st, '/api/v1/query', {
      method: 'POST',
      body: new URLSearchParams({ query: 'up{instance="b"}', time: String(S) }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(form.body.data.result, [{ metric: { __name__: 'up', instance: 'b', job: 'node' }, value: [S, '1'] }]);

    // 8 minutes old: invisible with the default 5m lookback, visible with 10m.
    assert.deepEqual((await get(st, q('old', `&time=${S}`))).body.data.result, []);
    assert.deepEqual((await get(st, q('old', `&time=${S}&lookback_delta=10m`))).body.data.result, [{ metric: { __name__: 'old', job: 'x' }, value: [S, '7'] }]);
    assert.deepEqual((await get(st, q('old', `&time=${S}&lookback_delta=600`))).body.data.result.length, 1);

    const lim = await get(st, q('up', `&time=${S}&limit=1`));
    assert.equal(lim.body.data.result.length, 1);
    assert.deepEqual(lim.body.warnings, ['results truncated due to limit']);
    const enough = await get(st, q('up', `&time=${S}&limit=2`));
    assert.equal(enough.body.data.result.length, 2);
    assert.equal(enough.body.warnings, undefined);

    const stats = await get(st, q('up', `&time=${S}&stats=all`));
    assert.deepEqual(Object.keys(stats.body.data), ['resultType', 'result', 'stats']);
    assert.deepEqual(Object.keys(stats.body.data.stats), ['timings', 'samples']);
    assert.deepEqual(Object.keys(stats.body.data.stats.timings), ['evalTotalTime', 'resultSortTime', 'queryPreparationTime', 'innerEvalTime', 'execQueueTime', 'execTotalTime']);
    assert.deepEqual(Object.keys(stats.body.data.stats.samples), ['totalQueryableSamples', 'peakSamples']);
    assert.ok(stats.body.data.stats.samples.totalQueryableSamples >= 2);
    assert.ok(typeof stats.body.data.stats.timings.execTotalTime === 'number');
    assert.equal((await get(st, q('up', `&time=${S}`))).body.data.stats, undefined);
  } finally {
    await st.close();
  }
});

test('range queries: RFC 3339 or Unix times, step as duration or seconds, the 11,000 points limit', async () => {
  const st = await startStack();
  try {
    await load(st);
    const r = await get(st, `/api/v1/query_range?query=up&start=${S - 30}&end=${S}&step=15s`);
    assert.equal(r.status, 200);
    assert.equal(
      r.text,
      '{"status":"success","data":{"resultType":"matrix","result":[' +
        `{"metric":{"__name__":"up","instance":"a","job":"node"},"values":[[${S - 30},"1"],[${S - 15},"1"],[${S},"0"]]},` +
        `{"metric":{"__name__":"up","instance":"b","job":"node"},"values":[[${S - 30},"1"],[${S - 15},"1"],[${S},"1"]]}]}}`,
    );
    const same = await get(st, `/api/v1/query_range?query=up&start=${new Date(T - 30_000).toISOString()}&end=${new Date(T).toISOString()}&step=15`);
    assert.equal(same.text, r.text);
    const post = await get(st, '/api/v1/query_range', {
      method: 'POST',
      body: new URLSearchParams({ query: 'up', start: String(S - 30), end: String(S), step: '15.0' }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(post.text, r.text);
    // Scalars over a range are a matrix with one label-less series.
    const sc = await get(st, `/api/v1/query_range?query=1/0&start=${S}&end=${S + 1}&step=1`);
    assert.equal(sc.text, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[${S},"+Inf"],[${S + 1},"+Inf"]]}]}}`);
    const lim = await get(st, `/api/v1/query_range?query=up&start=${S - 30}&end=${S}&step=15s&limit=1`);
    assert.equal(lim.body.data.result.length, 1);
    assert.deepEqual(lim.body.warnings, ['results truncated due to limit']);

    // 11,000 steps are fine (11,001 points); one step more is refused before the query runs.
    assert.equal((await get(st, '/api/v1/query_range?query=1&start=0&end=11000&step=1')).status, 200);
    const tooMany = await get(st, '/api/v1/query_range?query=1&start=0&end=11001&step=1');
    assert.equal(tooMany.status, 400);
    assert.deepEqual(tooMany.body, {
      status: 'error',
      errorType: 'bad_data',
      error: 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
    });
    assert.equal((await get(st, '/api/v1/query_range?query=1&start=0&end=604800&step=1m')).status, 200);
    assert.equal((await get(st, '/api/v1/query_range?query=1&start=0&end=604800&step=54s')).status, 400);
  } finally {
    await st.close();
  }
});

test('parameter errors have Prometheus wording, type and status', async () => {
  const st = await startStack();
  try {
    const cases: [string, string][] = [
      [q('up', '&time=abc'), `invalid parameter "time": invalid time value for 'time': cannot parse "abc" to a valid timestamp`],
      [q('up', '&limit=-1'), 'invalid parameter "limit": limit must be non-negative'],
      [q('up', '&limit=x'), 'invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax'],
      [q('up', '&timeout=soon'), 'invalid parameter "timeout": cannot parse "soon" to a valid duration'],
      [q('up', '&lookback_delta=1x'), 'error parsing lookback delta duration: cannot parse "1x" to a valid duration'],
      [q('sum(up'), 'invalid parameter "query": 1:7: parse error: unclosed left parenthesis'],
      [q('rate(up)'), 'invalid parameter "query": 1:6: parse error: expected type range vector in call to function "rate", got instant vector'],
      ['/api/v1/query', 'invalid parameter "query": unknown position: parse error: no expression found in input'],
      ['/api/v1/query_range?query=up&end=1&step=1', 'invalid parameter "start": cannot parse "" to a valid timestamp'],
      ['/api/v1/query_range?query=up&start=1&step=1', 'invalid parameter "end": cannot parse "" to a valid timestamp'],
      ['/api/v1/query_range?query=up&start=2&end=1&step=1', 'invalid parameter "end": end timestamp must not be before start time'],
      ['/api/v1/query_range?query=up&start=1&end=2', 'invalid parameter "step": cannot parse "" to a valid duration'],
      ['/api/v1/query_range?query=up&start=1&end=2&step=0', 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer'],
      ['/api/v1/query_range?query=up&start=1&end=2&step=-5', 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer'],
      ['/api/v1/query_range?query=up&start=1&end=2&step=1y2', 'invalid parameter "step": cannot parse "1y2" to a valid duration'],
    ];
    for (const [path, error] of cases) {
      const r = await get(st, path);
      assert.equal(r.status, 400, path);
      assert.deepEqual(r.body, { status: 'error', errorType: 'bad_data', error }, path);
    }
    // Exact bytes of an error envelope (Go's encoder escapes '<', '>' and '&').
    const e = await get(st, q('up{a="<"', ''));
    assert.equal(e.text, '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:9: parse error: unexpected end of input inside braces"}');
  } finally {
    await st.close();
  }
});

test('execution errors are 422, timeouts 503, cancellation 499', async () => {
  const st = await startStack();
  try {
    await load(st);
    const dup = await get(st, q('{__name__=~"up|dup", instance="a"} + 1', `&time=${S}`));
    assert.equal(dup.status, 422);
    assert.equal(dup.body.status, 'error');
    assert.equal(dup.body.errorType, 'execution');
    assert.match(dup.body.error, /vector cannot contain metrics with the same labelset/);

    // A deadline already past: the query times out.
    const to = await get(st, q('up', `&time=${S}&timeout=-1`));
    assert.equal(to.status, 503);
    assert.equal(to.body.errorType, 'timeout');
    assert.match(to.body.error, /query timed out/);

    // The client went away: the request's signal cancels the query.
    const ac = new AbortController();
    ac.abort();
    const c = await get(st, `/api/v1/query_range?query=up&start=${S - 30}&end=${S}&step=1`, { signal: ac.signal });
    assert.equal(c.status, 499);
    assert.equal(c.body.errorType, 'canceled');
    assert.match(c.body.error, /query was canceled/);
  } finally {
    await st.close();
  }
});

test('warnings and infos are reported as Prometheus emits them', async () => {
  const st = await startStack();
  try {
    await load(st);
    const r = await get(st, q('rate(up[5m])', `&time=${S}`));
    assert.equal(r.status, 200);
    assert.equal(r.body.warnings, undefined);
    assert.deepEqual(r.body.infos, ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "up" (1:6)']);
    assert.match(r.text, /\]\},"infos":\["PromQL info: /);
  } finally {
    await st.close();
  }
});

test('X-Scope-OrgID selects the tenant for queries; unknown tenants see nothing and are not created', async () => {
  const st = await startStack();
  try {
    await load(st);
    const b = await get(st, q('up', `&time=${S}`), { headers: { 'X-Scope-OrgID': 'team-b' } });
    assert.deepEqual(b.body.data.result, [{ metric: { __name__: 'up', instance: 'z', job: 'secret' }, value: [S, '1'] }]);
    const a = await get(st, q('count(up)', `&time=${S}`));
    assert.deepEqual(a.body.data.result, [{ metric: {}, value: [S, '2'] }]);
    const none = await get(st, `/api/v1/query_range?query=up&start=${S - 30}&end=${S}&step=15`, { headers: { 'X-Scope-OrgID': 'nobody' } });
    assert.equal(none.text, '{"status":"success","data":{"resultType":"matrix","result":[]}}');
    assert.equal(st.db.getHead('nobody'), undefined);
    const bad = await st.app.request(q('up'), { headers: { 'X-Scope-OrgID': '..' } });
    assert.equal(bad.status, 400);
  } finally {
    await st.close();
  }
});

test('POST multipart forms, gzip responses, and range queries of the wrong type', async () => {
  const st = await startStack();
  try {
    await load(st);
    const fd = new FormData();
    fd.set('query', 'up{instance="b"}');
    fd.set('time', String(S));
    const mp = await get(st, '/api/v1/query', { method: 'POST', body: fd });
    assert.deepEqual(mp.body.data.result, [{ metric: { __name__: 'up', instance: 'b', job: 'node' }, value: [S, '1'] }]);
    // Form values win over the URL's, as with Go's r.FormValue.
    const both = await get(st, `/api/v1/query?query=nope&time=${S}`, {
      method: 'POST',
      body: new URLSearchParams({ query: 'count(up)' }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(both.body.data.result, [{ metric: {}, value: [S, '2'] }]);

    const plain = await st.app.request(`/api/v1/query_range?query=up%20or%20vector(1)&start=${S - 3000}&end=${S}&step=1`);
    const zipped = await st.app.request(`/api/v1/query_range?query=up%20or%20vector(1)&start=${S - 3000}&end=${S}&step=1`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(zipped.headers.get('Content-Encoding'), 'gzip');
    const { gunzipSync } = await import('node:zlib');
    const unzipped = gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString('utf8');
    const text = await plain.text();
    assert.equal(unzipped, text);
    const res = (JSON.parse(text) as any).data.result;
    assert.equal(res.length, 3);
    assert.equal(res[0].values.length, 3001);

    for (const [query, type] of [
      ['up[5m]', 'range vector'],
      ['"x"', 'string'],
    ]) {
      const r = await get(st, `/api/v1/query_range?query=${encodeURIComponent(query!)}&start=1&end=2&step=1`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, `invalid parameter "query": invalid expression type "${type}" for range query, must be Scalar or instant Vector`);
    }
  } finally {
    await st.close();
  }
});
