/**
 * PromQL parser: `parseExpr` turns a query into a typed syntax tree (or throws a `ParseError` worded like
 * Prometheus's), `formatExpr`/`prettyExpr` print it back, `parseMetricSelector` reads `match[]` selectors.
 */
import { labelsFromPairs, type Labels } from '../../model/labels.js';
import type { Matcher } from '../../model/matcher.js';
import { children, type Expr } from './ast.js';
import { Checker } from './checks.js';
import { ParseError } from './errors.js';
import { Parser, type ParserOptions } from './parser.js';
import { MAX_NESTING, NESTING_MESSAGE } from './stream.js';

export * from './ast.js';
export { FUNCTIONS, getFunction } from './functions.js';
export { ParseError, formatPosition, type ParseErrorDetail } from './errors.js';
export { formatExpr, prettyExpr, formatMatcher } from './printer.js';
export type { ParserOptions } from './parser.js';

/**
 * Parses and type-checks a PromQL expression. Experimental syntax (duration expressions, fill modifiers,
 * anchored/smoothed, experimental functions) is accepted unless disabled in `opts`.
 */
export function parseExpr(input: string, opts?: ParserOptions): Expr {
  const p = new Parser(input, opts);
  const expr = p.parseExpression();
  if (p.errors.length > 0 || expr === null) throw new ParseError(input, p.errors);
  // Long operator chains are built without recursion but make a deep tree; keep it within what the
  // recursive checks, printers and evaluators can walk.
  if (treeDepth(expr) > MAX_NESTING) {
    throw new ParseError(input, [{ posRange: { start: 0, end: input.length }, message: NESTING_MESSAGE }]);
  }
  const c = new Checker(input);
  c.check(expr);
  if (c.errors.length > 0) throw new ParseError(input, c.errors);
  return expr;
}

/** Parses a series selector such as `up{job="x"}` or `{"my.metric"}` into its matchers (no emptiness check). */
export function parseMetricSelector(input: string): Matcher[] {
  const p = new Parser(input);
  const vs = p.parseVectorSelectorOnly();
  if (p.errors.length > 0 || vs === null) throw new ParseError(input, p.errors);
  return vs.matchers;
}

/**
 * Parses series notation (`name{a="b"}`, `{"my.metric", a="b"}`) into labels, as the metric part of a
 * series line in test scripts. Empty values are dropped; a repeated name keeps its last value.
 */
export function parseMetric(input: string): Labels {
  const p = new Parser(input);
  const pairs = p.parseMetricOnly();
  if (p.errors.length > 0 || pairs === null) throw new ParseError(input, p.errors);
  return labelsFromPairs(pairs);
}

function treeDepth(root: Expr): number {
  let max = 0;
  const stack: [Expr, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [e, d] = stack.pop()!;
    if (d > max) max = d;
    for (const c of children(e)) stack.push([c, d + 1]);
  }
  return max;
}
