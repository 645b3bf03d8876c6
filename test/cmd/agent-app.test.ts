/**
 * The agent's HTTP surface and metrics without sockets for the API (app.request), over a real `Agent`
 * scraping a local target: lifecycle gating, Prometheus-agent answers, target metadata, the /metrics
 * exposition (read back with Argus's own text parser), and the effective-config YAML, which must load
 * back into the same configuration (property-tested over generated files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { Agent } from '../../src/agent/agent.js';
import { registerAgentMetrics } from '../../src/agent/metrics.js';
import { parsePrometheusConfig } from '../../src/config/prometheus.js';
import { collectEntries, TextParser } from '../../src/exposition/index.js';
import { createAgentApp, prometheusConfigYaml } from '../../src/server/agent-app.js';
import { nopLogger } from '../../src/util/log.js';
import { SeqTarget, waitFor } from '../e2e/agent-support.js';

test('agent app: lifecycle gating, agent-mode answers, targets metadata, /metrics in the text format', { timeout: 20_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-agent-app-'));
  const target = await new SeqTarget().start();
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(
    configFile,
    `global:\n  scrape_interval: 200ms\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['${target.address}']\nremote_write:\n  - url: http://127.0.0.1:9/api/v1/push\n    name: nowhere\n`,
  );
  const agent = await Agent.start({ configFile, dataDir: join(dir, 'data'), logger: nopLogger, flushDeadlineMs: 0 });
  try {
    const registry = new Registry();
    registerAgentMetrics(registry, () => [{ agent, labels: {} }]);
    let reloads = 0;
    const deps = {
      agent: () => agent,
      registry,
      logger: nopLogger,
      isReady: () => true,
      flags: { 'config.file': configFile },
      reload: async () => void reloads++,
      quit: () => undefined,
    };
    const closed = createAgentApp({ ...deps, enableLifecycle: false });
    const r403 = await closed.request('/-/reload', { method: 'POST' });
    assert.equal(r403.status, 403);
    assert.equal(await r403.text(), 'Lifecycle API is not enabled.');
    assert.equal(reloads, 0);
    const open = createAgentApp({ ...deps, enableLifecycle: true });
    assert.equal((await open.request('/-/reload', { method: 'PUT' })).status, 200);
    assert.equal(reloads, 1);
    for (const path of ['/api/v1/query?query=up', '/api/v1/series?match[]=up', '/api/v1/labels', '/api/v1/label/job/values', '/api/v1/status/tsdb']) {
      const r = await open.request(path);
      assert.equal(r.status, 422, path);
      assert.equal(((await r.json()) as any).error, 'unavailable with Prometheus Agent');
    }
    assert.deepEqual(((await (await open.request('/api/v1/status/flags')).json()) as any).data, { 'config.file': configFile });
    assert.equal(((await (await open.request('/api/v1/status/buildinfo')).json()) as any).status, 'success');
    assert.equal((await open.request('/-/ready')).status, 200);

    const meta = await waitFor('target metadata', async () => {
      const b = (await (await open.request('/api/v1/targets/metadata?metric=test_scrape_sequence')).json()) as any;
      return b.data.length > 0 ? b.data : null;
    });
    assert.deepEqual(meta, [{ target: { instance: target.address, job: 't' }, type: 'gauge', help: 'Number of this scrape request.', unit: '' }]);

    // /metrics parses as text format 0.0.4; counters are typed counter and hold the agent's numbers.
    await waitFor('a few scrapes', async () => agent.scrape.metrics.scrapes >= 3);
    const res = await open.request('/metrics');
    const text = await res.text();
    const entries = collectEntries(new TextParser(new TextEncoder().encode(text)));
    const types = new Map(entries.flatMap((e) => (e.kind === 'type' ? [[e.name, e.type] as const] : [])));
    // Series by name and labels (without __name__), e.g. `argus_agent_scrapes_total{}`.
    const values = new Map(
      entries.flatMap((e) => {
        if (e.kind !== 'series') return [];
        const ls: string[] = [];
        for (let i = 0; i < e.labels.length; i += 2) if (e.labels[i] !== '__name__') ls.push(`${e.labels[i]}=${e.labels[i + 1]}`);
        return [[`${e.name}{${ls.join(',')}}`, e.value] as const];
      }),
    );
    assert.equal(types.get('argus_agent_scrapes_total'), 'counter');
    assert.equal(types.get('argus_remote_storage_samples_pending'), 'gauge');
    assert.ok(values.get('argus_agent_scrapes_total{}')! >= 3);
    assert.equal(values.get('argus_remote_storage_shards{remote_name=nowhere,url=http://127.0.0.1:9/api/v1/push}'), 1);
    assert.equal(values.get('argus_config_last_reload_successful{}'), 1);
    assert.ok(values.get('argus_agent_wal_series{}')! >= 9, 'the target\'s 4 series and 5 report series');
    for (const [name, type] of types) if (name.endsWith('_total')) assert.equal(type, 'counter', name);
  } finally {
    await agent.stop();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

const RICH = `
global:
  scrape_interval: 15s
  evaluation_interval: 15s
  external_labels: {cluster: eu-1, __replica__: a}
scrape_configs:
  - job_name: 'my-app'
    static_configs:
      - targets: ['192.168.1.10:8080', '192.168.1.11:8080']
  - job_name: 'node_exporter'
    scrape_interval: 1m30s
    metrics_path: /probe
    params: {module: [http_2xx]}
    basic_auth: {username: u, password_file: /etc/pw}
    honor_labels: true
    sample_limit: 1000
    static_configs:
      - targets: ['192.168.1.20:9100']
        labels: {env: "prod 'eu'", "team": "a: b"}
    file_sd_configs:
      - files: [targets/*.json]
        refresh_interval: 2m
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.*):9100'
        target_label: host
        replacement: '\${1}'
      - action: hashmod
        source_labels: [host]
        modulus: 4
        target_label: __tmp_shard
      - action: labeldrop
        regex: __tmp_.*
    metric_relabel_configs:
      - action: drop
        source_labels: [__name__]
        regex: go_.*
remote_write:
  - url: "http://thanos-receive.monitoring.svc.cluster.local:19291/api/v1/receive"
    name: central
    remote_timeout: 10s
    headers: {X-Scope-OrgID: team-a}
    write_relabel_configs:
      - action: keep
        source_labels: [__name__]
        regex: 'up|node_.*'
    queue_config: {max_samples_per_send: 500, batch_send_deadline: 2s, max_wal_bytes: 512MiB}
`;

test('the effective-config YAML loads back into the same configuration; secrets are hidden', () => {
  const cfg = parsePrometheusConfig(RICH, 'rich.yml', { baseDir: '/etc/prometheus' });
  const yaml = prometheusConfigYaml(cfg);
  assert.deepStrictEqual(parsePrometheusConfig(yaml, 'status.yml', { baseDir: '/etc/prometheus' }), cfg);
  assert.match(yaml, /^global:\n  scrape_interval: 15s\n/);
  assert.match(yaml, /scrape_interval: 1m30s/);
  assert.match(yaml, /__replica__: a/);
  const secret = parsePrometheusConfig(
    'remote_write:\n  - url: http://a:1/w\n    basic_auth: {username: u, password: hunter2}\n  - url: http://b:1/w\n    authorization: {credentials: tok}\n',
  );
  const shown = prometheusConfigYaml(secret);
  assert.ok(!shown.includes('hunter2') && !shown.includes('tok\n'), shown);
  assert.match(shown, /password: <secret>/);
  assert.match(shown, /credentials: <secret>/);
});

const RUNS = 200;

test('property: generated prometheus.yml files survive the status/config YAML round trip', () => {
  const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/);
  const value = fc.string({ maxLength: 12 });
  const dur = fc.constantFrom('1s', '5s', '15s', '1m', '1m30s', '2h', '500ms');
  const target = fc.tuple(fc.constantFrom('127.0.0.1', 'host-a', 'example.org', '[::1]'), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`);
  const relabel = fc.record({
    action: fc.constantFrom('replace', 'keep', 'drop', 'labelmap', 'labeldrop', 'lowercase'),
    source_labels: fc.array(name, { minLength: 1, maxLength: 2 }),
    regex: fc.constantFrom('(.*)', 'a|b', '.+:(\\d+)', 'x.*'),
    target_label: name,
  });
  const job = fc.record({
    job_name: name,
    scrape_interval: fc.option(dur, { nil: undefined }),
    metrics_path: fc.option(fc.constantFrom('/metrics', '/probe', '/a b'), { nil: undefined }),
    honor_labels: fc.option(fc.boolean(), { nil: undefined }),
    static_configs: fc.array(fc.record({ targets: fc.array(target, { maxLength: 3 }), labels: fc.dictionary(name, value, { maxKeys: 2 }) }), { maxLength: 2 }),
    relabel_configs: fc.array(relabel, { maxLength: 2 }),
  });
  const file = fc.record({
    global: fc.record({ scrape_interval: dur, external_labels: fc.dictionary(name, value.filter((v) => v !== '' && !v.includes('$')), { maxKeys: 3 }) }),
    scrape_configs: fc.uniqueArray(job, { selector: (j) => j.job_name, maxLength: 3 }),
    remote_write: fc.array(fc.record({ url: fc.constantFrom('http://a:1/w', 'https://b.example/api/v1/push'), remote_timeout: dur }), { maxLength: 2 }),
  });
  let rejected = 0;
  fc.assert(
    fc.property(file, (f) => {
      const text = JSON.stringify(f, (_k, v) => (v === undefined ? undefined : v));
      let cfg;
      try {
        cfg = parsePrometheusConfig(text);
      } catch {
        rejected++;
        return; // generated settings Prometheus rejects (e.g. relabel combinations) are not the subject here
      }
      assert.deepStrictEqual(parsePrometheusConfig(prometheusConfigYaml(cfg)), cfg);
    }),
    { numRuns: RUNS },
  );
  // Most generated files must be valid, or the property says little.
  console.log(`config YAML round trip: ${RUNS - rejected} of ${RUNS} generated files valid`);
  assert.ok(rejected < RUNS / 2, `${rejected} of ${RUNS} generated files were invalid`);
});
