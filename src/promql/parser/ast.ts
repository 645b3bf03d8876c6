/**
 * The PromQL syntax tree: plain objects discriminated by `type`. Durations, offsets and `@` timestamps are in
 * milliseconds; positions (`posRange`) are UTF-16 offsets into the query text (use `formatPosition` for the
 * `line:column` Prometheus prints, which counts bytes).
 */
import type { Matcher } from '../../model/matcher.js';

export type ValueType = 'none' | 'scalar' | 'vector' | 'matrix' | 'string';

export interface PosRange {
  start: number;
  end: number;
}

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'atan2'
  | '=='
  | '!='
  | '<='
  | '<'
  | '>='
  | '>'
  | '</'
  | '>/'
  | 'and'
  | 'or'
  | 'unless';

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'count'
  | 'min'
  | 'max'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'count_values'
  | 'quantile'
  | 'limitk'
  | 'limit_ratio';

export type VectorMatchCardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

/** How the two sides of a vector/vector binary operation are matched. */
export interface VectorMatching {
  card: VectorMatchCardinality;
  /** True for `on(...)`, false for `ignoring(...)` or no clause. */
  on: boolean;
  /** The labels listed in `on(...)` / `ignoring(...)`. */
  labels: string[];
  /** The labels listed in `group_left(...)` / `group_right(...)`. */
  include: string[];
  /** Values used for a side that has no match (`fill`, `fill_left`, `fill_right`); null when not filled. */
  fill: { lhs: number | null; rhs: number | null };
}

export interface FunctionDef {
  readonly name: string;
  readonly argTypes: readonly ValueType[];
  /** 0: fixed arity; n > 0: up to n extra arguments of the last type; -1: any number of them. */
  readonly variadic: number;
  readonly returnType: ValueType;
  readonly experimental: boolean;
}

export interface NumberLiteral {
  type: 'NumberLiteral';
  val: number;
  /** True when written as a duration (`5m`); the printer then prints it as one. */
  duration: boolean;
  posRange: PosRange;
}

export interface StringLiteral {
  type: 'StringLiteral';
  val: string;
  posRange: PosRange;
}

export type AtPreprocessor = 'start' | 'end';

export interface VectorSelector {
  type: 'VectorSelector';
  /** The metric name written before the braces ('' when absent). */
  name: string;
  /** All matchers, including `__name__="<name>"` appended last when a name was written before the braces. */
  matchers: Matcher[];
  /** `offset` in ms as written (0 when absent or when `offsetExpr` is set). */
  offset: number;
  offsetExpr: DurationExpr | null;
  /** `@ <timestamp>` in ms, or null. */
  at: number | null;
  /** `@ start()` / `@ end()`. */
  startOrEnd: AtPreprocessor | null;
  anchored: boolean;
  smoothed: boolean;
  /** Set for the label-selector argument of `info()`, which may match everything. */
  bypassEmptyMatcherCheck: boolean;
  posRange: PosRange;
}

export interface MatrixSelector {
  type: 'MatrixSelector';
  /** Always a VectorSelector in a tree returned by the parser; its offset/@/anchored belong to the range. */
  vectorSelector: VectorSelector;
  /** Range in ms (0 when `rangeExpr` is set). */
  range: number;
  rangeExpr: DurationExpr | null;
  posRange: PosRange;
}

export interface SubqueryExpr {
  type: 'SubqueryExpr';
  expr: Expr;
  range: number;
  rangeExpr: DurationExpr | null;
  /** Resolution in ms; 0 when omitted (`[5m:]`) and when `stepExpr` is set. */
  step: number;
  stepExpr: DurationExpr | null;
  offset: number;
  offsetExpr: DurationExpr | null;
  at: number | null;
  startOrEnd: AtPreprocessor | null;
  posRange: PosRange;
}

export interface Call {
  type: 'Call';
  func: FunctionDef;
  args: Expr[];
  posRange: PosRange;
}

export interface AggregateExpr {
  type: 'AggregateExpr';
  op: AggregateOp;
  expr: Expr;
  /** The parameter of topk, bottomk, quantile, count_values, limitk and limit_ratio. */
  param: Expr | null;
  grouping: string[];
  without: boolean;
  posRange: PosRange;
}

export interface BinaryExpr {
  type: 'BinaryExpr';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  returnBool: boolean;
  /** Null unless both sides are instant vectors. */
  matching: VectorMatching | null;
  posRange: PosRange;
}

export interface UnaryExpr {
  type: 'UnaryExpr';
  op: '+' | '-';
  expr: Expr;
  posRange: PosRange;
}

export interface ParenExpr {
  type: 'ParenExpr';
  expr: Expr;
  posRange: PosRange;
}

export type DurationOp = '+' | '-' | '*' | '/' | '%' | '^' | 'step' | 'range' | 'min_of' | 'max_of';

/**
 * An (experimental) duration expression: in a range, subquery step or offset. Unary minus has `lhs` null;
 * `step()`/`range()` have both operands null; `wrapped` records parentheses so printing round-trips
 * (a parenthesised number is kept as a unary '+' with `wrapped` set).
 */
export interface DurationExpr {
  type: 'DurationExpr';
  op: DurationOp;
  lhs: Expr | null;
  rhs: Expr | null;
  wrapped: boolean;
  posRange: PosRange;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | UnaryExpr
  | ParenExpr
  | DurationExpr;

export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set<BinaryOp>(['==', '!=', '<=', '<', '>=', '>']);
export const SET_OPS: ReadonlySet<BinaryOp> = new Set<BinaryOp>(['and', 'or', 'unless']);

export function isComparisonOp(op: BinaryOp): boolean {
  return COMPARISON_OPS.has(op);
}
export function isSetOp(op: BinaryOp): boolean {
  return SET_OPS.has(op);
}
export function aggregateHasParam(op: AggregateOp): boolean {
  return (
    op === 'topk' ||
    op === 'bottomk' ||
    op === 'count_values' ||
    op === 'quantile' ||
    op === 'limitk' ||
    op === 'limit_ratio'
  );
}

/** The type an expression evaluates to. */
export function valueTypeOf(e: Expr): ValueType {
  switch (e.type) {
    case 'NumberLiteral':
    case 'DurationExpr':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'VectorSelector':
    case 'AggregateExpr':
      return 'vector';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      return 'matrix';
    case 'Call':
      return e.func.returnType;
    case 'ParenExpr':
    case 'UnaryExpr':
      return valueTypeOf(e.expr);
    case 'BinaryExpr':
      return valueTypeOf(e.lhs) === 'scalar' && valueTypeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
  }
}

/** The user-facing name of a value type, as used in error messages ("instant vector", "range vector"). */
export function documentedType(t: ValueType): string {
  if (t === 'vector') return 'instant vector';
  if (t === 'matrix') return 'range vector';
  return t;
}

/** Direct sub-expressions, in evaluation order (duration expressions of modifiers are not included). */
export function children(e: Expr): Expr[] {
  switch (e.type) {
    case 'AggregateExpr':
      return e.param !== null ? [e.expr, e.param] : [e.expr];
    case 'BinaryExpr':
      return [e.lhs, e.rhs];
    case 'Call':
      return e.args;
    case 'SubqueryExpr':
    case 'ParenExpr':
    case 'UnaryExpr':
      return [e.expr];
    case 'MatrixSelector':
      return [e.vectorSelector];
    default:
      return [];
  }
}

/**
 * Visits `e` and its descendants depth-first; `visit` gets the node and the path of its ancestors and may
 * return false to skip a node's children.
 */
export function inspect(e: Expr, visit: (node: Expr, path: readonly Expr[]) => boolean | void): void {
  const path: Expr[] = [];
  const go = (n: Expr): void => {
    if (visit(n, path) === false) return;
    path.push(n);
    for (const c of children(n)) go(c);
    path.pop();
  };
  go(e);
}
