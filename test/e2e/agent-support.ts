/**
 * Helpers of the agent end-to-end tests: a scrape target that numbers its scrapes, an `argus agent`
 * process with its config in a temp dir, polling, and reading stored samples back through the query API.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import { closeServer, listenLocal } from '../support/http-server.js';

/**
 * A target on 127.0.0.1 whose exposition carries `test_scrape_sequence`: 1 for the first request, 2 for
 * the second, ... (a gauge, so HA counter stitching leaves it alone), plus a few fixed series. Every
 * request is remembered with the wall time it was served, so a test knows exactly what was scraped.
 */
export class SeqTarget {
  /** `replica` is the request's `replica` query parameter (tests set it with the job's `params`), or ''. */
  readonly served: { seq: number; at: number; replica: string }[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(private readonly extraSeries = 3) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const seq = this.served.length + 1;
      const replica = new URL(req.url ?? '/', 'http://x').searchParams.get('replica') ?? '';
      this.served.push({ seq, at: Date.now(), replica });
      let body = '# HELP test_scrape_sequence Number of this scrape request.\n# TYPE test_scrape_sequence gauge\n';
      body += `test_scrape_sequence ${seq}\n`;
      body += '# TYPE test_fixed gauge\n';
      for (let i = 0; i < this.extraSeries; i++) body += `test_fixed{i="${i}"} ${i * 1.5}\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
    this.port = await listenLocal(this.server);
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await closeServer(s);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { waitFor } from '../support/wait.js';

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const text = await r.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${url}: HTTP ${r.status}, not JSON: ${text.slice(0, 300)}`);
  }
}

export interface RawSeries {
  metric: Record<string, string>;
  /** [seconds, "value"] pairs, oldest first. */
  values: [number, string][];
}

/** Every stored sample of `selector` in the last `rangeS` seconds (a range-vector instant query returns raw samples). */
export async function rawSamples(baseUrl: string, selector: string, rangeS = 600): Promise<RawSeries[]> {
  const q = new URLSearchParams({ query: `${selector}[${rangeS}s]`, time: String(Date.now() / 1000 + 1), dedup: 'false' });
  const body = await getJson<{ status: string; data: { result: RawSeries[] }; error?: string }>(`${baseUrl}/api/v1/query?${q}`);
  if (body.status !== 'success') throw new Error(`query ${selector}: ${body.error}`);
  return body.data.result;
}

/** Value of one sample line of a /metrics exposition (labels given in the order the exposition has them). */
export function metricValue(exposition: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = exposition.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

export interface AgentProcess extends ArgusProcess {
  dir: string;
  configFile: string;
  writeConfig(yaml: string): Promise<void>;
}

/**
 * `argus agent` as a child process with `configYaml` as its prometheus.yml (under `dir`, default a fresh
 * temp dir, removed by stop()), the WAL under `<dir>/data`, the lifecycle API on and a short flush deadline.
 */
export async function startAgentProcess(configYaml: string, opts: { dir?: string; port?: number; args?: string[] } = {}): Promise<AgentProcess> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'argus-agent-e2e-')));
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, configYaml);
  const p = await startArgus(
    'agent',
    [
      `--config.file=${configFile}`,
      `--storage.agent.path=${join(dir, 'data')}`,
      '--web.enable-lifecycle',
      '--storage.remote.flush-deadline=1s',
      `--log.level=${process.env.ARGUS_TEST_LOG ?? 'info'}`,
      ...(opts.args ?? []),
    ],
    opts.port !== undefined ? { port: opts.port } : {},
  );
  const stop = async () => {
    await p.stop();
    if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
  };
  return { ...p, stop, dir, configFile, writeConfig: (yaml: string) => writeFile(configFile, yaml) };
}

/** The remote_write block the tests use: small batches, fast retries. */
export function remoteWrite(url: string, extra = ''): string {
  return `remote_write:
  - url: ${url}/api/v1/push
    queue_config:
      batch_send_deadline: 200ms
      min_backoff: 50ms
      max_backoff: 500ms
${extra}`;
}
