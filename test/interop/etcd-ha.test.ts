/** Two receivers sharing a real etcd elect the same replica, even when the replicas race. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer, startEtcd } from '../support/peers.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';
import { labelsFromObject } from '../../src/model/labels.js';

function body(cluster: string, replica: string, t: number): Uint8Array {
  return snappyCompress(encodeWriteV1([{ labels: labelsFromObject({ __name__: 'm', cluster, __replica__: replica }), timestamps: [t], values: [1] }]));
}

async function push(url: string, b: Uint8Array): Promise<number> {
  const r = await fetch(`${url}/api/v1/push`, { method: 'POST', body: b, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
  await r.arrayBuffer();
  return r.status;
}

test('two receive processes sharing one etcd elect the same replica per cluster', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, 'etcd')) return;
  const etcd = await startEtcd();
  const cfg = `receive:\n  ha_tracker:\n    kvstore:\n      store: etcd\n      prefix: argus-test/\n      etcd:\n        endpoints: ['${etcd.endpoint}']\n`;
  const r1 = await startArgusInProcess(cfg);
  const r2 = await startArgusInProcess(cfg);
  try {
    const now = Date.now();
    // Race: for each cluster, replica a hits receiver 1 while replica b hits receiver 2 at the same moment.
    const clusters = [...Array(10).keys()].map((i) => `c${i}`);
    const first = await Promise.all(clusters.map((c) => Promise.all([push(r1.url, body(c, 'a', now)), push(r2.url, body(c, 'b', now))])));
    // Exactly one of each racing pair was stored (204), the other deduplicated (202).
    for (const [i, pair] of first.entries()) assert.deepEqual([...pair].sort(), [202, 204], `cluster c${i}: ${pair}`);
    for (const [i, c] of clusters.entries()) {
      const s1 = r1.receiver.haStatus().find((s) => s.cluster === c);
      const s2 = r2.receiver.haStatus().find((s) => s.cluster === c);
      assert.ok(s1 && s2, `both receivers know cluster ${c}`);
      assert.equal(s1.elected, s2.elected, `cluster ${c}: receivers disagree (${s1.elected} vs ${s2.elected}); first statuses ${first[i]}`);
      // The non-elected replica is deduplicated on both receivers.
      const loser = s1.elected === 'a' ? 'b' : 'a';
      assert.equal(await push(r1.url, body(c, loser, now + 2)), 202);
      assert.equal(await push(r2.url, body(c, loser, now + 2)), 202);
      assert.equal(await push(r1.url, body(c, s1.elected, now + 3)), 204);
    }
  } finally {
    await r1.stop();
    await r2.stop();
    await etcd.stop();
  }
});
