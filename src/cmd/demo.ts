/**
 * `argus all --demo`: a real HA pair inside the process. Two `Agent`s (replicas "a" and "b") load the same
 * prometheus.yml (examples/demo/prometheus.yml unless --demo.config names another), differ only in their
 * `__replica__` external label, scrape this server's /metrics and the demo shop at /demo/metrics, and
 * remote-write to this server, whose HA tracker elects one of them per cluster.
 *
 * `127.0.0.1:9090` (or `localhost:9090`) in static targets and remote_write URLs means "this Argus" and is
 * rewritten to the address actually bound, so the demo works on any port. Each replica keeps its WAL
 * under `<storage.tsdb.path>/agents/<replica>`.
 *
 * Routes mounted on the main server:
 *   GET  /demo/metrics                      the demo shop's exposition
 *   GET  /api/v1/targets (+ /metadata, /api/v1/scrape_pools)  both replicas' targets (see `pairTargets`)
 *   GET  /demo/replicas                     each replica's state
 *   POST /demo/replicas/<name>/stop|start   stop one replica to watch the failover at /api/v1/ha/clusters
 */
import type { Context, Env, Hono } from 'hono';
import type { Registry } from 'prom-client';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { registerAgentMetrics } from '../agent/metrics.js';
import { withExternalLabels } from '../agent/remote/index.js';
import type { TargetMetadata, TargetsSnapshot } from '../agent/scrape/manager.js';
import { scrapePoolsHandler, targetMetadataHandler, targetsHandler, type TargetSource } from '../api/targets-api.js';
import type { PrometheusConfig } from '../config/prometheus.js';
import type { Logger } from '../util/log.js';
import { DemoShop } from './demo-target.js';

/** The bundled HA-pair configuration (the same path from src/cmd and dist/cmd). */
export const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo/prometheus.yml', import.meta.url));

/** Addresses in the demo file that stand for this server. */
const SELF_ADDRESSES = new Set(['127.0.0.1:9090', 'localhost:9090']);

/** Points `127.0.0.1:9090` targets and remote_write URLs at `hostport` (the address this server bound). */
export function pointAtSelf(cfg: PrometheusConfig, hostport: string): PrometheusConfig {
  const swap = (addr: string) => (SELF_ADDRESSES.has(addr) ? hostport : addr);
  const swapUrl = (url: string) => {
    const m = /^(https?:\/\/)([^/?#]*)(.*)$/.exec(url);
    return m ? m[1]! + swap(m[2]!) + m[3]! : url;
  };
  return {
    ...cfg,
    scrape_configs: cfg.scrape_configs.map((sc) => ({
      ...sc,
      static_configs: sc.static_configs.map((g) => ({ ...g, targets: g.targets.map(swap) })),
    })),
    remote_write: cfg.remote_write.map((rw) => ({ ...rw, url: swapUrl(rw.url) })),
  };
}

type ReplicaState = 'stopped' | 'starting' | 'running' | 'stopping';

interface Replica {
  readonly name: string;
  state: ReplicaState;
  agent: Agent | null;
  lastError: string;
}

export interface DemoPairOptions {
  /** prometheus.yml both replicas load (default: the bundled DEMO_CONFIG). */
  configFile?: string;
  /** Parent of the replicas' WAL directories (`<storage.tsdb.path>/agents`). */
  dataDir: string;
  logger: Logger;
  /** Replica names, i.e. their `__replica__` values (default a, b). */
  replicas?: readonly string[];
  /** How long stopping a replica keeps sending queued samples (default 10 s). */
  flushDeadlineMs?: number;
}

export class DemoPair {
  readonly shop = new DemoShop();
  readonly configFile: string;
  private readonly replicas: Replica[];
  private readonly log: Logger;
  private selfAddress = '';

  constructor(private readonly opts: DemoPairOptions) {
    this.configFile = opts.configFile ?? DEMO_CONFIG;
    this.log = opts.logger.with({ component: 'demo' });
    this.replicas = (opts.replicas ?? ['a', 'b']).map((name) => ({ name, state: 'stopped' as ReplicaState, agent: null, lastError: '' }));
  }

  /** Mounts the demo routes and the replicas' metrics (labelled `replica`) on the main server. */
  mount<E extends Env>(a: Hono<E>, registry: Registry): void {
    registerAgentMetrics(registry, () => this.running().map((r) => ({ agent: r.agent!, labels: { replica: r.name } })), ['replica']);
    a.get('/demo/metrics', (c) => {
      c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
      return c.body(this.shop.metrics());
    });
    const source = this.targetSource();
    a.get('/api/v1/targets', targetsHandler(source));
    a.get('/api/v1/targets/metadata', targetMetadataHandler(source));
    a.get('/api/v1/scrape_pools', scrapePoolsHandler(source));
    a.get('/demo/replicas', (c) => c.json({ status: 'success', data: this.status() }));
    a.post('/demo/replicas/:name/:action', (c) => this.control(c));
  }

  /** Starts every replica against the server at `url` (the address it actually bound). */
  async start(url: string): Promise<void> {
    this.selfAddress = new URL(url).host;
    await Promise.all(this.replicas.map((r) => this.startReplica(r)));
    const failed = this.replicas.filter((r) => r.state !== 'running');
    if (failed.length === this.replicas.length) throw new Error(`demo: no replica could start: ${failed.map((r) => `${r.name}: ${r.lastError}`).join('; ')}`);
    this.log.info('demo HA pair running: two agents scrape this server and remote-write to it; stop one with POST /demo/replicas/<name>/stop', {
      config: this.configFile,
      replicas: this.replicas.map((r) => r.name).join(','),
      target: this.selfAddress,
    });
  }

  /** Stops every replica (their queues flush into the still-running receiver). */
  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => this.stopReplica(r)));
  }

  status(): { replica: string; state: ReplicaState; lastError?: string }[] {
    return this.replicas.map((r) => ({ replica: r.name, state: r.state, ...(r.lastError !== '' ? { lastError: r.lastError } : {}) }));
  }

  private running(): Replica[] {
    return this.replicas.filter((r) => r.state === 'running' && r.agent !== null);
  }

  private async startReplica(r: Replica): Promise<void> {
    if (r.state !== 'stopped') return;
    r.state = 'starting';
    try {
      r.agent = await Agent.start({
        configFile: this.configFile,
        dataDir: join(this.opts.dataDir, r.name),
        logger: this.opts.logger.with({ replica: r.name }),
        externalLabelOverrides: { __replica__: r.name },
        transformConfig: (cfg) => pointAtSelf(cfg, this.selfAddress),
        flushDeadlineMs: this.opts.flushDeadlineMs ?? 10_000,
      });
      r.state = 'running';
      r.lastError = '';
    } catch (err) {
      r.state = 'stopped';
      r.lastError = (err as Error).message;
      this.log.error('demo replica could not start; it stays stopped', { replica: r.name, err: r.lastError });
    }
  }

  private async stopReplica(r: Replica): Promise<void> {
    if (r.state !== 'running' || r.agent === null) return;
    r.state = 'stopping';
    try {
      await r.agent.stop();
    } catch (err) {
      r.lastError = (err as Error).message;
      this.log.error('demo replica did not stop cleanly', { replica: r.name, err: r.lastError });
    } finally {
      r.agent = null;
      r.state = 'stopped';
    }
  }

  private async control(c: Context): Promise<Response> {
    const name = c.req.param('name');
    const action = c.req.param('action');
    const r = this.replicas.find((x) => x.name === name);
    if (r === undefined) {
      return c.json({ status: 'error', errorType: 'not_found', error: `no demo replica ${JSON.stringify(name)}; replicas: ${this.replicas.map((x) => x.name).join(', ')}` }, 404);
    }
    if (action !== 'stop' && action !== 'start') {
      return c.json({ status: 'error', errorType: 'bad_data', error: `unknown action ${JSON.stringify(action)}; use stop or start` }, 400);
    }
    if (r.state === 'starting' || r.state === 'stopping') {
      return c.json({ status: 'error', errorType: 'unavailable', error: `replica ${name} is ${r.state}; try again in a moment` }, 409);
    }
    this.log.info(`demo replica ${action} requested over HTTP`, { replica: name, was: r.state });
    if (action === 'stop') await this.stopReplica(r);
    else await this.startReplica(r);
    if (action === 'start' && r.state !== 'running') return c.json({ status: 'error', errorType: 'internal', error: `replica ${name} did not start: ${r.lastError}` }, 500);
    return c.json({ status: 'success', data: { replica: r.name, state: r.state } });
  }

  /**
   * The targets of both replicas as one list: every target appears once per running replica, its `labels`
   * extended by that replica's external labels (`cluster`, `__replica__`) — the labels its series carry
   * when they reach the receiver — so the two copies can be told apart. Scrape pools are the union.
   */
  private targetSource(): TargetSource {
    return {
      targets: () => pairTargets(this.running().map((r) => ({ snap: r.agent!.scrape.targets(), ext: r.agent!.config.global.external_labels }))),
      scrapePools: () => [...new Set(this.running().flatMap((r) => r.agent!.scrape.scrapePools()))].sort(),
      targetMetadata: () => {
        const out: TargetMetadata[] = [];
        for (const r of this.running()) {
          const ext = r.agent!.config.global.external_labels;
          for (const m of r.agent!.scrape.targetMetadata()) out.push({ ...m, target: withExternalLabels(m.target, ext) });
        }
        return out;
      },
    };
  }
}

/** Merges replicas' target snapshots (see DemoPair.targetSource); dropped-target counts add up. */
export function pairTargets(parts: readonly { snap: TargetsSnapshot; ext: Parameters<typeof withExternalLabels>[1] }[]): TargetsSnapshot {
  const activeTargets: TargetsSnapshot['activeTargets'] = [];
  const droppedTargets: TargetsSnapshot['droppedTargets'] = [];
  const droppedTargetCounts: Record<string, number> = {};
  for (const { snap, ext } of parts) {
    for (const t of snap.activeTargets) activeTargets.push({ ...t, labels: withExternalLabels(t.labels, ext) });
    droppedTargets.push(...snap.droppedTargets);
    for (const [pool, n] of Object.entries(snap.droppedTargetCounts)) droppedTargetCounts[pool] = (droppedTargetCounts[pool] ?? 0) + n;
  }
  activeTargets.sort((x, y) => (x.scrapePool < y.scrapePool ? -1 : x.scrapePool > y.scrapePool ? 1 : x.scrapeUrl < y.scrapeUrl ? -1 : x.scrapeUrl > y.scrapeUrl ? 1 : 0));
  return { activeTargets, droppedTargets, droppedTargetCounts };
}
