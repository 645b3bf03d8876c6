/** Label-set helpers for the evaluator: metadata dropping, match groups, Prometheus's label printing. */
import type { Labels } from '../../model/labels.js';
import { labelsFromPairs, labelsKey, METRIC_NAME } from '../../model/labels.js';
import { MatchType, type Matcher } from '../../model/matcher.js';
import { goQuote } from '../parser/goutil.js';
import { DUPLICATE_LABELSET, execError } from './errors.js';
import { Series, type Matrix } from './value.js';

const METADATA = new Set([METRIC_NAME, '__type__', '__unit__']);

/** Removes `__name__`, `__type__` and `__unit__` (returns the same array when none is present). */
export function dropMetadata(ls: Labels): Labels {
  let found = false;
  for (let i = 0; i < ls.length; i += 2) if (METADATA.has(ls[i]!)) found = true;
  if (!found) return ls;
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    if (METADATA.has(ls[i]!)) continue;
    out.push(ls[i]!, ls[i + 1]!);
  }
  return Object.freeze(out);
}

const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus's `Labels.String()`: `{a="1", b="2"}` with every label, names quoted when not legacy. */
export function promLabelsString(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    parts.push(`${LEGACY_LABEL.test(n) ? n : goQuote(n)}=${goQuote(ls[i + 1]!)}`);
  }
  return `{${parts.join(', ')}}`;
}

/** A label name is valid when it is non-empty UTF-8 (no unpaired surrogates, which stand for bad bytes). */
export function isValidLabelName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

/** The labels `absent()` gives: the equality matchers that name a label once (other than the name). */
export function absentLabels(matchers: readonly Matcher[]): Labels {
  const values = new Map<string, string | null>();
  for (const m of matchers) {
    if (m.name === METRIC_NAME) continue;
    if (m.type === MatchType.Equal && !values.has(m.name)) values.set(m.name, m.value);
    else values.set(m.name, null);
  }
  const pairs: [string, string][] = [];
  for (const [k, v] of values) if (v !== null) pairs.push([k, v]);
  return labelsFromPairs(pairs);
}

/** The labels of an aggregation group: `by` keeps the listed labels, `without` drops them and the name. */
export function groupingLabels(ls: Labels, grouping: readonly string[], without: boolean): Labels {
  const set = new Set(grouping);
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += 2) {
    const n = ls[i]!;
    const keep = without ? n !== METRIC_NAME && !set.has(n) : set.has(n);
    if (keep) out.push(n, ls[i + 1]!);
  }
  return Object.freeze(out);
}

/** Whether two series of `m` have the same labels. */
export function containsSameLabelset(m: Matrix): boolean {
  if (m.length <= 1) return false;
  const seen = new Set<string>();
  for (const s of m) {
    const key = labelsKey(s.labels);
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

/**
 * Merges series that have the same labels (after a relabelling or name removal) when their points do not
 * overlap; overlapping points are the duplicate-labelset error.
 */
export function mergeSameLabelset(m: Matrix): Matrix {
  if (m.length <= 1) return m;
  const groups = new Map<string, Series[]>();
  let dup = false;
  for (const s of m) {
    const key = labelsKey(s.labels);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [s]);
    else {
      g.push(s);
      dup = true;
    }
  }
  if (!dup) return m;
  const out: Matrix = [];
  for (const g of groups.values()) {
    if (g.length === 1) {
      out.push(g[0]!);
      continue;
    }
    const pts: [number, number][] = [];
    for (const s of g) for (let i = 0; i < s.n; i++) pts.push([s.ts[i]!, s.fs[i]!]);
    pts.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < pts.length; i++) if (pts[i]![0] === pts[i - 1]![0]) throw execError(DUPLICATE_LABELSET);
    const merged = new Series(g[0]!.labels, g[0]!.dropName, pts.length);
    for (const [t, f] of pts) merged.push(t, f);
    out.push(merged);
  }
  return out;
}
