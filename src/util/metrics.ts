/**
 * Counters and gauges whose values are read at scrape time from the plain numbers a module keeps, so that
 * hot paths only increment fields. prom-client counters only go up, so each collect resets the metric and
 * sets every series to the source's current value: series whose source went away (a tenant, a queue, an
 * agent) disappear with it.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type MetricLabels = Record<string, string | number>;
/** Sets one series of the metric being collected. */
export type EmitMetric = (labels: MetricLabels, value: number) => void;

/** A counter copied from a monotonic source at collect time; `read` emits the current total of each series. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: readonly string[], read: (emit: EmitMetric) => void): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, v) => this.inc(labels, v));
    },
  });
}

/** A gauge read at collect time; `read` emits the current value of each series. */
export function gaugeFrom(registry: Registry, name: string, help: string, labelNames: readonly string[], read: (emit: EmitMetric) => void): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, v) => this.set(labels, v));
    },
  });
}

/** Prometheus's default histogram buckets (seconds), as client_golang's DefBuckets. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A histogram's state kept by the module that observes (plain numbers, no labels, no registry), read by
 * `histogramFrom` at collect time. `counts[i]` counts observations in (bounds[i-1], bounds[i]]; the last
 * slot is +Inf.
 */
export class BucketCounts {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = DEFAULT_BUCKETS) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError(`histogram bucket bounds must increase: ${bounds.join(', ')}`);
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** Emits one histogram series: its labels and its counts. */
export type EmitHistogram = (labels: MetricLabels, h: BucketCounts) => void;

/**
 * A histogram read at collect time from `BucketCounts` the observing module keeps (one per series), so the
 * hot path only bumps numbers and series disappear with their source, like `counterFrom`'s.
 */
export function histogramFrom(registry: Registry, name: string, help: string, labelNames: readonly string[], read: (emit: EmitHistogram) => void): void {
  // prom-client's registry renders any object with this shape (its own Histogram's `get()` output).
  const header = { name, help, type: 'histogram', aggregator: 'sum' } as const;
  const metric = {
    ...header,
    labelNames,
    reset(): void {},
    async get() {
      const values: { labels: MetricLabels; value: number; metricName: string }[] = [];
      read((labels, h) => {
        let cumulative = 0;
        for (let i = 0; i <= h.bounds.length; i++) {
          cumulative += h.counts[i]!;
          values.push({ labels: { ...labels, le: i < h.bounds.length ? h.bounds[i]! : '+Inf' }, value: cumulative, metricName: `${name}_bucket` });
        }
        values.push({ labels, value: h.sum, metricName: `${name}_sum` });
        values.push({ labels, value: h.count, metricName: `${name}_count` });
      });
      return { ...header, values };
    },
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
