/**
 * Helpers for the remote-write tests: an agent (AgentStorage + RemoteWriteManager) in a temp dir, remote
 * write configs from real YAML through the config loader, a gate that takes a receiver off the network
 * (connection refused) and back on the same port, and reading what an in-process Argus stored.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AgentStorage, RemoteWriteManager, type RemoteWriteManagerOptions } from '../../src/agent/index.js';
import { parsePrometheusConfig, type RemoteWriteConfig } from '../../src/config/prometheus.js';
import { labelsToString, type Labels } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { drain } from '../../src/tsdb/head/index.js';
import type { TSDB } from '../../src/tsdb/index.js';
import { createLogger, nopLogger, type Logger } from '../../src/util/log.js';
import { closeServer, listenLocal } from '../support/http-server.js';

/** remote_write entries parsed by the real loader (so every default is Prometheus's/Argus's). */
export function rwConfigs(yamlEntries: string): RemoteWriteConfig[] {
  const cfg = parsePrometheusConfig(`remote_write:\n${yamlEntries}`);
  return [...cfg.remote_write];
}

export interface Agent {
  storage: AgentStorage;
  manager: RemoteWriteManager;
  close(): Promise<void>;
}

export async function openAgent(dir: string, opts: { segmentBytes?: number; logger?: Logger } & Partial<Omit<RemoteWriteManagerOptions, 'storage' | 'logger'>> = {}): Promise<Agent> {
  const logger = opts.logger ?? testLogger();
  const storage = await AgentStorage.open({ dir, logger, ...(opts.segmentBytes !== undefined ? { segmentBytes: opts.segmentBytes } : {}) });
  const manager = new RemoteWriteManager({
    storage,
    logger,
    flushDeadlineMs: 300,
    persistIntervalMs: 100,
    budgetCheckIntervalMs: 200,
    truncateIntervalMs: 0,
    reshardIntervalMs: 0,
    ...opts,
  });
  return {
    storage,
    manager,
    async close() {
      await manager.stop();
      await storage.close();
    },
  };
}

/** Logs to stderr when ARGUS_TEST_LOG is set (e.g. `ARGUS_TEST_LOG=debug npm test -- remote`). */
export function testLogger(): Logger {
  const lvl = process.env.ARGUS_TEST_LOG;
  return lvl === 'debug' || lvl === 'info' || lvl === 'warn' || lvl === 'error' ? createLogger(lvl) : nopLogger;
}

/** A logger that keeps lines in memory (to check what was logged). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', {}, (l) => lines.push(l)), lines };
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await cond()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Float bits as a comparable string (NaN payloads included). */
export function bits(v: number): string {
  const f = new Float64Array([v]);
  const u = new Uint32Array(f.buffer);
  return u[1]!.toString(16).padStart(8, '0') + u[0]!.toString(16).padStart(8, '0');
}

/** Every sample a tenant's head holds, keyed by series, as "t:bits" strings in time order. */
export async function storedSamples(db: TSDB, tenant = 'anonymous'): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const head = db.getHead(tenant);
  if (!head) return out;
  for await (const s of head.querier().select({ start: -Infinity, end: Infinity }, [new Matcher(MatchType.Regexp, '__name__', '.+')])) {
    const { ts, vs } = drain(s.iterator());
    const list: string[] = [];
    for (let i = 0; i < ts.length; i++) list.push(`${ts[i]}:${bits(vs[i]!)}`);
    out.set(labelsToString(s.labels), list);
  }
  return out;
}

/** What the test appended, in the same shape as `storedSamples`. */
export class Ledger {
  readonly bySeries = new Map<string, string[]>();
  total = 0;
  add(labels: Labels, t: number, v: number): void {
    const k = labelsToString(labels);
    let l = this.bySeries.get(k);
    if (l === undefined) this.bySeries.set(k, (l = []));
    l.push(`${t}:${bits(v)}`);
    this.total++;
  }
}

/**
 * A TCP front for a receiver: while up it forwards every request to `target`; while down nothing listens
 * on its port (the agent sees connection refused), like a receiver that is not running.
 */
export class Gate {
  private server: Server | null = null;
  port = 0;
  requests = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server !== null) return;
    const srv = createServer((req, res) => this.forward(req, res));
    this.port = await listenLocal(srv, this.port);
    this.server = srv;
  }

  async down(): Promise<void> {
    const srv = this.server;
    if (srv === null) return;
    this.server = null;
    await closeServer(srv);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const t = new URL(this.target);
    const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(`gate: ${err.message}`);
    });
    req.pipe(up);
  }
}
