/**
 * Lossless remote write at process level: the receiver goes down (kill -9), the agent keeps scraping into
 * its WAL, is itself restarted in the middle of the outage, and when the receiver is back every sample the
 * agent committed arrives, each once.
 *
 * What can be asserted exactly: the target numbers its scrapes, so the test knows every value it served.
 * A served value is committed by the agent unless the agent was stopped while that scrape was in flight
 * (a stopping agent abandons it, as Prometheus does). So: stored values ⊆ served values, no value stored
 * twice, and every served value is stored except ones served while the agent was shutting down or after
 * it stopped at the end. `up` must have exactly as many stored samples as the sequence (one per scrape).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgus } from '../support/argus-process.js';
import { freePort } from '../support/ports.js';
import { SeqTarget, getJson, metricValue, rawSamples, remoteWrite, sleep, startAgentProcess, waitFor } from './agent-support.js';

test('receiver outage with an agent restart in the middle: every committed sample arrives exactly once', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-agent-outage-'));
  const target = await new SeqTarget().start();
  const port = await freePort();
  const receiverArgs = [`--storage.tsdb.path=${join(dir, 'receiver')}`, '--log.level=warn'];
  const cfg = (url: string) => `global:\n  scrape_interval: 300ms\n  scrape_timeout: 250ms\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['${target.address}']\n${remoteWrite(url)}`;
  let receiver = await startArgus('receive', receiverArgs, { port });
  // Started outside the try below: a failure to start must still stop the receiver.
  let agent: Awaited<ReturnType<typeof startAgentProcess>>;
  try {
    agent = await startAgentProcess(cfg(receiver.url), { dir: join(dir, 'agent') });
  } catch (err) {
    await receiver.stop();
    throw err;
  }
  const windows: [from: number, to: number][] = []; // the agent is stopping or stopped: in-flight scrapes may be lost
  try {
    await waitFor('first samples stored', async () => (await rawSamples(receiver.url, 'test_scrape_sequence'))[0]?.values.length! >= 3);

    // Outage: the receiver dies; the agent keeps scraping into its WAL.
    await receiver.kill9();
    const outageStart = target.served.length;
    await sleep(1200);
    // The agent is restarted during the outage; its queue resumes from the position it saved.
    windows.push([Date.now(), 0]);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    const pending = Number(/argus_remote_storage_samples_pending\{[^}]*\} (\S+)/.exec(metrics)?.[1]);
    assert.ok(pending > 0, `samples queued during the outage (pending=${pending})`);
    await agent.stop();
    agent = await startAgentProcess(cfg(receiver.url), { dir: join(dir, 'agent'), port: agent.port });
    windows[0]![1] = Date.now();
    await sleep(1200);
    const outageScrapes = target.served.length - outageStart;

    // The receiver comes back on the same port and data directory.
    receiver = await startArgus('receive', receiverArgs, { port });
    await sleep(800);
    windows.push([Date.now(), Infinity]);
    await agent.stop();
    const served = target.served.map((s) => s);
    const expectedMin = served.filter((s) => !windows.some(([a, b]) => s.at >= a - 50 && s.at <= b)).length;
    await waitFor('all committed samples stored', async () => (await rawSamples(receiver.url, 'test_scrape_sequence'))[0]!.values.length >= expectedMin, 15_000);

    const stored = (await rawSamples(receiver.url, 'test_scrape_sequence'))[0]!.values.map(([, v]) => Number(v));
    const up = (await rawSamples(receiver.url, 'up{job="app"}'))[0]!.values;
    const servedSet = new Set(served.map((s) => s.seq));
    assert.equal(new Set(stored).size, stored.length, 'no value stored twice');
    assert.deepEqual(stored.filter((v) => !servedSet.has(v)), [], 'only served values are stored');
    const storedSet = new Set(stored);
    const missing = served.filter((s) => !storedSet.has(s.seq));
    const unexplained = missing.filter((s) => !windows.some(([a, b]) => s.at >= a - 50 && s.at <= b));
    assert.deepEqual(unexplained, [], 'every scrape served while the agent was running is stored');
    assert.ok(missing.length <= 2, `at most the in-flight scrape of each shutdown is lost; missing ${JSON.stringify(missing)}`);
    assert.equal(up.length, stored.length, 'one `up` sample per stored scrape');
    assert.ok(up.every(([, v]) => v === '1'));
    // Stored values are in scrape order: the WAL replay and resend kept the series in order.
    for (let i = 1; i < stored.length; i++) assert.ok(stored[i]! > stored[i - 1]!, `order at ${i}`);
    console.log(`outage e2e: ${served.length} scrapes served, ${outageScrapes} during the outage, ${stored.length} stored, ${missing.length} lost in shutdowns, pending at restart ${pending}`);
    const receiverMetrics = await (await fetch(`${receiver.url}/metrics`)).text();
    assert.ok(receiverMetrics.length > 0 && metricValue(receiverMetrics, 'argus_head_series', 'tenant="anonymous"')! > 0);
    assert.ok((await getJson(`${receiver.url}/api/v1/status/buildinfo`)).status === 'success');
  } finally {
    // Each stop runs even when another fails, so no child process outlives the test.
    await Promise.allSettled([agent.stop(), receiver.stop(), target.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
});
