/**
 * Shared vocabulary of the exposition parsers and writer: entry kinds, metric types, the one error class
 * they throw, and the cursor interface both parsers implement.
 */
import type { Labels } from '../model/labels.js';

/** What `next()` found. EOF ends the exposition (for OpenMetrics only after a valid `# EOF`). */
export const enum Entry {
  EOF = 0,
  Series = 1,
  Type = 2,
  Help = 3,
  Unit = 4,
  Comment = 5,
}

const ENTRY_NAMES = ['EOF', 'Series', 'Type', 'Help', 'Unit', 'Comment'];

export function entryName(e: Entry): string {
  return ENTRY_NAMES[e] ?? `Entry(${e as number})`;
}

/** OpenMetrics type names; the text format's `untyped` is reported as `unknown`, as Prometheus does. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown';

export type ExpositionFormat = 'text' | 'openmetrics';

/**
 * The only exception the parsers throw. `line` is 1-based (0 when the problem is not about a line, e.g.
 * an unsupported Content-Type); the message starts with `line N: ` so it can go straight into a target's
 * last-error.
 */
export class ExpositionError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(what: string, line: number, column = 0) {
    super(line > 0 ? `line ${line}: ${what}` : what);
    this.name = 'ExpositionError';
    this.line = line;
    this.column = column;
  }
}

export interface Exemplar {
  labels: Labels;
  value: number;
  /** Milliseconds, or null when the exemplar has no timestamp. */
  timestamp: number | null;
}

export interface ParserOptions {
  /**
   * Prometheus 3 rewrites `le` of histograms and `quantile` of summaries to the OpenMetrics canonical
   * float text (`le="1"` → `le="1.0"`) so both formats store the same series. Default true; false keeps
   * the exposed text, as Prometheus 2.x did.
   */
  normalizeLeQuantile?: boolean;
  /**
   * OpenMetrics only: do not report `_created` samples of counters, summaries and histograms as series
   * (read them through `createdTimestamp()` instead). Default false: they are series, as in Prometheus
   * without created-timestamp ingestion.
   */
  skipCreatedSeries?: boolean;
}

/**
 * A pull cursor over one exposition. `next()` advances to the next entry and the accessors describe that
 * entry until the following `next()`. Nothing per sample is allocated unless an accessor that returns a
 * string or an object is called: a scrape loop that caches series by `seriesKey()` reads only `value()` and
 * `timestamp()` for series it has seen before. `next()` throws ExpositionError on malformed input and
 * throws the same error on every later call; after EOF it keeps returning EOF. The whole body is held (as
 * Prometheus does, under body_size_limit), but nothing accumulates while reading it.
 */
export interface ExpositionParser {
  readonly format: ExpositionFormat;
  next(): Entry;
  /** 1-based line of the current entry. */
  line(): number;

  // Series entries.
  /** The sample's metric name (unescaped). Also the family name on Type/Help/Unit entries. */
  metricName(): string;
  /**
   * The series exactly as written (name and label block): a cheap cache key (the same text is the same
   * series; other spellings of it give other keys). It is a slice of the input, which it would keep alive:
   * pass it through detachString() before storing it. Every other string accessor returns detached copies.
   */
  seriesKey(): string;
  /** Whether seriesKey() would equal `key`, without making the string (the steady-state cache check). */
  seriesKeyIs(key: string): boolean;
  /**
   * A scrape loop's steady-state shortcut: when the next entry is a series line that starts with `key` (a
   * seriesKey() from an earlier scrape, without line breaks) followed by a blank, reads only its value and
   * timestamp and returns true; the entry then answers every accessor as if next() had read it. Otherwise
   * consumes nothing and returns false (call next()). A parser may always return false.
   */
  nextSeriesIfKey(key: string): boolean;
  /** Labels with `__name__`, sorted, empty values dropped; built on each call (cache them by seriesKey). */
  labels(): Labels;
  /** The sample value; NaN in the exposition is an ordinary NaN (the formats cannot carry stale markers). */
  value(): number;
  /** Milliseconds, or null when the sample has none. */
  timestamp(): number | null;
  /** OpenMetrics: the exemplar attached to this sample, if any. */
  exemplar(): Exemplar | null;
  /** OpenMetrics counters/summaries/histograms: the matching `_created` sample in milliseconds, or null. */
  createdTimestamp(): number | null;
  /**
   * Type entries: the declared type. Series entries: the type of the family the sample belongs to (by the
   * family's name and the suffixes its type allows), `unknown` when it belongs to none.
   */
  type(): MetricType;
  /** Series entries: the family name (sample name without its type suffix) or the metric name itself. */
  familyName(): string;

  // Metadata entries.
  /**
   * On a Type/Help/Unit entry: whether it names `family` and restates `value` (the type, help or unit as
   * returned for it before), compared in place without making strings; false when unsure (escapes).
   */
  metadataIs(family: string, value: string): boolean;
  help(): string;
  unit(): string;
  /** Comment entries (text format only): the whole line from `#`. */
  comment(): string;
}
