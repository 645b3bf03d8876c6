/**
 * The HTTP side of one remote_write endpoint: builds the request (protocol headers, custom headers,
 * basic_auth / authorization, TLS), sends one snappy-compressed body and classifies the answer the way
 * Prometheus does: 2xx done; 5xx, 429 (when `retry_on_http_429`) and network errors retried; anything
 * else dropped. `Retry-After` (seconds or an HTTP date) is returned for retryable answers.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { SecureVersion } from 'node:tls';
import type { RemoteWriteConfig, TlsConfig } from '../../config/prometheus-types.js';

export const USER_AGENT = 'Argus-agent/0.1';
const MAX_BODY_EXCERPT = 1024;

export type SendOutcome = 'ok' | 'retry' | 'drop';

export interface SendResult {
  outcome: SendOutcome;
  /** HTTP status; 0 when no response arrived (network error, timeout). */
  status: number;
  /** Milliseconds the server asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number;
  /** Error text or the start of the response body, for logs. */
  message: string;
  durationMs: number;
}

const TLS_VERSIONS: Record<string, SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

/** Settings the agent cannot honour; configuring them is an error rather than silently unauthenticated sends. */
export function unsupportedSettings(cfg: RemoteWriteConfig): string[] {
  const out: string[] = [];
  if (cfg.oauth2 !== undefined) out.push('oauth2');
  if (cfg.sigv4 !== undefined) out.push('sigv4');
  if (cfg.azuread !== undefined) out.push('azuread');
  if (cfg.google_iam !== undefined) out.push('google_iam');
  if (cfg.proxy_url !== '') out.push('proxy_url');
  if (cfg.proxy_from_environment) out.push('proxy_from_environment');
  return out;
}

/**
 * Parses a Retry-After value: delay-seconds or an HTTP date (RFC 9110 §10.2.3). Returns milliseconds to
 * wait (0 for a date in the past), or undefined when the value is neither.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const s = Number(v);
    return Number.isSafeInteger(s) ? s * 1000 : undefined;
  }
  // Only the date forms HTTP allows start with a day name; Date.parse accepts far more.
  if (!/^[A-Za-z]{3},? /.test(v) && !/^[A-Za-z]+day, /.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - nowMs);
}

async function fileOrInline(inline: string, file: string, what: string): Promise<string> {
  if (file === '') return inline;
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new Error(`cannot read ${what} file ${file}: ${(err as Error).message}`);
  }
}

async function tlsOptions(t: TlsConfig): Promise<HttpsAgentOptions> {
  const read = async (inline: string, file: string, what: string): Promise<string | undefined> => {
    if (file !== '') {
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        throw new Error(`cannot read tls_config ${what} file ${file}: ${(err as Error).message}`);
      }
    }
    return inline !== '' ? inline : undefined;
  };
  const opts: HttpsAgentOptions = { rejectUnauthorized: !t.insecure_skip_verify };
  const ca = await read(t.ca, t.ca_file, 'ca');
  const cert = await read(t.cert, t.cert_file, 'cert');
  const key = await read(t.key, t.key_file, 'key');
  if (ca !== undefined) opts.ca = ca;
  if (cert !== undefined) opts.cert = cert;
  if (key !== undefined) opts.key = key;
  if (t.server_name !== '') opts.servername = t.server_name;
  if (t.min_version !== '') opts.minVersion = TLS_VERSIONS[t.min_version];
  if (t.max_version !== '') opts.maxVersion = TLS_VERSIONS[t.max_version];
  return opts;
}

export class RemoteWriteClient {
  private readonly url: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly v2: boolean;

  private constructor(
    private readonly cfg: RemoteWriteConfig,
    agent: HttpAgent | HttpsAgent,
  ) {
    this.url = new URL(cfg.url);
    this.agent = agent;
    this.v2 = cfg.protobuf_message === 'io.prometheus.write.v2.Request';
  }

  /** Builds the client; reads TLS files once (certificate rotation needs a reload). */
  static async create(cfg: RemoteWriteConfig): Promise<RemoteWriteClient> {
    const bad = unsupportedSettings(cfg);
    if (bad.length > 0) throw new Error(`remote_write ${cfg.url}: ${bad.join(', ')} ${bad.length === 1 ? 'is' : 'are'} not supported by the Argus agent`);
    const url = new URL(cfg.url);
    const agent =
      url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, ...(await tlsOptions(cfg.tls_config)) })
        : new HttpAgent({ keepAlive: true });
    return new RemoteWriteClient(cfg, agent);
  }

  get isV2(): boolean {
    return this.v2;
  }

  /** Headers of one request; credential files are read per request so that rotated secrets apply. */
  private async headers(bodyLength: number, attempt: number): Promise<Record<string, string>> {
    const h: Record<string, string> = {};
    for (const [name, hv] of Object.entries(this.cfg.http_headers ?? {})) {
      const vals = [...hv.values, ...hv.secrets];
      for (const f of hv.files) vals.push(await fileOrInline('', f, `http_headers ${name}`));
      if (vals.length > 0) h[name] = vals.join(', ');
    }
    for (const [name, value] of Object.entries(this.cfg.headers)) h[name] = value;
    const ba = this.cfg.basic_auth;
    if (ba !== undefined) {
      const user = await fileOrInline(ba.username, ba.username_file, 'basic_auth username');
      const pass = await fileOrInline(ba.password, ba.password_file, 'basic_auth password');
      h['Authorization'] = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
    }
    const az = this.cfg.authorization;
    if (az !== undefined) {
      const cred = await fileOrInline(az.credentials, az.credentials_file, 'authorization credentials');
      h['Authorization'] = `${az.type || 'Bearer'} ${cred}`;
    }
    h['Content-Encoding'] = 'snappy';
    h['Content-Type'] = this.v2 ? 'application/x-protobuf;proto=io.prometheus.write.v2.Request' : 'application/x-protobuf';
    h['X-Prometheus-Remote-Write-Version'] = this.v2 ? '2.0.0' : '0.1.0';
    h['User-Agent'] = USER_AGENT;
    h['Content-Length'] = String(bodyLength);
    if (attempt > 0) h['Retry-Attempt'] = String(attempt);
    return h;
  }

  /**
   * Sends one compressed body. Never throws: every failure becomes a `SendResult`. `signal` aborts the
   * request (queue shutdown); `remote_timeout` bounds it too.
   */
  async send(body: Uint8Array, attempt: number, signal: AbortSignal): Promise<SendResult> {
    const t0 = performance.now();
    const took = () => performance.now() - t0;
    let headers: Record<string, string>;
    try {
      headers = await this.headers(body.length, attempt);
    } catch (err) {
      // A credential file that cannot be read is a local problem a retry may fix (it is being rotated).
      return { outcome: 'retry', status: 0, message: (err as Error).message, durationMs: took() };
    }
    const timeout = AbortSignal.timeout(this.cfg.remote_timeout > 0 ? this.cfg.remote_timeout : 30_000);
    const both = AbortSignal.any([signal, timeout]);
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (r: Omit<SendResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...r, durationMs: took() });
      };
      const req = (this.url.protocol === 'https:' ? httpsRequest : httpRequest)(
        this.url,
        { method: 'POST', headers, agent: this.agent, signal: both },
        (res) => {
          readExcerpt(res).then(
            (text) => finish(classify(res, text, this.cfg.queue_config.retry_on_http_429)),
            (err: Error) => finish({ outcome: 'retry', status: res.statusCode ?? 0, message: `reading the response failed: ${err.message}` }),
          );
        },
      );
      req.on('error', (err: Error) => {
        const msg = timeout.aborted
          ? `no response within remote_timeout ${this.cfg.remote_timeout}ms`
          : signal.aborted
            ? 'aborted: the queue is shutting down'
            : err.message;
        finish({ outcome: 'retry', status: 0, message: msg });
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function classify(res: IncomingMessage, text: string, retry429: boolean): Omit<SendResult, 'durationMs'> {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return { outcome: 'ok', status, message: text };
  const retryable = status >= 500 || (status === 429 && retry429);
  if (!retryable) return { outcome: 'drop', status, message: text };
  const ra = parseRetryAfter(headerValue(res.headers['retry-after']));
  return ra !== undefined ? { outcome: 'retry', status, message: text, retryAfterMs: ra } : { outcome: 'retry', status, message: text };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The first KiB of the body as text (the rest is drained so the connection can be reused). */
function readExcerpt(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    res.on('data', (d: Buffer) => {
      if (n < MAX_BODY_EXCERPT) {
        parts.push(d.subarray(0, MAX_BODY_EXCERPT - n));
        n += Math.min(d.length, MAX_BODY_EXCERPT - n);
      }
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8').trim()));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}
