// The Prometheus text format 0.0.4 / 1.0.0: what Prometheus's scraper accepts, entry by entry, and the
// error (with its line) for what it rejects. Cases written from the format description and the behaviour
// of Prometheus's lexer (model/textparse/promlex.l).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Entry, TextParser } from '../../src/exposition/index.js';
import { isStaleNaN } from '../../src/model/value.js';
import { check, run, type Case } from './helpers.js';

const valid: Case[] = [
  { name: 'empty input', input: '', want: [] },
  { name: 'bare sample', input: 'up 1\n', want: [['series', { __name__: 'up' }, 1]] },
  { name: 'no final line break', input: 'up 1', want: [['series', { __name__: 'up' }, 1]] },
  {
    name: 'labels, timestamp',
    input: 'http_requests_total{method="post",code="200"} 1027 1395066363000\n',
    want: [['series', { __name__: 'http_requests_total', method: 'post', code: '200' }, 1027, 1395066363000]],
  },
  {
    name: 'help and type',
    input: '# HELP http_requests_total The total number of HTTP requests.\n# TYPE http_requests_total counter\nhttp_requests_total 3\n',
    want: [
      ['help', 'http_requests_total', 'The total number of HTTP requests.'],
      ['type', 'http_requests_total', 'counter'],
      ['series', { __name__: 'http_requests_total' }, 3],
    ],
  },
  {
    name: 'label value escapes',
    input: 'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n',
    want: [
      [
        'series',
        { __name__: 'msdos_file_access_time_seconds', path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' },
        1458255915,
      ],
    ],
  },
  { name: 'unknown escapes stay as written', input: 'a{b="x\\ty"} 1\n', want: [['series', { __name__: 'a', b: 'x\\ty' }, 1]] },
  {
    name: 'HELP escapes: \\\\ and \\n only',
    input: '# HELP a x\\\\y\\nz \\"q\\"\n',
    want: [['help', 'a', 'x\\y\nz \\"q\\"']],
  },
  {
    name: 'special values',
    input: 'a +Inf\nb -Inf\nc NaN\nd nan\ne inf\nf -infinity\ng 1e-3\nh .5\ni 5.\nj 007\n',
    want: [
      ['series', { __name__: 'a' }, Infinity],
      ['series', { __name__: 'b' }, -Infinity],
      ['series', { __name__: 'c' }, NaN],
      ['series', { __name__: 'd' }, NaN],
      ['series', { __name__: 'e' }, Infinity],
      ['series', { __name__: 'f' }, -Infinity],
      ['series', { __name__: 'g' }, 0.001],
      ['series', { __name__: 'h' }, 0.5],
      ['series', { __name__: 'i' }, 5],
      ['series', { __name__: 'j' }, 7],
    ],
  },
  {
    name: 'blanks and tabs between tokens, optional commas, trailing comma',
    input: 'm { a = "1" b="2", c="3", } 4 \t 5 \t\n',
    want: [['series', { __name__: 'm', a: '1', b: '2', c: '3' }, 4, 5]],
  },
  { name: 'leading blanks', input: '   \tm 1\n', want: [['series', { __name__: 'm' }, 1]] },
  { name: 'value right after the braces', input: 'm{}1\n', want: [['series', { __name__: 'm' }, 1]] },
  { name: 'blank lines anywhere', input: '\n\na 1\n \t \n\nb 2\n\n', want: [['series', { __name__: 'a' }, 1], ['series', { __name__: 'b' }, 2]] },
  {
    name: 'comments, and # HELP without a name is a comment',
    input: '#\n# just words\n#HELP x y\n# HELP\n# HELPx y\n',
    want: [['comment', '#'], ['comment', '# just words'], ['comment', '#HELP x y'], ['comment', '# HELP'], ['comment', '# HELPx y']],
  },
  {
    name: 'metadata with tabs, empty help, trailing blanks keep the text',
    input: '#\tTYPE a\tgauge\n# HELP b\n# HELP c \n# HELP d  two blanks\n',
    want: [['type', 'a', 'gauge'], ['help', 'b', ''], ['help', 'c', ''], ['help', 'd', ' two blanks']],
  },
  {
    name: 'untyped is unknown',
    input: '# TYPE x untyped\nx 1\n',
    want: [['type', 'x', 'unknown'], ['series', { __name__: 'x' }, 1]],
  },
  {
    name: 'UNIT is only a comment in this format',
    input: '# UNIT x seconds\n',
    want: [['comment', '# UNIT x seconds']],
  },
  {
    name: 'quoted UTF-8 names (Prometheus 3)',
    input: '# HELP "my.metric" Dots.\n# TYPE "my.metric" gauge\n{"my.metric", "a.b"="x"} 1\n{"a.b"="y", "my.metric"} 2\nfoo{"ü"="1"} 3\n',
    want: [
      ['help', 'my.metric', 'Dots.'],
      ['type', 'my.metric', 'gauge'],
      ['series', { __name__: 'my.metric', 'a.b': 'x' }, 1],
      ['series', { __name__: 'my.metric', 'a.b': 'y' }, 2],
      ['series', { __name__: 'foo', ü: '1' }, 3],
    ],
  },
  {
    name: 'escapes in quoted names',
    input: '{"a\\"b\\nc", "d\\\\e"="f"} 1\n',
    want: [['series', { __name__: 'a"b\nc', 'd\\e': 'f' }, 1]],
  },
  { name: 'colons in metric names, underscores first', input: 'a:b:c_d 1\n_x 2\n', want: [['series', { __name__: 'a:b:c_d' }, 1], ['series', { __name__: '_x' }, 2]] },
  { name: 'empty label values are dropped', input: 'a{b="",c="d"} 1\n', want: [['series', { __name__: 'a', c: 'd' }, 1]] },
  { name: 'label order is normalised', input: 'a{z="1",b="2",m="3"} 1\n', want: [['series', { __name__: 'a', b: '2', m: '3', z: '1' }, 1]] },
  {
    name: 'NUL bytes inside label values and help',
    input: '# HELP m a\u0000b\nm{l="x\u0000"} 1\n',
    want: [['help', 'm', 'a\u0000b'], ['series', { __name__: 'm', l: 'x\u0000' }, 1]],
  },
  { name: 'a NUL at the start of a line ends the input (as in Prometheus)', input: 'a 1\n\u0000b 2\n', want: [['series', { __name__: 'a' }, 1]] },
  {
    name: 'raw line break inside a label value',
    input: 'a{b="x\ny"} 1\nc 2\n',
    want: [['series', { __name__: 'a', b: 'x\ny' }, 1], ['series', { __name__: 'c' }, 2]],
  },
  {
    name: 'le and quantile are normalised for histograms and summaries',
    input:
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="0.5"} 0\nh_bucket{le="1e-05"} 0\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n' +
      '# TYPE s summary\ns{quantile="0"} 1\ns{quantile="1"} 1\n# TYPE g gauge\ng{le="1"} 1\n',
    want: [
      ['type', 'h', 'histogram'],
      ['series', { __name__: 'h_bucket', le: '1.0' }, 1],
      ['series', { __name__: 'h_bucket', le: '0.5' }, 0],
      ['series', { __name__: 'h_bucket', le: '1e-05' }, 0],
      ['series', { __name__: 'h_bucket', le: '+Inf' }, 1],
      ['series', { __name__: 'h_count' }, 1],
      ['series', { __name__: 'h_sum' }, 1],
      ['type', 's', 'summary'],
      ['series', { __name__: 's', quantile: '0.0' }, 1],
      ['series', { __name__: 's', quantile: '1.0' }, 1],
      ['type', 'g', 'gauge'],
      ['series', { __name__: 'g', le: '1' }, 1],
    ],
  },
  { name: 'largest int64 timestamp', input: 'a 1 9223372036854775807\n', want: [['series', { __name__: 'a' }, 1, 9223372036854775807]] },
  { name: 'underflow is zero', input: 'a 1e-400\n', want: [['series', { __name__: 'a' }, 0]] },
];

const invalid: Case[] = [
  { name: 'name only', input: 'a', error: 'line 1: expected a value after the metric, got end of input' },
  { name: 'name only, line break', input: 'a\n', error: 'line 1: expected a value after the metric, got "\\n"' },
  { name: 'unquoted label value', input: 'up 1\na{job=x} 1\n', error: 'line 2: expected label value after "job=", got "x"' },
  { name: 'single quotes', input: "a{b='c'} 1\n", error: 'line 1: expected label value after "b=", got "\'"' },
  { name: 'unterminated value', input: 'a{b="c} 1\n', error: 'line 1: unterminated label value' },
  { name: 'unterminated label set', input: 'a{b="c"', error: 'line 1: unterminated label set: expected "}"' },
  { name: 'missing equals', input: '{A}0\n', error: 'line 1: expected "=" after label name "A", got "}"' },
  { name: 'empty label name', input: 'a{="x"} 0\n', error: 'line 1: expected a label name or "}", got "="' },
  { name: 'quoted empty label name', input: 'a{""="x"} 0\n', error: 'line 1: empty label name' },
  { name: 'leading comma', input: 'a{,b="c"} 1\n', error: 'line 1: expected a label name or "}", got ","' },
  { name: 'double comma', input: 'a{b="c",,d="e"} 1\n', error: 'line 1: expected a label name or "}", got ","' },
  { name: 'label name with a colon', input: 'a{b:c="d"} 1\n', error: 'line 1: expected "=" after label name "b", got ":c"' },
  { name: 'duplicate label names', input: 'a{x="1",y="2",x="3"} 1\n', error: 'line 1: duplicate label name "x"' },
  { name: 'duplicate, one quoted', input: 'a{"x"="1",x="2"} 1\n', error: 'line 1: duplicate label name "x"' },
  { name: '__name__ next to the metric name', input: 'a{__name__="b"} 1\n', error: 'line 1: label name "__name__" repeats the metric name' },
  { name: 'no metric name', input: '{a="ok"} 1\n', error: 'line 1: metric name missing: write it before "{" or as a quoted string inside the braces' },
  { name: 'metric name twice', input: 'a{"b"} 1\n', error: 'line 1: metric name given twice: "b"' },
  { name: 'empty quoted metric name', input: '{""} 1\n', error: 'line 1: empty metric name' },
  { name: 'not a number', input: 'a true\n', error: 'line 1: invalid sample value "true"' },
  { name: 'underscores in numbers', input: 'foo 1_2\n', error: 'line 1: sample value "1_2": unsupported character in number' },
  { name: 'hex float', input: 'foo 0x1p-3\n', error: 'line 1: sample value "0x1p-3": unsupported character in number' },
  { name: 'hex integer', input: 'foo 0x10\n', error: 'line 1: invalid sample value "0x10"' },
  { name: 'signed nan', input: 'foo +NaN\n', error: 'line 1: invalid sample value "+NaN"' },
  { name: 'overflow', input: 'foo 1e309\n', error: 'line 1: sample value "1e309": number out of range' },
  { name: 'float timestamp', input: 'a 1 1.5\n', error: 'line 1: expected the end of the line after the timestamp, got ".5"' },
  { name: 'negative timestamp', input: 'a 1 -5\n', error: 'line 1: expected a timestamp (integer milliseconds) or the end of the line, got "-5"' },
  { name: 'timestamp out of int64', input: 'a 1 9223372036854775808\n', error: 'line 1: timestamp "9223372036854775808" out of range' },
  { name: 'two timestamps', input: 'a 1 2 3\n', error: 'line 1: expected the end of the line after the timestamp, got "3"' },
  { name: 'exemplars are OpenMetrics only', input: 'a 1 # {x="y"} 2\n', error: 'line 1: expected a timestamp (integer milliseconds) or the end of the line, got "#"' },
  { name: 'CRLF', input: 'a 1\r\nb 2\r\n', error: 'line 1: invalid sample value "1\\r" (CRLF line endings are not allowed)' },
  { name: 'CRLF after a timestamp', input: 'a 1 5\r\n', error: 'line 1: expected the end of the line after the timestamp, got "\\r"' },
  { name: 'TYPE with trailing blank', input: '# TYPE a counter \n', error: 'line 1: invalid metric type "counter "' },
  { name: 'TYPE with CR', input: '# TYPE a counter\r\n', error: 'line 1: invalid metric type "counter\\r"' },
  { name: 'OpenMetrics-only type', input: '# TYPE a info\n', error: 'line 1: invalid metric type "info"' },
  { name: 'HELP without a name', input: '# HELP #\n', error: 'line 1: expected a metric name after HELP, got "#"' },
  { name: 'TYPE with a blank name', input: '# TYPE \n', error: 'line 1: expected a metric name after TYPE, got "\\n"' },
  { name: 'garbage start', input: 'a 1\n9 2\n', error: 'line 2: expected a metric name, "{" or "#" at the start of a line, got "9"' },
  { name: 'two label sets', input: 'a{b="c"}{d="e"} 1\n', error: 'line 1: expected a value after the metric, got "{"' },
  { name: 'NUL after a name', input: 'a\u0000{b="d"} 1', error: 'line 1: expected a value after the metric, got "\\u0000"' },
  { name: 'NUL in a quoted name', input: '{"a\u0000"} 1', error: 'line 1: NUL character in quoted name' },
  { name: 'backslash before a line break', input: 'a{b="x\\\ny"} 1\n', error: 'line 1: line break after a backslash in label value' },
  { name: 'line counting across a raw line break', input: 'a{b="x\ny"} 1\nc 2\nd e\n', error: 'line 4: invalid sample value "e"' },
];

describe('text format: valid expositions', () => {
  for (const c of valid) it(c.name, () => check('text', c));
});

describe('text format: invalid expositions', () => {
  for (const c of invalid) it(c.name, () => check('text', c));
});

describe('text format: cursor', () => {
  it('reports lines, series keys, types and families', () => {
    const p = new TextParser('# TYPE c_total counter\nc_total{a="b"} 1 5\nother 2\n');
    assert.equal(p.next(), Entry.Type);
    assert.equal(p.line(), 1);
    assert.equal(p.type(), 'counter');
    assert.equal(p.next(), Entry.Series);
    assert.equal(p.line(), 2);
    assert.equal(p.seriesKey(), 'c_total{a="b"}');
    assert.equal(p.type(), 'counter');
    assert.equal(p.familyName(), 'c_total');
    assert.equal(p.timestamp(), 5);
    assert.equal(p.exemplar(), null);
    assert.equal(p.createdTimestamp(), null);
    assert.equal(p.next(), Entry.Series);
    assert.equal(p.type(), 'unknown', 'a sample outside the family has no type');
    assert.equal(p.familyName(), 'other');
    assert.equal(p.next(), Entry.EOF);
    assert.equal(p.next(), Entry.EOF);
  });

  it('throws the same error again after a failure', () => {
    const p = new TextParser('a 1\nb x\nc 3\n');
    assert.equal(p.next(), Entry.Series);
    assert.throws(() => p.next(), /line 2: invalid sample value "x"/);
    assert.throws(() => p.next(), /line 2: invalid sample value "x"/);
  });

  it('counter families named with or without _total', () => {
    const got = run('text', '# TYPE a counter\na_total 1\n# TYPE b_total counter\nb_total 2\nb 3\nb_created 4\n');
    assert.ok(Array.isArray(got));
    const p = new TextParser('# TYPE b_total counter\nb_created 4\n');
    p.next();
    p.next();
    assert.equal(p.type(), 'counter');
  });

  it('can skip normalisation of le and quantile', () => {
    assert.deepEqual(run('text', '# TYPE h histogram\nh_bucket{le="1"} 1\n', { normalizeLeQuantile: false }), [
      ['type', 'h', 'histogram'],
      ['series', { __name__: 'h_bucket', le: '1' }, 1, null],
    ]);
  });

  it('never produces a stale marker from text', () => {
    const p = new TextParser('a NaN\n');
    p.next();
    assert.ok(Number.isNaN(p.value()) && !isStaleNaN(p.value()));
  });
});

describe('text format: bytes', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

  it('decodes UTF-8 from a Buffer or Uint8Array', () => {
    assert.deepEqual(run('text', enc('a{b="ü€😀"} 1\n')), [['series', { __name__: 'a', b: 'ü€😀' }, 1, null]]);
    assert.deepEqual(run('text', Buffer.from('a 1\n')), [['series', { __name__: 'a' }, 1, null]]);
  });

  it('rejects invalid UTF-8 in label values and help, accepts it in comments', () => {
    const bad = (pre: string, post: string): Uint8Array => new Uint8Array([...enc(pre), 0xff, ...enc(post)]);
    assert.deepEqual(run('text', bad('a 1\nb{c="', '"} 2\n')), { error: 'line 2: invalid UTF-8' });
    assert.deepEqual(run('text', bad('# HELP a x', 'y\n')), { error: 'line 1: invalid UTF-8' });
    assert.deepEqual(run('text', bad('# a comment ', '\na 1\n')), [
      ['comment', '# a comment \ufffd'],
      ['series', { __name__: 'a' }, 1, null],
    ]);
    // An overlong encoding and a lone surrogate are not UTF-8 either.
    assert.deepEqual(run('text', new Uint8Array([...enc('a{b="'), 0xc0, 0xaf, ...enc('"} 1\n')])), { error: 'line 1: invalid UTF-8' });
    assert.deepEqual(run('text', new Uint8Array([...enc('a 1\n\nb{b="'), 0xed, 0xa0, 0x80, ...enc('"} 1\n')])), { error: 'line 3: invalid UTF-8' });
  });

  it('a byte order mark is not a valid start', () => {
    assert.deepEqual(run('text', new Uint8Array([0xef, 0xbb, 0xbf, ...enc('a 1\n')])), {
      error: 'line 1: expected a metric name, "{" or "#" at the start of a line, got "\ufeff"',
    });
  });
});
