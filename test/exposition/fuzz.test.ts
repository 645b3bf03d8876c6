// Fuzzing both parsers: random bytes, random text over the formats' own alphabet, and mutations of valid
// expositions must give entries or an ExpositionError naming a line, nothing else, and always end. Each
// property is bounded in time; FC_SEED explores other inputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Entry, ExpositionError, writeTextFormat, type ExpositionParser, type MetricFamily } from '../../src/exposition/index.js';
import { getLabel } from '../../src/model/labels.js';
import { parser } from './helpers.js';

const SEED = Number(process.env.FC_SEED ?? 20240611);
const TIME_LIMIT_MS = 1500;
const FORMATS = ['text', 'openmetrics'] as const;

/** Reads a whole exposition, checking every accessor; returns the error message or null. */
function drain(p: ExpositionParser, input: string | Uint8Array): string | null {
  const lines = (typeof input === 'string' ? input.split('\n').length : input.filter((b) => b === 10).length + 1) + 1;
  const maxEntries = input.length + 2;
  let entries = 0;
  let lastLine = 0;
  try {
    for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
      assert.ok(++entries <= maxEntries, 'more entries than characters: the parser is not advancing');
      assert.ok(p.line() >= lastLine && p.line() <= lines, `line ${p.line()} out of order or range`);
      lastLine = p.line();
      if (e === Entry.Series) {
        const ls = p.labels();
        assert.ok(getLabel(ls, '__name__') !== '', 'labels hold a non-empty __name__');
        for (let i = 0; i < ls.length; i += 2) {
          assert.ok(ls[i + 1] !== '', 'no empty label values');
          if (i > 0) assert.ok(ls[i - 2]! < ls[i]!, 'label names sorted and unique');
        }
        assert.equal(typeof p.value(), 'number');
        const t = p.timestamp();
        assert.ok(t === null || Number.isInteger(t), `timestamp ${t}`);
        const ex = p.exemplar();
        if (ex !== null) assert.ok(ex.timestamp === null || Number.isInteger(ex.timestamp));
        const c = p.createdTimestamp();
        assert.ok(c === null || Number.isFinite(c));
        assert.equal(typeof p.seriesKey(), 'string');
        assert.equal(typeof p.familyName(), 'string');
        assert.equal(typeof p.type(), 'string');
      } else {
        assert.equal(typeof p.metricName(), 'string');
        assert.equal(typeof (p.help() + p.unit() + p.comment()), 'string');
      }
    }
    assert.equal(p.next(), Entry.EOF, 'EOF is sticky');
    return null;
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(err instanceof ExpositionError, `not an ExpositionError: ${String(err)}`);
    assert.match(err.message, /^line \d+: /);
    assert.ok(err.line >= 1 && err.line <= lines, `error line ${err.line} of ${lines}`);
    assert.ok(err.message.length < 400, 'error messages stay short');
    return err.message;
  }
}

function both(input: string | Uint8Array): void {
  for (const f of FORMATS) {
    drain(parser(f, input), input);
    drain(parser(f, input, { skipCreatedSeries: true, normalizeLeQuantile: false }), input);
  }
}

const ALPHABET = [
  'a', 'b', '_', ':', '0', '1', '9', '.', 'e', 'E', '+', '-', ' ', ' ', '\t', '\n', '\n', '\r', '\0', '{', '}', '"', '"', '=', ',',
  '#', '# ', '\\', '\\n', '\\"', 'le', 'quantile', '_total', '_created', '_bucket', 'HELP ', 'TYPE ', 'UNIT ', 'EOF', '# EOF\n',
  'counter', 'histogram', 'summary', 'gauge', 'NaN', '+Inf', 'ü', '😀', '\ufeff',
];
const alphabetText = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 60 }).map((xs) => xs.join(''));

const CORPUS = [
  '# HELP http_requests_total The total number of HTTP requests.\n# TYPE http_requests_total counter\n' +
    'http_requests_total{method="post",code="200"} 1027 1395066363000\nhttp_requests_total{method="post",code="400"}    3 1395066363000\n\n' +
    '# A histogram\n# TYPE h histogram\nh_bucket{le="0.05"} 24054\nh_bucket{le="+Inf"} 144320\nh_sum 53423\nh_count 144320\n' +
    'msdos{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n{"my.metric","a.b"="x"} NaN\n',
  '# TYPE foo_seconds histogram\n# UNIT foo_seconds seconds\n# HELP foo_seconds A \\"histogram\\".\n' +
    'foo_seconds_bucket{le="0.1"} 8 # {} 0.054\nfoo_seconds_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67 1520879607.789\n' +
    'foo_seconds_bucket{le="+Inf"} 17\nfoo_seconds_count 17\nfoo_seconds_sum 324789.3\nfoo_seconds_created 1520430000.123\n# TYPE c counter\nc_total{a="b"} 1 1.5\nc_created{a="b"} 1\n# TYPE s stateset\ns{s="a"} 1\n# EOF\n',
];

/** Replaces, inserts or deletes characters of `base` at random places. */
const mutated = (base: string): fc.Arbitrary<string> =>
  fc
    .array(
      fc.tuple(fc.nat({ max: base.length }), fc.constantFrom('replace', 'insert', 'delete', 'duplicate'), fc.constantFrom(...ALPHABET)),
      { minLength: 1, maxLength: 6 },
    )
    .map((ops) => {
      let s = base;
      for (const [at, op, text] of ops) {
        const i = Math.min(at, s.length);
        if (op === 'replace') s = s.slice(0, i) + text + s.slice(i + 1);
        else if (op === 'insert') s = s.slice(0, i) + text + s.slice(i);
        else if (op === 'delete') s = s.slice(0, i) + s.slice(i + 3);
        else s = s.slice(0, i) + s.slice(i, i + 20) + s.slice(i);
      }
      return s;
    });

const opts = { seed: SEED, numRuns: 100_000, interruptAfterTimeLimit: TIME_LIMIT_MS };

describe('fuzz: both parsers only ever return entries or throw ExpositionError', { timeout: 60_000 }, () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), both), opts);
  });

  it('random strings', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 })), both), opts);
  });

  it('random text over the formats’ alphabet', () => {
    fc.assert(fc.property(alphabetText, both), opts);
  });

  it('random text as bytes (invalid UTF-8 mixed in)', () => {
    const bytes = fc.tuple(alphabetText, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0xff, 0xc0, 0xed, 0x80, 0xf4)), { maxLength: 3 })).map(([t, bad]) => {
      const b = [...new TextEncoder().encode(t)];
      for (const [at, x] of bad) b.splice(at % (b.length + 1), 0, x);
      return new Uint8Array(b);
    });
    fc.assert(fc.property(bytes, both), opts);
  });

  for (const [i, base] of CORPUS.entries()) {
    it(`mutations of valid exposition ${i + 1}`, () => {
      const own = i === 0 ? 'text' : 'openmetrics';
      assert.equal(drain(parser(own, base), base), null, 'the unmutated exposition is valid');
      fc.assert(fc.property(mutated(base), both), opts);
    });
  }

  it('mutations of writer output', () => {
    const fam: fc.Arbitrary<MetricFamily> = fc.record({
      name: fc.constantFrom('a', 'b_total', 'my.metric', 'h'),
      type: fc.constantFrom('counter' as const, 'histogram' as const, 'gauge' as const),
      help: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
      samples: fc.array(
        fc.record({ labels: fc.dictionary(fc.constantFrom('le', 'x', 'a.b', 'quantile'), fc.string({ maxLength: 6 })), value: fc.double() }),
        { maxLength: 3 },
      ),
    });
    const input = fc.array(fam, { maxLength: 3 }).chain((fs) => mutated(writeTextFormat(fs)));
    fc.assert(fc.property(input, both), opts);
  });
});

describe('fuzz: huge inputs fail fast with short messages', { timeout: 60_000 }, () => {
  const big = 8 * 1024 * 1024;
  const cases: [string, string][] = [
    ['unterminated label value', 'a{b="' + 'x'.repeat(big)],
    ['endless name', 'a'.repeat(big)],
    ['endless value', 'a ' + '1'.repeat(big)],
    ['endless help', '# HELP a ' + 'h'.repeat(big)],
    ['endless quoted name', '{"' + 'n'.repeat(big)],
    ['many labels, one repeated', 'a{' + 'x="1",'.repeat(200_000) + 'x="1"} 1\n'],
    ['many distinct labels', 'a{' + Array.from({ length: 200_000 }, (_, i) => `l${i}="${i}"`).join(',') + '} 1\n# EOF\n'],
    ['a huge duplicate label name', `a{${'n'.repeat(big)}="1",${'n'.repeat(big)}="2"} 1\n`],
    ['many lines without # EOF', 'a 1\n'.repeat(500_000)],
  ];
  for (const [name, input] of cases) {
    it(name, () => {
      for (const f of FORMATS) {
        const t0 = performance.now();
        drain(parser(f, input), input);
        assert.ok(performance.now() - t0 < 5000, `${f}: too slow`);
      }
    });
  }
});
