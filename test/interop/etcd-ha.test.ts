/** Two `argus receive` processes sharing a real etcd elect the same replica, even when the replicas race. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer, startEtcd } from '../support/peers.js';
import { startArgus } from '../support/argus-process.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';
import { labelsFromObject } from '../../src/model/labels.js';

function body(cluster: string, replica: string, t: number): Uint8Array {
  const values = new Float64Array([1]);
  return snappyCompress(encodeWriteV1([{ labels: labelsFromObject({ __name__: 'm', cluster, __replica__: replica }), timestamps: [t], values }]));
}

async function push(url: string, b: Uint8Array): Promise<number> {
  const r = await fetch(`${url}/api/v1/push`, { method: 'POST', body: b, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
  await r.arrayBuffer();
  return r.status;
}

async function elected(url: string): Promise<Map<string, string>> {
  const r = (await (await fetch(`${url}/api/v1/ha/clusters`)).json()) as { data: { cluster: string; elected: string }[] };
  return new Map(r.data.map((c) => [c.cluster, c.elected]));
}

test('two receive processes sharing one etcd elect the same replica per cluster', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, 'etcd')) return;
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'argus-etcd-'));
  const cfg = join(dir, 'argus.yml');
  await writeFile(cfg, `receive:\n  ha_tracker:\n    kvstore:\n      store: etcd\n      prefix: argus-test/\n      etcd:\n        endpoints: ['${etcd.endpoint}']\n`);
  const [r1, r2] = await Promise.all(
    [1, 2].map((i) => startArgus('receive', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, `r${i}`)}`, '--log.level=warn'])),
  );
  try {
    const now = Date.now();
    // Race: for each cluster, replica a hits receiver 1 while replica b hits receiver 2 at the same moment.
    const clusters = [...Array(10).keys()].map((i) => `c${i}`);
    const first = await Promise.all(clusters.map((c) => Promise.all([push(r1!.url, body(c, 'a', now)), push(r2!.url, body(c, 'b', now))])));
    // Exactly one of each racing pair was stored (204), the other deduplicated (202).
    for (const [i, pair] of first.entries()) assert.deepEqual([...pair].sort(), [202, 204], `cluster c${i}: ${pair}`);
    const e1 = await elected(r1!.url);
    const e2 = await elected(r2!.url);
    for (const c of clusters) {
      assert.ok(e1.has(c) && e2.has(c), `both receivers know cluster ${c}`);
      assert.equal(e1.get(c), e2.get(c), `cluster ${c}: receivers disagree`);
      // The non-elected replica is deduplicated on both receivers, the elected one stored on both.
      const winner = e1.get(c)!;
      const loser = winner === 'a' ? 'b' : 'a';
      assert.equal(await push(r1!.url, body(c, loser, now + 2)), 202);
      assert.equal(await push(r2!.url, body(c, loser, now + 2)), 202);
      assert.equal(await push(r1!.url, body(c, winner, now + 3)), 204);
      assert.equal(await push(r2!.url, body(c, winner, now + 4)), 204);
    }
  } finally {
    await r1?.stop();
    await r2?.stop();
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
