/**
 * `argus agent` as a process: it scrapes a local target, remote-writes to an Argus receiver, shows its
 * targets, and reloads its configuration over HTTP and on SIGHUP (a bad file keeps the old configuration).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { SeqTarget, getJson, metricValue, rawSamples, remoteWrite, startAgentProcess, waitFor } from './agent-support.js';

interface TargetsBody {
  status: string;
  data: { activeTargets: { scrapePool: string; health: string; lastError: string; labels: Record<string, string>; scrapeUrl: string }[] };
}

function config(receiver: string, jobs: [name: string, target: string][], interval = '500ms'): string {
  let y = `global:\n  scrape_interval: ${interval}\n  scrape_timeout: 400ms\nscrape_configs:\n`;
  for (const [name, target] of jobs) y += `  - job_name: ${name}\n    static_configs:\n      - targets: ['${target}']\n`;
  return y + remoteWrite(receiver);
}

test('argus agent process: scrape → remote write, targets API, reload over HTTP (good and bad) and on SIGHUP', { timeout: 60_000 }, async () => {
  const receiver = await startArgusInProcess('');
  const t1 = await new SeqTarget().start();
  const t2 = await new SeqTarget().start();
  const agent = await startAgentProcess(config(receiver.url, [['one', t1.address]]));
  try {
    const u = agent.url;
    // The target shows up and healthy, in Prometheus's shape.
    const first = await waitFor('target "one" up in /api/v1/targets', async () => {
      const b = await getJson<TargetsBody>(`${u}/api/v1/targets`);
      return b.data.activeTargets.length === 1 && b.data.activeTargets[0]!.health === 'up' ? b : null;
    });
    assert.deepEqual(first.data.activeTargets[0]!.labels, { instance: t1.address, job: 'one' });
    assert.equal(first.data.activeTargets[0]!.scrapeUrl, `http://${t1.address}/metrics`);
    assert.equal(first.data.activeTargets[0]!.lastError, '');

    // Samples reach the receiver with the target's labels.
    await waitFor('samples of job "one" stored by the receiver', async () => (await rawSamples(receiver.url, 'test_scrape_sequence{job="one"}'))[0]?.values.length! >= 3);
    const up = await rawSamples(receiver.url, 'up{job="one"}');
    assert.deepEqual(up[0]!.metric, { __name__: 'up', instance: t1.address, job: 'one' });
    assert.ok(up[0]!.values.every(([, v]) => v === '1'));

    // Query endpoints answer as a Prometheus agent does.
    const q = await fetch(`${u}/api/v1/query?query=up`);
    assert.equal(q.status, 422);
    assert.deepEqual(await q.json(), { status: 'error', errorType: 'execution', error: 'unavailable with Prometheus Agent' });
    assert.equal((await fetch(`${u}/-/reload`)).status, 405);

    // Reload over HTTP with an added job: 200 with an empty body, the new job runs and its data arrives.
    await agent.writeConfig(config(receiver.url, [['one', t1.address], ['two', t2.address]]));
    const ok = await fetch(`${u}/-/reload`, { method: 'POST' });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '');
    assert.deepEqual((await getJson(`${u}/api/v1/scrape_pools`)).data, { scrapePools: ['one', 'two'] });
    await waitFor('samples of job "two" stored', async () => (await rawSamples(receiver.url, 'test_scrape_sequence{job="two"}'))[0]?.values.length! >= 2);
    assert.match((await getJson(`${u}/api/v1/status/config`)).data.yaml, /job_name: two/);

    // A bad file: 500 naming the key path; the running configuration stays (both jobs keep scraping).
    await agent.writeConfig(config(receiver.url, [['one', t1.address]], 'fast'));
    const bad = await fetch(`${u}/-/reload`, { method: 'PUT' });
    assert.equal(bad.status, 500);
    assert.match(await bad.text(), /^failed to reload config: .*global\.scrape_interval: .*"fast"/);
    let metrics = await (await fetch(`${u}/metrics`)).text();
    assert.equal(metricValue(metrics, 'argus_config_last_reload_successful'), 0);
    assert.deepEqual((await getJson(`${u}/api/v1/scrape_pools`)).data.scrapePools, ['one', 'two']);
    const before = t2.served.length;
    await waitFor('job "two" still scraped after the failed reload', async () => t2.served.length >= before + 2);
    assert.equal((await getJson(`${u}/api/v1/status/runtimeinfo`)).data.reloadConfigSuccess, false);

    // SIGHUP with job "two" removed: its pool stops, its series are marked stale, the reload counts as good.
    await agent.writeConfig(config(receiver.url, [['one', t1.address]]));
    agent.child.kill('SIGHUP');
    await waitFor('job "two" gone after SIGHUP', async () => (await getJson(`${u}/api/v1/scrape_pools`)).data.scrapePools.join() === 'one');
    metrics = await (await fetch(`${u}/metrics`)).text();
    assert.equal(metricValue(metrics, 'argus_config_last_reload_successful'), 1);
    assert.ok(metricValue(metrics, 'argus_config_last_reload_success_timestamp_seconds')! > Date.now() / 1000 - 10);
    // A stale marker ends the series at the receiver: the instant query finds no current `up` for job two.
    await waitFor('job "two" stale at the receiver', async () => {
      const r = await getJson(`${receiver.url}/api/v1/query?query=${encodeURIComponent('up{job="two"}')}`);
      return r.data.result.length === 0;
    });

    // Self-monitoring agrees with what happened.
    metrics = await (await fetch(`${u}/metrics`)).text();
    const scrapes = metricValue(metrics, 'argus_agent_scrapes_total')!;
    assert.ok(scrapes >= t1.served.length - 1 + before, `scrapes ${scrapes}`);
    assert.ok(metricValue(metrics, 'argus_agent_stale_markers_total')! >= 4, 'the removed job\'s 4 scraped series got stale markers');
    assert.ok(metricValue(metrics, 'argus_agent_wal_series')! > 0);
    const sent = metrics.split('\n').find((l) => l.startsWith('argus_remote_storage_samples_total{'));
    assert.ok(sent && Number(sent.split(' ')[1]) > 0, sent);
    // Every request is timed: the histogram's count is the number of requests, its +Inf bucket the same.
    const requests = metrics.split('\n').find((l) => l.startsWith('argus_remote_storage_sent_batch_duration_seconds_count{'));
    const inf = metrics.split('\n').find((l) => l.startsWith('argus_remote_storage_sent_batch_duration_seconds_bucket{') && l.includes('le="+Inf"'));
    assert.ok(requests && Number(requests.split(' ')[1]) > 0, requests);
    assert.equal(inf?.split(' ')[1], requests.split(' ')[1]);
    assert.match(metrics, /argus_agent_targets\{scrape_job="one",health="up"\} 1/);
  } finally {
    await Promise.allSettled([agent.stop(), t1.stop(), t2.stop(), receiver.stop()]);
  }
});
