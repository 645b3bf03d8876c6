/**
 * The scrape manager: one scrape pool per job of the configuration, reloaded in place. On `applyConfig`
 * unchanged jobs are left alone (their loops and caches run on), changed jobs reload, removed jobs stop
 * with staleness markers for their targets' series, new jobs start. `stop()` ends everything without
 * staleness markers, as Prometheus does on shutdown (the next start continues the series).
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { loadScrapeConfigFiles } from '../../config/prometheus.js';
import type { PrometheusConfig, ScrapeConfig } from '../../config/prometheus-types.js';
import { EMPTY_LABELS, type Labels } from '../../model/labels.js';
import type { Appendable } from '../../storage/interface.js';
import type { Logger } from '../../util/log.js';
import type { MetadataEntry } from './cache.js';
import { newScrapeMetrics, type ScrapeMetrics } from './metrics.js';
import { ScrapePool } from './pool.js';
import { digest, offsetSeed, type TargetHealth } from './target.js';

export interface ScrapeManagerOptions {
  readonly appendable: Appendable;
  readonly logger: Logger;
  /** The agent's external labels: they seed the scrape offsets, so HA replicas scrape at different moments. */
  readonly externalLabels?: Labels;
  /** Wall clock in milliseconds (default Date.now). */
  readonly now?: () => number;
  /** Host name mixed into the offset seed (default the machine's). */
  readonly hostname?: string;
  /** User-Agent of scrape requests. */
  readonly userAgent?: string;
  /** How late a scrape may start and still get its tick's timestamp (ms, clamped to 1% of the interval). */
  readonly timestampToleranceMs?: number;
}

/** A target as the targets API shows it. */
export interface ActiveTargetStatus {
  readonly scrapePool: string;
  readonly labels: Labels;
  readonly discoveredLabels: Labels;
  readonly scrapeUrl: string;
  readonly lastError: string;
  /** Start of the last scrape, wall-clock ms (fractional); 0 before the first. */
  readonly lastScrape: number;
  readonly lastScrapeDurationSeconds: number;
  readonly health: TargetHealth;
  readonly scrapeInterval: string;
  readonly scrapeTimeout: string;
}

export interface DroppedTargetStatus {
  readonly scrapePool: string;
  readonly discoveredLabels: Labels;
}

export interface TargetsSnapshot {
  readonly activeTargets: ActiveTargetStatus[];
  readonly droppedTargets: DroppedTargetStatus[];
  /** Dropped targets per pool, including those not kept (keep_dropped_targets). */
  readonly droppedTargetCounts: Record<string, number>;
}

export interface TargetMetadata {
  readonly target: Labels;
  readonly metric: string;
  readonly type: string;
  readonly help: string;
  readonly unit: string;
}

export class ScrapeManager {
  readonly metrics: ScrapeMetrics = newScrapeMetrics();
  private readonly pools = new Map<string, ScrapePool>();
  private readonly configDigests = new Map<string, string>();
  private readonly shutdown = new AbortController();
  private readonly seed: bigint;
  private readonly now: () => number;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ScrapeManagerOptions) {
    this.seed = offsetSeed(opts.externalLabels ?? EMPTY_LABELS, opts.hostname ?? hostname());
    // Every scrape and every stopping loop listens on this signal; thousands of targets are normal.
    setMaxListeners(0, this.shutdown.signal);
    this.now = opts.now ?? Date.now;
  }

  /**
   * Applies a configuration (the scrape configs of the file and of its `scrape_config_files`). Resolves
   * once every job runs its first round of targets. Reloads are serialised.
   */
  applyConfig(cfg: PrometheusConfig | { readonly scrape_configs: readonly ScrapeConfig[] }): Promise<void> {
    const p = this.chain.then(() => this.apply(cfg));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async apply(cfg: PrometheusConfig | { readonly scrape_configs: readonly ScrapeConfig[] }): Promise<void> {
    if (this.shutdown.signal.aborted) throw new Error('the scrape manager is stopped');
    const jobs = 'scrape_config_files' in cfg && cfg.scrape_config_files.length > 0 ? await loadScrapeConfigFiles(cfg) : [...cfg.scrape_configs];
    const next = new Map(jobs.map((j) => [j.job_name, j]));
    const log = this.opts.logger;
    const work: Promise<void>[] = [];
    for (const [name, pool] of this.pools) {
      if (next.has(name)) continue;
      this.pools.delete(name);
      this.configDigests.delete(name);
      log.info('scrape job removed from the configuration; stopping its targets and marking their series stale', { scrape_pool: name });
      work.push(pool.stop({ staleness: true }));
    }
    for (const [name, job] of next) {
      const d = digest(job);
      const pool = this.pools.get(name);
      if (pool === undefined) {
        const p = new ScrapePool(job, {
          appendable: this.opts.appendable,
          logger: log,
          metrics: this.metrics,
          now: this.now,
          seed: this.seed,
          shutdown: this.shutdown.signal,
          ...(this.opts.userAgent !== undefined ? { userAgent: this.opts.userAgent } : {}),
          ...(this.opts.timestampToleranceMs !== undefined ? { timestampToleranceMs: this.opts.timestampToleranceMs } : {}),
        });
        this.pools.set(name, p);
        this.configDigests.set(name, d);
        work.push(p.start());
      } else if (this.configDigests.get(name) !== d) {
        this.configDigests.set(name, d);
        work.push(pool.reload(job));
      }
    }
    await Promise.all(work);
  }

  /** Stops every loop and discoverer; no staleness markers are written. */
  async stop(): Promise<void> {
    this.shutdown.abort();
    await this.chain;
    await Promise.all([...this.pools.values()].map((p) => p.stop({ staleness: false })));
    this.pools.clear();
    this.configDigests.clear();
  }

  /** Names of the scrape pools, sorted. */
  scrapePools(): string[] {
    return [...this.pools.keys()].sort();
  }

  /** The targets of every pool, as the targets API needs them (pools sorted by name, targets by URL). */
  targets(): TargetsSnapshot {
    const activeTargets: ActiveTargetStatus[] = [];
    const droppedTargets: DroppedTargetStatus[] = [];
    const droppedTargetCounts: Record<string, number> = {};
    for (const name of this.scrapePools()) {
      const pool = this.pools.get(name)!;
      for (const t of pool.activeTargets()) {
        activeTargets.push({
          scrapePool: name,
          labels: t.publicLabels,
          discoveredLabels: t.discoveredLabels,
          scrapeUrl: t.url,
          lastError: t.lastError,
          lastScrape: t.lastScrape,
          lastScrapeDurationSeconds: t.lastScrapeDurationMs / 1000,
          health: t.health,
          scrapeInterval: t.scrapeInterval,
          scrapeTimeout: t.scrapeTimeout,
        });
      }
      for (const d of pool.droppedTargets()) droppedTargets.push({ scrapePool: name, discoveredLabels: d });
      droppedTargetCounts[name] = pool.droppedTargetCount();
    }
    return { activeTargets, droppedTargets, droppedTargetCounts };
  }

  /** Metric metadata (TYPE/HELP/UNIT) last scraped from each active target. */
  targetMetadata(): TargetMetadata[] {
    const out: TargetMetadata[] = [];
    for (const name of this.scrapePools()) {
      for (const loop of this.pools.get(name)!.loops()) {
        for (const [metric, m] of loop.cache.metadata as Map<string, MetadataEntry>) {
          out.push({ target: loop.target.publicLabels, metric, type: m.type, help: m.help, unit: m.unit });
        }
      }
    }
    return out;
  }

  /** The pool of a job (tests and diagnostics). */
  pool(job: string): ScrapePool | undefined {
    return this.pools.get(job);
  }
}
