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
