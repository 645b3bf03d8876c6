/**
 * Scrape benchmark (issue 5): the Argus agent and Prometheus 2.42 in agent mode scrape the same targets
 * with the same prometheus.yml and remote-write to the same VictoriaMetrics. For each agent process:
 * CPU seconds (utime+stime from /proc) per million samples scraped during a measured window, peak and
 * final RSS, whether its queue kept up, and whether the receiver got what it scraped.
 *
 * - Targets: one separate process (support/scrape-target-server.ts) with BENCH_SCRAPE_TARGETS exporters on
 *   their own ports, BENCH_SCRAPE_SERIES node-exporter-like series each, new values every scrape, gzip when
 *   asked. It counts what it served per scraper: that is "samples scraped" for both agents alike.
 * - Receiver: VictoriaMetrics (cheap, multi-threaded, so it is never what makes an agent queue back up;
 *   its CPU and each agent's queue lag at the end are printed to show it).
 * - The two prometheus.yml files differ only in `external_labels: {bench_agent: argus|prometheus}`, which
 *   the receiver uses to count each agent's samples. The queue settings are written out (Prometheus
 *   2.42's defaults are smaller than today's and Argus's) and metadata sending is off (Argus does not send
 *   metadata), so both do the same work per sample.
 * - BENCH_SCRAPE_MODE=concurrent (default): both agents run during the same window, so load from anything
 *   else on the machine (other builds and tests on a shared 2-core box) hits both alike; each process's
 *   CPU is its own, and together they use a small share of the cores. `sequential` runs one after the other.
 *
 * Environment: BENCH_SCRAPE_TARGETS (200), BENCH_SCRAPE_SERIES (1000), BENCH_SCRAPE_INTERVAL (15s),
 * BENCH_SCRAPE_DURATION (180s, measured; after a warm-up of 2 scrapes of every target), BENCH_SCRAPE_MODE,
 * BENCH_SCRAPE_AGENTS (argus,prometheus). BENCH_ARGUS_CPU_PROF=DIR runs the Argus agent under
 * `node --cpu-prof` (summarise with `node --import tsx bench/profile-top.ts DIR/*.cpuprofile`);
 * BENCH_ARGUS_NODE_ARGS adds node flags to the Argus agent process (e.g. V8 heap settings to compare).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDuration } from '../src/model/duration.js';
import { USER_AGENT as ARGUS_SCRAPER_UA } from '../src/agent/scrape/index.js';
import { peerBinary, startPrometheus, startVictoriaMetrics, type RunningPeer } from '../test/support/peers.js';
import { startGuardedArgus } from './support/argus-guard.js';
import { sumMetric } from './support/exposition-sum.js';
import { cpuSeconds, cpuTimes, memoryStatus, threadCpu } from './support/proc.js';
import { scraperKey, type ServedStats } from './support/scrape-target-server.js';
import { startTargetProcess, type TargetProcess } from './support/scrape-targets.js';
import { formatTable, mib, num, ratio } from './support/table.js';
import { envInt } from './support/env.js';
import { versionOf } from './support/version.js';

/** Series every scrape adds besides the target's own: up, scrape_duration_seconds, scrape_samples_scraped, scrape_samples_post_metric_relabeling, scrape_series_added. */
const REPORT_SERIES = 5;

interface Settings {
  targets: number;
  series: number;
  intervalMs: number;
  durationMs: number;
  mode: 'concurrent' | 'sequential';
}

interface RunningAgent {
  pid: number;
  url: string;
  /** SIGTERM and wait (queues flush) up to `graceMs`, then SIGKILL. */
  stop(graceMs: number): Promise<void>;
  logs(): string;
}

/** Self-metrics that say how far an agent's remote-write queue is behind. */
interface QueueMetricNames {
  /** Samples committed to the agent's WAL (report series included). */
  appended: string;
  sent: string;
  pending: string;
  highestIn: string;
  highestSent: string;
  failed: string;
  retried: string;
  /** Compressed bytes acknowledged. */
  bytes: string;
  shards: string;
  /** Requests acknowledged ('' when the agent does not export it). */
  batches: string;
}

interface AgentKind {
  key: 'argus' | 'prometheus';
  title: string;
  /** User-Agent product token of its scrapes, as the target server counts them. */
  scraper: string;
  missing(): string | null;
  version(): string;
  start(config: string): Promise<RunningAgent>;
  metrics: QueueMetricNames;
}

const argusAgent: AgentKind = {
  key: 'argus',
  title: 'Argus agent',
  scraper: scraperKey(ARGUS_SCRAPER_UA),
  missing: () => null,
  version: () => 'this tree (`argus agent`, run from source with tsx)',
  metrics: {
    appended: 'argus_agent_samples_appended_total',
    sent: 'argus_remote_storage_samples_total',
    pending: 'argus_remote_storage_samples_pending',
    highestIn: 'argus_remote_storage_highest_timestamp_in_seconds',
    highestSent: 'argus_remote_storage_queue_highest_sent_timestamp_seconds',
    failed: 'argus_remote_storage_samples_failed_total',
    retried: 'argus_remote_storage_samples_retried_total',
    bytes: 'argus_remote_storage_bytes_total',
    shards: 'argus_remote_storage_shards',
    batches: 'argus_remote_storage_sent_batch_duration_seconds_count',
  },
  async start(config) {
    const args = (dir: string): string[] => {
      const configFile = join(dir, 'prometheus.yml');
      writeFileSync(configFile, config);
      return [`--config.file=${configFile}`, `--storage.agent.path=${join(dir, 'data')}`, '--log.level=warn'];
    };
    const { proc, release } = await startGuardedArgus('agent', 'argus-bench-agent-', args, { cpuProfile: true });
    const child = proc.child;
    return {
      pid: child.pid ?? -1,
      url: proc.url,
      logs: () => proc.logs(),
      async stop(graceMs) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(t);
        }
        release();
      },
    };
  },
};

const prometheusAgent: AgentKind = {
  key: 'prometheus',
  title: 'Prometheus agent',
  scraper: 'Prometheus',
  missing: () => (peerBinary('prometheus') === null ? 'not installed (apt-get install prometheus)' : null),
  version: () => versionOf(peerBinary('prometheus')!, ['--version'], 'prometheus'),
  metrics: {
    // Prometheus 2.42's agent has no appended-samples counter; samples_in counts what was appended to
    // the WAL through the remote storage's appender in agent mode.
    appended: 'prometheus_remote_storage_samples_in_total',
    sent: 'prometheus_remote_storage_samples_total',
    pending: 'prometheus_remote_storage_samples_pending',
    highestIn: 'prometheus_remote_storage_highest_timestamp_in_seconds',
    highestSent: 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds',
    failed: 'prometheus_remote_storage_samples_failed_total',
    retried: 'prometheus_remote_storage_samples_retried_total',
    bytes: 'prometheus_remote_storage_bytes_total',
    shards: 'prometheus_remote_storage_shards',
    batches: 'prometheus_remote_storage_sent_batch_duration_seconds_count',
  },
  async start(config) {
    const peer: RunningPeer = await startPrometheus({ config, agent: true, args: ['--log.level=warn'] });
    return {
      pid: peer.pid,
      url: peer.url,
      logs: () => peer.logs(),
      // The harness waits 5 s before SIGKILL; the queue is drained before this is called.
      stop: () => peer.stop(),
    };
  },
};

const AGENTS: readonly AgentKind[] = [argusAgent, prometheusAgent];

// ---------------------------------------------------------------------------------------------------
// Settings and configuration

/** Seconds (`15`) or a Prometheus duration (`15s`, `3m`). */
function envDuration(name: string, defMs: number, minMs: number, maxMs: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return defMs;
  let ms: number;
  try {
    ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw);
  } catch (err) {
    throw new Error(`${name}=${raw}: ${(err as Error).message}`);
  }
  if (ms < minMs || ms > maxMs) throw new Error(`${name}=${raw}: want a duration between ${minMs / 1000}s and ${maxMs / 1000}s`);
  return ms;
}

function promDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The prometheus.yml both agents run; only `bench_agent` differs. */
export function benchConfig(o: { agent: string; ports: readonly number[]; intervalMs: number; receiverUrl: string }): string {
  const timeoutMs = Math.min(10_000, o.intervalMs);
  return [
    'global:',
    `  scrape_interval: ${promDuration(o.intervalMs)}`,
    `  scrape_timeout: ${promDuration(timeoutMs)}`,
    '  external_labels:',
    `    bench_agent: ${o.agent}`,
    'scrape_configs:',
    '  - job_name: node',
    '    static_configs:',
    '      - targets:',
    ...o.ports.map((p) => `          - 127.0.0.1:${p}`),
    'remote_write:',
    `  - url: ${o.receiverUrl}/api/v1/write`,
    '    queue_config:',
    '      capacity: 10000',
    '      min_shards: 1',
    '      max_shards: 50',
    '      max_samples_per_send: 2000',
    '      batch_send_deadline: 5s',
    '    metadata_config:',
    '      send: false',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Measuring

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function scrapeMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return res.status === 200 ? await res.text() : '';
  } catch {
    return '';
  }
}

interface QueueState {
  appended: number;
  sent: number;
  pending: number;
  /** Seconds the newest sent sample is behind the newest sample read from the WAL. */
  behindSec: number;
  failed: number;
  retried: number;
  bytes: number;
  shards: number;
  batches: number;
}

async function queueState(kind: AgentKind, url: string): Promise<QueueState> {
  const text = await scrapeMetrics(url);
  const m = kind.metrics;
  const read = (name: string): number => sumMetric(text, name);
  return {
    appended: read(m.appended),
    sent: read(m.sent),
    pending: read(m.pending),
    behindSec: read(m.highestIn) - read(m.highestSent),
    failed: read(m.failed),
    retried: read(m.retried),
    bytes: read(m.bytes),
    shards: read(m.shards),
    batches: m.batches === '' ? NaN : read(m.batches),
  };
}

interface Outcome {
  kind: AgentKind;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  windowSec?: number;
  cpuSec?: number;
  /** utime and stime parts of cpuSec. */
  cpuUser?: number;
  cpuSys?: number;
  /** CPU in the window of the main thread and of all other threads: [name, user s, system s]. */
  threads?: [string, number, number][];
  scrapes?: number;
  samples?: number;
  /** The agent's own count of samples appended during the window (report series included). */
  ownAppended?: number;
  hwm?: number;
  rssEnd?: number;
  /** Highest VmRSS sampled each second during the warm-up and during the window. */
  rssMaxWarmup?: number;
  rssMaxWindow?: number;
  /** At the end of the window. */
  lag?: QueueState;
  /** Remote-write requests and bytes acknowledged during the window (NaN when not exported). */
  sentBatches?: number;
  sentBytes?: number;
  sentSamples?: number;
  delivered?: { received: number; lower: number; upper: number };
  drainMs?: number;
}

const served = (s: ServedStats, scraper: string) =>
  s.scrapers[scraper] ?? { started: 0, scrapes: 0, samples: 0, bytes: 0, gzipped: 0, minPerTarget: 0, maxPerTarget: 0, lastMs: 0 };

async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > end) throw new Error(`${what}: not within ${Math.round(deadlineMs / 1000)} s`);
    await sleep(1000);
  }
}

/** sum(count_over_time) of one agent's series in VictoriaMetrics (no latency offset, no cache). */
async function receivedSamples(vmUrl: string, agent: string): Promise<number> {
  const q = `sum(count_over_time({bench_agent="${agent}"}[1d]))`;
  const u = `${vmUrl}/api/v1/query?query=${encodeURIComponent(q)}&time=${Date.now() / 1000}&nocache=1`;
  const res = await fetch(u, { signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result?: { value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`VictoriaMetrics query ${q}: ${body.error ?? res.status}`);
  const r = body.data?.result ?? [];
  return r.length === 0 ? 0 : Number(r[0]!.value[1]);
}

/** VictoriaMetrics makes rows searchable a moment after it took them: wait until the count holds still. */
async function settledCount(vmUrl: string, agent: string): Promise<number> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    const n = await receivedSamples(vmUrl, agent);
    if (n === last) return n;
    last = n;
    await sleep(2000);
  }
  return last;
}

/**
 * CPU spent between two threadCpu() readings, as [main thread, other threads] (each [name, user s, system s]).
 * A thread that ended in the window takes its time with it, so "other threads" can be an underestimate.
 */
function threadDelta(
  pid: number,
  a: Map<number, { comm: string; user: number; system: number }>,
  b: Map<number, { comm: string; user: number; system: number }>,
): [string, number, number][] {
  const main: [string, number, number] = ['main thread', 0, 0];
  const rest: [string, number, number] = ['other threads', 0, 0];
  for (const [tid, t] of b) {
    const before = a.get(tid) ?? { user: 0, system: 0 };
    const into = tid === pid ? main : rest;
    into[1] += Math.max(0, t.user - before.user);
    into[2] += Math.max(0, t.system - before.system);
  }
  return [main, rest];
}

interface Group {
  settings: Settings;
  targets: TargetProcess;
  vm: RunningPeer;
  log: (s: string) => void;
}

/** Runs `kinds` side by side: start, warm up, measure one window, drain, stop, count at the receiver. */
async function runGroup(g: Group, kinds: readonly AgentKind[]): Promise<Outcome[]> {
  const { settings: s, targets, vm, log } = g;
  const running = new Map<AgentKind, RunningAgent>();
  const outcomes = new Map<AgentKind, Outcome>();
  let sampler: NodeJS.Timeout | undefined;
  const fail = (k: AgentKind, reason: string): void => {
    outcomes.set(k, { ...outcomes.get(k), kind: k, status: 'failed', reason });
  };
  try {
    for (const k of kinds) {
      log(`${k.title}: starting`);
      const config = benchConfig({ agent: k.key, ports: targets.ports, intervalMs: s.intervalMs, receiverUrl: vm.url });
      try {
        running.set(k, await k.start(config));
      } catch (err) {
        fail(k, `did not start: ${(err as Error).message.split('\n').slice(0, 12).join(' | ')}`);
      }
    }
    const live = kinds.filter((k) => running.has(k));
    if (live.length === 0) return kinds.map((k) => outcomes.get(k)!);
    // RSS once a second, per phase: VmHWM alone cannot tell a start-up spike from steady growth.
    let phase: 'warmup' | 'window' = 'warmup';
    const rssMax = new Map(live.map((k) => [k, { warmup: 0, window: 0 }]));
    sampler = setInterval(() => {
      for (const k of live) {
        try {
          const m = rssMax.get(k)!;
          m[phase] = Math.max(m[phase], memoryStatus(running.get(k)!.pid).rss);
        } catch {
          // exited; the stop path reports it
        }
      }
    }, 1000);

    log(`warm-up: until every target was scraped twice by ${live.map((k) => k.title).join(' and ')}`);
    await waitFor('warm-up (2 scrapes of every target)', 3 * s.intervalMs + 60_000, async () => {
      const st = await targets.stats();
      return live.every((k) => served(st, k.scraper).minPerTarget >= 2);
    });

    log(`measuring for ${s.durationMs / 1000} s`);
    phase = 'window';
    const cpu0 = new Map(live.map((k) => [k, cpuTimes(running.get(k)!.pid)]));
    const thr0 = new Map(live.map((k) => [k, threadCpu(running.get(k)!.pid)]));
    const vmCpu0 = cpuSeconds(vm.pid);
    const tgtCpu0 = cpuSeconds(targets.pid);
    const st0 = await targets.stats();
    const q0 = new Map(await Promise.all(live.map(async (k) => [k, await queueState(k, running.get(k)!.url)] as const)));
    const t0 = performance.now();
    await sleep(s.durationMs);
    const cpu1 = new Map(live.map((k) => [k, cpuTimes(running.get(k)!.pid)]));
    const thr1 = new Map(live.map((k) => [k, threadCpu(running.get(k)!.pid)]));
    const t1 = performance.now();
    clearInterval(sampler);
    const vmCpu = cpuSeconds(vm.pid) - vmCpu0;
    const tgtCpu = cpuSeconds(targets.pid) - tgtCpu0;
    const st1 = await targets.stats();
    const q1 = new Map(await Promise.all(live.map(async (k) => [k, await queueState(k, running.get(k)!.url)] as const)));
    const windowSec = (t1 - t0) / 1000;
    log(
      `window ${windowSec.toFixed(1)} s: receiver (VictoriaMetrics) CPU ${vmCpu.toFixed(2)} s (${((100 * vmCpu) / windowSec).toFixed(1)}% of a core), ` +
        `target server CPU ${tgtCpu.toFixed(2)} s`,
    );
    for (const k of live) {
      const a = running.get(k)!;
      const mem = memoryStatus(a.pid);
      const d0 = served(st0, k.scraper);
      const d1 = served(st1, k.scraper);
      outcomes.set(k, {
        kind: k,
        status: 'ok',
        windowSec,
        cpuUser: cpu1.get(k)!.user - cpu0.get(k)!.user,
        cpuSys: cpu1.get(k)!.system - cpu0.get(k)!.system,
        cpuSec: cpu1.get(k)!.user + cpu1.get(k)!.system - cpu0.get(k)!.user - cpu0.get(k)!.system,
        threads: threadDelta(running.get(k)!.pid, thr0.get(k)!, thr1.get(k)!),
        scrapes: d1.scrapes - d0.scrapes,
        samples: d1.samples - d0.samples,
        ownAppended: q1.get(k)!.appended - q0.get(k)!.appended,
        hwm: mem.hwm,
        rssEnd: mem.rss,
        rssMaxWarmup: rssMax.get(k)!.warmup,
        rssMaxWindow: Math.max(rssMax.get(k)!.window, mem.rss),
        lag: q1.get(k)!,
        sentBatches: q1.get(k)!.batches - q0.get(k)!.batches,
        sentBytes: q1.get(k)!.bytes - q0.get(k)!.bytes,
        sentSamples: q1.get(k)!.sent - q0.get(k)!.sent,
      });
    }

    // Everything appended before the window's end must reach the receiver: wait (bounded) until each
    // queue has sent as many samples as had been appended then (scrapes go on, so the queue is never
    // empty), stop the agents (both flush on SIGTERM) and count what arrived.
    for (const k of live) {
      const a = running.get(k)!;
      const d0 = performance.now();
      try {
        await waitFor(`${k.title}: remote-write queue catching up with the window's end`, 60_000, async () => {
          const q = await queueState(k, a.url);
          if (Number.isNaN(q.sent) || Number.isNaN(q1.get(k)!.appended)) {
            throw new Error(`${k.title}: its /metrics lacks ${k.metrics.sent} or ${k.metrics.appended}; cannot tell whether its queue caught up`);
          }
          return q.sent >= q1.get(k)!.appended;
        });
        outcomes.get(k)!.drainMs = performance.now() - d0;
      } catch (err) {
        fail(k, (err as Error).message);
      }
    }
    const before = await targets.stats();
    await Promise.all(live.map((k) => running.get(k)!.stop(90_000)));
    running.clear();
    const after = await targets.stats();
    for (const k of live) {
      const o = outcomes.get(k)!;
      const per = REPORT_SERIES + s.series;
      const received = await settledCount(vm.url, k.key);
      // Lower bound: every scrape served before the drain. Upper: every scrape served at all, plus the
      // report series of scrapes cut short (an agent stopping mid-scrape still reports up=0).
      const lower = served(before, k.scraper).scrapes * per;
      const fin = served(after, k.scraper);
      const upper = fin.scrapes * per + (fin.started - fin.scrapes) * REPORT_SERIES;
      o.delivered = { received, lower, upper };
      if (o.status === 'ok' && (received < lower || received > upper)) {
        o.status = 'failed';
        o.reason = `the receiver has ${num(received)} samples from it; expected between ${num(lower)} and ${num(upper)} (scrapes served x ${per})`;
      }
    }
  } catch (err) {
    for (const k of kinds) if (outcomes.get(k)?.status !== 'failed') fail(k, (err as Error).message);
  } finally {
    clearInterval(sampler);
    for (const [k, a] of running) {
      const o = outcomes.get(k);
      if (o !== undefined && o.status === 'failed') o.reason = `${o.reason}\n--- ${k.title} logs (tail) ---\n${a.logs().slice(-1500)}`;
      await a.stop(10_000).catch((err: unknown) => log(`${k.title}: stop failed: ${(err as Error).message}`));
    }
  }
  return kinds.map((k) => outcomes.get(k) ?? { kind: k, status: 'failed', reason: 'no result' });
}

// ---------------------------------------------------------------------------------------------------
// Report

function report(s: Settings, outcomes: readonly Outcome[], served: ServedStats | null): string {
  const out: string[] = [];
  const ok = (o: Outcome | undefined): boolean => o !== undefined && o.status === 'ok';
  const perM = (o: Outcome): number => o.cpuSec! / (o.samples! / 1e6);
  const rows = outcomes.map((o) => {
    if (!ok(o)) return [o.kind.title, o.status === 'skipped' ? 'SKIPPED' : 'FAILED', '-', '-', '-', '-', '-', '-', '-', '-'];
    const d = o.delivered!;
    return [
      o.kind.title,
      num(s.targets),
      num(s.series),
      num(o.samples!),
      o.cpuSec!.toFixed(2),
      perM(o).toFixed(3),
      mib(o.hwm!),
      mib(o.rssEnd!),
      `${num(o.lag!.pending)} / ${Number.isFinite(o.lag!.behindSec) ? o.lag!.behindSec.toFixed(1) : 'n/a'} s`,
      `${((100 * d.received) / d.upper).toFixed(2)}%`,
    ];
  });
  out.push(
    formatTable(
      ['agent', 'targets', 'series/target', 'samples scraped', 'CPU s', 'CPU s/M samples', 'peak RSS', 'final RSS', 'queue pending / behind', 'delivered'],
      rows,
    ),
  );
  const a = outcomes.find((o) => o.kind.key === 'argus');
  const p = outcomes.find((o) => o.kind.key === 'prometheus');
  if (a !== undefined && p !== undefined && ok(a) && ok(p)) {
    out.push('');
    out.push(
      formatTable(
        ['Argus / Prometheus', 'ratio'],
        [
          ['CPU s per M samples (lower is better)', ratio(perM(a), perM(p))],
          ['peak RSS (lower is better)', ratio(a.hwm!, p.hwm!)],
          ['final RSS (lower is better)', ratio(a.rssEnd!, p.rssEnd!)],
        ],
      ),
    );
    out.push('');
    out.push(
      `Goal (issue 5): Argus CPU per sample <= Prometheus's: ${perM(a) <= perM(p) ? 'MET' : 'NOT MET'} ` +
        `(${perM(a).toFixed(3)} vs ${perM(p).toFixed(3)} CPU s per million samples, ${ratio(perM(a), perM(p))})`,
    );
  }
  const notes: string[] = [''];
  for (const o of outcomes) {
    if (o.status === 'skipped') notes.push(`${o.kind.title}: skipped, ${o.reason}`);
    else if (o.status === 'failed') notes.push(`${o.kind.title}: FAILED, ${o.reason ?? ''}`);
    if (o.windowSec === undefined) continue;
    const d = o.delivered;
    notes.push(
      `${o.kind.title}: ${num(o.scrapes!)} scrapes (${num(o.samples!)} samples) served to it in ${o.windowSec.toFixed(1)} s; ` +
        `RSS highest in the warm-up ${mib(o.rssMaxWarmup!)}, in the window ${mib(o.rssMaxWindow!)}; ` +
        `CPU ${o.cpuUser!.toFixed(2)} s user + ${o.cpuSys!.toFixed(2)} s system (${((100 * o.cpuSec!) / o.windowSec).toFixed(1)}% of a core` +
        (o.threads !== undefined ? `; user+system: ${o.threads.map(([n, u, sy]) => `${n} ${u.toFixed(2)}+${sy.toFixed(2)} s`).join(', ')}` : '') +
        '); ' +
        `its own count of samples appended in the window ${Number.isFinite(o.ownAppended!) ? num(o.ownAppended!) : 'n/a'} (report series included)` +
        (d !== undefined ? `; receiver has ${num(d.received)} of its samples, expected ${num(d.lower)}..${num(d.upper)}` : '') +
        (o.lag !== undefined
          ? `; remote write in the window: ${num(o.sentSamples!)} samples in ${Number.isFinite(o.sentBatches!) ? num(o.sentBatches!) : 'n/a (not exported)'} requests, ` +
            `${(o.sentBytes! / o.sentSamples!).toFixed(2)} compressed bytes/sample, ${num(o.lag.shards)} shards at the end, failed ${num(o.lag.failed)}, retried ${num(o.lag.retried)}`
          : '') +
        (o.drainMs !== undefined ? `; queue had sent everything appended in the window ${(o.drainMs / 1000).toFixed(1)} s after it` : ''),
    );
  }
  if (served !== null) {
    const scr = Object.entries(served.scrapers).map(
      ([k, v]) => `${k} ${num(v.scrapes)} scrapes, ${num(v.gzipped)} gzipped, ${mib(v.bytes)} sent, ${v.minPerTarget}..${v.maxPerTarget} per target`,
    );
    notes.push(`target server: ${scr.join('; ')}; ${served.errors} errors${served.errors > 0 ? ` (last: ${served.lastError})` : ''}`);
  }
  out.push(...notes);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------

export async function runScrape(): Promise<boolean> {
  const settings: Settings = {
    targets: envInt('BENCH_SCRAPE_TARGETS', 200, 1, 5000),
    series: envInt('BENCH_SCRAPE_SERIES', 1000, 1, 100_000),
    intervalMs: envDuration('BENCH_SCRAPE_INTERVAL', 15_000, 1000, 300_000),
    durationMs: envDuration('BENCH_SCRAPE_DURATION', 180_000, 1000, 3_600_000),
    mode: (process.env.BENCH_SCRAPE_MODE ?? 'concurrent') as Settings['mode'],
  };
  if (settings.mode !== 'concurrent' && settings.mode !== 'sequential') {
    throw new Error(`BENCH_SCRAPE_MODE=${settings.mode}: want concurrent or sequential`);
  }
  const wanted = (process.env.BENCH_SCRAPE_AGENTS ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const w of wanted) {
    if (!AGENTS.some((k) => k.key === w)) throw new Error(`BENCH_SCRAPE_AGENTS: unknown agent ${w}; known: ${AGENTS.map((k) => k.key).join(', ')}`);
  }
  const kinds = wanted.length === 0 ? AGENTS : AGENTS.filter((k) => wanted.includes(k.key));
  const log = (x: string): void => void process.stderr.write(`[scrape] ${x}\n`);

  if (peerBinary('victoria-metrics') === null) {
    process.stdout.write('scrape: SKIPPED: the receiver, VictoriaMetrics, is not installed (apt-get install victoria-metrics)\n');
    return process.env.CI !== 'true';
  }
  const skipped: Outcome[] = kinds.filter((k) => k.missing() !== null).map((k) => ({ kind: k, status: 'skipped', reason: k.missing()! }));
  const runnable = kinds.filter((k) => k.missing() === null);

  const perRound = settings.targets * settings.series;
  const lines = [
    `scrape: ${num(settings.targets)} targets x ${num(settings.series)} node-exporter-like series (text format 0.0.4, gzip), ` +
      `every ${settings.intervalMs / 1000} s (${num(perRound / (settings.intervalMs / 1000))} samples/s per agent); ` +
      `${settings.durationMs / 1000} s measured after every target was scraped twice; agents run ${settings.mode === 'concurrent' ? 'at the same time' : 'one after the other'}`,
    `  receiver: ${versionOf(peerBinary('victoria-metrics')!, ['-version'], 'victoria-metrics')}; ` +
      'same prometheus.yml (bench_agent external label aside): capacity 10000, max_samples_per_send 2000, max_shards 50, no metadata',
    '  CPU = utime+stime of the agent PID in the window; samples scraped = sample lines the target server served to that agent in the window;',
    '  peak RSS = VmHWM at the window end; queue pending / behind = samples queued, newest-read minus newest-sent timestamp at the window end;',
    `  delivered = samples of that agent in the receiver / (scrapes served x (series + ${REPORT_SERIES} report series)), after draining and stopping it`,
  ];
  for (const k of runnable) lines.push(`  ${k.title}: ${k.version()}`);
  process.stdout.write(lines.join('\n') + '\n\n');

  let targets: TargetProcess | null = null;
  let vm: RunningPeer | null = null;
  const outcomes: Outcome[] = [...skipped];
  let servedFinal: ServedStats | null = null;
  try {
    log(`starting ${settings.targets} targets x ${settings.series} series`);
    targets = await startTargetProcess({ targets: settings.targets, series: settings.series, readyTimeoutMs: 60_000 });
    log('starting VictoriaMetrics (receiver)');
    vm = await startVictoriaMetrics({ args: ['-search.latencyOffset=0s', '-search.maxUniqueTimeseries=10000000', '-loggerLevel=ERROR'] });
    const g: Group = { settings, targets, vm, log };
    if (settings.mode === 'concurrent') outcomes.push(...(await runGroup(g, runnable)));
    else for (const k of runnable) outcomes.push(...(await runGroup(g, [k])));
    servedFinal = await targets.stats();
  } finally {
    await vm?.stop().catch(() => undefined);
    await targets?.stop().catch(() => undefined);
  }
  const order = (o: Outcome): number => AGENTS.indexOf(o.kind);
  outcomes.sort((x, y) => order(x) - order(y));
  process.stdout.write(report(settings, outcomes, servedFinal) + '\n');
  const prof = process.env.BENCH_ARGUS_CPU_PROF;
  if (prof !== undefined && prof !== '') {
    process.stdout.write(`\nArgus agent CPU profile in ${resolve(prof)} (this run's numbers include profiling overhead): node --import tsx bench/profile-top.ts ${resolve(prof)}/*.cpuprofile\n`);
  }
  return outcomes.every((o) => o.status !== 'failed');
}
