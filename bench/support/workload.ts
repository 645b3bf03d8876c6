/**
 * A node-exporter-like remote-write workload, encoded once (remote write 1.0, snappy) and then replayed
 * against every server. Series are split over `shards` the way Prometheus's remote-write queue shards them:
 * each shard owns a disjoint set of series and sends its requests one after the other, so with one request
 * in flight per shard every sample arrives in order per series while `shards` requests are in flight.
 *
 * Within a shard, samples go out scrape by scrape (all of the shard's series at scrape k, then k+1, ...),
 * `samplesPerRequest` at a time; timestamps advance by `intervalMs` per scrape and end near "now".
 */
import { encodeWriteV1, snappyCompress, type WriteSeries } from '../../src/codec/index.js';
import { METRIC_NAME, getLabel, labelsFromObject, type Labels } from '../../src/model/labels.js';

export interface WorkloadOptions {
  /** Active series (exactly this many). */
  series: number;
  /** Total samples, warm-up included (rounded up to whole requests per shard). */
  samples: number;
  samplesPerRequest: number;
  /** Concurrent requests in flight = shards. */
  shards: number;
  /** Leading requests of every shard that are sent before measuring (not measured). */
  warmupFraction: number;
  /** Timestamp of the newest scrape (ms). */
  endMs: number;
  /** Longest scrape interval; shortened so the whole run spans at most `maxSpanMs`. */
  intervalMs?: number;
  maxSpanMs?: number;
}

export interface EncodedRequest {
  body: Buffer;
  samples: number;
}

export interface Workload {
  series: number;
  labelsPerSeriesAvg: number;
  metricNames: number;
  hosts: number;
  scrapes: number;
  intervalMs: number;
  firstMs: number;
  lastMs: number;
  samplesPerRequest: number;
  shards: number;
  /** Per shard, in send order. */
  warmup: EncodedRequest[][];
  measured: EncodedRequest[][];
  warmupSamples: number;
  measuredSamples: number;
  warmupRequests: number;
  measuredRequests: number;
  compressedBytes: number;
  uncompressedBytes: number;
  encodeMs: number;
}

type Kind = 'counter' | 'gauge';
type Dim = 'none' | 'cpu_mode' | 'cpu_guest' | 'cpu' | 'disk' | 'fs' | 'net';

/** Node exporter metric families and which per-host objects they fan out over. */
const METRICS: readonly (readonly [string, Kind, Dim])[] = [
  ['node_cpu_seconds_total', 'counter', 'cpu_mode'],
  ['node_cpu_guest_seconds_total', 'counter', 'cpu_guest'],
  ['node_cpu_scaling_frequency_hertz', 'gauge', 'cpu'],
  ['node_disk_read_bytes_total', 'counter', 'disk'],
  ['node_disk_written_bytes_total', 'counter', 'disk'],
  ['node_disk_reads_completed_total', 'counter', 'disk'],
  ['node_disk_writes_completed_total', 'counter', 'disk'],
  ['node_disk_reads_merged_total', 'counter', 'disk'],
  ['node_disk_writes_merged_total', 'counter', 'disk'],
  ['node_disk_read_time_seconds_total', 'counter', 'disk'],
  ['node_disk_write_time_seconds_total', 'counter', 'disk'],
  ['node_disk_io_time_seconds_total', 'counter', 'disk'],
  ['node_disk_io_time_weighted_seconds_total', 'counter', 'disk'],
  ['node_disk_io_now', 'gauge', 'disk'],
  ['node_filesystem_avail_bytes', 'gauge', 'fs'],
  ['node_filesystem_free_bytes', 'gauge', 'fs'],
  ['node_filesystem_size_bytes', 'gauge', 'fs'],
  ['node_filesystem_files', 'gauge', 'fs'],
  ['node_filesystem_files_free', 'gauge', 'fs'],
  ['node_filesystem_readonly', 'gauge', 'fs'],
  ['node_filesystem_device_error', 'gauge', 'fs'],
  ['node_network_receive_bytes_total', 'counter', 'net'],
  ['node_network_transmit_bytes_total', 'counter', 'net'],
  ['node_network_receive_packets_total', 'counter', 'net'],
  ['node_network_transmit_packets_total', 'counter', 'net'],
  ['node_network_receive_errs_total', 'counter', 'net'],
  ['node_network_transmit_errs_total', 'counter', 'net'],
  ['node_network_receive_drop_total', 'counter', 'net'],
  ['node_network_transmit_drop_total', 'counter', 'net'],
  ['node_network_up', 'gauge', 'net'],
  ['node_network_mtu_bytes', 'gauge', 'net'],
  ['node_memory_MemTotal_bytes', 'gauge', 'none'],
  ['node_memory_MemFree_bytes', 'gauge', 'none'],
  ['node_memory_MemAvailable_bytes', 'gauge', 'none'],
  ['node_memory_Buffers_bytes', 'gauge', 'none'],
  ['node_memory_Cached_bytes', 'gauge', 'none'],
  ['node_memory_Active_bytes', 'gauge', 'none'],
  ['node_memory_Inactive_bytes', 'gauge', 'none'],
  ['node_memory_Dirty_bytes', 'gauge', 'none'],
  ['node_memory_SwapTotal_bytes', 'gauge', 'none'],
  ['node_memory_SwapFree_bytes', 'gauge', 'none'],
  ['node_load1', 'gauge', 'none'],
  ['node_load5', 'gauge', 'none'],
  ['node_load15', 'gauge', 'none'],
  ['node_boot_time_seconds', 'gauge', 'none'],
  ['node_time_seconds', 'gauge', 'none'],
  ['node_context_switches_total', 'counter', 'none'],
  ['node_forks_total', 'counter', 'none'],
  ['node_intr_total', 'counter', 'none'],
  ['node_procs_running', 'gauge', 'none'],
  ['node_procs_blocked', 'gauge', 'none'],
  ['node_filefd_allocated', 'gauge', 'none'],
  ['node_filefd_maximum', 'gauge', 'none'],
  ['node_entropy_available_bits', 'gauge', 'none'],
  ['node_sockstat_TCP_inuse', 'gauge', 'none'],
  ['node_netstat_Tcp_ActiveOpens', 'counter', 'none'],
  ['node_vmstat_pgfault', 'counter', 'none'],
  ['node_vmstat_pgmajfault', 'counter', 'none'],
];

const CPUS = 4;
const CPU_MODES = ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user'];
const GUEST_MODES = ['nice', 'user'];
const DISKS = ['nvme0n1', 'sda', 'sdb'];
const FILESYSTEMS = [
  { device: '/dev/nvme0n1p2', fstype: 'ext4', mountpoint: '/' },
  { device: '/dev/sda1', fstype: 'xfs', mountpoint: '/var/lib/data' },
  { device: 'tmpfs', fstype: 'tmpfs', mountpoint: '/run' },
];
const NET_DEVICES = ['eth0', 'eth1', 'lo'];

function fanOut(dim: Dim): Record<string, string>[] {
  switch (dim) {
    case 'none':
      return [{}];
    case 'cpu':
      return Array.from({ length: CPUS }, (_, c) => ({ cpu: String(c) }));
    case 'cpu_mode':
      return Array.from({ length: CPUS }, (_, c) => CPU_MODES.map((mode) => ({ cpu: String(c), mode }))).flat();
    case 'cpu_guest':
      return Array.from({ length: CPUS }, (_, c) => GUEST_MODES.map((mode) => ({ cpu: String(c), mode }))).flat();
    case 'disk':
      return DISKS.map((device) => ({ device }));
    case 'fs':
      return FILESYSTEMS.map((f) => ({ ...f }));
    case 'net':
      return NET_DEVICES.map((device) => ({ device }));
  }
}

/** One host's series, as (metric index, extra labels). */
const PER_HOST: readonly { metric: number; extra: Record<string, string> }[] = METRICS.flatMap(([, , dim], metric) =>
  fanOut(dim).map((extra) => ({ metric, extra })),
);

/** Deterministic 32-bit hash → [0, 1). */
export function unit(a: number, b: number): number {
  let x = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x27d4eb2f, 0xc2b2ae35);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  x = Math.imul(x, 0x297a2d39);
  x ^= x >>> 15;
  return (x >>> 0) / 4294967296;
}

interface SeriesDef {
  labels: Labels;
  counter: boolean;
  base: number;
  rate: number;
  /** Scrape offset within the interval, per host (targets are scraped at different moments). */
  offsetMs: number;
}

function buildSeries(n: number, intervalMs: number): { defs: SeriesDef[]; hosts: number } {
  const defs: SeriesDef[] = [];
  let host = 0;
  for (; defs.length < n; host++) {
    const common = {
      cluster: `c${host % 4}`,
      env: host % 5 === 0 ? 'staging' : 'prod',
      instance: `10.${(host >> 16) & 255}.${(host >> 8) & 255}.${host & 255}:9100`,
      job: 'node',
      rack: `r${host % 16}`,
      region: host % 2 === 0 ? 'eu-west-1' : 'us-east-1',
    };
    const offsetMs = Math.floor(unit(host, 1) * Math.min(intervalMs, 15_000) * 0.5);
    for (const { metric, extra } of PER_HOST) {
      if (defs.length >= n) break;
      const [name, kind] = METRICS[metric]!;
      const i = defs.length;
      defs.push({
        labels: labelsFromObject({ __name__: name, ...common, ...extra }),
        counter: kind === 'counter',
        base: Math.floor(unit(i, 2) * 1e9),
        rate: Math.floor(1 + unit(i, 3) * 10_000),
        offsetMs,
      });
    }
  }
  return { defs, hosts: host };
}

function valueAt(s: SeriesDef, i: number, scrape: number): number {
  if (s.counter) return s.base + scrape * s.rate + Math.floor(unit(i, scrape) * s.rate);
  // Gauges wander around their base, rounded like most node exporter gauges.
  return Math.round(s.base * (1 + 0.1 * Math.sin(scrape / 20 + unit(i, 4) * 6.28)));
}

/**
 * Builds and encodes every request. Shard `w` owns series w, w+shards, ...; its sample stream is
 * (scrape 0: all its series), (scrape 1: ...), ... cut into requests of `samplesPerRequest`.
 */
export function encodeWorkload(o: WorkloadOptions): Workload {
  const t0 = performance.now();
  const shards = Math.max(1, Math.min(o.shards, o.series));
  const perShardSamples = Math.ceil(o.samples / shards);
  const requestsPerShard = Math.ceil(perShardSamples / o.samplesPerRequest);
  const minShardSeries = Math.floor(o.series / shards);
  const maxShardSeries = Math.ceil(o.series / shards);
  const scrapes = Math.ceil(perShardSamples / minShardSeries);
  const maxSpan = o.maxSpanMs ?? 3_000_000;
  const intervalMs = Math.max(1000, Math.min(o.intervalMs ?? 15_000, Math.floor(maxSpan / Math.max(1, scrapes))));
  const firstMs = o.endMs - (scrapes - 1) * intervalMs - Math.min(intervalMs, 15_000);
  const { defs, hosts } = buildSeries(o.series, intervalMs);
  const warmupPerShard = Math.min(requestsPerShard - 1, Math.max(1, Math.ceil(requestsPerShard * o.warmupFraction)));

  const warmup: EncodedRequest[][] = [];
  const measured: EncodedRequest[][] = [];
  let compressedBytes = 0;
  let uncompressedBytes = 0;
  let warmupSamples = 0;
  let measuredSamples = 0;
  let lastMs = 0;
  // Reused per request: per shard-local series, how many samples it has in the current request.
  const counts = new Int32Array(maxShardSeries);
  for (let w = 0; w < shards; w++) {
    const mine: number[] = [];
    for (let i = w; i < o.series; i += shards) mine.push(i);
    const m = mine.length;
    const wq: EncodedRequest[] = [];
    const mq: EncodedRequest[] = [];
    for (let r = 0; r < requestsPerShard; r++) {
      const a = r * o.samplesPerRequest;
      const b = Math.min(a + o.samplesPerRequest, perShardSamples);
      if (a >= b) break;
      // Entry e of the shard's stream is series mine[e % m] at scrape floor(e / m).
      counts.fill(0, 0, m);
      for (let e = a; e < b; e++) counts[e % m]!++;
      const batch: WriteSeries[] = [];
      for (let j = 0; j < m; j++) {
        const c = counts[j]!;
        if (c === 0) continue;
        // First entry e >= a with e % m == j.
        const first = a + ((j - (a % m) + m) % m);
        const def = defs[mine[j]!]!;
        const ts = new Array<number>(c);
        const vs = new Float64Array(c);
        for (let k = 0; k < c; k++) {
          const scrape = Math.floor((first + k * m) / m);
          ts[k] = firstMs + scrape * intervalMs + def.offsetMs;
          vs[k] = valueAt(def, mine[j]!, scrape);
          if (ts[k]! > lastMs) lastMs = ts[k]!;
        }
        batch.push({ labels: def.labels, timestamps: ts, values: vs });
      }
      const raw = encodeWriteV1(batch);
      const body = snappyCompress(raw) as Buffer;
      uncompressedBytes += raw.length;
      compressedBytes += body.length;
      const req = { body, samples: b - a };
      if (r < warmupPerShard) {
        wq.push(req);
        warmupSamples += req.samples;
      } else {
        mq.push(req);
        measuredSamples += req.samples;
      }
    }
    warmup.push(wq);
    measured.push(mq);
  }
  let labelCount = 0;
  for (const d of defs) labelCount += d.labels.length / 2;
  return {
    series: defs.length,
    labelsPerSeriesAvg: labelCount / defs.length,
    metricNames: new Set(defs.map((d) => getLabel(d.labels, METRIC_NAME))).size,
    hosts,
    scrapes,
    intervalMs,
    firstMs,
    lastMs,
    samplesPerRequest: o.samplesPerRequest,
    shards,
    warmup,
    measured,
    warmupSamples,
    measuredSamples,
    warmupRequests: warmup.reduce((n, q) => n + q.length, 0),
    measuredRequests: measured.reduce((n, q) => n + q.length, 0),
    compressedBytes,
    uncompressedBytes,
    encodeMs: performance.now() - t0,
  };
}
