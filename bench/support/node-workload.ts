/**
 * A deterministic node-exporter-like workload over days: per host 158 series of the families a real
 * node exporter exports (CPU seconds per mode, memory, load, disks, filesystems, network devices, process
 * counters, time), with values that behave like the real ones: CPU seconds counted in 1/100 s ticks,
 * byte counters in whole sectors, rarely moving error counters, memory and filesystem gauges that wander
 * in whole kibibytes / 4 KiB blocks, load averages with two decimals, and constants (sizes, MTU, boot time).
 * Rates follow a daily cycle with noise, so chunk compression sees realistic deltas.
 *
 * Every value is a pure function of (series, scrape index, the series' previous state), so the same samples
 * come out whether they are produced window by window and series by series (the OpenMetrics files for
 * promtool) or slice by slice (remote write in time order): both call `step` for k = 0, 1, ... per series.
 *
 * Timestamps are whole seconds (OpenMetrics timestamps are seconds, and promtool turns them into
 * milliseconds with a float multiply: whole seconds survive that exactly). Host h is scraped at
 * base + k * interval + offset_h with offset_h in [1 s, interval - 1 s], so no sample sits on a step of
 * a query grid that is a multiple of the interval (Prometheus 2.x windows are left-closed, 3.x left-open).
 */
import { open } from 'node:fs/promises';
import { encodeWriteV1, snappyCompress, type WriteSeries } from '../../src/codec/index.js';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { unit, type EncodedRequest } from './workload.js';

/** How a series' value evolves (see `step`). */
const enum K {
  Const,
  /** Counter in 1/100 s (USER_HZ ticks): a = share of one CPU. Value = ticks / 100. */
  Ticks,
  /** Integer counter: a = mean rate per second, b = granularity (512 for sectors). */
  Count,
  /** Counter that moves by 1 with probability a per scrape. */
  Rare,
  /** Counter in milliseconds: a = busy share. Value = ms / 1000. */
  Millis,
  /** Mean-reverting random walk around a, noise b per scrape, rounded to multiples of c. */
  Walk,
  /** Small integer gauge around a (procs running, I/O in flight). */
  Small,
  /** Load average: exponential moving average with decay b of a load around a; two decimals. */
  Load,
  /** CPU frequency: one of a few discrete values around a. */
  Freq,
  /** node_time_seconds: the scrape time in seconds plus a few milliseconds of jitter (not rounded). */
  Time,
}

interface Model {
  kind: K;
  a: number;
  b: number;
  c: number;
}

export interface NodeSeries {
  labels: Labels;
  /** The sample name (`node_cpu_seconds_total`). */
  name: string;
  /** OpenMetrics family name (counters without `_total`). */
  family: string;
  type: 'counter' | 'gauge';
  host: number;
  model: Model;
}

const CPUS = 4;
const MODES: readonly (readonly [string, number])[] = [
  ['idle', 0.8],
  ['iowait', 0.02],
  ['irq', 0.005],
  ['nice', 0.002],
  ['softirq', 0.01],
  ['steal', 0.003],
  ['system', 0.05],
  ['user', 0.11],
];
const DISKS = ['nvme0n1', 'sda', 'sdb'];
const FILESYSTEMS = [
  { device: '/dev/nvme0n1p2', fstype: 'ext4', mountpoint: '/', size: 256 * 2 ** 30 },
  { device: '/dev/sda1', fstype: 'xfs', mountpoint: '/var/lib/data', size: 2 * 2 ** 40 },
  { device: 'tmpfs', fstype: 'tmpfs', mountpoint: '/run', size: 1.5 * 2 ** 30 },
];
const NETS = ['eth0', 'eth1', 'lo'];
const GiB = 2 ** 30;
const MiB = 2 ** 20;

const m = (kind: K, a = 0, b = 0, c = 1): Model => ({ kind, a, b, c });

type Extra = Record<string, string>;
type Family = readonly [name: string, type: 'counter' | 'gauge', series: (h: number) => (readonly [Extra, Model])[]];

const perCpu = (f: (cpu: number) => (readonly [Extra, Model])[]) => (): (readonly [Extra, Model])[] =>
  Array.from({ length: CPUS }, (_, c) => f(c)).flat();
const perDisk = (model: (d: number) => Model) => (): (readonly [Extra, Model])[] => DISKS.map((device, d) => [{ device }, model(d)] as const);
const perNet = (model: (n: number) => Model) => (): (readonly [Extra, Model])[] => NETS.map((device, n) => [{ device }, model(n)] as const);
const perFs = (model: (f: (typeof FILESYSTEMS)[number]) => Model) => (): (readonly [Extra, Model])[] =>
  FILESYSTEMS.map((f) => [{ device: f.device, fstype: f.fstype, mountpoint: f.mountpoint }, model(f)] as const);
const one = (model: Model) => (): (readonly [Extra, Model])[] => [[{}, model]];
/** Disk and network devices differ in activity: the first is busy, `lo`/the last disk much less. */
const busy = (i: number): number => [1, 0.3, 0.05][i] ?? 0.05;

/** The node exporter families, in the order they are written (one contiguous block per family). */
const FAMILIES: readonly Family[] = [
  ['node_boot_time_seconds', 'gauge', one(m(K.Const))], // value set per host below
  ['node_context_switches_total', 'counter', one(m(K.Count, 4000))],
  ['node_cpu_guest_seconds_total', 'counter', perCpu((cpu) => ['nice', 'user'].map((mode) => [{ cpu: String(cpu), mode }, m(K.Const, 0)] as const))],
  ['node_cpu_scaling_frequency_hertz', 'gauge', perCpu((cpu) => [[{ cpu: String(cpu) }, m(K.Freq, 2.4e9)]])],
  ['node_cpu_seconds_total', 'counter', perCpu((cpu) => MODES.map(([mode, share]) => [{ cpu: String(cpu), mode }, m(K.Ticks, share)] as const))],
  ['node_disk_io_now', 'gauge', perDisk((d) => m(K.Small, 2 * busy(d)))],
  ['node_disk_io_time_seconds_total', 'counter', perDisk((d) => m(K.Millis, 0.2 * busy(d)))],
  ['node_disk_io_time_weighted_seconds_total', 'counter', perDisk((d) => m(K.Millis, 0.5 * busy(d)))],
  ['node_disk_read_bytes_total', 'counter', perDisk((d) => m(K.Count, 2 * MiB * busy(d), 512))],
  ['node_disk_read_time_seconds_total', 'counter', perDisk((d) => m(K.Millis, 0.1 * busy(d)))],
  ['node_disk_reads_completed_total', 'counter', perDisk((d) => m(K.Count, 80 * busy(d)))],
  ['node_disk_reads_merged_total', 'counter', perDisk((d) => m(K.Count, 5 * busy(d)))],
  ['node_disk_write_time_seconds_total', 'counter', perDisk((d) => m(K.Millis, 0.15 * busy(d)))],
  ['node_disk_writes_completed_total', 'counter', perDisk((d) => m(K.Count, 120 * busy(d)))],
  ['node_disk_writes_merged_total', 'counter', perDisk((d) => m(K.Count, 30 * busy(d)))],
  ['node_disk_written_bytes_total', 'counter', perDisk((d) => m(K.Count, 3 * MiB * busy(d), 512))],
  ['node_entropy_available_bits', 'gauge', one(m(K.Walk, 3500, 40, 1))],
  ['node_filefd_allocated', 'gauge', one(m(K.Walk, 5000, 30, 1))],
  ['node_filefd_maximum', 'gauge', one(m(K.Const, 9223372036854775807))],
  ['node_filesystem_avail_bytes', 'gauge', perFs((f) => m(K.Walk, f.size * 0.4, f.size * 0.0005, 4096))],
  ['node_filesystem_device_error', 'gauge', perFs(() => m(K.Const, 0))],
  ['node_filesystem_files', 'gauge', perFs((f) => m(K.Const, Math.floor(f.size / 16384)))],
  ['node_filesystem_files_free', 'gauge', perFs((f) => m(K.Walk, Math.floor(f.size / 16384) * 0.9, 50, 1))],
  ['node_filesystem_free_bytes', 'gauge', perFs((f) => m(K.Walk, f.size * 0.45, f.size * 0.0005, 4096))],
  ['node_filesystem_readonly', 'gauge', perFs(() => m(K.Const, 0))],
  ['node_filesystem_size_bytes', 'gauge', perFs((f) => m(K.Const, f.size))],
  ['node_forks_total', 'counter', one(m(K.Count, 12))],
  ['node_intr_total', 'counter', one(m(K.Count, 9000))],
  ['node_load1', 'gauge', one(m(K.Load, 1.2, Math.exp(-30 / 60)))],
  ['node_load15', 'gauge', one(m(K.Load, 1.2, Math.exp(-30 / 900)))],
  ['node_load5', 'gauge', one(m(K.Load, 1.2, Math.exp(-30 / 300)))],
  ['node_memory_Active_bytes', 'gauge', one(m(K.Walk, 6 * GiB, 20 * MiB, 1024))],
  ['node_memory_Buffers_bytes', 'gauge', one(m(K.Walk, 300 * MiB, 2 * MiB, 1024))],
  ['node_memory_Cached_bytes', 'gauge', one(m(K.Walk, 5 * GiB, 30 * MiB, 1024))],
  ['node_memory_Dirty_bytes', 'gauge', one(m(K.Walk, 2 * MiB, 1 * MiB, 1024))],
  ['node_memory_Inactive_bytes', 'gauge', one(m(K.Walk, 4 * GiB, 15 * MiB, 1024))],
  ['node_memory_MemAvailable_bytes', 'gauge', one(m(K.Walk, 8 * GiB, 40 * MiB, 1024))],
  ['node_memory_MemFree_bytes', 'gauge', one(m(K.Walk, 2 * GiB, 40 * MiB, 1024))],
  ['node_memory_MemTotal_bytes', 'gauge', one(m(K.Const, 16 * GiB - 372 * MiB))],
  ['node_memory_Shmem_bytes', 'gauge', one(m(K.Walk, 200 * MiB, 1 * MiB, 1024))],
  ['node_memory_Slab_bytes', 'gauge', one(m(K.Walk, 400 * MiB, 2 * MiB, 1024))],
  ['node_memory_SwapFree_bytes', 'gauge', one(m(K.Const, 2 * GiB))],
  ['node_memory_SwapTotal_bytes', 'gauge', one(m(K.Const, 2 * GiB))],
  ['node_netstat_Tcp_ActiveOpens', 'counter', one(m(K.Count, 3))],
  ['node_netstat_Tcp_RetransSegs', 'counter', one(m(K.Rare, 0.3))],
  ['node_network_mtu_bytes', 'gauge', perNet((n) => m(K.Const, n === 2 ? 65536 : 1500))],
  ['node_network_receive_bytes_total', 'counter', perNet((n) => m(K.Count, 400_000 * busy(n)))],
  ['node_network_receive_drop_total', 'counter', perNet(() => m(K.Rare, 0.01))],
  ['node_network_receive_errs_total', 'counter', perNet(() => m(K.Rare, 0.002))],
  ['node_network_receive_packets_total', 'counter', perNet((n) => m(K.Count, 500 * busy(n)))],
  ['node_network_transmit_bytes_total', 'counter', perNet((n) => m(K.Count, 250_000 * busy(n)))],
  ['node_network_transmit_drop_total', 'counter', perNet(() => m(K.Rare, 0.005))],
  ['node_network_transmit_errs_total', 'counter', perNet(() => m(K.Rare, 0.001))],
  ['node_network_transmit_packets_total', 'counter', perNet((n) => m(K.Count, 400 * busy(n)))],
  ['node_network_up', 'gauge', perNet((n) => m(K.Const, n === 2 ? 0 : 1))],
  ['node_procs_blocked', 'gauge', one(m(K.Small, 0.2))],
  ['node_procs_running', 'gauge', one(m(K.Small, 2))],
  ['node_sockstat_TCP_inuse', 'gauge', one(m(K.Walk, 120, 5, 1))],
  ['node_time_seconds', 'gauge', one(m(K.Time))],
  ['node_vmstat_pgfault', 'counter', one(m(K.Count, 20_000))],
  ['node_vmstat_pgmajfault', 'counter', one(m(K.Rare, 0.05))],
];

export interface NodeWorkloadOptions {
  hosts: number;
  spanMs: number;
  /** Whole seconds, at least 2 s. */
  intervalMs: number;
  /** The grid ends at the last multiple of the interval at or before this (ms). */
  endMs: number;
}

const DAY_MS = 86_400_000;

export class NodeWorkload {
  readonly series: readonly NodeSeries[];
  readonly hosts: number;
  readonly families: number;
  readonly intervalMs: number;
  readonly scrapes: number;
  /** Scrape k of host h is at base + k * intervalMs + offsets[h]. */
  readonly baseMs: number;
  readonly offsets: Int32Array;
  /** Oldest and newest sample timestamps. */
  readonly firstMs: number;
  readonly lastMs: number;
  readonly samples: number;
  /** Per host: seconds since boot at the first scrape (counters start from what the host did since). */
  private readonly uptimeS: Float64Array;
  private readonly bootS: Float64Array;

  constructor(o: NodeWorkloadOptions) {
    if (!Number.isInteger(o.intervalMs / 1000) || o.intervalMs < 2000) throw new Error(`interval ${o.intervalMs} ms: want whole seconds, at least 2 s`);
    if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new Error(`hosts ${o.hosts}: want an integer >= 1`);
    this.hosts = o.hosts;
    this.intervalMs = o.intervalMs;
    this.scrapes = Math.floor(o.spanMs / o.intervalMs);
    if (this.scrapes < 1) throw new Error(`span ${o.spanMs} ms is shorter than one interval (${o.intervalMs} ms)`);
    const end = Math.floor(o.endMs / o.intervalMs) * o.intervalMs;
    this.baseMs = end - this.scrapes * o.intervalMs;
    const slots = o.intervalMs / 1000 - 1;
    this.offsets = Int32Array.from({ length: o.hosts }, (_, h) => (1 + Math.floor(unit(h, 11) * slots)) * 1000);
    this.uptimeS = Float64Array.from({ length: o.hosts }, (_, h) => 86_400 * (3 + 40 * unit(h, 12)));
    this.bootS = Float64Array.from({ length: o.hosts }, (_, h) => Math.floor(this.baseMs / 1000 - this.uptimeS[h]!));
    const series: NodeSeries[] = [];
    for (const [name, type, make] of FAMILIES) {
      const family = type === 'counter' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
      for (let h = 0; h < o.hosts; h++) {
        const common = { instance: `host-${String(h).padStart(3, '0')}:9100`, job: 'node' };
        for (const [extra, model] of make(h)) {
          const mm = name === 'node_boot_time_seconds' ? { ...model, a: this.bootS[h]! } : model;
          series.push({ labels: labelsFromObject({ __name__: name, ...common, ...extra }), name, family, type, host: h, model: mm });
        }
      }
    }
    this.series = series;
    this.families = FAMILIES.length;
    let minOff = Infinity;
    let maxOff = -Infinity;
    for (const off of this.offsets) {
      minOff = Math.min(minOff, off);
      maxOff = Math.max(maxOff, off);
    }
    this.firstMs = this.baseMs + minOff;
    this.lastMs = this.baseMs + (this.scrapes - 1) * o.intervalMs + maxOff;
    this.samples = series.length * this.scrapes;
  }

  timestamp(host: number, k: number): number {
    return this.baseMs + k * this.intervalMs + this.offsets[host]!;
  }

  /** How many of the workload's samples have a timestamp below `t`. */
  samplesBefore(t: number): number {
    const perHost = new Float64Array(this.hosts);
    for (const s of this.series) perHost[s.host]!++;
    let n = 0;
    for (let h = 0; h < this.hosts; h++) {
      const k = Math.ceil((t - this.baseMs - this.offsets[h]!) / this.intervalMs);
      n += perHost[h]! * Math.max(0, Math.min(this.scrapes, k));
    }
    return n;
  }

  /** The oldest sample timestamp at or after `t` (Infinity when there is none). */
  firstSampleAtOrAfter(t: number): number {
    let best = Infinity;
    for (let h = 0; h < this.hosts; h++) {
      const k = Math.max(0, Math.ceil((t - this.baseMs - this.offsets[h]!) / this.intervalMs));
      if (k < this.scrapes) best = Math.min(best, this.timestamp(h, k));
    }
    return best;
  }

  /** Sets `state[at]` to series i's state before scrape 0. */
  init(i: number, state: Float64Array, at: number): void {
    const s = this.series[i]!;
    const up = this.uptimeS[s.host]!;
    const { kind, a, b } = s.model;
    const r = 0.8 + 0.4 * unit(i, 13);
    switch (kind) {
      case K.Ticks:
        state[at] = Math.round(a * up * 100 * r);
        break;
      case K.Count:
        state[at] = Math.round((a * up * r) / (b || 1)) * (b || 1);
        break;
      case K.Rare:
        state[at] = Math.floor(unit(i, 14) * 40);
        break;
      case K.Millis:
        state[at] = Math.round(a * up * 1000 * r);
        break;
      case K.Walk:
        state[at] = a * r;
        break;
      case K.Load:
        state[at] = a;
        break;
      default:
        state[at] = 0;
    }
  }

  /**
   * Advances series i to scrape k (state in `state[at]`, updated) and returns its value there. Must be
   * called for k = 0, 1, 2, ... in order for each series.
   */
  step(i: number, k: number, state: Float64Array, at: number): number {
    const s = this.series[i]!;
    const { kind, a, b, c } = s.model;
    const t = this.timestamp(s.host, k);
    const r = unit(i * 16 + 1, k);
    const sec = this.intervalMs / 1000;
    // A daily cycle (busy in the day, quiet at night), phase per host.
    const day = 1 + 0.4 * Math.sin((2 * Math.PI * (t % DAY_MS)) / DAY_MS + 0.7 * s.host);
    switch (kind) {
      case K.Const:
        return a;
      case K.Ticks: {
        state[at] = state[at]! + Math.max(0, Math.round(a * sec * 100 * day * (0.7 + 0.6 * r)));
        return state[at]! / 100;
      }
      case K.Count: {
        const g = b || 1;
        state[at] = state[at]! + Math.round((a * sec * day * (0.4 + 1.2 * r)) / g) * g;
        return state[at]!;
      }
      case K.Rare:
        if (r < a) state[at] = state[at]! + 1;
        return state[at]!;
      case K.Millis: {
        state[at] = state[at]! + Math.round(a * sec * 1000 * day * (0.5 + r));
        return state[at]! / 1000;
      }
      case K.Walk: {
        // Mean reversion towards the daily level plus noise; most scrapes see a change.
        const target = a * (0.95 + 0.05 * day);
        state[at] = state[at]! + (target - state[at]!) * 0.02 + b * (r - 0.5) * 2;
        return Math.max(0, Math.round(state[at]! / c) * c);
      }
      case K.Small:
        return Math.floor(a * day * 2 * r + (r > 0.97 ? 3 : 0));
      case K.Load: {
        state[at] = state[at]! * b + a * day * (0.3 + 1.4 * r) * (1 - b);
        return Math.round(state[at]! * 100) / 100;
      }
      case K.Freq:
        return r < 0.6 ? a : r < 0.85 ? a * 0.5 : a * 1.25;
      case K.Time:
        return (t + Math.floor(unit(i * 16 + 2, k) * 5_000_000) / 1e6) / 1000;
    }
  }

  /** Series i's whole history, scrape by scrape (for the OpenMetrics file). */
  *history(i: number): Generator<[t: number, v: number]> {
    const st = new Float64Array(1);
    this.init(i, st, 0);
    const h = this.series[i]!.host;
    for (let k = 0; k < this.scrapes; k++) yield [this.timestamp(h, k), this.step(i, k, st, 0)];
  }
}

// ---------------------------------------------------------------------------------------------------
// OpenMetrics (promtool tsdb create-blocks-from openmetrics)

function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** `name{a="x",b="y"} ` of a series in the OpenMetrics text format (labels in their sorted order). */
export function openMetricsPrefix(labels: Labels): string {
  let name = '';
  const parts: string[] = [];
  for (let j = 0; j < labels.length; j += 2) {
    if (labels[j] === '__name__') name = labels[j + 1]!;
    else parts.push(`${labels[j]}="${escapeLabelValue(labels[j + 1]!)}"`);
  }
  return parts.length === 0 ? `${name} ` : `${name}{${parts.join(',')}} `;
}

/** A float as OpenMetrics writes it: shortest round-trip decimal (Go's ParseFloat reads it back exactly). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export interface OpenMetricsFile {
  path: string;
  /** The file holds the samples with timestamps in [startMs, endMs). */
  startMs: number;
  endMs: number;
  samples: number;
  bytes: number;
}

export interface WrittenFiles {
  files: number;
  samples: number;
  bytes: number;
  ms: number;
}

/**
 * Streams the workload as OpenMetrics files, one per `windowMs` window aligned to the epoch (0: one file
 * for everything): in each, one `# TYPE` line per family, each series' samples of the window in time order
 * (the series of a family contiguous), then `# EOF`. Holds at most ~4 MiB of text.
 *
 * promtool parses its whole input once per block it creates, so one file per block keeps that to two
 * passes (min/max, then the block) however long the data is. `onFile` is called with each complete file
 * and may work on it while the next one is written; the writer waits for the previous call before it
 * makes the next (so at most two files exist at a time, and the consumer may delete them).
 */
export async function writeOpenMetricsFiles(
  w: NodeWorkload,
  o: { dir: string; windowMs: number },
  onFile: (f: OpenMetricsFile) => Promise<void>,
): Promise<WrittenFiles> {
  const t0 = performance.now();
  const state = new Float64Array(w.series.length);
  for (let i = 0; i < w.series.length; i++) w.init(i, state, i);
  const first = o.windowMs > 0 ? Math.floor(w.firstMs / o.windowMs) * o.windowMs : -Infinity;
  const last = o.windowMs > 0 ? w.lastMs : -Infinity;
  const prefixes = w.series.map((s) => openMetricsPrefix(s.labels));
  const total: WrittenFiles = { files: 0, samples: 0, bytes: 0, ms: 0 };
  let previous: Promise<void> | null = null;
  for (let start = first; start <= last; start += o.windowMs) {
    const end = o.windowMs > 0 ? start + o.windowMs : Infinity;
    const path = `${o.dir}/${o.windowMs > 0 ? `window-${start}` : 'all'}.om`;
    const f: OpenMetricsFile = { path, startMs: start, endMs: end, samples: 0, bytes: 0 };
    const fh = await open(path, 'w');
    let buf: string[] = [];
    let pending = 0;
    const flush = async (): Promise<void> => {
      if (buf.length === 0) return;
      const b = Buffer.from(buf.join(''), 'utf8');
      buf = [];
      pending = 0;
      await fh.write(b);
      f.bytes += b.length;
    };
    try {
      let family = '';
      for (let i = 0; i < w.series.length; i++) {
        const s = w.series[i]!;
        if (s.family !== family) {
          family = s.family;
          buf.push(`# TYPE ${family} ${s.type}\n`);
        }
        // This series' scrapes in [start, end): its state carries over from the previous window.
        const off = w.baseMs + w.offsets[s.host]!;
        const k0 = Math.max(0, Math.ceil((start - off) / w.intervalMs));
        const k1 = Math.min(w.scrapes, end === Infinity ? w.scrapes : Math.ceil((end - off) / w.intervalMs));
        const prefix = prefixes[i]!;
        for (let k = k0; k < k1; k++) {
          const line = `${prefix}${formatValue(w.step(i, k, state, i))} ${w.timestamp(s.host, k) / 1000}\n`;
          buf.push(line);
          pending += line.length;
          if (pending >= 4 * MiB) await flush();
        }
        if (k1 > k0) f.samples += k1 - k0;
      }
      buf.push('# EOF\n');
      await flush();
    } finally {
      await fh.close();
    }
    total.files++;
    total.samples += f.samples;
    total.bytes += f.bytes;
    if (previous !== null) await previous;
    previous = onFile(f);
    if (o.windowMs <= 0) break;
  }
  if (previous !== null) await previous;
  total.ms = performance.now() - t0;
  return total;
}

// ---------------------------------------------------------------------------------------------------
// Remote write in time order

export interface RemoteWriteSlice {
  /** Scrapes [k0, k1). */
  k0: number;
  k1: number;
  /** shards[w] = requests of shard w (series w, w + shards, ...), in order. */
  shards: EncodedRequest[][];
  samples: number;
  bytes: number;
}

/**
 * Produces the remote-write 1.0 requests slice by slice (`sliceScrapes` scrapes of every series per slice),
 * keeping every series' state between slices; slices must be consumed in order. Sending slice i fully
 * before slice i+1 keeps the whole stream in time order within one slice's span.
 */
export class RemoteWriteSlicer {
  private readonly state: Float64Array;
  private k = 0;

  constructor(
    private readonly w: NodeWorkload,
    private readonly o: { sliceScrapes: number; shards: number; samplesPerRequest: number },
  ) {
    this.state = new Float64Array(w.series.length);
    for (let i = 0; i < w.series.length; i++) w.init(i, this.state, i);
  }

  get done(): boolean {
    return this.k >= this.w.scrapes;
  }

  get slices(): number {
    return Math.ceil(this.w.scrapes / this.o.sliceScrapes);
  }

  next(): RemoteWriteSlice | null {
    if (this.done) return null;
    const { w } = this;
    const k0 = this.k;
    const k1 = Math.min(w.scrapes, k0 + this.o.sliceScrapes);
    this.k = k1;
    const per = k1 - k0;
    const shards: EncodedRequest[][] = [];
    let samples = 0;
    let bytes = 0;
    const n = w.series.length;
    const nShards = Math.max(1, Math.min(this.o.shards, n));
    for (let sh = 0; sh < nShards; sh++) {
      const queue: EncodedRequest[] = [];
      let batch: WriteSeries[] = [];
      let inBatch = 0;
      const flush = (): void => {
        if (inBatch === 0) return;
        const body = snappyCompress(encodeWriteV1(batch)) as Buffer;
        queue.push({ body, samples: inBatch });
        samples += inBatch;
        bytes += body.length;
        batch = [];
        inBatch = 0;
      };
      for (let i = sh; i < n; i += nShards) {
        const s = w.series[i]!;
        const ts = new Array<number>(per);
        const vs = new Float64Array(per);
        for (let k = k0; k < k1; k++) {
          ts[k - k0] = w.timestamp(s.host, k);
          vs[k - k0] = w.step(i, k, this.state, i);
        }
        batch.push({ labels: s.labels, timestamps: ts, values: vs });
        inBatch += per;
        if (inBatch >= this.o.samplesPerRequest) flush();
      }
      flush();
      shards.push(queue);
    }
    return { k0, k1, shards, samples, bytes };
  }
}
