/**
 * Target groups: what service discovery yields and what the scrape pools turn into targets. A group has
 * a source (unique within its discoverer), the targets' own labels (at least `__address__`) and labels
 * common to all of them, as Prometheus's targetgroup.Group.
 *
 * This file also reads the file_sd format (a JSON or YAML list of `{targets: [...], labels: {...}}`),
 * with Prometheus's strictness: unknown keys, non-string values and invalid label names are errors.
 */
import { labelsFromObject, type Labels } from '../../model/labels.js';
import { isValidLabelName, isValidLabelValue } from '../relabel.js';
import { yamlToPlain } from '../../config/prometheus-yaml.js';
import type { StaticConfig } from '../../config/prometheus-types.js';

export const ADDRESS_LABEL = '__address__';

export interface TargetGroup {
  /** Identifies the group within its discoverer: the index for static configs, `file:index` for files. */
  readonly source: string;
  /** Per target: its own labels (sorted, at least `__address__`). */
  readonly targets: readonly Labels[];
  /** Labels shared by every target of the group; a target's own labels win. */
  readonly labels: Labels;
}

/** A file that is not a valid list of target groups; the message names the file and the element. */
export class TargetGroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetGroupError';
  }
}

/** The groups of a job's `static_configs`: one group per entry, sources "0", "1", ... as in Prometheus. */
export function staticGroups(configs: readonly StaticConfig[]): TargetGroup[] {
  return configs.map((sc, i) => ({
    source: String(i),
    targets: sc.targets.map((t) => Object.freeze([ADDRESS_LABEL, t])),
    labels: sc.labels,
  }));
}

const q = JSON.stringify;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${q(v)}`;
}

/**
 * Parses the content of a file_sd file. `format` comes from the file's extension. Throws a
 * TargetGroupError naming `file` and the offending element; never anything else.
 */
export function parseTargetGroups(content: string, format: 'json' | 'yaml', file: string): TargetGroup[] {
  let doc: unknown;
  if (format === 'json') {
    try {
      doc = JSON.parse(content);
    } catch (err) {
      throw new TargetGroupError(`${file}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    try {
      doc = yamlToPlain(content);
    } catch (err) {
      throw new TargetGroupError(`${file}: invalid YAML: ${(err as Error).message}`);
    }
  }
  // Go decodes `null` (and an empty YAML document) into an empty list.
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new TargetGroupError(`${file}: expected a list of target groups, got ${describe(doc)}`);
  const strictStrings = format === 'json';
  return doc.map((g, i) => parseGroup(g, `${file}: group ${i}`, `${file}:${i}`, strictStrings));
}

function parseGroup(g: unknown, at: string, source: string, strictStrings: boolean): TargetGroup {
  if (g === null || g === undefined) throw new TargetGroupError(`${at}: nil target group item found`);
  if (typeof g !== 'object' || Array.isArray(g)) throw new TargetGroupError(`${at}: expected a mapping with "targets" and "labels", got ${describe(g)}`);
  const obj = g as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== 'targets' && k !== 'labels') throw new TargetGroupError(`${at}: unknown field ${q(k)} (a target group has "targets" and "labels")`);
  }
  const targets: Labels[] = [];
  const rawTargets = obj.targets ?? null;
  if (rawTargets !== null) {
    if (!Array.isArray(rawTargets)) throw new TargetGroupError(`${at}: "targets" must be a list of strings, got ${describe(rawTargets)}`);
    rawTargets.forEach((t, j) => {
      if (typeof t !== 'string') throw new TargetGroupError(`${at}: targets[${j}] must be a string, got ${describe(t)}`);
      targets.push(Object.freeze([ADDRESS_LABEL, t]));
    });
  }
  const labels: Record<string, string> = Object.create(null);
  const rawLabels = obj.labels ?? null;
  if (rawLabels !== null) {
    if (typeof rawLabels !== 'object' || Array.isArray(rawLabels)) throw new TargetGroupError(`${at}: "labels" must be a mapping of label names to values, got ${describe(rawLabels)}`);
    for (const [name, value] of Object.entries(rawLabels as Record<string, unknown>)) {
      if (!isValidLabelName(name)) throw new TargetGroupError(`${at}: ${q(name)} is not a valid label name`);
      // YAML keeps every scalar's source text; JSON must say string, as Go's decoder insists.
      let v: string;
      if (typeof value === 'string') v = value;
      else if (value === null && !strictStrings) v = '';
      else throw new TargetGroupError(`${at}: label ${q(name)} must have a string value, got ${describe(value)}`);
      if (!isValidLabelValue(v)) throw new TargetGroupError(`${at}: label ${q(name)} has an invalid value ${q(v)}`);
      labels[name] = v;
    }
  }
  return { source, targets, labels: labelsFromObject(labels) };
}
