/**
 * The agent's remote write against a real Argus receiver started in-process: samples committed to the
 * agent's WAL arrive (stale markers bit-exact), external labels and write relabeling apply, RW 1.0 and 2.0,
 * positions survive restarts, reload keeps unchanged queues, resharding keeps series in order.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentStorage, RemoteWriteManager, comparePositions } from '../../src/agent/index.js';
import { nopLogger } from '../../src/util/log.js';
import { labelsFromObject, labelsToString, type Labels } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { Gate, Ledger, bits, openAgent, rwConfigs, storedSamples, waitFor } from './remote-support.js';

const QUEUE = `    queue_config: { batch_send_deadline: 50ms, min_backoff: 20ms, max_backoff: 200ms, max_samples_per_send: 100, capacity: 300 }\n`;

function appendRound(agent: { storage: { appender(): import('../../src/storage/interface.js').Appender } }, ledger: Ledger, series: Labels[], t: number, value: (i: number) => number) {
  const app = agent.storage.appender();
  for (let i = 0; i < series.length; i++) {
    const v = value(i);
    app.append(0, series[i]!, t, v);
    ledger.add(series[i]!, t, v);
  }
  return app.commit();
}

test('remote write (RW 1.0): every committed sample reaches Argus, stale markers bit-exact, external labels and write_relabel_configs applied', async () => {
  const argus = await startArgusInProcess('');
  const dir = await mkdtemp(join(tmpdir(), 'argus-rw-'));
  const agent = await openAgent(dir);
  try {
    await agent.manager.applyConfig(
      rwConfigs(
        `  - url: ${argus.url}/api/v1/push\n    name: main\n` +
          QUEUE +
          `    write_relabel_configs:\n      - { source_labels: [__name__], regex: 'dropme_.*', action: drop }\n`,
      ),
      labelsFromObject({ cluster: 'c1', __replica__: 'r1', job: 'from-external' }),
    );
    const series = Array.from({ length: 30 }, (_, i) => labelsFromObject({ __name__: 'rw_test', idx: String(i), job: 'agent' }));
    const dropped = labelsFromObject({ __name__: 'dropme_total', job: 'agent' });
    const ledger = new Ledger();
    const t0 = Date.now() - 60_000;
    for (let k = 0; k < 20; k++) {
      const app = agent.storage.appender();
      app.append(0, dropped, t0 + k * 1000, k);
      await app.commit();
      // Every 7th round marks a few series stale: the receiver must store the exact NaN bits.
      await appendRound(agent, ledger, series, t0 + k * 1000, (i) => (k % 7 === 6 && i < 3 ? STALE_NAN : k * 100 + i + 0.5));
    }
    const q = agent.manager.queue('main')!;
    await waitFor('all samples sent', () => q.metrics.samplesSent === ledger.total);
    // HA election at the receiver strips __replica__; the series' own job label wins over the external one.
    const stored = await storedSamples(argus.db);
    assert.equal(stored.size, series.length, [...stored.keys()].slice(0, 3).join(' '));
    for (let i = 0; i < series.length; i++) {
      const sent = labelsToString(labelsFromObject({ __name__: 'rw_test', idx: String(i), job: 'agent', cluster: 'c1' }));
      assert.deepEqual(stored.get(sent), ledger.bySeries.get(labelsToString(series[i]!)), sent);
    }
    const staleBits = bits(STALE_NAN);
    assert.ok([...stored.values()].flat().some((s) => s.endsWith(staleBits)), 'a stale marker arrived with its exact bits');
    assert.equal(q.metrics.samplesDroppedRelabel, 20);
    assert.equal(q.metrics.samplesFailed, 0);
    assert.ok(q.metrics.highestSentTimestampMs === t0 + 19_000);
  } finally {
    await agent.close();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('remote write (RW 2.0, protobuf_message io.prometheus.write.v2.Request): samples and stale markers arrive bit-exact', async () => {
  const argus = await startArgusInProcess('');
  const dir = await mkdtemp(join(tmpdir(), 'argus-rw2-'));
  const agent = await openAgent(dir);
  try {
    await agent.manager.applyConfig(rwConfigs(`  - url: ${argus.url}/api/v1/write\n    name: v2\n    protobuf_message: io.prometheus.write.v2.Request\n` + QUEUE), []);
    const series = Array.from({ length: 10 }, (_, i) => labelsFromObject({ __name__: 'rw2_test', idx: String(i), 'utf8.name': 'é✓' }));
    const ledger = new Ledger();
    const t0 = Date.now() - 30_000;
    for (let k = 0; k < 10; k++) await appendRound(agent, ledger, series, t0 + k * 1000, (i) => (k === 9 ? STALE_NAN : k === 3 ? -0 : i * 1e300 + k));
    const q = agent.manager.queue('v2')!;
    await waitFor('all samples sent', () => q.metrics.samplesSent === ledger.total);
    const stored = await storedSamples(argus.db);
    assert.equal(stored.size, 10);
    for (const [k, v] of ledger.bySeries) assert.deepEqual(stored.get(k), v, k);
  } finally {
    await agent.close();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('remote write position: saved atomically, a restart resumes after it and sends nothing twice', async () => {
  const argus = await startArgusInProcess('');
  const gate = new Gate(argus.url);
  await gate.up();
  const dir = await mkdtemp(join(tmpdir(), 'argus-rwpos-'));
  const cfg = rwConfigs(`  - url: ${gate.url}/api/v1/push\n    name: 'main/ü'\n` + QUEUE);
  const series = Array.from({ length: 5 }, (_, i) => labelsFromObject({ __name__: 'rw_pos', idx: String(i) }));
  const ledger = new Ledger();
  const t0 = Date.now() - 60_000;
  try {
    let agent = await openAgent(dir);
    await agent.manager.applyConfig(cfg, []);
    for (let k = 0; k < 10; k++) await appendRound(agent, ledger, series, t0 + k * 1000, (i) => k + i);
    const q1 = agent.manager.queue('main/ü')!;
    await waitFor('first half sent', () => q1.metrics.samplesSent === 50);
    await agent.close();
    const saved = JSON.parse(await readFile(join(dir, 'queues', 'main%2f%fc.json'), 'utf8'));
    assert.deepEqual({ segment: saved.segment, offset: saved.offset }, agent.storage.committed());
    const before = gate.requests;

    agent = await openAgent(dir);
    await agent.manager.applyConfig(cfg, []);
    const q2 = agent.manager.queue('main/ü')!;
    for (let k = 10; k < 20; k++) await appendRound(agent, ledger, series, t0 + k * 1000, (i) => k + i);
    await waitFor('second half sent', () => q2.metrics.samplesSent === 50);
    await agent.close();
    assert.equal(q2.metrics.samplesFailed, 0, 'no duplicate (out-of-order) resend was rejected');
    assert.ok(gate.requests - before <= 10, `second run needed ${gate.requests - before} requests for 50 samples`);
    const stored = await storedSamples(argus.db);
    for (const [k, v] of ledger.bySeries) assert.deepEqual(stored.get(k), v, k);
  } finally {
    await gate.down();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('applyConfig: an unchanged queue keeps running, a changed one restarts from its position, a removed one stops', async () => {
  const argus = await startArgusInProcess('');
  const dir = await mkdtemp(join(tmpdir(), 'argus-rwreload-'));
  const agent = await openAgent(dir);
  try {
    const a = `  - url: ${argus.url}/api/v1/push\n    name: a\n` + QUEUE;
    const b = `  - url: ${argus.url}/api/v1/push\n` + QUEUE;
    await agent.manager.applyConfig(rwConfigs(a + b), []);
    const [qa, qb] = agent.manager.queues();
    assert.equal(qa!.name, 'a');
    assert.match(qb!.name, /^rw-[0-9a-f]{8}$/);
    await agent.manager.applyConfig(rwConfigs(a + b), []);
    assert.equal(agent.manager.queue('a'), qa, 'same config: same queue object');
    assert.equal(agent.manager.queue(qb!.name), qb);
    // Changing an unnamed queue's settings keeps its name (from the URL), hence its position.
    await agent.manager.applyConfig(rwConfigs(a + b.replace('capacity: 300', 'capacity: 400')), []);
    assert.equal(agent.manager.queue('a'), qa);
    const qb2 = agent.manager.queue(qb!.name)!;
    assert.notEqual(qb2, qb);
    assert.equal(qb2.cfg.queue_config.capacity, 400);
    await agent.manager.applyConfig(rwConfigs(a), labelsFromObject({ env: 'x' }));
    assert.equal(agent.manager.queues().length, 1);
    assert.notEqual(agent.manager.queue('a'), qa, 'external labels changed: restarted');
    await assert.rejects(agent.manager.applyConfig([...rwConfigs(a), ...rwConfigs(a.replace('/push', '/write'))], []), /two queues are named "a"/);
  } finally {
    await agent.close();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('resharding drains the old shards first: every series arrives complete and in order', async () => {
  const argus = await startArgusInProcess('');
  const dir = await mkdtemp(join(tmpdir(), 'argus-rwshard-'));
  const agent = await openAgent(dir);
  try {
    await agent.manager.applyConfig(
      rwConfigs(`  - url: ${argus.url}/api/v1/push\n    name: s\n    queue_config: { batch_send_deadline: 20ms, max_samples_per_send: 50, capacity: 100, min_shards: 1, max_shards: 8 }\n`),
      [],
    );
    const q = agent.manager.queue('s')!;
    const series = Array.from({ length: 40 }, (_, i) => labelsFromObject({ __name__: 'rw_shard', idx: String(i) }));
    const ledger = new Ledger();
    const t0 = Date.now() - 120_000;
    const writer = (async () => {
      for (let k = 0; k < 60; k++) await appendRound(agent, ledger, series, t0 + k * 1000, (i) => k * i);
    })();
    const sizes = [4, 2, 8, 1, 3];
    for (const n of sizes) {
      await q.reshard(n);
      assert.equal(q.shardCount, n);
    }
    await writer;
    await waitFor('all samples sent', () => q.metrics.samplesSent === ledger.total);
    assert.equal(q.metrics.reshards, sizes.length);
    assert.equal(q.metrics.samplesFailed, 0, 'no out-of-order rejection');
    const stored = await storedSamples(argus.db);
    for (const [k, v] of ledger.bySeries) assert.deepEqual(stored.get(k), v, k);
  } finally {
    await agent.close();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('series collected by WAL truncation are forgotten by the queue; a series that comes back gets a new ref and still arrives', async () => {
  const argus = await startArgusInProcess('');
  const dir = await mkdtemp(join(tmpdir(), 'argus-rwgc-'));
  let now = Date.now();
  const storage = await AgentStorage.open({ dir, logger: nopLogger, segmentBytes: 2048, seriesIdleMs: 60_000, now: () => now });
  const manager = new RemoteWriteManager({ storage, logger: nopLogger, persistIntervalMs: 20, truncateIntervalMs: 0, reshardIntervalMs: 0, flushDeadlineMs: 200 });
  try {
    await manager.applyConfig(rwConfigs(`  - url: ${argus.url}/api/v1/push\n    name: gc\n` + QUEUE), []);
    const q = manager.queue('gc')!;
    const agent = { storage };
    const ledger = new Ledger();
    const gone = Array.from({ length: 10 }, (_, i) => labelsFromObject({ __name__: 'rw_gc', kind: 'gone', i: String(i) }));
    const live = Array.from({ length: 10 }, (_, i) => labelsFromObject({ __name__: 'rw_gc', kind: 'live', i: String(i) }));
    const t0 = Date.now() - 600_000;
    await appendRound(agent, ledger, gone, t0, (i) => i);
    now += 120_000; // `gone` is idle from here on
    for (let k = 1; k <= 60; k++) await appendRound(agent, ledger, live, t0 + k * 1000, (i) => k + i);
    await waitFor('sent and saved', () => q.metrics.samplesSent === ledger.total && comparePositions(q.persistedPosition, storage.committed()) === 0);
    assert.equal(q.seriesTracked, 20);
    const res = await manager.truncate();
    assert.ok(res !== null && res.collectedSeries === 10 && res.deletedSegments > 0, JSON.stringify(res));
    // The queue reloads the checkpoint at its next read and drops what the agent collected.
    await appendRound(agent, ledger, live, t0 + 61_000, (i) => i);
    await waitFor('queue forgot the collected series', () => q.seriesTracked === 10);
    await appendRound(agent, ledger, gone, t0 + 62_000, (i) => 100 + i);
    await waitFor('all sent', () => q.metrics.samplesSent === ledger.total);
    assert.equal(q.seriesTracked, 20);
    assert.equal(q.metrics.samplesUnknownSeries, 0);
    const stored = await storedSamples(argus.db);
    for (const [k, v] of ledger.bySeries) assert.deepEqual(stored.get(k), v, k);
  } finally {
    await manager.stop();
    await storage.close();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
