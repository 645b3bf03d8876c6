/**
 * The agent's self-monitoring metrics for prom-client. Every value is read at scrape time from the plain
 * counter objects the scrape manager, the WAL and the queues keep (`metrics`, `stats`), so the hot paths
 * only increment numbers. Names follow Prometheus's (`prometheus_remote_storage_*` becomes
 * `argus_remote_storage_*`); counters Prometheus does not have are `argus_agent_*`.
 *
 * Several agents can share one registry (the demo pair in `argus all --demo`): each then carries its own
 * values of `extraLabelNames` (e.g. `replica="a"`).
 */
import type { Registry } from 'prom-client';
import { BucketCounts, counterFrom, gaugeFrom, histogramFrom, type EmitMetric } from '../util/metrics.js';
import type { Agent } from './agent.js';
import type { ScrapeMetrics } from './scrape/metrics.js';
import type { QueueManager, QueueMetrics } from './remote/index.js';

export interface AgentMetricsEntry {
  readonly agent: Agent;
  /** Values of the registration's `extraLabelNames` for this agent. */
  readonly labels: Readonly<Record<string, string>>;
}

export function registerAgentMetrics(registry: Registry, agents: () => Iterable<AgentMetricsEntry>, extraLabelNames: readonly string[] = []): void {
  // Each agent's series carry its values of `extraLabelNames`; a counter never goes below 0.
  const counter = (name: string, help: string, labelNames: readonly string[], read: (e: AgentMetricsEntry, emit: EmitMetric) => void) =>
    counterFrom(registry, name, help, [...extraLabelNames, ...labelNames], (emit) => {
      for (const e of agents()) read(e, (ls, v) => emit({ ...e.labels, ...ls }, Math.max(0, v)));
    });
  const gauge = (name: string, help: string, labelNames: readonly string[], read: (e: AgentMetricsEntry, emit: EmitMetric) => void) =>
    gaugeFrom(registry, name, help, [...extraLabelNames, ...labelNames], (emit) => {
      for (const e of agents()) read(e, (ls, v) => emit({ ...e.labels, ...ls }, v));
    });
  const histogram = (name: string, help: string, labelNames: readonly string[], read: (e: AgentMetricsEntry, emit: (ls: Record<string, string>, h: BucketCounts) => void) => void) =>
    histogramFrom(registry, name, help, [...extraLabelNames, ...labelNames], (emit) => {
      for (const e of agents()) read(e, (ls, h) => emit({ ...e.labels, ...ls }, h));
    });

  // Scraping.
  const scrapeCounter = (name: string, help: string, key: keyof ScrapeMetrics) =>
    counter(name, help, [], (e, emit) => emit({}, e.agent.scrape.metrics[key]));
  scrapeCounter('argus_agent_scrapes_total', 'Scrapes performed, successful or not.', 'scrapes');
  scrapeCounter('argus_agent_scrape_failures_total', 'Scrapes that failed (up=0): connection errors, timeouts, bad expositions, limits.', 'scrapeFailures');
  scrapeCounter('argus_agent_samples_scraped_total', 'Samples appended from scrapes (report series and staleness markers not included).', 'samplesAppended');
  scrapeCounter('argus_agent_stale_markers_total', 'Staleness markers appended for series or targets that disappeared.', 'staleMarkers');
  scrapeCounter('argus_agent_scrape_commit_failures_total', 'Scrapes whose samples could not be written to the WAL (they are lost).', 'commitFailures');
  scrapeCounter('argus_target_scrapes_exceeded_sample_limit_total', 'Scrapes that hit sample_limit and were rejected.', 'sampleLimitExceeded');
  scrapeCounter('argus_target_scrapes_exceeded_body_size_limit_total', 'Scrapes that hit body_size_limit and were rejected.', 'bodySizeLimitExceeded');
  scrapeCounter('argus_target_scrape_pool_exceeded_label_limits_total', 'Scrapes that hit a label limit and were rejected.', 'labelLimitExceeded');
  scrapeCounter('argus_target_scrapes_sample_out_of_order_total', 'Samples rejected for being out of order.', 'outOfOrder');
  scrapeCounter('argus_target_scrapes_sample_duplicate_timestamp_total', 'Samples rejected for a duplicate timestamp with a different value.', 'duplicates');
  scrapeCounter('argus_target_scrapes_sample_out_of_bounds_total', 'Samples rejected for a timestamp out of bounds.', 'outOfBounds');
  scrapeCounter('argus_target_scrapes_cache_flush_forced_total', 'Scrape caches flushed because they grew too big.', 'cacheFlushForced');
  scrapeCounter('argus_target_sync_failed_total', 'Targets that could not be used because of their labels.', 'targetSyncFailed');
  scrapeCounter('argus_target_scrape_pool_exceeded_target_limit_total', 'Scrape pool syncs that hit target_limit.', 'targetLimitExceeded');
  scrapeCounter('argus_target_scrape_pool_reloads_total', 'Scrape pool reloads.', 'poolReloads');
  scrapeCounter('argus_target_scrape_pool_sync_total', 'Scrape pool target syncs.', 'poolSyncs');
  scrapeCounter('argus_sd_file_read_errors_total', 'file_sd files that could not be read or parsed.', 'fileSdReadErrors');
  gauge('argus_agent_targets', 'Active targets by scrape job and health (up, down, unknown before the first scrape).', ['scrape_job', 'health'], (e, emit) => {
    const counts = new Map<string, number>();
    for (const t of e.agent.scrape.targets().activeTargets) {
      const k = `${t.scrapePool}\u0000${t.health}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const [k, n] of counts) {
      const [job, health] = k.split('\u0000') as [string, string];
      emit({ scrape_job: job, health }, n);
    }
  });

  // The WAL.
  gauge('argus_agent_wal_series', 'Series in the agent WAL (not yet garbage-collected).', [], (e, emit) => emit({}, e.agent.storage.seriesCount()));
  counter('argus_agent_samples_appended_total', 'Samples committed to the agent WAL, staleness markers and report series included.', [], (e, emit) =>
    emit({}, e.agent.storage.stats.samplesAppended),
  );
  counter('argus_agent_wal_series_created_total', 'Series records written to the agent WAL.', [], (e, emit) => emit({}, e.agent.storage.stats.seriesCreated));
  counter('argus_agent_wal_series_removed_total', 'Series dropped from the agent WAL by checkpoints after every queue sent them.', [], (e, emit) =>
    emit({}, e.agent.storage.stats.seriesCollected),
  );
  counter('argus_agent_wal_commits_total', 'Commits (one per scrape) written to the agent WAL.', [], (e, emit) => emit({}, e.agent.storage.stats.commits));
  counter('argus_agent_wal_commit_failures_total', 'Commits the agent WAL could not write.', [], (e, emit) => emit({}, e.agent.storage.stats.commitFailures));
  gauge('argus_agent_wal_segment_current', 'Number of the WAL segment being written.', [], (e, emit) => emit({}, e.agent.storage.committed().segment));

  // Remote write, per queue.
  const Q = ['remote_name', 'url'];
  const perQueue = <V>(e: AgentMetricsEntry, emit: (labels: Record<string, string>, v: V) => void, f: (q: QueueManager) => V) => {
    for (const q of e.agent.remote.queues()) emit({ remote_name: q.name, url: redactUrl(q.cfg.url) }, f(q));
  };
  const queueCounter = (name: string, help: string, key: keyof QueueMetrics) => counter(name, help, Q, (e, emit) => perQueue(e, emit, (q) => q.metrics[key]));
  histogram('argus_remote_storage_sent_batch_duration_seconds', 'Duration of each remote-write request (one batch), successful or not.', Q, (e, emit) =>
    perQueue(e, emit, (q) => q.sentBatchSeconds),
  );
  queueCounter('argus_remote_storage_samples_total', 'Samples sent to remote storage and acknowledged.', 'samplesSent');
  queueCounter('argus_remote_storage_samples_failed_total', 'Samples dropped after an answer a retry cannot fix (4xx other than 429).', 'samplesFailed');
  queueCounter('argus_remote_storage_samples_retried_total', 'Sample sends that failed and were retried.', 'samplesRetried');
  queueCounter('argus_remote_storage_bytes_total', 'Compressed bytes of the requests that were acknowledged.', 'bytesSent');
  counter('argus_remote_storage_samples_dropped_total', 'Samples read from the WAL and not sent, by reason.', [...Q, 'reason'], (e, emit) => {
    for (const q of e.agent.remote.queues()) {
      const base = { remote_name: q.name, url: redactUrl(q.cfg.url) };
      emit({ ...base, reason: 'write_relabel' }, q.metrics.samplesDroppedRelabel);
      emit({ ...base, reason: 'disk_budget' }, q.metrics.samplesDroppedBudget);
      emit({ ...base, reason: 'too_old' }, q.metrics.samplesDroppedAge);
      emit({ ...base, reason: 'unknown_series' }, q.metrics.samplesUnknownSeries);
    }
  });
  gauge('argus_remote_storage_samples_pending', 'Samples queued in the shards, waiting to be sent.', Q, (e, emit) => perQueue(e, emit, (q) => q.pendingSamples));
  gauge('argus_remote_storage_shards', 'Shards currently sending.', Q, (e, emit) => perQueue(e, emit, (q) => q.shardCount));
  gauge('argus_remote_storage_shards_min', 'queue_config.min_shards.', Q, (e, emit) => perQueue(e, emit, (q) => q.cfg.queue_config.min_shards));
  gauge('argus_remote_storage_shards_max', 'queue_config.max_shards.', Q, (e, emit) => perQueue(e, emit, (q) => q.cfg.queue_config.max_shards));
  gauge('argus_remote_storage_shard_capacity', 'queue_config.capacity: samples each shard holds.', Q, (e, emit) => perQueue(e, emit, (q) => q.cfg.queue_config.capacity));
  gauge('argus_remote_storage_queue_highest_sent_timestamp_seconds', 'Newest sample timestamp acknowledged by the remote end.', Q, (e, emit) =>
    perQueue(e, emit, (q) => q.metrics.highestSentTimestampMs / 1000),
  );
  gauge('argus_remote_storage_queue_highest_timestamp_seconds', 'Newest sample timestamp the queue has read from the WAL.', Q, (e, emit) =>
    perQueue(e, emit, (q) => q.metrics.highestReadTimestampMs / 1000),
  );
  gauge(
    'argus_remote_storage_highest_timestamp_in_seconds',
    'Newest sample timestamp read from the WAL by any queue; minus a queue\'s highest sent timestamp, how far it is behind.',
    [],
    (e, emit) => {
      let max = 0;
      for (const q of e.agent.remote.queues()) max = Math.max(max, q.metrics.highestReadTimestampMs);
      emit({}, max / 1000);
    },
  );

  // Configuration reloads.
  gauge('argus_config_last_reload_successful', 'Whether the last configuration reload succeeded (1) or not (0).', [], (e, emit) =>
    emit({}, e.agent.reloadStatus.success ? 1 : 0),
  );
  gauge('argus_config_last_reload_success_timestamp_seconds', 'When the configuration was last loaded successfully.', [], (e, emit) =>
    emit({}, e.agent.reloadStatus.lastSuccessMs / 1000),
  );
}

/** The URL as a label: a password in it is not published (as Go's URL.Redacted). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = 'xxxxx';
    return u.toString();
  } catch {
    return url;
  }
}
