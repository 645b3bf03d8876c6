/**
 * The built-in demo target of `argus all --demo` (served at `/demo/metrics`): a simulated web shop whose
 * metrics look like a real service's — request counters by handler/method/code, a request-duration
 * histogram, in-flight and queue gauges, a cache hit counter, process-style counters. State advances with
 * wall time between scrapes (rates with a daily-ish wave and random noise), so the two agent replicas that
 * scrape it see the same monotonic counters, and `rate()`/`histogram_quantile()` draw believable graphs.
 */
import { TextFormatWriter } from '../exposition/index.js';

const HANDLERS = [
  { handler: '/', weight: 6, p50: 0.02 },
  { handler: '/products', weight: 4, p50: 0.05 },
  { handler: '/cart', weight: 2, p50: 0.08 },
  { handler: '/checkout', weight: 0.6, p50: 0.25 },
  { handler: '/api/search', weight: 3, p50: 0.12 },
] as const;
const CODES = [
  { code: '200', share: 0.955 },
  { code: '404', share: 0.03 },
  { code: '500', share: 0.015 },
] as const;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A small deterministic PRNG (mulberry32) so a restart of the demo looks the same. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class DemoShop {
  private readonly rand = prng(42);
  private last: number;
  private readonly started: number;
  private readonly requests = new Map<string, number>();
  private readonly buckets = new Map<string, Float64Array>();
  private readonly sums = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private cacheHits = 0;
  private cacheMisses = 0;
  private cpuSeconds = 0;
  private ordersTotal = 0;
  private inFlight = 0;
  private queueDepth = 0;

  constructor(now = Date.now()) {
    this.started = now;
    this.last = now;
  }

  /** Advances the simulation to `now` (ms). Going backwards does nothing. */
  advance(now: number): void {
    const dt = (now - this.last) / 1000;
    if (dt <= 0) return;
    this.last = now;
    // Traffic follows a 30-minute wave so graphs move within a demo session.
    const wave = 1 + 0.5 * Math.sin(((now - this.started) / 1_800_000) * 2 * Math.PI);
    let total = 0;
    for (const h of HANDLERS) {
      const n = Math.round(h.weight * 5 * wave * dt * (0.8 + 0.4 * this.rand()));
      total += n;
      for (const c of CODES) {
        const k = `${h.handler}\u0000${c.code}`;
        this.requests.set(k, (this.requests.get(k) ?? 0) + Math.round(n * c.share));
      }
      let b = this.buckets.get(h.handler);
      if (b === undefined) this.buckets.set(h.handler, (b = new Float64Array(BUCKETS.length)));
      let sum = this.sums.get(h.handler) ?? 0;
      // Durations are log-normal around the handler's median; sampling a bounded number keeps scrapes cheap.
      const draws = Math.min(n, 200);
      const scale = draws === 0 ? 0 : n / draws;
      for (let i = 0; i < draws; i++) {
        const u = Math.max(1e-9, this.rand());
        const d = h.p50 * Math.exp(0.6 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rand()));
        sum += d * scale;
        for (let j = 0; j < BUCKETS.length; j++) if (d <= BUCKETS[j]!) b[j]! += scale;
      }
      this.sums.set(h.handler, sum);
      this.counts.set(h.handler, (this.counts.get(h.handler) ?? 0) + n);
    }
    const hits = Math.round(total * (0.85 + 0.1 * this.rand()));
    this.cacheHits += hits;
    this.cacheMisses += total - hits;
    this.cpuSeconds += dt * (0.05 + 0.002 * total / Math.max(dt, 1e-3));
    this.ordersTotal += Math.round(HANDLERS[3].weight * 5 * wave * dt * 0.7);
    this.inFlight = Math.max(0, Math.round(3 * wave + 4 * (this.rand() - 0.5)));
    this.queueDepth = Math.max(0, Math.round(this.queueDepth * 0.7 + 10 * this.rand() * wave - 3));
  }

  /** The exposition (text format 0.0.4) at `now`. */
  metrics(now = Date.now()): string {
    this.advance(now);
    const w = new TextFormatWriter();
    w.family('shop_http_requests_total', 'counter', 'HTTP requests served by the demo shop, by handler and status code.');
    for (const [k, v] of [...this.requests].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [handler, code] = k.split('\u0000');
      w.sample({ handler: handler!, code: code!, method: handler === '/checkout' ? 'POST' : 'GET' }, Math.round(v));
    }
    w.family('shop_http_request_duration_seconds', 'histogram', 'Time spent serving HTTP requests.');
    for (const h of HANDLERS) {
      const b = this.buckets.get(h.handler);
      if (b === undefined) continue;
      for (let j = 0; j < BUCKETS.length; j++) {
        w.sample({ __name__: 'shop_http_request_duration_seconds_bucket', handler: h.handler, le: String(BUCKETS[j]) }, Math.round(b[j]!));
      }
      const count = this.counts.get(h.handler) ?? 0;
      w.sample({ __name__: 'shop_http_request_duration_seconds_bucket', handler: h.handler, le: '+Inf' }, count);
      w.sample({ __name__: 'shop_http_request_duration_seconds_sum', handler: h.handler }, this.sums.get(h.handler) ?? 0);
      w.sample({ __name__: 'shop_http_request_duration_seconds_count', handler: h.handler }, count);
    }
    w.family('shop_http_requests_in_flight', 'gauge', 'Requests currently being served.').sample({}, this.inFlight);
    w.family('shop_job_queue_depth', 'gauge', 'Background jobs waiting in the queue.').sample({ queue: 'emails' }, this.queueDepth);
    w.family('shop_cache_requests_total', 'counter', 'Product cache lookups by result.');
    w.sample({ result: 'hit' }, this.cacheHits).sample({ result: 'miss' }, this.cacheMisses);
    w.family('shop_orders_total', 'counter', 'Orders placed.').sample({}, this.ordersTotal);
    w.family('shop_cpu_seconds_total', 'counter', 'Simulated CPU time consumed.').sample({}, Math.round(this.cpuSeconds * 1000) / 1000);
    w.family('shop_build_info', 'gauge', 'Build information of the demo shop.').sample({ version: '1.4.2', revision: 'demo' }, 1);
    return w.text();
  }
}
