// Query-time dedup through the Prometheus HTTP API (Hono app, no sockets) and the `query` config section;
// one test starts the real server in process to check that the config reaches the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, queryReplicaLabels } from '../../src/config/index.js';
import { createApp } from '../../src/server/index.js';
import { Engine } from '../../src/promql/engine/index.js';
import { nopLogger } from '../../src/util/log.js';
import { startStack, series, v1Body, V1_HEADERS, type Stack } from '../support/stack.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { T0, range, replica, type Replica } from './replicas.js';

const S0 = T0 / 1000;
const N = 20;

/** The stack's storage and receiver behind an app with the given dedup defaults. */
function appWith(st: Stack, dedup?: { replicaLabels: string[]; dedup: boolean }) {
  return createApp({ receiver: st.receiver, db: st.db, registry: st.registry, logger: nopLogger, isReady: () => true, engine: new Engine(), ...(dedup ? { dedup } : {}) });
}

async function push(app: ReturnType<typeof createApp>, reps: Replica[]) {
  const body = v1Body(reps.map((r) => series(r.labels, r.ts.map((t, i) => [t, r.vs[i]!]))));
  const res = await app.request('/api/v1/push', { method: 'POST', body, headers: { ...V1_HEADERS } });
  assert.equal(res.status, 204, await res.text());
}

async function get(app: ReturnType<typeof createApp>, path: string, init?: RequestInit) {
  const r = await app.request(path, init);
  const text = await r.text();
  return { status: r.status, text, body: JSON.parse(text) as any };
}

/** a misses scrapes 3–5 and b misses 8–9; gauges `g` and counters `c_total` (b counts 500 lower), by `label`. */
function data(label: string): Replica[] {
  return [
    replica({ __name__: 'g', job: 'x', [label]: 'a' }, N, { miss: [3, 4, 5], value: (k) => 100 + k }),
    replica({ __name__: 'g', job: 'x', [label]: 'b' }, N, { miss: [8, 9], value: (k) => 200 + k }),
    replica({ __name__: 'c_total', job: 'x', [label]: 'a' }, N, { miss: [3, 4, 5], value: (k) => 500 + 10 * k }),
    replica({ __name__: 'c_total', job: 'x', [label]: 'b' }, N, { miss: [8, 9], value: (k) => 10 * k }),
  ];
}

const rangeQ = (q: string, extra = '') => `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${S0}&end=${S0 + (N - 1) * 15}&step=15${extra}`;

test('query and query_range deduplicate over the configured replica label; dedup=false shows every replica', async () => {
  const st = await startStack();
  try {
    const app = appWith(st, { replicaLabels: ['__replica__'], dedup: true });
    await push(app, data('__replica__'));
    // Every scrape once: each step shows that step's scrape, from whichever replica had it.
    const r = await get(app, rangeQ('g'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.result.length, 1);
    assert.deepEqual(r.body.data.result[0].metric, { __name__: 'g', job: 'x' });
    assert.deepEqual(
      r.body.data.result[0].values.map((v: [number, string]) => Number(v[1]) % 100),
      range(0, N - 1),
    );
    // increase over the merged counter: the true 10 per scrape everywhere, no reset at a switch.
    const inc = await get(app, rangeQ('increase(c_total[1m])').replace(`start=${S0}`, `start=${S0 + 60}`));
    assert.equal(inc.body.data.result.length, 1);
    for (const [, v] of inc.body.data.result[0].values as [number, string][]) assert.equal(Number(v), 40, `increase ${v}`);
    const resets = await get(app, `/api/v1/query?query=${encodeURIComponent('resets(c_total[10m])')}&time=${S0 + (N - 1) * 15}`);
    assert.deepEqual(resets.body.data.result, [{ metric: { job: 'x' }, value: [S0 + (N - 1) * 15, '0'] }]);
    // dedup=false: both replicas, with their labels.
    for (const off of ['false', '0', 'F']) {
      const both = await get(app, rangeQ('g', `&dedup=${off}`));
      assert.deepEqual(
        both.body.data.result.map((s: { metric: Record<string, string> }) => s.metric),
        [
          { __name__: 'g', __replica__: 'a', job: 'x' },
          { __name__: 'g', __replica__: 'b', job: 'x' },
        ],
      );
    }
    const inst = await get(app, `/api/v1/query?query=g&time=${S0 + 4 * 15}&dedup=false`);
    assert.equal(inst.body.data.result.length, 2);
    const instDedup = await get(app, `/api/v1/query?query=g&time=${S0 + 4 * 15}&dedup=true`);
    assert.deepEqual(instDedup.body.data.result, [{ metric: { __name__: 'g', job: 'x' }, value: [S0 + 60, '204'] }]);
    // The config can default dedup to off; a request turns it on.
    const off = appWith(st, { replicaLabels: ['__replica__'], dedup: false });
    assert.equal((await get(off, rangeQ('g'))).body.data.result.length, 2);
    assert.equal((await get(off, rangeQ('g', '&dedup=true'))).body.data.result.length, 1);
  } finally {
    await st.close();
  }
});

test('replicaLabels[] replaces the configured replica labels for one request', async () => {
  const st = await startStack();
  try {
    const app = appWith(st, { replicaLabels: ['__replica__'], dedup: true });
    await push(app, data('prometheus_replica'));
    assert.equal((await get(app, rangeQ('g'))).body.data.result.length, 2, 'not a configured replica label');
    const r = await get(app, rangeQ('g', '&replicaLabels[]=prometheus_replica'));
    assert.deepEqual(
      r.body.data.result.map((s: { metric: Record<string, string> }) => s.metric),
      [{ __name__: 'g', job: 'x' }],
    );
    // Several labels; the request's list replaces (does not extend) the configured one.
    const two = await get(app, rangeQ('g', '&replicaLabels[]=job&replicaLabels[]=prometheus_replica'));
    assert.deepEqual(two.body.data.result[0].metric, { __name__: 'g' });
    // Without configured labels (the app default) a request can still ask for dedup.
    const plain = appWith(st);
    assert.equal((await get(plain, rangeQ('g'))).body.data.result.length, 2);
    assert.equal((await get(plain, rangeQ('g', '&replicaLabels[]=prometheus_replica'))).body.data.result.length, 1);
    // POSTed forms too.
    const form = await get(app, '/api/v1/query_range', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['query', 'g'],
        ['start', String(S0)],
        ['end', String(S0 + 60)],
        ['step', '15'],
        ['replicaLabels[]', 'prometheus_replica'],
      ]),
    });
    assert.equal(form.body.data.result.length, 1);
  } finally {
    await st.close();
  }
});

test('series, labels and label values answer over the deduplicated view', async () => {
  const st = await startStack();
  try {
    const app = appWith(st, { replicaLabels: ['__replica__'], dedup: true });
    await push(app, data('__replica__'));
    const s = await get(app, '/api/v1/series?match[]=g');
    assert.deepEqual(s.body, { status: 'success', data: [{ __name__: 'g', job: 'x' }] });
    const s2 = await get(app, '/api/v1/series?match[]=g&dedup=false');
    assert.deepEqual(s2.body.data, [
      { __name__: 'g', __replica__: 'a', job: 'x' },
      { __name__: 'g', __replica__: 'b', job: 'x' },
    ]);
    // A matcher on the replica label still selects (as in Thanos); the result has no replica label.
    assert.deepEqual((await get(app, '/api/v1/series?match[]=g{__replica__="b"}')).body.data, [{ __name__: 'g', job: 'x' }]);
    // limit counts deduplicated series.
    const lim = await get(app, '/api/v1/series?match[]={job="x"}&limit=1');
    assert.deepEqual(lim.body, { status: 'success', data: [{ __name__: 'c_total', job: 'x' }], warnings: ['results truncated due to limit'] });
    assert.deepEqual((await get(app, '/api/v1/labels')).body.data, ['__name__', 'job']);
    assert.deepEqual((await get(app, '/api/v1/labels?dedup=false')).body.data, ['__name__', '__replica__', 'job']);
    assert.deepEqual((await get(app, '/api/v1/labels?match[]=g')).body.data, ['__name__', 'job']);
    assert.deepEqual((await get(app, '/api/v1/label/__replica__/values')).body.data, []);
    assert.deepEqual((await get(app, '/api/v1/label/__replica__/values?dedup=false')).body.data, ['a', 'b']);
    assert.deepEqual((await get(app, '/api/v1/label/job/values')).body.data, ['x']);
    assert.deepEqual((await get(app, '/api/v1/label/job/values?replicaLabels[]=job')).body.data, []);
  } finally {
    await st.close();
  }
});

test('bad dedup or replicaLabels[] values are a 400 naming the parameter, on every endpoint', async () => {
  const st = await startStack();
  try {
    const app = appWith(st, { replicaLabels: ['__replica__'], dedup: true });
    const paths = [
      `/api/v1/query?query=up&time=${S0}`,
      `/api/v1/query_range?query=up&start=${S0}&end=${S0 + 60}&step=15`,
      '/api/v1/series?match[]=up',
      '/api/v1/labels?',
      '/api/v1/label/job/values?',
    ];
    for (const p of paths) {
      const bad = await get(app, `${p}&dedup=maybe`);
      assert.equal(bad.status, 400, p);
      assert.deepEqual(bad.body, {
        status: 'error',
        errorType: 'bad_data',
        error: 'invalid parameter "dedup": strconv.ParseBool: parsing "maybe": invalid syntax',
      }, p);
      const empty = await get(app, `${p}&replicaLabels[]=`);
      assert.equal(empty.status, 400, p);
      assert.deepEqual(empty.body, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "replicaLabels[]": empty label name' }, p);
      // Go's ParseBool spellings are accepted.
      for (const ok of ['1', 't', 'TRUE', 'True', '0', 'f', 'FALSE', 'False']) assert.equal((await get(app, `${p}&dedup=${ok}`)).status, 200, `${p} dedup=${ok}`);
    }
    // Exact bytes of the query API's error envelope.
    assert.equal(
      (await get(app, `/api/v1/query?query=up&dedup=yes`)).text,
      '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"dedup\\": strconv.ParseBool: parsing \\"yes\\": invalid syntax"}',
    );
  } finally {
    await st.close();
  }
});

test('config: query.replica_labels defaults to the HA replica label, can list several or none; bad values are named', () => {
  const dflt = parseConfig('');
  assert.deepEqual(queryReplicaLabels(dflt), ['__replica__']);
  assert.equal(dflt.query.dedup, true);
  assert.deepEqual(queryReplicaLabels(parseConfig('limits:\n  ha_replica_label: replica\n')), ['replica']);
  const several = parseConfig('query:\n  replica_labels: [replica, prometheus_replica, replica]\n  dedup: false\n');
  assert.deepEqual(queryReplicaLabels(several), ['replica', 'prometheus_replica']);
  assert.equal(several.query.dedup, false);
  assert.deepEqual(queryReplicaLabels(parseConfig('query:\n  replica_labels: []\n')), []);
  assert.throws(() => parseConfig('query:\n  replica_labels: [""]\n'), /query\.replica_labels\.0: replica label names must not be empty/);
  assert.throws(() => parseConfig('query:\n  replica_labels: replica\n'), /query\.replica_labels/);
  assert.throws(() => parseConfig('query:\n  dedup: maybe\n'), /query\.dedup/);
  assert.throws(() => parseConfig('query:\n  replica_label: [x]\n'), /unknown key/);
});

test('argus receive: the query config reaches the API', async () => {
  const argus = await startArgusInProcess('query:\n  replica_labels: [replica]\n');
  try {
    const reps = data('replica');
    const body = v1Body(reps.map((r) => series(r.labels, r.ts.map((t, i) => [t, r.vs[i]!]))));
    const w = await fetch(`${argus.url}/api/v1/push`, { method: 'POST', body, headers: V1_HEADERS });
    assert.equal(w.status, 204);
    const r = (await (await fetch(`${argus.url}${rangeQ('g')}`)).json()) as { data: { result: { metric: unknown; values: unknown[] }[] } };
    assert.deepEqual(r.data.result.map((s) => s.metric), [{ __name__: 'g', job: 'x' }]);
    assert.equal(r.data.result[0]!.values.length, N);
    const s = (await (await fetch(`${argus.url}/api/v1/series?match[]=g&dedup=false`)).json()) as { data: unknown[] };
    assert.equal(s.data.length, 2);
  } finally {
    await argus.stop();
  }
});

