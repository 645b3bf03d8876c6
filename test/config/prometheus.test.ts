// Loading prometheus.yml: the HA-pair example, the Debian package's default file, a config that sets
// every key (also checked with the real promtool when installed), defaults, and YAML scalar quirks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigError } from '../../src/config/load.js';
import {
  DEFAULT_SCRAPE_PROTOCOLS,
  DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS,
  expandEnv,
  loadPrometheusConfig,
  loadScrapeConfigFiles,
  parsePrometheusConfig,
  type PrometheusConfig,
} from '../../src/config/prometheus.js';
import { relabel } from '../../src/agent/relabel.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';


// --- fixtures ------------------------------------------------------------------------------------

/** The common HA-pair example from the agent issue. Tests never send traffic to these addresses. */
const HA_PAIR_CONFIG = `
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: 'my-app'
    static_configs:
      - targets: ['192.168.1.10:8080', '192.168.1.11:8080']
  - job_name: 'node_exporter'
    static_configs:
      - targets: ['192.168.1.20:9100', '192.168.1.21:9100']
remote_write:
  - url: "http://thanos-receive.monitoring.svc.cluster.local:19291/api/v1/receive"
`;

/** Files the broad config refers to, relative to its directory. */
const BROAD_FILES = ['secrets/password', 'secrets/token', 'tls/ca.pem', 'tls/client.pem', 'tls/client.key', 'sd/targets.json'];

/** A configuration that sets every key Argus types (Prometheus 3.x spelling). */
const BROAD_CONFIG = `
global:
  scrape_interval: 30s
  scrape_timeout: 20s
  evaluation_interval: 45s
  rule_query_offset: 10s
  query_log_file: logs/query.log
  scrape_failure_log_file: logs/failures.log
  scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]
  body_size_limit: 10MB
  sample_limit: 50000
  target_limit: 100
  label_limit: 64
  label_name_length_limit: 128
  label_value_length_limit: 2048
  keep_dropped_targets: 10
  metric_name_validation_scheme: utf8
  metric_name_escaping_scheme: allow-utf-8
  scrape_native_histograms: false
  convert_classic_histograms_to_nhcb: false
  always_scrape_classic_histograms: true
  extra_scrape_metrics: true
  external_labels:
    cluster: eu-1
    __replica__: a
runtime:
  gogc: 75
rule_files:
  - rules/*.yml
  - /abs/alerts.yml
scrape_config_files:
  - jobs/*.yml
alerting:
  alert_relabel_configs:
    - action: labeldrop
      regex: __replica__
  alertmanagers:
    - scheme: https
      path_prefix: /am
      timeout: 5s
      api_version: v2
      basic_auth:
        username: am
        password_file: secrets/password
      tls_config:
        ca_file: tls/ca.pem
        insecure_skip_verify: true
      follow_redirects: false
      static_configs:
        - targets: ['am-1:9093', 'am-2:9093']
      relabel_configs:
        - source_labels: [__address__]
          target_label: instance
      alert_relabel_configs:
        - source_labels: [severity]
          regex: debug
          action: drop
scrape_configs:
  - job_name: everything
    honor_labels: true
    honor_timestamps: false
    track_timestamps_staleness: true
    params:
      module: [http_2xx]
      target: [a, b]
    scrape_interval: 10s
    scrape_timeout: 4s
    scrape_protocols: [PrometheusProto, OpenMetricsText1.0.0]
    fallback_scrape_protocol: PrometheusText0.0.4
    scrape_native_histograms: true
    always_scrape_classic_histograms: false
    convert_classic_histograms_to_nhcb: true
    scrape_failure_log_file: logs/everything.log
    metrics_path: /probe
    scheme: https
    enable_compression: false
    body_size_limit: 1MiB
    sample_limit: 1000
    target_limit: 10
    label_limit: 30
    label_name_length_limit: 100
    label_value_length_limit: 200
    native_histogram_bucket_limit: 160
    native_histogram_min_bucket_factor: 1.1
    keep_dropped_targets: 5
    metric_name_validation_scheme: legacy
    metric_name_escaping_scheme: underscores
    extra_scrape_metrics: false
    authorization:
      type: Token
      credentials_file: secrets/token
    tls_config:
      ca_file: tls/ca.pem
      cert_file: tls/client.pem
      key_file: tls/client.key
      server_name: example.internal
      insecure_skip_verify: false
      min_version: TLS12
      max_version: TLS13
    proxy_url: http://proxy.internal:3128
    no_proxy: localhost,127.0.0.1
    proxy_connect_header:
      X-Proxy: [one]
    follow_redirects: false
    enable_http2: false
    http_headers:
      X-Scope-OrgID:
        values: [team-a]
      X-Secret:
        secrets: [s3cr3t]
        files: [secrets/token]
    static_configs:
      - targets: ['10.0.0.1:9100', 'db.internal:9187']
        labels:
          env: prod
          rack: 12
    file_sd_configs:
      - files: [sd/*.json, sd/extra.yml]
        refresh_interval: 1m
    kubernetes_sd_configs:
      - role: pod
    relabel_configs:
      - source_labels: [__address__]
        regex: '([^:]+):\\d+'
        target_label: host
        replacement: '$1'
      - source_labels: [__address__]
        modulus: 4
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: '0|1|2|3'
        action: keep
      - regex: __meta_kubernetes_pod_label_(.+)
        action: labelmap
      - source_labels: [env]
        target_label: env_upper
        action: uppercase
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
      - regex: pid
        action: labeldrop
  - job_name: legacy-auth
    basic_auth:
      username: admin
      password: 0123
    bearer_token_file: ''
    static_configs:
      - targets: [localhost:9090]
  - job_name: bearer
    bearer_token: abc
    oauth2: ~
    static_configs:
      - targets: [localhost:9091]
remote_write:
  - url: https://receiver.internal/api/v1/push
    name: primary
    remote_timeout: 15s
    headers:
      X-Scope-OrgID: team-a
    write_relabel_configs:
      - source_labels: [__name__]
        regex: expensive_.*
        action: drop
    send_exemplars: true
    send_native_histograms: true
    round_robin_dns: true
    protobuf_message: io.prometheus.write.v2.Request
    failed_request_logging: true
    basic_auth:
      username: writer
      password_file: secrets/password
    tls_config:
      ca_file: tls/ca.pem
    proxy_url: http://proxy.internal:3128
    follow_redirects: false
    enable_http2: true
    queue_config:
      capacity: 2500
      max_shards: 200
      min_shards: 2
      max_samples_per_send: 500
      batch_send_deadline: 10s
      min_backoff: 100ms
      max_backoff: 10s
      retry_on_http_429: false
      sample_age_limit: 1h
    metadata_config:
      send: false
      send_interval: 2m
      max_samples_per_send: 100
  - url: http://backup.internal:9009/api/v1/push
    oauth2:
      client_id: argus
      client_secret_file: secrets/token
      scopes: [write]
      token_url: https://auth.internal/token
      endpoint_params:
        audience: metrics
      tls_config:
        insecure_skip_verify: true
  - url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
    sigv4:
      region: us-east-1
remote_read:
  - url: http://archive.internal:9090/api/v1/read
    name: archive
    remote_timeout: 2m
    chunked_read_limit: 1000000
    headers:
      X-Scope-OrgID: team-a
    read_recent: true
    required_matchers:
      job: archived
    filter_external_labels: false
storage:
  tsdb:
    out_of_order_time_window: 30m
  exemplars:
    max_exemplars: 1000
tracing:
  endpoint: tempo.internal:4317
  client_type: grpc
otlp:
  promote_resource_attributes: [service.name]
`;

/** Keys the broad config uses that Prometheus 2.42 (the Debian package) does not know. */
const KEYS_NEWER_THAN_2_42 = new Set([
  'rule_query_offset', 'scrape_failure_log_file', 'scrape_protocols', 'keep_dropped_targets', 'metric_name_validation_scheme',
  'metric_name_escaping_scheme', 'scrape_native_histograms', 'convert_classic_histograms_to_nhcb', 'always_scrape_classic_histograms',
  'extra_scrape_metrics', 'runtime', 'scrape_config_files', 'track_timestamps_staleness', 'fallback_scrape_protocol',
  'enable_compression', 'native_histogram_bucket_limit', 'native_histogram_min_bucket_factor', 'no_proxy', 'http_headers',
  'round_robin_dns', 'protobuf_message', 'failed_request_logging', 'sample_age_limit', 'otlp',
  // promtool also reads the rule files themselves, which is not what this test is about
  'rule_files',
]);

function writeFiles(dir: string, files: readonly string[]): void {
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), f.endsWith('.json') ? '[]' : 'x\n');
  }
}

/** Runs the Debian package's `promtool check config`; null when promtool is not installed. */
function promtoolCheck(file: string): { ok: boolean; output: string } | null {
  const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return null;
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

// --- tests ---------------------------------------------------------------------------------------

const parse = (text: string, opts = {}): PrometheusConfig => parsePrometheusConfig(text, 'test.yml', { env: {}, ...opts });
const job = (cfg: PrometheusConfig, name: string) => cfg.scrape_configs.find((j) => j.job_name === name)!;

describe('the HA-pair example', () => {
  const cfg = parse(HA_PAIR_CONFIG);

  it('yields two jobs with two targets each, scraped every 15s over http at /metrics', () => {
    assert.deepEqual(
      cfg.scrape_configs.map((j) => j.job_name),
      ['my-app', 'node_exporter'],
    );
    const targets = cfg.scrape_configs.map((j) => j.static_configs.flatMap((s) => s.targets));
    assert.deepEqual(targets, [
      ['192.168.1.10:8080', '192.168.1.11:8080'],
      ['192.168.1.20:9100', '192.168.1.21:9100'],
    ]);
    for (const j of cfg.scrape_configs) {
      assert.equal(j.scrape_interval, 15_000);
      assert.equal(j.scrape_timeout, 10_000);
      assert.equal(j.metrics_path, '/metrics');
      assert.equal(j.scheme, 'http');
      assert.equal(j.honor_labels, false);
      assert.equal(j.honor_timestamps, true);
      assert.equal(j.follow_redirects, true);
      assert.equal(j.enable_http2, true);
      assert.deepEqual(j.params, {});
      assert.deepEqual(j.relabel_configs, []);
      assert.deepEqual(j.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS);
      assert.equal(j.sample_limit, 0);
    }
    assert.equal(cfg.global.evaluation_interval, 15_000);
    assert.deepEqual(cfg.global.external_labels, []);
  });

  it('yields one remote_write with the given url and the default queue_config', () => {
    assert.equal(cfg.remote_write.length, 1);
    const rw = cfg.remote_write[0]!;
    assert.equal(rw.url, 'http://thanos-receive.monitoring.svc.cluster.local:19291/api/v1/receive');
    assert.equal(rw.name, '');
    assert.equal(rw.remote_timeout, 30_000);
    assert.equal(rw.protobuf_message, 'prometheus.WriteRequest');
    assert.equal(rw.enable_http2, false);
    assert.equal(rw.follow_redirects, true);
    assert.deepEqual(rw.queue_config, {
      capacity: 10_000,
      max_shards: 50,
      min_shards: 1,
      max_samples_per_send: 2_000,
      batch_send_deadline: 5_000,
      min_backoff: 30,
      max_backoff: 5_000,
      retry_on_http_429: true,
      sample_age_limit: 0,
    });
    assert.deepEqual(rw.metadata_config, { send: true, send_interval: 60_000, max_samples_per_send: 2_000 });
    assert.deepEqual(rw.write_relabel_configs, []);
    assert.deepEqual(cfg.unsupported, []);
  });

  it('is deeply frozen', () => {
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.scrape_configs[0]) && Object.isFrozen(cfg.remote_write[0]!.queue_config));
    assert.ok(Object.isFrozen(cfg.scrape_configs[0]!.static_configs[0]!.targets));
  });
});

describe("the Debian package's /etc/prometheus/prometheus.yml", () => {
  const path = '/etc/prometheus/prometheus.yml';
  it('loads', async (t) => {
    if (!existsSync(path)) {
      console.warn(`SKIPPED: ${path} is not installed (apt-get install prometheus)`);
      t.skip(`${path} is not installed`);
      return;
    }
    const cfg = await loadPrometheusConfig(path);
    const prom = job(cfg, 'prometheus');
    assert.ok(prom, 'job "prometheus"');
    assert.ok(prom.scrape_timeout <= prom.scrape_interval);
    assert.ok(cfg.scrape_configs.every((j) => j.static_configs.length > 0));
    // The stock file (Debian 2.42): prometheus every 5s, node at the 15s global, one Alertmanager.
    if (prom.scrape_interval === 5_000) {
      assert.equal(prom.scrape_timeout, 5_000);
      assert.equal(job(cfg, 'node').scrape_interval, 15_000);
      assert.deepEqual(labelsToObject(cfg.global.external_labels), { monitor: 'example' });
      assert.deepEqual(cfg.alerting.alertmanagers[0]!.static_configs[0]!.targets, ['localhost:9093']);
    }
  });
});

describe('defaults', () => {
  it('an empty file is the default configuration', () => {
    for (const text of ['', '# nothing\n', 'global:\n', 'global: {}\nscrape_configs: []\n']) {
      const cfg = parse(text);
      assert.equal(cfg.global.scrape_interval, 60_000);
      assert.equal(cfg.global.scrape_timeout, 10_000);
      assert.equal(cfg.global.evaluation_interval, 60_000);
      assert.equal(cfg.global.metric_name_validation_scheme, 'utf8');
      assert.equal(cfg.global.scrape_protocols, null);
      assert.deepEqual(cfg.scrape_configs, []);
      assert.deepEqual(cfg.remote_write, []);
      assert.deepEqual(cfg.alerting, { alert_relabel_configs: [], alertmanagers: [] });
    }
  });

  it('scrape_timeout defaults to min(global scrape_timeout, scrape_interval)', () => {
    const cfg = parse(`
global: {scrape_interval: 1m, scrape_timeout: 20s}
scrape_configs:
  - {job_name: short, scrape_interval: 5s}
  - {job_name: long, scrape_interval: 2m}
  - {job_name: inherit}
  - {job_name: explicit, scrape_interval: 5s, scrape_timeout: 5s}
  - {job_name: zero, scrape_interval: 0s}
`);
    assert.deepEqual(
      cfg.scrape_configs.map((j) => [j.job_name, j.scrape_interval, j.scrape_timeout]),
      [
        ['short', 5_000, 5_000],
        ['long', 120_000, 20_000],
        ['inherit', 60_000, 20_000],
        ['explicit', 5_000, 5_000],
        ['zero', 60_000, 20_000],
      ],
    );
    assert.equal(parse('global: {scrape_interval: 5s}').global.scrape_timeout, 5_000);
  });

  it('jobs inherit limits and scrape settings from global; their own values win', () => {
    const cfg = parse(`
global: {sample_limit: 100, label_limit: 10, body_size_limit: 1KB, target_limit: 7, label_name_length_limit: 20, label_value_length_limit: 30, keep_dropped_targets: 3, scrape_failure_log_file: /var/log/f.log}
scrape_configs:
  - {job_name: a}
  - {job_name: b, sample_limit: 5, body_size_limit: 2KiB}
`);
    const a = job(cfg, 'a');
    assert.deepEqual(
      [a.sample_limit, a.label_limit, a.body_size_limit, a.target_limit, a.label_name_length_limit, a.label_value_length_limit, a.keep_dropped_targets],
      [100, 10, 1024, 7, 20, 30, 3],
    );
    assert.equal(a.scrape_failure_log_file, '/var/log/f.log');
    assert.deepEqual([job(cfg, 'b').sample_limit, job(cfg, 'b').body_size_limit], [5, 2048]);
  });

  it('scrape protocols: global list, else protobuf first when scraping native histograms', () => {
    const cfg = parse('scrape_configs:\n  - {job_name: a}\n  - {job_name: b, scrape_native_histograms: true}\n');
    assert.deepEqual(job(cfg, 'a').scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS);
    assert.deepEqual(job(cfg, 'b').scrape_protocols, DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS);
    const g = parse('global: {scrape_protocols: [PrometheusText0.0.4]}\nscrape_configs: [{job_name: a, scrape_native_histograms: true}]');
    assert.deepEqual(job(g, 'a').scrape_protocols, ['PrometheusText0.0.4']);
  });

  it('legacy bearer_token and bearer_token_file become authorization, as in Prometheus', () => {
    const cfg = parse('scrape_configs:\n  - {job_name: a, bearer_token: t}\n  - {job_name: b, bearer_token_file: tok}\n  - {job_name: c, authorization: {credentials: x}}\n', { baseDir: '/etc/p' });
    assert.deepEqual(job(cfg, 'a').authorization, { type: 'Bearer', credentials: 't', credentials_file: '' });
    assert.deepEqual(job(cfg, 'b').authorization, { type: 'Bearer', credentials: '', credentials_file: '/etc/p/tok' });
    assert.deepEqual(job(cfg, 'c').authorization, { type: 'Bearer', credentials: 'x', credentials_file: '' });
    assert.equal(job(cfg, 'a').basic_auth, undefined);
  });

  it('relabel rules of a job take its name validation scheme', () => {
    const cfg = parse(`
global: {metric_name_validation_scheme: legacy}
scrape_configs:
  - job_name: a
    relabel_configs: [{source_labels: [x], target_label: y}]
    metric_relabel_configs: [{regex: "__meta_(.+)", action: labelmap}]
  - job_name: b
    metric_name_validation_scheme: utf8
    relabel_configs: [{source_labels: [x], target_label: y.z}]
`);
    assert.equal(job(cfg, 'a').relabel_configs[0]!.name_validation_scheme, 'legacy');
    assert.equal(job(cfg, 'a').metric_name_escaping_scheme, 'underscores');
    assert.equal(job(cfg, 'b').relabel_configs[0]!.name_validation_scheme, 'utf8');
    // A job that sets its own scheme gets that scheme's escaping, not the global one (as in Prometheus).
    assert.equal(job(cfg, 'b').metric_name_escaping_scheme, 'allow-utf-8');
  });
});

describe('YAML as Go reads it', () => {
  it('text fields keep the source text of numbers and booleans', () => {
    const cfg = parse(`
global:
  external_labels: {replica: 1, zone: 01, flag: yes, ratio: 1.50}
scrape_configs:
  - job_name: 123
    basic_auth: {username: 0x10, password: 0123}
    static_configs: [{targets: [localhost:9090], labels: {rack: 12}}]
`);
    assert.deepEqual(labelsToObject(cfg.global.external_labels), { replica: '1', zone: '01', flag: 'yes', ratio: '1.50' });
    const j = cfg.scrape_configs[0]!;
    assert.equal(j.job_name, '123');
    assert.deepEqual(j.basic_auth, { username: '0x10', username_file: '', password: '0123', password_file: '' });
    assert.deepEqual(j.static_configs[0]!.labels, labelsFromObject({ rack: '12' }));
  });

  it('booleans accept the YAML 1.1 spellings Go accepts', () => {
    const cfg = parse('scrape_configs:\n  - {job_name: a, honor_labels: yes, honor_timestamps: off, enable_http2: False}\n');
    const j = job(cfg, 'a');
    assert.deepEqual([j.honor_labels, j.honor_timestamps, j.enable_http2], [true, false, false]);
  });

  it('an explicit empty value is the Go zero value; a missing key is the default', () => {
    const cfg = parse(`
scrape_configs:
  - job_name: a
    honor_timestamps:
    scrape_interval: ~
    static_configs:
    relabel_configs:
      - regex:
        replacement: static
        target_label: abc
`);
    const j = job(cfg, 'a');
    assert.equal(j.honor_timestamps, false);
    assert.equal(j.scrape_interval, 60_000);
    assert.deepEqual(j.static_configs, []);
    assert.equal(j.relabel_configs[0]!.regex, '');
  });

  it('anchors, aliases and merge keys work', () => {
    const merged = parse(`
scrape_configs:
  - &base {job_name: a, scrape_interval: 5s, metrics_path: /m}
  - <<: *base
    job_name: b
`);
    assert.deepEqual(
      merged.scrape_configs.map((j) => [j.job_name, j.scrape_interval, j.metrics_path]),
      [
        ['a', 5_000, '/m'],
        ['b', 5_000, '/m'],
      ],
    );
  });
});

describe('external labels', () => {
  it('expands $VAR and ${VAR} from the environment (Prometheus 3), $$ is a dollar, unset is empty', () => {
    const cfg = parse('global:\n  external_labels: {__replica__: "${HOSTNAME}", cluster: "$CLUSTER-x", cost: "$$5", gone: "$UNSET"}\n', {
      env: { HOSTNAME: 'agent-a', CLUSTER: 'eu' },
    });
    assert.deepEqual(labelsToObject(cfg.global.external_labels), { __replica__: 'agent-a', cluster: 'eu-x', cost: '$5' });
  });

  it('can be left unexpanded (Prometheus 2 without expand-external-labels)', () => {
    const cfg = parse('global:\n  external_labels: {r: "${HOSTNAME}"}\n', { env: { HOSTNAME: 'x' }, expandExternalLabels: false });
    assert.deepEqual(labelsToObject(cfg.global.external_labels), { r: '${HOSTNAME}' });
  });

  it('expands like Go os.Expand', () => {
    const env = { A: 'a', B_1: 'b' };
    const cases: [string, string][] = [
      ['$A', 'a'], ['${A}', 'a'], ['x$A-y', 'xa-y'], ['$B_1', 'b'], ['${B_1}x', 'bx'], ['$', '$'], ['a$', 'a$'],
      ['$$', '$'], ['${}', ''], ['${A', 'A'], ['$-', ''], ['$1', ''], ['$ x', '$ x'], ['100%', '100%'],
    ];
    for (const [input, want] of cases) assert.equal(expandEnv(input, env), want, input);
  });
});

describe('a configuration that sets every key', () => {
  let dir = '';
  let cfg: PrometheusConfig;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'argus-promcfg-'));
    writeFiles(dir, BROAD_FILES);
    writeFileSync(join(dir, 'prometheus.yml'), BROAD_CONFIG);
    cfg = await loadPrometheusConfig(join(dir, 'prometheus.yml'), { env: {} });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('types the global section', () => {
    const g = cfg.global;
    assert.deepEqual(
      [g.scrape_interval, g.scrape_timeout, g.evaluation_interval, g.rule_query_offset, g.body_size_limit, g.sample_limit],
      [30_000, 20_000, 45_000, 10_000, 10 * 1024 * 1024, 50_000],
    );
    assert.deepEqual([g.target_limit, g.label_limit, g.label_name_length_limit, g.label_value_length_limit, g.keep_dropped_targets], [100, 64, 128, 2048, 10]);
    assert.deepEqual(g.scrape_protocols, ['OpenMetricsText1.0.0', 'PrometheusText0.0.4']);
    assert.equal(g.query_log_file, join(dir, 'logs/query.log'));
    assert.deepEqual([g.always_scrape_classic_histograms, g.extra_scrape_metrics, g.scrape_native_histograms], [true, true, false]);
    assert.deepEqual(labelsToObject(g.external_labels), { __replica__: 'a', cluster: 'eu-1' });
    assert.deepEqual(cfg.runtime, { gogc: '75' });
  });

  it('types a scrape config with every key', () => {
    const j = job(cfg, 'everything');
    assert.deepEqual(
      [j.honor_labels, j.honor_timestamps, j.track_timestamps_staleness, j.scrape_interval, j.scrape_timeout, j.metrics_path, j.scheme],
      [true, false, true, 10_000, 4_000, '/probe', 'https'],
    );
    assert.deepEqual(j.params, { module: ['http_2xx'], target: ['a', 'b'] });
    assert.deepEqual(j.scrape_protocols, ['PrometheusProto', 'OpenMetricsText1.0.0']);
    assert.equal(j.fallback_scrape_protocol, 'PrometheusText0.0.4');
    assert.deepEqual([j.scrape_native_histograms, j.always_scrape_classic_histograms, j.convert_classic_histograms_to_nhcb], [true, false, true]);
    assert.equal(j.scrape_failure_log_file, join(dir, 'logs/everything.log'));
    assert.deepEqual(
      [j.body_size_limit, j.sample_limit, j.target_limit, j.label_limit, j.label_name_length_limit, j.label_value_length_limit],
      [1024 * 1024, 1000, 10, 30, 100, 200],
    );
    assert.deepEqual([j.native_histogram_bucket_limit, j.native_histogram_min_bucket_factor, j.keep_dropped_targets], [160, 1.1, 5]);
    assert.deepEqual([j.metric_name_validation_scheme, j.metric_name_escaping_scheme, j.extra_scrape_metrics, j.enable_compression], ['legacy', 'underscores', false, false]);
    assert.deepEqual(j.authorization, { type: 'Token', credentials: '', credentials_file: join(dir, 'secrets/token') });
    assert.deepEqual(j.tls_config, {
      ca: '',
      ca_file: join(dir, 'tls/ca.pem'),
      cert: '',
      cert_file: join(dir, 'tls/client.pem'),
      key: '',
      key_file: join(dir, 'tls/client.key'),
      server_name: 'example.internal',
      insecure_skip_verify: false,
      min_version: 'TLS12',
      max_version: 'TLS13',
    });
    assert.deepEqual([j.proxy_url, j.no_proxy, j.proxy_from_environment], ['http://proxy.internal:3128', 'localhost,127.0.0.1', false]);
    assert.deepEqual(j.proxy_connect_header, { 'X-Proxy': ['one'] });
    assert.deepEqual([j.follow_redirects, j.enable_http2], [false, false]);
    assert.deepEqual(j.http_headers, {
      'X-Scope-OrgID': { values: ['team-a'], secrets: [], files: [] },
      'X-Secret': { values: [], secrets: ['s3cr3t'], files: [join(dir, 'secrets/token')] },
    });
    assert.deepEqual(j.static_configs, [{ targets: ['10.0.0.1:9100', 'db.internal:9187'], labels: labelsFromObject({ env: 'prod', rack: '12' }) }]);
    assert.deepEqual(j.file_sd_configs, [{ files: [join(dir, 'sd/*.json'), join(dir, 'sd/extra.yml')], refresh_interval: 60_000 }]);
    assert.deepEqual(j.other_sd_configs, { kubernetes_sd_configs: [{ role: 'pod' }] });
    assert.deepEqual(
      j.relabel_configs.map((r) => r.action),
      ['replace', 'hashmod', 'keep', 'labelmap', 'uppercase'],
    );
    assert.deepEqual(j.metric_relabel_configs.map((r) => r.action), ['drop', 'labeldrop']);
    // The rules work on a target's labels.
    const out = relabel(labelsFromObject({ __address__: '10.0.0.1:9100', env: 'prod', __meta_kubernetes_pod_label_app: 'db' }), j.relabel_configs);
    assert.ok(out);
    assert.equal(labelsToObject(out).host, '10.0.0.1');
    assert.equal(labelsToObject(out).app, 'db');
    assert.equal(labelsToObject(out).env_upper, 'PROD');
  });

  it('types the other jobs, with legacy auth keys', () => {
    assert.deepEqual(job(cfg, 'legacy-auth').basic_auth, { username: 'admin', username_file: '', password: '0123', password_file: '' });
    assert.equal(job(cfg, 'legacy-auth').scrape_timeout, 20_000);
    assert.deepEqual(job(cfg, 'bearer').authorization, { type: 'Bearer', credentials: 'abc', credentials_file: '' });
    assert.equal(job(cfg, 'bearer').oauth2, undefined);
  });

  it('types remote_write, remote_read and alerting', () => {
    const [primary, backup, aws] = cfg.remote_write;
    assert.equal(primary!.name, 'primary');
    assert.deepEqual(
      [primary!.remote_timeout, primary!.send_exemplars, primary!.send_native_histograms, primary!.round_robin_dns, primary!.protobuf_message],
      [15_000, true, true, true, 'io.prometheus.write.v2.Request'],
    );
    assert.deepEqual(primary!.headers, { 'X-Scope-OrgID': 'team-a' });
    assert.deepEqual(primary!.basic_auth, { username: 'writer', username_file: '', password: '', password_file: join(dir, 'secrets/password') });
    assert.deepEqual(primary!.queue_config, {
      capacity: 2500,
      max_shards: 200,
      min_shards: 2,
      max_samples_per_send: 500,
      batch_send_deadline: 10_000,
      min_backoff: 100,
      max_backoff: 10_000,
      retry_on_http_429: false,
      sample_age_limit: 3_600_000,
    });
    assert.deepEqual(primary!.metadata_config, { send: false, send_interval: 120_000, max_samples_per_send: 100 });
    assert.equal(primary!.write_relabel_configs[0]!.action, 'drop');
    assert.equal(primary!.enable_http2, true);
    assert.equal(backup!.oauth2!.client_id, 'argus');
    assert.equal(backup!.oauth2!.client_secret_file, join(dir, 'secrets/token'));
    assert.deepEqual(backup!.oauth2!.endpoint_params, { audience: 'metrics' });
    assert.equal(backup!.oauth2!.tls_config.insecure_skip_verify, true);
    assert.deepEqual(aws!.sigv4, { region: 'us-east-1' });

    const rr = cfg.remote_read[0]!;
    assert.deepEqual(
      [rr.name, rr.remote_timeout, rr.chunked_read_limit, rr.read_recent, rr.filter_external_labels],
      ['archive', 120_000, 1_000_000, true, false],
    );
    assert.deepEqual(rr.required_matchers, { job: 'archived' });

    const am = cfg.alerting.alertmanagers[0]!;
    assert.deepEqual([am.scheme, am.path_prefix, am.timeout, am.api_version, am.follow_redirects], ['https', '/am', 5_000, 'v2', false]);
    assert.deepEqual(am.static_configs[0]!.targets, ['am-1:9093', 'am-2:9093']);
    assert.equal(am.basic_auth!.password_file, join(dir, 'secrets/password'));
    assert.equal(cfg.alerting.alert_relabel_configs[0]!.action, 'labeldrop');
    assert.equal(am.alert_relabel_configs[0]!.action, 'drop');
  });

  it('resolves rule and scrape config file paths, keeps loose sections, lists what Argus ignores', () => {
    assert.deepEqual(cfg.rule_files, [join(dir, 'rules/*.yml'), '/abs/alerts.yml']);
    assert.deepEqual(cfg.scrape_config_files, [join(dir, 'jobs/*.yml')]);
    assert.deepEqual(cfg.storage, { tsdb: { out_of_order_time_window: '30m' }, exemplars: { max_exemplars: '1000' } });
    assert.deepEqual(cfg.tracing, { endpoint: 'tempo.internal:4317', client_type: 'grpc' });
    assert.deepEqual(cfg.otlp, { promote_resource_attributes: ['service.name'] });
    assert.deepEqual(cfg.unsupported, ['scrape_configs[0].kubernetes_sd_configs', 'remote_write[2].sigv4']);
  });

  it('is accepted by the real promtool (Prometheus 2.42) once keys newer than 2.42 are removed', (t) => {
    const strip = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(strip);
      if (v === null || typeof v !== 'object') return v;
      return Object.fromEntries(Object.entries(v).filter(([k]) => !KEYS_NEWER_THAN_2_42.has(k)).map(([k, x]) => [k, strip(x)]));
    };
    // Keys that 2.42 knows elsewhere but not in these sections, and an SD the Debian build leaves out.
    const old = strip(parseYaml(BROAD_CONFIG)) as Record<string, any>;
    for (const k of ['body_size_limit', 'sample_limit', 'target_limit', 'label_limit', 'label_name_length_limit', 'label_value_length_limit']) delete old.global[k];
    delete old.alerting.alertmanagers[0].alert_relabel_configs;
    delete old.scrape_configs[0].kubernetes_sd_configs;
    delete old.remote_read[0].chunked_read_limit;
    const text = stringifyYaml(old);
    const file = join(dir, 'prometheus-2.42.yml');
    writeFileSync(file, text);
    const res = promtoolCheck(file);
    if (res === null) {
      console.warn('SKIPPED: promtool is not installed (apt-get install prometheus)');
      t.skip('promtool is not installed');
      return;
    }
    assert.ok(res.ok, res.output);
    assert.doesNotThrow(() => parsePrometheusConfig(text, file, { baseDir: dir }));
  });
});

describe('scrape_config_files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-promcfg-files-'));
    mkdirSync(join(dir, 'jobs'));
    writeFileSync(join(dir, 'jobs/a.yml'), 'scrape_configs:\n  - job_name: from-file\n    file_sd_configs: [{files: [sd/*.json]}]\n');
    writeFileSync(join(dir, 'jobs/b.yml'), 'scrape_configs:\n  - job_name: second\n    scrape_interval: 5s\n');
    writeFileSync(join(dir, 'jobs/ignored.txt'), 'not yaml: [');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the jobs of matching files against the main global section', async () => {
    const cfg = parsePrometheusConfig('global: {scrape_interval: 20s}\nscrape_config_files: [jobs/*.yml]\nscrape_configs: [{job_name: main}]\n', 'p.yml', { baseDir: dir });
    const jobs = await loadScrapeConfigFiles(cfg);
    assert.deepEqual(
      jobs.map((j) => [j.job_name, j.scrape_interval]),
      [
        ['main', 20_000],
        ['from-file', 20_000],
        ['second', 5_000],
      ],
    );
    assert.deepEqual(jobs[1]!.file_sd_configs[0]!.files, [join(dir, 'jobs/sd/*.json')]);
  });

  it('rejects a job name used twice across files', async () => {
    const cfg = parsePrometheusConfig('scrape_config_files: [jobs/*.yml]\nscrape_configs: [{job_name: second}]\n', 'p.yml', { baseDir: dir });
    await assert.rejects(loadScrapeConfigFiles(cfg), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /b\.yml: scrape_configs\[0\]\.job_name: found multiple scrape configs with job name "second", first found in the main config file/);
      return true;
    });
  });
});

describe('loadPrometheusConfig', () => {
  it('fails with a ConfigError naming a missing file', async () => {
    await assert.rejects(loadPrometheusConfig('/nonexistent/prometheus.yml'), /cannot read config file \/nonexistent\/prometheus.yml/);
  });

  it('parses with agent-mode restrictions on request', () => {
    const text = 'rule_files: [a.yml]\nalerting: {alertmanagers: [{static_configs: [{targets: [a:1]}]}]}\nremote_read: [{url: "http://r/read"}]\n';
    assert.doesNotThrow(() => parse(text));
    assert.throws(
      () => parse(text, { agentMode: true }),
      /alerting: field alerting is not allowed in agent mode; rule_files: field rule_files is not allowed in agent mode; remote_read: field remote_read is not allowed in agent mode/,
    );
  });
});

