/**
 * Differential PromQL test: the same deterministic samples are remote-written into Argus (in process) and
 * into a real Prometheus 2.42 (--web.enable-remote-write-receiver); then every expression below is run as
 * instant queries at several times and as range queries with several steps against both, and the answers
 * are compared: same status (and errorType), same resultType, exactly the same label sets, the same
 * timestamps, values within 1e-6 relative (NaN == NaN, ±Inf equal), and the same order where the order is
 * defined (sort/sort_desc in instant queries).
 *
 * Prints `promql diff: N queries, N match`; fails on any mismatch with the first differing series of each
 * differing expression. PROMQL_DIFF_DEBUG=1 prints every query with the size of Prometheus's answer.
 *
 * Documented 2.x/3.x differences, and how this test keeps out of their way (Argus follows 3.x):
 *  1. Range selectors and the lookback window are left-closed in 2.42 ([t-r, t]) and left-open in 3.x
 *     ((t-r, t]). Every sample timestamp here has a non-zero millisecond part while every query time, step,
 *     range, offset and `@` is a whole number of seconds, so no sample ever sits on a window's left edge.
 *  2. Subqueries are left-open in 3.x too: a subquery point sitting exactly on the outer window's left edge
 *     is counted by 2.42 only. Subquery points lie on whole multiples of the subquery step, so every
 *     subquery range here ends in `500ms`: the left edge is never a subquery point.
 *  3. `holt_winters` (2.x) is `double_exponential_smoothing` in 3.x: the same expression is sent to each
 *     server under its own name (same arguments, same algorithm).
 *  4. Functions that only exist in one of them are not used: `mad_over_time`, `sort_by_label`,
 *     `limitk`/`limit_ratio`, `info`, `histogram_fraction` on classic buckets, duration expressions,
 *     anchored/smoothed ranges (3.x only), and experimental-function flags.
 *  5. Regex `.` matches a newline in 3.x but not in 2.42: no label value here contains a newline.
 *  6. 3.x normalises the `le`/`quantile` label values of classic histograms (`1` → `1.0`) when it
 *     *scrapes* them; remote write stores them as sent in both, and the `le` values here are written the
 *     same to both.
 *  7. `__name__` removal: the HTTP API evaluates with eager name removal, as 2.42 does (and 3.x unless
 *     --enable-feature=promql-delayed-name-removal); delayed removal is an engine option that the upstream
 *     script runner turns on (promqltest FORMAT.md §6). The last queries of QUERIES are the ones where the
 *     moment of removal shows: label_replace reading `__name__` after a name-dropping function, an
 *     aggregation `by (__name__)` over name-dropped series, and series that collide once names are gone.
 *  8. Subqueries without a step use the global evaluation interval: Prometheus is configured with
 *     `evaluation_interval: 1m`, Argus's default subquery step is 1m.
 *  9. Newer 2.x/3.x releases tolerate small non-monotonic bucket counts in `histogram_quantile` differently
 *     (and report it as an info): the buckets here are monotonic by construction (cumulative counts with
 *     shared timestamps per histogram, no resets), so no correction kicks in.
 *  10. Error messages differ in wording between versions: for queries that fail, only the status and
 *     errorType are compared.
 *  11. Float summation order (Kahan summation in newer versions) changes the last bits: values are
 *     compared with a 1e-6 relative tolerance, plus a 1e-9 absolute floor for results that should be 0 but
 *     come out of a cancellation (e.g. stddev of equal values, deriv of a flat line).
 *  12. `atan2` keeps `__name__` in 2.42 and drops it in 3.x (found by this test): the atan2 query adds
 *     `+ 0`, which drops the name in both.
 *  13. rate()/increase() extrapolation towards a counter's zero point, when the window reaches back before
 *     the counter's first sample: 3.x first caps the extrapolation at half a sample interval and then at
 *     the zero point; 2.42 caps at the zero point first and then allows up to 1.1 intervals (promtool
 *     2.42 gives `rate(c[20m])` = 0.65 at 10m for `180+240x10` at 4m, upstream 3.x functions.test says
 *     0.6; found by the query benchmark). They agree when the counter starts at 0 or far above one
 *     scrape's increase, so every counter here does (and rate() is not applied to the gauges, whose
 *     first values are not like that).
 *  14. Label names: 3.x accepts any UTF-8 label name (`label_replace(x, "1bad", ...)` works), 2.42 only
 *     [a-zA-Z_][a-zA-Z0-9_]* (an execution error). Every label name here is valid in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer, startPrometheus, type RunningPeer } from '../support/peers.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { encodeWriteV1, snappyCompress, type WriteSeries } from '../../src/codec/index.js';
import { labelsFromObject } from '../../src/model/labels.js';

// ---------------------------------------------------------------------------------------------------
// Data

const MIN = 60_000;
const SPAN = 90 * MIN;
/** Newest whole minute at least a minute in the past (samples stay ≤ now for Prometheus). */
const END = Math.floor(Date.now() / MIN) * MIN - MIN;
const START = END - SPAN;

interface GenSeries {
  labels: Record<string, string>;
  ts: number[];
  /** Float64Array so the stale marker keeps its bits on the way into the encoder. */
  vs: Float64Array;
}

/** mulberry32: small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes Prometheus's stale marker (0x7ff0000000000002) into vs[i] word by word. */
function setStale(vs: Float64Array, i: number): void {
  const w = new Uint32Array(vs.buffer, vs.byteOffset + i * 8, 2);
  w[0] = 0x00000002;
  w[1] = 0x7ff00000;
}

/**
 * Scrape times of one target: every `intervalMs` from START, shifted by a per-target offset and a few ms of
 * per-scrape jitter. Never on a whole second (difference 1 in the header).
 */
function scrapeTimes(seed: number, intervalMs: number): number[] {
  const r = rng(seed);
  const offset = 1000 + Math.floor(r() * (intervalMs - 2000));
  const out: number[] = [];
  for (let t = START + offset; t < END; t += intervalMs) {
    let ts = t + Math.floor(r() * 40) - 20;
    if (ts % 1000 === 0) ts += 7;
    out.push(ts);
  }
  return out;
}

function generate(): GenSeries[] {
  const out: GenSeries[] = [];
  const r = rng(42);
  const instances = ['i-0', 'i-1', 'i-2'];

  // Counters with integer increments, a few resets, one starting at 0.
  let n = 0;
  for (const job of ['api', 'web']) {
    for (const instance of instances) {
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '500']) {
          const ts = scrapeTimes(1000 + n, 15_000);
          const vs = new Float64Array(ts.length);
          let v = n === 5 ? 0 : 1000 + Math.floor(r() * 5000); // 0, or far above one scrape's increase (13.)
          const perScrape = code === '200' ? 5 + r() * 45 : r() * 3;
          const resetAt = n % 7 === 3 ? Math.floor(ts.length * (0.3 + 0.4 * r())) : -1;
          for (let k = 0; k < ts.length; k++) {
            if (k === resetAt) v = Math.floor(r() * 5);
            else if (k > 0) v += Math.floor(r() * 2 * perScrape);
            vs[k] = v;
          }
          out.push({ labels: { __name__: 'http_requests_total', job, instance, method, code }, ts, vs });
          n++;
        }
      }
    }
  }

  // A float counter.
  for (const instance of instances) {
    for (const mode of ['user', 'system']) {
      const ts = scrapeTimes(2000 + n++, 15_000);
      const vs = new Float64Array(ts.length);
      let v = 1000 + r() * 1e5;
      for (let k = 0; k < ts.length; k++) {
        v += r() * 7.5;
        vs[k] = v;
      }
      out.push({ labels: { __name__: 'cpu_seconds_total', job: 'node', instance, mode }, ts, vs });
    }
  }

  // Gauges: random walks with three decimals (no NaN, practically no ties).
  for (const instance of instances) {
    for (const zone of ['cpu', 'board']) {
      const ts = scrapeTimes(3000 + n++, 15_000);
      const vs = new Float64Array(ts.length);
      let v = 20 + r() * 20;
      for (let k = 0; k < ts.length; k++) {
        v += (r() - 0.5) * 1.5;
        vs[k] = Math.round(v * 1000) / 1000;
      }
      out.push({ labels: { __name__: 'node_temperature_celsius', job: 'node', instance, zone }, ts, vs });
    }
  }

  // Small integer gauges at 30 s (ties on purpose: count_values, changes, clamp).
  for (const instance of [...instances, 'i-3']) {
    const ts = scrapeTimes(4000 + n++, 30_000);
    const vs = new Float64Array(ts.length);
    let v = Math.floor(r() * 10);
    for (let k = 0; k < ts.length; k++) {
      if (r() < 0.4) v = Math.max(0, Math.min(20, v + Math.floor(r() * 5) - 2));
      vs[k] = v;
    }
    out.push({ labels: { __name__: 'queue_depth', job: 'worker', instance }, ts, vs });
  }

  // Info-style series for group_left/group_right joins.
  for (const [i, instance] of instances.entries()) {
    const ts = scrapeTimes(5000 + n++, 15_000);
    out.push({ labels: { __name__: 'build_info', instance, version: `1.${i}.0` }, ts, vs: new Float64Array(ts.length).fill(1) });
  }

  // Label values that need escaping in JSON and UTF-8.
  for (const [i, path] of ['/ä/"q"\\x', '/zürich/€', '/plain'].entries()) {
    const ts = scrapeTimes(5500 + n++, 15_000);
    out.push({ labels: { __name__: 'path_info', path }, ts, vs: new Float64Array(ts.length).fill(i + 1) });
  }

  // A classic histogram per instance: all its series share the scrape times, buckets are cumulative.
  const LES = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  for (const instance of instances) {
    const ts = scrapeTimes(6000 + n++, 15_000);
    const buckets = LES.map(() => new Float64Array(ts.length));
    const inf = new Float64Array(ts.length);
    const sum = new Float64Array(ts.length);
    const counts = new Float64Array(LES.length);
    let total = 0;
    let s = 0;
    const scale = 0.1 + r() * 0.4;
    for (let k = 0; k < ts.length; k++) {
      const obs = k === 0 ? 0 : 5 + Math.floor(r() * 30);
      for (let o = 0; o < obs; o++) {
        const x = scale * Math.exp((r() - 0.5) * 4);
        s += x;
        total++;
        for (let b = 0; b < LES.length; b++) if (x <= LES[b]!) counts[b]!++;
      }
      for (let b = 0; b < LES.length; b++) buckets[b]![k] = counts[b]!;
      inf[k] = total;
      sum[k] = s;
    }
    const base = { job: 'api', instance };
    for (let b = 0; b < LES.length; b++) {
      out.push({ labels: { __name__: 'request_duration_seconds_bucket', ...base, le: String(LES[b]) }, ts, vs: buckets[b]! });
    }
    out.push({ labels: { __name__: 'request_duration_seconds_bucket', ...base, le: '+Inf' }, ts, vs: inf });
    out.push({ labels: { __name__: 'request_duration_seconds_count', ...base }, ts, vs: Float64Array.from(inf) });
    out.push({ labels: { __name__: 'request_duration_seconds_sum', ...base }, ts, vs: sum });
  }

  // Gaps: i-0 is silent for 12 minutes (longer than the lookback), i-1 for 3 minutes (shorter).
  for (const [instance, from, to] of [
    ['i-0', 30, 42],
    ['i-1', 50, 53],
  ] as const) {
    const all = scrapeTimes(7000 + n++, 15_000);
    const ts = all.filter((t) => t < START + from * MIN || t >= START + to * MIN);
    const vs = new Float64Array(ts.length);
    let v = 100 + r() * 50;
    for (let k = 0; k < ts.length; k++) {
      v += (r() - 0.45) * 3;
      vs[k] = Math.round(v * 100) / 100;
    }
    out.push({ labels: { __name__: 'flaky_gauge', job: 'flaky', instance }, ts, vs });
  }

  // Stale markers: i-0 goes stale at minute 60 and comes back at minute 70; i-1 goes stale for good at 80.
  for (const [instance, staleAt, backAt] of [
    ['i-0', 60, 70],
    ['i-1', 80, Infinity],
  ] as const) {
    const all = scrapeTimes(8000 + n++, 15_000);
    const ts = all.filter((t) => t <= START + staleAt * MIN || t >= START + backAt * MIN);
    const vs = new Float64Array(ts.length);
    let v = 0;
    for (let k = 0; k < ts.length; k++) {
      if (ts[k]! <= START + staleAt * MIN && (k + 1 === ts.length || ts[k + 1]! > START + staleAt * MIN)) {
        setStale(vs, k);
        continue;
      }
      if (k > 0) v += 1 + Math.floor(r() * 10); // born at 0 (13.)
      vs[k] = v;
    }
    out.push({ labels: { __name__: 'batch_progress', job: 'batch', instance }, ts, vs });
  }
  return out;
}

/** Remote-write 1.0 requests in time order: every series' samples of one 5-minute slice per request. */
function encodeRequests(series: GenSeries[]): { body: Buffer; samples: number }[] {
  const SLICE = 5 * MIN;
  const out: { body: Buffer; samples: number }[] = [];
  const pos = series.map(() => 0);
  for (let from = START; from < END; from += SLICE) {
    const batch: WriteSeries[] = [];
    let samples = 0;
    series.forEach((s, i) => {
      const a = pos[i]!;
      let b = a;
      while (b < s.ts.length && s.ts[b]! < from + SLICE) b++;
      if (b === a) return;
      batch.push({ labels: labelsFromObject(s.labels), timestamps: s.ts.slice(a, b), values: s.vs.subarray(a, b) });
      samples += b - a;
      pos[i] = b;
    });
    if (batch.length > 0) out.push({ body: snappyCompress(encodeWriteV1(batch)) as Buffer, samples });
  }
  return out;
}

async function remoteWrite(url: string, reqs: { body: Buffer }[]): Promise<void> {
  for (const r of reqs) {
    const res = await fetch(url, {
      method: 'POST',
      body: r.body,
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new Error(`remote write to ${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Queries

interface Q {
  /** The expression sent to both (Argus's spelling). */
  expr: string;
  /** Prometheus 2.42's spelling, when it differs (function renames). */
  prom?: string;
  /** Only as an instant query (range vectors and strings are not valid range-query results). */
  instantOnly?: boolean;
  /** The order of an instant result is defined (sort, sort_desc): compare it too. */
  ordered?: boolean;
}

const sec = (ms: number): string => String(ms / 1000);
const AT = END - 23 * MIN - 11_000; // an `@` time inside the data

const C = 'http_requests_total';
const G = 'node_temperature_celsius';
const H = 'request_duration_seconds_bucket';

const QUERIES: Q[] = [
  // Selectors, offset, @
  { expr: C },
  { expr: `${C}{job="api",code!="500"}` },
  { expr: `${C}{method=~"G.*",instance!~"i-1"}` },
  { expr: `{__name__=~"node_.*|queue_depth"}` },
  { expr: 'flaky_gauge' },
  { expr: 'batch_progress' },
  { expr: `${G}[3m]`, instantOnly: true },
  { expr: 'batch_progress[10m]', instantOnly: true },
  { expr: `${C} offset 7m` },
  { expr: `${G} offset -2m` },
  { expr: `${C}{instance=~"i-1|i-2", job=~"a.*"}` },
  { expr: `${C}{job!~"ap", code=~"5.."}` },
  { expr: `${C}{nonexistent=""}` },
  { expr: '{job=~".*", __name__="queue_depth"}' },
  { expr: String.raw`{__name__="build_info", version=~"1\\.[12]\\..*"}` },
  { expr: 'path_info' },
  { expr: `${C} @ ${sec(AT)}` },
  { expr: `rate(${C}[5m] @ end())` },
  { expr: `${G} @ start()` },
  { expr: `sum(rate(${C}[5m] offset 10m))` },
  // Counters
  { expr: `rate(${C}[5m])` },
  { expr: `rate(${C}[1m])` },
  { expr: `increase(${C}[10m])` },
  { expr: `irate(${C}[2m])` },
  { expr: `rate(cpu_seconds_total[3m])` },
  { expr: `resets(${C}[30m])` },
  { expr: 'changes(queue_depth[15m])' },
  { expr: 'rate(batch_progress[5m])' },
  { expr: 'increase(batch_progress[15m])' },
  { expr: 'irate(batch_progress[3m])' },
  { expr: 'resets(request_duration_seconds_count[1h])' },
  { expr: 'changes(batch_progress[20m])' },
  { expr: `increase(${C}[1h] @ ${sec(AT)})` },
  { expr: `increase(${C}[2h])` },
  { expr: `rate(${C}[17m] offset 3m @ end())` },
  { expr: `${G} @ start() - ${G} @ end()` },
  { expr: `${C} offset 1h` },
  // Gauges
  { expr: `delta(${G}[10m])` },
  { expr: `idelta(${G}[3m])` },
  { expr: `deriv(${G}[10m])` },
  { expr: `predict_linear(${G}[15m], 600)` },
  { expr: 'predict_linear(flaky_gauge[20m], -300)' },
  { expr: 'deriv(flaky_gauge[1m])' },
  { expr: 'delta(queue_depth[2m])' },
  { expr: 'idelta(batch_progress[2m])' },
  { expr: 'double_exponential_smoothing(flaky_gauge[30m], 0.1, 0.9)', prom: 'holt_winters(flaky_gauge[30m], 0.1, 0.9)' },
  { expr: `double_exponential_smoothing(${G}[10m], 0.5, 0.3)`, prom: `holt_winters(${G}[10m], 0.5, 0.3)` },
  // *_over_time
  { expr: `avg_over_time(${G}[10m])` },
  { expr: `min_over_time(${G}[7m])` },
  { expr: `max_over_time(flaky_gauge[10m])` },
  { expr: `sum_over_time(queue_depth[5m])` },
  { expr: 'count_over_time(flaky_gauge[10m])' },
  { expr: 'last_over_time(batch_progress[15m])' },
  { expr: `stddev_over_time(${G}[20m])` },
  { expr: 'stdvar_over_time(queue_depth[20m])' },
  { expr: 'present_over_time(flaky_gauge[5m])' },
  { expr: `quantile_over_time(0.9, ${G}[10m])` },
  { expr: 'quantile_over_time(0.25, queue_depth[7m])' },
  { expr: 'absent_over_time(flaky_gauge{instance="i-0"}[5m])' },
  { expr: 'absent_over_time(nonexistent{job="x"}[5m])' },
  { expr: 'min_over_time(batch_progress[10m])' },
  { expr: 'avg_over_time(batch_progress[10m])' },
  { expr: 'quantile_over_time(0.5, flaky_gauge[15m])' },
  { expr: 'quantile_over_time(1.5, queue_depth[5m])' },
  { expr: 'stddev_over_time(build_info[10m])' },
  // Classic histograms
  { expr: `histogram_quantile(0.9, rate(${H}[5m]))` },
  { expr: `histogram_quantile(0.5, sum by (le) (rate(${H}[10m])))` },
  { expr: `histogram_quantile(0.99, sum by (job, le) (increase(${H}[15m])))` },
  { expr: 'rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])' },
  { expr: `histogram_quantile(0, rate(${H}[5m]))` },
  { expr: `histogram_quantile(1, sum by (le) (rate(${H}[5m])))` },
  { expr: `histogram_quantile(0.75, ${H})` },
  { expr: `histogram_quantile(0.9, sum by (le) (rate(${H}{le!="0.5"}[5m])))` },
  { expr: `histogram_quantile(1.5, rate(${H}[5m]))` },
  { expr: `histogram_quantile(0.5, ${G})` },
  { expr: `quantile_over_time(0.5, ${G}[10m500ms:1m])` },
  { expr: `day_of_week(queue_depth * 86400)` },
  // Aggregations
  { expr: `sum(rate(${C}[5m]))` },
  { expr: `sum by (job) (rate(${C}[5m]))` },
  { expr: `sum without (method, code) (${C})` },
  { expr: `avg without (instance) (${G})` },
  { expr: `min by (job) (${C})` },
  { expr: `max by (code) (rate(${C}[5m]))` },
  { expr: `count by (job) (${C})` },
  { expr: `topk(3, rate(${C}[5m]))` },
  { expr: `bottomk(2, ${G})` },
  { expr: `topk by (job) (1, ${C})` },
  { expr: `quantile(0.75, ${G})` },
  { expr: `topk(scalar(max(queue_depth)) / 4, ${G})` },
  { expr: `quantile(scalar(max(queue_depth)) / 25, ${G})` },
  { expr: `${G} > scalar(avg(${G}))` },
  { expr: `sum by (zone) (${G}) / on() group_left sum(${G})` },
  { expr: `quantile by (job) (0.5, rate(${C}[5m]))` },
  { expr: 'count_values("depth", queue_depth)' },
  { expr: 'count_values by (job) ("v", queue_depth)' },
  { expr: `count_values("v", ${C} * 1e18)` },
  { expr: `count_values("v", round(${G}) / 1e9)` },
  { expr: `count_values("v", ${G} / 7)` },
  { expr: 'count_values("job", queue_depth)' },
  { expr: `sum by (__name__) (rate(${C}[5m]))` },
  { expr: 'vector(1) + vector(2)' },
  { expr: 'time() > bool 0' },
  { expr: `stddev(${G})` },
  { expr: `stdvar by (job) (rate(${C}[5m]))` },
  { expr: `group by (job, instance) (${C})` },
  { expr: 'count({__name__=~".+"})' },
  { expr: 'count by (__name__) ({__name__=~".+"})' },
  { expr: 'sum by (__name__, job) ({__name__=~"http_.*|queue_.*"})' },
  { expr: `topk(scalar(min(queue_depth)), rate(${C}[5m]))` },
  { expr: `quantile(0.1, rate(${C}[5m]))` },
  { expr: `quantile(scalar(min(queue_depth)) / 20, ${G})` },
  { expr: `stddev by (instance) (${G})` },
  { expr: `avg(${C})` },
  { expr: `count_values("temp", round(${G}))` },
  { expr: 'bottomk(1, flaky_gauge)' },
  { expr: `sum(rate(${C}[5m])) by (job)` },
  { expr: `min(flaky_gauge) without (instance)` },
  // Binary operators
  { expr: `${C} * 2 + 1` },
  { expr: `-${G} % 7` },
  { expr: `${G} ^ 0.5` },
  { expr: `${G} > 30` },
  { expr: `${G} > bool 30` },
  { expr: `rate(${C}{code="500"}[5m]) / ignoring(code) rate(${C}{code="200"}[5m])` },
  { expr: `sum by (job, instance, method) (rate(${C}[5m])) / on(job, instance) group_left sum by (job, instance) (rate(${C}[5m]))` },
  { expr: `sum by (job, instance) (rate(${C}[5m])) / on(job, instance) group_left sum by (job, instance, method) (rate(${C}[5m]))` }, // many on the right: an error in both
  { expr: `rate(${C}[5m]) * on(instance) group_left(version) build_info` },
  { expr: `build_info * on(instance) group_right ${G}` },
  { expr: `${G} - on(instance) group_left queue_depth` },
  { expr: `rate(${C}[5m]) > bool on(job, instance, method, code) rate(${C}[5m] offset 5m)` },
  // atan2 keeps __name__ in 2.42 and drops it in 3.x (12. above): `+ 0` drops it in both.
  { expr: `(${G} atan2 on(instance) group_left queue_depth) + 0` },
  { expr: `30 < ${G}` },
  { expr: `${G} < bool 30` },
  { expr: '1 > bool 2' },
  { expr: `${C} == bool on(job, instance, method, code) ${C} offset 1m` },
  { expr: `vector(1) and on() count(${C}) > 0` },
  { expr: `sum by (instance) (${G}) * on(instance) group_left(version) build_info` },
  { expr: `build_info * ignoring(version, job, zone) group_right(version) ${G}` },
  { expr: `${C} / on(job, instance, method, code) (${C} offset 5m)` },
  { expr: `queue_depth > on(instance) group_right build_info` },
  { expr: `${G} and on(instance) queue_depth > 8` },
  { expr: `${C}{code="500"} or on(job, instance, method) ${C}{code="200"}` },
  { expr: `${C} and ${C}{code="200"}` },
  { expr: `${C}{job="api"} or ${G}` },
  { expr: `${C} unless on(instance) (queue_depth > 10)` },
  { expr: `sum(rate(${C}[5m])) > 1e9 or vector(0)` },
  { expr: `${C} + on(job) ${C}` }, // many-to-many: an error in both
  { expr: '2 ^ 3 % 5 - 1' },
  { expr: `-${C}` },
  { expr: 'sum(' }, // a parse error in both
  // Subqueries (ranges end in 500ms, see 2. above)
  { expr: `max_over_time(rate(${C}[5m])[30m500ms:1m])` },
  { expr: `avg_over_time(${G}[20m500ms:])` },
  { expr: `deriv(sum(${C})[15m500ms:30s])` },
  { expr: `min_over_time(${G}[10m500ms:1m] offset 5m)` },
  { expr: `rate(sum(${C})[10m500ms:20s])` },
  { expr: `max_over_time(sum(${G} @ ${sec(AT)})[5m500ms:1m])` },
  { expr: `sum_over_time(rate(${C}[5m])[10m500ms:2m] offset 3m)` },
  { expr: `last_over_time(batch_progress[20m500ms:15s])` },
  { expr: `count_over_time(flaky_gauge[15m500ms:1m])` },
  { expr: `max_over_time(${G}[10m500ms:1m] @ end())` },
  { expr: `rate(${C}[5m] @ start())` },
  { expr: `sum(${C} offset -5m)` },
  { expr: `sum_over_time(sum(${G})[7m500ms:45s] offset 2m)` },
  { expr: `avg_over_time(rate(${C}[2m])[13m500ms:17s])` },
  { expr: `min_over_time((${G} > 30)[10m500ms:1m])` },
  // Labels
  { expr: `label_replace(${C}, "svc", "$1-x", "job", "(.*)")` },
  { expr: `label_replace(${G}, "zone", "$1-z", "zone", "(.*)")` },
  { expr: `label_replace(${G}, "host", "h$1", "instance", "i-(.*)")` },
  { expr: `label_replace(${C}, "x", "\${1}_$2", "instance", "(i)-(.*)")` },
  { expr: 'label_replace(path_info, "p", "$1", "path", "/(.*)")' },
  { expr: `label_replace(${G}, "zone", "", "zone", ".*")` }, // duplicate series: an error in both
  { expr: `label_join(${C}, "id", "/", "job", "instance", "method")` },
  { expr: `label_replace(${G}, "nomatch", "$1", "instance", "x-(.*)")` },
  { expr: `label_replace(rate(${C}[5m]), "__name__", "renamed_$1", "job", "(.*)")` },
  { expr: `label_join(${G}, "instance", "-", "instance", "zone")` },
  { expr: `sort(rate(${C}[5m]))` },
  { expr: `sort(${G})`, ordered: true },
  { expr: `sort_desc(sum by (instance, method) (rate(${C}[5m])))`, ordered: true },
  // Time
  { expr: 'time()' },
  { expr: 'hour()' },
  { expr: `minute(timestamp(${G}))` },
  { expr: 'day_of_week()' },
  { expr: 'day_of_month()' },
  { expr: 'day_of_year()' },
  { expr: 'days_in_month()' },
  { expr: 'month()' },
  { expr: 'year()' },
  { expr: `timestamp(${G})` },
  { expr: `time() - timestamp(flaky_gauge)` },
  // Math
  { expr: `abs(delta(${G}[5m]))` },
  { expr: `ceil(${G})` },
  { expr: `floor(${G})` },
  { expr: `exp(${G} / 10)` },
  { expr: `ln(${G})` },
  { expr: 'log2(queue_depth)' },
  { expr: `log10(${C})` },
  { expr: `sqrt(${G})` },
  { expr: `sgn(deriv(${G}[5m]))` },
  { expr: `round(${G})` },
  { expr: `round(${G}, 0.5)` },
  { expr: `clamp(${G}, 25, 30)` },
  { expr: 'clamp_min(queue_depth, 5)' },
  { expr: 'clamp_max(queue_depth, 5)' },
  { expr: `sin(${G})` },
  { expr: `cos(${G}) + tan(${G} / 100)` },
  { expr: `tanh(${G} / 50)` },
  { expr: `deg(${G})` },
  { expr: `rad(${G})` },
  { expr: `asinh(${G})` },
  { expr: `exp(${C})` },
  { expr: 'ln(queue_depth)' },
  { expr: `sqrt(-${G})` },
  { expr: `round(${G}, 0.1)` },
  { expr: 'queue_depth == 3' },
  { expr: `${C} / 0` },
  { expr: `sum without (__name__, instance) ({__name__=~"http_requests_total|cpu_seconds_total"})` },
  // absent, scalar, vector, strings
  { expr: 'absent(nonexistent{job="x", instance=~"i.*"})' },
  { expr: `absent(${C})` },
  { expr: 'scalar(sum(queue_depth))' },
  { expr: `scalar(${G})` },
  { expr: 'vector(scalar(sum(queue_depth)))' },
  { expr: `sum(${C}) / scalar(count(${C}))` },
  { expr: 'scalar(nonexistent)' },
  { expr: 'absent(sum(nonexistent))' },
  { expr: 'absent(nonexistent{job="a", job="b"})' },
  { expr: 'timestamp(batch_progress)' },
  { expr: 'vector(time()) - on() group_right timestamp(build_info)' },
  { expr: `timestamp(${G} offset 5m)` },
  { expr: `timestamp(${G} @ ${sec(AT)})` },
  { expr: 'count(nonexistent)' },
  { expr: 'count(vector(1))' },
  { expr: `max(${G}) - min(${G})` },
  { expr: '"hello"', instantOnly: true },
  // Where the moment of `__name__` removal shows (7. above).
  { expr: `label_replace(rate(${C}[5m]), "n", "$1", "__name__", "(.+)")` },
  { expr: 'sum by (__name__) (abs({__name__=~"node_.*|queue_depth"}))' },
  { expr: 'count(rate({__name__=~"request_duration_seconds_count|request_duration_seconds_sum"}[5m]))' },
];

/**
 * Queries whose answers are known to differ for a documented reason. They run at one instant time and are
 * reported, not failed on; when one starts to match, it belongs in QUERIES. None at the moment.
 */
const KNOWN_DIFFERENCES: Q[] = [];

/** Instant query times (ms): the end, inside the data, in i-0's flaky gap, after the stale marker, early on. */
const INSTANT_TIMES = [END, END - 17 * MIN - 13_000, START + 40 * MIN, START + 62 * MIN + 30_000, START + 6 * MIN];
/** Range queries: [start, end, step] in ms. */
const RANGES: [number, number, number][] = [
  [START + 10 * MIN, END, 60_000],
  [START + 3 * MIN + 7_000, END - 2 * MIN, 37_000],
  [START, END, 5 * MIN],
  [END - 10 * MIN, END, 15_000],
  [START - 10 * MIN, END + 10 * MIN, 7_000], // reaches before and after the data
  [START + 61 * MIN, START + 61 * MIN, 1_000], // one step, just after a stale marker
];

// ---------------------------------------------------------------------------------------------------
// Comparison

type Metric = Record<string, string>;
type Result =
  | { status: 'error'; errorType: string; error: string; http: number }
  | { status: 'success'; resultType: 'scalar' | 'string'; value: [number, string] }
  | { status: 'success'; resultType: 'vector'; result: { metric: Metric; value: [number, string] }[] }
  | { status: 'success'; resultType: 'matrix'; result: { metric: Metric; values: [number, string][] }[] };

async function query(base: string, path: string, params: Record<string, string>): Promise<Result> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: { status: string; errorType?: string; error?: string; data?: { resultType: string; result: unknown } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${base}${path} ${JSON.stringify(params)}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (body.status !== 'success') return { status: 'error', errorType: body.errorType ?? '?', error: body.error ?? '', http: res.status };
  const d = body.data!;
  if (d.resultType === 'scalar' || d.resultType === 'string') {
    return { status: 'success', resultType: d.resultType, value: d.result as [number, string] };
  }
  return { status: 'success', resultType: d.resultType, result: d.result } as Result;
}

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseValue(a);
  const y = parseValue(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  const d = Math.abs(x - y);
  return d <= 1e-6 * Math.max(Math.abs(x), Math.abs(y)) || d <= 1e-9;
}

function metricKey(m: Metric): string {
  return JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));
}

function showMetric(m: Metric): string {
  const name = m.__name__ ?? '';
  const rest = Object.keys(m)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`);
  return `${name}{${rest.join(', ')}}`;
}

/** Differences (human-readable lines), empty when the answers match. */
function compare(prom: Result, argus: Result, ordered: boolean): string[] {
  if (prom.status === 'error' || argus.status === 'error') {
    if (prom.status === 'error' && argus.status === 'error') {
      return prom.errorType === argus.errorType ? [] : [`errorType: Prometheus ${prom.errorType} (${prom.error}), Argus ${argus.errorType} (${argus.error})`];
    }
    const show = (r: Result): string => (r.status === 'error' ? `error ${r.errorType} (HTTP ${r.http}): ${r.error}` : `success (${r.resultType})`);
    return [`Prometheus: ${show(prom)}; Argus: ${show(argus)}`];
  }
  if (prom.resultType !== argus.resultType) return [`resultType: Prometheus ${prom.resultType}, Argus ${argus.resultType}`];
  if (prom.resultType === 'scalar' || prom.resultType === 'string') {
    const a = (argus as typeof prom).value;
    const p = prom.value;
    const ok = p[0] === a[0] && (prom.resultType === 'string' ? p[1] === a[1] : sameValue(p[1], a[1]));
    return ok ? [] : [`${prom.resultType}: Prometheus ${JSON.stringify(p)}, Argus ${JSON.stringify(a)}`];
  }
  const diffs: string[] = [];
  type Row = { metric: Metric; points: [number, string][] };
  const rows = (r: Result): Row[] =>
    r.status === 'success' && r.resultType === 'vector'
      ? r.result.map((s) => ({ metric: s.metric, points: [s.value] }))
      : r.status === 'success' && r.resultType === 'matrix'
        ? r.result.map((s) => ({ metric: s.metric, points: s.values }))
        : [];
  const pRows = rows(prom);
  const aRows = rows(argus);
  const aByKey = new Map(aRows.map((r) => [metricKey(r.metric), r]));
  const pKeys = new Set(pRows.map((r) => metricKey(r.metric)));
  for (const p of pRows) {
    const a = aByKey.get(metricKey(p.metric));
    if (a === undefined) {
      diffs.push(`missing in Argus: ${showMetric(p.metric)} ${JSON.stringify(p.points.slice(0, 3))}${p.points.length > 3 ? ' …' : ''}`);
      continue;
    }
    const n = Math.max(p.points.length, a.points.length);
    for (let i = 0; i < n; i++) {
      const pp = p.points[i];
      const ap = a.points[i];
      if (pp === undefined || ap === undefined || pp[0] !== ap[0] || !sameValue(pp[1], ap[1])) {
        diffs.push(
          `${showMetric(p.metric)}: point ${i} of ${p.points.length}/${a.points.length}: Prometheus ${JSON.stringify(pp ?? null)}, Argus ${JSON.stringify(ap ?? null)}`,
        );
        break;
      }
    }
  }
  for (const a of aRows) {
    if (!pKeys.has(metricKey(a.metric))) diffs.push(`extra in Argus: ${showMetric(a.metric)} ${JSON.stringify(a.points.slice(0, 3))}${a.points.length > 3 ? ' …' : ''}`);
  }
  if (diffs.length === 0 && ordered) {
    const pOrder = pRows.map((r) => showMetric(r.metric));
    const aOrder = aRows.map((r) => showMetric(r.metric));
    if (pOrder.join('\n') !== aOrder.join('\n')) diffs.push(`order: Prometheus [${pOrder.join(', ')}], Argus [${aOrder.join(', ')}]`);
  }
  return diffs;
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------

test('PromQL: Argus answers like a real Prometheus 2.42 on the same remote-written data', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, 'prometheus')) return;
  const series = generate();
  const reqs = encodeRequests(series);
  const total = reqs.reduce((n, r) => n + r.samples, 0);

  let prom: RunningPeer | null = null;
  const argus = await startArgusInProcess('');
  try {
    prom = await startPrometheus({
      config: 'global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs: []\n',
      args: ['--web.enable-remote-write-receiver', '--log.level=warn'],
    });
    await Promise.all([remoteWrite(`${argus.url}/api/v1/push`, reqs), remoteWrite(`${prom.url}/api/v1/write`, reqs)]);

    interface Case {
      q: Q;
      kind: string;
      path: string;
      params: Record<string, string>;
    }
    const cases: Case[] = [];
    for (const q of QUERIES) {
      for (const tm of INSTANT_TIMES) {
        cases.push({ q, kind: `instant @ ${new Date(tm).toISOString()}`, path: '/api/v1/query', params: { time: sec(tm) } });
      }
      if (q.instantOnly) continue;
      for (const [s, e, st] of RANGES) {
        cases.push({
          q,
          kind: `range ${new Date(s).toISOString()} .. ${new Date(e).toISOString()} step ${st / 1000}s`,
          path: '/api/v1/query_range',
          params: { start: sec(s), end: sec(e), step: sec(st) },
        });
      }
    }

    const failures: { c: Case; diffs: string[] }[] = [];
    let nonEmpty = 0;
    const p = prom;
    await pool(cases, 4, async (c) => {
      const [pr, ar] = await Promise.all([
        query(p.url, c.path, { ...c.params, query: c.q.prom ?? c.q.expr }),
        query(argus.url, c.path, { ...c.params, query: c.q.expr }),
      ]);
      const diffs = compare(pr, ar, c.q.ordered === true && c.path === '/api/v1/query');
      if (pr.status === 'success' && (!('result' in pr) || pr.result.length > 0)) nonEmpty++;
      if (process.env.PROMQL_DIFF_DEBUG) {
        const size = pr.status === 'error' ? `error ${pr.errorType}` : 'result' in pr ? `${pr.result.length} series` : pr.resultType;
        console.log(`${c.q.expr} | ${c.kind} | ${size}`);
      }
      if (diffs.length > 0) failures.push({ c, diffs });
    });

    const known: string[] = [];
    for (const q of KNOWN_DIFFERENCES) {
      const params = { time: sec(INSTANT_TIMES[0]!), query: q.expr };
      const [pr, ar] = await Promise.all([query(p.url, '/api/v1/query', params), query(argus.url, '/api/v1/query', params)]);
      const d = compare(pr, ar, false);
      known.push(`  ${d.length > 0 ? 'differs' : 'MATCHES NOW (move it to QUERIES)'}: ${q.expr}${d.length > 0 ? ` — ${d[0]}` : ''}`);
    }

    const matched = cases.length - failures.length;
    console.log(
      `promql diff: ${cases.length} queries, ${matched} match ` +
        `(${QUERIES.length} expressions; instant at ${INSTANT_TIMES.length} times, range with ${RANGES.length} steps; ` +
        `${series.length} series, ${total} samples)`,
    );
    if (known.length > 0) console.log(`promql diff: known differences (not failing):\n${known.join('\n')}`);
    // Guards against a vacuous pass (say, nothing was ingested and both answer empty vectors).
    assert.ok(nonEmpty >= cases.length * 0.8, `only ${nonEmpty} of ${cases.length} queries returned data from Prometheus`);
    if (failures.length > 0) {
      const exprs = [...new Set(failures.map((f) => f.c.q.expr))];
      const lines = [`${failures.length} of ${cases.length} queries differ (${exprs.length} expressions):`];
      const shown = new Set<string>();
      for (const f of failures) {
        // The first failing case of each expression, with its first few differing series.
        if (shown.has(f.c.q.expr)) continue;
        shown.add(f.c.q.expr);
        const n = failures.filter((x) => x.c.q.expr === f.c.q.expr).length;
        lines.push(`\n  ${f.c.q.expr}${f.c.q.prom ? `   (Prometheus: ${f.c.q.prom})` : ''}  — ${n} case(s), first: ${f.c.kind}`);
        for (const d of f.diffs.slice(0, 4)) lines.push(`    ${d}`);
        if (f.diffs.length > 4) lines.push(`    … ${f.diffs.length - 4} more differing series`);
      }
      assert.fail(lines.join('\n'));
    }
  } finally {
    await argus.stop();
    await prom?.stop();
  }
});
