// OpenMetrics 1.0 text: entries and errors, written from the OpenMetrics specification (ABNF, metric
// types, exemplars, # EOF) and from what Prometheus's scraper accepts on top of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Entry, OpenMetricsParser } from '../../src/exposition/index.js';
import { check, run, type Case } from './helpers.js';

const valid: Case[] = [
  { name: 'only # EOF', input: '# EOF\n', want: [] },
  { name: '# EOF without a line break', input: '# EOF', want: [] },
  {
    name: 'the spec example',
    input:
      '# TYPE acme_http_router_request_seconds summary\n' +
      '# UNIT acme_http_router_request_seconds seconds\n' +
      "# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n" +
      'acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32\n' +
      'acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0\n' +
      'acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0\n' +
      '# TYPE go_goroutines gauge\n' +
      'go_goroutines 69\n' +
      '# TYPE process_cpu_seconds counter\n' +
      '# UNIT process_cpu_seconds seconds\n' +
      'process_cpu_seconds_total 4.20072246e+06\n' +
      '# EOF\n',
    want: [
      ['type', 'acme_http_router_request_seconds', 'summary'],
      ['unit', 'acme_http_router_request_seconds', 'seconds'],
      ['help', 'acme_http_router_request_seconds', "Latency though all of ACME's HTTP request router."],
      ['series', { __name__: 'acme_http_router_request_seconds_sum', path: '/api/v1', method: 'GET' }, 9036.32],
      ['series', { __name__: 'acme_http_router_request_seconds_count', path: '/api/v1', method: 'GET' }, 807283],
      ['series', { __name__: 'acme_http_router_request_seconds_created', path: '/api/v1', method: 'GET' }, 1605281325],
      ['type', 'go_goroutines', 'gauge'],
      ['series', { __name__: 'go_goroutines' }, 69],
      ['type', 'process_cpu_seconds', 'counter'],
      ['unit', 'process_cpu_seconds', 'seconds'],
      ['series', { __name__: 'process_cpu_seconds_total' }, 4200722.46],
    ],
  },
  {
    name: 'timestamps are seconds, converted to milliseconds (truncated)',
    input: 'a 1 1520879607.789\nb 2 123\nc 3 -1.5\nd 4 1e3\ne 5 -0.0004\n# EOF\n',
    want: [
      ['series', { __name__: 'a' }, 1, 1520879607789],
      ['series', { __name__: 'b' }, 2, 123000],
      ['series', { __name__: 'c' }, 3, -1500],
      ['series', { __name__: 'd' }, 4, 1000000],
      ['series', { __name__: 'e' }, 5, 0],
    ],
  },
  {
    name: 'exemplars',
    input:
      '# TYPE foo histogram\n' +
      'foo_bucket{le="0.01"} 0\n' +
      'foo_bucket{le="0.1"} 8 # {} 0.054\n' +
      'foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67\n' +
      'foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789\n' +
      'foo_bucket{le="+Inf"} 17 123 # {a="b",c="d\\"e"} 1\n' +
      'foo_count 17\n' +
      'foo_sum 324789.3\n' +
      '# EOF\n',
    want: [
      ['type', 'foo', 'histogram'],
      ['series', { __name__: 'foo_bucket', le: '0.01' }, 0],
      ['series', { __name__: 'foo_bucket', le: '0.1' }, 8, null, { exemplar: { labels: {}, value: 0.054, timestamp: null } }],
      ['series', { __name__: 'foo_bucket', le: '1.0' }, 11, null, { exemplar: { labels: { trace_id: 'KOO5S4vxi0o' }, value: 0.67, timestamp: null } }],
      [
        'series',
        { __name__: 'foo_bucket', le: '10.0' },
        17,
        null,
        { exemplar: { labels: { trace_id: 'oHg5SJYRHA0' }, value: 9.8, timestamp: 1520879607789 } },
      ],
      ['series', { __name__: 'foo_bucket', le: '+Inf' }, 17, 123000, { exemplar: { labels: { a: 'b', c: 'd"e' }, value: 1, timestamp: null } }],
      ['series', { __name__: 'foo_count' }, 17],
      ['series', { __name__: 'foo_sum' }, 324789.3],
    ],
  },
  {
    name: 'every type',
    input:
      '# TYPE c counter\nc_total 1\nc_created 2\n' +
      '# TYPE g gauge\ng 3\n' +
      '# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 0\n' +
      '# TYPE i info\ni_info{version="1.2"} 1\n' +
      '# TYPE gh gaugehistogram\ngh_bucket{le="+Inf"} 4\ngh_gcount 4\ngh_gsum 5\n' +
      '# TYPE u unknown\nu 6\n' +
      '# EOF\n',
    want: [
      ['type', 'c', 'counter'],
      ['series', { __name__: 'c_total' }, 1],
      ['series', { __name__: 'c_created' }, 2],
      ['type', 'g', 'gauge'],
      ['series', { __name__: 'g' }, 3],
      ['type', 's', 'stateset'],
      ['series', { __name__: 's', s: 'a' }, 1],
      ['series', { __name__: 's', s: 'b' }, 0],
      ['type', 'i', 'info'],
      ['series', { __name__: 'i_info', version: '1.2' }, 1],
      ['type', 'gh', 'gaugehistogram'],
      ['series', { __name__: 'gh_bucket', le: '+Inf' }, 4],
      ['series', { __name__: 'gh_gcount' }, 4],
      ['series', { __name__: 'gh_gsum' }, 5],
      ['type', 'u', 'unknown'],
      ['series', { __name__: 'u' }, 6],
    ],
  },
  {
    name: 'HELP escapes (label-value rules) and empty HELP/UNIT',
    input: '# HELP a x\\\\y \\"q\\" \\n \\t\n# HELP b \n# UNIT c \n# EOF\n',
    want: [['help', 'a', 'x\\y "q" \n \\t'], ['help', 'b', ''], ['unit', 'c', '']],
  },
  {
    name: 'case-insensitive special values',
    input: 'a NaN\nb nan\nc +Inf\nd -inf\ne +Infinity\nf 0042\n# EOF\n',
    want: [
      ['series', { __name__: 'a' }, NaN],
      ['series', { __name__: 'b' }, NaN],
      ['series', { __name__: 'c' }, Infinity],
      ['series', { __name__: 'd' }, -Infinity],
      ['series', { __name__: 'e' }, Infinity],
      ['series', { __name__: 'f' }, 42],
    ],
  },
  {
    name: 'empty braces and trailing comma',
    input: 'a{} 1\nb{x="1",} 2\n# EOF\n',
    want: [['series', { __name__: 'a' }, 1], ['series', { __name__: 'b', x: '1' }, 2]],
  },
  {
    name: 'quoted UTF-8 names, in samples, metadata and exemplars',
    input:
      '# TYPE "a.b" counter\n# HELP "a.b" h\n{"a.b_total","c.d"="1"} 1 # {"t.id"="x"} 2\n{q="0.9","http.status"} 3\n# EOF\n',
    want: [
      ['type', 'a.b', 'counter'],
      ['help', 'a.b', 'h'],
      ['series', { __name__: 'a.b_total', 'c.d': '1' }, 1, null, { exemplar: { labels: { 't.id': 'x' }, value: 2, timestamp: null } }],
      ['series', { __name__: 'http.status', q: '0.9' }, 3],
    ],
  },
  { name: 'NUL in a label value', input: 'a{b="\u0000"} 1\n# EOF', want: [['series', { __name__: 'a', b: '\u0000' }, 1]] },
];

const invalid: Case[] = [
  { name: 'empty input', input: '', error: 'line 1: unexpected end of input: an OpenMetrics exposition must end with "# EOF"' },
  { name: 'no # EOF', input: 'a 1\n', error: 'line 2: unexpected end of input: an OpenMetrics exposition must end with "# EOF"' },
  { name: 'no line break, no # EOF', input: 'a 1', error: 'line 1: unexpected end of input: an OpenMetrics exposition must end with "# EOF"' },
  { name: 'data after # EOF', input: '# EOF\na 1\n', error: 'line 2: unexpected data after "# EOF"' },
  { name: 'blank line after # EOF', input: '# EOF\n\n', error: 'line 2: unexpected data after "# EOF"' },
  { name: '# EOF glued to data', input: '# EOFa 1', error: 'line 1: unexpected data after "# EOF"' },
  { name: '#EOF', input: '#EOF\n', error: 'line 1: expected "# " and HELP, TYPE, UNIT or EOF, got "EOF"' },
  { name: '# EOF with CRLF', input: '# EOF\r\n', error: 'line 1: unexpected data after "# EOF"' },
  { name: 'blank line', input: 'a 1\n\n# EOF\n', error: 'line 2: empty line (OpenMetrics allows none)' },
  { name: 'leading blank', input: ' a 1\n# EOF\n', error: 'line 1: whitespace at the start of a line' },
  { name: 'free comment', input: '# hello\n# EOF\n', error: 'line 1: comments are not allowed in OpenMetrics: expected HELP, TYPE, UNIT or EOF after "# ", got "hello"' },
  { name: 'two blanks after #', input: '#  TYPE c counter\n# EOF\n', error: 'line 1: comments are not allowed in OpenMetrics: expected HELP, TYPE, UNIT or EOF after "# ", got " "' },
  { name: 'tab after #', input: '#\tTYPE c counter\n# EOF\n', error: 'line 1: expected "# " and HELP, TYPE, UNIT or EOF, got "\\t"' },
  { name: 'untyped is text-format only', input: '# TYPE u untyped\n# EOF\n', error: 'line 1: invalid metric type "untyped"' },
  { name: 'TYPE with a trailing blank', input: '# TYPE c counter \n# EOF\n', error: 'line 1: invalid metric type "counter "' },
  { name: 'TYPE with two blanks', input: '# TYPE c  counter\n# EOF\n', error: 'line 1: invalid metric type " counter"' },
  { name: 'TYPE without a type', input: '# TYPE m\n# EOF\n', error: 'line 1: expected " " and the TYPE text after the metric name, got "\\n"' },
  { name: 'HELP without text', input: '# HELP m\n# EOF\n', error: 'line 1: expected " " and the HELP text after the metric name, got "\\n"' },
  { name: 'HELP without a name', input: '# HELP \n# EOF\n', error: 'line 1: expected a metric name after HELP, got "\\n"' },
  { name: 'unit not a suffix', input: '# UNIT metric seconds\n# EOF\n', error: 'line 1: unit "seconds" is not a suffix of metric "metric"' },
  { name: 'unit suffix without underscore', input: '# UNIT metricseconds seconds\n# EOF\n', error: 'line 1: unit "seconds" is not a suffix of metric "metricseconds"' },
  { name: 'unit equal to the name', input: '# UNIT seconds seconds\n# EOF\n', error: 'line 1: unit "seconds" is not a suffix of metric "seconds"' },
  { name: 'tab before the value', input: 'a\t1\n# EOF\n', error: 'line 1: expected " " and a value after the metric, got "\\t"' },
  { name: 'two blanks before the value', input: 'a  1\n# EOF\n', error: 'line 1: expected a value after the metric, got " "' },
  { name: 'trailing blank', input: 'a 1 \n# EOF\n', error: 'line 1: expected a timestamp after " ", got "\\n"' },
  { name: 'trailing blank after a timestamp', input: 'a 1 2 \n# EOF\n', error: 'line 1: expected an exemplar or the end of the line after the timestamp, got " "' },
  { name: 'two timestamps', input: 'a 1 1 1\n# EOF\n', error: 'line 1: expected an exemplar or the end of the line after the timestamp, got " "' },
  { name: 'CRLF', input: 'a 1\r\n# EOF\n', error: 'line 1: invalid sample value "1\\r" (CRLF line endings are not allowed)' },
  { name: 'NaN timestamp', input: 'a 1 NaN\n# EOF\n', error: 'line 1: invalid timestamp "NaN"' },
  { name: 'infinite timestamp', input: 'a 1 +Inf\n# EOF\n', error: 'line 1: invalid timestamp "+Inf"' },
  { name: 'bad timestamp', input: 'a 1 1z\n# EOF\n', error: 'line 1: invalid timestamp "1z"' },
  { name: 'blank after a comma', input: 'a{b="c", d="e"} 1\n# EOF\n', error: 'line 1: expected a label name or "}", got " "' },
  { name: 'no comma between labels', input: 'a{b="c"d="e"} 1\n# EOF\n', error: 'line 1: expected "," or "}" after a label value, got "d"' },
  { name: 'double comma', input: 'a{b="c",,d="e"} 1\n# EOF\n', error: 'line 1: expected a label name or "}", got ","' },
  { name: 'raw line break in a label value', input: 'a{b="x\ny"} 1\n# EOF\n', error: 'line 1: line break in label value' },
  { name: 'unterminated label value', input: 'a{b="c\n# EOF\n', error: 'line 1: line break in label value' },
  { name: 'duplicate labels', input: 'a{b="1",b="2"} 1\n# EOF\n', error: 'line 1: duplicate label name "b"' },
  { name: 'label set without a name', input: '{b="c",} 1\n# EOF\n', error: 'line 1: metric name missing: write it before "{" or as a quoted string inside the braces' },
  { name: 'exemplar without value', input: 'a_total 1 # {aa="bb"}\n# EOF\n', error: 'line 1: expected " " and a value after the exemplar labels, got "\\n"' },
  { name: 'exemplar unquoted value', input: 'a_total 1 # {aa=bb} 1\n# EOF\n', error: 'line 1: expected exemplar label value after "aa=", got "bb"' },
  { name: 'exemplar with a metric name', input: 'a_total 1 # {"bb"} 1\n# EOF\n', error: 'line 1: expected "=" after exemplar label name "bb", got "}"' },
  { name: 'exemplar NaN timestamp', input: 'a_total 1 # {a="b"} 4 NaN\n# EOF\n', error: 'line 1: invalid exemplar timestamp "NaN"' },
  { name: 'exemplar bad value', input: 'a_total 1 # {a="b"} 1_2\n# EOF\n', error: 'line 1: exemplar value "1_2": unsupported character in number' },
  { name: 'exemplar with trailing data', input: 'a_total 1 # {a="b"} 1 2 3\n# EOF\n', error: 'line 1: expected the end of the line after the exemplar, got " "' },
  { name: 'NUL in an exemplar value', input: 'a_total 1 # {b="\u0000"} 1\n# EOF\n', error: 'line 1: NUL character in exemplar label value' },
  { name: 'the error names the right line', input: '# TYPE a gauge\na 1\na{x="1"} 2\na{x=1} 3\n# EOF\n', error: 'line 4: expected label value after "x=", got "1"' },
];

describe('OpenMetrics: valid expositions', () => {
  for (const c of valid) it(c.name, () => check('openmetrics', c));
});

describe('OpenMetrics: invalid expositions', () => {
  for (const c of invalid) it(c.name, () => check('openmetrics', c));
});

describe('OpenMetrics: families, _total and _created', () => {
  const input =
    '# TYPE foo counter\n# HELP foo Counter with created.\n' +
    'foo_total 17.0 1520879607.789\nfoo_created 1520872607.123\n' +
    'foo_total{a="b"} 17.0\nfoo_created{a="b"} 1520872608.123\n' +
    'foo_total{a="c"} 3\n' +
    '# TYPE h histogram\n' +
    'h_created{x="1"} 1520430001\n' + // _created before the buckets is still found
    'h_bucket{x="1",le="0.5"} 1\nh_bucket{x="1",le="+Inf"} 2\nh_count{x="1"} 2\nh_sum{x="1"} 0.7\n' +
    '# TYPE s summary\ns{quantile="0.5"} 1\ns_count 3\ns_created 1520430002.5\n' +
    '# TYPE fizz_created gauge\nfizz_created 17\n' +
    'stray_total 1\n' +
    '# EOF\n';

  it('created timestamps per metric point, types and families per sample', () => {
    const p = new OpenMetricsParser(input);
    const got: [string, string, string, number | null][] = [];
    for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
      if (e === Entry.Series) got.push([p.seriesKey(), p.type(), p.familyName(), p.createdTimestamp()]);
    }
    assert.deepEqual(got, [
      ['foo_total', 'counter', 'foo', 1520872607123],
      ['foo_created', 'counter', 'foo', null],
      ['foo_total{a="b"}', 'counter', 'foo', 1520872608123],
      ['foo_created{a="b"}', 'counter', 'foo', null],
      ['foo_total{a="c"}', 'counter', 'foo', null],
      ['h_created{x="1"}', 'histogram', 'h', null],
      ['h_bucket{x="1",le="0.5"}', 'histogram', 'h', 1520430001000],
      ['h_bucket{x="1",le="+Inf"}', 'histogram', 'h', 1520430001000],
      ['h_count{x="1"}', 'histogram', 'h', 1520430001000],
      ['h_sum{x="1"}', 'histogram', 'h', 1520430001000],
      ['s{quantile="0.5"}', 'summary', 's', 1520430002500],
      ['s_count', 'summary', 's', 1520430002500],
      ['s_created', 'summary', 's', null],
      ['fizz_created', 'gauge', 'fizz_created', null],
      ['stray_total', 'unknown', 'stray_total', null],
    ]);
  });

  it('skipCreatedSeries hides the _created samples of counters, summaries and histograms only', () => {
    const p = new OpenMetricsParser(input, { skipCreatedSeries: true });
    const names: string[] = [];
    for (let e = p.next(); e !== Entry.EOF; e = p.next()) if (e === Entry.Series) names.push(p.seriesKey());
    assert.deepEqual(names, [
      'foo_total',
      'foo_total{a="b"}',
      'foo_total{a="c"}',
      'h_bucket{x="1",le="0.5"}',
      'h_bucket{x="1",le="+Inf"}',
      'h_count{x="1"}',
      'h_sum{x="1"}',
      's{quantile="0.5"}',
      's_count',
      'fizz_created',
      'stray_total',
    ]);
  });

  it('a broken family still fails the whole exposition', () => {
    const p = new OpenMetricsParser('# TYPE c counter\nc_total 1\nc_created x\n# EOF\n');
    assert.equal(p.next(), Entry.Type);
    assert.equal(p.next(), Entry.Series);
    assert.equal(p.createdTimestamp(), null, 'the look-ahead stops at the bad line');
    assert.throws(() => p.next(), /line 3: invalid sample value "x"/);
  });

  it('counter named with _total in TYPE (Prometheus leniency)', () => {
    assert.deepEqual(run('openmetrics', '# TYPE c_total counter\nc_total 1\nc_created 2\n# EOF\n', { created: true }), [
      ['type', 'c_total', 'counter'],
      ['series', { __name__: 'c_total' }, 1, null, { created: 2000 }],
      ['series', { __name__: 'c_created' }, 2, null],
    ]);
  });

  it('metadata for another name starts another family', () => {
    const p = new OpenMetricsParser('# TYPE a counter\n# HELP b x\na_total 1\n# EOF\n');
    p.next();
    assert.equal(p.next(), Entry.Help);
    assert.equal(p.type(), 'unknown');
    assert.equal(p.next(), Entry.Series);
    assert.equal(p.type(), 'unknown');
  });
});

describe('OpenMetrics: bytes', () => {
  it('invalid UTF-8 anywhere fails the exposition, naming the line', () => {
    const enc = (x: string): number[] => [...new TextEncoder().encode(x)];
    const body = new Uint8Array([...enc('# TYPE a gauge\na{b="'), 0xfe, ...enc('"} 1\n# EOF\n')]);
    assert.deepEqual(run('openmetrics', body), { error: 'line 2: invalid UTF-8' });
    const help = new Uint8Array([...enc('# HELP a x'), 0xc3, ...enc('\n# EOF\n')]);
    assert.deepEqual(run('openmetrics', help), { error: 'line 1: invalid UTF-8' });
    assert.deepEqual(run('openmetrics', new Uint8Array([...enc('a{b="ü"} 1\n# EOF\n')])), [['series', { __name__: 'a', b: 'ü' }, 1, null]]);
  });
});
