// Shared by the exposition tests: run a parser to its end and describe what it produced compactly, so the
// case tables read like the expositions they test.
import assert from 'node:assert/strict';
import { labelsToObject } from '../../src/model/labels.js';
import {
  collectEntries,
  ExpositionError,
  OpenMetricsParser,
  TextParser,
  type ExpositionParser,
  type ParsedEntry,
  type ParserOptions,
} from '../../src/exposition/index.js';

/** One entry as the tables spell it. */
export type Row =
  | ['series', Record<string, string>, number, (number | null)?, Record<string, unknown>?]
  | ['help', string, string]
  | ['type', string, string]
  | ['unit', string, string]
  | ['comment', string];

export function toRow(e: ParsedEntry): Row {
  switch (e.kind) {
    case 'series': {
      const extra: Record<string, unknown> = {};
      if (e.exemplar !== undefined) {
        extra.exemplar = { labels: labelsToObject(e.exemplar.labels), value: e.exemplar.value, timestamp: e.exemplar.timestamp };
      }
      if (e.created !== undefined) extra.created = e.created;
      const row: Row = ['series', labelsToObject(e.labels), e.value, e.timestamp];
      if (Object.keys(extra).length > 0) row.push(extra);
      return row;
    }
    case 'help':
      return ['help', e.name, e.help];
    case 'type':
      return ['type', e.name, e.type];
    case 'unit':
      return ['unit', e.name, e.unit];
    case 'comment':
      return ['comment', e.text];
  }
}

export function parser(format: 'text' | 'openmetrics', input: string | Uint8Array, opts?: ParserOptions): ExpositionParser {
  return format === 'text' ? new TextParser(input, opts) : new OpenMetricsParser(input, opts);
}

/** Parses to the end; rows, or the error message (only ExpositionError is acceptable). */
export function run(
  format: 'text' | 'openmetrics',
  input: string | Uint8Array,
  opts: ParserOptions & { created?: boolean } = {},
): Row[] | { error: string } {
  try {
    return collectEntries(parser(format, input, opts), { created: opts.created }).map(toRow);
  } catch (e) {
    if (e instanceof ExpositionError) return { error: e.message };
    throw e;
  }
}

export interface Case {
  name: string;
  input: string;
  want?: Row[];
  error?: string;
}

/** Normalises optional trailing fields so `['series', l, v]` equals `['series', l, v, null]`. */
function norm(rows: Row[]): unknown[] {
  return rows.map((r) => (r[0] === 'series' && r.length === 3 ? [...r, null] : r));
}

export function check(format: 'text' | 'openmetrics', c: Case, opts: ParserOptions & { created?: boolean } = {}): void {
  const got = run(format, c.input, opts);
  if (c.error !== undefined) {
    assert.ok(!Array.isArray(got), `${c.name}: expected error ${JSON.stringify(c.error)}, parsed ${JSON.stringify(got)}`);
    assert.equal(got.error, c.error, c.name);
  } else {
    assert.ok(Array.isArray(got), `${c.name}: unexpected error ${JSON.stringify(got)}`);
    assert.deepEqual(norm(got), norm(c.want ?? []), c.name);
  }
}
