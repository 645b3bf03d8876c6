/**
 * The HTTP side of a scrape, one client per scrape pool (prometheus/common's client settings): keep-alive
 * connections, TLS (CA, client certificate, server name, insecure_skip_verify, TLS versions), basic auth
 * or an Authorization header (secrets read from their files on every scrape, so rotation works), extra
 * headers, redirects, gzip, the body size limit, and the timeout through an AbortSignal.
 *
 * Error texts follow Prometheus's where a user would compare them: `server returned HTTP status 500
 * Internal Server Error`, `body size limit exceeded`, `Get "<url>": context deadline exceeded`.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { constants } from 'node:buffer';
import { gunzip, gunzipSync } from 'node:zlib';
import type { ScrapeConfig } from '../../config/prometheus-types.js';

/** A scrape that produced no body to parse; the message is what the target's lastError shows. */
export class ScrapeError extends Error {
  constructor(
    message: string,
    readonly bodySizeLimit = false,
  ) {
    super(message);
    this.name = 'ScrapeError';
  }
}

export interface ScrapeResponse {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface ScrapeRequest {
  readonly url: string;
  readonly accept: string;
  readonly timeoutMs: number;
  /** Aborts the scrape from outside (shutdown); the timeout is handled here. */
  readonly signal?: AbortSignal;
}

/** Go's http.Client gives up after this many redirects. */
const MAX_REDIRECTS = 10;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

const TLS_VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

export const USER_AGENT = 'Argus-Scraper';

export class ScrapeClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private httpsAgent: https.Agent | null = null;
  /** Why the TLS material could not be loaded (retried on every scrape until it can). */
  private tlsError: string | null = null;
  private tlsLoading: Promise<void> | null = null;
  /** Settings Argus does not implement: every scrape fails with this rather than scraping differently. */
  private readonly unsupported: string | null;
  private readonly inflight = new Set<Flight>();
  private shutdownSignal: AbortSignal | null = null;

  constructor(
    private readonly cfg: ScrapeConfig,
    private readonly userAgent = USER_AGENT,
  ) {
    if (cfg.oauth2) this.unsupported = 'oauth2 is not supported by Argus scrapes';
    else if (cfg.proxy_url !== '' || cfg.proxy_from_environment) this.unsupported = 'scraping through a proxy is not supported by Argus';
    else this.unsupported = null;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  /** Loads CA, certificate and key files (once; again after a failure). */
  private async tlsAgent(): Promise<https.Agent> {
    if (this.httpsAgent) return this.httpsAgent;
    this.tlsLoading ??= (async () => {
      const t = this.cfg.tls_config;
      const load = async (inline: string, file: string, what: string): Promise<string | undefined> => {
        if (inline !== '') return inline;
        if (file === '') return undefined;
        try {
          return await readFile(file, 'utf8');
        } catch (err) {
          throw new ScrapeError(`unable to load specified ${what} ${file}: ${(err as Error).message}`);
        }
      };
      try {
        const [ca, cert, key] = await Promise.all([load(t.ca, t.ca_file, 'CA cert'), load(t.cert, t.cert_file, 'client cert'), load(t.key, t.key_file, 'client key')]);
        this.httpsAgent = new https.Agent({
          keepAlive: true,
          ...(ca !== undefined ? { ca } : {}),
          ...(cert !== undefined ? { cert } : {}),
          ...(key !== undefined ? { key } : {}),
          rejectUnauthorized: !t.insecure_skip_verify,
          ...(t.server_name !== '' ? { servername: t.server_name } : {}),
          ...(t.min_version !== '' ? { minVersion: TLS_VERSIONS[t.min_version] } : {}),
          ...(t.max_version !== '' ? { maxVersion: TLS_VERSIONS[t.max_version] } : {}),
        });
        this.tlsError = null;
      } catch (err) {
        this.tlsError = (err as Error).message;
      } finally {
        this.tlsLoading = null;
      }
    })();
    await this.tlsLoading;
    if (this.httpsAgent) return this.httpsAgent;
    throw new ScrapeError(this.tlsError ?? 'TLS configuration could not be loaded');
  }

  /** Request headers: fixed ones, credentials and configured extras (secret files read now). */
  private async headers(req: ScrapeRequest): Promise<Record<string, string | string[]>> {
    const cfg = this.cfg;
    const h: Record<string, string | string[]> = {
      Accept: req.accept,
      'Accept-Encoding': cfg.enable_compression ? 'gzip' : 'identity',
      'User-Agent': this.userAgent,
      'X-Prometheus-Scrape-Timeout-Seconds': String(req.timeoutMs / 1000),
    };
    const secret = async (file: string, what: string): Promise<string> => {
      try {
        return (await readFile(file, 'utf8')).trim();
      } catch (err) {
        throw new ScrapeError(`unable to read ${what} ${file}: ${(err as Error).message}`);
      }
    };
    if (cfg.basic_auth) {
      const b = cfg.basic_auth;
      const user = b.username_file !== '' ? await secret(b.username_file, 'basic auth username file') : b.username;
      const pass = b.password_file !== '' ? await secret(b.password_file, 'basic auth password file') : b.password;
      h.Authorization = 'Basic ' + Buffer.from(`${user}:${pass}`, 'utf8').toString('base64');
    } else if (cfg.authorization) {
      const a = cfg.authorization;
      const cred = a.credentials_file !== '' ? await secret(a.credentials_file, 'authorization credentials file') : a.credentials;
      h.Authorization = `${a.type} ${cred}`;
    }
    for (const [name, hv] of Object.entries(cfg.http_headers ?? {})) {
      const vals = [...hv.values, ...hv.secrets];
      for (const f of hv.files) vals.push(await secret(f, `header ${name} file`));
      if (vals.length > 0) h[name] = vals;
    }
    return h;
  }

  /** GETs the target and returns its (decompressed) body; throws a ScrapeError. */
  async scrape(req: ScrapeRequest): Promise<ScrapeResponse> {
    if (this.unsupported) throw new ScrapeError(this.unsupported);
    if (req.signal?.aborted) throw new ScrapeError(`Get ${JSON.stringify(req.url)}: context canceled`);
    // The timeout and shutdown destroy the request in flight directly: an AbortController and signal
    // listeners per scrape cost more CPU than the rest of a small scrape's HTTP exchange (they made V8
    // run a full garbage collection every few dozen scrapes).
    const flight = new Flight();
    const timer = setTimeout(() => flight.abort(true), Math.max(1, req.timeoutMs));
    if (req.signal !== undefined) this.watchShutdown(req.signal);
    this.inflight.add(flight);
    try {
      return await this.fetch(req, flight);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(flight);
    }
  }

  /** One listener per shutdown signal (not one per scrape): it aborts every scrape in flight. */
  private watchShutdown(signal: AbortSignal): void {
    if (this.shutdownSignal === signal) return;
    this.shutdownSignal = signal;
    signal.addEventListener(
      'abort',
      () => {
        for (const f of this.inflight) f.abort(false);
      },
      { once: true },
    );
  }

  private async fetch(req: ScrapeRequest, flight: Flight): Promise<ScrapeResponse> {
    const headers = await this.headers(req);
    let url = req.url;
    for (let hop = 0; ; hop++) {
      let res: http.IncomingMessage;
      try {
        res = await this.get(url, headers, flight);
      } catch (err) {
        throw new ScrapeError(`Get ${JSON.stringify(url)}: ${requestError(err, flight)}`);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (this.cfg.follow_redirects && REDIRECT_CODES.has(status) && location !== undefined) {
        res.resume();
        if (hop + 1 >= MAX_REDIRECTS) throw new ScrapeError(`Get ${JSON.stringify(location)}: stopped after ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, url);
        // Go drops credentials when a redirect leaves the original host.
        if (next.host !== new URL(url).host) delete headers.Authorization;
        url = next.toString();
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw new ScrapeError(`server returned HTTP status ${status} ${res.statusMessage ?? ''}`.trimEnd());
      }
      try {
        const body = await readBody(res, this.cfg.body_size_limit);
        return { body, contentType: res.headers['content-type'] ?? '' };
      } catch (err) {
        if (err instanceof ScrapeError) throw err;
        throw new ScrapeError(`Get ${JSON.stringify(url)}: ${requestError(err, flight)}`);
      }
    }
  }

  private async get(url: string, headers: Record<string, string | string[]>, flight: Flight): Promise<http.IncomingMessage> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const agent = secure ? await this.tlsAgent() : this.httpAgent;
    const mod = secure ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(
        {
          protocol: u.protocol,
          hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          method: 'GET',
          headers,
          agent,
        },
        (res) => {
          flight.res = res;
          resolve(res);
        },
      );
      flight.req = r;
      r.on('error', reject);
      if (flight.aborted !== null) r.destroy(flight.aborted);
      r.end();
    });
  }
}

/** One scrape's HTTP exchange in flight, for the timeout and shutdown to cut. */
class Flight {
  req: http.ClientRequest | null = null;
  res: http.IncomingMessage | null = null;
  /** Set once cut: the error the request and response were destroyed with. */
  aborted: Error | null = null;

  abort(deadline: boolean): void {
    if (this.aborted !== null) return;
    const err = new Error(deadline ? 'context deadline exceeded' : 'context canceled');
    this.aborted = err;
    this.res?.destroy(err);
    this.req?.destroy(err);
  }
}

function requestError(err: unknown, flight: Flight): string {
  // Cut by us: whatever the socket said on the way down ("aborted", "socket hang up") is a consequence.
  if (flight.aborted !== null) return flight.aborted.message;
  return (err as Error)?.message ?? String(err);
}

/**
 * Compressed bodies up to this size are inflated on the event loop in one call (well under a millisecond
 * for a typical exporter): a zlib stream costs a thread-pool hop and stream callbacks per chunk, which
 * was a tenth of the agent's CPU per sample. Larger ones, and ones that inflate beyond SYNC_GUNZIP_OUT
 * (a gzip bomb must not stall every other scrape), are inflated on the thread pool, in one call.
 */
const SYNC_GUNZIP_MAX = 256 * 1024;
const SYNC_GUNZIP_OUT = 8 * 1024 * 1024;

function tooLarge(err: unknown): boolean {
  return err instanceof RangeError || (err as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/** gunzip in one call; the output is limited to `maxOut` bytes (a RangeError beyond that). */
async function gunzipOnce(buf: Buffer, maxOut: number): Promise<Buffer> {
  const limit = Math.min(maxOut, constants.MAX_LENGTH);
  if (buf.length <= SYNC_GUNZIP_MAX) {
    try {
      return gunzipSync(buf, { maxOutputLength: Math.min(limit, SYNC_GUNZIP_OUT) });
    } catch (err) {
      // Beyond the on-loop output cap but maybe within the limit: inflate again off the loop.
      if (!(tooLarge(err) && limit > SYNC_GUNZIP_OUT)) throw err;
    }
  }
  return new Promise((resolve, reject) => gunzip(buf, { maxOutputLength: limit }, (err, out) => (err ? reject(err) : resolve(out))));
}

/**
 * Reads the body, gunzipping when the response says gzip. Like Prometheus, a body that reaches the limit
 * (decompressed size, `>=`) fails the scrape; reading stops there. A gzip body is read whole, then
 * inflated in one call with its output capped below the limit; its compressed bytes are capped a little
 * above the limit (deflate can make incompressible input slightly larger).
 */
function readBody(res: http.IncomingMessage, limit: number): Promise<Buffer> {
  const max = limit > 0 ? limit : Number.MAX_SAFE_INTEGER;
  const gzip = res.headers['content-encoding'] === 'gzip';
  const readMax = gzip ? max + Math.ceil(max / 64) + 1024 : max;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      res.destroy();
      reject(err);
    };
    res.on('data', (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n >= readMax) return fail(new ScrapeError('body size limit exceeded', true));
      chunks.push(c);
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n));
    });
    res.on('error', (err: Error) => fail(err));
    res.on('aborted', () => fail(new Error('unexpected EOF')));
  }).then((raw) => {
    if (!gzip) return raw;
    return gunzipOnce(raw, max - 1).catch((err: NodeJS.ErrnoException) => {
      if (tooLarge(err)) throw new ScrapeError('body size limit exceeded', true);
      throw new ScrapeError(`gzip: ${err.message}`);
    });
  });
}
