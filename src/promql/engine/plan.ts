/**
 * Turns a parsed expression into the tree the evaluator walks: parentheses are dropped, duration
 * expressions and `start()`/`end()`/`range()`/`step()` are resolved to numbers, `@ start()`/`@ end()` to
 * timestamps, and the highest step-invariant sub-trees are marked so they are evaluated once per query.
 */
import type { Matcher } from '../../model/matcher.js';
import type {
  AggregateOp,
  BinaryOp,
  DurationExpr,
  Expr,
  PosRange,
  ValueType,
  VectorMatching,
  VectorSelector,
} from '../parser/ast.js';
import { valueTypeOf } from '../parser/ast.js';
import { PromQLError } from './errors.js';

interface Base {
  type: ValueType;
  pos: PosRange;
}
export interface NumNode extends Base {
  k: 'num';
  val: number;
}
export interface StrNode extends Base {
  k: 'str';
  val: string;
}
export interface VSNode extends Base {
  k: 'vs';
  name: string;
  matchers: Matcher[];
  /** Offset in ms (negative allowed). */
  offset: number;
  /** `@` timestamp in ms, or null. */
  at: number | null;
  anchored: boolean;
  smoothed: boolean;
  src: VectorSelector;
}
export interface MSNode extends Base {
  k: 'ms';
  vs: VSNode;
  range: number;
}
export interface SQNode extends Base {
  k: 'sq';
  expr: PNode;
  range: number;
  /** Resolution in ms; 0 means the default (1 minute). */
  step: number;
  offset: number;
  at: number | null;
}
export interface CallNode extends Base {
  k: 'call';
  name: string;
  args: PNode[];
}
export interface AggNode extends Base {
  k: 'agg';
  op: AggregateOp;
  expr: PNode;
  param: PNode | null;
  /** Sorted grouping labels. */
  grouping: string[];
  without: boolean;
}
export interface BinNode extends Base {
  k: 'bin';
  op: BinaryOp;
  lhs: PNode;
  rhs: PNode;
  bool: boolean;
  matching: VectorMatching | null;
}
export interface NegNode extends Base {
  k: 'neg';
  expr: PNode;
}
/** A sub-tree whose value does not depend on the evaluation step: evaluated once at the start time. */
export interface SINode extends Base {
  k: 'si';
  expr: PNode;
}

export type PNode = NumNode | StrNode | VSNode | MSNode | SQNode | CallNode | AggNode | BinNode | NegNode | SINode;

/** Functions whose result can change with the evaluation time even when their arguments do not. */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'end',
  'hour',
  'minute',
  'month',
  'year',
  'predict_linear',
  'range',
  'start',
  'step',
  'time',
  'timestamp',
]);

interface Ctx {
  start: number;
  end: number;
  /** Query step in ms (0 for an instant query). */
  step: number;
}

/** Builds the evaluation tree for a query over [start, end] with the given step (0 for instant queries). */
export function plan(e: Expr, start: number, end: number, step: number): PNode {
  const ctx: Ctx = { start, end, step };
  const root = convert(e, ctx);
  const [, wrap] = markInvariant(root, ctx);
  return wrap ? wrapSI(root) : root;
}

function durationSeconds(d: DurationExpr | Expr, ctx: Ctx): number {
  if (d.type === 'NumberLiteral') return d.val;
  if (d.type !== 'DurationExpr') throw new PromQLError('bad_data', `unexpected duration expression type ${d.type}`);
  const lhs = d.lhs !== null ? durationSeconds(d.lhs, ctx) : 0;
  const rhs = d.rhs !== null ? durationSeconds(d.rhs, ctx) : 0;
  const where = `${d.posRange.start}:${d.posRange.end}`;
  switch (d.op) {
    case 'step':
      return ctx.start === ctx.end ? 0 : ctx.step / 1000;
    case 'range':
      return (ctx.end - ctx.start) / 1000;
    case 'min_of':
      return Math.min(lhs, rhs);
    case 'max_of':
      return Math.max(lhs, rhs);
    case '+':
      return d.lhs === null ? rhs : lhs + rhs;
    case '-':
      return d.lhs === null ? -rhs : lhs - rhs;
    case '*':
      return lhs * rhs;
    case '/':
      if (rhs === 0) throw new PromQLError('bad_data', `${where}: division by zero`);
      return lhs / rhs;
    case '%':
      if (rhs === 0) throw new PromQLError('bad_data', `${where}: modulo by zero`);
      return lhs % rhs;
    case '^':
      return Math.pow(lhs, rhs);
  }
}

function durationMs(d: DurationExpr, ctx: Ctx, allowNegative: boolean): number {
  const v = durationSeconds(d, ctx);
  const where = `${d.posRange.start}:${d.posRange.end}`;
  if (!Number.isFinite(v)) throw new PromQLError('bad_data', `${where}: duration is NaN or infinite`);
  if (v <= 0 && !allowNegative) throw new PromQLError('bad_data', `${where}: duration must be greater than 0`);
  if (v > 9223372036.854775807 || v < -9223372036.854775808) {
    throw new PromQLError('bad_data', `${where}: duration is out of range`);
  }
  return Math.trunc(v * 1000);
}

function resolveAt(at: number | null, startOrEnd: 'start' | 'end' | null, ctx: Ctx): number | null {
  if (startOrEnd === 'start') return ctx.start;
  if (startOrEnd === 'end') return ctx.end;
  return at;
}

function convertVS(vs: VectorSelector, ctx: Ctx): VSNode {
  return {
    k: 'vs',
    type: 'vector',
    pos: vs.posRange,
    name: vs.name,
    matchers: vs.matchers,
    offset: vs.offsetExpr !== null ? durationMs(vs.offsetExpr, ctx, true) : Math.trunc(vs.offset),
    at: resolveAt(vs.at, vs.startOrEnd, ctx),
    anchored: vs.anchored,
    smoothed: vs.smoothed,
    src: vs,
  };
}

function convert(e: Expr, ctx: Ctx): PNode {
  switch (e.type) {
    case 'ParenExpr':
      return convert(e.expr, ctx);
    case 'NumberLiteral':
      return { k: 'num', type: 'scalar', pos: e.posRange, val: e.val };
    case 'StringLiteral':
      return { k: 'str', type: 'string', pos: e.posRange, val: e.val };
    case 'DurationExpr':
      return { k: 'num', type: 'scalar', pos: e.posRange, val: durationSeconds(e, ctx) };
    case 'VectorSelector':
      return convertVS(e, ctx);
    case 'MatrixSelector':
      return {
        k: 'ms',
        type: 'matrix',
        pos: e.posRange,
        vs: convertVS(e.vectorSelector, ctx),
        range: e.rangeExpr !== null ? durationMs(e.rangeExpr, ctx, false) : Math.trunc(e.range),
      };
    case 'SubqueryExpr':
      return {
        k: 'sq',
        type: 'matrix',
        pos: e.posRange,
        expr: convert(e.expr, ctx),
        range: e.rangeExpr !== null ? durationMs(e.rangeExpr, ctx, false) : Math.trunc(e.range),
        step: e.stepExpr !== null ? durationMs(e.stepExpr, ctx, false) : Math.trunc(e.step),
        offset: e.offsetExpr !== null ? durationMs(e.offsetExpr, ctx, true) : Math.trunc(e.offset),
        at: resolveAt(e.at, e.startOrEnd, ctx),
      };
    case 'Call': {
      const name = e.func.name;
      switch (name) {
        case 'start':
          return { k: 'num', type: 'scalar', pos: e.posRange, val: ctx.start / 1000 };
        case 'end':
          return { k: 'num', type: 'scalar', pos: e.posRange, val: ctx.end / 1000 };
        case 'range':
          return { k: 'num', type: 'scalar', pos: e.posRange, val: (ctx.end - ctx.start) / 1000 };
        case 'step':
          return { k: 'num', type: 'scalar', pos: e.posRange, val: ctx.start !== ctx.end ? ctx.step / 1000 : 0 };
      }
      return {
        k: 'call',
        type: e.func.returnType,
        pos: e.posRange,
        name,
        args: e.args.map((a) => convert(a, ctx)),
      };
    }
    case 'AggregateExpr':
      return {
        k: 'agg',
        type: 'vector',
        pos: e.posRange,
        op: e.op,
        expr: convert(e.expr, ctx),
        param: e.param !== null ? convert(e.param, ctx) : null,
        grouping: [...e.grouping].sort(),
        without: e.without,
      };
    case 'BinaryExpr':
      return {
        k: 'bin',
        type: valueTypeOf(e),
        pos: e.posRange,
        op: e.op,
        lhs: convert(e.lhs, ctx),
        rhs: convert(e.rhs, ctx),
        bool: e.returnBool,
        matching: e.matching,
      };
    case 'UnaryExpr': {
      const inner = convert(e.expr, ctx);
      if (e.op === '+') return inner;
      // A negated literal stays a literal so that it remains step-invariant without a wrapper.
      if (inner.k === 'num') return { ...inner, val: -inner.val, pos: e.posRange };
      return { k: 'neg', type: inner.type, pos: e.posRange, expr: inner };
    }
  }
}

function wrapSI(n: PNode): SINode {
  return { k: 'si', type: n.type, pos: n.pos, expr: n };
}

/**
 * Returns [isStepInvariant, shouldWrap] for a node, wrapping step-invariant children of nodes that are not
 * themselves step-invariant (Prometheus's preprocessing).
 */
function markInvariant(n: PNode, ctx: Ctx): [boolean, boolean] {
  switch (n.k) {
    case 'vs':
      return [n.at !== null, n.at !== null];
    case 'ms': {
      const [inv] = markInvariant(n.vs, ctx);
      return [inv, false];
    }
    case 'sq': {
      const [inv] = markInvariant(n.expr, ctx);
      if (inv) n.expr = wrapSI(n.expr);
      return [n.at !== null, false];
    }
    case 'agg':
      return markInvariant(n.expr, ctx);
    case 'neg':
      return markInvariant(n.expr, ctx);
    case 'bin': {
      const [li, lw] = markInvariant(n.lhs, ctx);
      const [ri, rw] = markInvariant(n.rhs, ctx);
      if (li && ri) return [true, true];
      if (lw) n.lhs = wrapSI(n.lhs);
      if (rw) n.rhs = wrapSI(n.rhs);
      return [false, false];
    }
    case 'call': {
      let inv = !AT_MODIFIER_UNSAFE_FUNCTIONS.has(n.name);
      let timestampSafe = n.name === 'timestamp';
      const wraps: boolean[] = [];
      for (const a of n.args) {
        const [ai, aw] = markInvariant(a, ctx);
        wraps.push(aw);
        inv = inv && ai;
        if (!ai || a.k !== 'vs') timestampSafe = false;
      }
      if (inv || timestampSafe) return [true, true];
      for (let i = 0; i < n.args.length; i++) if (wraps[i]) n.args[i] = wrapSI(n.args[i]!);
      return [false, false];
    }
    case 'num':
    case 'str':
      return [true, false];
    case 'si':
      return [true, false];
  }
}
