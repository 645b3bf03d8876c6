/**
 * Evaluation values. Every instant-vector or scalar sub-expression evaluates to a `Matrix` over the
 * evaluator's step grid (a scalar is one label-less series with a point at every step), as in Prometheus;
 * points are kept in growable Float64Array columns, never as one object per sample.
 */
import type { Labels } from '../../model/labels.js';
import { EMPTY_LABELS, labelsKey } from '../../model/labels.js';

const SLAB_SIZE = 1 << 16;
let slab = new Float64Array(SLAB_SIZE);
let slabUsed = 0;

/**
 * A zeroed Float64Array of length n. Small arrays are views into shared 512 KiB slabs: allocating an
 * ArrayBuffer per column costs far more than a view, and queries create many short columns.
 */
export function allocF64(n: number): Float64Array {
  if (n > 4096) return new Float64Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Float64Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return out;
}

export class Series {
  labels: Labels;
  /**
   * The series has lost its metric name: with delayed name removal `__name__` (and `__type__`/`__unit__`)
   * go when the query result is assembled; with eager removal they are gone already.
   */
  dropName: boolean;
  ts: Float64Array;
  fs: Float64Array;
  n = 0;

  constructor(labels: Labels, dropName = false, capacity = 4) {
    this.labels = labels;
    this.dropName = dropName;
    const cap = Math.max(1, capacity);
    this.ts = allocF64(cap);
    this.fs = allocF64(cap);
  }

  static from(labels: Labels, ts: Float64Array, fs: Float64Array, dropName = false): Series {
    const s = new Series(labels, dropName, 1);
    s.ts = ts;
    s.fs = fs;
    s.n = ts.length;
    return s;
  }

  push(t: number, f: number): void {
    if (this.n === this.ts.length) this.grow(this.n * 2);
    this.ts[this.n] = t;
    this.fs[this.n] = f;
    this.n++;
  }

  private grow(cap: number): void {
    const ts = allocF64(cap);
    const fs = allocF64(cap);
    ts.set(this.ts.subarray(0, this.n));
    fs.set(this.fs.subarray(0, this.n));
    this.ts = ts;
    this.fs = fs;
  }

  /** Exact-length views of the columns. */
  columns(): { ts: Float64Array; fs: Float64Array } {
    return { ts: this.ts.subarray(0, this.n), fs: this.fs.subarray(0, this.n) };
  }
}

export type Matrix = Series[];

export interface StringValue {
  kind: 'string';
  s: string;
}

export type Value = Matrix | StringValue;

export function isString(v: Value): v is StringValue {
  return !Array.isArray(v);
}

export function totalSamples(m: Matrix): number {
  let n = 0;
  for (const s of m) n += s.n;
  return n;
}

/** A dense scalar series: one label-less series with `f` at every step. */
export function scalarSeries(start: number, interval: number, steps: number, f: (i: number) => number): Series {
  const s = new Series(EMPTY_LABELS, false, steps);
  for (let i = 0; i < steps; i++) s.push(start + i * interval, f(i));
  return s;
}

/**
 * Collects the output samples of a per-step operation into series, one per label set. Detects two samples
 * with the same labels at one timestamp; keeps first-seen order (which is the result order of an instant
 * query).
 */
export class OutputCollector {
  private readonly byObj = new Map<Labels, Slot>();
  private readonly byKey = new Map<string, Slot>();
  readonly order: Slot[] = [];
  samples = 0;

  constructor(private readonly capacity: number) {}

  /** The output series for a label set (created on first use). */
  slot(labels: Labels, dropName: boolean): Slot {
    let slot = this.byObj.get(labels);
    if (slot === undefined) {
      const key = labelsKey(labels);
      slot = this.byKey.get(key);
      if (slot === undefined) {
        slot = { series: new Series(labels, dropName, Math.min(this.capacity, 64)), lastT: NaN };
        this.byKey.set(key, slot);
        this.order.push(slot);
      }
      this.byObj.set(labels, slot);
    }
    return slot;
  }

  /**
   * Adds a point to a slot. Returns false when the series already has a sample at `t` (the caller raises
   * the error), unless `allowDuplicates` (instant evaluation keeps such samples as separate series, as
   * Prometheus does).
   */
  push(slot: Slot, t: number, f: number, allowDuplicates = false): boolean {
    if (slot.lastT === t) {
      if (!allowDuplicates) return false;
      const s = slot.series;
      const extra = new Series(s.labels, s.dropName, 1);
      extra.push(t, f);
      this.order.push({ series: extra, lastT: t });
      this.samples++;
      return true;
    }
    slot.lastT = t;
    slot.series.push(t, f);
    this.samples++;
    return true;
  }

  emit(labels: Labels, t: number, f: number, dropName: boolean, allowDuplicates = false): boolean {
    return this.push(this.slot(labels, dropName), t, f, allowDuplicates);
  }

  matrix(): Matrix {
    return this.order.map((s) => s.series);
  }
}

export interface Slot {
  series: Series;
  lastT: number;
}
