import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFloatF, formatFloatG, formatSampleValue, formatTimestamp, goJSON, quote, sortedMap } from '../../src/api/json.js';
import { atoi, MAX_TIME_MS, MIN_TIME_MS, parseDuration, parseGoFloat, parseTime } from '../../src/api/params.js';

test('sample values are formatted like Prometheus (jsonutil.MarshalFloat)', () => {
  const cases: [number, string][] = [
    [1, '1'],
    [0, '0'],
    [-0, '-0'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [1 / 3, '0.3333333333333333'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
    [1234567, '1234567'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [1.5e300, '1.5e+300'],
    [0.000001, '0.000001'],
    [1e-7, '1e-07'],
    [-1.25e-10, '-1.25e-10'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [9007199254740993, '9007199254740992'],
  ];
  for (const [f, s] of cases) assert.equal(formatSampleValue(f), s, `value ${f}`);
});

test("scalars and the parse_query numbers use strconv.FormatFloat(f, 'f', -1, 64)", () => {
  assert.equal(formatFloatF(1e21), '1000000000000000000000');
  assert.equal(formatFloatF(1e-7), '0.0000001');
  assert.equal(formatFloatF(-1.5e-9), '-0.0000000015');
  assert.equal(formatFloatF(1.5e22), '15000000000000000000000');
  assert.equal(formatFloatF(-0), '-0');
  assert.equal(formatFloatF(NaN), 'NaN');
  assert.equal(formatFloatF(-Infinity), '-Inf');
  assert.equal(formatFloatF(123.456), '123.456');
});

test("the exposition format uses strconv.FormatFloat(f, 'g', -1, 64)", () => {
  assert.equal(formatFloatG(1234567), '1.234567e+06');
  assert.equal(formatFloatG(123456), '123456');
  assert.equal(formatFloatG(0.0001), '0.0001');
  assert.equal(formatFloatG(0.00001), '1e-05');
  assert.equal(formatFloatG(-2.5e100), '-2.5e+100');
  assert.equal(formatFloatG(Infinity), '+Inf');
});

test('timestamps are seconds with a three-digit millisecond fraction (jsonutil.MarshalTimestamp)', () => {
  assert.equal(formatTimestamp(1435781451781), '1435781451.781');
  assert.equal(formatTimestamp(1435781451000), '1435781451');
  assert.equal(formatTimestamp(1010), '1.010');
  assert.equal(formatTimestamp(1100), '1.100');
  assert.equal(formatTimestamp(5), '0.005');
  assert.equal(formatTimestamp(-1500), '-1.500');
  assert.equal(formatTimestamp(0), '0');
});

test('JSON strings are escaped like Go (HTML-safe except label sets)', () => {
  assert.equal(quote('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(quote('a<b>&c', false), '"a<b>&c"');
  assert.equal(quote('q"\\\n\r\t\x01\x08\x0c'), '"q\\"\\\\\\n\\r\\t\\u0001\\u0008\\u000c"');
  assert.equal(quote('\u2028\u2029'), '"\\u2028\\u2029"');
  assert.equal(quote('ünï €'), '"ünï €"');
  assert.equal(goJSON({ b: 1, a: [true, null, 'x'], skip: undefined, n: 0.000001, m: 1e21 }), '{"b":1,"a":[true,null,"x"],"n":0.000001,"m":1e+21}');
  assert.deepEqual(Object.keys(sortedMap({ b: 1, B: 2, a: 3, _: 4 })), ['B', '_', 'a', 'b']);
});

test('times parse as Prometheus parses them (Unix seconds or RFC 3339)', () => {
  assert.equal(parseTime('1435781451'), 1435781451000);
  assert.equal(parseTime('1435781451.781'), 1435781451781);
  assert.equal(parseTime('1435781451.7815'), 1435781451782); // fraction rounded to milliseconds
  assert.equal(parseTime('-1.5'), -1500);
  assert.equal(parseTime('1.4357814517e9'), 1435781451700);
  assert.equal(parseTime('+12'), 12000);
  assert.equal(parseTime('.5'), 500);
  assert.equal(parseTime('0x10p0'), 16000);
  assert.equal(parseTime('2015-07-01T20:10:51.781Z'), 1435781451781);
  assert.equal(parseTime('2015-07-01T20:10:51Z'), 1435781451000);
  assert.equal(parseTime('2015-07-01T22:10:51.781123456+02:00'), 1435781451781);
  assert.equal(parseTime('1969-12-31T23:59:59.5Z'), -500);
  assert.equal(parseTime('-292273086-05-16T16:47:06Z'), MIN_TIME_MS);
  assert.equal(parseTime('292277025-08-18T07:12:54.999999999Z'), MAX_TIME_MS);
  for (const bad of ['', 'yesterday', '2015-07-01', '2015-07-01T20:10:51', '2015-02-30T00:00:00Z', '1e400', 'NaN', 'Inf', '12s', '2015-07-01 20:10:51Z']) {
    assert.throws(() => parseTime(bad), new RegExp(`cannot parse ".*" to a valid timestamp`), bad);
  }
});

test('durations parse as Prometheus API durations (float seconds or 1h30m)', () => {
  assert.equal(parseDuration('15'), 15_000);
  assert.equal(parseDuration('0.5'), 500);
  assert.equal(parseDuration('1e-3'), 1);
  assert.equal(parseDuration('0.0001'), 0.1);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('-10'), -10_000);
  assert.throws(() => parseDuration('1e10'), /cannot parse "1e10" to a valid duration. It overflows int64/);
  assert.throws(() => parseDuration('5 m'), /^Error: cannot parse "5 m" to a valid duration$/);
  assert.throws(() => parseDuration('-5m'), /cannot parse "-5m" to a valid duration/);
  assert.throws(() => parseDuration(''), /cannot parse "" to a valid duration/);
  assert.equal(parseGoFloat('InFinity'), Infinity);
  assert.ok(Number.isNaN(parseGoFloat('nan')));
  assert.equal(parseGoFloat('1_000'), null);
  assert.equal(atoi('007'), 7);
  assert.throws(() => atoi('1.5'), /strconv.Atoi: parsing "1.5": invalid syntax/);
  assert.throws(() => atoi('99999999999999999999'), /value out of range/);
});

test('the envelope carries at most 10 warnings and 10 infos, then says how many were left out', async () => {
  const { success } = await import('../../src/api/response.js');
  const w = Array.from({ length: 13 }, (_, i) => `w${i}`);
  const r = success([], [...w, 'w0'], ['i0', 'i0']);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body as string), {
    status: 'success',
    data: [],
    warnings: [...w.slice(0, 10), '3 more warning annotations omitted'],
    infos: ['i0'],
  });
  assert.equal(success({}).body, '{"status":"success","data":{}}');
});
