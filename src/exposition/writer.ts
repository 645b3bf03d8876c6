/**
 * Writes the Prometheus text format 0.0.4 as client_golang's expfmt does: `# HELP` (when given) then
 * `# TYPE` per family, one line per sample, values in Go's %g, timestamps as integer milliseconds.
 * Names that are not legacy identifiers are quoted (Prometheus 3 / text format 1.0.0 style), so anything
 * the writer produces reads back through TextParser unchanged.
 */
import { METRIC_NAME, type Labels } from '../model/labels.js';
import { formatSampleValue, isLegacyLabelName, isLegacyMetricName } from './lex.js';
import type { MetricType } from './types.js';

export interface FamilySample {
  /** The sample's labels, `__name__` included (it defaults to the family name when absent). */
  labels: Labels | Readonly<Record<string, string>>;
  value: number;
  /** Milliseconds; omitted when null or undefined. */
  timestamp?: number | null;
}

export interface MetricFamily {
  name: string;
  /** Default `unknown` (written `untyped`). */
  type?: MetricType;
  help?: string;
  samples: readonly FamilySample[];
}

/** How each type is declared in the text format, which knows only five (as client_python maps them). */
function textTypeName(t: MetricType): string {
  switch (t) {
    case 'counter':
    case 'gauge':
    case 'histogram':
    case 'summary':
      return t;
    case 'gaugehistogram':
      return 'histogram';
    case 'info':
    case 'stateset':
      return 'gauge';
    default:
      return 'untyped';
  }
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** Escapes `\`, line feed and (for quoted strings) `"`. */
export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

function metricNameToken(name: string): string {
  return isLegacyMetricName(name) ? name : `"${escapeLabelValue(name)}"`;
}

function labelNameToken(name: string): string {
  return isLegacyLabelName(name) ? name : `"${escapeLabelValue(name)}"`;
}

/**
 * A sample-at-a-time writer: call family() before the samples of each family (or never, for untyped
 * output without metadata), then sample() per sample; text() returns everything written so far.
 */
export class TextFormatWriter {
  private out = '';
  private familyName = '';

  family(name: string, type: MetricType = 'unknown', help?: string): this {
    const token = metricNameToken(name);
    if (help !== undefined) this.out += `# HELP ${token} ${escapeHelp(help)}\n`;
    this.out += `# TYPE ${token} ${textTypeName(type)}\n`;
    this.familyName = name;
    return this;
  }

  sample(labels: Labels | Readonly<Record<string, string>>, value: number, timestamp?: number | null): this {
    let name = '';
    let pairs = '';
    const add = (n: string, v: string): void => {
      if (n === METRIC_NAME) name = v;
      else if (v !== '') pairs += `${pairs === '' ? '' : ','}${labelNameToken(n)}="${escapeLabelValue(v)}"`;
    };
    if (Array.isArray(labels)) {
      const ls = labels as Labels;
      for (let i = 0; i + 1 < ls.length; i += 2) add(ls[i]!, ls[i + 1]!);
    } else {
      for (const [n, v] of Object.entries(labels as Readonly<Record<string, string>>)) add(n, v);
    }
    if (name === '') name = this.familyName;
    if (name === '') throw new RangeError('writeTextFormat: a sample needs a metric name (__name__ or a family)');
    let line: string;
    if (isLegacyMetricName(name)) line = pairs === '' ? name : `${name}{${pairs}}`;
    else line = `{${metricNameToken(name)}${pairs === '' ? '' : ',' + pairs}}`;
    line += ' ' + formatSampleValue(value);
    if (timestamp !== undefined && timestamp !== null) {
      if (!Number.isFinite(timestamp)) throw new RangeError(`writeTextFormat: timestamp ${timestamp} is not finite`);
      line += ' ' + Math.trunc(timestamp).toFixed(0);
    }
    this.out += line + '\n';
    return this;
  }

  text(): string {
    return this.out;
  }
}

/** The text format 0.0.4 for whole families (HELP, TYPE, samples), in the order given. */
export function writeTextFormat(families: Iterable<MetricFamily>): string {
  const w = new TextFormatWriter();
  for (const f of families) {
    w.family(f.name, f.type ?? 'unknown', f.help);
    for (const s of f.samples) w.sample(s.labels, s.value, s.timestamp);
  }
  return w.text();
}

/** The Content-Type of what writeTextFormat produces. */
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
