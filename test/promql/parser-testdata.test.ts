// Every query of the upstream PromQL test scripts (read in place from ../shared/testdata/promqltest/) must
// parse, print, and parse back to the same tree; every series line must parse as series notation.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Matcher } from '../../src/model/matcher.js';
import { formatExpr, parseExpr, parseMetric, prettyExpr, type Expr } from '../../src/promql/parser/index.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'testdata', 'promqltest');

const EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;

interface EvalCase {
  file: string;
  line: number;
  query: string;
  expectFail: boolean;
}

interface SeriesLine {
  file: string;
  line: number;
  text: string;
}

/** Reads the eval queries and the series lines (load bodies, expected results) of one script. */
function readScript(file: string): { evals: EvalCase[]; series: SeriesLine[] } {
  const lines = readFileSync(join(DIR, file), 'utf8').split('\n').map((l) => l.trim());
  const evals: EvalCase[] = [];
  const series: SeriesLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const load = l.startsWith('load');
    const inst = EVAL_INSTANT.exec(l);
    const range = inst === null ? EVAL_RANGE.exec(l) : null;
    if (!load && inst === null && range === null) continue;
    // The body runs to the next blank line; comment lines count as blank.
    let j = i + 1;
    let expectFail = (inst ?? range)?.[1] === 'fail';
    for (; j < lines.length && lines[j] !== '' && !lines[j]!.startsWith('#'); j++) {
      const b = lines[j]!;
      if (/^expect\s+fail/.test(b)) expectFail = true;
      if (/^(expect\s|expected_fail)/.test(b)) continue;
      if (!load && /^[-+]?([0-9.]+(e[-+]?[0-9]+)?|inf|nan|0x[0-9a-f]+)$/i.test(b)) continue;
      series.push({ file, line: j + 1, text: b });
    }
    if (inst !== null) evals.push({ file, line: i + 1, query: inst[3]!, expectFail });
    if (range !== null) evals.push({ file, line: i + 1, query: range[5]!, expectFail });
    i = j - 1;
  }
  return { evals, series };
}

/** The metric part of a series line: up to the matching `}` of a label set, else up to the first space. */
function metricPart(line: string): string {
  const brace = line.indexOf('{');
  const space = line.search(/\s/);
  let end: number;
  if (brace >= 0 && (space < 0 || brace < space)) {
    let quote = '';
    end = line.length;
    for (let k = brace + 1; k < line.length; k++) {
      const c = line[k]!;
      if (quote !== '') {
        if (c === '\\' && quote !== '`') k++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'" || c === '`') quote = c;
      else if (c === '}') {
        end = k + 1;
        break;
      }
    }
  } else end = space < 0 ? line.length : space;
  return line.slice(0, end).replace(/@st$/, '');
}

/** A tree without positions, with matchers as sorted strings, for comparing parses of different texts. */
function normalize(v: unknown): unknown {
  if (v instanceof Matcher) return `${v.type}|${v.name}|${v.value}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o['type'] === undefined && typeof o['name'] === 'string' && Array.isArray(o['argTypes'])) return o['name'];
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      if (k === 'posRange') continue;
      out[k] = k === 'matchers' ? (normalize(x) as string[]).slice().sort() : normalize(x);
    }
    return out;
  }
  return v;
}

const available = existsSync(DIR);
const files = available ? readdirSync(DIR).filter((f) => f.endsWith('.test')).sort() : [];

describe('promql parser over the upstream test scripts', { skip: available ? false : `missing ${DIR}` }, () => {
  let parsed = 0;
  let roundTripped = 0;
  let failing = 0;
  let seriesParsed = 0;
  let total = 0;

  for (const file of files) {
    it(file, () => {
      const { evals, series } = readScript(file);
      total += evals.length;
      const problems: string[] = [];
      for (const c of evals) {
        let e: Expr;
        try {
          e = parseExpr(c.query);
        } catch (err) {
          // A query may only fail to parse where the script expects the evaluation to fail.
          if (c.expectFail) failing++;
          else problems.push(`${c.file}:${c.line}: ${c.query}: ${(err as Error).message}`);
          continue;
        }
        parsed++;
        const want = normalize(e);
        const printed = formatExpr(e);
        try {
          assert.deepStrictEqual(normalize(parseExpr(printed)), want);
          assert.deepStrictEqual(normalize(parseExpr(prettyExpr(e))), want);
          roundTripped++;
        } catch (err) {
          problems.push(`${c.file}:${c.line}: round trip of ${c.query} via ${printed}: ${(err as Error).message}`);
        }
      }
      for (const s of series) {
        try {
          parseMetric(metricPart(s.text));
          seriesParsed++;
        } catch (err) {
          problems.push(`${s.file}:${s.line}: series ${s.text}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  it('prints the totals', (t) => {
    const msg =
      `promql parser: ${parsed}/${total} eval queries parsed, ${roundTripped} round-tripped, ` +
      `${failing} rejected where failure is expected; ${seriesParsed} series lines parsed`;
    t.diagnostic(msg);
    console.log(msg);
    assert.ok(total >= 2000, `only ${total} eval queries found`);
    assert.equal(parsed + failing, total);
    assert.equal(roundTripped, parsed);
  });
});
