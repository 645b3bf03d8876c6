/**
 * A scrape pool: one job of the configuration (Prometheus's scrapePool). It runs the job's discoverers,
 * turns their target groups into targets, keeps one loop per distinct target, enforces target_limit, keeps
 * dropped targets for the API, and reloads in place when the job's configuration changes.
 *
 * Operations are serialised: discovery updates arriving during a reload wait for it.
 */
import type { ScrapeConfig } from '../../config/prometheus-types.js';
import type { Labels } from '../../model/labels.js';
import type { Appendable } from '../../storage/interface.js';
import type { Logger } from '../../util/log.js';
import { FileDiscovery, StaticDiscovery, type Discoverer } from '../discovery/file.js';
import { staticGroups, type TargetGroup } from '../discovery/targetgroup.js';
import { compileRelabelConfigs } from '../relabel.js';
import { scrapeAcceptHeader, type ScrapeProtocol as TextProtocol } from '../../exposition/index.js';
import { SCRAPE_PROTOCOL_MEDIA_TYPES } from '../../config/prometheus-types.js';
import { ScrapeClient } from './client.js';
import { ScrapeLoop, type LoopDeps, type LoopSettings } from './loop.js';
import type { ScrapeMetrics } from './metrics.js';
import { digest, targetsFromGroups, type Target } from './target.js';

export interface PoolDeps {
  readonly appendable: Appendable;
  readonly logger: Logger;
  readonly metrics: ScrapeMetrics;
  readonly now: () => number;
  readonly seed: bigint;
  readonly shutdown: AbortSignal;
  readonly userAgent?: string;
  readonly timestampToleranceMs?: number;
}

const TEXT_PROTOCOLS: readonly string[] = ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4'];

/** The settings of a job that its loops use; built once per configuration. */
export function loopSettings(cfg: ScrapeConfig): LoopSettings {
  // Argus parses the text formats only, so the protobuf format is never asked for.
  const protocols = cfg.scrape_protocols.filter((p) => TEXT_PROTOCOLS.includes(p)) as TextProtocol[];
  const fallback = cfg.fallback_scrape_protocol;
  return {
    accept: scrapeAcceptHeader(protocols.length > 0 ? protocols : undefined, cfg.metric_name_escaping_scheme),
    extraMetrics: cfg.extra_scrape_metrics,
    honorLabels: cfg.honor_labels,
    honorTimestamps: cfg.honor_timestamps,
    trackTimestampsStaleness: cfg.track_timestamps_staleness,
    sampleLimit: cfg.sample_limit,
    limits: { labelLimit: cfg.label_limit, nameLengthLimit: cfg.label_name_length_limit, valueLengthLimit: cfg.label_value_length_limit },
    relabeler: compileRelabelConfigs(cfg.metric_relabel_configs),
    scheme: cfg.metric_name_validation_scheme,
    fallbackContentType: fallback !== '' && fallback !== 'PrometheusProto' ? SCRAPE_PROTOCOL_MEDIA_TYPES[fallback] : '',
  };
}

/**
 * Whether loops of `a` can hand their caches to loops of `b`: only settings that do not change what a
 * scrape stores may differ (interval, timeout, sample_limit, the HTTP client), as Prometheus decides.
 */
export function reusableCache(a: ScrapeConfig, b: ScrapeConfig): boolean {
  return digest(metricAffecting(a)) === digest(metricAffecting(b));
}

function metricAffecting(c: ScrapeConfig): Record<string, unknown> {
  return {
    job_name: c.job_name,
    honor_labels: c.honor_labels,
    honor_timestamps: c.honor_timestamps,
    track_timestamps_staleness: c.track_timestamps_staleness,
    params: c.params,
    scrape_protocols: c.scrape_protocols,
    fallback_scrape_protocol: c.fallback_scrape_protocol,
    metrics_path: c.metrics_path,
    scheme: c.scheme,
    enable_compression: c.enable_compression,
    body_size_limit: c.body_size_limit,
    target_limit: c.target_limit,
    label_limit: c.label_limit,
    label_name_length_limit: c.label_name_length_limit,
    label_value_length_limit: c.label_value_length_limit,
    metric_name_validation_scheme: c.metric_name_validation_scheme,
    metric_name_escaping_scheme: c.metric_name_escaping_scheme,
    extra_scrape_metrics: c.extra_scrape_metrics,
    static_configs: c.static_configs,
    file_sd_configs: c.file_sd_configs,
    relabel_configs: c.relabel_configs,
    metric_relabel_configs: c.metric_relabel_configs,
  };
}

function discoveryDigest(c: ScrapeConfig): string {
  return digest({ s: c.static_configs, f: c.file_sd_configs });
}

interface Active {
  readonly target: Target;
  readonly loop: ScrapeLoop;
}

export class ScrapePool {
  private cfg: ScrapeConfig;
  private settings: LoopSettings;
  private client: ScrapeClient;
  private discoverers: Discoverer[] = [];
  /** The latest groups of each discoverer. */
  private groups: (readonly TargetGroup[])[] = [];
  private readonly active = new Map<string, Active>();
  private dropped: Labels[] = [];
  private droppedCount = 0;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    cfg: ScrapeConfig,
    private readonly deps: PoolDeps,
  ) {
    this.cfg = cfg;
    this.settings = loopSettings(cfg);
    this.client = new ScrapeClient(cfg, deps.userAgent);
    this.log = deps.logger.with({ scrape_pool: cfg.job_name });
  }

  get name(): string {
    return this.cfg.job_name;
  }
  get config(): ScrapeConfig {
    return this.cfg;
  }

  /** Serialises pool operations. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Starts discovery; resolves once the first round of targets is running. */
  start(): Promise<void> {
    return this.run(async () => {
      await this.startDiscovery();
      await this.sync(null);
    });
  }

  /** Starts the job's discoverers and waits for their first round (the caller syncs). */
  private async startDiscovery(): Promise<void> {
    const cfg = this.cfg;
    const ds: Discoverer[] = [];
    if (cfg.static_configs.length > 0) ds.push(new StaticDiscovery(staticGroups(cfg.static_configs)));
    for (const f of cfg.file_sd_configs) ds.push(new FileDiscovery(f, this.log, this.deps.metrics));
    this.discoverers = ds;
    this.groups = ds.map(() => []);
    let initial = true;
    await Promise.all(
      ds.map((d, i) =>
        d.start((groups) => {
          if (this.discoverers[i] !== d) return;
          this.groups[i] = groups;
          if (!initial) {
            this.run(() => this.sync(null)).catch((err: unknown) => {
              this.log.error('applying discovered targets failed; the previous targets stay', { err: (err as Error)?.message ?? String(err) });
            });
          }
        }),
      ),
    );
    initial = false;
  }

  private stopDiscovery(): void {
    for (const d of this.discoverers) d.stop();
    this.discoverers = [];
  }

  /**
   * Applies a changed configuration of the same job: a new HTTP client, targets re-derived, and the loops
   * of targets that stay restarted with the new settings (keeping their caches when the change cannot
   * alter what is stored).
   */
  reload(cfg: ScrapeConfig): Promise<void> {
    return this.run(async () => {
      const old = this.cfg;
      this.deps.metrics.poolReloads++;
      const reuse = reusableCache(old, cfg);
      this.cfg = cfg;
      this.settings = loopSettings(cfg);
      const oldClient = this.client;
      this.client = new ScrapeClient(cfg, this.deps.userAgent);
      if (discoveryDigest(old) !== discoveryDigest(cfg)) {
        this.stopDiscovery();
        await this.startDiscovery();
      }
      await this.sync({ reuse });
      oldClient.close();
      this.log.info('scrape pool reloaded', { targets: this.active.size, caches_kept: reuse });
    });
  }

  private loopDeps(): LoopDeps {
    const d = this.deps;
    return {
      appendable: d.appendable,
      client: this.client,
      logger: this.log,
      metrics: d.metrics,
      now: d.now,
      seed: d.seed,
      shutdown: d.shutdown,
      ...(d.timestampToleranceMs !== undefined ? { timestampToleranceMs: d.timestampToleranceMs } : {}),
    };
  }

  /**
   * Brings the running loops in line with the current groups. With `restart`, loops of targets that stay
   * are replaced by loops with the current settings (after a reload).
   */
  private async sync(restart: { reuse: boolean } | null): Promise<void> {
    if (this.stopped) return;
    this.deps.metrics.poolSyncs++;
    const cfg = this.cfg;
    const { targets, dropped, failures } = targetsFromGroups(cfg, this.groups.flat());
    for (const f of failures) this.log.error('target is unusable and is not scraped', { err: f });
    this.deps.metrics.targetSyncFailed += failures.length;
    const keep = cfg.keep_dropped_targets;
    this.dropped = keep > 0 ? dropped.slice(0, keep) : dropped;
    this.droppedCount = dropped.length;

    const wanted = new Map<string, Target>();
    for (const t of targets) if (!wanted.has(t.key)) wanted.set(t.key, t);
    const fresh: ScrapeLoop[] = [];
    const restarted: Promise<void>[] = [];
    for (const [key, t] of wanted) {
      const a = this.active.get(key);
      if (a === undefined) {
        const loop = new ScrapeLoop(t, this.settings, this.loopDeps());
        this.active.set(key, { target: t, loop });
        fresh.push(loop);
        continue;
      }
      a.target.discoveredLabels = t.discoveredLabels; // shown by the API; does not change the target
      if (restart !== null) {
        const next = new ScrapeLoop(a.target, this.settings, this.loopDeps(), restart.reuse ? a.loop : undefined);
        this.active.set(key, { target: a.target, loop: next });
        // The new loop starts once the old one has finished its scrape in progress.
        restarted.push(a.loop.stop({ staleness: !restart.reuse }).then(() => next.start()));
      }
    }
    const gone: Promise<void>[] = [];
    for (const [key, a] of this.active) {
      if (wanted.has(key)) continue;
      this.active.delete(key);
      gone.push(a.loop.stop({ staleness: true }));
    }
    const limit = cfg.target_limit;
    let forced: string | null = null;
    if (limit > 0 && this.active.size > limit) {
      forced = `target_limit exceeded (number of targets: ${this.active.size}, limit: ${limit})`;
      this.deps.metrics.targetLimitExceeded++;
      this.log.warn('too many targets; none of the pool is scraped until the number is within the limit', { targets: this.active.size, limit });
    }
    for (const a of this.active.values()) a.loop.forcedError = forced;
    for (const l of fresh) l.start();
    if (fresh.length > 0 || gone.length > 0) {
      this.log.info('targets changed', { started: fresh.length, stopped: gone.length, active: this.active.size, dropped: this.droppedCount });
    }
    await Promise.all([...gone, ...restarted]);
  }

  /** Stops discovery and every loop; `staleness` marks the targets' series stale about two intervals later. */
  stop(opts: { staleness: boolean }): Promise<void> {
    return this.run(async () => {
      this.stopped = true;
      this.stopDiscovery();
      await Promise.all([...this.active.values()].map((a) => a.loop.stop(opts)));
      this.active.clear();
      this.client.close();
    });
  }

  activeTargets(): Target[] {
    return [...this.active.values()].map((a) => a.target).sort((x, y) => (x.url < y.url ? -1 : x.url > y.url ? 1 : 0));
  }

  droppedTargets(): readonly Labels[] {
    return this.dropped;
  }

  droppedTargetCount(): number {
    return this.droppedCount;
  }

  /** The loop of a target (tests and the metadata API). */
  loops(): ScrapeLoop[] {
    return [...this.active.values()].map((a) => a.loop);
  }
}
