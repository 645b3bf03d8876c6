import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, stored, series, v1Body, v2Body, V1_HEADERS, V2_HEADERS, type Stack } from '../support/stack.js';

const FAST_HA = 'receive:\n  ha_tracker:\n    update_timeout: 2s\n    update_timeout_jitter_max: 0s\n    failover_timeout: 5s\n';
const T0 = 1_700_000_000_000;


function write(st: Stack, body: Uint8Array, now: number, headers: Record<string, string> = V1_HEADERS) {
  return st.receiver.write({ tenant: 'anonymous', body, contentType: headers['Content-Type'], contentEncoding: 'snappy', now });
}

test('the first replica seen is elected; the other is answered 202 and not stored; the replica label is dropped', async () => {
  const st = await startStack();
  try {
    const a = await write(st, v1Body([series({ __name__: 'up', cluster: 'c1', __replica__: 'a' }, [[T0, 1]])]), T0);
    assert.equal(a.status, 204, a.message);
    const b = await write(st, v1Body([series({ __name__: 'up', cluster: 'c1', __replica__: 'b' }, [[T0 + 10, 5]])]), T0 + 10);
    assert.equal(b.status, 202);
    assert.match(b.message, /replica "b" of cluster "c1" \(elected: "a"\)/);
    const got = await stored(st, 'up');
    assert.deepEqual(got, [{ labels: { __name__: 'up', cluster: 'c1' }, ts: [T0], vs: [1] }]);
    // Remote write 2.0: deduplicated samples are reported as written so the sender does not retry.
    const b2 = await write(st, v2Body([series({ __name__: 'up', cluster: 'c1', __replica__: 'b' }, [[T0 + 20, 5], [T0 + 30, 6]])]), T0 + 30, V2_HEADERS);
    assert.equal(b2.status, 202);
    assert.equal(b2.headers['X-Prometheus-Remote-Write-Samples-Written'], '2');
  } finally {
    await st.close();
  }
});

test('series with only one of the two HA labels are stored as they are', async () => {
  const st = await startStack();
  try {
    const r = await write(
      st,
      v1Body([series({ __name__: 'x', cluster: 'c1' }, [[T0, 1]]), series({ __name__: 'y', __replica__: 'r' }, [[T0, 2]])]),
      T0,
    );
    assert.equal(r.status, 204, r.message);
    assert.deepEqual((await stored(st, 'x'))[0]!.labels, { __name__: 'x', cluster: 'c1' });
    assert.deepEqual((await stored(st, 'y'))[0]!.labels, { __name__: 'y', __replica__: 'r' });
    assert.deepEqual(st.tracker.status(), []);
  } finally {
    await st.close();
  }
});

test('every series of a request is checked, not only the first (federation/proxies mix clusters)', async () => {
  const st = await startStack();
  try {
    await write(st, v1Body([series({ __name__: 'm', cluster: 'c1', __replica__: 'a' }, [[T0, 1]])]), T0);
    await write(st, v1Body([series({ __name__: 'm', cluster: 'c2', __replica__: 'b' }, [[T0, 1]])]), T0);
    // First series is from c1's elected replica; the second from c2's non-elected one; the third from c2's elected one.
    const r = await write(
      st,
      v1Body([
        series({ __name__: 'm', cluster: 'c1', __replica__: 'a' }, [[T0 + 1000, 2]]),
        series({ __name__: 'm', cluster: 'c2', __replica__: 'a' }, [[T0 + 1000, 99]]),
        series({ __name__: 'm', cluster: 'c2', __replica__: 'b' }, [[T0 + 1000, 2]]),
      ]),
      T0 + 1000,
    );
    assert.equal(r.status, 202);
    const got = await stored(st, 'm');
    assert.deepEqual(
      got.map((s) => [s.labels.cluster, s.vs]),
      [
        ['c1', [1, 2]],
        ['c2', [1, 2]],
      ],
    );
  } finally {
    await st.close();
  }
});

test('ha_max_clusters refuses a new cluster with 400 naming the limit', async () => {
  const st = await startStack('limits:\n  ha_max_clusters: 1\n');
  try {
    assert.equal((await write(st, v1Body([series({ __name__: 'm', cluster: 'c1', __replica__: 'a' }, [[T0, 1]])]), T0)).status, 204);
    const r = await write(st, v1Body([series({ __name__: 'm', cluster: 'c2', __replica__: 'a' }, [[T0, 1]])]), T0);
    assert.equal(r.status, 400);
    assert.match(r.message, /too many HA clusters .* \(limit ha_max_clusters=1\)/);
  } finally {
    await st.close();
  }
});

/**
 * Two replicas stream a counter every second; replica a dies mid-stream. Returns what was stored.
 * `offsetB` shifts b's scrape times; `bCounterBase` makes b's counter differ (a per-replica counter).
 */
async function killLeaderMidStream(st: Stack, opts: { offsetB: number; bCounterBase: number; rounds: number; killAt: number }) {
  const statuses: number[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    const now = T0 + i * 1000;
    if (i < opts.killAt) {
      const r = await write(st, v1Body([series({ __name__: 'req_total', cluster: 'c', __replica__: 'a' }, [[now, 1000 + i * 10]])]), now);
      statuses.push(r.status);
    }
    const tb = now + opts.offsetB;
    const rb = await write(
      st,
      v1Body([series({ __name__: 'req_total', cluster: 'c', __replica__: 'b' }, [[tb, opts.bCounterBase + i * 10 + opts.offsetB / 100]])]),
      tb,
    );
    statuses.push(rb.status);
  }
  const got = await stored(st, 'req_total');
  assert.equal(got.length, 1);
  return { ...got[0]!, statuses };
}

test('gapless failover: with aligned scrapes every timestamp is stored exactly once', async () => {
  const st = await startStack(FAST_HA);
  try {
    const { ts, vs, labels } = await killLeaderMidStream(st, { offsetB: 0, bCounterBase: 1000, rounds: 40, killAt: 15 });
    assert.deepEqual(labels, { __name__: 'req_total', cluster: 'c' });
    assert.deepEqual(ts, [...Array(40).keys()].map((i) => T0 + i * 1000), 'no missing and no duplicate timestamp');
    for (let i = 1; i < vs.length; i++) assert.ok(vs[i]! >= vs[i - 1]!, `counter reset at ${i}: ${vs[i - 1]} -> ${vs[i]}`);
    const status = st.tracker.status()[0]!;
    assert.equal(status.elected, 'b');
    assert.equal(status.failovers, 1);
  } finally {
    await st.close();
  }
});

test('gapless failover: with offset scrapes the series has no gap and no false counter reset', async () => {
  const st = await startStack(FAST_HA);
  try {
    const { ts, vs } = await killLeaderMidStream(st, { offsetB: 400, bCounterBase: 1000, rounds: 40, killAt: 15 });
    for (let i = 1; i < ts.length; i++) {
      assert.ok(ts[i]! > ts[i - 1]!, 'strictly increasing (no duplicates)');
      assert.ok(ts[i]! - ts[i - 1]! <= 1000, `gap between ${ts[i - 1]! - T0} and ${ts[i]! - T0}`);
      assert.ok(vs[i]! >= vs[i - 1]!, `counter reset at ${ts[i]! - T0}`);
    }
    assert.equal(ts[0], T0);
    assert.equal(ts[ts.length - 1], T0 + 39 * 1000 + 400);
  } finally {
    await st.close();
  }
});

test('failover stitches per-replica counters so that no false reset is stored', async () => {
  const st = await startStack(FAST_HA);
  try {
    // b counts from 0 while a counts from 1000: a naive switch would store a drop from ~1140 to ~150.
    const { vs } = await killLeaderMidStream(st, { offsetB: 0, bCounterBase: 0, rounds: 40, killAt: 15 });
    for (let i = 1; i < vs.length; i++) assert.ok(vs[i]! >= vs[i - 1]!, `counter reset at ${i}: ${vs[i - 1]} -> ${vs[i]}`);
    assert.equal(vs[vs.length - 1]! - vs[0]!, 39 * 10, 'increase over the whole series is preserved');
  } finally {
    await st.close();
  }
});

test('no failover while the leader keeps sending within the timeout', async () => {
  const st = await startStack(FAST_HA);
  try {
    for (let i = 0; i < 20; i++) {
      const now = T0 + i * 1000;
      assert.equal((await write(st, v1Body([series({ __name__: 'g', cluster: 'c', __replica__: 'a' }, [[now, i]])]), now)).status, 204);
      assert.equal((await write(st, v1Body([series({ __name__: 'g', cluster: 'c', __replica__: 'b' }, [[now, i]])]), now)).status, 202);
    }
    assert.equal(st.tracker.status()[0]!.failovers, 0);
  } finally {
    await st.close();
  }
});

test('GET /api/v1/ha/clusters shows the election per tenant and cluster', async () => {
  const st = await startStack();
  try {
    const now = Date.now();
    await write(st, v1Body([series({ __name__: 'm', cluster: 'c1', __replica__: 'a' }, [[now, 1]])]), now);
    await write(st, v1Body([series({ __name__: 'm', cluster: 'c1', __replica__: 'b' }, [[now, 1]])]), now);
    const res = await st.app.request('/api/v1/ha/clusters');
    const body = (await res.json()) as { status: string; data: Record<string, unknown>[] };
    assert.equal(body.status, 'success');
    assert.equal(body.data.length, 1);
    const c = body.data[0]!;
    assert.equal(c.tenant, 'anonymous');
    assert.equal(c.cluster, 'c1');
    assert.equal(c.elected, 'a');
    assert.equal(c.failovers, 0);
    assert.deepEqual(Object.keys(c.replicas as object).sort(), ['a', 'b']);
    const metrics = await (await st.app.request('/metrics')).text();
    assert.match(metrics, /argus_receive_samples_deduplicated_total\{tenant="anonymous"\} 1/);
  } finally {
    await st.close();
  }
});
