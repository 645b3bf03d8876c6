/**
 * The shape of `prometheus.yml` (Prometheus 2.42 through 3.x) as zod schemas. These check keys and
 * scalar types and fill the defaults Prometheus fills before its own validation; the rules that look
 * across sections (inheriting globals, unique names, auth exclusivity) live in prometheus.ts.
 *
 * Fields whose Go default is "unset, inherit from global" parse to 0, "" or undefined here.
 */
import { z } from 'zod';
import { relabelConfigSchema } from '../agent/relabel.js';
import { bool, bytes, duration, float, int, list, loose, map, obj, optional, section, text, uint } from './prometheus-yaml.js';

const relabelList = list(relabelConfigSchema);

// ---------------------------------------------------------------------------------------------------
// prometheus/common HTTP client configuration, inlined into scrape, remote write/read and
// Alertmanager sections.

export const tlsConfigSchema = obj({
  ca: text.default(''),
  ca_file: text.default(''),
  cert: text.default(''),
  cert_file: text.default(''),
  key: text.default(''),
  key_file: text.default(''),
  server_name: text.default(''),
  insecure_skip_verify: bool.default(false),
  min_version: text.default(''),
  max_version: text.default(''),
});

const proxyShape = {
  proxy_url: text.default(''),
  no_proxy: text.default(''),
  proxy_from_environment: bool.default(false),
  proxy_connect_header: map(list(text)).default({}),
};

const basicAuthSchema = obj({
  username: text.default(''),
  username_file: text.default(''),
  password: text.default(''),
  password_file: text.default(''),
});

const authorizationSchema = obj({
  type: text.default(''),
  credentials: text.default(''),
  credentials_file: text.default(''),
});

const oauth2Schema = obj({
  client_id: text.default(''),
  client_secret: text.default(''),
  client_secret_file: text.default(''),
  client_certificate_key_id: text.default(''),
  client_certificate_key: text.default(''),
  client_certificate_key_file: text.default(''),
  grant_type: text.default(''),
  signature_algorithm: text.default(''),
  iss: text.default(''),
  audience: text.default(''),
  claims: map(z.unknown()).default({}),
  scopes: list(text).default([]),
  token_url: text.default(''),
  endpoint_params: map(text).default({}),
  tls_config: section(tlsConfigSchema),
  ...proxyShape,
});

const httpHeaderSchema = obj({
  values: list(text).default([]),
  secrets: list(text).default([]),
  files: list(text).default([]),
});

function httpClientShape(enableHttp2: boolean) {
  return {
    basic_auth: optional(basicAuthSchema),
    authorization: optional(authorizationSchema),
    oauth2: optional(oauth2Schema),
    bearer_token: text.default(''),
    bearer_token_file: text.default(''),
    tls_config: section(tlsConfigSchema),
    follow_redirects: bool.default(true),
    enable_http2: bool.default(enableHttp2),
    http_headers: optional(map(httpHeaderSchema)),
    ...proxyShape,
  };
}

// ---------------------------------------------------------------------------------------------------
// Service discovery. Argus implements static and file discovery; the other mechanisms Prometheus
// knows are accepted so that existing files load, and reported as unsupported.

export const OTHER_SD_MECHANISMS = [
  'aws', 'azure', 'consul', 'digitalocean', 'docker', 'dockerswarm', 'dns', 'ec2', 'ecs', 'elasticache',
  'eureka', 'gce', 'hetzner', 'http', 'ionos', 'kubernetes', 'kuma', 'lightsail', 'linode', 'marathon',
  'msk', 'nerve', 'nomad', 'oci', 'openstack', 'outscale', 'ovhcloud', 'puppetdb', 'rds', 'scaleway',
  'serverset', 'stackit', 'triton', 'uyuni', 'vultr',
] as const;

export const staticConfigSchema = obj({
  targets: list(text).default([]),
  labels: map(text).default({}),
});

export const FILE_SD_DEFAULT_REFRESH_MS = 5 * 60_000;

export const fileSdConfigSchema = obj({
  files: list(text).default([]),
  refresh_interval: duration.default(FILE_SD_DEFAULT_REFRESH_MS),
});

const otherSdShape = Object.fromEntries(
  OTHER_SD_MECHANISMS.map((name) => [`${name}_sd_configs`, list(z.unknown()).optional()]),
) as Record<`${(typeof OTHER_SD_MECHANISMS)[number]}_sd_configs`, z.ZodOptional<ReturnType<typeof list<z.ZodUnknown>>>>;

const sdShape = {
  static_configs: list(staticConfigSchema).default([]),
  file_sd_configs: list(fileSdConfigSchema).default([]),
  ...otherSdShape,
};

// ---------------------------------------------------------------------------------------------------
// Sections

export const globalSchema = obj({
  scrape_interval: duration.default(0),
  scrape_timeout: duration.default(0),
  scrape_protocols: optional(list(text)),
  evaluation_interval: duration.default(0),
  rule_query_offset: duration.default(0),
  query_log_file: text.default(''),
  scrape_failure_log_file: text.default(''),
  external_labels: map(text).default({}),
  body_size_limit: bytes.default(0),
  sample_limit: uint.default(0),
  target_limit: uint.default(0),
  label_limit: uint.default(0),
  label_name_length_limit: uint.default(0),
  label_value_length_limit: uint.default(0),
  keep_dropped_targets: uint.default(0),
  metric_name_validation_scheme: text.default(''),
  metric_name_escaping_scheme: text.default(''),
  scrape_native_histograms: optional(bool),
  convert_classic_histograms_to_nhcb: bool.default(false),
  always_scrape_classic_histograms: bool.default(false),
  extra_scrape_metrics: optional(bool),
});

export const scrapeConfigSchema = obj({
  job_name: text.default(''),
  honor_labels: bool.default(false),
  honor_timestamps: bool.default(true),
  track_timestamps_staleness: bool.default(false),
  params: map(list(text)).default({}),
  scrape_interval: duration.default(0),
  scrape_timeout: duration.default(0),
  scrape_protocols: optional(list(text)),
  fallback_scrape_protocol: text.default(''),
  scrape_native_histograms: optional(bool),
  always_scrape_classic_histograms: optional(bool),
  convert_classic_histograms_to_nhcb: optional(bool),
  scrape_failure_log_file: text.default(''),
  metrics_path: text.default('/metrics'),
  scheme: text.default('http'),
  enable_compression: bool.default(true),
  body_size_limit: bytes.default(0),
  sample_limit: uint.default(0),
  target_limit: uint.default(0),
  label_limit: uint.default(0),
  label_name_length_limit: uint.default(0),
  label_value_length_limit: uint.default(0),
  native_histogram_bucket_limit: uint.default(0),
  native_histogram_min_bucket_factor: float.default(0),
  keep_dropped_targets: uint.default(0),
  metric_name_validation_scheme: text.default(''),
  metric_name_escaping_scheme: text.default(''),
  extra_scrape_metrics: optional(bool),
  ...httpClientShape(true),
  ...sdShape,
  relabel_configs: relabelList.default([]),
  metric_relabel_configs: relabelList.default([]),
});

export const queueConfigSchema = obj({
  capacity: int.default(10_000),
  max_shards: int.default(50),
  min_shards: int.default(1),
  max_samples_per_send: int.default(2_000),
  batch_send_deadline: duration.default(5_000),
  min_backoff: duration.default(30),
  max_backoff: duration.default(5_000),
  // Prometheus defaults to false; Argus receivers answer 429 only for what a retry can fix, and the
  // agent promises not to lose data, so retrying is the default here.
  retry_on_http_429: bool.default(true),
  sample_age_limit: duration.default(0),
  // Argus extension: the agent's disk budget for this endpoint's unsent WAL (absent: the agent's default).
  max_wal_bytes: optional(bytes),
});

export const metadataConfigSchema = obj({
  send: bool.default(true),
  send_interval: duration.default(60_000),
  max_samples_per_send: int.default(2_000),
});

export const remoteWriteSchema = obj({
  url: optional(text),
  remote_timeout: duration.default(30_000),
  headers: map(text).default({}),
  write_relabel_configs: relabelList.default([]),
  name: text.default(''),
  send_exemplars: bool.default(false),
  send_native_histograms: bool.default(false),
  round_robin_dns: bool.default(false),
  protobuf_message: text.default('prometheus.WriteRequest'),
  failed_request_logging: bool.default(false),
  ...httpClientShape(false),
  queue_config: section(queueConfigSchema),
  metadata_config: section(metadataConfigSchema),
  sigv4: loose,
  azuread: loose,
  google_iam: loose,
});

export const remoteReadSchema = obj({
  url: optional(text),
  remote_timeout: duration.default(60_000),
  chunked_read_limit: uint.default(50_000_000),
  headers: map(text).default({}),
  read_recent: bool.default(false),
  name: text.default(''),
  ...httpClientShape(true),
  required_matchers: map(text).default({}),
  filter_external_labels: bool.default(true),
});

export const alertmanagerSchema = obj({
  ...httpClientShape(true),
  sigv4: loose,
  scheme: text.default('http'),
  path_prefix: text.default(''),
  timeout: duration.default(10_000),
  api_version: text.default('v2'),
  relabel_configs: relabelList.default([]),
  alert_relabel_configs: relabelList.default([]),
  ...sdShape,
});

export const alertingSchema = obj({
  alert_relabel_configs: relabelList.default([]),
  alertmanagers: list(alertmanagerSchema).default([]),
});

export const storageSchema = obj({
  tsdb: loose,
  exemplars: loose,
});

export const prometheusFileSchema = obj({
  global: section(globalSchema),
  runtime: loose,
  alerting: section(alertingSchema),
  rule_files: list(text).default([]),
  scrape_config_files: list(text).default([]),
  scrape_configs: list(scrapeConfigSchema).default([]),
  storage: section(storageSchema),
  tracing: loose,
  remote_write: list(remoteWriteSchema).default([]),
  remote_read: list(remoteReadSchema).default([]),
  otlp: loose,
});

/** A file named by `scrape_config_files`: only scrape configs. */
export const scrapeConfigFileSchema = obj({
  scrape_configs: list(scrapeConfigSchema).default([]),
});

export type RawPrometheusFile = z.output<typeof prometheusFileSchema>;
export type RawGlobal = z.output<typeof globalSchema>;
export type RawScrapeConfig = z.output<typeof scrapeConfigSchema>;
export type RawRemoteWrite = z.output<typeof remoteWriteSchema>;
export type RawRemoteRead = z.output<typeof remoteReadSchema>;
export type RawAlertmanager = z.output<typeof alertmanagerSchema>;
export type RawTlsConfig = z.output<typeof tlsConfigSchema>;
export type RawStaticConfig = z.output<typeof staticConfigSchema>;
export type RawFileSdConfig = z.output<typeof fileSdConfigSchema>;
