import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatchType } from '../../src/model/matcher.js';
import {
  formatExpr,
  formatPosition,
  ParseError,
  parseExpr,
  parseMetric,
  parseMetricSelector,
  prettyExpr,
  valueTypeOf,
  type BinaryExpr,
  type Expr,
} from '../../src/promql/parser/index.js';

function ok(input: string): Expr {
  return parseExpr(input);
}

function errorOf(input: string, opts?: Parameters<typeof parseExpr>[1]): string {
  try {
    parseExpr(input, opts);
  } catch (e) {
    assert.ok(e instanceof ParseError, `not a ParseError: ${String(e)}`);
    return e.message;
  }
  assert.fail(`expected a parse error for ${JSON.stringify(input)}`);
}

// Valid expressions and their canonical printing ('' means: printed as written).
const CANONICAL: readonly (readonly [string, string])[] = [
  // Literals.
  ['1', ''],
  ['+Inf', ''],
  ['-Inf', ''],
  ['inf', '+Inf'],
  ['NaN', ''],
  ['.5', '0.5'],
  ['5.', '5'],
  ['5e-3', '0.005'],
  ['1e21', '1000000000000000000000'],
  ['0x1F', '31'],
  ['0X_1f', '31'],
  ['0755', '493'],
  ['08', '8'],
  ['1_000_000', '1000000'],
  ['-0755', '-493'],
  ['1h', ''],
  ['90m', '1h30m'],
  ['-5m', ''],
  ['1h + 5', ''],
  ['"double \\"q\\" \\t \\u00e9 \\U0001F600"', '"double \\"q\\" \\t é 😀"'],
  ["'single \"q\" \\''", '"single \\"q\\" \'"'],
  ['`raw \\n`', '"raw \\\\n"'],
  ['"\\x41\\101"', '"AA"'],
  ['"\\xff"', ''],
  ['"\\a\\b\\f\\v\\u00a0"', '"\\a\\b\\f\\v\\u00a0"'],
  // Operators, precedence and associativity.
  ['a + b * c', ''],
  ['(a + b) * c', ''],
  ['a - b - c', ''],
  ['2 ^ 3 ^ 2', ''],
  ['-1^2', '-1 ^ 2'],
  ['-1*2', '-1 * 2'],
  ['+1 + -2 * 1', '1 + -2 * 1'],
  ['-a', ''],
  ['- - 1', '1'],
  ['a or b and c unless d', ''],
  ['a atan2 b', ''],
  ['a==bool b', 'a == bool b'],
  ['1 > bool 2', ''],
  ['a </ 1.5', ''],
  ['a >/ -Inf', ''],
  ['a + on(b) c', 'a + on (b) c'],
  ['a + on() c', 'a + on () c'],
  ['a - ignoring() c', 'a - c'],
  ['a - ignoring(b, "c.d") c', 'a - ignoring (b, "c.d") c'],
  ['a * on(b) group_left c', 'a * on (b) group_left () c'],
  ['a * on(b) group_right(x, y) c', 'a * on (b) group_right (x, y) c'],
  ['a and on(b) c', 'a and on (b) c'],
  ['a + fill(0) b', 'a + fill (0) b'],
  ['a + fill_left(-1) fill_right(2) b', 'a + fill_left (-1) fill_right (2) b'],
  ['a + fill_right(2) fill_left(2) b', 'a + fill (2) b'],
  ['a + on(b) group_left fill(1e6) c', 'a + on (b) group_left () fill (1e+06) c'],
  ['fill + fill_left', ''],
  // Selectors.
  ['foo', ''],
  ['foo{}', 'foo'],
  ['foo:bar:rate5m{a="b"}', ''],
  ['foo{b="2", a="1",}', 'foo{a="1",b="2"}'],
  ['foo{a!="b", c=~"d.*", e!~"f"}', 'foo{a!="b",c=~"d.*",e!~"f"}'],
  ['{__name__="foo"}', ''],
  ['{"my.metric", "a.b"="x"}', '{"a.b"="x",__name__="my.metric"}'],
  ["{'foo', `bar`='baz'}", '{__name__="foo",bar="baz"}'],
  ['{__name__=~"a|b"}', ''],
  ['{"0"="1"}', ''],
  ['foo{a="b" # comment\n}', 'foo{a="b"}'],
  ['sum', ''],
  ['by{a="b"}', ''],
  ['offset offset 5m', ''],
  ['step', ''],
  ['foo[5m]', ''],
  ['foo[300]', 'foo[5m]'],
  ['foo[1.5]', 'foo[1s500ms]'],
  ['foo[1y]', ''],
  ['foo[366d]', ''],
  ['foo[10d]', ''],
  ['foo[14d]', 'foo[2w]'],
  ['foo offset 5m', ''],
  ['foo offset -5m', ''],
  ['foo offset 5', 'foo offset 5s'],
  ['foo[5m] offset 1h', ''],
  ['foo @ 1609746000', 'foo @ 1609746000.000'],
  ['foo @ -2.5', 'foo @ -2.500'],
  ['foo @ 1h', 'foo @ 3600.000'],
  ['foo @ start()', ''],
  ['foo[5m] @ end()', ''],
  ['foo offset 5m @ 10', 'foo @ 10.000 offset 5m'],
  ['foo anchored', ''],
  ['rate(foo[5m] anchored)', ''],
  ['rate(foo[5m] smoothed @ start() offset 1m)', ''],
  ['foo smoothed [5m]', 'foo[5m] smoothed'],
  // Subqueries.
  ['foo[5m:]', ''],
  ['foo[5m:1m]', ''],
  ['rate(foo[5m])[30m:1m] offset 5m @ end()', 'rate(foo[5m])[30m:1m] @ end() offset 5m'],
  ['(a + b)[1h:]', ''],
  ['min_over_time(rate(foo[5m])[1h:1m])', ''],
  // Duration expressions.
  ['rate(foo[5m+1m])', 'rate(foo[5m + 1m])'],
  ['foo[2m*(10+5)]', 'foo[2m * (10 + 5)]'],
  ['foo offset (1h*2)', 'foo offset (1h * 2)'],
  ['foo offset -(5m)', ''],
  ['foo offset +(5)', 'foo offset (5)'],
  ['foo offset 100 + 2', 'foo offset 1m40s + 2'],
  ['foo offset -2 ^ 2', 'foo offset -2s ^ 2'],
  ['foo[step()]', ''],
  ['foo[-step()+1h]', 'foo[-step() + 1h]'],
  ['foo[range()]', ''],
  ['foo offset STEP()', 'foo offset step()'],
  ['foo[max_of(step(), 1m):min_of(1m, 2m)]', ''],
  ['foo offset -min_of(step(), 1s)', ''],
  ['foo offset +min_of(step(), 1s)', 'foo offset min_of(step(), 1s)'],
  // Aggregations.
  ['sum(foo)', ''],
  ['sum by(a) (foo)', 'sum by (a) (foo)'],
  ['sum(foo) by (a, b)', 'sum by (a, b) (foo)'],
  ['sum by() (foo)', 'sum(foo)'],
  ['sum without() (foo)', 'sum without () (foo)'],
  ['SUM WITHOUT (a,) (foo)', 'sum without (a) (foo)'],
  ['sum by ("a.b", c) (foo)', 'sum by ("a.b", c) (foo)'],
  ['sum without(and, by, avg, count, alert, annotations)(foo)', 'sum without (and, by, avg, count, alert, annotations) (foo)'],
  ['topk(5, foo)', ''],
  ['bottomk by (a) (3, foo)', 'bottomk by (a) (3, foo)'],
  ['count_values("v", foo)', ''],
  ['quantile(0.9, foo)', ''],
  ['limitk(2, foo)', ''],
  ['limit_ratio(0.5, foo)', ''],
  ['stddev(foo) + stdvar(foo) + group(foo)', ''],
  // Functions.
  ['time()', ''],
  ['pi()', ''],
  ['start()', ''],
  ['round(foo)', ''],
  ['round(foo, 0.5)', ''],
  ['hour()', ''],
  ['label_join(foo, "d", ",", "a", "b", "c")', ''],
  ['label_replace(foo, "d", "$1", "s", "(.*)")', ''],
  ['histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))', ''],
  ['histogram_quantiles(h, "q", 0.5, 0.9)', ''],
  ['info(foo, {job="a"})', ''],
  ['info(foo)', ''],
  ['sort_by_label(foo, "a", "b")', ''],
  ['double_exponential_smoothing(foo[5m], 0.5, 0.5)', ''],
  ['mad_over_time(foo[5m]) + ts_of_max_over_time(foo[5m]) + first_over_time(foo[5m])', ''],
  ['max_of(1, 2)', ''],
  // Comments and layout.
  ['sum(foo) # comment', 'sum(foo)'],
  ['# leading comment\nfoo\n# trailing', 'foo'],
  ['sum by (job)\n(\n  rate(foo[5m])\n)', 'sum by (job) (rate(foo[5m]))'],
];

describe('promql parser: canonical printing', () => {
  for (const [input, want] of CANONICAL) {
    it(JSON.stringify(input), () => {
      const e = ok(input);
      const printed = formatExpr(e);
      assert.equal(printed, want === '' ? input : want);
      // The printed form parses back to the same printing.
      assert.equal(formatExpr(parseExpr(printed)), printed);
    });
  }
});

describe('promql parser: tree shape', () => {
  it('gives * and / precedence over + and -', () => {
    const e = ok('a + b * c') as BinaryExpr;
    assert.equal(e.op, '+');
    assert.equal(e.rhs.type, 'BinaryExpr');
    assert.equal((e.rhs as BinaryExpr).op, '*');
  });
  it('makes ^ right-associative and binds unary minus looser than ^', () => {
    const p = ok('2 ^ 3 ^ 2') as BinaryExpr;
    assert.equal(p.lhs.type, 'NumberLiteral');
    assert.equal(p.rhs.type, 'BinaryExpr');
    const u = ok('-1^2');
    assert.equal(u.type, 'UnaryExpr');
    const m = ok('-1*2') as BinaryExpr;
    assert.deepEqual(m.lhs.type === 'NumberLiteral' && m.lhs.val, -1);
  });
  it('keeps set operators and/unless above or', () => {
    const e = ok('a or b and c unless d') as BinaryExpr;
    assert.equal(e.op, 'or');
    assert.equal((e.rhs as BinaryExpr).op, 'unless');
    assert.equal(((e.rhs as BinaryExpr).lhs as BinaryExpr).op, 'and');
  });
  it('binds offset to the closest operand and ends a literal offset before binary operators', () => {
    const e = ok('a + b offset 5m') as BinaryExpr;
    assert.equal(e.lhs.type === 'VectorSelector' && e.lhs.offset, 0);
    assert.equal(e.rhs.type === 'VectorSelector' && e.rhs.offset, 300_000);
    const d = ok('foo offset 100 + 2') as BinaryExpr;
    assert.equal(d.type, 'BinaryExpr');
    const p = ok('foo offset (100 + 2)');
    assert.equal(p.type === 'VectorSelector' && p.offsetExpr?.op, '+');
  });
  it('fills selectors, matchers, durations and modifiers', () => {
    const e = ok('rate(foo{a=~"x.*"}[5m] offset -1m)');
    assert.equal(e.type, 'Call');
    if (e.type !== 'Call') return;
    assert.equal(e.func.name, 'rate');
    const ms = e.args[0]!;
    assert.equal(ms.type, 'MatrixSelector');
    if (ms.type !== 'MatrixSelector') return;
    assert.equal(ms.range, 300_000);
    const vs = ms.vectorSelector;
    assert.equal(vs.name, 'foo');
    assert.equal(vs.offset, -60_000);
    assert.deepEqual(
      vs.matchers.map((m) => [m.type, m.name, m.value]),
      [
        [MatchType.Regexp, 'a', 'x.*'],
        [MatchType.Equal, '__name__', 'foo'],
      ],
    );
    assert.ok(vs.matchers[0]!.matches('xyz'));
    assert.deepEqual(e.posRange, { start: 0, end: 34 });
  });
  it('records vector matching and fill values', () => {
    const e = ok('a / on(x) group_left(y) fill_right(0) b') as BinaryExpr;
    assert.deepEqual(e.matching, {
      card: 'many-to-one',
      on: true,
      labels: ['x'],
      include: ['y'],
      fill: { lhs: null, rhs: 0 },
    });
    const s = ok('a and b') as BinaryExpr;
    assert.equal(s.matching?.card, 'many-to-many');
    const scalar = ok('a + 1') as BinaryExpr;
    assert.equal(scalar.matching, null);
  });
  it('records @ and subquery fields', () => {
    const e = ok('foo[1h:5m] @ 100.5');
    assert.equal(e.type, 'SubqueryExpr');
    if (e.type !== 'SubqueryExpr') return;
    assert.equal(e.range, 3_600_000);
    assert.equal(e.step, 300_000);
    assert.equal(e.at, 100_500);
    const d = ok('foo[5m:]');
    assert.equal(d.type === 'SubqueryExpr' && d.step, 0);
  });
  it('marks the info() selector as allowed to match everything', () => {
    const e = ok('info(foo, {job=~".*"})');
    assert.equal(e.type === 'Call' && e.args[1]!.type === 'VectorSelector' && e.args[1]!.bypassEmptyMatcherCheck, true);
  });
  it('reports value types', () => {
    assert.equal(valueTypeOf(ok('1 + 2')), 'scalar');
    assert.equal(valueTypeOf(ok('foo + 2')), 'vector');
    assert.equal(valueTypeOf(ok('foo[5m]')), 'matrix');
    assert.equal(valueTypeOf(ok('rate(foo[5m])[1h:]')), 'matrix');
    assert.equal(valueTypeOf(ok('"s"')), 'string');
    assert.equal(valueTypeOf(ok('scalar(foo)')), 'scalar');
    assert.equal(valueTypeOf(ok('-(time())')), 'scalar');
  });
});

// Invalid expressions and Prometheus's error text.
const ERRORS: readonly (readonly [string, string])[] = [
  ['', 'unknown position: parse error: no expression found in input'],
  ['# only a comment\n', '1:1: parse error: no expression found in input'],
  ['1+', '1:3: parse error: unexpected end of input'],
  ['.', "1:1: parse error: unexpected character: '.'"],
  ['2.5.', '1:1: parse error: bad number or duration syntax: "2.5."'],
  ['0deadbeef', '1:1: parse error: bad number or duration syntax: "0de"'],
  ['*1', '1:1: parse error: unexpected <op:*>'],
  ['(1))', "1:5: parse error: unexpected right parenthesis ')'"],
  ['((1)', '1:5: parse error: unclosed left parenthesis'],
  ['sum(rate(', '1:10: parse error: unclosed left parenthesis'],
  ['foo[5m', '1:7: parse error: unclosed left bracket'],
  ['1 and 1', '1:1: parse error: set operator "and" not allowed in binary scalar expression'],
  ['1 == 1', '1:3: parse error: comparisons between scalars must use BOOL modifier'],
  ['1 !~ 1', "1:3: parse error: unexpected character after '!': '~'"],
  ['-"string"', '1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "string"'],
  ['-test[5m]', '1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "range vector"'],
  ['1 offset 1d', '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery'],
  ['foo offset 1s offset 2s', '1:1: parse error: offset may not be set multiple times'],
  ['a - on(b) ignoring(c) d', '1:11: parse error: unexpected <ignoring>'],
  ['foo + group_left(baz) bar', '1:7: parse error: unexpected <group_left>'],
  ['1 or on(bar) foo', '1:1: parse error: vector matching only allowed between instant vectors'],
  ['foo and on(bar) group_left(baz) bar', '1:1: parse error: no grouping allowed for "and" operation'],
  ['foo + on(a) group_left(a) bar', '1:5: parse error: label "a" must not occur in ON and GROUP clause at once'],
  ['foo + bool bar', '1:5: parse error: bool modifier can only be used on comparison operators'],
  ['foo and 1', '1:1: parse error: set operator "and" not allowed in binary scalar expression'],
  ['1 + fill(0) 2', '1:1: parse error: filling in missing series only allowed between instant vectors'],
  ['a and fill(0) b', '1:1: parse error: filling in missing series not allowed for set operators'],
  ['foo @ +Inf', '1:1: parse error: timestamp out of bounds for @ modifier: +Inf'],
  ['foo @ 1 @ 2', '1:1: parse error: @ <timestamp> may not be set multiple times'],
  ['rate(foo[5m]) @ 1234', '1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery'],
  ['{', '1:2: parse error: unexpected end of input inside braces'],
  ['}', "1:1: parse error: unexpected character: '}'"],
  ['some_metric{a=b}', '1:15: parse error: unexpected identifier "b" in label matching, expected string'],
  ['foo{gibberish}', '1:14: parse error: unexpected "}" in label matching, expected label matching operator'],
  ['foo{,}', '1:5: parse error: unexpected "," in label matching, expected identifier or "}"'],
  ['foo{a="b" c="d"}', '1:11: parse error: unexpected identifier "c" in label matching, expected "," or "}"'],
  ['foo{1}', "1:5: parse error: unexpected character inside braces: '1'"],
  ['{}', '1:1: parse error: vector selector must contain at least one non-empty matcher'],
  ['{x=~".*"}', '1:1: parse error: vector selector must contain at least one non-empty matcher'],
  ['foo{__name__="bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"'],
  ['foo{a=~"("}', '1:5: parse error: error parsing regexp: missing closing ): `(`'],
  ['foo[5mm]', '1:5: parse error: bad number or duration syntax: "5mm"'],
  ['foo[5y1hs]', '1:5: parse error: unknown unit "hs" in duration "5y1hs"'],
  ['foo[5m1h]', '1:5: parse error: not a valid duration string: "5m1h"'],
  ['foo[0m]', '1:5: parse error: duration must be greater than 0'],
  ['foo[-1]', '1:5: parse error: duration must be greater than 0'],
  ['foo[]', '1:5: parse error: unexpected "]" in subquery or range selector, expected number, duration, step(), or range()'],
  ['foo[5m 5m]', '1:8: parse error: unexpected duration "5m" in subquery or range, expected ":" or "]"'],
  ['foo[5m:1m 2]', '1:11: parse error: unexpected number "2" in subquery selector, expected "]"'],
  ['foo[5s x 5s]', "1:8: parse error: unexpected character: 'x', expected ':'"],
  ['foo["5m"]', "1:5: parse error: unexpected character in duration expression: '\"'"],
  ['foo[5s/0d]', '1:7: parse error: division by zero'],
  ['foo[5s%0d]', '1:7: parse error: modulo by zero'],
  ['foo offset 9.5e10', '1:12: parse error: duration out of range'],
  ['some_metric[5m] OFFSET', '1:23: parse error: unexpected end of input in offset, expected number, duration, step(), or range()'],
  ['some_metric OFFSET 1m[5m]', '1:22: parse error: no offset modifiers allowed before range'],
  ['some_metric @ 1234 [5m]', '1:20: parse error: no @ modifiers allowed before range'],
  ['some_metric[5m] @', '1:18: parse error: unexpected end of input in @, expected timestamp'],
  ['(foo + bar)[5m]', '1:12: parse error: ranges only allowed for vector selectors'],
  ['test[5d] OFFSET 10s [10m:5s]', '1:1: parse error: subquery is only allowed on instant vector, got matrix instead'],
  ['sum by ("foo)(some_metric{})', '1:9: parse error: unterminated quoted string'],
  ['sum without(==)(foo)', '1:13: parse error: unexpected <op:==> in grouping opts, expected label'],
  ['sum without(foo,,)(foo)', '1:17: parse error: unexpected "," in grouping opts, expected label'],
  ['sum by (a b) (foo)', '1:11: parse error: unexpected identifier "b" in grouping opts, expected "," or ")"'],
  ['sum (foo) by test', '1:14: parse error: unexpected identifier "test" in grouping opts, expected "("'],
  ['sum by ("") (foo)', '1:9: parse error: invalid label name for grouping: ""'],
  ['sum some_metric by (test)', '1:5: parse error: unexpected identifier "some_metric"'],
  ['sum (some_metric) without (test) by (test)', '1:34: parse error: unexpected <by>'],
  ['sum(foo bar)', '1:9: parse error: unexpected identifier "bar" in aggregation'],
  ['sum by (a) foo', '1:12: parse error: unexpected identifier "foo" in aggregation'],
  ['sum () by (test)', '1:1: parse error: no arguments for aggregate expression provided'],
  ['topk(some_metric)', '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1'],
  ['topk(some_metric,)', '1:17: parse error: trailing commas not allowed in function call args'],
  ['topk(some_metric, other_metric)', '1:6: parse error: expected type scalar in aggregation parameter, got instant vector'],
  ['count_values(5, other_metric)', '1:14: parse error: expected type string in aggregation parameter, got scalar'],
  ['sum(rate(foo[5m]))[5m]', '1:19: parse error: ranges only allowed for vector selectors'],
  ['floor()', '1:1: parse error: expected 1 argument(s) in call to "floor", got 0'],
  ['floor(1)', '1:7: parse error: expected type instant vector in call to function "floor", got scalar'],
  ['hour(a, b, c)', '1:1: parse error: expected at most 1 argument(s) in call to "hour", got 3'],
  ['round()', '1:1: parse error: expected at least 1 argument(s) in call to "round", got 0'],
  ['time(some_metric)', '1:1: parse error: expected 0 argument(s) in call to "time", got 1'],
  ['rate(some_metric)', '1:6: parse error: expected type range vector in call to function "rate", got instant vector'],
  ['non_existent_function_far_bar()', '1:1: parse error: unknown function with name "non_existent_function_far_bar"'],
  ['RATE(foo[5m])', '1:1: parse error: unknown function with name "RATE"'],
  ['label_replace(a, "b", "c", "d", 1)', '1:33: parse error: expected type string in call to function "label_replace", got scalar'],
  ['info(foo, target_info{a="b"})', '1:11: parse error: expected label selectors only, got vector selector instead'],
  ['info(foo, {a="b"} == 1)', '1:11: parse error: expected label selectors only'],
  ['-=', '1:2: parse error: unexpected "="'],
  ['++-++-+-+-<', '1:11: parse error: unexpected <op:<>'],
  ['a>b()', '1:3: parse error: unknown function with name "b"'],
  ['`\\``', '1:4: parse error: unterminated raw string'],
  ['"\\', '1:1: parse error: escape sequence not terminated'],
  ['"\\c"', "1:1: parse error: unknown escape sequence U+0063 'c'"],
  ['"\\x."', "1:1: parse error: illegal character U+002E '.' in escape sequence"],
  ['"\\ud800"', '1:1: parse error: escape sequence is an invalid Unicode code point'],
  ['"a\nb"', '1:1: parse error: unterminated quoted string'],
  ['foo{bar="baz"}[', '1:16: parse error: unexpected end of input in duration expression'],
  ['foo[step]', '1:9: parse error: unexpected "]" in subquery or range selector, expected number, duration, step(), or range()'],
  ['foo[:5m]', '1:6: parse error: unexpected colon before duration in duration expression'],
  ['1[5m] anchored', '1:2: parse error: ranges only allowed for vector selectors'],
  ['foo[5m:1m] anchored', '1:1: parse error: anchored modifier is not supported for subqueries'],
  ['foo anchored smoothed', '1:1: parse error: anchored and smoothed modifiers cannot be used together'],
  ['sum(foo) smoothed', '1:1: parse error: smoothed modifier not implemented'],
  ['a on(b) c', '1:3: parse error: unexpected <on>'],
  ['foo{a="b"} {c="d"}', '1:12: parse error: unexpected "{"'],
  ['999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999', `1:1: parse error: error parsing number: strconv.ParseFloat: parsing "${'9'.repeat(309)}": value out of range`],
  ['"ä" +\n  ä', "2:3: parse error: unexpected character: 'ä'"],
  ['0xee', '1:1: parse error: bad number or duration syntax: "0xee"'],
  ['1__0', '1:1: parse error: bad number or duration syntax: "1__"'],
  ['0x', '1:1: parse error: error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax'],
  ['foo[5m:1m:2m]', "1:10: parse error: unexpected colon ':'"],
  ['"\\400"', '1:1: parse error: escape sequence is an invalid Unicode code point'],
  ["'\\\"'", "1:1: parse error: unknown escape sequence U+0022 '\"'"],
  ['a * on(b) group_left , c', '1:22: parse error: unexpected ","'],
  ['(' + '('.repeat(1000) + '1' + ')'.repeat(1001), '1:1001: parse error: expression is nested too deeply (more than 1000 levels)'],
  ['{a="ä"} + }', "1:12: parse error: unexpected character: '}'"],
];

describe('promql parser: errors', () => {
  for (const [input, want] of ERRORS) {
    it(JSON.stringify(input).slice(0, 60), () => assert.equal(errorOf(input), want));
  }
  it('exposes the position and the raw message', () => {
    try {
      parseExpr('sum(foo) by test');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof ParseError);
      assert.deepEqual(e.posRange, { start: 12, end: 16 });
      assert.equal(e.rawMessage, 'unexpected identifier "test" in grouping opts, expected "("');
      assert.equal(e.query, 'sum(foo) by test');
      assert.ok(e.errors.length >= 1);
    }
  });
  it('rejects disabled experimental features when asked to', () => {
    assert.equal(
      errorOf('a + fill(0) b', { binopFillModifiers: false }),
      '1:1: parse error: binop fill modifiers are experimental and not enabled',
    );
    assert.equal(errorOf('foo anchored', { extendedRangeSelectors: false }), '1:1: parse error: anchored modifier is experimental and not enabled');
    assert.equal(errorOf('foo[5m+1m]', { durationExpressions: false }), '1:5: parse error: experimental duration expression is not enabled');
    assert.equal(errorOf('foo[step()]', { durationExpressions: false }), '1:5: parse error: experimental duration expression is not enabled');
    assert.equal(errorOf('info(foo)', { experimentalFunctions: false }), '1:1: parse error: function "info" is not enabled');
    assert.equal(
      errorOf('limitk(1, foo)', { experimentalFunctions: false }),
      '1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions',
    );
  });
  it('formats positions like Prometheus (lines, byte columns)', () => {
    assert.equal(formatPosition('abc', 0), '1:1');
    assert.equal(formatPosition('a\nbc', 3), '2:2');
    assert.equal(formatPosition('"ä"x', 4), '1:6');
    assert.equal(formatPosition('', 0), 'unknown position');
  });
});

describe('promql parser: pretty printing (format_query)', () => {
  it('keeps short expressions on one line', () => {
    assert.equal(prettyExpr(ok('sum by(job) (rate(foo[5m]))')), 'sum by (job) (rate(foo[5m]))');
  });
  it('splits expressions longer than 100 bytes, node by node', () => {
    const q =
      'sum by (job, instance) (rate(http_requests_total{job="api-server",handler="/api/v1/query"}[5m])) / on (job) group_left sum by (job) (up)';
    assert.equal(
      prettyExpr(ok(q)),
      [
        '  sum by (job, instance) (rate(http_requests_total{handler="/api/v1/query",job="api-server"}[5m]))',
        '/ on (job) group_left ()',
        '  sum by (job) (up)',
      ].join('\n'),
    );
  });
  it('indents nested calls, parameters and subqueries at a small width', () => {
    assert.equal(prettyExpr(ok('topk(10, foo_metric)'), 10), 'topk(\n  10,\n  foo_metric\n)');
    assert.equal(prettyExpr(ok('a_metric + b_metric'), 10), '  a_metric\n+\n  b_metric');
    assert.equal(prettyExpr(ok('-(a_metric + b_metric)'), 10), '-(\n    a_metric\n  +\n    b_metric\n)');
    assert.equal(
      prettyExpr(ok('rate(foo_metric[5m])[1h:1m]'), 10),
      'rate(\n  foo_metric[5m]\n)[1h:1m]',
    );
  });
});

describe('promql parser: parseMetricSelector', () => {
  it('parses match[] selectors', () => {
    const ms = parseMetricSelector('up{job="a", instance=~"x.*"}');
    assert.deepEqual(
      ms.map((m) => m.toString()),
      ['job="a"', 'instance=~"x.*"', '__name__="up"'],
    );
    assert.deepEqual(parseMetricSelector('{"my.metric"}').map((m) => [m.name, m.value]), [['__name__', 'my.metric']]);
    assert.deepEqual(parseMetricSelector('sum').map((m) => m.value), ['sum']);
    assert.deepEqual(parseMetricSelector('{}'), []);
  });
  it('rejects anything but a selector', () => {
    assert.throws(() => parseMetricSelector('up offset 5m'), { message: '1:4: parse error: unexpected <offset>' });
    assert.throws(() => parseMetricSelector('rate(x[5m])'), { message: '1:5: parse error: unexpected "("' });
    assert.throws(() => parseMetricSelector(''), { message: 'unknown position: parse error: unexpected end of input' });
    assert.throws(() => parseMetricSelector('up{a=1}'), ParseError);
  });
});

describe('promql parser: parseMetric (series notation)', () => {
  it('parses names, quoted names and label sets into sorted labels', () => {
    assert.deepEqual(parseMetric('foo{b="2", "c.d"="3", a="1"}'), ['__name__', 'foo', 'a', '1', 'b', '2', 'c.d', '3']);
    assert.deepEqual(parseMetric('{"my.metric"}'), ['__name__', 'my.metric']);
    assert.deepEqual(parseMetric('sum'), ['__name__', 'sum']);
    assert.deepEqual(parseMetric('{}'), []);
  });
  it('accepts only equality', () => {
    assert.throws(() => parseMetric('foo{a!="b"}'), {
      message: '1:6: parse error: unexpected <op:!=> in label set, expected "="',
    });
    assert.throws(() => parseMetric('foo{a="b" c}'), {
      message: '1:11: parse error: unexpected identifier "c" in label set, expected "," or "}"',
    });
  });
});

describe('promql parser: RE2 patterns the JavaScript engine lacks', () => {
  it('accepts inline flag groups and matches like RE2', () => {
    const e = ok('foo{a=~"(?i:PRO).*", b!~".*((?i)tion)"}');
    assert.equal(e.type, 'VectorSelector');
    if (e.type !== 'VectorSelector') return;
    assert.ok(e.matchers[0]!.matches('production'));
    assert.ok(!e.matchers[0]!.matches('xproduction'));
    assert.ok(!e.matchers[1]!.matches('producTION'));
    assert.ok(e.matchers[1]!.matches('product'));
    assert.equal(formatExpr(e), 'foo{a=~"(?i:PRO).*",b!~".*((?i)tion)"}');
  });
});
