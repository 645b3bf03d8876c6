/**
 * The durability promise of the agent (DESIGN §6), end to end against a real Argus receiver in-process:
 * a receiver outage, with the agent restarted in the middle of it, loses nothing; past the disk budget the
 * oldest data is dropped, counted and logged, and the newest still arrives.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { comparePositions } from '../../src/agent/index.js';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { Gate, Ledger, captureLogger, openAgent, rwConfigs, sleep, storedSamples, waitFor, type Agent } from './remote-support.js';

/** Appends one "scrape" of every series, caching refs as the scrape loop does. */
class Writer {
  refs = new Map<Labels, number>();
  t: number;
  k = 0;
  constructor(
    readonly series: Labels[],
    readonly ledger: Ledger,
    t0: number,
    readonly stepMs: number,
  ) {
    this.t = t0;
  }
  async round(agent: Agent): Promise<void> {
    const app = agent.storage.appender();
    const t = this.t;
    for (const s of this.series) {
      // A stale marker now and then (a target that vanished for a scrape), otherwise a counter-like value.
      const v = this.k % 13 === 12 && s === this.series[0] ? STALE_NAN : this.k * 10 + this.series.indexOf(s) + 0.25;
      this.refs.set(s, app.append(this.refs.get(s) ?? 0, s, t, v));
      this.ledger.add(s, t, v);
    }
    await app.commit();
    this.t += this.stepMs;
    this.k++;
  }
}

test('outage: receiver down ~10 s (standing in for minutes) while the agent keeps appending, agent restarted mid-outage, receiver back: every sample stored exactly once', async (t) => {
  const argus = await startArgusInProcess('');
  const gate = new Gate(argus.url);
  await gate.up();
  const dir = await mkdtemp(join(tmpdir(), 'argus-outage-'));
  const cfg = rwConfigs(
    `  - url: ${gate.url}/api/v1/push\n    name: central\n` +
      `    queue_config: { batch_send_deadline: 50ms, min_backoff: 50ms, max_backoff: 400ms, max_samples_per_send: 100, capacity: 150, min_shards: 2, max_shards: 2 }\n`,
  );
  const agentOpts = { segmentBytes: 16 * 1024, truncateIntervalMs: 300, flushDeadlineMs: 200 };
  const series = Array.from({ length: 20 }, (_, i) => labelsFromObject({ __name__: 'outage_test', instance: `host-${i}`, job: 'node' }));
  const ledger = new Ledger();
  const writer = new Writer(series, ledger, Date.now() - 5 * 60_000, 100);
  let agent = await openAgent(dir, agentOpts);
  let closing = false;
  try {
    await agent.manager.applyConfig(cfg, []);
    const first = agent.manager.queue('central')!;
    const start = performance.now();
    const at = (ms: number) => sleep(Math.max(0, start + ms - performance.now()));
    // The scraper: a round every 50 ms, paused only while the agent itself restarts.
    let paused = false;
    let stop = false;
    const scraping = (async () => {
      while (!stop) {
        if (!paused) await writer.round(agent);
        await sleep(50);
      }
    })();

    await at(1500);
    const sentBeforeOutage = first.metrics.samplesSent;
    assert.ok(sentBeforeOutage > 0, 'data flowed before the outage');
    await gate.down();

    await at(5500);
    paused = true;
    closing = true;
    await agent.close();
    assert.ok(first.metrics.samplesRetried > 0, 'the first agent retried during the outage');
    agent = await openAgent(dir, agentOpts);
    closing = false;
    await agent.manager.applyConfig(cfg, []);
    writer.refs.clear(); // a new process: refs are re-learned
    paused = false;
    const second = agent.manager.queue('central')!;

    await at(11_500);
    await gate.up();
    await at(12_500);
    stop = true;
    await scraping;

    await waitFor(
      'the queue to catch up',
      () => second.pendingSamples === 0 && comparePositions(second.position, agent.storage.committed()) === 0,
      15_000,
    );
    const stored = await storedSamples(argus.db);
    let storedTotal = 0;
    for (const [k, want] of ledger.bySeries) {
      const got = stored.get(k) ?? [];
      storedTotal += got.length;
      assert.deepEqual(got, want, `series ${k}: stored samples differ from the appended ones`);
    }
    assert.equal(stored.size, series.length);
    assert.equal(storedTotal, ledger.total);
    assert.equal(first.metrics.samplesDroppedBudget + second.metrics.samplesDroppedBudget, 0);
    const resent = first.metrics.samplesSent + second.metrics.samplesSent - ledger.total;
    // The WAL was truncated behind the queue while all this happened.
    await agent.manager.truncate();
    const segs = await agent.storage.segments();
    t.diagnostic(
      `appended ${ledger.total} samples in ${writer.k} rounds; sent before restart ${first.metrics.samplesSent}, after ${second.metrics.samplesSent} ` +
        `(re-sent tail ${resent}, rejected as old duplicates ${second.metrics.samplesFailed}); retried sends ${first.metrics.samplesRetried + second.metrics.samplesRetried}; ` +
        `WAL segments left ${segs.join(',')}, checkpoint ${agent.storage.checkpointSegment()}`,
    );
    assert.ok(resent >= 0 && resent <= 2 * 150 + 100, `re-sent at most the unacknowledged tail (${resent})`);
    assert.ok(agent.storage.checkpointSegment() >= 0 && segs[0]! > 0, 'old segments were deleted behind the queue');
  } finally {
    if (!closing) await agent.close();
    await gate.down();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('disk budget: over queue_config.max_wal_bytes during an outage the oldest segments are dropped, counted and logged; the newest arrive', async () => {
  const argus = await startArgusInProcess('');
  const gate = new Gate(argus.url);
  await gate.up();
  await gate.down(); // keep the port, refuse connections
  const dir = await mkdtemp(join(tmpdir(), 'argus-budget-'));
  const { logger, lines } = captureLogger();
  const budget = 24 * 1024;
  const agent = await openAgent(dir, { segmentBytes: 8 * 1024, budgetCheckIntervalMs: 0, logger });
  try {
    await agent.manager.applyConfig(
      rwConfigs(`  - url: ${gate.url}/api/v1/push\n    name: tiny\n    queue_config: { batch_send_deadline: 20ms, min_backoff: 20ms, max_backoff: 100ms, max_samples_per_send: 100, capacity: 100, max_wal_bytes: 24KiB }\n`),
      [],
    );
    const q = agent.manager.queue('tiny')!;
    const series = Array.from({ length: 20 }, (_, i) => labelsFromObject({ __name__: 'budget_test', idx: String(i) }));
    const ledger = new Ledger();
    const writer = new Writer(series, ledger, Date.now() - 10 * 60_000, 1000);
    for (let i = 0; i < 300; i++) await writer.round(agent); // ~70 KiB of WAL while nobody listens
    await agent.manager.checkDiskBudgets();
    assert.ok(q.metrics.samplesDroppedBudget > 0, 'queued samples of the oldest segments were dropped');
    await gate.up();
    for (let i = 0; i < 10; i++) await writer.round(agent);
    await waitFor('the queue to catch up', () => q.pendingSamples === 0 && comparePositions(q.position, agent.storage.committed()) === 0, 10_000);

    // Exact accounting: every appended sample was either sent or counted as dropped.
    assert.equal(q.metrics.samplesSent + q.metrics.samplesDroppedBudget, ledger.total);
    assert.equal(q.metrics.samplesFailed, 0);
    // What arrived is, per series, the newest samples: a suffix of what was appended.
    const stored = await storedSamples(argus.db);
    let storedTotal = 0;
    for (const [k, want] of ledger.bySeries) {
      const got = stored.get(k) ?? [];
      storedTotal += got.length;
      assert.deepEqual(got, want.slice(want.length - got.length), `series ${k}: stored samples are not the newest ones`);
      assert.ok(got.length >= 10, `series ${k}: the newest rounds arrived`);
    }
    assert.equal(storedTotal, q.metrics.samplesSent);
    assert.ok(storedTotal < ledger.total / 2, `most of the outage was over budget (${storedTotal} of ${ledger.total} stored)`);
    const warn = lines.find((l) => l.includes('over its disk budget'));
    assert.ok(warn !== undefined, 'the drop was logged');
    assert.match(warn, /queue=tiny/);
    assert.match(warn, /dropped_bytes=\d+/);
    assert.match(warn, new RegExp(`max_wal_bytes=${budget} `), 'the budget came from queue_config.max_wal_bytes: 24KiB');
    // The given-up segments can now be deleted (truncation honours the saved position, written shortly after).
    await waitFor('the position to be saved', () => comparePositions(q.persistedPosition, q.position) === 0);
    const res = await agent.manager.truncate();
    assert.ok(res !== null && res.deletedSegments > 0, 'the skipped segments were truncated');
  } finally {
    await agent.close();
    await gate.down();
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
