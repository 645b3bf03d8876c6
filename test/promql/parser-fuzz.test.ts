// Property tests: whatever the input, the parser returns a tree or throws a ParseError (never another
// exception, never a hang), and whatever it accepts prints to text that parses back to the same printing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatExpr, ParseError, parseExpr, parseMetricSelector, prettyExpr } from '../../src/promql/parser/index.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'testdata', 'promqltest');

const SEEDS: string[] = [
  'sum by (job) (rate(http_requests_total{job="api",code=~"5.."}[5m])) / ignoring(code) group_left sum(x)',
  'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m] offset -1m @ start())))',
  'foo[5m:1m] offset (1h*2)',
  'a + on(b) group_right(c) fill_left(1) d > bool 3 and e unless f or g',
  'topk(5, -x ^ 2 % 3 atan2 y) @ 100',
  'label_replace({"my.metric", "a.b"="x"}, "d", "$1", "s", `(.*)`) # c',
  'count_values("v", x) + quantile(0.5, y) - limitk(2, z) * limit_ratio(0.1, w)',
  'rate(x[step()+1m] anchored) + increase(y[max_of(range(), 5m)] smoothed)',
  "'str\\n' < 0x1F >= 1e3 != .5 == Inf <= NaN",
];
if (existsSync(DIR)) {
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.test'))) {
    for (const line of readFileSync(join(DIR, f), 'utf8').split('\n')) {
      const m = /^\s*eval\S*\s+(?:instant\s+at\s+\S+|range\s+from\s+\S+\s+to\s+\S+\s+step\s+\S+)\s+(.+)$/.exec(line);
      if (m !== null) SEEDS.push(m[1]!);
    }
  }
}

const TOKENS = [
  ' ', '(', ')', '{', '}', '[', ']', ',', ':', '=', '==', '!=', '=~', '!~', '<', '>', '<=', '>=', '</', '>/',
  '+', '-', '*', '/', '%', '^', '@', '#', '\n', '"', "'", '`', '\\', '.', '_', '0', '1', '5', '0x1f', '1e3',
  '5m', '1h30m', 'Inf', 'NaN', 'foo', 'bar:baz', 'sum', 'topk', 'count_values', 'by', 'without', 'on',
  'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'atan2', 'offset', 'start()',
  'end()', 'step()', 'range()', 'min_of', 'max_of', 'fill', 'fill_left', 'fill_right', 'anchored',
  'smoothed', 'rate', 'time', 'info', 'label_join', '"a"', '"\\x41"', '"é"', 'ä', '\u00a0', '\ud800', '😀',
];

/** Parses; a ParseError is fine, any other exception fails. Accepted input must print and parse back. */
function check(input: string): void {
  let printed: string;
  try {
    const e = parseExpr(input);
    printed = formatExpr(e);
    prettyExpr(e);
  } catch (err) {
    if (err instanceof ParseError) {
      assert.ok(err.message.includes(': parse error: '), err.message);
      return;
    }
    throw new Error(`non-ParseError for ${JSON.stringify(input)}: ${String(err)}`);
  }
  // Two printing quirks are Prometheus's own and kept for format_query compatibility: +Inf prints with its
  // sign (so `Inf ^ x` prints as `+Inf ^ x`, which reads back as a unary plus), and durations print in
  // whole milliseconds (so `offset 0.0001` prints as `offset 0s`).
  if (/\+Inf|\b0s\b/.test(printed)) return;
  let again: string;
  try {
    again = formatExpr(parseExpr(printed));
  } catch (err) {
    throw new Error(`${JSON.stringify(input)} printed as ${JSON.stringify(printed)}, which fails: ${String(err)}`);
  }
  assert.equal(again, printed, `unstable printing of ${JSON.stringify(input)}`);
}

function checkSelector(input: string): void {
  try {
    parseMetricSelector(input);
  } catch (err) {
    if (!(err instanceof ParseError)) throw new Error(`non-ParseError for ${JSON.stringify(input)}: ${String(err)}`);
  }
}

const tokenString = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((ts) => ts.join(''));

/** A seed query with a few random edits: deletions, insertions of tokens, duplications and swaps. */
const mutated = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(
      fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom(...TOKENS), fc.constantFrom('del', 'ins', 'dup', 'swap')),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([seed, edits]) => {
    let s = seed;
    for (const [at, len, tok, op] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (op === 'del') s = s.slice(0, i) + s.slice(i + len);
      else if (op === 'ins') s = s.slice(0, i) + tok + s.slice(i);
      else if (op === 'dup') s = s.slice(0, i + len) + s.slice(i, i + len) + s.slice(i + len);
      else s = s.slice(i + 1, i + 1 + len) + s.slice(i, i + 1) + s.slice(0, i) + s.slice(i + 1 + len);
    }
    return s;
  });

describe('promql parser fuzzing', () => {
  it('handles token soup', () => {
    fc.assert(fc.property(tokenString, check), { numRuns: 3000 });
  });
  it('handles mutated real queries', () => {
    fc.assert(fc.property(mutated, check), { numRuns: 3000 });
  });
  it('handles arbitrary unicode text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), check), { numRuns: 1000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), check), { numRuns: 1000 });
  });
  it('handles selector soup', () => {
    fc.assert(fc.property(tokenString, checkSelector), { numRuns: 1000 });
  });
  it('stops quickly on deep nesting and huge inputs', () => {
    const started = Date.now();
    for (const q of [
      '('.repeat(50_000) + '1' + ')'.repeat(50_000),
      '-'.repeat(50_000) + '1',
      'a' + ' + a'.repeat(50_000),
      'x' + '[1m:]'.repeat(5_000),
      'foo[' + '('.repeat(5_000) + '1m' + ')'.repeat(5_000) + ']',
      'sum(' + 'x,'.repeat(50_000) + 'x)',
      '"' + 'a'.repeat(1_000_000) + '"',
    ]) {
      check(q);
    }
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});
