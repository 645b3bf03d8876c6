/**
 * Interop with real Prometheus 2.42 (Debian): two replicas scrape a real node exporter and remote-write to
 * Argus with external labels cluster/__replica__; a third Prometheus reads back through remote_read.
 * Exactly one copy is stored; killing the leader fails over within the timeout with no gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer, startNodeExporter, startPrometheus, type RunningPeer } from '../support/peers.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { remoteReadMetric } from '../support/remote-read.js';
import { waitFor } from '../support/wait.js';

const HA = 'receive:\n  ha_tracker:\n    update_timeout: 1s\n    update_timeout_jitter_max: 0s\n    failover_timeout: 3s\n';

function replicaConfig(replica: string, nodeExporter: string, argusUrl: string): string {
  return `
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  external_labels:
    cluster: c1
    __replica__: ${replica}
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['${nodeExporter}']
remote_write:
  - url: ${argusUrl}/api/v1/push
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 50ms
      max_backoff: 500ms
`;
}

async function upSamples(url: string): Promise<{ labels: readonly string[]; ts: number[] }[]> {
  return (await remoteReadMetric(url, 'up', Date.now() + 60_000)).map((s) => ({ labels: s.labels, ts: [...s.timestamps] }));
}

test('two real Prometheus replicas → one stored copy, remote_read from a third, gapless failover', { timeout: 120_000 }, async (t) => {
  if (!requirePeer(t, 'prometheus') || !requirePeer(t, 'node-exporter')) return;
  const peers: RunningPeer[] = [];
  const argus = await startArgusInProcess(HA);
  try {
    const ne = await startNodeExporter();
    peers.push(ne);
    const target = ne.url.replace('http://', '');
    const a = await startPrometheus({ config: replicaConfig('a', target, argus.url) });
    peers.push(a);
    // Let replica a be elected first, then start b.
    await waitFor('replica a elected', async () => argus.receiver.haStatus().find((s) => s.cluster === 'c1')?.elected === 'a', 20_000, 200);
    const b = await startPrometheus({ config: replicaConfig('b', target, argus.url) });
    peers.push(b);
    await waitFor('replica b seen (deduplicated)', async () => argus.receiver.haStatus()[0]?.lastSeen.b !== undefined, 20_000, 200);
    await new Promise((r) => setTimeout(r, 3000));

    // Exactly one copy: series carry cluster="c1" and no replica label.
    const series = (await (await fetch(`${argus.url}/api/v1/series?dedup=false&match[]=up`)).json()) as { data: Record<string, string>[] };
    assert.deepEqual(series.data, [{ __name__: 'up', cluster: 'c1', instance: target, job: 'node' }]);
    const cpu = (await (await fetch(`${argus.url}/api/v1/series?dedup=false&match[]=node_cpu_seconds_total`)).json()) as { data: Record<string, string>[] };
    assert.ok(cpu.data.length > 0);
    assert.ok(cpu.data.every((s) => s.cluster === 'c1' && s.__replica__ === undefined));
    const labels = (await (await fetch(`${argus.url}/api/v1/label/__replica__/values?dedup=false`)).json()) as { data: string[] };
    assert.deepEqual(labels.data, []);

    // A third Prometheus answers PromQL over Argus's data through remote_read.
    const reader = await startPrometheus({
      config: `global:\n  scrape_interval: 1m\nremote_read:\n  - url: ${argus.url}/api/v1/read\n    read_recent: true\n`,
    });
    peers.push(reader);
    const q = await waitFor('PromQL through remote_read', async () => {
      const r = (await (await fetch(`${reader.url}/api/v1/query?query=${encodeURIComponent('count by (cluster) (up{job="node"})')}`)).json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return r.data.result.length > 0 ? r.data.result : null;
    }, 20_000, 200);
    assert.deepEqual(q, [{ metric: { cluster: 'c1' }, value: q[0]!.value }]);
    assert.equal(q[0]!.value[1], '1');
    const sum = (await (await fetch(`${reader.url}/api/v1/query?query=${encodeURIComponent('count(node_cpu_seconds_total) > 0')}`)).json()) as {
      data: { result: unknown[] };
    };
    assert.equal(sum.data.result.length, 1);

    // Kill the leader; b must take over within the failover timeout (+ update timeout), with no gap.
    const before = (await upSamples(argus.url))[0]!.ts.length;
    const killedAt = Date.now();
    a.kill9();
    await waitFor('failover to b', async () => argus.receiver.haStatus()[0]?.elected === 'b', 15_000, 200);
    const failoverMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 3000));
    const after = await upSamples(argus.url);
    assert.equal(after.length, 1, 'still one series');
    const ts = after[0]!.ts;
    assert.ok(ts.length > before);
    let maxGap = 0;
    for (let i = 1; i < ts.length; i++) {
      assert.ok(ts[i]! > ts[i - 1]!, 'strictly increasing timestamps');
      maxGap = Math.max(maxGap, ts[i]! - ts[i - 1]!);
    }
    console.log(`prometheus HA interop: failover after ${failoverMs} ms, ${ts.length} samples of up, largest gap ${maxGap} ms (scrape interval 1000 ms)`);
    assert.ok(maxGap <= 1500, `gap of ${maxGap} ms in the stored series`);
    assert.ok(failoverMs <= 3000 + 1000 + 2000, `failover took ${failoverMs} ms`);
    assert.equal(argus.receiver.haStatus()[0]!.failovers, 1);
  } finally {
    for (const p of peers.reverse()) await p.stop();
    await argus.stop();
  }
});
