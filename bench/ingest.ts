/**
 * Ingest benchmark: one pre-encoded remote-write 1.0 workload (node-exporter-like series) sent to Argus,
 * Prometheus 2.42 (--web.enable-remote-write-receiver) and VictoriaMetrics 1.79, one server after the other.
 * For each: samples/s (wall clock), server CPU seconds per million samples (utime+stime from /proc), peak
 * RSS (VmHWM), RSS per active series (VmRSS after the run / series), and the ratios Argus/peer.
 *
 * Sizing (environment): BENCH_SERIES (16000), BENCH_SAMPLES (6000000, warm-up included),
 * BENCH_SAMPLES_PER_REQUEST (2000), BENCH_CONCURRENCY (8), BENCH_WARMUP (fraction, 0.05),
 * BENCH_TIMEOUT_S (per server and phase, 120), BENCH_SERVERS (comma list, default all:
 * argus,prometheus,victoria-metrics). BENCH_ARGUS_CPU_PROF=DIR runs Argus under `node --cpu-prof` and
 * leaves the profile in DIR (summarise it with `node --import tsx bench/profile-top.ts DIR/*.cpuprofile`);
 * the numbers of such a run are not representative.
 */
import { startGuardedArgus } from './support/argus-guard.js';
import { envFloat, envInt } from './support/env.js';
import { sumMetric } from './support/exposition-sum.js';
import { peerBinary, startPrometheus, startVictoriaMetrics } from '../test/support/peers.js';
import { cpuSeconds, memoryStatus } from './support/proc.js';
import { sendAll, type SendResult } from './support/remote-write-client.js';
import { formatTable, mib, num, ratio } from './support/table.js';
import { versionOf } from './support/version.js';
import { encodeWorkload, type EncodedRequest, type Workload } from './support/workload.js';

interface Server {
  pid: number;
  url: string;
  stop(): Promise<void>;
  logs(): string;
}

interface Target {
  key: string;
  title: string;
  path: string;
  /** Why it cannot run here (not installed), or null. */
  missing(): string | null;
  version(): string;
  start(): Promise<Server>;
  /** Self-metrics (summed over their label sets) that show what was stored: a cross-check of the 2xx. */
  stored: { series: string; samples: string };
  /** Further self-metrics worth printing after the run (e.g. how many fsyncs Argus did). */
  extra?: string[];
}

interface Outcome {
  target: Target;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  warmup?: SendResult;
  measured?: SendResult;
  samplesPerSec?: number;
  cpuSec?: number;
  cpuPerMillion?: number;
  clientCpuSec?: number;
  hwm?: number;
  rssAfter?: number;
  rssPerSeries?: number;
  /** VmRSS right after start, before any write. */
  rssIdle?: number;
  /** From the server's /metrics after the run (NaN when absent). */
  storedSeries?: number;
  storedSamples?: number;
  extra?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Servers


const argus: Target = {
  key: 'argus',
  title: 'Argus',
  path: '/api/v1/push',
  missing: () => null,
  version: () => 'this tree (receive role, fsync on)',
  stored: { series: 'argus_head_series', samples: 'argus_head_samples_appended' },
  extra: ['argus_wal_fsyncs', 'argus_wal_bytes_written'],
  async start() {
    const { proc, release } = await startGuardedArgus('receive', 'argus-bench-argus-', (dir) => [`--storage.tsdb.path=${dir}`, '--log.level=warn'], {
      cpuProfile: true,
    });
    return {
      pid: proc.child.pid ?? -1,
      url: proc.url,
      logs: () => proc.logs(),
      async stop() {
        await proc.stop();
        release();
      },
    };
  },
};

const PROMETHEUS_CONFIG = 'global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs: []\n';

const prometheus: Target = {
  key: 'prometheus',
  title: 'Prometheus',
  path: '/api/v1/write',
  missing: () => (peerBinary('prometheus') === null ? 'not installed (apt-get install prometheus)' : null),
  version: () => versionOf(peerBinary('prometheus')!, ['--version'], 'prometheus'),
  stored: { series: 'prometheus_tsdb_head_series', samples: 'prometheus_tsdb_head_samples_appended_total' },
  start: () => startPrometheus({ config: PROMETHEUS_CONFIG, args: ['--web.enable-remote-write-receiver', '--log.level=warn'] }),
};

const victoriaMetrics: Target = {
  key: 'victoria-metrics',
  title: 'VictoriaMetrics',
  path: '/api/v1/write',
  missing: () => (peerBinary('victoria-metrics') === null ? 'not installed (apt-get install victoria-metrics)' : null),
  version: () => versionOf(peerBinary('victoria-metrics')!, ['-version'], 'victoria-metrics'),
  stored: { series: 'vm_new_timeseries_created_total', samples: 'vm_rows_inserted_total' },
  start: () => startVictoriaMetrics(),
};

const TARGETS: readonly Target[] = [argus, prometheus, victoriaMetrics];

// ---------------------------------------------------------------------------------------------------
// One server

async function storedCounts(t: Target, server: Server): Promise<{ series: number; samples: number; extra: string }> {
  try {
    const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const extra = (t.extra ?? []).map((m) => `${m} ${num(sumMetric(text, m))}`).join(', ');
    return { series: sumMetric(text, t.stored.series), samples: sumMetric(text, t.stored.samples), extra };
  } catch {
    return { series: NaN, samples: NaN, extra: '' };
  }
}

function failureText(phase: string, r: SendResult): string | null {
  if (r.failed === 0 && r.unsent === 0) return null;
  const parts = [`${phase}: ${r.failed} of ${r.requests} requests failed`];
  if (r.unsent > 0) parts.push(`${r.unsent} not sent before the deadline`);
  for (const [why, n] of r.errors) parts.push(`${n}x ${why}`);
  return parts.join('; ');
}

async function measure(t: Target, w: Workload, timeoutMs: number, log: (s: string) => void): Promise<Outcome> {
  const why = t.missing();
  if (why !== null) return { target: t, status: 'skipped', reason: why };
  log(`${t.title}: starting`);
  let server: Server;
  try {
    server = await t.start();
  } catch (err) {
    return { target: t, status: 'failed', reason: `did not start: ${(err as Error).message.split('\n').filter((l) => l.trim() !== '').slice(0, 12).join(' | ')}` };
  }
  try {
    const url = server.url + t.path;
    const rssIdle = memoryStatus(server.pid).rss;
    const send = (shards: EncodedRequest[][]) =>
      sendAll({ url, shards, requestTimeoutMs: Math.min(60_000, timeoutMs), deadline: performance.now() + timeoutMs });

    log(`${t.title}: warm-up (${num(w.warmupRequests)} requests, ${num(w.warmupSamples)} samples, not measured)`);
    const warmup = await send(w.warmup);
    const warmFail = failureText('warm-up', warmup);
    if (warmFail !== null) return { target: t, status: 'failed', reason: warmFail, warmup };
    await sleep(1000);

    log(`${t.title}: measuring (${num(w.measuredRequests)} requests, ${num(w.measuredSamples)} samples)`);
    const cpu0 = cpuSeconds(server.pid);
    const client0 = process.cpuUsage();
    const measured = await send(w.measured);
    const cpu1 = cpuSeconds(server.pid);
    const client1 = process.cpuUsage(client0);
    const mem = memoryStatus(server.pid);
    const stored = await storedCounts(t, server);
    const base: Outcome = {
      target: t,
      status: 'ok',
      warmup,
      measured,
      hwm: mem.hwm,
      rssAfter: mem.rss,
      rssIdle,
      storedSeries: stored.series,
      storedSamples: stored.samples,
      extra: stored.extra,
    };
    const fail = failureText('measured', measured);
    if (fail !== null) return { ...base, status: 'failed', reason: fail };
    const acked = warmup.samplesOk + measured.samplesOk;
    if (stored.samples < acked) {
      return { ...base, status: 'failed', reason: `acknowledged ${num(acked)} samples but ${t.stored.samples} says ${num(stored.samples)}` };
    }
    const cpuSec = cpu1 - cpu0;
    const samples = measured.samplesOk;
    return {
      ...base,
      samplesPerSec: samples / (measured.wallMs / 1000),
      cpuSec,
      cpuPerMillion: cpuSec / (samples / 1e6),
      clientCpuSec: (client1.user + client1.system) / 1e6,
      rssPerSeries: mem.rss / w.series,
    };
  } catch (err) {
    return { target: t, status: 'failed', reason: `${(err as Error).message}\n--- server logs (tail) ---\n${server.logs().slice(-2000)}` };
  } finally {
    log(`${t.title}: stopping pid ${server.pid}`);
    await server.stop().catch((err: unknown) => log(`${t.title}: stop failed: ${(err as Error).message}`));
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

function report(w: Workload, outcomes: readonly Outcome[]): string {
  const out: string[] = [];
  const rows = outcomes.map((o) => {
    if (o.status === 'skipped') return [o.target.title, 'SKIPPED', '-', '-', '-', '-', '-', '-'];
    if (o.status === 'failed') {
      return [o.target.title, 'FAILED', '-', '-', o.hwm !== undefined ? mib(o.hwm) : '-', '-', '-', '-'];
    }
    return [
      o.target.title,
      num(o.samplesPerSec!),
      o.cpuPerMillion!.toFixed(2),
      num(1e6 / o.cpuPerMillion!),
      mib(o.hwm!),
      `${num(o.rssPerSeries!)} B`,
      `${num((o.rssAfter! - o.rssIdle!) / w.series)} B`,
      `${o.measured!.p50Ms.toFixed(0)}/${o.measured!.p99Ms.toFixed(0)} ms`,
    ];
  });
  out.push(
    formatTable(['server', 'samples/s', 'CPU s/M samples', 'samples/CPU-s', 'peak RSS', 'RSS/series', '(RSS-idle)/series', 'req p50/p99'], rows),
  );

  const a = outcomes.find((o) => o.target.key === 'argus');
  const peers = outcomes.filter((o) => o.target.key !== 'argus');
  if (a !== undefined && peers.length > 0) {
    const ok = (o: Outcome): boolean => o.status === 'ok';
    const cell = (p: Outcome, f: (o: Outcome) => number): string => (ok(a) && ok(p) ? ratio(f(a), f(p)) : 'n/a');
    const metrics: [string, (o: Outcome) => number][] = [
      ['samples/s (higher is better)', (o) => o.samplesPerSec!],
      ['CPU s/M samples (lower is better)', (o) => o.cpuPerMillion!],
      ['peak RSS (lower is better)', (o) => o.hwm!],
      ['RSS/series (lower is better)', (o) => o.rssPerSeries!],
      ['(RSS-idle)/series (lower is better)', (o) => (o.rssAfter! - o.rssIdle!) / w.series],
    ];
    out.push('');
    out.push(
      formatTable(
        ['Argus / peer', ...peers.map((p) => `Argus/${p.target.title}`)],
        metrics.map(([label, f]) => [label, ...peers.map((p) => cell(p, f))]),
      ),
    );
    const prom = outcomes.find((o) => o.target.key === 'prometheus');
    if (prom !== undefined && ok(a) && ok(prom)) {
      const as = 1e6 / a.cpuPerMillion!;
      const ps = 1e6 / prom.cpuPerMillion!;
      out.push('');
      out.push(
        `Goal (issue 2): Argus samples per CPU-second >= Prometheus: ${as >= ps ? 'MET' : 'NOT MET'} (${num(as)} vs ${num(ps)}, ${ratio(as, ps)})`,
      );
    }
  }

  const notes: string[] = [];
  for (const o of outcomes) {
    if (o.status === 'skipped') notes.push(`${o.target.title}: skipped, ${o.reason}`);
    if (o.status === 'failed') notes.push(`${o.target.title}: FAILED, ${o.reason}`);
    if (o.status === 'ok') {
      notes.push(
        `${o.target.title}: ${num(o.measured!.samplesOk)} samples in ${(o.measured!.wallMs / 1000).toFixed(2)} s, server CPU ${o.cpuSec!.toFixed(2)} s, ` +
          `RSS after ${mib(o.rssAfter!)}, bench client CPU ${o.clientCpuSec!.toFixed(2)} s; ` +
          `server reports ${Number.isNaN(o.storedSeries!) ? 'n/a' : num(o.storedSeries!)} series, ` +
          `${Number.isNaN(o.storedSamples!) ? 'n/a' : num(o.storedSamples!)} samples (warm-up included)` +
          (o.extra ? `; ${o.extra}` : ''),
      );
    }
  }
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------

export async function runIngest(): Promise<boolean> {
  const series = envInt('BENCH_SERIES', 16_000, 1, 2_000_000);
  const samples = envInt('BENCH_SAMPLES', 6_000_000, 1, 200_000_000);
  const samplesPerRequest = envInt('BENCH_SAMPLES_PER_REQUEST', 2000, 1, 100_000);
  const shards = envInt('BENCH_CONCURRENCY', 8, 1, 256);
  const warmupFraction = envFloat('BENCH_WARMUP', 0.05, 0, 0.5);
  const timeoutMs = envInt('BENCH_TIMEOUT_S', 120, 1, 3600) * 1000;
  const wanted = (process.env.BENCH_SERVERS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const k of wanted) {
    if (!TARGETS.some((t) => t.key === k)) throw new Error(`BENCH_SERVERS: unknown server ${k}; known: ${TARGETS.map((t) => t.key).join(', ')}`);
  }
  const targets = wanted.length === 0 ? TARGETS : TARGETS.filter((t) => wanted.includes(t.key));
  const log = (s: string): void => void process.stderr.write(`[ingest] ${s}\n`);

  log(`encoding ${num(samples)} samples over ${num(series)} series ...`);
  const w = encodeWorkload({ series, samples, samplesPerRequest, shards, warmupFraction, endMs: Date.now() });
  const lines = [
    `ingest: remote write 1.0 (snappy), ${num(w.series)} node-exporter-like series (${w.hosts} hosts, ${w.metricNames} metric names, ` +
      `${w.labelsPerSeriesAvg.toFixed(1)} labels/series avg), ${num(w.samplesPerRequest)} samples/request, ${w.shards} requests in flight`,
    `  ${num(w.warmupSamples)} warm-up samples (${num(w.warmupRequests)} requests, not measured) + ${num(w.measuredSamples)} measured ` +
      `(${num(w.measuredRequests)} requests); ${w.scrapes} scrapes every ${w.intervalMs / 1000} s, ` +
      `${new Date(w.firstMs).toISOString()} .. ${new Date(w.lastMs).toISOString()}`,
    `  ${mib(w.compressedBytes)} snappy (${mib(w.uncompressedBytes)} raw), encoded once in ${(w.encodeMs / 1000).toFixed(1)} s; ` +
      `CPU = utime+stime of the server PID during the measured phase; RSS/series = VmRSS after / series; ` +
      `idle = VmRSS before the warm-up`,
  ];
  for (const t of targets) if (t.missing() === null) lines.push(`  ${t.title}: ${t.version()}`);
  log('');
  process.stdout.write(lines.join('\n') + '\n\n');

  const outcomes: Outcome[] = [];
  for (const t of targets) {
    outcomes.push(await measure(t, w, timeoutMs, log));
  }
  process.stdout.write(report(w, outcomes) + '\n');
  return outcomes.every((o) => o.status !== 'failed');
}
