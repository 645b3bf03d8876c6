// The text-format writer: exact output for known families (as client_golang's expfmt writes them), and
// the property that whatever it writes reads back through the parser unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Entry,
  formatGoFloat,
  formatOpenMetricsFloat,
  TextFormatWriter,
  TextParser,
  writeTextFormat,
  type MetricFamily,
  type MetricType,
} from '../../src/exposition/index.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';

const SEED = Number(process.env.FC_SEED ?? 20240611);

describe('writer: exact output', () => {
  it('help, type, labels, escapes, special values, timestamps', () => {
    const out = writeTextFormat([
      {
        name: 'name',
        type: 'counter',
        help: 'two-line\n doc  str\\ing',
        samples: [
          { labels: { __name__: 'name', labelname: 'val1', basename: 'basevalue' }, value: NaN },
          { labels: { __name__: 'name', labelname: 'val2', basename: 'basevalue' }, value: 0.23, timestamp: 1234567890 },
        ],
      },
      {
        name: 'gauge_name',
        type: 'gauge',
        samples: [
          { labels: labelsFromObject({ __name__: 'gauge_name', name_1: 'val with\nnew line', name_2: 'val with \\backslash and "quotes"' }), value: Infinity },
          { labels: { __name__: 'gauge_name', name_1: 'Björn', name_2: '佖佥' }, value: 3.14e42 },
          { labels: { __name__: 'gauge_name' }, value: -Infinity },
        ],
      },
      { name: 'untyped_name', samples: [{ labels: {}, value: -1 }, { labels: { a: '' }, value: 1e-7 }] },
    ]);
    assert.equal(
      out,
      '# HELP name two-line\\n doc  str\\\\ing\n' +
        '# TYPE name counter\n' +
        'name{labelname="val1",basename="basevalue"} NaN\n' +
        'name{labelname="val2",basename="basevalue"} 0.23 1234567890\n' +
        '# TYPE gauge_name gauge\n' +
        'gauge_name{name_1="val with\\nnew line",name_2="val with \\\\backslash and \\"quotes\\""} +Inf\n' +
        'gauge_name{name_1="Björn",name_2="佖佥"} 3.14e+42\n' +
        'gauge_name -Inf\n' +
        '# TYPE untyped_name untyped\n' +
        'untyped_name -1\n' +
        'untyped_name 1e-07\n',
    );
  });

  it('quotes names that are not legacy identifiers', () => {
    const w = new TextFormatWriter();
    w.family('my.metric', 'gauge', 'Dotted.');
    w.sample({ __name__: 'my.metric', 'a.b': 'x', 'c:d': 'y', ok: 'z' }, 1);
    assert.equal(w.text(), '# HELP "my.metric" Dotted.\n# TYPE "my.metric" gauge\n{"my.metric","a.b"="x","c:d"="y",ok="z"} 1\n');
  });

  it('maps OpenMetrics-only types to what the text format knows', () => {
    const types: [MetricType, string][] = [
      ['gaugehistogram', 'histogram'],
      ['info', 'gauge'],
      ['stateset', 'gauge'],
      ['unknown', 'untyped'],
      ['summary', 'summary'],
    ];
    for (const [t, want] of types) assert.equal(writeTextFormat([{ name: 'x', type: t, samples: [] }]), `# TYPE x ${want}\n`);
  });

  it('formats floats as Go does', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '-0'],
      [1, '1'],
      [-1, '-1'],
      [0.1, '0.1'],
      [100000, '100000'],
      [1e6, '1e+06'],
      [1234567, '1.234567e+06'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1.5e-300, '1.5e-300'],
      [1e21, '1e+21'],
      [123456.7, '123456.7'],
      [Number.MAX_VALUE, '1.7976931348623157e+308'],
      [5e-324, '5e-324'],
    ];
    for (const [f, s] of cases) assert.equal(formatGoFloat(f), s, String(f));
    const om: [number, string][] = [
      [1, '1.0'],
      [0, '0.0'],
      [0.5, '0.5'],
      [1e6, '1e+06'],
      [100000, '100000.0'],
      [Infinity, '+Inf'],
      [1e-5, '1e-05'],
    ];
    for (const [f, s] of om) assert.equal(formatOpenMetricsFloat(f), s, String(f));
  });

  it('rejects a sample without a name and non-finite timestamps', () => {
    assert.throws(() => new TextFormatWriter().sample({ a: 'b' }, 1), RangeError);
    assert.throws(() => new TextFormatWriter().sample({ __name__: 'a' }, 1, NaN), RangeError);
  });
});

// --- round trip ---------------------------------------------------------------------------------------

const legacyName = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,12}$/);
const legacyLabel = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/);
// Any text without NUL (no name can hold one in the exposition formats), including quotes, backslashes,
// line breaks, CR and non-BMP characters.
const anyText = fc
  .oneof(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('a\\"b', '\n', '\\n', 'x\r', '"', '\\'))
  .map((s) => s.replace(/\0/g, ''));
const metricName = fc.oneof(legacyName, anyText.filter((s) => s !== ''));
const labelName = fc.oneof(legacyLabel, anyText).filter((s) => s !== '' && s !== '__name__');
const value = fc.oneof(fc.double(), fc.integer().map((i) => i), fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity));
const timestamp = fc.option(fc.oneof(fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { nil: undefined });
const mtype = fc.constantFrom<MetricType>('counter', 'gauge', 'histogram', 'summary', 'unknown');

const family: fc.Arbitrary<MetricFamily> = fc
  .record({
    name: metricName,
    type: mtype,
    help: fc.option(anyText, { nil: undefined }),
    samples: fc.array(
      fc.record({ labels: fc.dictionary(labelName, anyText, { maxKeys: 4 }), value, timestamp }),
      { maxLength: 4 },
    ),
  })
  .map((f) => ({
    ...f,
    samples: f.samples.map((s) => ({ ...s, labels: labelsFromObject({ ...s.labels, __name__: f.name }) })),
  }));

const TEXT_TYPE: Record<string, MetricType> = { counter: 'counter', gauge: 'gauge', histogram: 'histogram', summary: 'summary', unknown: 'unknown' };

describe('writer: round trip through the parser', () => {
  it('families come back as written', () => {
    fc.assert(
      fc.property(fc.array(family, { maxLength: 5 }), (families) => {
        const text = writeTextFormat(families);
        const p = new TextParser(text, { normalizeLeQuantile: false });
        for (const f of families) {
          if (f.help !== undefined) {
            assert.equal(p.next(), Entry.Help);
            assert.equal(p.metricName(), f.name);
            // The text format cannot keep a help text made only of blanks (Prometheus reads it as empty).
            assert.equal(p.help(), /^[ \t]*$/.test(f.help) ? '' : f.help);
          }
          assert.equal(p.next(), Entry.Type);
          assert.equal(p.metricName(), f.name);
          assert.equal(p.type(), TEXT_TYPE[f.type ?? 'unknown']);
          for (const s of f.samples) {
            assert.equal(p.next(), Entry.Series);
            assert.deepEqual(labelsToObject(p.labels()), labelsToObject(s.labels as readonly string[]));
            assert.ok(Object.is(p.value(), s.value) || (Number.isNaN(p.value()) && Number.isNaN(s.value)), `${p.value()} != ${s.value}`);
            assert.equal(p.timestamp(), s.timestamp ?? null);
          }
        }
        assert.equal(p.next(), Entry.EOF);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('every float survives writing and parsing bit for bit (NaN aside)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (f) => {
        const p = new TextParser(`a ${formatGoFloat(f)}\n`);
        p.next();
        assert.ok(Object.is(p.value(), f));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('number parsing', () => {
  it('decimal text parses exactly as JavaScript (and Go) round it', () => {
    const digits = (max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: max });
    const decimal = fc
      .tuple(
        fc.constantFrom('', '+', '-'),
        fc.oneof(digits(25), fc.tuple(fc.option(digits(20), { nil: '' }), digits(20)).map(([x, y]) => `${x}.${y}`), digits(20).map((x) => `${x}.`)),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 400 })), { nil: undefined }),
      )
      .map(([sign, m, e]) => sign + m + (e === undefined ? '' : `${e[0]}${e[1]}${e[2]}`));
    fc.assert(
      fc.property(decimal, (text) => {
        const want = Number(text);
        const p = new TextParser(`a ${text}\n`);
        if (!Number.isFinite(want)) {
          assert.throws(() => p.next(), /number out of range/);
          return;
        }
        p.next();
        assert.ok(Object.is(p.value(), want), `${text}: ${p.value()} != ${want}`);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });
});
