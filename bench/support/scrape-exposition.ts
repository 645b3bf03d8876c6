/**
 * The expositions of the scrape benchmark's targets: per target exactly `series` samples in the
 * Prometheus text format 0.0.4, shaped like a node exporter's page (HELP and TYPE for every family, Go
 * runtime summary, per-CPU / per-disk / per-filesystem / per-device families, untyped netstat counters,
 * one request-duration histogram), filled up to the requested size with `node_interrupts_total`, which on
 * real hosts is the family that runs into the hundreds of series.
 *
 * Values are a pure function of (target, series, time), so two scrapers asking at the same moment see the
 * same numbers and every scrape sees new ones: counters grow with a per-series rate since a per-target boot
 * time (whole numbers, 1/100 s CPU ticks, or free floats), gauges wander on a slow sine. Numbers are
 * printed as Go's client library prints them (`1.6647753728e+10`), so the parsers do the same work as
 * against a real exporter.
 */
import { escapeLabelValue, formatGoFloat } from '../../src/exposition/index.js';

const enum Kind {
  Const,
  Counter,
  Gauge,
}

const enum Round {
  None,
  Integer,
  Cents,
}

interface SeriesModel {
  /** `# HELP` / `# TYPE` lines when this series opens a family, else ''. */
  readonly head: string;
  /** `name{labels} ` */
  readonly prefix: string;
  readonly kind: Kind;
  /** Const: the value. Counter: value at boot. Gauge: mean. */
  readonly base: number;
  /** Counter: increase per second. Gauge: relative amplitude. */
  readonly rate: number;
  /** Gauge: period in seconds and phase. */
  readonly period: number;
  readonly phase: number;
  readonly round: Round;
}

/** A small deterministic PRNG (mulberry32): the same target always gets the same series and parameters. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Labels = readonly (readonly [string, string])[];
type MetricType = 'counter' | 'gauge' | 'untyped' | 'summary' | 'histogram';

function labelText(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** One family's series; `groups` are indivisible (a histogram's buckets, sum and count stay together). */
interface Family {
  name: string;
  help: string;
  type: MetricType;
  groups: SeriesModel[][];
}

/** Builds the families of one target; `rnd` varies magnitudes so targets differ. */
class Builder {
  readonly families: Family[] = [];
  constructor(private readonly rnd: () => number) {}

  private jitter(x: number, spread = 0.5): number {
    return x * (1 - spread / 2 + spread * this.rnd());
  }

  private model(name: string, labels: Labels, kind: Kind, base: number, rate: number, round: Round): SeriesModel {
    return {
      head: '',
      prefix: `${name}${labelText(labels)} `,
      kind,
      base,
      rate,
      period: 600 + this.rnd() * 3000,
      phase: this.rnd() * 2 * Math.PI,
      round,
    };
  }

  private family(name: string, help: string, type: MetricType): Family {
    const f: Family = { name, help, type, groups: [] };
    this.families.push(f);
    return f;
  }

  counter(name: string, help: string, labelSets: Labels[], rate: number, round: Round, type: MetricType = 'counter'): void {
    const f = this.family(name, help, type);
    for (const ls of labelSets) f.groups.push([this.model(name, ls, Kind.Counter, 0, this.jitter(rate), round)]);
  }

  gauge(name: string, help: string, labelSets: Labels[], mean: number, amplitude: number, round: Round, type: MetricType = 'gauge'): void {
    const f = this.family(name, help, type);
    for (const ls of labelSets) f.groups.push([this.model(name, ls, Kind.Gauge, this.jitter(mean), amplitude, round)]);
  }

  constant(name: string, help: string, labelSets: Labels[], value: number): void {
    const f = this.family(name, help, 'gauge');
    for (const ls of labelSets) f.groups.push([this.model(name, ls, Kind.Const, value, 0, Round.None)]);
  }

  /** A summary: quantile gauges, then _sum and _count counters. */
  summary(name: string, help: string, quantiles: readonly number[], median: number, perSecond: number): void {
    const f = this.family(name, help, 'summary');
    const rate = this.jitter(perSecond);
    const group = quantiles.map((q) =>
      this.model(name, [['quantile', formatGoFloat(q)]], Kind.Gauge, median * (0.2 + 1.6 * q), 0.3, Round.None),
    );
    group.push(this.model(`${name}_sum`, [], Kind.Counter, 0, rate * median, Round.None));
    group.push(this.model(`${name}_count`, [], Kind.Counter, 0, rate, Round.Integer));
    f.groups.push(group);
  }

  /** A histogram per label set: cumulative buckets (monotone in `le` at every instant), _sum, _count. */
  histogram(name: string, help: string, labelSets: Labels[], bounds: readonly number[], median: number, perSecond: number): void {
    const f = this.family(name, help, 'histogram');
    for (const ls of labelSets) {
      const rate = this.jitter(perSecond, 1.5);
      const group: SeriesModel[] = [];
      for (const le of [...bounds, Infinity]) {
        // Log-logistic CDF around the median: the share of requests at most `le` seconds.
        const cdf = le === Infinity ? 1 : 1 / (1 + (median / le) ** 2.5);
        group.push(this.model(`${name}_bucket`, [...ls, ['le', formatGoFloat(le)]], Kind.Counter, 0, rate * cdf, Round.Integer));
      }
      group.push(this.model(`${name}_sum`, ls, Kind.Counter, 0, rate * median * 1.1, Round.None));
      group.push(this.model(`${name}_count`, ls, Kind.Counter, 0, rate, Round.Integer));
      f.groups.push(group);
    }
  }
}

const CPU_MODES: readonly (readonly [string, number])[] = [
  ['idle', 0.78],
  ['iowait', 0.02],
  ['irq', 0.004],
  ['nice', 0.003],
  ['softirq', 0.012],
  ['steal', 0.002],
  ['system', 0.06],
  ['user', 0.12],
];
const MEMORY_FIELDS = (
  'MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active_anon Inactive_anon Active_file ' +
  'Inactive_file Unevictable Mlocked SwapTotal SwapFree Dirty Writeback AnonPages Mapped Shmem KReclaimable Slab ' +
  'SReclaimable SUnreclaim KernelStack PageTables NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS ' +
  'VmallocTotal VmallocUsed VmallocChunk Percpu HardwareCorrupted AnonHugePages ShmemHugePages ShmemPmdMapped ' +
  'FileHugePages FilePmdMapped HugePages_Total HugePages_Free HugePages_Rsvd HugePages_Surp Hugepagesize Hugetlb ' +
  'DirectMap4k DirectMap2M DirectMap1G'
).split(' ');
const DISK_COUNTERS: readonly (readonly [string, string, number, Round])[] = [
  ['reads_completed_total', 'Reads completed.', 40, Round.Integer],
  ['reads_merged_total', 'Adjacent reads merged.', 3, Round.Integer],
  ['read_bytes_total', 'Bytes read.', 2.5e6, Round.Integer],
  ['read_time_seconds_total', 'Seconds spent reading.', 0.02, Round.None],
  ['writes_completed_total', 'Writes completed.', 90, Round.Integer],
  ['writes_merged_total', 'Adjacent writes merged.', 30, Round.Integer],
  ['written_bytes_total', 'Bytes written.', 4e6, Round.Integer],
  ['write_time_seconds_total', 'Seconds spent writing.', 0.08, Round.None],
  ['io_time_seconds_total', 'Seconds spent doing I/O.', 0.05, Round.None],
  ['io_time_weighted_seconds_total', 'Weighted seconds spent doing I/O.', 0.1, Round.None],
  ['discards_completed_total', 'Discards completed.', 0.5, Round.Integer],
  ['discards_merged_total', 'Adjacent discards merged.', 0.01, Round.Integer],
  ['discarded_sectors_total', 'Sectors discarded.', 300, Round.Integer],
  ['discard_time_seconds_total', 'Seconds spent discarding.', 0.001, Round.None],
  ['flush_requests_total', 'Flush requests completed.', 2, Round.Integer],
  ['flush_requests_time_seconds_total', 'Seconds spent flushing.', 0.002, Round.None],
];
const FILESYSTEMS: readonly (readonly [string, string, string, number])[] = [
  ['/dev/nvme0n1p2', 'ext4', '/', 256 * 2 ** 30],
  ['/dev/nvme0n1p1', 'vfat', '/boot/efi', 512 * 2 ** 20],
  ['/dev/sda1', 'xfs', '/var/lib/data', 2 * 2 ** 40],
  ['tmpfs', 'tmpfs', '/run', 1.6 * 2 ** 30],
  ['tmpfs', 'tmpfs', '/run/lock', 5 * 2 ** 20],
  ['/dev/mapper/vg0-logs', 'ext4', '/var/log', 64 * 2 ** 30],
];
const NET_DEVICES = ['eth0', 'eth1', 'lo', 'docker0', 'veth1a2b3c4', 'wg0'];
const NET_FIELDS: readonly (readonly [string, number])[] = [
  ['bytes', 3e5],
  ['packets', 400],
  ['errs', 0.001],
  ['drop', 0.01],
  ['fifo', 0.0001],
  ['compressed', 0],
];
const NETSTAT = (
  'Icmp_InErrors Icmp_InMsgs Icmp_OutMsgs Ip_Forwarding IpExt_InOctets IpExt_OutOctets Ip_InReceives Ip_OutRequests ' +
  'TcpExt_ListenDrops TcpExt_ListenOverflows TcpExt_SyncookiesFailed TcpExt_SyncookiesRecv TcpExt_SyncookiesSent ' +
  'TcpExt_TCPSynRetrans TcpExt_TCPTimeouts Tcp_ActiveOpens Tcp_CurrEstab Tcp_InErrs Tcp_InSegs Tcp_OutRsts ' +
  'Tcp_OutSegs Tcp_PassiveOpens Tcp_RetransSegs Udp6_InDatagrams Udp6_InErrors Udp6_NoPorts Udp6_OutDatagrams ' +
  'Udp_InDatagrams Udp_InErrors Udp_NoPorts Udp_OutDatagrams Udp_RcvbufErrors Udp_SndbufErrors UdpLite_InErrors'
).split(' ');
const VMSTAT = 'oom_kill pgfault pgmajfault pgpgin pgpgout pswpin pswpout'.split(' ');
const COLLECTORS = (
  'arp bcache bonding btrfs conntrack cpu cpufreq diskstats dmi edac entropy fibrechannel filefd filesystem hwmon ' +
  'infiniband ipvs loadavg mdadm meminfo netclass netdev netstat nfs nfsd nvme os powersupplyclass pressure rapl ' +
  'schedstat selinux sockstat softnet stat tapestats textfile thermal_zone time timex udp_queues uname vmstat xfs zfs'
).split(' ');
const IRQ_NAMED = 'NMI LOC SPU PMI IWI RTR RES CAL TLB TRM THR DFR MCE MCP ERR MIS PIN NPI PIW'.split(' ');
const IRQ_DEVICES = ['IR-IO-APIC 2-edge timer', 'IR-IO-APIC 8-edge rtc0', 'IR-IO-APIC 9-fasteoi acpi', 'IR-PCI-MSI 327680-edge xhci_hcd'];

function catalog(rnd: () => number): Builder {
  const b = new Builder(rnd);
  const cpus = 8;
  const cpuLabels = Array.from({ length: cpus }, (_, c) => [['cpu', String(c)]] as Labels);

  b.summary('go_gc_duration_seconds', 'Pause times of the garbage collector.', [0, 0.25, 0.5, 0.75, 1], 4e-5, 0.05);
  b.gauge('go_goroutines', 'Goroutines that currently exist.', [[]], 9, 0.2, Round.Integer);
  b.constant('go_info', 'Version of the Go runtime.', [[['version', 'go1.19.8']]], 1);
  b.gauge('go_memstats_alloc_bytes', 'Heap bytes allocated and in use.', [[]], 3.2e6, 0.4, Round.Integer);
  b.counter('go_memstats_alloc_bytes_total', 'Heap bytes allocated, freed or not.', [[]], 2.5e5, Round.Integer);
  b.gauge('go_memstats_heap_inuse_bytes', 'Bytes in in-use heap spans.', [[]], 5.1e6, 0.3, Round.Integer);
  b.counter('go_memstats_mallocs_total', 'Heap objects allocated.', [[]], 3000, Round.Integer);
  b.gauge('go_memstats_sys_bytes', 'Bytes obtained from the operating system.', [[]], 2.4e7, 0.05, Round.Integer);
  b.gauge('go_threads', 'Operating system threads created.', [[]], 9, 0, Round.Integer);
  b.constant('node_boot_time_seconds', 'When the host booted, in Unix seconds.', [[]], 1.7e9 + Math.floor(rnd() * 1e6));
  b.counter('node_context_switches_total', 'Context switches.', [[]], 9000, Round.Integer);
  b.counter('node_forks_total', 'Processes forked.', [[]], 12, Round.Integer);
  b.counter('node_intr_total', 'Interrupts serviced.', [[]], 6000, Round.Integer);
  b.gauge('node_load1', 'One-minute load average.', [[]], 1.2, 0.5, Round.Cents);
  b.gauge('node_load5', 'Five-minute load average.', [[]], 1.1, 0.3, Round.Cents);
  b.gauge('node_load15', 'Fifteen-minute load average.', [[]], 1.0, 0.2, Round.Cents);
  b.gauge('node_procs_blocked', 'Processes blocked on I/O.', [[]], 0.4, 1, Round.Integer);
  b.gauge('node_procs_running', 'Processes in a runnable state.', [[]], 3, 0.6, Round.Integer);

  const cpuModes = cpuLabels.flatMap((c) => CPU_MODES.map(([m]) => [...c, ['mode', m]] as Labels));
  {
    // CPU seconds in 1/100 s ticks, each mode at its own share of one CPU.
    const f: Family = { name: 'node_cpu_seconds_total', help: 'CPU time spent in each mode, in seconds.', type: 'counter', groups: [] };
    b.families.push(f);
    for (const ls of cpuModes) {
      const share = CPU_MODES.find(([m]) => m === ls[1]![1])![1];
      f.groups.push([{ head: '', prefix: `node_cpu_seconds_total${labelText(ls)} `, kind: Kind.Counter, base: 0, rate: share * (0.8 + 0.4 * rnd()), period: 1, phase: 0, round: Round.Cents }]);
    }
  }
  b.counter('node_cpu_guest_seconds_total', 'CPU time spent running guests, in seconds.', cpuLabels.flatMap((c) => [[...c, ['mode', 'nice']], [...c, ['mode', 'user']]] as Labels[]), 0.001, Round.Cents);
  b.gauge('node_cpu_scaling_frequency_hertz', 'Current CPU frequency.', cpuLabels, 2.4e9, 0.3, Round.Integer);

  for (const field of MEMORY_FIELDS) {
    b.gauge(`node_memory_${field}_bytes`, `Memory information field ${field}.`, [[]], 2 ** 20 * (1 + rnd() * 16000), 0.02, Round.Integer);
  }

  const disks = ['nvme0n1', 'sda', 'sdb', 'dm-0'].map((d) => [['device', d]] as Labels);
  for (const [name, help, rate, round] of DISK_COUNTERS) b.counter(`node_disk_${name}`, help, disks, rate, round);
  b.gauge('node_disk_io_now', 'I/Os in progress.', disks, 0.5, 1, Round.Integer);

  const fsLabels = FILESYSTEMS.map(([device, fstype, mountpoint]) => [['device', device], ['fstype', fstype], ['mountpoint', mountpoint]] as Labels);
  const fsSize = FILESYSTEMS.map(([, , , size]) => size);
  b.gauge('node_filesystem_avail_bytes', 'Bytes available to non-root users.', fsLabels, fsSize[0]! * 0.4, 0.01, Round.Integer);
  b.gauge('node_filesystem_device_error', 'Whether statfs failed on the device.', fsLabels, 0, 0, Round.Integer);
  b.gauge('node_filesystem_files', 'Inodes.', fsLabels, 1.6e7, 0, Round.Integer);
  b.gauge('node_filesystem_files_free', 'Free inodes.', fsLabels, 1.2e7, 0.01, Round.Integer);
  b.gauge('node_filesystem_free_bytes', 'Free bytes.', fsLabels, fsSize[0]! * 0.45, 0.01, Round.Integer);
  b.gauge('node_filesystem_readonly', 'Whether the filesystem is mounted read-only.', fsLabels, 0, 0, Round.Integer);
  {
    const f: Family = { name: 'node_filesystem_size_bytes', help: 'Filesystem size in bytes.', type: 'gauge', groups: [] };
    b.families.push(f);
    fsLabels.forEach((ls, i) =>
      f.groups.push([{ head: '', prefix: `node_filesystem_size_bytes${labelText(ls)} `, kind: Kind.Const, base: fsSize[i]!, rate: 0, period: 1, phase: 0, round: Round.None }]),
    );
  }

  b.histogram(
    'http_request_duration_seconds',
    'Latency of the HTTP requests this exporter served.',
    [
      [['code', '200'], ['handler', '/metrics'], ['method', 'GET']],
      [['code', '200'], ['handler', '/'], ['method', 'GET']],
      [['code', '404'], ['handler', '/'], ['method', 'GET']],
      [['code', '500'], ['handler', '/metrics'], ['method', 'GET']],
    ],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    0.03,
    0.07,
  );
  b.gauge('node_hwmon_temp_celsius', 'Hardware monitor temperature.', Array.from({ length: 6 }, (_, i) => [['chip', 'platform_coretemp_0'], ['sensor', `temp${i + 1}`]] as Labels), 48, 0.15, Round.None);

  const netdevs = NET_DEVICES.map((d) => [['device', d]] as Labels);
  for (const dir of ['receive', 'transmit'] as const) {
    for (const [field, rate] of NET_FIELDS) {
      b.counter(`node_network_${dir}_${field}_total`, `Network device statistic ${dir}_${field}.`, netdevs, rate, Round.Integer);
    }
  }
  b.counter('node_network_receive_multicast_total', 'Network device statistic receive_multicast.', netdevs, 0.2, Round.Integer);
  b.counter('node_network_receive_frame_total', 'Network device statistic receive_frame.', netdevs, 0, Round.Integer);
  b.counter('node_network_transmit_colls_total', 'Network device statistic transmit_colls.', netdevs, 0, Round.Integer);
  b.counter('node_network_transmit_carrier_total', 'Network device statistic transmit_carrier.', netdevs, 0, Round.Integer);
  b.constant('node_network_mtu_bytes', 'MTU of the device.', netdevs, 1500);
  b.constant('node_network_up', 'Whether the operational state is up.', netdevs, 1);
  b.constant('node_network_speed_bytes', 'Link speed in bytes per second.', netdevs, 1.25e9);
  b.constant(
    'node_network_info',
    'Non-numeric data of the device; the value is always 1.',
    NET_DEVICES.map((d, i) => [['address', `02:42:ac:11:00:${(16 + i).toString(16)}`], ['broadcast', 'ff:ff:ff:ff:ff:ff'], ['device', d], ['duplex', 'full'], ['ifalias', ''], ['operstate', 'up']] as Labels),
    1,
  );

  for (const field of NETSTAT) b.counter(`node_netstat_${field}`, `Statistic ${field.replace('_', '')}.`, [[]], 50 * rnd(), Round.Integer, 'untyped');
  for (const field of VMSTAT) b.counter(`node_vmstat_${field}`, `/proc/vmstat information field ${field}.`, [[]], 100 * rnd(), Round.Integer, 'untyped');
  const collectors = COLLECTORS.map((c) => [['collector', c]] as Labels);
  b.gauge('node_scrape_collector_duration_seconds', 'How long a collector took.', collectors, 0.002, 0.5, Round.None);
  b.gauge('node_scrape_collector_success', 'Whether a collector succeeded.', collectors, 1, 0, Round.Integer);
  b.counter('node_softnet_dropped_total', 'Packets dropped.', cpuLabels, 0, Round.Integer);
  b.counter('node_softnet_processed_total', 'Packets processed.', cpuLabels, 300, Round.Integer);
  b.counter('node_softnet_times_squeezed_total', 'Times processing packets ran out of quota.', cpuLabels, 0.05, Round.Integer);
  b.gauge('promhttp_metric_handler_requests_in_flight', 'Scrapes being served.', [[]], 1, 0, Round.Integer);
  b.counter('promhttp_metric_handler_requests_total', 'Scrapes served, by HTTP status code.', [[['code', '200']], [['code', '500']], [['code', '503']]], 0.07, Round.Integer);
  return b;
}

/** Label sets of node_interrupts_total, as many as asked: numbered IRQs and named ones, per CPU. */
function interruptLabels(n: number, cpus: number): Labels[] {
  const out: Labels[] = [];
  for (let irq = 0; out.length < n; irq++) {
    const named = irq < IRQ_NAMED.length;
    const type = named ? IRQ_NAMED[irq]! : String(irq - IRQ_NAMED.length);
    const devices = named ? '' : irq % 5 === 0 ? `eth0-TxRx-${irq % 8}` : IRQ_DEVICES[irq % IRQ_DEVICES.length]!;
    for (let c = 0; c < cpus && out.length < n; c++) out.push([['cpu', String(c)], ['devices', devices], ['type', type]]);
  }
  return out;
}

export interface TargetPageInfo {
  series: number;
  families: number;
  /** Families by type, e.g. { counter: 120, gauge: 90, ... }. */
  types: Record<string, number>;
}

/** One target's page: `render(nowMs)` gives the body a scrape at that moment returns. */
export class TargetPage {
  private readonly models: SeriesModel[];
  private readonly bootSec: number;
  readonly info: TargetPageInfo;

  constructor(target: number, series: number) {
    if (!Number.isInteger(series) || series < 1) throw new Error(`TargetPage: series must be a positive integer, got ${series}`);
    const rnd = prng(0x5eed0000 + target * 7919);
    const b = catalog(rnd);
    // Whole groups while they fit, so no histogram loses its +Inf bucket; the rest is interrupts.
    const kept: Family[] = [];
    let count = 0;
    for (const f of b.families) {
      const groups = f.groups.filter((g) => {
        if (count + g.length > series) return false;
        count += g.length;
        return true;
      });
      if (groups.length > 0) kept.push({ ...f, groups });
    }
    if (count < series) {
      const irq: Family = { name: 'node_interrupts_total', help: 'Interrupts serviced, per CPU and interrupt.', type: 'counter', groups: [] };
      for (const ls of interruptLabels(series - count, 8)) {
        const rate = rnd() < 0.3 ? 0 : 10 ** (rnd() * 4 - 1);
        irq.groups.push([{ head: '', prefix: `node_interrupts_total${labelText(ls)} `, kind: Kind.Counter, base: 0, rate, period: 1, phase: 0, round: Round.Integer }]);
      }
      kept.push(irq);
    }
    const types: Record<string, number> = {};
    this.models = [];
    for (const f of kept) {
      types[f.type] = (types[f.type] ?? 0) + 1;
      f.groups.flat().forEach((m, i) => this.models.push(i === 0 ? { ...m, head: `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n` } : m));
    }
    // Booted 1 to 40 days ago: counters start large, as on long-running hosts.
    this.bootSec = Math.floor(Date.now() / 1000) - Math.floor(86_400 * (1 + 39 * rnd()));
    this.info = { series: this.models.length, families: kept.length, types };
  }

  /** The value of series `i` at `nowMs` (exposed for tests). */
  value(i: number, nowMs: number): number {
    const m = this.models[i]!;
    const up = Math.max(0, nowMs / 1000 - this.bootSec);
    let v: number;
    switch (m.kind) {
      case Kind.Const:
        return m.base;
      case Kind.Counter:
        v = m.base + m.rate * up;
        break;
      case Kind.Gauge:
        v = m.base * (1 + m.rate * Math.sin((2 * Math.PI * up) / m.period + m.phase));
        break;
    }
    return m.round === Round.Integer ? Math.floor(v) : m.round === Round.Cents ? Math.floor(v * 100) / 100 : v;
  }

  /** The text-format body of a scrape at `nowMs`. */
  render(nowMs: number): string {
    const parts = new Array<string>(this.models.length);
    for (let i = 0; i < this.models.length; i++) {
      const m = this.models[i]!;
      parts[i] = m.head + m.prefix + formatGoFloat(this.value(i, nowMs));
    }
    return parts.join('\n') + '\n';
  }
}
