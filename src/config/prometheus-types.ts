/**
 * The typed, defaulted Prometheus configuration that `parsePrometheusConfig` returns. Keys keep their
 * YAML spelling (snake_case) so that the object reads like the file and the Prometheus docs.
 * Durations are milliseconds, sizes bytes, label sets flat sorted `Labels`. Every object is frozen.
 */
import type { Labels } from '../model/labels.js';
import type { NameValidationScheme, RelabelConfig } from '../agent/relabel.js';

export type { NameValidationScheme, RelabelConfig };

/** Scrape protocols and the media type each one asks for in the `Accept` header. */
export const SCRAPE_PROTOCOL_MEDIA_TYPES = Object.freeze({
  PrometheusProto: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited',
  'PrometheusText0.0.4': 'text/plain;version=0.0.4',
  'PrometheusText1.0.0': 'text/plain;version=1.0.0',
  'OpenMetricsText0.0.1': 'application/openmetrics-text;version=0.0.1',
  'OpenMetricsText1.0.0': 'application/openmetrics-text;version=1.0.0',
});
export type ScrapeProtocol = keyof typeof SCRAPE_PROTOCOL_MEDIA_TYPES;

/** What a job asks for when neither it nor `global` lists protocols. */
export const DEFAULT_SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = Object.freeze([
  'OpenMetricsText1.0.0',
  'OpenMetricsText0.0.1',
  'PrometheusText1.0.0',
  'PrometheusText0.0.4',
]);
/** The default when the job scrapes native histograms. */
export const DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = Object.freeze([
  'PrometheusProto',
  ...DEFAULT_SCRAPE_PROTOCOLS,
]);

export type EscapingScheme = 'allow-utf-8' | 'underscores' | 'dots' | 'values';
export type TlsVersion = 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13';
export type ProtobufMessage = 'prometheus.WriteRequest' | 'io.prometheus.write.v2.Request';

export interface TlsConfig {
  readonly ca: string;
  readonly ca_file: string;
  readonly cert: string;
  readonly cert_file: string;
  readonly key: string;
  readonly key_file: string;
  readonly server_name: string;
  readonly insecure_skip_verify: boolean;
  readonly min_version: TlsVersion | '';
  readonly max_version: TlsVersion | '';
}

export interface BasicAuth {
  readonly username: string;
  readonly username_file: string;
  readonly password: string;
  readonly password_file: string;
}

/** `type` is never empty ("Bearer" by default). The legacy `bearer_token(_file)` keys end up here. */
export interface Authorization {
  readonly type: string;
  readonly credentials: string;
  readonly credentials_file: string;
}

export interface ProxyConfig {
  readonly proxy_url: string;
  readonly no_proxy: string;
  readonly proxy_from_environment: boolean;
  readonly proxy_connect_header: Readonly<Record<string, readonly string[]>>;
}

export interface OAuth2Config extends ProxyConfig {
  readonly client_id: string;
  readonly client_secret: string;
  readonly client_secret_file: string;
  readonly client_certificate_key_id: string;
  readonly client_certificate_key: string;
  readonly client_certificate_key_file: string;
  readonly grant_type: string;
  readonly signature_algorithm: string;
  readonly iss: string;
  readonly audience: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly scopes: readonly string[];
  readonly token_url: string;
  readonly endpoint_params: Readonly<Record<string, string>>;
  readonly tls_config: TlsConfig;
}

export interface HttpHeader {
  readonly values: readonly string[];
  readonly secrets: readonly string[];
  readonly files: readonly string[];
}

/** prometheus/common's HTTP client settings, inlined in scrape, remote write/read and Alertmanager configs. */
export interface HttpClientConfig extends ProxyConfig {
  readonly basic_auth?: BasicAuth;
  readonly authorization?: Authorization;
  readonly oauth2?: OAuth2Config;
  readonly tls_config: TlsConfig;
  readonly follow_redirects: boolean;
  readonly enable_http2: boolean;
  readonly http_headers?: Readonly<Record<string, HttpHeader>>;
}

export interface GlobalConfig {
  readonly scrape_interval: number;
  readonly scrape_timeout: number;
  readonly evaluation_interval: number;
  readonly rule_query_offset: number;
  /** After `$VAR` expansion; labels whose value is empty are absent. */
  readonly external_labels: Labels;
  readonly query_log_file: string;
  readonly scrape_failure_log_file: string;
  /** null when not set: each job then picks its default from `scrape_native_histograms`. */
  readonly scrape_protocols: readonly ScrapeProtocol[] | null;
  readonly body_size_limit: number;
  readonly sample_limit: number;
  readonly target_limit: number;
  readonly label_limit: number;
  readonly label_name_length_limit: number;
  readonly label_value_length_limit: number;
  readonly keep_dropped_targets: number;
  readonly metric_name_validation_scheme: NameValidationScheme;
  readonly metric_name_escaping_scheme: EscapingScheme;
  readonly scrape_native_histograms: boolean;
  readonly convert_classic_histograms_to_nhcb: boolean;
  readonly always_scrape_classic_histograms: boolean;
  readonly extra_scrape_metrics: boolean;
}

export interface StaticConfig {
  /** `host:port` addresses (the `__address__` of each target). */
  readonly targets: readonly string[];
  readonly labels: Labels;
}

export interface FileSdConfig {
  /** Paths or globs (`*` only in the last path element), resolved against the config file's directory. */
  readonly files: readonly string[];
  readonly refresh_interval: number;
}

/** Discovery mechanisms Prometheus knows and Argus does not implement, keyed `<name>_sd_configs`. */
export type OtherSdConfigs = Readonly<Record<string, readonly unknown[]>>;

export interface ScrapeConfig extends HttpClientConfig {
  readonly job_name: string;
  readonly honor_labels: boolean;
  readonly honor_timestamps: boolean;
  readonly track_timestamps_staleness: boolean;
  readonly params: Readonly<Record<string, readonly string[]>>;
  readonly scrape_interval: number;
  /** Never above scrape_interval; defaults to min(global scrape_timeout, scrape_interval). */
  readonly scrape_timeout: number;
  readonly scrape_protocols: readonly ScrapeProtocol[];
  readonly fallback_scrape_protocol: ScrapeProtocol | '';
  readonly scrape_native_histograms: boolean;
  readonly always_scrape_classic_histograms: boolean;
  readonly convert_classic_histograms_to_nhcb: boolean;
  readonly scrape_failure_log_file: string;
  readonly metrics_path: string;
  readonly scheme: 'http' | 'https';
  readonly enable_compression: boolean;
  /** Limits are 0 for "no limit"; unset ones inherit from `global`. */
  readonly body_size_limit: number;
  readonly sample_limit: number;
  readonly target_limit: number;
  readonly label_limit: number;
  readonly label_name_length_limit: number;
  readonly label_value_length_limit: number;
  readonly native_histogram_bucket_limit: number;
  readonly native_histogram_min_bucket_factor: number;
  readonly keep_dropped_targets: number;
  readonly metric_name_validation_scheme: NameValidationScheme;
  readonly metric_name_escaping_scheme: EscapingScheme;
  readonly extra_scrape_metrics: boolean;
  readonly static_configs: readonly StaticConfig[];
  readonly file_sd_configs: readonly FileSdConfig[];
  readonly other_sd_configs: OtherSdConfigs;
  readonly relabel_configs: readonly RelabelConfig[];
  readonly metric_relabel_configs: readonly RelabelConfig[];
}

export interface QueueConfig {
  readonly capacity: number;
  readonly max_shards: number;
  readonly min_shards: number;
  readonly max_samples_per_send: number;
  readonly batch_send_deadline: number;
  readonly min_backoff: number;
  readonly max_backoff: number;
  readonly retry_on_http_429: boolean;
  readonly sample_age_limit: number;
  /** Argus extension: the agent drops this endpoint's oldest unsent WAL past this many bytes (0 = unlimited). */
  readonly max_wal_bytes?: number;
}

export interface MetadataConfig {
  readonly send: boolean;
  readonly send_interval: number;
  readonly max_samples_per_send: number;
}

export interface RemoteWriteConfig extends HttpClientConfig {
  readonly url: string;
  /** Empty when not configured (Prometheus then names the queue by a hash of its config). */
  readonly name: string;
  readonly remote_timeout: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly write_relabel_configs: readonly RelabelConfig[];
  readonly send_exemplars: boolean;
  readonly send_native_histograms: boolean;
  readonly round_robin_dns: boolean;
  readonly protobuf_message: ProtobufMessage;
  readonly failed_request_logging: boolean;
  readonly queue_config: QueueConfig;
  readonly metadata_config: MetadataConfig;
  /** Cloud authentication Argus does not implement; kept as written. */
  readonly sigv4?: Readonly<Record<string, unknown>>;
  readonly azuread?: Readonly<Record<string, unknown>>;
  readonly google_iam?: Readonly<Record<string, unknown>>;
}

export interface RemoteReadConfig extends HttpClientConfig {
  readonly url: string;
  readonly name: string;
  readonly remote_timeout: number;
  readonly chunked_read_limit: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly read_recent: boolean;
  readonly required_matchers: Readonly<Record<string, string>>;
  readonly filter_external_labels: boolean;
}

export interface AlertmanagerConfig extends HttpClientConfig {
  readonly scheme: 'http' | 'https';
  readonly path_prefix: string;
  readonly timeout: number;
  readonly api_version: 'v2';
  readonly static_configs: readonly StaticConfig[];
  readonly file_sd_configs: readonly FileSdConfig[];
  readonly other_sd_configs: OtherSdConfigs;
  readonly relabel_configs: readonly RelabelConfig[];
  readonly alert_relabel_configs: readonly RelabelConfig[];
  readonly sigv4?: Readonly<Record<string, unknown>>;
}

export interface AlertingConfig {
  readonly alert_relabel_configs: readonly RelabelConfig[];
  readonly alertmanagers: readonly AlertmanagerConfig[];
}

type Loose = Readonly<Record<string, unknown>>;

export interface PrometheusConfig {
  readonly global: GlobalConfig;
  readonly scrape_configs: readonly ScrapeConfig[];
  /** Globs of files holding more scrape configs; see `loadScrapeConfigFiles`. */
  readonly scrape_config_files: readonly string[];
  readonly rule_files: readonly string[];
  readonly alerting: AlertingConfig;
  readonly remote_write: readonly RemoteWriteConfig[];
  readonly remote_read: readonly RemoteReadConfig[];
  /** Accepted as written and not interpreted by Argus. */
  readonly storage: { readonly tsdb?: Loose; readonly exemplars?: Loose };
  readonly tracing?: Loose;
  readonly otlp?: Loose;
  readonly runtime?: Loose;
  /** Key paths of settings Prometheus accepts that Argus ignores (e.g. `scrape_configs[0].kubernetes_sd_configs`). */
  readonly unsupported: readonly string[];
}
