/**
 * Static checks of a parsed expression (Prometheus runs them only when the parse itself found no error):
 * operand types of operators, functions and aggregations, vector matching rules, and selector sanity.
 * They also finish the tree: set operations become many-to-many, and vector matching is dropped when a
 * side is not an instant vector.
 */
import { METRIC_NAME } from '../../model/labels.js';
import {
  documentedType,
  isComparisonOp,
  isSetOp,
  valueTypeOf,
  type BinaryExpr,
  type Expr,
  type PosRange,
  type ValueType,
} from './ast.js';
import type { ParseErrorDetail } from './errors.js';
import { goQuote } from './goutil.js';

export class Checker {
  readonly errors: ParseErrorDetail[] = [];
  private readonly input: string;

  constructor(input: string) {
    this.input = input;
  }

  private add(posRange: PosRange, message: string): void {
    this.errors.push({ posRange, message });
  }

  private expectType(e: Expr, want: ValueType, context: string): void {
    const t = this.check(e);
    if (t !== want) {
      this.add(e.posRange, `expected type ${documentedType(want)} in ${context}, got ${documentedType(t)}`);
    }
  }

  /** The range of a binary operator and its modifiers, between the operands (whitespace trimmed). */
  private opRange(n: BinaryExpr): PosRange {
    const isSpace = (i: number): boolean => {
      const c = this.input.charCodeAt(i);
      return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    };
    let start = n.lhs.posRange.end;
    while (start < this.input.length && isSpace(start)) start++;
    let end = n.rhs.posRange.start - 1;
    while (end > 0 && isSpace(end)) end--;
    return { start, end };
  }

  /** Checks `e` and its children; returns its type. */
  check(e: Expr): ValueType {
    const typ = valueTypeOf(e);
    switch (e.type) {
      case 'AggregateExpr':
        this.expectType(e.expr, 'vector', 'aggregation expression');
        if (e.op === 'topk' || e.op === 'bottomk' || e.op === 'quantile' || e.op === 'limitk' || e.op === 'limit_ratio') {
          this.expectType(e.param!, 'scalar', 'aggregation parameter');
        }
        if (e.op === 'count_values') this.expectType(e.param!, 'string', 'aggregation parameter');
        break;
      case 'BinaryExpr':
        this.checkBinary(e);
        break;
      case 'Call':
        this.checkCall(e);
        break;
      case 'ParenExpr':
        this.check(e.expr);
        break;
      case 'UnaryExpr': {
        const t = this.check(e.expr);
        if (t !== 'scalar' && t !== 'vector') {
          this.add(
            e.posRange,
            `unary expression only allowed on expressions of type scalar or instant vector, got ${goQuote(documentedType(t))}`,
          );
        }
        break;
      }
      case 'SubqueryExpr': {
        const t = this.check(e.expr);
        if (t !== 'vector') this.add(e.posRange, `subquery is only allowed on instant vector, got ${t} instead`);
        break;
      }
      case 'MatrixSelector':
        this.check(e.vectorSelector);
        break;
      case 'VectorSelector':
        if (e.name !== '') {
          // The last matcher is the one made from the name written before the braces.
          for (const m of e.matchers.slice(0, -1)) {
            if (m.name === METRIC_NAME) {
              this.add(e.posRange, `metric name must not be set twice: ${goQuote(e.name)} or ${goQuote(m.value)}`);
            }
          }
          break;
        }
        if (!e.bypassEmptyMatcherCheck && !e.matchers.some((m) => !m.matches(''))) {
          this.add(e.posRange, 'vector selector must contain at least one non-empty matcher');
        }
        break;
      case 'NumberLiteral':
      case 'StringLiteral':
      case 'DurationExpr':
        break;
    }
    return typ;
  }

  private checkBinary(n: BinaryExpr): void {
    const lt = this.check(n.lhs);
    const rt = this.check(n.rhs);
    const vm = n.matching;
    if (n.returnBool && !isComparisonOp(n.op)) {
      this.add(this.opRange(n), 'bool modifier can only be used on comparison operators');
    }
    if (isComparisonOp(n.op) && !n.returnBool && valueTypeOf(n.rhs) === 'scalar' && valueTypeOf(n.lhs) === 'scalar') {
      this.add(this.opRange(n), 'comparisons between scalars must use BOOL modifier');
    }
    if (vm !== null) {
      if (isSetOp(n.op) && vm.card === 'one-to-one') vm.card = 'many-to-many';
      if (vm.on) {
        for (const l1 of vm.labels) {
          for (const l2 of vm.include) {
            if (l1 === l2) this.add(this.opRange(n), `label ${goQuote(l1)} must not occur in ON and GROUP clause at once`);
          }
        }
      }
    }
    if (lt !== 'scalar' && lt !== 'vector') {
      this.add(n.lhs.posRange, 'binary expression must contain only scalar and instant vector types');
    }
    if (rt !== 'scalar' && rt !== 'vector') {
      this.add(n.rhs.posRange, 'binary expression must contain only scalar and instant vector types');
    }
    if ((lt !== 'vector' || rt !== 'vector') && vm !== null) {
      if (vm.labels.length > 0) this.add(n.posRange, 'vector matching only allowed between instant vectors');
      if (vm.fill.lhs !== null || vm.fill.rhs !== null) {
        this.add(n.posRange, 'filling in missing series only allowed between instant vectors');
      }
      n.matching = null;
    } else if (isSetOp(n.op) && vm !== null) {
      if (vm.card === 'one-to-many' || vm.card === 'many-to-one') {
        this.add(n.posRange, `no grouping allowed for ${goQuote(n.op)} operation`);
      }
      if (vm.card !== 'many-to-many') this.add(n.posRange, 'set operations must always be many-to-many');
      if (vm.fill.lhs !== null || vm.fill.rhs !== null) {
        this.add(n.posRange, 'filling in missing series not allowed for set operators');
      }
    }
    if ((lt === 'scalar' || rt === 'scalar') && isSetOp(n.op)) {
      this.add(n.posRange, `set operator ${goQuote(n.op)} not allowed in binary scalar expression`);
    }
  }

  private checkCall(n: Extract<Expr, { type: 'Call' }>): void {
    const f = n.func;
    const nargs = f.argTypes.length;
    if (f.variadic === 0) {
      if (nargs !== n.args.length) {
        this.add(n.posRange, `expected ${nargs} argument(s) in call to ${goQuote(f.name)}, got ${n.args.length}`);
      }
    } else {
      const na = nargs - 1;
      if (na > n.args.length) {
        this.add(n.posRange, `expected at least ${na} argument(s) in call to ${goQuote(f.name)}, got ${n.args.length}`);
      } else if (f.variadic > 0 && na + f.variadic < n.args.length) {
        this.add(
          n.posRange,
          `expected at most ${na + f.variadic} argument(s) in call to ${goQuote(f.name)}, got ${n.args.length}`,
        );
      }
    }
    if (f.name === 'info' && n.args.length > 1) {
      const sel = n.args[1]!;
      const t = valueTypeOf(sel);
      if (t !== 'vector') {
        this.add(
          n.posRange,
          `expected type ${documentedType('vector')} in call to function ${goQuote(f.name)}, got ${documentedType(t)}`,
        );
      }
      if (sel.type === 'VectorSelector' && sel.name !== '') {
        this.add(sel.posRange, 'expected label selectors only, got vector selector instead');
      } else if (sel.type === 'VectorSelector') {
        sel.bypassEmptyMatcherCheck = true;
      } else {
        this.add(sel.posRange, 'expected label selectors only');
      }
    }
    for (let i = 0; i < n.args.length; i++) {
      let ti = i;
      if (i >= nargs) {
        if (f.variadic === 0) break;
        ti = nargs - 1;
      }
      const arg = n.args[i]!;
      const t = this.check(arg);
      const want = f.argTypes[ti]!;
      if (t !== want) {
        this.add(
          arg.posRange,
          `expected type ${documentedType(want)} in call to function ${goQuote(f.name)}, got ${documentedType(t)}`,
        );
      }
    }
  }
}
