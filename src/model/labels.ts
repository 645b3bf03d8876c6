/**
 * Label sets. A `Labels` value is a flat, frozen array `[name0, value0, name1, value1, ...]` sorted by
 * name, with no empty values and no duplicate names. Flat arrays keep one allocation per series and
 * compare quickly; helpers below are the only place that knows the layout.
 */
export type Labels = readonly string[];

export const METRIC_NAME = '__name__';

export const EMPTY_LABELS: Labels = Object.freeze([]) as Labels;

/** Builds labels from an object, sorting by name and dropping empty values (Prometheus semantics). */
export function labelsFromObject(obj: Record<string, string>): Labels {
  const names = Object.keys(obj).filter((n) => obj[n] !== '').sort(compareStrings);
  const out: string[] = new Array(names.length * 2);
  for (let i = 0; i < names.length; i++) {
    out[2 * i] = names[i]!;
    out[2 * i + 1] = obj[names[i]!]!;
  }
  return Object.freeze(out);
}

/** Builds labels from name/value pairs in any order; later duplicates win; empty values are dropped. */
export function labelsFromPairs(pairs: readonly (readonly [string, string])[]): Labels {
  const obj: Record<string, string> = Object.create(null);
  for (const [n, v] of pairs) obj[n] = v;
  return labelsFromObject(obj);
}

export function labelsToObject(ls: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < ls.length; i += 2) out[ls[i]!] = ls[i + 1]!;
  return out;
}

export function labelCount(ls: Labels): number {
  return ls.length >> 1;
}

export function getLabel(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return ls[i + 1]!;
  return '';
}

export function hasLabel(ls: Labels, name: string): boolean {
  for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) return true;
  return false;
}

/** Returns labels without `name` (the same array when absent). */
export function withoutLabel(ls: Labels, name: string): Labels {
  for (let i = 0; i < ls.length; i += 2) {
    if (ls[i] === name) return Object.freeze([...ls.slice(0, i), ...ls.slice(i + 2)]);
  }
  return ls;
}

/** Returns labels with `name` set to `value` (removed when value is empty). */
export function withLabel(ls: Labels, name: string, value: string): Labels {
  const obj = labelsToObject(ls);
  obj[name] = value;
  return labelsFromObject(obj);
}

/** Byte-order (UTF-16 code unit) comparison; equals Go's string order for BMP text. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders label sets as Prometheus does: pairwise by name, then value, then by length. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A string key unique per label set, for maps. \xff never occurs in valid UTF-8 text as a code unit pair. */
export function labelsKey(ls: Labels): string {
  return ls.join('\xff');
}

const LEGACY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isLegacyLabelName(name: string): boolean {
  return LEGACY_NAME.test(name);
}
export function isLegacyMetricName(name: string): boolean {
  return LEGACY_METRIC.test(name);
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Every pair as `name="value"` in stored order, `__name__` included: how errors and logs name a series
 * exactly, whatever its names (unlike `labelsToString`, nothing is lifted out or left unquoted by rule).
 */
export function labelPairsText(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  return `{${parts.join(', ')}}`;
}

/**
 * Formats labels as Prometheus prints a series: `name{a="1", b="2"}`; names that are not legacy
 * identifiers are quoted (`{"my.metric", "a.b"="1"}`), as Prometheus 3 does.
 */
export function labelsToString(ls: Labels): string {
  const name = getLabel(ls, METRIC_NAME);
  const parts: string[] = [];
  let prefix = '';
  if (name !== '') {
    if (isLegacyMetricName(name)) prefix = name;
    else parts.push(quote(name));
  }
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    if (n === METRIC_NAME) continue;
    parts.push(`${isLegacyLabelName(n) ? n : quote(n)}=${quote(ls[i + 1]!)}`);
  }
  if (prefix !== '' && parts.length === 0) return prefix;
  return `${prefix}{${parts.join(', ')}}`;
}
