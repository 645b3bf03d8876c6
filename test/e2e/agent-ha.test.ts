/**
 * The HA pair as processes: two `argus agent`s with the same scrape and remote_write settings and
 * `__replica__` a / b write to one receiver, which stores one copy; `kill -9` of the elected agent fails
 * over to the other with no gap in the stored series.
 *
 * The target numbers its scrapes and learns which replica asked (each agent's job sets `params:
 * {replica: [...]}`, a query parameter that never becomes a label), so the test knows exactly which
 * replica's sample each stored value is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { SeqTarget, getJson, rawSamples, remoteWrite, sleep, startAgentProcess, waitFor, type AgentProcess } from './agent-support.js';

const INTERVAL_MS = 500;
const HA = 'receive:\n  ha_tracker:\n    update_timeout: 500ms\n    update_timeout_jitter_max: 0s\n    failover_timeout: 2s\n';

function replicaConfig(replica: string, target: string, receiver: string): string {
  return `global:
  scrape_interval: ${INTERVAL_MS}ms
  scrape_timeout: 400ms
  external_labels:
    cluster: c1
    __replica__: ${replica}
scrape_configs:
  - job_name: app
    params:
      replica: [${replica}]
    static_configs:
      - targets: ['${target}']
${remoteWrite(receiver)}`;
}

test('HA pair of agent processes: one stored copy; kill -9 of the elected agent fails over without a gap', { timeout: 60_000 }, async () => {
  const receiver = await startArgusInProcess(HA);
  const target = await new SeqTarget().start();
  const agents: AgentProcess[] = [];
  const cluster = () => receiver.receiver.haStatus().find((s) => s.cluster === 'c1');
  try {
    agents.push(await startAgentProcess(replicaConfig('a', target.address, receiver.url)));
    await waitFor('replica a elected', async () => cluster()?.elected === 'a');
    agents.push(await startAgentProcess(replicaConfig('b', target.address, receiver.url)));
    await waitFor('replica b seen by the receiver', async () => cluster()?.lastSeen.b !== undefined);
    await sleep(1500);

    // One copy: the series carries cluster and no replica label.
    const series = await getJson(`${receiver.url}/api/v1/series?dedup=false&match[]=test_scrape_sequence`);
    assert.deepEqual(series.data, [{ __name__: 'test_scrape_sequence', cluster: 'c1', instance: target.address, job: 'app' }]);
    assert.deepEqual((await getJson(`${receiver.url}/api/v1/label/__replica__/values?dedup=false`)).data, []);
    // ... holding exactly what replica a scraped (b's scrapes were deduplicated).
    const steady = (await rawSamples(receiver.url, 'test_scrape_sequence'))[0]!.values.map(([, v]) => Number(v));
    const who = (seq: number) => target.served[seq - 1]?.replica; // served[i] is scrape number i + 1
    assert.ok(steady.length >= 4, `stored ${steady.length}`);
    assert.deepEqual(steady.filter((v) => who(v) !== 'a'), [], 'only replica a\'s samples stored before the failover');
    assert.ok(target.served.some((s) => s.replica === 'b'), 'replica b was scraping too');

    // kill -9 the elected replica: after failover_timeout b is elected.
    const killedAt = Date.now();
    await agents[0]!.kill9();
    await waitFor('failover to replica b', async () => cluster()?.elected === 'b', 15_000);
    const failoverMs = Date.now() - killedAt;
    await sleep(1000);

    const stored = (await rawSamples(receiver.url, 'test_scrape_sequence'))[0]!.values;
    const ts = stored.map(([t]) => Math.round(t * 1000));
    const vals = stored.map(([, v]) => Number(v));
    let maxGap = 0;
    for (let i = 1; i < ts.length; i++) maxGap = Math.max(maxGap, ts[i]! - ts[i - 1]!);
    const span = ts[ts.length - 1]! - ts[0]!;
    const fromB = vals.filter((v) => who(v) === 'b').length;
    console.log(`HA e2e: failover after ${failoverMs} ms; ${ts.length} samples over ${span} ms; max gap ${maxGap} ms; ${fromB} from b`);
    // No gap: consecutive samples at most a scrape interval apart, plus the offset between the replicas' schedules.
    assert.ok(maxGap <= 2 * INTERVAL_MS, `max gap ${maxGap} ms exceeds two scrape intervals`);
    // One copy across the switch as well: one schedule gives span/interval + 1 samples and the switch to the
    // other replica's schedule at most one more (plus timestamp jitter); two copies would give about twice.
    assert.ok(ts.length <= span / INTERVAL_MS + 3, `${ts.length} samples over ${span} ms is more than one copy`);
    // Before the switch a's samples, after it b's: the stored values change replica once, and never go back.
    const owners = vals.map(who);
    const switchAt = owners.indexOf('b');
    assert.ok(switchAt > 0, 'some samples come from b after the failover');
    assert.deepEqual(owners.slice(switchAt).filter((r) => r !== 'b'), [], `owners after the switch: ${owners.slice(switchAt).join('')}`);
    assert.ok(ts[switchAt]! - ts[switchAt - 1]! <= 2 * INTERVAL_MS, 'b\'s samples continue right after a\'s last stored sample');
    assert.equal(cluster()!.failovers, 1);
  } finally {
    await Promise.allSettled([...agents.map((a) => a.stop()), target.stop(), receiver.stop()]);
  }
});
