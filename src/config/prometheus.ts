/**
 * Loads a Prometheus configuration file (`prometheus.yml`, 2.42 through 3.x) into the typed,
 * defaulted `PrometheusConfig`, validating it as Prometheus does. Errors are `ConfigError`s whose
 * message names the key path of each problem, e.g.
 * `prometheus.yml: scrape_configs[1].static_configs[0].targets[0]: "http://a:80" is not a valid hostname`.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { dirname, isAbsolute, join } from 'node:path';
import { labelsFromObject } from '../model/labels.js';
import { isValidLabelName, isValidLabelValue, withNameValidationScheme, type RelabelConfig } from '../agent/relabel.js';
import { ConfigError } from './load.js';
import { expandEnv, globFiles } from './prometheus-files.js';
import { formatPath, yamlToPlain, type KeyPath, type PathIssue } from './prometheus-yaml.js';
import {
  OTHER_SD_MECHANISMS,
  prometheusFileSchema,
  scrapeConfigFileSchema,
  type RawAlertmanager,
  type RawFileSdConfig,
  type RawGlobal,
  type RawPrometheusFile,
  type RawRemoteRead,
  type RawRemoteWrite,
  type RawScrapeConfig,
  type RawStaticConfig,
  type RawTlsConfig,
} from './prometheus-schema.js';
import {
  DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS,
  DEFAULT_SCRAPE_PROTOCOLS,
  SCRAPE_PROTOCOL_MEDIA_TYPES,
  type AlertmanagerConfig,
  type EscapingScheme,
  type FileSdConfig,
  type GlobalConfig,
  type HttpClientConfig,
  type HttpHeader,
  type NameValidationScheme,
  type PrometheusConfig,
  type ProtobufMessage,
  type RemoteReadConfig,
  type RemoteWriteConfig,
  type ScrapeConfig,
  type ScrapeProtocol,
  type StaticConfig,
  type TlsConfig,
  type TlsVersion,
} from './prometheus-types.js';

export * from './prometheus-types.js';
export { expandEnv, globFiles } from './prometheus-files.js';

export interface PrometheusConfigOptions {
  /** Directory that relative file paths are resolved against (loadPrometheusConfig: the file's). */
  baseDir?: string;
  /**
   * Expand `$VAR`/`${VAR}` in external label values, as Prometheus 3 always does (2.x only with
   * `--enable-feature=expand-external-labels`). Nothing else in the file is expanded. Default true.
   */
  expandExternalLabels?: boolean;
  /** Environment for that expansion (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reject what Prometheus rejects in agent mode: alerting, rule_files, remote_read. */
  agentMode?: boolean;
}

/** Parses the text of a Prometheus configuration file; throws ConfigError. */
export function parsePrometheusConfig(text: string, source = 'prometheus.yml', opts: PrometheusConfigOptions = {}): PrometheusConfig {
  const raw = parseRaw(text, source, prometheusFileSchema);
  const ctx = new Ctx(opts.baseDir);
  const cfg = finishConfig(raw, ctx, opts);
  ctx.throwIfAny(source);
  return deepFreeze(cfg);
}

/** Reads and parses a Prometheus configuration file; relative paths in it are resolved against its directory. */
export async function loadPrometheusConfig(path: string, opts: PrometheusConfigOptions = {}): Promise<PrometheusConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parsePrometheusConfig(text, path, { baseDir: dirname(path), ...opts });
}

/**
 * All scrape configs: the file's own followed by those in the files `scrape_config_files` names
 * (read now, as Prometheus does at every reload). Job names must be unique across all of them.
 */
export async function loadScrapeConfigFiles(cfg: PrometheusConfig): Promise<ScrapeConfig[]> {
  const out = [...cfg.scrape_configs];
  const seen = new Map(cfg.scrape_configs.map((s) => [s.job_name, 'the main config file']));
  for (const pattern of cfg.scrape_config_files) {
    for (const file of await globFiles(pattern)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new ConfigError(`cannot read scrape config file ${file}: ${(err as Error).message}`);
      }
      const raw = parseRaw(text, file, scrapeConfigFileSchema);
      const ctx = new Ctx(dirname(file));
      const jobs = raw.scrape_configs.map((s, i) => finishScrape(s, cfg.global, ['scrape_configs', i], ctx));
      jobs.forEach((job, i) => {
        const first = seen.get(job.job_name);
        if (first !== undefined) {
          ctx.issue(['scrape_configs', i, 'job_name'], `found multiple scrape configs with job name ${JSON.stringify(job.job_name)}, first found in ${first}`);
        }
        seen.set(job.job_name, file);
      });
      ctx.throwIfAny(file);
      out.push(...jobs.map(deepFreeze));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

function parseRaw<T>(text: string, source: string, schema: z.ZodType<T>): T {
  let plain: unknown;
  try {
    plain = yamlToPlain(text);
  } catch (err) {
    throw new ConfigError(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  if (plain === null) plain = {};
  if (typeof plain !== 'object' || Array.isArray(plain)) throw new ConfigError(`${source}: the top level must be a mapping of sections`);
  const res = schema.safeParse(plain);
  if (!res.success) throw new ConfigError(formatIssues(source, res.error.issues));
  return res.data;
}

const MAX_REPORTED = 10;

function formatIssues(source: string, issues: readonly PathIssue[]): string {
  const shown = issues.slice(0, MAX_REPORTED).map((i) => (i.path.length > 0 ? `${formatPath(i.path)}: ${i.message}` : i.message));
  const more = issues.length > MAX_REPORTED ? `; and ${issues.length - MAX_REPORTED} more` : '';
  return `${source}: ${shown.join('; ')}${more}`;
}

/** Collects problems with their key paths, resolves relative file paths, records unsupported keys. */
class Ctx {
  readonly issues: PathIssue[] = [];
  readonly unsupported: string[] = [];
  constructor(readonly baseDir: string | undefined) {}

  issue(path: KeyPath, message: string): void {
    this.issues.push({ path, message });
  }
  file(p: string): string {
    return this.baseDir === undefined || p === '' || isAbsolute(p) ? p : join(this.baseDir, p);
  }
  throwIfAny(source: string): void {
    if (this.issues.length > 0) throw new ConfigError(formatIssues(source, this.issues));
  }
}

const q = JSON.stringify;

// ---------------------------------------------------------------------------------------------------
// Top level

const RULE_PATH = /^[^*]*(\*[^/]*)?$/;

function finishConfig(raw: RawPrometheusFile, ctx: Ctx, opts: PrometheusConfigOptions): PrometheusConfig {
  const global = finishGlobal(raw.global, ctx, opts);
  const scheme = global.metric_name_validation_scheme;

  const ruleFiles = raw.rule_files.map((f, i) => {
    if (!RULE_PATH.test(f)) ctx.issue(['rule_files', i], `invalid rule file path ${q(f)}`);
    return ctx.file(f);
  });
  const scrapeFiles = raw.scrape_config_files.map((f, i) => {
    if (!RULE_PATH.test(f)) ctx.issue(['scrape_config_files', i], `invalid scrape config file path ${q(f)}`);
    return ctx.file(f);
  });

  const jobs = new Set<string>();
  const scrapeConfigs = raw.scrape_configs.map((s, i) => {
    const job = finishScrape(s, global, ['scrape_configs', i], ctx);
    if (jobs.has(job.job_name)) ctx.issue(['scrape_configs', i, 'job_name'], `found multiple scrape configs with job name ${q(job.job_name)}`);
    jobs.add(job.job_name);
    return job;
  });

  const alerting = {
    alert_relabel_configs: relabels(raw.alerting.alert_relabel_configs, scheme, ['alerting', 'alert_relabel_configs'], ctx),
    alertmanagers: raw.alerting.alertmanagers.map((a, i) => finishAlertmanager(a, scheme, ['alerting', 'alertmanagers', i], ctx)),
  };

  const rwNames = new Set<string>();
  const remoteWrite = raw.remote_write.map((rw, i) => {
    const out = finishRemoteWrite(rw, scheme, ['remote_write', i], ctx);
    if (out.name !== '' && rwNames.has(out.name)) ctx.issue(['remote_write', i, 'name'], `found multiple remote write configs with name ${q(out.name)}`);
    rwNames.add(out.name);
    return out;
  });
  const rrNames = new Set<string>();
  const remoteRead = raw.remote_read.map((rr, i) => {
    const out = finishRemoteRead(rr, ['remote_read', i], ctx);
    if (out.name !== '' && rrNames.has(out.name)) ctx.issue(['remote_read', i, 'name'], `found multiple remote read configs with name ${q(out.name)}`);
    rrNames.add(out.name);
    return out;
  });

  if (opts.agentMode) {
    if (alerting.alertmanagers.length > 0 || alerting.alert_relabel_configs.length > 0) ctx.issue(['alerting'], 'field alerting is not allowed in agent mode');
    if (ruleFiles.length > 0) ctx.issue(['rule_files'], 'field rule_files is not allowed in agent mode');
    if (remoteRead.length > 0) ctx.issue(['remote_read'], 'field remote_read is not allowed in agent mode');
  }

  return {
    global,
    scrape_configs: scrapeConfigs,
    scrape_config_files: scrapeFiles,
    rule_files: ruleFiles,
    alerting,
    remote_write: remoteWrite,
    remote_read: remoteRead,
    storage: raw.storage,
    ...(raw.tracing !== undefined ? { tracing: raw.tracing } : {}),
    ...(raw.otlp !== undefined ? { otlp: raw.otlp } : {}),
    ...(raw.runtime !== undefined ? { runtime: raw.runtime } : {}),
    unsupported: ctx.unsupported,
  };
}

// ---------------------------------------------------------------------------------------------------
// global

const DEFAULT_SCRAPE_INTERVAL = 60_000;
const DEFAULT_SCRAPE_TIMEOUT = 10_000;
const DEFAULT_EVALUATION_INTERVAL = 60_000;
const ESCAPING_SCHEMES: readonly string[] = ['allow-utf-8', 'underscores', 'dots', 'values'];

function finishGlobal(g: RawGlobal, ctx: Ctx, opts: PrometheusConfigOptions): GlobalConfig {
  const path = ['global'];
  let scheme: NameValidationScheme = 'utf8';
  if (g.metric_name_validation_scheme === 'legacy') scheme = 'legacy';
  else if (g.metric_name_validation_scheme !== '' && g.metric_name_validation_scheme !== 'utf8') {
    ctx.issue([...path, 'metric_name_validation_scheme'], `unrecognized ValidationScheme: ${q(g.metric_name_validation_scheme)}`);
  }
  let escaping = g.metric_name_escaping_scheme;
  if (escaping === '') escaping = scheme === 'legacy' ? 'underscores' : 'allow-utf-8';
  else if (!ESCAPING_SCHEMES.includes(escaping)) ctx.issue([...path, 'metric_name_escaping_scheme'], unknownEscaping('global', escaping));

  const expand = opts.expandExternalLabels ?? true;
  const env = opts.env ?? process.env;
  const external: Record<string, string> = {};
  for (const [name, value] of Object.entries(g.external_labels)) {
    const at = [...path, 'external_labels', name];
    if (!isValidLabelName(name, scheme)) ctx.issue(at, `${q(name)} is not a valid label name`);
    else if (!isValidLabelValue(value)) ctx.issue(at, `${q(value)} is not a valid label value`);
    external[name] = expand ? expandEnv(value, env) : value;
  }

  const interval = g.scrape_interval || DEFAULT_SCRAPE_INTERVAL;
  if (g.scrape_timeout > interval) {
    ctx.issue([...path, 'scrape_timeout'], `global scrape timeout greater than scrape interval (${g.scrape_timeout}ms > ${interval}ms)`);
  }
  const protocols = g.scrape_protocols === undefined ? null : scrapeProtocols(g.scrape_protocols, [...path, 'scrape_protocols'], ctx);
  return {
    scrape_interval: interval,
    scrape_timeout: g.scrape_timeout || Math.min(DEFAULT_SCRAPE_TIMEOUT, interval),
    evaluation_interval: g.evaluation_interval || DEFAULT_EVALUATION_INTERVAL,
    rule_query_offset: g.rule_query_offset,
    external_labels: labelsFromObject(external),
    query_log_file: ctx.file(g.query_log_file),
    scrape_failure_log_file: ctx.file(g.scrape_failure_log_file),
    scrape_protocols: protocols,
    body_size_limit: g.body_size_limit,
    sample_limit: g.sample_limit,
    target_limit: g.target_limit,
    label_limit: g.label_limit,
    label_name_length_limit: g.label_name_length_limit,
    label_value_length_limit: g.label_value_length_limit,
    keep_dropped_targets: g.keep_dropped_targets,
    metric_name_validation_scheme: scheme,
    metric_name_escaping_scheme: escaping as EscapingScheme,
    scrape_native_histograms: g.scrape_native_histograms ?? false,
    convert_classic_histograms_to_nhcb: g.convert_classic_histograms_to_nhcb,
    always_scrape_classic_histograms: g.always_scrape_classic_histograms,
    extra_scrape_metrics: g.extra_scrape_metrics ?? false,
  };
}

function unknownEscaping(what: string, got: string): string {
  return `unknown ${what} name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got ${q(got)}`;
}

const PROTOCOLS = Object.keys(SCRAPE_PROTOCOL_MEDIA_TYPES) as ScrapeProtocol[];

function isProtocol(p: string): p is ScrapeProtocol {
  return (PROTOCOLS as string[]).includes(p);
}

function unknownProtocol(p: string): string {
  return `unknown scrape protocol ${p}, supported: [${[...PROTOCOLS].sort().join(' ')}]`;
}

function scrapeProtocols(list: readonly string[], path: KeyPath, ctx: Ctx): ScrapeProtocol[] {
  if (list.length === 0) ctx.issue(path, 'scrape_protocols cannot be empty');
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (seen.has(p.toLowerCase())) ctx.issue([...path, i], `duplicated protocol in scrape_protocols, got [${list.join(' ')}]`);
    else if (!isProtocol(p)) ctx.issue([...path, i], unknownProtocol(p));
    seen.add(p.toLowerCase());
  });
  return list.filter(isProtocol);
}

// ---------------------------------------------------------------------------------------------------
// HTTP client (prometheus/common)

const TLS_VERSIONS: readonly string[] = ['TLS10', 'TLS11', 'TLS12', 'TLS13'];

function finishTls(t: RawTlsConfig, path: KeyPath, ctx: Ctx): TlsConfig {
  const both = (a: string, b: string, what: string): void => {
    if (a !== '' && b !== '') ctx.issue(path, `at most one of ${what} & ${what}_file must be configured`);
  };
  both(t.ca, t.ca_file, 'ca');
  both(t.cert, t.cert_file, 'cert');
  both(t.key, t.key_file, 'key');
  const cert = t.cert !== '' || t.cert_file !== '';
  const key = t.key !== '' || t.key_file !== '';
  if (cert && !key) ctx.issue(path, 'exactly one of key or key_file must be configured when a client certificate is configured');
  if (key && !cert) ctx.issue(path, 'exactly one of cert or cert_file must be configured when a client key is configured');
  for (const k of ['min_version', 'max_version'] as const) {
    if (t[k] !== '' && !TLS_VERSIONS.includes(t[k])) ctx.issue([...path, k], `unknown TLS version: ${t[k]}`);
  }
  return {
    ...t,
    ca_file: ctx.file(t.ca_file),
    cert_file: ctx.file(t.cert_file),
    key_file: ctx.file(t.key_file),
    min_version: t.min_version as TlsVersion | '',
    max_version: t.max_version as TlsVersion | '',
  };
}

interface RawProxy {
  proxy_url: string;
  no_proxy: string;
  proxy_from_environment: boolean;
  proxy_connect_header: Record<string, string[]>;
}

function checkProxy(p: RawProxy, path: KeyPath, ctx: Ctx): void {
  if (Object.keys(p.proxy_connect_header).length > 0 && !p.proxy_from_environment && p.proxy_url === '') {
    ctx.issue(path, 'if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured');
  }
  if (p.proxy_from_environment && p.proxy_url !== '') ctx.issue(path, 'if proxy_from_environment is configured, proxy_url must not be configured');
  if (p.proxy_from_environment && p.no_proxy !== '') ctx.issue(path, 'if proxy_from_environment is configured, no_proxy must not be configured');
  if (p.proxy_url === '' && p.no_proxy !== '') ctx.issue(path, 'if no_proxy is configured, proxy_url must also be configured');
  if (p.proxy_url !== '' && !URL.canParse(p.proxy_url)) ctx.issue([...path, 'proxy_url'], `${q(p.proxy_url)} is not a valid URL`);
}

/** Header names as Go's http.CanonicalHeaderKey writes them. */
function canonicalHeader(name: string): string {
  return name
    .split('-')
    .map((w) => (w === '' ? w : w[0]!.toUpperCase() + w.slice(1).toLowerCase()))
    .join('-');
}

const RESERVED_HTTP_HEADERS = new Set([
  'Authorization', 'Host', 'Content-Encoding', 'Content-Length', 'Content-Type', 'User-Agent', 'Connection',
  'Keep-Alive', 'Proxy-Authenticate', 'Proxy-Authorization', 'Www-Authenticate', 'Accept-Encoding',
  'X-Prometheus-Remote-Write-Version', 'X-Prometheus-Remote-Read-Version', 'X-Prometheus-Scrape-Timeout-Seconds',
  'X-Amz-Date', 'X-Amz-Security-Token', 'X-Amz-Content-Sha256',
]);

type RawHttp = RawScrapeConfig | RawRemoteWrite | RawRemoteRead | RawAlertmanager;

function finishHttpClient(r: RawHttp, path: KeyPath, ctx: Ctx): HttpClientConfig {
  const bearer = r.bearer_token !== '' || r.bearer_token_file !== '';
  if (r.bearer_token !== '' && r.bearer_token_file !== '') ctx.issue(path, 'at most one of bearer_token & bearer_token_file must be configured');
  if ((r.basic_auth || r.oauth2) && bearer) ctx.issue(path, 'at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured');
  const ba = r.basic_auth;
  if (ba) {
    if (ba.username !== '' && ba.username_file !== '') ctx.issue([...path, 'basic_auth'], 'at most one of basic_auth username & username_file must be configured');
    if (ba.password !== '' && ba.password_file !== '') ctx.issue([...path, 'basic_auth'], 'at most one of basic_auth password & password_file must be configured');
  }
  let authorization: HttpClientConfig['authorization'];
  const az = r.authorization;
  if (az) {
    const at = [...path, 'authorization'];
    if (bearer) ctx.issue(at, 'authorization is not compatible with bearer_token & bearer_token_file');
    if (az.credentials !== '' && az.credentials_file !== '') ctx.issue(at, 'at most one of authorization credentials & credentials_file must be configured');
    const type = az.type.trim() || 'Bearer';
    if (type.toLowerCase() === 'basic') ctx.issue([...at, 'type'], 'authorization type cannot be set to "basic", use "basic_auth" instead');
    if (ba || r.oauth2) ctx.issue(path, 'at most one of basic_auth, oauth2 & authorization must be configured');
    authorization = { type, credentials: az.credentials, credentials_file: ctx.file(az.credentials_file) };
  } else if (r.bearer_token !== '') {
    authorization = { type: 'Bearer', credentials: r.bearer_token, credentials_file: '' };
  } else if (r.bearer_token_file !== '') {
    authorization = { type: 'Bearer', credentials: '', credentials_file: ctx.file(r.bearer_token_file) };
  }
  let oauth2: HttpClientConfig['oauth2'];
  const o = r.oauth2;
  if (o) {
    const at = [...path, 'oauth2'];
    if (ba) ctx.issue(path, 'at most one of basic_auth, oauth2 & authorization must be configured');
    if (o.client_id === '') ctx.issue(at, 'oauth2 client_id must be configured');
    if (o.token_url === '') ctx.issue(at, 'oauth2 token_url must be configured');
    if (o.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      if (o.client_certificate_key !== '' && o.client_certificate_key_file !== '') {
        ctx.issue(at, 'at most one of oauth2 client_certificate_key & client_certificate_key_file must be configured');
      }
      if (o.signature_algorithm !== '' && !['RS256', 'RS384', 'RS512'].includes(o.signature_algorithm)) {
        ctx.issue([...at, 'signature_algorithm'], 'valid signature algorithms are RS256, RS384 and RS512');
      }
    } else if (o.client_secret !== '' && o.client_secret_file !== '') {
      ctx.issue(at, 'at most one of oauth2 client_secret & client_secret_file must be configured');
    }
    checkProxy(o, at, ctx);
    oauth2 = {
      ...o,
      client_secret_file: ctx.file(o.client_secret_file),
      client_certificate_key_file: ctx.file(o.client_certificate_key_file),
      tls_config: finishTls(o.tls_config, [...at, 'tls_config'], ctx),
    };
  }
  checkProxy(r, path, ctx);
  let headers: HttpClientConfig['http_headers'];
  if (r.http_headers) {
    const hs: Record<string, HttpHeader> = {};
    headers = hs;
    for (const [name, h] of Object.entries(r.http_headers)) {
      if (RESERVED_HTTP_HEADERS.has(canonicalHeader(name))) ctx.issue([...path, 'http_headers', name], `setting header ${q(canonicalHeader(name))} is not allowed`);
      hs[name] = { ...h, files: h.files.map((f) => ctx.file(f)) };
    }
  }
  return {
    ...(ba ? { basic_auth: { ...ba, username_file: ctx.file(ba.username_file), password_file: ctx.file(ba.password_file) } } : {}),
    ...(authorization ? { authorization } : {}),
    ...(oauth2 ? { oauth2 } : {}),
    tls_config: finishTls(r.tls_config, [...path, 'tls_config'], ctx),
    follow_redirects: r.follow_redirects,
    enable_http2: r.enable_http2,
    proxy_url: r.proxy_url,
    no_proxy: r.no_proxy,
    proxy_from_environment: r.proxy_from_environment,
    proxy_connect_header: r.proxy_connect_header,
    ...(headers ? { http_headers: headers } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Targets and discovery

const FILE_SD_NAME = /^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$/;

function finishStatic(list: readonly RawStaticConfig[], checkTargets: boolean, path: KeyPath, ctx: Ctx): StaticConfig[] {
  return list.map((sc, i) => {
    if (checkTargets) {
      sc.targets.forEach((t, j) => {
        const at = [...path, i, 'targets', j];
        // Without relabeling nothing can turn a URL into an address; Prometheus rejects any '/'.
        if (t.includes('/')) {
          const hint = t.includes('://') ? ' (targets are host:port; set scheme and metrics_path on the job)' : '';
          ctx.issue(at, `${q(t)} is not a valid hostname${hint}`);
        } else if (t === '') ctx.issue(at, 'empty target address');
      });
    }
    for (const [name, value] of Object.entries(sc.labels)) {
      if (!isValidLabelName(name)) ctx.issue([...path, i, 'labels', name], `${q(name)} is not a valid label name`);
      else if (!isValidLabelValue(value)) ctx.issue([...path, i, 'labels', name], `${q(value)} is not a valid label value`);
    }
    return { targets: sc.targets, labels: labelsFromObject(sc.labels) };
  });
}

function finishFileSd(list: readonly RawFileSdConfig[], path: KeyPath, ctx: Ctx): FileSdConfig[] {
  return list.map((f, i) => {
    if (f.files.length === 0) ctx.issue([...path, i, 'files'], 'file service discovery config must contain at least one path name');
    f.files.forEach((name, j) => {
      if (!FILE_SD_NAME.test(name)) ctx.issue([...path, i, 'files', j], `path name ${q(name)} is not valid for file discovery`);
    });
    return { files: f.files.map((p) => ctx.file(p)), refresh_interval: f.refresh_interval };
  });
}

function otherSd(r: RawScrapeConfig | RawAlertmanager, path: KeyPath, ctx: Ctx): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const mech of OTHER_SD_MECHANISMS) {
    const key = `${mech}_sd_configs` as const;
    const v = r[key];
    if (v === undefined) continue;
    out[key] = v;
    if (v.length > 0) ctx.unsupported.push(formatPath([...path, key]));
  }
  return out;
}

function relabels(list: readonly RelabelConfig[], scheme: NameValidationScheme, path: KeyPath, ctx: Ctx): RelabelConfig[] {
  return list.map((rc, i) => {
    try {
      return withNameValidationScheme(rc, scheme);
    } catch (err) {
      ctx.issue([...path, i], (err as Error).message);
      return rc;
    }
  });
}

function httpScheme(s: string, path: KeyPath, ctx: Ctx): 'http' | 'https' {
  if (s !== 'http' && s !== 'https') ctx.issue(path, `scheme must be "http" or "https", got ${q(s)}`);
  return s === 'https' ? 'https' : 'http';
}

// ---------------------------------------------------------------------------------------------------
// scrape_configs

function finishScrape(r: RawScrapeConfig, g: GlobalConfig, path: KeyPath, ctx: Ctx): ScrapeConfig {
  const job = q(r.job_name);
  if (r.job_name === '') ctx.issue([...path, 'job_name'], 'job_name is empty');
  const http = finishHttpClient(r, path, ctx);

  const interval = r.scrape_interval || g.scrape_interval;
  if (r.scrape_timeout > interval) {
    ctx.issue([...path, 'scrape_timeout'], `scrape timeout greater than scrape interval for scrape config with job name ${job} (${r.scrape_timeout}ms > ${interval}ms)`);
  }
  const native = r.scrape_native_histograms ?? g.scrape_native_histograms;
  let protocols: readonly ScrapeProtocol[];
  if (r.scrape_protocols !== undefined) protocols = scrapeProtocols(r.scrape_protocols, [...path, 'scrape_protocols'], ctx);
  else protocols = g.scrape_protocols ?? (native ? DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS : DEFAULT_SCRAPE_PROTOCOLS);
  const fallback = r.fallback_scrape_protocol;
  if (fallback !== '' && !isProtocol(fallback)) {
    ctx.issue([...path, 'fallback_scrape_protocol'], `invalid fallback_scrape_protocol for scrape config with job name ${job}: ${unknownProtocol(fallback)}`);
  }

  let scheme: NameValidationScheme = g.metric_name_validation_scheme;
  const localScheme = r.metric_name_validation_scheme;
  if (localScheme === 'utf8' || localScheme === 'legacy') scheme = localScheme;
  else if (localScheme !== '') {
    ctx.issue(
      [...path, 'metric_name_validation_scheme'],
      `unknown scrape config name validation method specified, must be either '', 'legacy' or 'utf8', got ${localScheme}`,
    );
  }
  let escaping = r.metric_name_escaping_scheme;
  if (escaping === '') escaping = localScheme === '' ? g.metric_name_escaping_scheme : scheme === 'legacy' ? 'underscores' : 'allow-utf-8';
  if (!ESCAPING_SCHEMES.includes(escaping)) ctx.issue([...path, 'metric_name_escaping_scheme'], unknownEscaping('scrape config', escaping));
  else if (escaping === 'allow-utf-8' && scheme !== 'utf8') {
    ctx.issue([...path, 'metric_name_escaping_scheme'], 'utf8 metric names requested but validation scheme is not set to UTF8');
  }

  const relabelConfigs = relabels(r.relabel_configs, scheme, [...path, 'relabel_configs'], ctx);
  return {
    ...http,
    job_name: r.job_name,
    honor_labels: r.honor_labels,
    honor_timestamps: r.honor_timestamps,
    track_timestamps_staleness: r.track_timestamps_staleness,
    params: r.params,
    scrape_interval: interval,
    scrape_timeout: r.scrape_timeout || Math.min(g.scrape_timeout, interval),
    scrape_protocols: protocols,
    fallback_scrape_protocol: isProtocol(fallback) ? fallback : '',
    scrape_native_histograms: native,
    always_scrape_classic_histograms: r.always_scrape_classic_histograms ?? g.always_scrape_classic_histograms,
    convert_classic_histograms_to_nhcb: r.convert_classic_histograms_to_nhcb ?? g.convert_classic_histograms_to_nhcb,
    scrape_failure_log_file: r.scrape_failure_log_file !== '' ? ctx.file(r.scrape_failure_log_file) : g.scrape_failure_log_file,
    metrics_path: r.metrics_path,
    scheme: httpScheme(r.scheme, [...path, 'scheme'], ctx),
    enable_compression: r.enable_compression,
    body_size_limit: r.body_size_limit || g.body_size_limit,
    sample_limit: r.sample_limit || g.sample_limit,
    target_limit: r.target_limit || g.target_limit,
    label_limit: r.label_limit || g.label_limit,
    label_name_length_limit: r.label_name_length_limit || g.label_name_length_limit,
    label_value_length_limit: r.label_value_length_limit || g.label_value_length_limit,
    native_histogram_bucket_limit: r.native_histogram_bucket_limit,
    native_histogram_min_bucket_factor: r.native_histogram_min_bucket_factor,
    keep_dropped_targets: r.keep_dropped_targets || g.keep_dropped_targets,
    metric_name_validation_scheme: scheme,
    metric_name_escaping_scheme: escaping as EscapingScheme,
    extra_scrape_metrics: r.extra_scrape_metrics ?? g.extra_scrape_metrics,
    static_configs: finishStatic(r.static_configs, relabelConfigs.length === 0, [...path, 'static_configs'], ctx),
    file_sd_configs: finishFileSd(r.file_sd_configs, [...path, 'file_sd_configs'], ctx),
    other_sd_configs: otherSd(r, path, ctx),
    relabel_configs: relabelConfigs,
    metric_relabel_configs: relabels(r.metric_relabel_configs, scheme, [...path, 'metric_relabel_configs'], ctx),
  };
}

// ---------------------------------------------------------------------------------------------------
// remote_write, remote_read, alerting

const PROTOBUF_MESSAGES: readonly string[] = ['prometheus.WriteRequest', 'io.prometheus.write.v2.Request'];

const RESERVED_REMOTE_HEADERS = new Set([
  'host', 'content-encoding', 'content-length', 'content-type', 'user-agent', 'connection', 'keep-alive',
  'proxy-authenticate', 'proxy-authorization', 'www-authenticate', 'accept-encoding',
  'x-prometheus-remote-write-version', 'x-prometheus-remote-read-version',
  'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256',
]);

function remoteUrl(url: string | undefined, what: string, path: KeyPath, ctx: Ctx): string {
  if (url === undefined || url === '') {
    ctx.issue([...path, 'url'], `url for ${what} is empty`);
    return '';
  }
  let ok = false;
  try {
    const u = new URL(url);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) ctx.issue([...path, 'url'], `${q(url)} is not a valid http or https URL`);
  return url;
}

function checkHeaders(headers: Readonly<Record<string, string>>, path: KeyPath, ctx: Ctx): void {
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization') {
      ctx.issue([...path, 'headers', name], 'authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter');
    } else if (RESERVED_REMOTE_HEADERS.has(lower)) {
      ctx.issue([...path, 'headers', name], `${name} is a reserved header. It must not be changed`);
    }
  }
}

function finishRemoteWrite(r: RawRemoteWrite, scheme: NameValidationScheme, path: KeyPath, ctx: Ctx): RemoteWriteConfig {
  const url = remoteUrl(r.url, 'remote_write', path, ctx);
  checkHeaders(r.headers, path, ctx);
  if (!PROTOBUF_MESSAGES.includes(r.protobuf_message)) {
    ctx.issue(
      [...path, 'protobuf_message'],
      `invalid protobuf_message value: unknown type for remote write protobuf message ${r.protobuf_message}, supported: ${PROTOBUF_MESSAGES.join(', ')}`,
    );
  }
  const http = finishHttpClient(r, path, ctx);
  const qc = r.queue_config;
  const qp = [...path, 'queue_config'];
  if (qc.max_shards <= 0) ctx.issue([...qp, 'max_shards'], 'remote write queue max_shards must be positive');
  if (qc.min_shards <= 0) ctx.issue([...qp, 'min_shards'], 'remote write queue min_shards must be positive');
  if (qc.min_shards > qc.max_shards) ctx.issue([...qp, 'min_shards'], 'remote write queue min_shards must not be greater than max_shards');
  if (qc.max_samples_per_send <= 0) ctx.issue([...qp, 'max_samples_per_send'], 'remote write queue max_samples_per_send must be positive');
  if (qc.capacity <= 0) ctx.issue([...qp, 'capacity'], 'remote write queue capacity must be positive');
  if (qc.max_backoff < qc.min_backoff) ctx.issue([...qp, 'max_backoff'], 'remote write queue max_backoff must not be less than min_backoff');

  const auths = (['basic_auth', 'authorization', 'oauth2'] as const).filter((k) => http[k] !== undefined) as string[];
  for (const k of ['sigv4', 'azuread', 'google_iam'] as const) {
    if (r[k] === undefined) continue;
    auths.push(k);
    ctx.unsupported.push(formatPath([...path, k]));
  }
  if (auths.length > 1) {
    ctx.issue(path, `at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [${auths.join(' ')}]`);
  }
  return {
    ...http,
    url,
    name: r.name,
    remote_timeout: r.remote_timeout,
    headers: r.headers,
    write_relabel_configs: relabels(r.write_relabel_configs, scheme, [...path, 'write_relabel_configs'], ctx),
    send_exemplars: r.send_exemplars,
    send_native_histograms: r.send_native_histograms,
    round_robin_dns: r.round_robin_dns,
    protobuf_message: r.protobuf_message as ProtobufMessage,
    failed_request_logging: r.failed_request_logging,
    queue_config: qc,
    metadata_config: r.metadata_config,
    ...(r.sigv4 !== undefined ? { sigv4: r.sigv4 } : {}),
    ...(r.azuread !== undefined ? { azuread: r.azuread } : {}),
    ...(r.google_iam !== undefined ? { google_iam: r.google_iam } : {}),
  };
}

function finishRemoteRead(r: RawRemoteRead, path: KeyPath, ctx: Ctx): RemoteReadConfig {
  const url = remoteUrl(r.url, 'remote_read', path, ctx);
  checkHeaders(r.headers, path, ctx);
  for (const name of Object.keys(r.required_matchers)) {
    if (!isValidLabelName(name)) ctx.issue([...path, 'required_matchers', name], `${q(name)} is not a valid label name`);
  }
  return {
    ...finishHttpClient(r, path, ctx),
    url,
    name: r.name,
    remote_timeout: r.remote_timeout,
    chunked_read_limit: r.chunked_read_limit,
    headers: r.headers,
    read_recent: r.read_recent,
    required_matchers: r.required_matchers,
    filter_external_labels: r.filter_external_labels,
  };
}

function finishAlertmanager(r: RawAlertmanager, scheme: NameValidationScheme, path: KeyPath, ctx: Ctx): AlertmanagerConfig {
  const http = finishHttpClient(r, path, ctx);
  if ((http.basic_auth || http.authorization || http.oauth2) && r.sigv4 !== undefined) {
    ctx.issue(path, 'at most one of basic_auth, authorization, oauth2, & sigv4 must be configured');
  }
  if (r.sigv4 !== undefined) ctx.unsupported.push(formatPath([...path, 'sigv4']));
  if (r.api_version !== 'v2') ctx.issue([...path, 'api_version'], `expected Alertmanager api version to be one of [v2] but got ${r.api_version}`);
  const relabelConfigs = relabels(r.relabel_configs, scheme, [...path, 'relabel_configs'], ctx);
  return {
    ...http,
    scheme: httpScheme(r.scheme, [...path, 'scheme'], ctx),
    path_prefix: r.path_prefix,
    timeout: r.timeout,
    api_version: 'v2',
    static_configs: finishStatic(r.static_configs, relabelConfigs.length === 0, [...path, 'static_configs'], ctx),
    file_sd_configs: finishFileSd(r.file_sd_configs, [...path, 'file_sd_configs'], ctx),
    other_sd_configs: otherSd(r, path, ctx),
    relabel_configs: relabelConfigs,
    alert_relabel_configs: relabels(r.alert_relabel_configs, scheme, [...path, 'alert_relabel_configs'], ctx),
    ...(r.sigv4 !== undefined ? { sigv4: r.sigv4 } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Files

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
