/**
 * Recursive-descent PromQL parser with precedence climbing. It reproduces Prometheus's grammar, including
 * how its LALR parser resolves ambiguities (postfix modifiers bind to the closest operand, unary minus binds
 * looser than `^`, `offset 5m + 1m` is `(… offset 5m) + 1m`), and the wording of its errors: each error
 * production of the upstream grammar is a "context" here, and a syntax error is reported in the innermost
 * open context. Semantic errors found while parsing are collected; parsing stops at the first syntax error.
 */
import { METRIC_NAME } from '../../model/labels.js';
import { Matcher, MatchType } from '../../model/matcher.js';
import type {
  AggregateExpr,
  AggregateOp,
  BinaryExpr,
  BinaryOp,
  Call,
  DurationExpr,
  Expr,
  FunctionDef,
  MatrixSelector,
  PosRange,
  SubqueryExpr,
  VectorMatchCardinality,
  VectorSelector,
} from './ast.js';
import { DurationParser, POW_PREC } from './durations.js';
import { getFunction } from './functions.js';
import { formatFixed, goQuote, goRound } from './goutil.js';
import { AGGREGATORS, TOKEN_TEXT, type Token, type TokenType } from './lexer.js';
import { isNumberToken, secondsToMs, tokenRange, zeroLiteral, type ParserOptions } from './stream.js';

export type { ParserOptions } from './stream.js';

interface BinModifiers {
  returnBool: boolean;
  card: VectorMatchCardinality;
  on: boolean;
  labels: string[];
  include: string[];
  fillLHS: number | null;
  fillRHS: number | null;
}

const BIN_PREC: Partial<Record<TokenType, number>> = {
  LOR: 1,
  LAND: 2,
  LUNLESS: 2,
  EQLC: 3,
  NEQ: 3,
  LTE: 3,
  LSS: 3,
  GTE: 3,
  GTR: 3,
  TRIM_UPPER: 3,
  TRIM_LOWER: 3,
  ADD: 4,
  SUB: 4,
  MUL: 5,
  DIV: 5,
  MOD: 5,
  ATAN2: 5,
  POW: 6,
};

/** Keywords that may also be metric names at the start of an operand. */
const METRIC_KEYWORDS = new Set<TokenType>([
  'BY', 'FILL', 'FILL_LEFT', 'FILL_RIGHT', 'LAND', 'LOR', 'LUNLESS', 'OFFSET', 'WITHOUT', 'ANCHORED', 'SMOOTHED',
]);
/** Keywords that are function names when an opening parenthesis follows, metric names otherwise. */
const FUNCTION_KEYWORDS = new Set<TokenType>(['START', 'END', 'STEP', 'RANGE', 'MAX_OF', 'MIN_OF']);
/** Tokens accepted as a label name in grouping lists. */
const GROUPING_LABEL_TOKENS = new Set<TokenType>([
  'IDENTIFIER', 'METRIC_IDENTIFIER', 'AVG', 'BOOL', 'BOTTOMK', 'BY', 'COUNT', 'COUNT_VALUES', 'GROUP',
  'GROUP_LEFT', 'GROUP_RIGHT', 'FILL', 'FILL_LEFT', 'FILL_RIGHT', 'IGNORING', 'LAND', 'LOR', 'LUNLESS', 'MAX',
  'MIN', 'OFFSET', 'ON', 'QUANTILE', 'STDDEV', 'STDVAR', 'SUM', 'TOPK', 'START', 'END', 'ATAN2', 'LIMITK',
  'LIMIT_RATIO', 'STEP', 'RANGE', 'ANCHORED', 'SMOOTHED', 'MAX_OF', 'MIN_OF',
]);
const MATCH_OPS: Partial<Record<TokenType, MatchType>> = {
  EQL: MatchType.Equal,
  NEQ: MatchType.NotEqual,
  EQL_REGEX: MatchType.Regexp,
  NEQ_REGEX: MatchType.NotRegexp,
};

function isMetricIdentifier(t: TokenType): boolean {
  return (
    t === 'IDENTIFIER' ||
    t === 'METRIC_IDENTIFIER' ||
    AGGREGATORS.has(t) ||
    METRIC_KEYWORDS.has(t) ||
    FUNCTION_KEYWORDS.has(t)
  );
}

function canStartExpr(t: TokenType): boolean {
  return (
    isMetricIdentifier(t) ||
    t === 'NUMBER' ||
    t === 'DURATION' ||
    t === 'STRING' ||
    t === 'LEFT_PAREN' ||
    t === 'LEFT_BRACE' ||
    t === 'ADD' ||
    t === 'SUB'
  );
}

const UNKNOWN_FUNCTION: FunctionDef = Object.freeze({
  name: '',
  argTypes: Object.freeze([]),
  variadic: 0,
  returnType: 'none',
  experimental: false,
});

export class Parser extends DurationParser {
  constructor(input: string, opts: ParserOptions = {}) {
    super(input, opts);
  }

  /** Parses a whole expression; returns null when a syntax error stopped the parse. */
  parseExpression(): Expr | null {
    return this.run(() => {
      if (this.peek().type === 'EOF') {
        this.addError({ start: 0, end: 0 }, 'no expression found in input');
        return null;
      }
      const e = this.parseBinary(0);
      if (this.peek().type !== 'EOF') this.unexpected();
      return e;
    });
  }

  /** Parses a lone vector selector (`match[]` parameters). */
  parseVectorSelectorOnly(): VectorSelector | null {
    return this.run(() => {
      const t = this.peek();
      let vs: VectorSelector;
      if (isMetricIdentifier(t.type)) vs = this.parseVectorSelector(t);
      else if (t.type === 'LEFT_BRACE') vs = this.parseVectorSelector(null);
      else return this.unexpected();
      if (this.peek().type !== 'EOF') this.unexpected();
      return vs;
    });
  }

  /**
   * Parses series notation as used in test scripts and rule unit tests: `name{a="b", "c.d"="e"}`, `{"name"}`,
   * `name`, or an empty label set. Only `=` is allowed; returns name/value pairs in written order.
   */
  parseMetricOnly(): [string, string][] | null {
    return this.run(() => {
      const pairs: [string, string][] = [];
      const t = this.peek();
      if (isMetricIdentifier(t.type)) {
        this.advance();
        pairs.push([METRIC_NAME, t.val]);
      }
      if (this.peek().type === 'LEFT_BRACE') {
        this.advance();
        for (;;) {
          const n = this.peek();
          if (n.type === 'RIGHT_BRACE') break;
          if (n.type !== 'IDENTIFIER' && n.type !== 'STRING') this.unexpected('label set', 'identifier or "}"');
          this.advance();
          const name = n.type === 'STRING' ? this.unquote(n) : n.val;
          if (this.peek().type === 'EQL') {
            this.advance();
            const v = this.peek();
            if (v.type !== 'STRING') this.unexpected('label set', 'string');
            this.advance();
            pairs.push([name, this.unquote(v)]);
          } else if (n.type === 'STRING') {
            pairs.push([METRIC_NAME, name]);
          } else {
            this.unexpected('label set', '"="');
          }
          const sep = this.peek().type;
          if (sep === 'COMMA') {
            this.advance();
            continue;
          }
          if (sep === 'RIGHT_BRACE') break;
          this.unexpected('label set', '"," or "}"');
        }
        this.advance();
      }
      if (this.peek().type !== 'EOF') this.unexpected();
      return pairs;
    });
  }

  // --- expressions ---

  private parseBinary(minPrec: number): Expr {
    this.enter();
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const prec = BIN_PREC[t.type];
      if (prec === undefined || prec < minPrec) {
        this.leave();
        return lhs;
      }
      this.advance();
      const mods = this.parseBinModifiers();
      const rhs = this.parseBinary(prec === POW_PREC ? prec : prec + 1);
      lhs = this.newBinary(lhs, t, mods, rhs);
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.type !== 'ADD' && t.type !== 'SUB') return this.parsePostfix(this.parsePrimary());
    this.advance();
    // A unary operator binds like '*': it takes in '^' chains but not lower-precedence operators.
    const operand = this.parseBinary(POW_PREC);
    if (operand.type === 'NumberLiteral') {
      if (t.type === 'SUB') operand.val = -operand.val;
      operand.posRange.start = t.pos;
      return operand;
    }
    return {
      type: 'UnaryExpr',
      op: t.type === 'SUB' ? '-' : '+',
      expr: operand,
      posRange: { start: t.pos, end: operand.posRange.end },
    };
  }

  private parsePostfix(e: Expr): Expr {
    for (;;) {
      switch (this.peek().type) {
        case 'LEFT_BRACKET':
          e = this.parseRangeOrSubquery(e);
          break;
        case 'OFFSET':
          this.parseOffset(e);
          break;
        case 'AT':
          this.parseAt(e);
          break;
        case 'ANCHORED':
          this.advance();
          this.setExtendedRange(e, 'anchored');
          break;
        case 'SMOOTHED':
          this.advance();
          this.setExtendedRange(e, 'smoothed');
          break;
        default:
          return e;
      }
    }
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'NUMBER':
      case 'DURATION':
        this.advance();
        return this.numberLiteral(t);
      case 'STRING':
        this.advance();
        return { type: 'StringLiteral', val: this.unquote(t), posRange: tokenRange(t) };
      case 'LEFT_PAREN': {
        this.advance();
        const inner = this.parseBinary(0);
        const rp = this.expect('RIGHT_PAREN');
        return { type: 'ParenExpr', expr: inner, posRange: { start: t.pos, end: rp.pos + 1 } };
      }
      case 'LEFT_BRACE':
        return this.parseVectorSelector(null);
      case 'IDENTIFIER':
        return this.peek(1).type === 'LEFT_PAREN' ? this.parseCall() : this.parseVectorSelector(t);
      case 'METRIC_IDENTIFIER':
        return this.parseVectorSelector(t);
    }
    if (AGGREGATORS.has(t.type)) {
      const n = this.peek(1).type;
      if (n === 'LEFT_PAREN' || n === 'BY' || n === 'WITHOUT') return this.parseAggregate();
      return this.parseVectorSelector(t);
    }
    if (FUNCTION_KEYWORDS.has(t.type)) {
      return this.peek(1).type === 'LEFT_PAREN' ? this.parseCall() : this.parseVectorSelector(t);
    }
    if (METRIC_KEYWORDS.has(t.type)) return this.parseVectorSelector(t);
    return this.unexpected();
  }

  // --- selectors ---

  private parseVectorSelector(nameTok: Token | null): VectorSelector {
    let start: number;
    if (nameTok !== null) {
      this.advance();
      start = nameTok.pos;
    } else start = this.peek().pos;
    let matchers: Matcher[] = [];
    let end = nameTok !== null ? nameTok.pos + nameTok.val.length : start;
    if (nameTok === null || this.peek().type === 'LEFT_BRACE') {
      matchers = this.parseLabelMatchers();
      end = this.lastEnd;
    }
    const name = nameTok !== null ? nameTok.val : '';
    if (name !== '') matchers.push(new Matcher(MatchType.Equal, METRIC_NAME, name));
    return {
      type: 'VectorSelector',
      name,
      matchers,
      offset: 0,
      offsetExpr: null,
      at: null,
      startOrEnd: null,
      anchored: false,
      smoothed: false,
      bypassEmptyMatcherCheck: false,
      posRange: { start, end },
    };
  }

  private parseLabelMatchers(): Matcher[] {
    this.expect('LEFT_BRACE');
    const out: Matcher[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === 'RIGHT_BRACE') break;
      if (t.type === 'IDENTIFIER' || t.type === 'STRING') {
        this.advance();
        const name = t.type === 'STRING' ? this.unquote(t) : t.val;
        const op = this.peek();
        const matchType = MATCH_OPS[op.type];
        if (matchType !== undefined) {
          this.advance();
          const v = this.peek();
          if (v.type !== 'STRING') this.unexpected('label matching', 'string');
          this.advance();
          out.push(this.newMatcher(matchType, name, this.unquote(v), { start: t.pos, end: v.pos + v.val.length }));
        } else if (t.type === 'STRING') {
          out.push(new Matcher(MatchType.Equal, METRIC_NAME, name));
        } else {
          this.unexpected('label matching', 'label matching operator');
        }
      } else {
        this.unexpected('label matching', 'identifier or "}"');
      }
      const n = this.peek();
      if (n.type === 'COMMA') {
        this.advance();
        continue;
      }
      if (n.type === 'RIGHT_BRACE') break;
      this.unexpected('label matching', '"," or "}"');
    }
    this.advance();
    return out;
  }

  private newMatcher(type: MatchType, name: string, value: string, range: PosRange): Matcher {
    try {
      return new Matcher(type, name, value);
    } catch (err) {
      this.addError(range, regexpErrorMessage(value, err));
      return new Matcher(MatchType.Equal, name, value);
    }
  }

  // --- calls and aggregations ---

  private parseCall(): Call {
    const nameTok = this.advance();
    const { args, end } = this.parseCallBody();
    const fn = getFunction(nameTok.val);
    if (fn === undefined) {
      this.addError(tokenRange(nameTok), `unknown function with name ${goQuote(nameTok.val)}`);
    } else if (fn.experimental && !this.opts.experimentalFunctions) {
      this.addError(tokenRange(nameTok), `function ${goQuote(nameTok.val)} is not enabled`);
    }
    return { type: 'Call', func: fn ?? UNKNOWN_FUNCTION, args, posRange: { start: nameTok.pos, end } };
  }

  private parseCallBody(): { args: Expr[]; end: number } {
    this.expect('LEFT_PAREN');
    const args: Expr[] = [];
    if (this.peek().type === 'RIGHT_PAREN') {
      this.advance();
      return { args, end: this.lastEnd };
    }
    for (;;) {
      args.push(this.parseBinary(0));
      const t = this.peek();
      if (t.type === 'COMMA') {
        this.advance();
        const n = this.peek();
        if (!canStartExpr(n.type)) {
          this.addError(tokenRange(t), 'trailing commas not allowed in function call args');
          if (n.type === 'RIGHT_PAREN') {
            this.advance();
            return { args, end: this.lastEnd };
          }
          this.unexpected();
        }
        continue;
      }
      if (t.type === 'RIGHT_PAREN') {
        this.advance();
        return { args, end: this.lastEnd };
      }
      this.unexpected();
    }
  }

  private parseAggregate(): AggregateExpr {
    const opTok = this.advance();
    let grouping: string[] = [];
    let without = false;
    let args: Expr[];
    let end: number;
    this.ctx.push({ context: 'aggregation', expected: '' });
    const leading = this.peek().type;
    if (leading === 'BY' || leading === 'WITHOUT') {
      this.advance();
      grouping = this.parseGroupingLabels();
      without = leading === 'WITHOUT';
      ({ args, end } = this.parseCallBody());
      this.ctx.pop();
    } else {
      ({ args, end } = this.parseCallBody());
      this.ctx.pop();
      const trailing = this.peek().type;
      if (trailing === 'BY' || trailing === 'WITHOUT') {
        this.advance();
        grouping = this.parseGroupingLabels();
        without = trailing === 'WITHOUT';
        end = this.lastEnd;
      }
    }
    const op = TOKEN_TEXT[opTok.type] as AggregateOp;
    const posRange = { start: opTok.pos, end };
    const node: AggregateExpr = { type: 'AggregateExpr', op, expr: zeroLiteral(), param: null, grouping, without, posRange };
    if (args.length === 0) {
      this.addError(posRange, 'no arguments for aggregate expression provided');
      return node;
    }
    let want = 1;
    if (op === 'topk' || op === 'bottomk' || op === 'count_values' || op === 'quantile' || op === 'limitk' || op === 'limit_ratio') {
      if (!this.opts.experimentalFunctions && (op === 'limitk' || op === 'limit_ratio')) {
        this.addError(posRange, `${op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions`);
        return node;
      }
      want = 2;
      node.param = args[0]!;
    }
    if (args.length !== want) {
      this.addError(posRange, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
      return node;
    }
    node.expr = args[want - 1]!;
    return node;
  }

  /** `( label, … )` after by/without/on/ignoring/group_left/group_right. */
  private parseGroupingLabels(): string[] {
    if (this.peek().type !== 'LEFT_PAREN') this.unexpected('grouping opts', '"("');
    this.advance();
    const labels: string[] = [];
    if (this.peek().type === 'RIGHT_PAREN') {
      this.advance();
      return labels;
    }
    for (;;) {
      const t = this.peek();
      if (GROUPING_LABEL_TOKENS.has(t.type)) {
        this.advance();
        labels.push(t.val);
      } else if (t.type === 'STRING') {
        this.advance();
        const v = this.unquote(t);
        if (v === '') this.addError(tokenRange(t), `invalid label name for grouping: ${goQuote(v)}`);
        labels.push(v);
      } else {
        this.unexpected('grouping opts', 'label');
      }
      const n = this.peek();
      if (n.type === 'COMMA') {
        this.advance();
        if (this.peek().type === 'RIGHT_PAREN') {
          this.advance();
          return labels;
        }
        continue;
      }
      if (n.type === 'RIGHT_PAREN') {
        this.advance();
        return labels;
      }
      this.unexpected('grouping opts', '"," or ")"');
    }
  }

  // --- binary operators ---

  private parseBinModifiers(): BinModifiers {
    const m: BinModifiers = {
      returnBool: false,
      card: 'one-to-one',
      on: false,
      labels: [],
      include: [],
      fillLHS: null,
      fillRHS: null,
    };
    if (this.peek().type === 'BOOL') {
      this.advance();
      m.returnBool = true;
    }
    const t = this.peek().type;
    if (t === 'ON' || t === 'IGNORING') {
      this.advance();
      m.labels = this.parseGroupingLabels();
      m.on = t === 'ON';
      const g = this.peek().type;
      if (g === 'GROUP_LEFT' || g === 'GROUP_RIGHT') {
        this.advance();
        m.card = g === 'GROUP_LEFT' ? 'many-to-one' : 'one-to-many';
        if (this.peek().type === 'LEFT_PAREN') m.include = this.parseGroupingLabels();
      }
    }
    const f = this.peek().type;
    if (f === 'FILL') {
      this.advance();
      m.fillLHS = m.fillRHS = this.parseFillValue();
    } else if (f === 'FILL_LEFT') {
      this.advance();
      m.fillLHS = this.parseFillValue();
      if (this.peek().type === 'FILL_RIGHT') {
        this.advance();
        m.fillRHS = this.parseFillValue();
      }
    } else if (f === 'FILL_RIGHT') {
      this.advance();
      m.fillRHS = this.parseFillValue();
      if (this.peek().type === 'FILL_LEFT') {
        this.advance();
        m.fillLHS = this.parseFillValue();
      }
    }
    return m;
  }

  private parseFillValue(): number {
    this.expect('LEFT_PAREN');
    let t = this.peek();
    let sign = 1;
    if (t.type === 'ADD' || t.type === 'SUB') {
      this.advance();
      if (t.type === 'SUB') sign = -1;
      t = this.peek();
    }
    if (!isNumberToken(t)) this.unexpected();
    this.advance();
    const v = sign * this.numberValue(t);
    this.expect('RIGHT_PAREN');
    return v;
  }

  private newBinary(lhs: Expr, opTok: Token, m: BinModifiers, rhs: Expr): BinaryExpr {
    const node: BinaryExpr = {
      type: 'BinaryExpr',
      op: TOKEN_TEXT[opTok.type] as BinaryOp,
      lhs,
      rhs,
      returnBool: m.returnBool,
      matching: {
        card: m.card,
        on: m.on,
        labels: m.labels,
        include: m.include,
        fill: { lhs: m.fillLHS, rhs: m.fillRHS },
      },
      posRange: { start: lhs.posRange.start, end: rhs.posRange.end },
    };
    if (!this.opts.binopFillModifiers && (m.fillLHS !== null || m.fillRHS !== null)) {
      this.addError(node.posRange, 'binop fill modifiers are experimental and not enabled');
    }
    return node;
  }

  // --- ranges, subqueries and modifiers ---

  private parseRangeOrSubquery(e: Expr): Expr {
    const lb = this.advance();
    const range = this.inContext('subquery or range selector', 'number, duration, step(), or range()', () =>
      this.parsePositiveDuration(),
    );
    const t = this.peek();
    if (t.type === 'RIGHT_BRACKET') {
      const rb = this.advance();
      return this.newMatrix(e, range, { start: lb.pos, end: rb.pos + 1 });
    }
    if (t.type !== 'COLON') this.unexpected('subquery or range', '":" or "]"');
    this.advance();
    let step: Expr | null = null;
    if (this.peek().type !== 'RIGHT_BRACKET') {
      step = this.inContext('subquery selector', 'number, duration, step(), range(), or "]"', () =>
        this.parsePositiveDuration(),
      );
      if (this.peek().type !== 'RIGHT_BRACKET') this.unexpected('subquery selector', '"]"');
    }
    const rb = this.advance();
    const sq: SubqueryExpr = {
      type: 'SubqueryExpr',
      expr: e,
      range: range.type === 'NumberLiteral' ? secondsToMs(range.val) : 0,
      rangeExpr: range.type === 'DurationExpr' ? range : null,
      step: step !== null && step.type === 'NumberLiteral' ? secondsToMs(step.val) : 0,
      stepExpr: step !== null && step.type === 'DurationExpr' ? step : null,
      offset: 0,
      offsetExpr: null,
      at: null,
      startOrEnd: null,
      posRange: { start: e.posRange.start, end: rb.pos + 1 },
    };
    return sq;
  }

  private newMatrix(e: Expr, range: Expr, bracketRange: PosRange): MatrixSelector {
    let msg = '';
    if (e.type !== 'VectorSelector') msg = 'ranges only allowed for vector selectors';
    else if (e.offset !== 0 || e.offsetExpr !== null) msg = 'no offset modifiers allowed before range';
    else if (e.at !== null || e.startOrEnd !== null) msg = 'no @ modifiers allowed before range';
    if (msg !== '') this.addError(bracketRange, msg);
    return {
      type: 'MatrixSelector',
      // Only a VectorSelector when no error was recorded; trees with errors are never returned.
      vectorSelector: e as VectorSelector,
      range: range.type === 'NumberLiteral' ? secondsToMs(range.val) : 0,
      rangeExpr: range.type === 'DurationExpr' ? range : null,
      posRange: { start: e.posRange.start, end: bracketRange.end },
    };
  }

  /** The selector or subquery that an offset or @ modifier applies to; records an error otherwise. */
  private modifierTarget(e: Expr, what: string): { target: VectorSelector | SubqueryExpr; holder: Expr } | null {
    if (e.type === 'VectorSelector' || e.type === 'SubqueryExpr') return { target: e, holder: e };
    if (e.type === 'MatrixSelector') {
      const vs = e.vectorSelector as Expr;
      if (vs.type !== 'VectorSelector') {
        this.addError(e.posRange, 'ranges only allowed for vector selectors');
        return null;
      }
      return { target: vs, holder: e };
    }
    this.addError(
      e.posRange,
      `${what} must be preceded by an instant vector selector or range vector selector or a subquery`,
    );
    return null;
  }

  private parseOffset(e: Expr): void {
    this.advance();
    const d = this.inContext('offset', 'number, duration, step(), or range()', () => this.parseOffsetDuration());
    const r = this.modifierTarget(e, 'offset modifier');
    if (r === null) return;
    const { target, holder } = r;
    if (target.offset !== 0 || target.offsetExpr !== null) {
      this.addError(e.posRange, 'offset may not be set multiple times');
    } else if (d.type === 'NumberLiteral') {
      target.offset = secondsToMs(d.val);
    } else {
      target.offsetExpr = d as DurationExpr;
    }
    holder.posRange.end = this.lastEnd;
  }

  private parseAt(e: Expr): void {
    this.advance();
    const at = this.inContext('@', 'timestamp', (): number | 'start' | 'end' => {
      let t = this.peek();
      if (t.type === 'START' || t.type === 'END') {
        this.advance();
        this.expect('LEFT_PAREN');
        this.expect('RIGHT_PAREN');
        return t.type === 'START' ? 'start' : 'end';
      }
      let sign = 1;
      if (t.type === 'ADD' || t.type === 'SUB') {
        this.advance();
        if (t.type === 'SUB') sign = -1;
        t = this.peek();
      }
      if (!isNumberToken(t)) this.unexpected();
      this.advance();
      return sign * this.numberValue(t);
    });
    if (typeof at === 'number' && (!Number.isFinite(at) || at >= 9223372036854775807 || at <= -9223372036854775808)) {
      this.addError(e.posRange, `timestamp out of bounds for @ modifier: ${formatFixed(at, 6)}`);
    }
    const r = this.modifierTarget(e, '@ modifier');
    if (r === null) return;
    const { target, holder } = r;
    if (target.at !== null || target.startOrEnd !== null) {
      this.addError(e.posRange, '@ <timestamp> may not be set multiple times');
      return;
    }
    if (typeof at === 'number') target.at = goRound(at * 1000);
    else target.startOrEnd = at;
    holder.posRange.end = this.lastEnd;
  }

  private setExtendedRange(e: Expr, kind: 'anchored' | 'smoothed'): void {
    if (!this.opts.extendedRangeSelectors) {
      this.addError(e.posRange, `${kind} modifier is experimental and not enabled`);
      return;
    }
    let vs: VectorSelector;
    if (e.type === 'VectorSelector') vs = e;
    else if (e.type === 'MatrixSelector') {
      const inner = e.vectorSelector as Expr;
      if (inner.type !== 'VectorSelector') return;
      vs = inner;
    } else if (e.type === 'SubqueryExpr') {
      this.addError(e.posRange, `${kind} modifier is not supported for subqueries`);
      return;
    } else {
      this.addError(e.posRange, `${kind} modifier not implemented`);
      return;
    }
    vs[kind] = true;
    if (vs.anchored && vs.smoothed) {
      this.addError(e.posRange, 'anchored and smoothed modifiers cannot be used together');
    }
  }
}

const REGEXP_REASONS: readonly (readonly [RegExp, string])[] = [
  [/unterminated group/i, 'missing closing )'],
  [/unmatched '\)'/i, 'unexpected )'],
  [/unterminated character class/i, 'missing closing ]'],
  [/nothing to repeat/i, 'missing argument to repetition operator'],
  [/out of order in \{\}/i, 'invalid repeat count'],
  [/range out of order/i, 'invalid character class range'],
  [/\\ at end of pattern/i, 'trailing backslash at end of expression'],
  [/invalid group/i, 'invalid or unsupported Perl syntax'],
  [/invalid escape/i, 'invalid escape sequence'],
];

/** An approximation of Go's regexp error text from a JavaScript RegExp SyntaxError. */
function regexpErrorMessage(source: string, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  for (const [re, reason] of REGEXP_REASONS) if (re.test(text)) return `error parsing regexp: ${reason}: \`${source}\``;
  return `error parsing regexp: ${text.replace(/^invalid regular expression [^:]*: /, '')}`;
}
