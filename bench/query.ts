/**
 * Query benchmark: the same data (by default 10k series over 6 h at 30 s ≈ 7.3M samples: a counter family
 * X, a gauge family G and a classic histogram H) remote-written in time order into Argus (`argus receive`,
 * spawned from the sources) and Prometheus 2.42 (--web.enable-remote-write-receiver), then the issue's
 * queries as range queries over the whole span. After one warm-up run each, the runs are interleaved
 * (A, P, A, P, ...) so that both servers see the same machine load; the table shows the median latency
 * (request sent → whole body received), the median server CPU (utime+stime of the server process) per run,
 * the ratio Argus/Prometheus, and whether both answered 200 with the same series (and the same values,
 * within 1e-6 relative).
 *
 * Prometheus compacts its head into a 2 h block whenever the head spans more than 3 h, so its data ends up
 * partly in persisted blocks and partly in the head; the benchmark waits until that has settled before it
 * queries. Argus keeps it all in its head.
 *
 * Sizing (environment): BENCH_QUERY_SERIES (10000), BENCH_QUERY_HOURS (6), BENCH_QUERY_INTERVAL_S (30),
 * BENCH_QUERY_STEP_S (60; at most 11,000 points), BENCH_QUERY_RUNS (5, after one warm-up),
 * BENCH_CONCURRENCY (8 requests in flight while loading), BENCH_QUERY_TIMEOUT_S (per query, 120),
 * BENCH_QUERY_LOAD_TIMEOUT_S (loading both, 300), BENCH_SERVERS (argus,prometheus).
 * CPU is read from /proc in clock ticks (10 ms resolution).
 */
import { startGuardedArgus } from './support/argus-guard.js';
import { envInt } from './support/env.js';
import { sumMetric } from './support/exposition-sum.js';
import { peerBinary, startPrometheus, type RunningPeer } from '../test/support/peers.js';
import { cpuSeconds, memoryStatus } from './support/proc.js';
import { closeQueryClient, firstDifference, matrixOf, postForm, type MatrixSeries } from './support/query-client.js';
import { encodeQueryWorkload, QUERY_METRICS, type QueryWorkload } from './support/query-workload.js';
import { sendAll } from './support/remote-write-client.js';
import { formatTable, mib, num, ratio } from './support/table.js';

const X = QUERY_METRICS.counter;
const G = QUERY_METRICS.gauge;
const H = `${QUERY_METRICS.histogram}_bucket`;

/** The issue's queries (X counter, G gauge, H histogram). */
const QUERIES: readonly string[] = [
  `sum(rate(${X}[5m]))`,
  `sum by (job) (rate(${X}[5m]))`,
  `topk(5, ${G})`,
  `count({__name__=~".+"})`,
  `quantile_over_time(0.9, ${G}[10m])`,
  `histogram_quantile(0.9, sum by (le) (rate(${H}[5m])))`,
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Server {
  key: 'argus' | 'prometheus';
  title: string;
  pid: number;
  url: string;
  writePath: string;
  stop(): Promise<void>;
  logs(): string;
}

// ---------------------------------------------------------------------------------------------------
// Servers


async function startArgusServer(): Promise<Server> {
  const { proc, release } = await startGuardedArgus('receive', 'argus-bench-query-', (dir) => [`--storage.tsdb.path=${dir}`, '--log.level=warn']);
  return {
    key: 'argus',
    title: 'Argus',
    pid: proc.child.pid ?? -1,
    url: proc.url,
    writePath: '/api/v1/push',
    logs: () => proc.logs(),
    async stop() {
      await proc.stop();
      release();
    },
  };
}

async function startPrometheusServer(): Promise<Server> {
  const p: RunningPeer = await startPrometheus({
    config: 'global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs: []\n',
    args: ['--web.enable-remote-write-receiver', '--log.level=warn'],
  });
  return { key: 'prometheus', title: 'Prometheus', pid: p.pid, url: p.url, writePath: '/api/v1/write', logs: () => p.logs(), stop: () => p.stop() };
}

/**
 * Waits until Prometheus has nothing left to compact: its head spans at most 1.5 block ranges (3 h) and
 * the compaction counter has not moved for 3 s. Returns what it saw, for the report.
 */
async function settlePrometheus(s: Server, log: (m: string) => void, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let lastCompactions = -1;
  let stableSince = performance.now();
  for (;;) {
    const text = await (await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const minT = sumMetric(text, 'prometheus_tsdb_head_min_time');
    const maxT = sumMetric(text, 'prometheus_tsdb_head_max_time');
    const compactions = sumMetric(text, 'prometheus_tsdb_compactions_total');
    const blocks = sumMetric(text, 'prometheus_tsdb_blocks_loaded');
    if (compactions !== lastCompactions) {
      lastCompactions = compactions;
      stableSince = performance.now();
    }
    const state = `${blocks} blocks, head ${((maxT - minT) / 3_600_000).toFixed(2)} h, ${compactions} compactions`;
    if (maxT - minT <= 3 * 3_600_000 && performance.now() - stableSince >= 3000) return state;
    if (performance.now() > deadline) {
      log(`Prometheus: compaction not settled after ${timeoutMs / 1000} s (${state}); measuring anyway`);
      return `${state}, not settled`;
    }
    await sleep(500);
  }
}

// ---------------------------------------------------------------------------------------------------
// Measurement

interface Run {
  ms: number;
  cpu: number;
  bytes: number;
  series: number;
  error: string | null;
}

async function runOnce(s: Server, query: string, range: { start: number; end: number; step: number }, timeoutMs: number): Promise<{ run: Run; matrix: MatrixSeries[] | null }> {
  const cpu0 = cpuSeconds(s.pid);
  let answer;
  try {
    answer = await postForm(
      s.url,
      '/api/v1/query_range',
      { query, start: String(range.start / 1000), end: String(range.end / 1000), step: String(range.step / 1000), timeout: `${timeoutMs / 1000}s` },
      timeoutMs + 10_000,
    );
  } catch (err) {
    return { run: { ms: NaN, cpu: NaN, bytes: 0, series: -1, error: (err as Error).message }, matrix: null };
  }
  const cpu = cpuSeconds(s.pid) - cpu0;
  const m = matrixOf(answer);
  if (typeof m === 'string') return { run: { ms: answer.ms, cpu, bytes: answer.bytes, series: -1, error: m }, matrix: null };
  return { run: { ms: answer.ms, cpu, bytes: answer.bytes, series: m.length, error: null }, matrix: m };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Row {
  query: string;
  runs: Map<string, Run[]>;
  same: string;
  problems: string[];
}

async function load(w: QueryWorkload, servers: Server[], timeoutMs: number, log: (m: string) => void): Promise<Map<string, number>> {
  // Slice by slice (all shards of a slice in flight, then the next), to every server at the same time.
  const wall = new Map<string, number>();
  const deadline = performance.now() + timeoutMs;
  await Promise.all(
    servers.map(async (s) => {
      const t0 = performance.now();
      let failed = 0;
      const reasons = new Map<string, number>();
      for (const [i, slice] of w.slices.entries()) {
        const r = await sendAll({ url: s.url + s.writePath, shards: slice, requestTimeoutMs: 60_000, deadline });
        failed += r.failed + r.unsent;
        for (const [why, n] of r.errors) reasons.set(why, (reasons.get(why) ?? 0) + n);
        if (failed > 0) throw new Error(`${s.title}: ${failed} remote-write requests failed in slice ${i}: ${[...reasons].map(([k, n]) => `${n}x ${k}`).join('; ')}`);
      }
      wall.set(s.key, performance.now() - t0);
      log(`${s.title}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }),
  );
  return wall;
}

export async function runQuery(): Promise<boolean> {
  const seriesWanted = envInt('BENCH_QUERY_SERIES', 10_000, 10, 1_000_000);
  const hours = envInt('BENCH_QUERY_HOURS', 6, 1, 48);
  const intervalMs = envInt('BENCH_QUERY_INTERVAL_S', 30, 5, 600) * 1000;
  const stepMs = envInt('BENCH_QUERY_STEP_S', 60, 1, 3600) * 1000;
  const runs = envInt('BENCH_QUERY_RUNS', 5, 1, 100);
  const shards = envInt('BENCH_CONCURRENCY', 8, 1, 64);
  const timeoutMs = envInt('BENCH_QUERY_TIMEOUT_S', 120, 1, 3600) * 1000;
  const loadTimeoutMs = envInt('BENCH_QUERY_LOAD_TIMEOUT_S', 300, 1, 7200) * 1000;
  const wanted = (process.env.BENCH_SERVERS ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '' && x !== 'victoria-metrics');
  for (const k of wanted) if (k !== 'argus' && k !== 'prometheus') throw new Error(`BENCH_SERVERS: unknown server ${k} (query benchmark: argus, prometheus)`);
  const want = (k: string): boolean => wanted.length === 0 || wanted.includes(k);
  const log = (m: string): void => void process.stderr.write(`[query] ${m}\n`);

  const promMissing = want('prometheus') && peerBinary('prometheus') === null;
  const end = Date.now();
  log(`encoding ~${num(seriesWanted)} series over ${hours} h every ${intervalMs / 1000} s ...`);
  const w = encodeQueryWorkload({
    series: seriesWanted,
    spanMs: hours * 3_600_000,
    intervalMs,
    endMs: end - 1000,
    sliceMs: 10 * 60_000,
    shards,
    samplesPerRequest: 2000,
  });
  // The whole span on whole steps (every sample timestamp has a non-zero millisecond part).
  const range = { start: Math.ceil(w.firstMs / stepMs) * stepMs, end: Math.floor(w.lastMs / stepMs) * stepMs, step: stepMs };
  const points = (range.end - range.start) / stepMs + 1;
  if (points > 11_000) throw new Error(`${points} points per series; Prometheus allows 11,000: raise BENCH_QUERY_STEP_S`);

  const header = [
    `query: ${num(w.series)} series (X = ${X}: ${num(w.counterSeries)} counters; G = ${G}: ${num(w.gaugeSeries)} gauges; ` +
      `H = ${H}: ${num(w.histogramSeries)} buckets), ${w.scrapes} scrapes every ${w.intervalMs / 1000} s = ${num(w.samples)} samples, ` +
      `${new Date(w.firstMs).toISOString()} .. ${new Date(w.lastMs).toISOString()}`,
    `  remote write 1.0 in time order (10-minute slices, ${shards} requests in flight, ${num(w.requests)} requests, ${mib(w.compressedBytes)} snappy, ` +
      `encoded in ${(w.encodeMs / 1000).toFixed(1)} s)`,
    `  range queries over the whole span: ${new Date(range.start).toISOString()} .. ${new Date(range.end).toISOString()} step ${stepMs / 1000} s ` +
      `(${points} points); 1 warm-up, then ${runs} interleaved runs each (A, P, A, P, ...); latency = request → whole body; ` +
      `CPU = utime+stime of the server process`,
  ];
  if (promMissing) header.push('  Prometheus: SKIPPED (not installed: apt-get install prometheus)');
  process.stdout.write(header.join('\n') + '\n');

  const servers: Server[] = [];
  let ok = true;
  try {
    if (want('argus')) {
      log('starting Argus (argus receive, from the sources)');
      servers.push(await startArgusServer());
    }
    if (want('prometheus') && !promMissing) {
      log('starting Prometheus');
      servers.push(await startPrometheusServer());
    }
    if (servers.length === 0) throw new Error('no server to benchmark');
    for (const s of servers) if (s.key === 'prometheus') process.stdout.write(`  Prometheus: ${await buildVersion(s)}\n`);

    log(`loading ${num(w.samples)} samples into ${servers.map((s) => s.title).join(' and ')}`);
    const loadWall = await load(w, servers, loadTimeoutMs, log);
    const prom = servers.find((s) => s.key === 'prometheus');
    let promState = '';
    if (prom !== undefined) promState = await settlePrometheus(prom, log, 60_000);
    const loaded = servers.map((s) => `${s.title} ${((loadWall.get(s.key) ?? NaN) / 1000).toFixed(1)} s, RSS ${mib(memoryStatus(s.pid).rss)}`);
    process.stdout.write(`  loaded (both at once, so not an ingest measurement): ${loaded.join('; ')}${promState ? `; Prometheus: ${promState}` : ''}\n\n`);

    const rows: Row[] = [];
    for (const query of QUERIES) {
      log(query);
      const row: Row = { query, runs: new Map(servers.map((s) => [s.key, []])), same: '-', problems: [] };
      // Warm-up: one run each; its answers are compared.
      const warm = new Map<string, MatrixSeries[] | null>();
      for (const s of servers) {
        const { run, matrix } = await runOnce(s, query, range, timeoutMs);
        if (run.error !== null) row.problems.push(`${s.title} warm-up: ${run.error}`);
        warm.set(s.key, matrix);
      }
      const a = warm.get('argus');
      const p = warm.get('prometheus');
      if (a && p) {
        const d = firstDifference(a, p);
        row.same = d === null ? 'yes' : 'NO';
        if (d !== null) row.problems.push(`answers differ (Argus vs Prometheus): ${d}`);
      }
      for (let i = 0; i < runs; i++) {
        for (const s of servers) {
          const { run } = await runOnce(s, query, range, timeoutMs);
          row.runs.get(s.key)!.push(run);
          if (run.error !== null) row.problems.push(`${s.title} run ${i + 1}: ${run.error}`);
        }
      }
      // Same number of series in every run of both.
      const counts = new Set(servers.flatMap((s) => row.runs.get(s.key)!.map((r) => r.series)));
      if (counts.size > 1) row.problems.push(`series counts differ between runs/servers: ${[...counts].join(', ')}`);
      rows.push(row);
    }

    process.stdout.write(report(rows, servers) + '\n');
    const problems = rows.flatMap((r) => r.problems.map((p) => `${r.query}: ${p}`));
    if (problems.length > 0) {
      ok = false;
      process.stdout.write(`\nproblems:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    }
  } catch (err) {
    ok = false;
    process.stdout.write(`query benchmark FAILED: ${(err as Error).message}\n`);
    for (const s of servers) process.stdout.write(`--- ${s.title} logs (tail) ---\n${s.logs().slice(-2000)}\n`);
  } finally {
    closeQueryClient();
    for (const s of servers) {
      log(`${s.title}: stopping pid ${s.pid}`);
      await s.stop().catch((err: unknown) => log(`${s.title}: stop failed: ${(err as Error).message}`));
    }
  }
  return ok;
}

async function buildVersion(s: Server): Promise<string> {
  try {
    const j = (await (await fetch(`${s.url}/api/v1/status/buildinfo`, { signal: AbortSignal.timeout(5000) })).json()) as { data?: { version?: string } };
    return `version ${j.data?.version ?? 'unknown'}`;
  } catch {
    return 'unknown version';
  }
}

function report(rows: Row[], servers: Server[]): string {
  const has = (k: string): boolean => servers.some((s) => s.key === k);
  const ms = (x: number): string => (Number.isFinite(x) ? (x >= 99.95 ? x.toFixed(0) : x.toFixed(1)) : '-');
  const body = rows.map((r) => {
    const a = r.runs.get('argus') ?? [];
    const p = r.runs.get('prometheus') ?? [];
    const aMs = median(a.map((x) => x.ms));
    const pMs = median(p.map((x) => x.ms));
    const aCpu = median(a.map((x) => x.cpu));
    const pCpu = median(p.map((x) => x.cpu));
    const series = [...new Set([...a, ...p].map((x) => x.series))].map((n) => (n < 0 ? 'error' : num(n))).join('/');
    const bytes = median([...a, ...p].map((x) => x.bytes));
    return [
      r.query,
      has('argus') ? ms(aMs) : '-',
      has('prometheus') ? ms(pMs) : '-',
      has('argus') && has('prometheus') ? ratio(aMs, pMs) : 'n/a',
      has('argus') ? ms(aCpu * 1000) : '-',
      has('prometheus') ? ms(pCpu * 1000) : '-',
      series,
      Number.isFinite(bytes) ? `${num(bytes / 1024)} KiB` : '-',
      r.same,
    ];
  });
  return formatTable(
    ['query (range, whole span)', 'Argus p50 ms', 'Prom p50 ms', 'Argus/Prom', 'Argus CPU ms', 'Prom CPU ms', 'series', 'body', 'same answer'],
    body,
  );
}
