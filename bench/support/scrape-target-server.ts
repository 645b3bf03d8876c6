/**
 * The scrape benchmark's targets: N exporters in one process, each on its own 127.0.0.1 port (as N hosts
 * would be), serving `/metrics` pages from scrape-exposition.ts in the text format 0.0.4, gzipped when the
 * scraper accepts it (as Go exporters do). It counts what it served per scraper (the User-Agent's product
 * token: `Prometheus`, `Argus-Scraper`, ...): that count is the benchmark's ground truth of samples scraped,
 * the same for every agent and independent of their own metrics.
 *
 * Run as a program (`node --import tsx bench/support/scrape-target-server.ts --targets=N --series=M`) it
 * prints one JSON line `{"control":PORT,"ports":[...]}` when every port listens, then serves until
 * SIGTERM; `GET /stats` on the control port answers the counts as JSON (ServedStats). `serveTargets` is the
 * same in-process (tests).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { gzip } from 'node:zlib';
import { TargetPage } from './scrape-exposition.js';

export interface ScraperStats {
  /** GET /metrics requests received, complete or not. */
  started: number;
  /** Complete responses (the last byte handed to the kernel). */
  scrapes: number;
  /** Sample lines in those responses. */
  samples: number;
  /** Body bytes sent (after gzip when used). */
  bytes: number;
  gzipped: number;
  /** Fewest and most complete scrapes of a single target. */
  minPerTarget: number;
  maxPerTarget: number;
  /** Wall-clock ms of the last complete scrape. */
  lastMs: number;
}

export interface ServedStats {
  targets: number;
  seriesPerTarget: number;
  /** By scraper (User-Agent product token). */
  scrapers: Record<string, ScraperStats>;
  /** Requests answered with an error (wrong path or method, gzip failure, aborted by the client). */
  errors: number;
  lastError: string;
}

export interface TargetsHandle {
  ports: number[];
  controlPort: number;
  stats(): ServedStats;
  close(): Promise<void>;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `Prometheus/2.42.0` -> `Prometheus`; a missing header counts as `unknown`. */
export function scraperKey(userAgent: string | undefined): string {
  const token = (userAgent ?? '').trim().split(/[\s/]/)[0] ?? '';
  return token === '' ? 'unknown' : token;
}

/**
 * Whether an Accept-Encoding header admits gzip: a `gzip` or `*` coding whose q is not 0 (RFC 9110
 * 12.5.3). Malformed parts are ignored, as HTTP servers do, rather than failing the scrape.
 */
export function acceptsGzip(header: string | readonly string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : String(header ?? '');
  // An explicit gzip entry decides; otherwise a wildcard does (`gzip;q=0, *` refuses gzip).
  let gzipQ: number | null = null;
  let starQ: number | null = null;
  for (const part of text.split(',')) {
    const [coding = '', ...params] = part.split(';').map((x) => x.trim());
    const name = coding.toLowerCase();
    if (name !== 'gzip' && name !== '*') continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m !== null && Number.isFinite(Number(m[1]))) q = Number(m[1]);
    }
    if (name === 'gzip') gzipQ = Math.max(gzipQ ?? 0, q);
    else starQ = Math.max(starQ ?? 0, q);
  }
  return (gzipQ ?? starQ ?? 0) > 0;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      if (a === null || typeof a === 'string') reject(new Error('target server: no port assigned'));
      else resolve(a.port);
    });
  });
}

export async function serveTargets(opts: { targets: number; series: number }): Promise<TargetsHandle> {
  const { targets, series } = opts;
  if (!Number.isInteger(targets) || targets < 1) throw new Error(`target server: --targets must be a positive integer, got ${targets}`);
  const pages = Array.from({ length: targets }, (_, i) => new TargetPage(i, series));
  const perScraper = new Map<string, { totals: ScraperStats; perTarget: Uint32Array }>();
  let errors = 0;
  let lastError = '';
  const fail = (res: ServerResponse, status: number, why: string): void => {
    errors++;
    lastError = why;
    if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(why + '\n');
  };

  const handle = (target: number, req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      fail(res, 404, `target ${target}: only GET /metrics is served, not ${req.method} ${req.url}`);
      return;
    }
    const body = Buffer.from(pages[target]!.render(Date.now()));
    const key = scraperKey(req.headers['user-agent']);
    let s = perScraper.get(key);
    if (s === undefined) {
      s = { totals: { started: 0, scrapes: 0, samples: 0, bytes: 0, gzipped: 0, minPerTarget: 0, maxPerTarget: 0, lastMs: 0 }, perTarget: new Uint32Array(targets) };
      perScraper.set(key, s);
    }
    const mine = s;
    mine.totals.started++;
    res.once('close', () => {
      if (!res.writableFinished) {
        errors++;
        lastError = `target ${target}: ${key} closed the connection before the response was complete`;
      }
    });
    const count = (bytes: number, gzipped: boolean): void => {
      res.once('finish', () => {
        const s = mine;
        s.totals.scrapes++;
        s.totals.samples += series;
        s.totals.bytes += bytes;
        if (gzipped) s.totals.gzipped++;
        s.totals.lastMs = Date.now();
        s.perTarget[target]!++;
      });
    };
    // Like Go's gzip handler: compress only when the scraper says it can take it (q=0 refuses).
    if (!acceptsGzip(req.headers['accept-encoding'])) {
      count(body.length, false);
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': body.length });
      res.end(body);
      return;
    }
    gzip(body, (err, zipped) => {
      if (err !== null) {
        fail(res, 500, `target ${target}: gzip failed: ${err.message}`);
        return;
      }
      count(zipped.length, true);
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Encoding': 'gzip', 'Content-Length': zipped.length });
      res.end(zipped);
    });
  };

  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < targets; i++) {
      const s = createServer((req, res) => handle(i, req, res));
      // Go exporters keep idle connections open; scrapers that reuse them should be able to.
      s.keepAliveTimeout = 10 * 60_000;
      s.headersTimeout = 10 * 60_000 + 1000;
      servers.push(s);
      ports.push(await listen(s));
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw new Error(`target server: could not listen on ${targets} ports: ${(err as Error).message}`);
  }

  const stats = (): ServedStats => {
    const scrapers: Record<string, ScraperStats> = {};
    for (const [k, s] of perScraper) {
      let min = Infinity;
      let max = 0;
      for (const n of s.perTarget) {
        min = Math.min(min, n);
        max = Math.max(max, n);
      }
      scrapers[k] = { ...s.totals, minPerTarget: min, maxPerTarget: max };
    }
    return { targets, seriesPerTarget: series, scrapers, errors, lastError };
  };
  const control = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats()));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('control: only GET /stats\n');
    }
  });
  servers.push(control);
  const controlPort = await listen(control);

  return {
    ports,
    controlPort,
    stats,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

function argValue(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function main(args: readonly string[]): Promise<void> {
  const num = (name: string): number => {
    const raw = argValue(args, name);
    const v = Number(raw);
    if (raw === undefined || !Number.isInteger(v) || v < 1) throw new Error(`target server: --${name}=N (a positive integer) is required, got ${raw ?? 'nothing'}`);
    return v;
  };
  const h = await serveTargets({ targets: num('targets'), series: num('series') });
  process.stdout.write(JSON.stringify({ control: h.controlPort, ports: h.ports }) + '\n');
  const stop = (): void => {
    void h.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent going away (its stdin pipe closes) ends us too, so no orphan keeps 200 ports.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
