/**
 * `npm start` smoke test: `argus all --demo` (the bundled examples/demo/prometheus.yml) on a free port.
 * Within a bounded time the two in-process agents have scraped and remote-written, the receiver elected
 * one replica of cluster "demo", and PromQL sees the demo shop up. The replica controls work. (Failover
 * itself, gap-free, is tested with agent processes in agent-ha.test.ts: with the demo's 5 s scrape interval
 * a failover takes the default 30 s failover timeout, too long for here.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import { getJson, waitFor } from './agent-support.js';

test('argus all --demo: an elected replica of cluster demo, up{job="shop"} = 1, replicas stop and start', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-demo-'));
  let argus: ArgusProcess | null = null;
  try {
    argus = await startArgus('all', ['--demo', `--storage.tsdb.path=${dir}`, '--log.level=warn']);
    const u = argus.url;
    const started = Date.now();
    // The demo scrapes every 5 s: data is there within two intervals.
    const cluster = await waitFor(
      'cluster "demo" with an elected replica',
      async () => (await getJson(`${u}/api/v1/ha/clusters`)).data.find((c: { cluster: string }) => c.cluster === 'demo'),
      15_000,
    );
    assert.ok(['a', 'b'].includes(cluster.elected), `elected ${cluster.elected}`);
    const up = await waitFor(
      'up{job="shop"} = 1',
      async () => {
        const r = await getJson(`${u}/api/v1/query?query=${encodeURIComponent('up{job="shop"}')}`);
        return r.data.result.length === 1 && r.data.result[0].value[1] === '1' ? r.data.result[0] : null;
      },
      15_000,
    );
    console.log(`demo smoke: elected ${cluster.elected}; up{job="shop"}=1 after ${Date.now() - started} ms`);
    // One copy, with the cluster label and without the replica label; the target is this server.
    assert.deepEqual(up.metric, { __name__: 'up', cluster: 'demo', env: 'demo', instance: `127.0.0.1:${argus.port}`, job: 'shop' });
    const shop = await getJson(`${u}/api/v1/query?query=${encodeURIComponent('count(shop_http_requests_total)')}`);
    assert.ok(Number(shop.data.result[0].value[1]) >= 10, 'the shop\'s request counters are stored');

    // /api/v1/targets lists each target once per replica, told apart by the replica's external labels.
    const targets = (await getJson(`${u}/api/v1/targets`)).data.activeTargets as { scrapePool: string; labels: Record<string, string>; health: string }[];
    assert.deepEqual(targets.map((t) => `${t.scrapePool}/${t.labels.__replica__}/${t.labels.cluster}`).sort(), ['argus/a/demo', 'argus/b/demo', 'shop/a/demo', 'shop/b/demo']);
    assert.deepEqual((await getJson(`${u}/api/v1/scrape_pools`)).data.scrapePools, ['argus', 'shop']);

    // Stopping a replica: it leaves the targets list; starting it brings it back.
    const stop = await fetch(`${u}/demo/replicas/${cluster.elected}/stop`, { method: 'POST' });
    assert.equal(stop.status, 200);
    assert.deepEqual(((await stop.json()) as any).data, { replica: cluster.elected, state: 'stopped' });
    const left = (await getJson(`${u}/api/v1/targets`)).data.activeTargets as { labels: Record<string, string> }[];
    assert.equal(left.length, 2);
    assert.ok(left.every((t) => t.labels.__replica__ !== cluster.elected));
    assert.equal((await fetch(`${u}/demo/replicas/c/stop`, { method: 'POST' })).status, 404);
    const start = await fetch(`${u}/demo/replicas/${cluster.elected}/start`, { method: 'POST' });
    assert.equal(start.status, 200);
    assert.deepEqual((await getJson(`${u}/demo/replicas`)).data, [
      { replica: 'a', state: 'running' },
      { replica: 'b', state: 'running' },
    ]);
    // The agents' own metrics are on the main /metrics, one series per replica.
    const metrics = await (await fetch(`${u}/metrics`)).text();
    assert.match(metrics, /^argus_agent_scrapes_total\{replica="a"\} \d+$/m);
    assert.match(metrics, /^argus_agent_scrapes_total\{replica="b"\} \d+$/m);
  } finally {
    await argus?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
