/**
 * The seams every storage implements: the head, blocks, bucket stores and remote queriers all append
 * through `Appender` and answer through `Querier`, so merge/dedup wrappers and PromQL work over any of them.
 */
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';

/** Opaque per-storage series handle; 0 means "unknown, look the labels up". */
export type SeriesRef = number;

/**
 * Stages samples in memory (synchronously) and makes them durable with one await at `commit()`.
 * An Appender is used by one request at a time and discarded after commit or rollback.
 */
export interface Appender {
  /** Stages one float sample; returns the series' ref for faster appends of the same series. Throws a `StorageError`. */
  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef;
  /** Writes the staged samples to the WAL, waits for fsync, then makes them visible. */
  commit(): Promise<void>;
  rollback(): void;
}

export interface Appendable {
  appender(): Appender;
}

export const enum ValueType {
  None = 0,
  Float = 1,
  Histogram = 2,
}

/**
 * A synchronous cursor over one series' samples in time order. `atT/atF` are valid after `next()` or
 * `seek()` returned a value other than `None`.
 */
export interface SampleIterator {
  next(): ValueType;
  /** Advances to the first sample at or after `t` (never moves backwards). */
  seek(t: number): ValueType;
  atT(): number;
  atF(): number;
}

export interface Series {
  readonly labels: Labels;
  /** A fresh iterator over the series' samples within the select hints' range (inclusive). */
  iterator(): SampleIterator;
}

/** Series sorted by labels; async per series, never per sample. */
export interface SeriesSet extends AsyncIterable<Series> {
  /** Non-fatal problems (partial data); readable after iteration. */
  readonly warnings: readonly string[];
}

export interface SelectHints {
  /** Inclusive bounds in milliseconds. */
  start: number;
  end: number;
  /** Optional: query step, function and range, as Prometheus passes them down. */
  step?: number;
  func?: string;
  range?: number;
  /** Optional maximum number of series to return (0 = no limit). */
  limit?: number;
}

export interface LabelHints {
  start: number;
  end: number;
  limit?: number;
}

export interface Querier {
  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet;
  labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]>;
  labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]>;
}

export interface Queryable {
  querier(): Querier;
}
