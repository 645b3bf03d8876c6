// Invalid Prometheus configurations: each error is a ConfigError naming the key path. Where the rule
// is as old as Prometheus 2.42, the real promtool (Debian package) is asked to agree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { parsePrometheusConfig } from '../../src/config/prometheus.js';

interface Bad {
  name: string;
  yaml: string;
  /** The whole message after the "test.yml: " prefix, or a pattern. */
  error: string | RegExp;
  /** promtool 2.42 rejects it too (checked when promtool is installed). */
  promtool?: boolean;
}

const TARGETS = 'static_configs: [{targets: ["localhost:9090"]}]';

const bad: Bad[] = [
  // structure
  { name: 'unknown top-level key', yaml: 'scrape_config: []\n', error: 'unknown key "scrape_config" (did you mean scrape_configs?)', promtool: true },
  {
    name: 'unknown key in a job, with its path',
    yaml: `scrape_configs:\n  - {job_name: a, ${TARGETS}}\n  - {job_name: b, scrape_intervall: 5s}\n`,
    error: 'scrape_configs[1]: unknown key "scrape_intervall" (did you mean scrape_interval?)',
    promtool: true,
  },
  { name: 'unknown key in queue_config', yaml: 'remote_write: [{url: "http://a/w", queue_config: {shards: 2}}]\n', error: /^remote_write\[0\]\.queue_config: unknown key "shards"/, promtool: true },
  { name: 'unknown key in a relabel rule', yaml: 'scrape_configs: [{job_name: a, relabel_configs: [{target: x}]}]\n', error: /^scrape_configs\[0\]\.relabel_configs\[0\]: unknown key "target"/, promtool: true },
  { name: 'null job', yaml: 'scrape_configs: [null]\n', error: 'scrape_configs[0]: empty or null section', promtool: true },
  { name: 'a job that is a string', yaml: 'scrape_configs: [foo]\n', error: 'scrape_configs[0]: expected a mapping of keys, got text', promtool: true },
  { name: 'targets not a list', yaml: 'scrape_configs: [{job_name: a, static_configs: [{targets: "a:1"}]}]\n', error: /^scrape_configs\[0\]\.static_configs\[0\]\.targets: .*expected array/, promtool: true },
  { name: 'a list at the top level', yaml: '- a\n', error: 'the top level must be a mapping of sections', promtool: true },
  { name: 'YAML syntax', yaml: 'global: [1\n', error: /^invalid YAML: .*line 2/, promtool: true },
  { name: 'duplicate keys', yaml: 'global: {}\nglobal: {}\n', error: /^invalid YAML: Map keys must be unique/, promtool: true },
  // scalars
  { name: 'duration without unit', yaml: 'global: {scrape_interval: 15}\n', error: 'global.scrape_interval: not a valid duration string: "15"', promtool: true },
  { name: 'negative duration', yaml: 'global: {evaluation_interval: -1h}\n', error: 'global.evaluation_interval: not a valid duration string: "-1h"', promtool: true },
  { name: 'not a boolean', yaml: `scrape_configs: [{job_name: a, honor_labels: maybe, ${TARGETS}}]\n`, error: 'scrape_configs[0].honor_labels: "maybe" is not a boolean', promtool: true },
  { name: 'negative limit', yaml: `scrape_configs: [{job_name: a, sample_limit: -1, ${TARGETS}}]\n`, error: 'scrape_configs[0].sample_limit: "-1" is not a non-negative integer', promtool: true },
  { name: 'bad byte size', yaml: `scrape_configs: [{job_name: a, body_size_limit: 10XB, ${TARGETS}}]\n`, error: /^scrape_configs\[0\]\.body_size_limit: "10XB" is not a byte size/, promtool: true },
  // scrape configs
  { name: 'missing job_name', yaml: `scrape_configs: [{${TARGETS}}]\n`, error: 'scrape_configs[0].job_name: job_name is empty', promtool: true },
  {
    name: 'duplicate job_name',
    yaml: `scrape_configs:\n  - {job_name: a, ${TARGETS}}\n  - {job_name: a, ${TARGETS}}\n`,
    error: 'scrape_configs[1].job_name: found multiple scrape configs with job name "a"',
    promtool: true,
  },
  {
    name: 'a URL as a target',
    yaml: `scrape_configs:\n  - {job_name: a, ${TARGETS}}\n  - job_name: b\n    static_configs:\n      - targets: ['http://host:80/metrics']\n`,
    error: 'scrape_configs[1].static_configs[0].targets[0]: "http://host:80/metrics" is not a valid hostname (targets are host:port; set scheme and metrics_path on the job)',
    promtool: true,
  },
  {
    name: 'scrape_timeout above scrape_interval',
    yaml: `scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s, ${TARGETS}}]\n`,
    error: 'scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval for scrape config with job name "a" (10000ms > 5000ms)',
    promtool: true,
  },
  { name: 'global scrape_timeout above scrape_interval', yaml: 'global: {scrape_interval: 5s, scrape_timeout: 6s}\n', error: /^global\.scrape_timeout: global scrape timeout greater than scrape interval/, promtool: true },
  { name: 'scheme', yaml: `scrape_configs: [{job_name: a, scheme: ftp, ${TARGETS}}]\n`, error: 'scrape_configs[0].scheme: scheme must be "http" or "https", got "ftp"' },
  { name: 'invalid static label name (legacy scheme)', yaml: `global: {metric_name_validation_scheme: legacy, external_labels: {"a.b": x}}\n`, error: 'global.external_labels["a.b"]: "a.b" is not a valid label name', promtool: true },
  { name: 'unknown validation scheme', yaml: 'global: {metric_name_validation_scheme: ascii}\n', error: 'global.metric_name_validation_scheme: unrecognized ValidationScheme: "ascii"' },
  {
    name: 'allow-utf-8 escaping with legacy validation',
    yaml: `scrape_configs: [{job_name: a, metric_name_validation_scheme: legacy, metric_name_escaping_scheme: allow-utf-8, ${TARGETS}}]\n`,
    error: 'scrape_configs[0].metric_name_escaping_scheme: utf8 metric names requested but validation scheme is not set to UTF8',
  },
  { name: 'unknown scrape protocol', yaml: 'global: {scrape_protocols: [prometheusproto]}\n', error: /^global\.scrape_protocols\[0\]: unknown scrape protocol prometheusproto, supported: \[OpenMetricsText0\.0\.1 /, },
  { name: 'duplicate scrape protocol', yaml: 'global: {scrape_protocols: [PrometheusProto, PrometheusProto]}\n', error: /^global\.scrape_protocols\[1\]: duplicated protocol in scrape_protocols/ },
  { name: 'empty scrape protocols', yaml: 'global: {scrape_protocols: []}\n', error: 'global.scrape_protocols: scrape_protocols cannot be empty' },
  { name: 'file_sd without files', yaml: 'scrape_configs: [{job_name: a, file_sd_configs: [{refresh_interval: 1m}]}]\n', error: 'scrape_configs[0].file_sd_configs[0].files: file service discovery config must contain at least one path name', promtool: true },
  { name: 'file_sd file name', yaml: 'scrape_configs: [{job_name: a, file_sd_configs: [{files: [targets.txt]}]}]\n', error: 'scrape_configs[0].file_sd_configs[0].files[0]: path name "targets.txt" is not valid for file discovery', promtool: true },
  { name: 'rule file glob in a directory', yaml: 'rule_files: ["rules/*/x.yml"]\n', error: 'rule_files[0]: invalid rule file path "rules/*/x.yml"', promtool: true },
  // relabeling
  { name: 'hashmod without modulus', yaml: `scrape_configs: [{job_name: a, relabel_configs: [{action: hashmod, target_label: x}]}]\n`, error: 'scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus', promtool: true },
  { name: 'bad regex', yaml: `scrape_configs: [{job_name: a, metric_relabel_configs: [{regex: "(", action: drop}], ${TARGETS}}]\n`, error: /^scrape_configs\[0\]\.metric_relabel_configs\[0\]\.regex: error parsing regexp/, promtool: true },
  { name: 'unknown relabel action', yaml: 'remote_write: [{url: "http://a/w", write_relabel_configs: [{action: delete}]}]\n', error: 'remote_write[0].write_relabel_configs[0].action: unknown relabel action "delete"', promtool: true },
  {
    name: 'legacy target label in a legacy job',
    yaml: `scrape_configs: [{job_name: a, metric_name_validation_scheme: legacy, relabel_configs: [{source_labels: [x], target_label: "a.b"}]}]\n`,
    error: `scrape_configs[0].relabel_configs[0]: "a.b" is invalid 'target_label' for replace action`,
  },
  { name: 'labelkeep with source_labels', yaml: 'alerting: {alert_relabel_configs: [{action: labelkeep, source_labels: [a]}]}\n', error: `alerting.alert_relabel_configs[0]: labelkeep action requires only 'regex', and no other fields`, promtool: true },
  // HTTP client
  {
    name: 'bearer_token and bearer_token_file',
    yaml: `scrape_configs: [{job_name: a, bearer_token: x, bearer_token_file: y, ${TARGETS}}]\n`,
    error: 'scrape_configs[0]: at most one of bearer_token & bearer_token_file must be configured',
    promtool: true,
  },
  {
    name: 'basic_auth and bearer_token',
    yaml: `scrape_configs: [{job_name: a, basic_auth: {username: u}, bearer_token: x, ${TARGETS}}]\n`,
    error: 'scrape_configs[0]: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured',
    promtool: true,
  },
  {
    name: 'password and password_file',
    yaml: `scrape_configs: [{job_name: a, basic_auth: {username: u, password: p, password_file: f}, ${TARGETS}}]\n`,
    error: 'scrape_configs[0].basic_auth: at most one of basic_auth password & password_file must be configured',
    promtool: true,
  },
  {
    name: 'authorization type basic',
    yaml: `scrape_configs: [{job_name: a, authorization: {type: Basic, credentials: x}, ${TARGETS}}]\n`,
    error: 'scrape_configs[0].authorization.type: authorization type cannot be set to "basic", use "basic_auth" instead',
    promtool: true,
  },
  {
    name: 'authorization and basic_auth',
    yaml: `scrape_configs: [{job_name: a, authorization: {credentials: x}, basic_auth: {username: u}, ${TARGETS}}]\n`,
    error: 'scrape_configs[0]: at most one of basic_auth, oauth2 & authorization must be configured',
    promtool: true,
  },
  { name: 'oauth2 without client_id', yaml: `scrape_configs: [{job_name: a, oauth2: {token_url: "http://t"}, ${TARGETS}}]\n`, error: 'scrape_configs[0].oauth2: oauth2 client_id must be configured', promtool: true },
  {
    name: 'client cert without key',
    yaml: `scrape_configs: [{job_name: a, tls_config: {cert_file: c.pem}, ${TARGETS}}]\n`,
    error: 'scrape_configs[0].tls_config: exactly one of key or key_file must be configured when a client certificate is configured',
    promtool: true,
  },
  { name: 'TLS version', yaml: `scrape_configs: [{job_name: a, tls_config: {min_version: TLS14}, ${TARGETS}}]\n`, error: 'scrape_configs[0].tls_config.min_version: unknown TLS version: TLS14', promtool: true },
  {
    name: 'proxy_connect_header without proxy',
    yaml: `scrape_configs: [{job_name: a, proxy_connect_header: {X: [y]}, ${TARGETS}}]\n`,
    error: 'scrape_configs[0]: if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured',
    promtool: true,
  },
  { name: 'reserved http_headers', yaml: `scrape_configs: [{job_name: a, http_headers: {user-agent: {values: [x]}}, ${TARGETS}}]\n`, error: 'scrape_configs[0].http_headers["user-agent"]: setting header "User-Agent" is not allowed' },
  // remote write / read
  { name: 'remote_write without url', yaml: 'remote_write: [{name: a}]\n', error: 'remote_write[0].url: url for remote_write is empty', promtool: true },
  { name: 'remote_write url not http', yaml: 'remote_write: [{url: "thanos-receive:19291"}]\n', error: 'remote_write[0].url: "thanos-receive:19291" is not a valid http or https URL' },
  { name: 'duplicate remote_write names', yaml: 'remote_write: [{url: "http://a/w", name: q}, {url: "http://b/w", name: q}]\n', error: 'remote_write[1].name: found multiple remote write configs with name "q"', promtool: true },
  {
    name: 'reserved remote_write header',
    yaml: 'remote_write: [{url: "http://a/w", headers: {X-Prometheus-Remote-Write-Version: "2"}}]\n',
    error: 'remote_write[0].headers["X-Prometheus-Remote-Write-Version"]: X-Prometheus-Remote-Write-Version is a reserved header. It must not be changed',
    promtool: true,
  },
  {
    name: 'authorization header in remote_write',
    yaml: 'remote_write: [{url: "http://a/w", headers: {Authorization: x}}]\n',
    error: /^remote_write\[0\]\.headers\.Authorization: authorization header must be changed via the basic_auth, authorization, oauth2/,
    promtool: true,
  },
  {
    name: 'protobuf_message',
    yaml: 'remote_write: [{url: "http://a/w", protobuf_message: io.prometheus.writet.v2.Request}]\n',
    error: 'remote_write[0].protobuf_message: invalid protobuf_message value: unknown type for remote write protobuf message io.prometheus.writet.v2.Request, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request',
  },
  { name: 'max_shards 0', yaml: 'remote_write: [{url: "http://a/w", queue_config: {max_shards: 0, min_shards: 0}}]\n', error: /^remote_write\[0\]\.queue_config\.max_shards: remote write queue max_shards must be positive; remote_write\[0\]\.queue_config\.min_shards: remote write queue min_shards must be positive/ },
  { name: 'min_shards above max_shards', yaml: 'remote_write: [{url: "http://a/w", queue_config: {max_shards: 2, min_shards: 3}}]\n', error: 'remote_write[0].queue_config.min_shards: remote write queue min_shards must not be greater than max_shards' },
  { name: 'capacity 0', yaml: 'remote_write: [{url: "http://a/w", queue_config: {capacity: 0}}]\n', error: 'remote_write[0].queue_config.capacity: remote write queue capacity must be positive' },
  { name: 'max_backoff below min_backoff', yaml: 'remote_write: [{url: "http://a/w", queue_config: {min_backoff: 1s, max_backoff: 100ms}}]\n', error: 'remote_write[0].queue_config.max_backoff: remote write queue max_backoff must not be less than min_backoff' },
  {
    name: 'two remote_write auth methods',
    yaml: 'remote_write: [{url: "http://a/w", basic_auth: {username: u}, sigv4: {region: x}}]\n',
    error: 'remote_write[0]: at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [basic_auth sigv4]',
    promtool: true,
  },
  { name: 'remote_read without url', yaml: 'remote_read: [{read_recent: true}]\n', error: 'remote_read[0].url: url for remote_read is empty', promtool: true },
  // alerting
  { name: 'Alertmanager API v1', yaml: 'alerting: {alertmanagers: [{api_version: v1}]}\n', error: 'alerting.alertmanagers[0].api_version: expected Alertmanager api version to be one of [v2] but got v1' },
  { name: 'Alertmanager target with a path', yaml: 'alerting: {alertmanagers: [{static_configs: [{targets: ["am:9093/api"]}]}]}\n', error: 'alerting.alertmanagers[0].static_configs[0].targets[0]: "am:9093/api" is not a valid hostname', promtool: true },
];

describe('invalid Prometheus configurations', () => {
  for (const b of bad) {
    it(b.name, () => {
      assert.throws(
        () => parsePrometheusConfig(b.yaml, 'test.yml', { env: {} }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, `a ConfigError, got ${err}`);
          assert.ok(err.message.startsWith('test.yml: '), err.message);
          const msg = err.message.slice('test.yml: '.length);
          if (typeof b.error === 'string') assert.equal(msg, b.error);
          else assert.match(msg, b.error);
          return true;
        },
      );
    });
  }

  it('reports several problems at once, at most ten', () => {
    const jobs = Array.from({ length: 12 }, () => `  - {scheme: ftp, ${TARGETS}}`).join('\n');
    assert.throws(() => parsePrometheusConfig(`scrape_configs:\n${jobs}\n`, 'many.yml'), (err: Error) => {
      assert.match(err.message, /^many\.yml: scrape_configs\[0\]\.job_name: job_name is empty; scrape_configs\[0\]\.scheme: /);
      assert.match(err.message, /; and \d+ more$/);
      return true;
    });
  });

  it('accepts what Prometheus accepts but a stricter reading might not', () => {
    // A target without a port, and targets with paths when relabeling may rewrite them.
    assert.doesNotThrow(() => parsePrometheusConfig('scrape_configs: [{job_name: a, static_configs: [{targets: [localhost]}]}]\n'));
    assert.doesNotThrow(() =>
      parsePrometheusConfig(
        'scrape_configs: [{job_name: a, static_configs: [{targets: ["http://x/y"]}], relabel_configs: [{source_labels: [__address__], target_label: __param_target}]}]\n',
      ),
    );
    // UTF-8 label names (Prometheus 3).
    assert.doesNotThrow(() => parsePrometheusConfig('global: {external_labels: {"k8s.cluster": a}}\n'));
  });
});

describe('promtool (Prometheus 2.42) agrees on the shared rules', () => {
  let dir = '';
  let promtool = true;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-promtool-'));
    promtool = !spawnSync('promtool', ['--version']).error;
    if (!promtool) console.warn('SKIPPED: promtool is not installed (apt-get install prometheus)');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  bad.forEach((b, i) => {
    if (!b.promtool) return;
    it(b.name, (t) => {
      if (!promtool) return t.skip('promtool is not installed');
      const file = join(dir, `bad-${i}.yml`);
      writeFileSync(file, b.yaml);
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8', timeout: 20_000 });
      assert.notEqual(r.status, 0, `promtool accepted:\n${b.yaml}\n${r.stdout}${r.stderr}`);
    });
  });
});
