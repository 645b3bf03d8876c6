/**
 * What happens to a scraped series' labels before it is stored (Prometheus's mutateSampleLabels and
 * verifyLabelLimits): the target's labels are attached (honor_labels decides conflicts), metric relabeling
 * runs, and the result is checked. Runs only on scrape-cache misses.
 */
import { compareStrings, getLabel, labelPairsText, METRIC_NAME, type Labels } from '../../model/labels.js';
import { isValidLabelName, type NameValidationScheme, type Relabeler } from '../relabel.js';

export const EXPORTED_LABEL_PREFIX = 'exported_';

/**
 * Adds the target's public labels to a scraped label set. With honor_labels the scraped value wins; without,
 * the target's does and a conflicting scraped value moves to `exported_<name>` (more `exported_` prefixes
 * while that name is taken), shorter names first as Prometheus resolves them.
 */
export function attachTargetLabels(ls: Labels, target: Labels, honor: boolean): Labels {
  if (target.length === 0) return ls;
  // Common case: no name in both sets, so a merge of the two sorted arrays is the answer.
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < ls.length && j < target.length) {
    const a = ls[i]!;
    const b = target[j]!;
    if (a === b) return attachSlow(ls, target, honor);
    if (a < b) {
      out.push(a, ls[i + 1]!);
      i += 2;
    } else {
      out.push(b, target[j + 1]!);
      j += 2;
    }
  }
  for (; i < ls.length; i += 2) out.push(ls[i]!, ls[i + 1]!);
  for (; j < target.length; j += 2) out.push(target[j]!, target[j + 1]!);
  return Object.freeze(out);
}

function attachSlow(ls: Labels, target: Labels, honor: boolean): Labels {
  const m = new Map<string, string>();
  for (let i = 0; i < ls.length; i += 2) m.set(ls[i]!, ls[i + 1]!);
  if (honor) {
    for (let i = 0; i < target.length; i += 2) if (!m.has(target[i]!)) m.set(target[i]!, target[i + 1]!);
  } else {
    let conflicts: [string, string][] | null = null;
    for (let i = 0; i < target.length; i += 2) {
      const name = target[i]!;
      const existing = m.get(name);
      if (existing !== undefined && existing !== '') (conflicts ??= []).push([name, existing]);
      m.set(name, target[i + 1]!);
    }
    if (conflicts !== null) {
      conflicts.sort((a, b) => a[0].length - b[0].length); // stable
      for (const [name, value] of conflicts) {
        let n = name;
        for (;;) {
          n = EXPORTED_LABEL_PREFIX + n;
          if (!m.get(n)) {
            m.set(n, value);
            break;
          }
        }
      }
    }
  }
  const names = [...m.keys()].sort(compareStrings);
  const out: string[] = [];
  for (const n of names) {
    const v = m.get(n)!;
    if (v !== '') out.push(n, v);
  }
  return Object.freeze(out);
}

/** The labels of a report series (`up`, `scrape_duration_seconds`, ...): the target's and the name. */
export function reportLabels(name: string, target: Labels): Labels {
  return attachTargetLabels(Object.freeze([METRIC_NAME, name]), target, false);
}

export interface LabelLimits {
  readonly labelLimit: number;
  readonly nameLengthLimit: number;
  readonly valueLengthLimit: number;
}

const utf8Length = (s: string): number => (/^[\x00-\x7f]*$/.test(s) ? s.length : Buffer.byteLength(s, 'utf8'));

/** Go's `%.50s`: at most 50 characters. */
const cut = (s: string): string => Array.from(s).slice(0, 50).join('');

/** Prometheus's message for the first limit the series breaks, or null. Lengths are in bytes, as Go's. */
export function checkLabelLimits(ls: Labels, limits: LabelLimits): string | null {
  if (limits.labelLimit === 0 && limits.nameLengthLimit === 0 && limits.valueLengthLimit === 0) return null;
  const met = cut(getLabel(ls, METRIC_NAME));
  const n = ls.length >> 1;
  if (limits.labelLimit > 0 && n > limits.labelLimit) {
    return `label_limit exceeded (metric: ${met}, number of labels: ${n}, limit: ${limits.labelLimit})`;
  }
  if (limits.nameLengthLimit === 0 && limits.valueLengthLimit === 0) return null;
  for (let i = 0; i < ls.length; i += 2) {
    const name = ls[i]!;
    const value = ls[i + 1]!;
    if (limits.nameLengthLimit > 0) {
      const len = utf8Length(name);
      if (len > limits.nameLengthLimit) {
        return `label_name_length_limit exceeded (metric: ${met}, label name: ${cut(name)}, length: ${len}, limit: ${limits.nameLengthLimit})`;
      }
    }
    if (limits.valueLengthLimit > 0) {
      const len = utf8Length(value);
      if (len > limits.valueLengthLimit) {
        return `label_value_length_limit exceeded (metric: ${met}, label name: ${cut(name)}, value: ${JSON.stringify(cut(value))}, length: ${len}, limit: ${limits.valueLengthLimit})`;
      }
    }
  }
  return null;
}

const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The final labels of a scraped series, or a string saying why the scrape must fail; null when metric
 * relabeling dropped it.
 */
export function sampleLabels(
  raw: Labels,
  target: Labels,
  honor: boolean,
  relabeler: Relabeler,
  scheme: NameValidationScheme,
  limits: LabelLimits,
): Labels | null | string {
  const withTarget = attachTargetLabels(raw, target, honor);
  const ls = relabeler.process(withTarget);
  if (ls === null || ls.length === 0) return null;
  const name = getLabel(ls, METRIC_NAME);
  if (name === '') return `missing metric name (${METRIC_NAME} label)`;
  if (scheme === 'legacy') {
    let ok = LEGACY_METRIC_NAME.test(name);
    for (let i = 0; ok && i < ls.length; i += 2) if (ls[i] !== METRIC_NAME && !isValidLabelName(ls[i]!, 'legacy')) ok = false;
    if (!ok) return `invalid metric name or label names: ${labelPairsText(ls)}`;
  }
  return checkLabelLimits(ls, limits) ?? ls;
}

/** Whether a sampleLabels result is an error message. */
export function isLabelError(r: Labels | null | string): r is string {
  return typeof r === 'string';
}
