/**
 * /api/v1/format_query (the query pretty-printed) and /api/v1/parse_query (the syntax tree as the JSON that
 * Prometheus's UI tree view reads: web/api/v1/translate_ast.go).
 */
import { MATCH_OPERATORS, type Matcher } from '../model/matcher.js';
import { parseExpr, prettyExpr, type AtPreprocessor, type Expr, type VectorSelector } from '../promql/parser/index.js';
import type { ApiParams } from './labels-api.js';
import { ApiError } from './params.js';
import { formatFloatF, sortedMap } from './json.js';
import { success, type ApiResponse } from './response.js';

function parseQueryParam(p: ApiParams): Expr {
  try {
    return parseExpr(p.get('query') ?? '');
  } catch (err) {
    throw new ApiError('bad_data', `invalid parameter "query": ${(err as Error).message}`);
  }
}

export function formatQueryApi(p: ApiParams): ApiResponse {
  return success(prettyExpr(parseQueryParam(p)));
}

export function parseQueryApi(p: ApiParams): ApiResponse {
  return success(translateAST(parseQueryParam(p)));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function matchers(ms: readonly Matcher[]): Json {
  return ms.map((m) => sortedMap<Json>({ name: m.name, value: m.value, type: MATCH_OPERATORS[m.type] }));
}

function startOrEnd(x: AtPreprocessor | null): Json {
  return x;
}

function selectorFields(vs: VectorSelector): Record<string, Json> {
  return {
    name: vs.name,
    offset: vs.offset,
    matchers: matchers(vs.matchers),
    timestamp: vs.at,
    startOrEnd: startOrEnd(vs.startOrEnd),
    anchored: vs.anchored,
    smoothed: vs.smoothed,
  };
}

/** Go maps are written with sorted keys, so every object here goes through `sortedMap`. */
export function translateAST(e: Expr | null): Json {
  if (e === null) return null;
  switch (e.type) {
    case 'AggregateExpr':
      return sortedMap<Json>({
        type: 'aggregation',
        op: e.op,
        expr: translateAST(e.expr),
        param: translateAST(e.param),
        grouping: [...e.grouping],
        without: e.without,
      });
    case 'BinaryExpr': {
      const m = e.matching;
      return sortedMap<Json>({
        type: 'binaryExpr',
        op: e.op,
        lhs: translateAST(e.lhs),
        rhs: translateAST(e.rhs),
        matching: m === null ? null : sortedMap<Json>({ card: m.card, labels: [...m.labels], on: m.on, include: [...m.include] }),
        bool: e.returnBool,
      });
    }
    case 'Call':
      return sortedMap<Json>({
        type: 'call',
        func: sortedMap<Json>({
          name: e.func.name,
          argTypes: [...e.func.argTypes],
          variadic: e.func.variadic,
          returnType: e.func.returnType,
        }),
        args: e.args.map(translateAST),
      });
    case 'MatrixSelector':
      return sortedMap<Json>({ type: 'matrixSelector', ...selectorFields(e.vectorSelector), range: e.range });
    case 'SubqueryExpr':
      return sortedMap<Json>({
        type: 'subquery',
        expr: translateAST(e.expr),
        range: e.range,
        offset: e.offset,
        step: e.step,
        timestamp: e.at,
        startOrEnd: startOrEnd(e.startOrEnd),
      });
    case 'NumberLiteral':
      return sortedMap<Json>({ type: 'numberLiteral', val: formatFloatF(e.val) });
    case 'ParenExpr':
      return sortedMap<Json>({ type: 'parenExpr', expr: translateAST(e.expr) });
    case 'StringLiteral':
      return sortedMap<Json>({ type: 'stringLiteral', val: e.val });
    case 'UnaryExpr':
      return sortedMap<Json>({ type: 'unaryExpr', op: e.op, expr: translateAST(e.expr) });
    case 'VectorSelector':
      return sortedMap<Json>({ type: 'vectorSelector', ...selectorFields(e) });
    case 'DurationExpr':
      // Prometheus has no tree form for a bare duration expression (its translator panics); this one
      // mirrors the binary-expression shape.
      return sortedMap<Json>({ type: 'durationExpr', op: e.op, lhs: translateAST(e.lhs), rhs: translateAST(e.rhs) });
  }
}
