/**
 * Duration expressions (experimental in Prometheus): ranges and subquery steps (`[5m+1m]`, `[step()]`),
 * and offsets, where a plain, signed or function-like duration ends the offset and only a parenthesised
 * start lets binary operators continue it: `x offset 5m + 1m` adds 1m to the value of `x offset 5m`, while
 * `x offset (5m) + 1m` is an offset of 6m.
 */
import type { DurationExpr, DurationOp, Expr, NumberLiteral } from './ast.js';
import { TOKEN_TEXT, type Token, type TokenType } from './lexer.js';
import { durationOutOfRange, TokenStream, tokenRange, zeroLiteral } from './stream.js';

export const POW_PREC = 6;
const DURATION_PREC: Partial<Record<TokenType, number>> = { ADD: 4, SUB: 4, MUL: 5, DIV: 5, MOD: 5, POW: 6 };

export class DurationParser extends TokenStream {
  private experimentalDuration(e: Expr): void {
    if (!this.opts.durationExpressions) this.addError(e.posRange, 'experimental duration expression is not enabled');
  }

  protected parsePositiveDuration(): Expr {
    const d = this.parseDurationExpr(0);
    if (d.type === 'NumberLiteral' && d.val <= 0) {
      this.addError(d.posRange, 'duration must be greater than 0');
      return zeroLiteral();
    }
    return d;
  }

  private parseDurationExpr(minPrec: number): Expr {
    this.enter();
    const e = this.durationBinary(this.parseDurationOperand(), minPrec);
    this.leave();
    return e;
  }

  private durationBinary(lhs: Expr, minPrec: number): Expr {
    for (;;) {
      const t = this.peek();
      const prec = DURATION_PREC[t.type];
      if (prec === undefined || prec < minPrec) return lhs;
      this.advance();
      const rhs = this.parseDurationExpr(prec === POW_PREC ? prec : prec + 1);
      this.experimentalDuration(lhs);
      if ((t.type === 'DIV' || t.type === 'MOD') && rhs.type === 'NumberLiteral' && rhs.val === 0) {
        this.addError(tokenRange(t), t.type === 'DIV' ? 'division by zero' : 'modulo by zero');
        lhs = zeroLiteral();
        continue;
      }
      lhs = {
        type: 'DurationExpr',
        op: TOKEN_TEXT[t.type] as DurationOp,
        lhs,
        rhs,
        wrapped: false,
        posRange: { start: lhs.posRange.start, end: rhs.posRange.end },
      };
    }
  }

  private parseDurationOperand(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'ADD':
      case 'SUB': {
        this.advance();
        return this.applyUnaryDuration(t, this.parseDurationExpr(POW_PREC), false);
      }
      case 'NUMBER':
      case 'DURATION':
        this.advance();
        return this.checkedDurationLiteral(this.numberLiteral(t));
      case 'STEP':
      case 'RANGE':
        return this.parseStepOrRange();
      case 'MAX_OF':
      case 'MIN_OF':
        return this.parseMinMaxOf();
      case 'LEFT_PAREN': {
        this.advance();
        const inner = this.parseDurationExpr(0);
        this.expect('RIGHT_PAREN');
        this.experimentalDuration(inner);
        return this.wrapParen(inner, t.pos);
      }
    }
    return this.unexpected();
  }

  private checkedDurationLiteral(nl: NumberLiteral): NumberLiteral {
    if (durationOutOfRange(nl.val)) {
      this.addError(nl.posRange, 'duration out of range');
      return zeroLiteral();
    }
    return nl;
  }

  private parseStepOrRange(): DurationExpr {
    const t = this.advance();
    this.expect('LEFT_PAREN');
    this.expect('RIGHT_PAREN');
    const de: DurationExpr = {
      type: 'DurationExpr',
      op: t.type === 'STEP' ? 'step' : 'range',
      lhs: null,
      rhs: null,
      wrapped: false,
      posRange: { start: t.pos, end: this.lastEnd },
    };
    this.experimentalDuration(de);
    return de;
  }

  private parseMinMaxOf(): DurationExpr {
    const t = this.advance();
    this.expect('LEFT_PAREN');
    const a = this.parseDurationExpr(0);
    this.expect('COMMA');
    const b = this.parseDurationExpr(0);
    this.expect('RIGHT_PAREN');
    const de: DurationExpr = {
      type: 'DurationExpr',
      op: t.type === 'MAX_OF' ? 'max_of' : 'min_of',
      lhs: a,
      rhs: b,
      wrapped: false,
      posRange: { start: a.posRange.start, end: b.posRange.end },
    };
    this.experimentalDuration(de);
    return de;
  }

  private wrapParen(e: Expr, start: number): Expr {
    if (e.type === 'DurationExpr') {
      e.wrapped = true;
      return e;
    }
    return { type: 'DurationExpr', op: '+', lhs: null, rhs: e, wrapped: true, posRange: { start, end: e.posRange.end } };
  }

  private applyUnaryDuration(op: Token, e: Expr, wrapped: boolean): Expr {
    if (wrapped) e = this.wrapParen(e, e.posRange.start);
    if (e.type === 'DurationExpr') {
      if (op.type !== 'SUB') return e;
      return { type: 'DurationExpr', op: '-', lhs: null, rhs: e, wrapped: false, posRange: { start: op.pos, end: e.posRange.end } };
    }
    if (e.type === 'NumberLiteral') {
      if (op.type === 'SUB') e.val = -e.val;
      if (durationOutOfRange(e.val)) {
        this.addError(tokenRange(op), 'duration out of range');
        return zeroLiteral();
      }
      e.posRange.start = op.pos;
      return e;
    }
    this.addError(tokenRange(op), 'expected number literal or duration expression');
    return zeroLiteral();
  }

  /**
   * The duration after `offset`. A literal, a signed literal, `step()`, `range()`, `min_of(…)`/`max_of(…)`
   * (each optionally signed) or a signed parenthesised expression ends the offset there; only a duration
   * expression that starts with a parenthesis or with repeated signs goes on with binary operators.
   */
  protected parseOffsetDuration(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'NUMBER':
      case 'DURATION':
        this.advance();
        return this.checkedDurationLiteral(this.numberLiteral(t));
      case 'STEP':
      case 'RANGE':
        return this.parseStepOrRange();
      case 'MAX_OF':
      case 'MIN_OF':
        return this.parseMinMaxOf();
      case 'LEFT_PAREN': {
        this.advance();
        const inner = this.parseDurationExpr(0);
        this.expect('RIGHT_PAREN');
        this.experimentalDuration(inner);
        return this.durationBinary(this.wrapParen(inner, t.pos), 0);
      }
      case 'ADD':
      case 'SUB':
        break;
      default:
        return this.unexpected();
    }
    const n = this.peek(1);
    this.advance();
    switch (n.type) {
      case 'NUMBER':
      case 'DURATION': {
        this.advance();
        const nl = this.numberLiteral(n);
        if (t.type === 'SUB') nl.val = -nl.val;
        if (durationOutOfRange(nl.val)) {
          this.addError(tokenRange(t), 'duration out of range');
          return zeroLiteral();
        }
        nl.posRange.start = t.pos;
        return nl;
      }
      case 'STEP':
      case 'RANGE':
      case 'MAX_OF':
      case 'MIN_OF': {
        const inner = n.type === 'STEP' || n.type === 'RANGE' ? this.parseStepOrRange() : this.parseMinMaxOf();
        if (t.type === 'ADD') {
          // A unary plus changes nothing (Prometheus keeps a no-op node that prints as its operand).
          inner.posRange.start = t.pos;
          return inner;
        }
        const de: DurationExpr = {
          type: 'DurationExpr',
          op: '-',
          lhs: null,
          rhs: inner,
          wrapped: false,
          posRange: { start: t.pos, end: inner.posRange.end },
        };
        this.experimentalDuration(de);
        return de;
      }
      case 'LEFT_PAREN': {
        this.advance();
        const inner = this.parseDurationExpr(0);
        this.expect('RIGHT_PAREN');
        return this.applyUnaryDuration(t, inner, true);
      }
    }
    const operand = this.applyUnaryDuration(t, this.parseDurationExpr(POW_PREC), false);
    return this.durationBinary(operand, 0);
  }
}
