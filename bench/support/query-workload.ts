/**
 * The query benchmark's data: a counter family X, a gauge family G and a classic histogram family H
 * (cumulative `_bucket{le}` series sharing their scrape times), scraped every `intervalMs` over `spanMs`
 * ending at `endMs`, encoded once as remote-write 1.0 (snappy) requests.
 *
 * The requests come in time slices: slice i holds every series' samples of its `sliceMs` of time, cut per
 * shard (shard w owns series w, w+shards, ...) into requests of about `samplesPerRequest`. Sending the
 * slices one after the other (all shards of a slice at once, then the next slice) keeps every series in
 * order and the whole stream within the window a Prometheus head accepts when appending in order
 * (samples newer than head max time - 1h).
 *
 * Every timestamp has a non-zero millisecond part, so no sample sits on the edge of a window that starts on
 * a whole second (Prometheus 2.x windows are left-closed, 3.x left-open).
 *
 * Counters start either at 0 (the histogram buckets: no observations at the first scrape) or far above their
 * increase per scrape (X): where a window reaches back before a counter's first sample, 2.x and 3.x then
 * extrapolate rate() alike. (3.x caps the extrapolation towards the counter's zero point at half a sample
 * interval; 2.42 lets it go up to 1.1 intervals, so counters that start just above one scrape's increase
 * answer differently at the start of the data.)
 */
import { encodeWriteV1, snappyCompress, type WriteSeries } from '../../src/codec/index.js';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { unit, type EncodedRequest } from './workload.js';

export const QUERY_METRICS = {
  counter: 'bench_http_requests_total',
  gauge: 'bench_memory_usage_bytes',
  histogram: 'bench_request_duration_seconds',
} as const;

const LES = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf'];
const METHODS = ['GET', 'POST'];
const CODES = ['200', '500'];
const HANDLERS = ['/api/a', '/api/b', '/api/c', '/api/d', '/api/e'];
const AREAS = ['heap', 'stack', 'code', 'cache', 'buffers', 'mapped', 'shared', 'other'];
export const JOBS = 10;

export interface QueryWorkloadOptions {
  /** About this many series (rounded to whole families per instance). */
  series: number;
  spanMs: number;
  intervalMs: number;
  /** Newest scrape at or before this time (ms). */
  endMs: number;
  sliceMs: number;
  shards: number;
  samplesPerRequest: number;
}

export interface QueryWorkload {
  series: number;
  counterSeries: number;
  gaugeSeries: number;
  histogramSeries: number;
  scrapes: number;
  intervalMs: number;
  /** Every timestamp is in [firstMs, lastMs). */
  firstMs: number;
  lastMs: number;
  samples: number;
  /** slices[i][shard] = that shard's requests of slice i, in order. */
  slices: EncodedRequest[][][];
  requests: number;
  compressedBytes: number;
  encodeMs: number;
}

type Kind = 0 | 1 | 2; // counter, gauge, bucket

interface Def {
  labels: Labels;
  kind: Kind;
  /** Scrape-time offset (ms) within the interval; shared by all buckets of one histogram. */
  offsetMs: number;
  /** Counter: mean increment per scrape. Gauge: base level. Bucket: index of `le`. */
  p: number;
  /** Bucket: index of its histogram (the state of all its buckets lives there). */
  h: number;
}

function offsetFor(key: number, intervalMs: number): number {
  // 1 s .. interval-1 s, plus a millisecond part that is never 0.
  const whole = 1000 + Math.floor(unit(key, 7) * (intervalMs - 2000));
  return whole - (whole % 1000) + 1 + Math.floor(unit(key, 8) * 998);
}

function buildDefs(target: number, intervalMs: number): { defs: Def[]; counters: number; gauges: number; buckets: number; histograms: number } {
  // Shares of the series: counters 50 %, gauges 20 %, histogram buckets 30 %.
  const counterInstances = Math.max(1, Math.round((target * 0.5) / (METHODS.length * CODES.length * HANDLERS.length)));
  const gaugeInstances = Math.max(1, Math.round((target * 0.2) / AREAS.length));
  const histograms = Math.max(1, Math.round((target * 0.3) / LES.length));
  const defs: Def[] = [];
  const instance = (i: number) => `host-${String(i).padStart(4, '0')}:9100`;
  for (let i = 0; i < counterInstances; i++) {
    const common = { job: `job-${i % JOBS}`, instance: instance(i) };
    const offsetMs = offsetFor(i, intervalMs);
    for (const handler of HANDLERS) {
      for (const method of METHODS) {
        for (const code of CODES) {
          const n = defs.length;
          const mean = code === '200' ? 10 + unit(n, 1) * 200 : unit(n, 1) * 5;
          defs.push({ labels: labelsFromObject({ __name__: QUERY_METRICS.counter, ...common, handler, method, code }), kind: 0, offsetMs, p: mean, h: -1 });
        }
      }
    }
  }
  const counters = defs.length;
  for (let i = 0; i < gaugeInstances; i++) {
    const common = { job: `job-${i % JOBS}`, instance: instance(i) };
    const offsetMs = offsetFor(i, intervalMs);
    for (const area of AREAS) {
      const n = defs.length;
      defs.push({ labels: labelsFromObject({ __name__: QUERY_METRICS.gauge, ...common, area }), kind: 1, offsetMs, p: 1e6 + unit(n, 2) * 1e9, h: -1 });
    }
  }
  const gauges = defs.length - counters;
  for (let h = 0; h < histograms; h++) {
    const i = Math.floor(h / HANDLERS.length);
    const common = { job: `job-${i % JOBS}`, instance: instance(i), handler: HANDLERS[h % HANDLERS.length]! };
    const offsetMs = offsetFor(i, intervalMs);
    for (let b = 0; b < LES.length; b++) {
      defs.push({ labels: labelsFromObject({ __name__: `${QUERY_METRICS.histogram}_bucket`, ...common, le: LES[b]! }), kind: 2, offsetMs, p: b, h });
    }
  }
  return { defs, counters, gauges, buckets: defs.length - counters - gauges, histograms };
}

export function encodeQueryWorkload(o: QueryWorkloadOptions): QueryWorkload {
  const t0 = performance.now();
  const { defs, counters, gauges, buckets, histograms } = buildDefs(o.series, o.intervalMs);
  const scrapes = Math.floor(o.spanMs / o.intervalMs);
  // Scrape k of a series is at base + k*interval + offset; the newest (k = scrapes-1) ends before endMs.
  const base = Math.floor((o.endMs - scrapes * o.intervalMs) / 1000) * 1000;
  const firstMs = base;
  // Every timestamp is below this (the newest scrape plus its offset, which is under one interval).
  const lastMs = base + scrapes * o.intervalMs;
  const shards = Math.max(1, Math.min(o.shards, defs.length));
  const scrapesPerSlice = Math.max(1, Math.floor(o.sliceMs / o.intervalMs));

  // Per-series state: counter value, gauge value; per histogram: cumulative bucket counts.
  const value = new Float64Array(defs.length);
  defs.forEach((d, n) => {
    // Counters start far above their per-scrape increase (or at 0, like the buckets): see the note on
    // rate()'s zero cutoff in encodeQueryWorkload.
    value[n] = d.kind === 0 ? 10_000 + Math.floor(unit(n, 3) * 1e6) : d.kind === 1 ? d.p : 0;
  });
  const hist = new Float64Array(histograms * LES.length);
  const nextValue = (d: Def, n: number, k: number): number => {
    if (d.kind === 0) {
      value[n]! += Math.floor(unit(n, 1000 + k) * 2 * d.p);
      return value[n]!;
    }
    if (d.kind === 1) {
      value[n] = Math.round(d.p * (1 + 0.2 * Math.sin(k / 30 + unit(n, 4) * 6.28) + 0.05 * (unit(n, 2000 + k) - 0.5)));
      return value[n]!;
    }
    // Buckets: the first bucket of a histogram draws the scrape's observations for all of them.
    const at = d.h * LES.length;
    if (d.p === 0 && k > 0) {
      // New observations per bucket (peaking around le=0.25); each cumulative bucket grows by the prefix sum.
      let cum = 0;
      for (let b = 0; b < LES.length; b++) {
        cum += Math.floor(unit(d.h * 31 + b, 3000 + k) * 8 * Math.exp(-Math.abs(b - 5) / 2));
        hist[at + b]! += cum;
      }
    }
    return hist[at + d.p]!;
  };

  const slices: EncodedRequest[][][] = [];
  let compressedBytes = 0;
  let samples = 0;
  let requests = 0;
  for (let k0 = 0; k0 < scrapes; k0 += scrapesPerSlice) {
    const k1 = Math.min(scrapes, k0 + scrapesPerSlice);
    const per = k1 - k0;
    // Values of this slice, per series (computed in scrape order so that state advances correctly).
    const vals = new Float64Array(defs.length * per);
    for (let k = k0; k < k1; k++) {
      for (let n = 0; n < defs.length; n++) vals[n * per + (k - k0)] = nextValue(defs[n]!, n, k);
    }
    const slice: EncodedRequest[][] = [];
    for (let w = 0; w < shards; w++) {
      const queue: EncodedRequest[] = [];
      let batch: WriteSeries[] = [];
      let inBatch = 0;
      const flush = (): void => {
        if (inBatch === 0) return;
        const body = snappyCompress(encodeWriteV1(batch)) as Buffer;
        compressedBytes += body.length;
        queue.push({ body, samples: inBatch });
        samples += inBatch;
        requests++;
        batch = [];
        inBatch = 0;
      };
      for (let n = w; n < defs.length; n += shards) {
        const d = defs[n]!;
        const ts = new Array<number>(per);
        for (let k = k0; k < k1; k++) ts[k - k0] = base + k * o.intervalMs + d.offsetMs;
        batch.push({ labels: d.labels, timestamps: ts, values: vals.subarray(n * per, (n + 1) * per) });
        inBatch += per;
        if (inBatch >= o.samplesPerRequest) flush();
      }
      flush();
      slice.push(queue);
    }
    slices.push(slice);
  }
  return {
    series: defs.length,
    counterSeries: counters,
    gaugeSeries: gauges,
    histogramSeries: buckets,
    scrapes,
    intervalMs: o.intervalMs,
    firstMs,
    lastMs,
    samples,
    slices,
    requests,
    compressedBytes,
    encodeMs: performance.now() - t0,
  };
}
