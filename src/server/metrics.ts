/** The process's metrics registry: Node runtime metrics plus gauges read from the TSDB at scrape time. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TSDB } from '../tsdb/index.js';

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
