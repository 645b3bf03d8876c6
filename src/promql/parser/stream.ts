/**
 * The token stream under the parser: one-token (sometimes two-token) lookahead over the lexer, error
 * collection, and the stack of error contexts that decides how a syntax error is worded.
 */
import type { NumberLiteral, PosRange } from './ast.js';
import type { ParseErrorDetail } from './errors.js';
import { goQuote, goRound, nsToSeconds, parseNumberToken, parsePromDuration, unquoteString } from './goutil.js';
import { Lexer, tokenDesc, type Token, type TokenType } from './lexer.js';

export interface ParserOptions {
  /** Experimental functions and aggregations (`limitk`, `info`, `mad_over_time`, …). Default true. */
  experimentalFunctions?: boolean;
  /** Duration expressions (`[5m+1m]`, `offset (1h*2)`, `step()`, `min_of`, …). Default true. */
  durationExpressions?: boolean;
  /** `anchored` / `smoothed` range modifiers. Default true. */
  extendedRangeSelectors?: boolean;
  /** `fill(…)`, `fill_left(…)`, `fill_right(…)` binary-operator modifiers. Default true. */
  binopFillModifiers?: boolean;
}

/** Thrown internally to stop at the first syntax error (already recorded). */
export class Abort {}
export const ABORT = new Abort();

interface Context {
  context: string;
  expected: string;
}

export function tokenRange(t: Token): PosRange {
  return { start: t.pos, end: t.pos + t.val.length };
}

export function isNumberToken(t: Token): boolean {
  return t.type === 'NUMBER' || t.type === 'DURATION';
}

/** A duration in seconds is too large for Go's int64 nanoseconds. */
export function durationOutOfRange(seconds: number): boolean {
  return seconds > 9223372036.854775807 || seconds < -9223372036.854775808;
}

/** Seconds to milliseconds, rounded to whole nanoseconds as Prometheus does. */
export function secondsToMs(seconds: number): number {
  return goRound(seconds * 1e9) / 1e6;
}

export function zeroLiteral(): NumberLiteral {
  return { type: 'NumberLiteral', val: 0, duration: false, posRange: { start: 0, end: 0 } };
}

/** Deepest nesting accepted (parentheses, operands, sub-expressions), to keep recursion within the stack. */
export const MAX_NESTING = 1000;
export const NESTING_MESSAGE = `expression is nested too deeply (more than ${MAX_NESTING} levels)`;

export class TokenStream {
  readonly input: string;
  readonly errors: ParseErrorDetail[] = [];
  private readonly lexer: Lexer;
  private readonly buf: Token[] = [];
  protected lastEnd = 0;
  private depth = 0;
  protected readonly ctx: Context[] = [];
  protected readonly opts: Required<ParserOptions>;

  constructor(input: string, opts: ParserOptions = {}) {
    this.input = input;
    this.lexer = new Lexer(input);
    this.opts = {
      experimentalFunctions: opts.experimentalFunctions ?? true,
      durationExpressions: opts.durationExpressions ?? true,
      extendedRangeSelectors: opts.extendedRangeSelectors ?? true,
      binopFillModifiers: opts.binopFillModifiers ?? true,
    };
  }

  /** Enters one level of recursion; stops the parse when it is too deep. Pair with `leave()`. */
  protected enter(): void {
    if (++this.depth > MAX_NESTING) {
      this.errors.push({ posRange: tokenRange(this.peek()), message: NESTING_MESSAGE });
      throw ABORT;
    }
  }

  protected leave(): void {
    this.depth--;
  }

  protected run<T>(f: () => T | null): T | null {
    try {
      return f();
    } catch (e) {
      if (e === ABORT) return null;
      throw e;
    }
  }

  // --- tokens and errors ---

  private fetch(): Token {
    for (;;) {
      const t = this.lexer.nextToken();
      if (t.type === 'COMMENT') continue;
      if (t.type === 'ERROR') {
        this.errors.push({ posRange: { start: t.pos, end: this.input.length }, message: t.val });
        throw ABORT;
      }
      return t;
    }
  }

  protected peek(k = 0): Token {
    while (this.buf.length <= k) this.buf.push(this.fetch());
    return this.buf[k]!;
  }

  protected advance(): Token {
    const t = this.peek();
    this.buf.shift();
    this.lastEnd = t.pos + t.val.length;
    return t;
  }

  protected expect(type: TokenType): Token {
    if (this.peek().type !== type) this.unexpected();
    return this.advance();
  }

  addError(posRange: PosRange, message: string): void {
    this.errors.push({ posRange, message });
  }

  /** Records a syntax error for the next token, in the given or the innermost context, and stops. */
  protected unexpected(context?: string, expected?: string): never {
    const t = this.peek();
    const c = context !== undefined ? { context, expected: expected ?? '' } : this.ctx[this.ctx.length - 1];
    let msg = 'unexpected ' + tokenDesc(t);
    if (c !== undefined && c.context !== '') msg += ' in ' + c.context;
    if (c !== undefined && c.expected !== '') msg += ', expected ' + c.expected;
    this.errors.push({ posRange: tokenRange(t), message: msg });
    throw ABORT;
  }

  protected inContext<T>(context: string, expected: string, f: () => T): T {
    this.ctx.push({ context, expected });
    const r = f();
    this.ctx.pop();
    return r;
  }

  protected numberLiteral(t: Token): NumberLiteral {
    return { type: 'NumberLiteral', val: this.numberValue(t), duration: t.type === 'DURATION', posRange: tokenRange(t) };
  }

  /** The value in seconds of a NUMBER or DURATION token (errors are recorded, 0 returned). */
  protected numberValue(t: Token): number {
    if (t.type === 'DURATION') {
      const d = parsePromDuration(t.val);
      if ('error' in d) {
        this.addError(tokenRange(t), d.error);
        return 0;
      }
      return nsToSeconds(d.ns);
    }
    const n = parseNumberToken(t.val);
    if ('error' in n) {
      this.addError(tokenRange(t), `error parsing number: ${n.error}`);
      return 0;
    }
    return n.value;
  }

  protected unquote(t: Token): string {
    const s = unquoteString(t.val);
    if (s === null) {
      this.addError(tokenRange(t), `error unquoting string ${goQuote(t.val)}: invalid syntax`);
      return '';
    }
    return s;
  }
}
