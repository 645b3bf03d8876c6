/**
 * One agent: what replaces one Prometheus replica of an HA pair. It loads an ordinary `prometheus.yml`,
 * scrapes its targets into its own WAL (`AgentStorage`), and remote-writes from that WAL with one queue per
 * `remote_write` endpoint. `reload()` re-reads the file (SIGHUP, `POST /-/reload`); a bad file leaves the
 * running configuration untouched and says why.
 */
import { labelsFromObject, labelsToObject, type Labels } from '../model/labels.js';
import { loadPrometheusConfig, type PrometheusConfig } from '../config/prometheus.js';
import type { Logger } from '../util/log.js';
import { AgentStorage } from './storage/index.js';
import { RemoteWriteManager } from './remote/index.js';
import { ScrapeManager } from './scrape/index.js';

export interface AgentOptions {
  /** The prometheus.yml to load (and re-load on reload()). */
  configFile: string;
  /** Where the agent keeps its WAL and queue positions. */
  dataDir: string;
  logger: Logger;
  /** External labels set on top of the file's (the demo pair sets `__replica__` this way). */
  externalLabelOverrides?: Record<string, string>;
  /** Rewrites the loaded configuration before it is applied (the demo points 127.0.0.1:9090 at the real port). */
  transformConfig?: (cfg: PrometheusConfig) => PrometheusConfig;
  /** Default per-endpoint disk budget for unsent WAL (bytes; 0 = unlimited). */
  maxWalBytesPerQueue?: number;
  /** How long stopping keeps sending what is queued (ms; default 60 s, Prometheus's --storage.remote.flush-deadline). */
  flushDeadlineMs?: number;
}

export interface ReloadStatus {
  success: boolean;
  /** Wall-clock ms of the last successful (re)load. */
  lastSuccessMs: number;
  lastError: string;
  reloads: number;
  failures: number;
}

export class Agent {
  readonly storage: AgentStorage;
  readonly scrape: ScrapeManager;
  readonly remote: RemoteWriteManager;
  private readonly opts: AgentOptions;
  private readonly log: Logger;
  private cfg: PrometheusConfig;
  private chain: Promise<unknown> = Promise.resolve();
  readonly reloadStatus: ReloadStatus = { success: true, lastSuccessMs: 0, lastError: '', reloads: 0, failures: 0 };

  private constructor(opts: AgentOptions, storage: AgentStorage, scrape: ScrapeManager, remote: RemoteWriteManager, cfg: PrometheusConfig) {
    this.opts = opts;
    this.log = opts.logger.with({ component: 'agent' });
    this.storage = storage;
    this.scrape = scrape;
    this.remote = remote;
    this.cfg = cfg;
  }

  /** Loads the file (failing before anything starts when it is invalid), opens the WAL, starts queues and scrapes. */
  static async start(opts: AgentOptions): Promise<Agent> {
    const cfg = await loadAgentConfig(opts);
    const storage = await AgentStorage.open({ dir: opts.dataDir, logger: opts.logger.with({ component: 'agent-wal' }) });
    const remote = new RemoteWriteManager({
      storage,
      logger: opts.logger,
      ...(opts.maxWalBytesPerQueue !== undefined ? { maxWalBytesPerQueue: opts.maxWalBytesPerQueue } : {}),
      ...(opts.flushDeadlineMs !== undefined ? { flushDeadlineMs: opts.flushDeadlineMs } : {}),
    });
    const externalLabels = cfg.global.external_labels;
    const scrape = new ScrapeManager({ appendable: storage, logger: opts.logger, externalLabels });
    const agent = new Agent(opts, storage, scrape, remote, cfg);
    try {
      // Queues first: they resume from their saved WAL positions before new scrapes are appended.
      await remote.applyConfig(cfg.remote_write, externalLabels);
      await scrape.applyConfig(cfg);
    } catch (err) {
      await agent.stop().catch(() => undefined);
      throw err;
    }
    agent.reloadStatus.lastSuccessMs = Date.now();
    agent.log.info('agent started', {
      config: opts.configFile,
      jobs: cfg.scrape_configs.length,
      remote_write: cfg.remote_write.length,
      external_labels: formatLabels(externalLabels),
      series_replayed: storage.seriesCount(),
    });
    return agent;
  }

  get config(): PrometheusConfig {
    return this.cfg;
  }

  /** Re-reads the configuration file and applies it; on error the running configuration stays and the error is thrown. */
  reload(): Promise<void> {
    const run = this.chain.then(async () => {
      this.reloadStatus.reloads++;
      try {
        const cfg = await loadAgentConfig(this.opts);
        await this.remote.applyConfig(cfg.remote_write, cfg.global.external_labels);
        await this.scrape.applyConfig(cfg);
        this.cfg = cfg;
        Object.assign(this.reloadStatus, { success: true, lastSuccessMs: Date.now(), lastError: '' });
        this.log.info('configuration reloaded', { config: this.opts.configFile, jobs: cfg.scrape_configs.length, remote_write: cfg.remote_write.length });
      } catch (err) {
        const msg = (err as Error).message;
        this.reloadStatus.failures++;
        Object.assign(this.reloadStatus, { success: false, lastError: msg });
        this.log.error('configuration reload failed; the running configuration stays in effect', { config: this.opts.configFile, error: msg });
        throw err;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stops scraping (no stale markers, as Prometheus on shutdown), flushes the queues, closes the WAL. */
  async stop(): Promise<void> {
    await this.chain;
    await this.scrape.stop();
    await this.remote.stop();
    await this.storage.close();
    this.log.info('agent stopped', { config: this.opts.configFile });
  }
}

async function loadAgentConfig(opts: AgentOptions): Promise<PrometheusConfig> {
  let cfg = await loadPrometheusConfig(opts.configFile, { agentMode: true });
  if (opts.externalLabelOverrides !== undefined) {
    const ext = { ...labelsToObject(cfg.global.external_labels), ...opts.externalLabelOverrides };
    cfg = { ...cfg, global: { ...cfg.global, external_labels: labelsFromObject(ext) } };
  }
  if (opts.transformConfig !== undefined) cfg = opts.transformConfig(cfg);
  return cfg;
}

function formatLabels(ls: Labels): string {
  return Object.entries(labelsToObject(ls))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
}
