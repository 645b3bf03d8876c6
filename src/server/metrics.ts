/** The process's metrics registry: Node runtime metrics plus gauges and counters read from the modules at scrape time. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TSDB } from '../tsdb/index.js';
import type { ShipperMetrics } from '../tsdb/shipper.js';
import type { CompactorMetrics } from '../compact/index.js';
import type { StoreStats } from '../store/index.js';
import { counterFrom, gaugeFrom, type EmitMetric } from '../util/metrics.js';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'argus_' });
  return registry;
}

/** Head and WAL gauges, computed when /metrics is scraped (no work on the write path). */
export function registerTSDBMetrics(registry: Registry, db: TSDB): void {
  const registers = [registry];
  new Gauge({
    name: 'argus_head_series',
    help: 'Series in the in-memory head, per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getHead(t)!.numSeries());
    },
  });
  new Gauge({
    name: 'argus_head_samples_appended',
    help: 'Samples appended to the head since startup (including WAL replay), per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getHead(t)!.samplesAppended);
    },
  });
  new Gauge({
    name: 'argus_tsdb_blocks_loaded',
    help: 'Blocks cut from the head (or found on disk at startup) and queried with it, per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getBlocks(t).length);
    },
  });
  new Gauge({
    name: 'argus_head_min_valid_time_seconds',
    help: 'Samples older than this are in blocks and rejected by the head (-Inf before the first block), per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getHead(t)!.minValidTime / 1000);
    },
  });
  new Gauge({
    name: 'argus_wal_fsyncs',
    help: 'WAL fsyncs since startup (each covers every request that arrived while the previous one ran), per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getHead(t)!.wal?.fsyncs ?? 0);
    },
  });
  new Gauge({
    name: 'argus_wal_bytes_written',
    help: 'Bytes written to the WAL since startup, per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, db.getHead(t)!.wal?.bytesWritten ?? 0);
    },
  });
  new Gauge({
    name: 'argus_wal_last_fsync_seconds',
    help: 'Duration of the most recent WAL fsync, per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const t of db.tenants()) this.set({ tenant: t }, (db.getHead(t)!.wal?.lastFsyncMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'argus_wal_replay_truncated_bytes',
    help: 'Bytes cut from a torn or corrupt WAL tail at the last startup, per tenant.',
    labelNames: ['tenant'],
    registers,
    collect() {
      for (const [t, r] of db.lastReplay) this.set({ tenant: t }, r.truncated?.droppedBytes ?? 0);
    },
  });
}

/** Shipper counters per tenant (after Thanos's thanos_shipper_*). `shippers` is read at every scrape. */
export function registerShipperMetrics(registry: Registry, shippers: () => Iterable<[string, ShipperMetrics]>): void {
  const each = (f: (m: ShipperMetrics) => number) => (set: EmitMetric) => {
    for (const [tenant, m] of shippers()) set({ tenant }, f(m));
  };
  counterFrom(registry, 'argus_shipper_uploads_total', 'Blocks uploaded to the bucket, per tenant.', ['tenant'], each((m) => m.uploads));
  counterFrom(registry, 'argus_shipper_upload_failures_total', 'Block uploads that failed (the block stays local and is retried), per tenant.', ['tenant'], each((m) => m.uploadFailures));
  counterFrom(registry, 'argus_shipper_dir_syncs_total', 'Passes over the local blocks directory, per tenant.', ['tenant'], each((m) => m.dirSyncs));
  counterFrom(registry, 'argus_shipper_dir_sync_failures_total', 'Passes that could not ship every pending block, per tenant.', ['tenant'], each((m) => m.dirSyncFailures));
  counterFrom(
    registry,
    'argus_shipper_already_in_bucket_total',
    'Blocks found complete in the bucket and recorded as shipped without uploading them again, per tenant.',
    ['tenant'],
    each((m) => m.alreadyInBucket),
  );
}

/** Local blocks deleted after shipping, per tenant (the wiring counts them). */
export function registerLocalRetentionMetrics(registry: Registry, deleted: () => Iterable<[string, number]>): void {
  counterFrom(registry, 'argus_tsdb_local_blocks_deleted_total', 'Local blocks deleted once shipped (and served by the store gateway) and past the local retention, per tenant.', ['tenant'], (set) => {
    for (const [tenant, n] of deleted()) set({ tenant }, n);
  });
}

/** The bucket compactor's counters (after Thanos's thanos_compact_*). */
export function registerCompactorMetrics(registry: Registry, m: CompactorMetrics): void {
  const c = (name: string, help: string, f: () => number) => counterFrom(registry, name, help, [], (set) => set({}, f()));
  c('argus_compact_runs_total', 'Compaction runs started.', () => m.runs);
  c('argus_compact_run_failures_total', 'Compaction runs that failed or had errors.', () => m.runFailures);
  c('argus_compact_compactions_total', 'Blocks written by compaction (vertical and horizontal).', () => m.compactions);
  c('argus_compact_vertical_compactions_total', 'Compactions of overlapping blocks.', () => m.verticalCompactions);
  c('argus_compact_compaction_failures_total', 'Compactions that failed (their group waits for the next run).', () => m.compactionFailures);
  c('argus_compact_blocks_compacted_total', 'Source blocks merged into compacted blocks.', () => m.blocksCompacted);
  c('argus_compact_blocks_marked_for_deletion_total', 'Deletion marks written (compacted sources, redundant blocks, retention).', () => m.deletionMarks);
  c('argus_compact_retention_marks_total', 'Blocks marked for deletion because they are past retention.', () => m.retentionMarks);
  c('argus_compact_blocks_deleted_total', 'Blocks deleted from the bucket after their deletion delay.', () => m.blocksDeleted);
  c('argus_compact_partial_blocks_deleted_total', 'Abandoned partial uploads deleted.', () => m.partialBlocksDeleted);
  c('argus_compact_no_compact_marks_total', 'Blocks excluded from compaction after a data error.', () => m.noCompactMarks);
  c('argus_compact_downsample_runs_total', 'Downsampling steps run.', () => m.downsampleRuns);
  c('argus_compact_downsample_failures_total', 'Downsampling steps that failed.', () => m.downsampleFailures);
  c('argus_compact_bytes_read_total', 'Bytes read from the bucket by compactions.', () => m.bytesRead);
  c('argus_compact_bytes_uploaded_total', 'Bytes uploaded to the bucket by compactions.', () => m.bytesUploaded);
  c('argus_compact_samples_written_total', 'Samples written into compacted blocks.', () => m.samplesWritten);
  c('argus_compact_duplicate_samples_total', 'Identical samples found in overlapping blocks and written once.', () => m.duplicateSamples);
  gaugeFrom(registry, 'argus_compact_last_run_duration_seconds', 'Duration of the last compaction run.', [], (set) => set({}, m.lastRunDurationMs / 1000));
  gaugeFrom(registry, 'argus_compact_last_successful_run_timestamp_seconds', 'When the last run without errors ended (0 before one did).', [], (set) =>
    set({}, m.lastSuccessfulRun / 1000),
  );
}

/** The store gateway's blocks, cache and bucket reads (after Thanos's thanos_bucket_store_*). */
export function registerStoreMetrics(registry: Registry, stats: () => StoreStats, cacheMaxBytes: number): void {
  gaugeFrom(registry, 'argus_store_blocks_loaded', 'Blocks the store gateway serves.', [], (set) => set({}, stats().blocks));
  gaugeFrom(registry, 'argus_store_index_header_bytes', 'Estimated heap bytes of the loaded index headers.', [], (set) => set({}, stats().indexHeaderBytes));
  counterFrom(registry, 'argus_store_cache_hits_total', 'Cache hits, by item kind (postings, series, chunks).', ['kind'], (set) => {
    for (const [kind, v] of Object.entries(stats().cacheByKind)) set({ kind }, v.hits);
  });
  counterFrom(registry, 'argus_store_cache_misses_total', 'Cache misses, by item kind (postings, series, chunks).', ['kind'], (set) => {
    for (const [kind, v] of Object.entries(stats().cacheByKind)) set({ kind }, v.misses);
  });
  counterFrom(registry, 'argus_store_cache_evictions_total', 'Cache entries evicted to stay within the budget.', [], (set) => set({}, stats().cache.evictions));
  gaugeFrom(registry, 'argus_store_cache_bytes', 'Bytes held by the cache (payload, keys and overhead).', [], (set) => set({}, stats().cache.bytes));
  gaugeFrom(registry, 'argus_store_cache_peak_bytes', 'The most bytes the cache has held since startup.', [], (set) => set({}, stats().cache.peakBytes));
  gaugeFrom(registry, 'argus_store_cache_max_bytes', 'The cache budget (store.cache_bytes).', [], (set) => set({}, cacheMaxBytes));
  gaugeFrom(registry, 'argus_store_cache_items', 'Entries in the cache.', [], (set) => set({}, stats().cache.items));
  counterFrom(registry, 'argus_store_bucket_requests_total', 'Range requests sent to the bucket.', [], (set) => set({}, stats().requests));
  counterFrom(registry, 'argus_store_bytes_fetched_total', 'Bytes read from the bucket by range requests.', [], (set) => set({}, stats().bytesFetched));
  counterFrom(registry, 'argus_store_refetches_total', 'Items read a second time because the first read was too short.', [], (set) => set({}, stats().refetches));
  counterFrom(registry, 'argus_store_syncs_total', 'Block list syncs with the bucket.', [], (set) => set({}, stats().syncs));
  counterFrom(registry, 'argus_store_sync_failures_total', 'Block list syncs that failed (the blocks served so far stay).', [], (set) => set({}, stats().syncFailures));
}
