/**
 * The PromQL lexer: turns a query into tokens with the same boundaries, token kinds and error messages as
 * Prometheus's lexer. It is a small state machine (statements, inside braces, duration expression inside
 * brackets) that produces one token per call; positions are UTF-16 offsets into the input.
 */
import { goQuote, goQuotePrefix, goQuoteRune, goRuneDesc, utf8Length } from './goutil.js';

export type TokenType =
  // literals and structure
  | 'EOF'
  | 'ERROR'
  | 'COMMENT'
  | 'IDENTIFIER'
  | 'METRIC_IDENTIFIER'
  | 'STRING'
  | 'NUMBER'
  | 'DURATION'
  | 'LEFT_PAREN'
  | 'RIGHT_PAREN'
  | 'LEFT_BRACE'
  | 'RIGHT_BRACE'
  | 'LEFT_BRACKET'
  | 'RIGHT_BRACKET'
  | 'COMMA'
  | 'EQL'
  | 'COLON'
  // operators
  | 'ADD'
  | 'SUB'
  | 'MUL'
  | 'DIV'
  | 'MOD'
  | 'POW'
  | 'EQLC'
  | 'NEQ'
  | 'LTE'
  | 'LSS'
  | 'GTE'
  | 'GTR'
  | 'TRIM_UPPER'
  | 'TRIM_LOWER'
  | 'EQL_REGEX'
  | 'NEQ_REGEX'
  | 'LAND'
  | 'LOR'
  | 'LUNLESS'
  | 'AT'
  | 'ATAN2'
  // aggregators
  | 'AVG'
  | 'BOTTOMK'
  | 'COUNT'
  | 'COUNT_VALUES'
  | 'GROUP'
  | 'MAX'
  | 'MIN'
  | 'QUANTILE'
  | 'STDDEV'
  | 'STDVAR'
  | 'SUM'
  | 'TOPK'
  | 'LIMITK'
  | 'LIMIT_RATIO'
  // keywords
  | 'BOOL'
  | 'BY'
  | 'GROUP_LEFT'
  | 'GROUP_RIGHT'
  | 'FILL'
  | 'FILL_LEFT'
  | 'FILL_RIGHT'
  | 'IGNORING'
  | 'OFFSET'
  | 'SMOOTHED'
  | 'ANCHORED'
  | 'ON'
  | 'WITHOUT'
  // preprocessors
  | 'START'
  | 'END'
  | 'STEP'
  | 'RANGE'
  | 'MAX_OF'
  | 'MIN_OF';

export interface Token {
  type: TokenType;
  /** Offset of the first character (UTF-16 code units). */
  pos: number;
  /** The token's text (for ERROR tokens: the error message). */
  val: string;
}

const OPERATORS = new Set<TokenType>([
  'ADD', 'SUB', 'MUL', 'DIV', 'MOD', 'POW', 'EQLC', 'NEQ', 'LTE', 'LSS', 'GTE', 'GTR', 'TRIM_UPPER',
  'TRIM_LOWER', 'EQL_REGEX', 'NEQ_REGEX', 'LAND', 'LOR', 'LUNLESS', 'AT', 'ATAN2',
]);
export const AGGREGATORS = new Set<TokenType>([
  'AVG', 'BOTTOMK', 'COUNT', 'COUNT_VALUES', 'GROUP', 'MAX', 'MIN', 'QUANTILE', 'STDDEV', 'STDVAR', 'SUM',
  'TOPK', 'LIMITK', 'LIMIT_RATIO',
]);
const KEYWORDS = new Set<TokenType>([
  'BOOL', 'BY', 'GROUP_LEFT', 'GROUP_RIGHT', 'FILL', 'FILL_LEFT', 'FILL_RIGHT', 'IGNORING', 'OFFSET',
  'SMOOTHED', 'ANCHORED', 'ON', 'WITHOUT',
]);

/** Words with a meaning of their own (matched case-insensitively). */
export const KEYWORD_TOKENS: Readonly<Record<string, TokenType>> = {
  and: 'LAND',
  or: 'LOR',
  unless: 'LUNLESS',
  atan2: 'ATAN2',
  sum: 'SUM',
  avg: 'AVG',
  count: 'COUNT',
  min: 'MIN',
  max: 'MAX',
  group: 'GROUP',
  stddev: 'STDDEV',
  stdvar: 'STDVAR',
  topk: 'TOPK',
  bottomk: 'BOTTOMK',
  count_values: 'COUNT_VALUES',
  quantile: 'QUANTILE',
  limitk: 'LIMITK',
  limit_ratio: 'LIMIT_RATIO',
  offset: 'OFFSET',
  smoothed: 'SMOOTHED',
  anchored: 'ANCHORED',
  by: 'BY',
  without: 'WITHOUT',
  on: 'ON',
  ignoring: 'IGNORING',
  group_left: 'GROUP_LEFT',
  group_right: 'GROUP_RIGHT',
  fill: 'FILL',
  fill_left: 'FILL_LEFT',
  fill_right: 'FILL_RIGHT',
  bool: 'BOOL',
  start: 'START',
  end: 'END',
  step: 'STEP',
  range: 'RANGE',
  max_of: 'MAX_OF',
  min_of: 'MIN_OF',
  inf: 'NUMBER',
  nan: 'NUMBER',
};

/** Canonical text of token kinds that have one (keywords print in lower case). */
export const TOKEN_TEXT: Partial<Record<TokenType, string>> = {
  LEFT_PAREN: '(',
  RIGHT_PAREN: ')',
  LEFT_BRACE: '{',
  RIGHT_BRACE: '}',
  LEFT_BRACKET: '[',
  RIGHT_BRACKET: ']',
  COMMA: ',',
  EQL: '=',
  COLON: ':',
  SUB: '-',
  ADD: '+',
  MUL: '*',
  MOD: '%',
  DIV: '/',
  EQLC: '==',
  NEQ: '!=',
  LTE: '<=',
  LSS: '<',
  GTE: '>=',
  GTR: '>',
  TRIM_UPPER: '</',
  TRIM_LOWER: '>/',
  EQL_REGEX: '=~',
  NEQ_REGEX: '!~',
  POW: '^',
  AT: '@',
};
for (const [word, type] of Object.entries(KEYWORD_TOKENS)) if (type !== 'NUMBER') TOKEN_TEXT[type] = word;

const DURATION_KEYWORDS: Readonly<Record<string, TokenType>> = {
  step: 'STEP',
  range: 'RANGE',
  max_of: 'MAX_OF',
  min_of: 'MIN_OF',
};

/** How a token is shown in an "unexpected ..." message (Prometheus's Item.String). */
export function tokenString(t: Token): string {
  if (t.type === 'EOF') return 'EOF';
  if (t.type === 'ERROR') return t.val;
  if (t.type === 'IDENTIFIER' || t.type === 'METRIC_IDENTIFIER') return goQuote(t.val);
  if (KEYWORDS.has(t.type)) return `<${t.val}>`;
  if (OPERATORS.has(t.type)) return `<op:${t.val}>`;
  if (AGGREGATORS.has(t.type)) return `<aggr:${t.val}>`;
  if (utf8Length(t.val) > 10) return goQuotePrefix(t.val, 10) + '...';
  return goQuote(t.val);
}

const TYPE_DESC: Partial<Record<TokenType, string>> = {
  ERROR: 'error',
  EOF: 'end of input',
  COMMENT: 'comment',
  IDENTIFIER: 'identifier',
  METRIC_IDENTIFIER: 'metric identifier',
  STRING: 'string',
  NUMBER: 'number',
  DURATION: 'duration',
};

/** Description of a token for error messages (Prometheus's Item.desc). */
export function tokenDesc(t: Token): string {
  if (TOKEN_TEXT[t.type] !== undefined) return tokenString(t);
  if (t.type === 'EOF') return 'end of input';
  return `${TYPE_DESC[t.type] ?? t.type} ${tokenString(t)}`;
}

const EOF = -1;

function isSpace(r: number): boolean {
  return r === 0x20 || r === 0x09 || r === 0x0a || r === 0x0d;
}
function isDigit(r: number): boolean {
  return r >= 0x30 && r <= 0x39;
}
function isAlpha(r: number): boolean {
  return r === 0x5f || (r >= 0x61 && r <= 0x7a) || (r >= 0x41 && r <= 0x5a);
}
function isAlphaNumeric(r: number): boolean {
  return isAlpha(r) || isDigit(r);
}
function contains(set: string, r: number): boolean {
  return r >= 0 && r < 0x80 && set.includes(String.fromCharCode(r));
}
function digitVal(r: number): number {
  if (r >= 0x30 && r <= 0x39) return r - 0x30;
  if (r >= 0x61 && r <= 0x66) return r - 0x61 + 10;
  if (r >= 0x41 && r <= 0x46) return r - 0x41 + 10;
  return 16;
}

type State = 'statements' | 'duration' | 'done';

export class Lexer {
  readonly input: string;
  private pos = 0;
  private start = 0;
  private width = 0;
  private state: State = 'statements';
  private parenDepth = 0;
  private braceOpen = false;
  private bracketOpen = false;
  private gotColon = false;
  private gotDuration = false;
  private stringOpen = 0;
  private out: Token | null = null;

  constructor(input: string) {
    this.input = input;
  }

  /** Returns the next token; after an ERROR token only EOF tokens follow. */
  nextToken(): Token {
    this.out = null;
    while (this.out === null) {
      switch (this.state) {
        case 'done':
          this.emit('EOF');
          break;
        case 'statements':
          this.lexStatements();
          break;
        case 'duration':
          this.lexDurationExpr();
          break;
      }
    }
    return this.out;
  }

  // --- low-level reading ---

  private next(): number {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    const c = this.input.charCodeAt(this.pos);
    if (c >= 0xd800 && c <= 0xdbff && this.pos + 1 < this.input.length) {
      const d = this.input.charCodeAt(this.pos + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        this.width = 2;
        this.pos += 2;
        return (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
      }
    }
    this.width = 1;
    this.pos += 1;
    // Lone surrogates are the JavaScript analogue of invalid UTF-8.
    if (c >= 0xd800 && c <= 0xdfff) return 0xfffd;
    return c;
  }

  private peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  private backup(): void {
    this.pos -= this.width;
  }

  private accept(valid: string): boolean {
    if (contains(valid, this.next())) return true;
    this.backup();
    return false;
  }

  private is(valid: string): boolean {
    return contains(valid, this.peek());
  }

  private acceptRun(valid: string): void {
    while (contains(valid, this.next()));
    this.backup();
  }

  private emit(type: TokenType): void {
    this.out = { type, pos: this.start, val: this.input.slice(this.start, this.pos) };
    this.start = this.pos;
  }

  private ignore(): void {
    this.start = this.pos;
  }

  private errorf(msg: string): void {
    this.out = { type: 'ERROR', pos: this.start, val: msg };
    this.state = 'done';
  }

  private skipSpaces(): void {
    while (isSpace(this.peek())) this.next();
    this.ignore();
  }

  // --- states ---

  private lexStatements(): void {
    if (this.braceOpen) {
      this.lexInsideBraces();
      return;
    }
    if (this.input.startsWith('#', this.pos)) {
      this.lexLineComment();
      return;
    }
    const r = this.next();
    if (r === EOF) {
      if (this.parenDepth !== 0) return this.errorf('unclosed left parenthesis');
      if (this.bracketOpen) return this.errorf('unclosed left bracket');
      this.emit('EOF');
      this.state = 'done';
      return;
    }
    if (isSpace(r)) {
      this.skipSpaces();
      return;
    }
    switch (r) {
      case 0x2c: // ,
        return this.emit('COMMA');
      case 0x2a: // *
        return this.emit('MUL');
      case 0x2f: // /
        return this.emit('DIV');
      case 0x25: // %
        return this.emit('MOD');
      case 0x2b: // +
        return this.emit('ADD');
      case 0x2d: // -
        return this.emit('SUB');
      case 0x5e: // ^
        return this.emit('POW');
      case 0x3d: {
        // =
        const t = this.peek();
        if (t === 0x3d) {
          this.next();
          return this.emit('EQLC');
        }
        if (t === 0x7e) return this.errorf(`unexpected character after '=': ${goQuoteRune(t)}`);
        return this.emit('EQL');
      }
      case 0x21: {
        // !
        const t = this.next();
        if (t !== 0x3d) return this.errorf(`unexpected character after '!': ${goQuoteRune(t)}`);
        return this.emit('NEQ');
      }
      case 0x3c: // <
        if (this.peek() === 0x3d) {
          this.next();
          return this.emit('LTE');
        }
        if (this.peek() === 0x2f) {
          this.next();
          return this.emit('TRIM_UPPER');
        }
        return this.emit('LSS');
      case 0x3e: // >
        if (this.peek() === 0x3d) {
          this.next();
          return this.emit('GTE');
        }
        if (this.peek() === 0x2f) {
          this.next();
          return this.emit('TRIM_LOWER');
        }
        return this.emit('GTR');
    }
    if (isDigit(r) || (r === 0x2e && isDigit(this.peek()))) {
      this.backup();
      this.lexNumberOrDuration();
      return;
    }
    if (r === 0x22 || r === 0x27) {
      this.stringOpen = r;
      this.lexString();
      return;
    }
    if (r === 0x60) {
      this.stringOpen = r;
      this.lexRawString();
      return;
    }
    if (isAlpha(r) || r === 0x3a) {
      if (!this.bracketOpen) {
        this.backup();
        this.lexKeywordOrIdentifier();
        return;
      }
      if (r === 0x3a) {
        if (this.gotColon) return this.errorf(`unexpected colon ${goQuoteRune(r)}`);
        this.emit('COLON');
        this.gotColon = true;
        return;
      }
      if (this.isDurationKeywordStart(r) && this.scanDurationKeyword()) return;
      return this.errorf(`unexpected character: ${goQuoteRune(r)}, expected ${goQuoteRune(0x3a)}`);
    }
    switch (r) {
      case 0x28: // (
        this.emit('LEFT_PAREN');
        this.parenDepth++;
        return;
      case 0x29: // )
        this.emit('RIGHT_PAREN');
        this.parenDepth--;
        if (this.parenDepth < 0) this.errorf(`unexpected right parenthesis ${goQuoteRune(r)}`);
        return;
      case 0x7b: // {
        this.emit('LEFT_BRACE');
        this.braceOpen = true;
        return;
      case 0x5b: // [
        if (this.bracketOpen) return this.errorf(`unexpected left bracket ${goQuoteRune(r)}`);
        this.gotColon = false;
        this.emit('LEFT_BRACKET');
        if (isSpace(this.peek())) this.skipSpaces();
        this.bracketOpen = true;
        this.state = 'duration';
        return;
      case 0x5d: // ]
        if (!this.bracketOpen) return this.errorf(`unexpected right bracket ${goQuoteRune(r)}`);
        this.emit('RIGHT_BRACKET');
        this.bracketOpen = false;
        return;
      case 0x40: // @
        return this.emit('AT');
    }
    this.errorf(`unexpected character: ${goQuoteRune(r)}`);
  }

  private lexInsideBraces(): void {
    if (this.input.startsWith('#', this.pos)) {
      this.lexLineComment();
      return;
    }
    const r = this.next();
    if (r === EOF) return this.errorf('unexpected end of input inside braces');
    if (isSpace(r)) {
      this.skipSpaces();
      return;
    }
    if (isAlpha(r)) {
      while (isAlphaNumeric(this.next()));
      this.backup();
      return this.emit('IDENTIFIER');
    }
    switch (r) {
      case 0x2c:
        return this.emit('COMMA');
      case 0x22:
      case 0x27:
        this.stringOpen = r;
        return this.lexString();
      case 0x60:
        this.stringOpen = r;
        return this.lexRawString();
      case 0x3d: // =
        if (this.next() === 0x7e) return this.emit('EQL_REGEX');
        this.backup();
        return this.emit('EQL');
      case 0x21: {
        const nr = this.next();
        if (nr === 0x7e) return this.emit('NEQ_REGEX');
        if (nr === 0x3d) return this.emit('NEQ');
        return this.errorf(`unexpected character after '!' inside braces: ${goQuoteRune(nr)}`);
      }
      case 0x7b:
        return this.errorf(`unexpected left brace ${goQuoteRune(r)}`);
      case 0x7d:
        this.emit('RIGHT_BRACE');
        this.braceOpen = false;
        return;
    }
    this.errorf(`unexpected character inside braces: ${goQuoteRune(r)}`);
  }

  private lexDurationExpr(): void {
    const r = this.next();
    if (r === EOF) return this.errorf('unexpected end of input in duration expression');
    if (isSpace(r)) {
      this.skipSpaces();
      return;
    }
    switch (r) {
      case 0x5d: // ]
        this.emit('RIGHT_BRACKET');
        this.bracketOpen = false;
        this.gotColon = false;
        this.state = 'statements';
        return;
      case 0x3a: // :
        this.emit('COLON');
        if (!this.gotDuration) return this.errorf('unexpected colon before duration in duration expression');
        if (this.gotColon) return this.errorf('unexpected repeated colon in duration expression');
        this.gotColon = true;
        return;
      case 0x28:
        this.emit('LEFT_PAREN');
        this.parenDepth++;
        return;
      case 0x29:
        this.emit('RIGHT_PAREN');
        this.parenDepth--;
        if (this.parenDepth < 0) this.errorf(`unexpected right parenthesis ${goQuoteRune(r)}`);
        return;
      case 0x2b:
        return this.emit('ADD');
      case 0x2d:
        return this.emit('SUB');
      case 0x2a:
        return this.emit('MUL');
      case 0x2f:
        return this.emit('DIV');
      case 0x25:
        return this.emit('MOD');
      case 0x5e:
        return this.emit('POW');
      case 0x2c:
        return this.emit('COMMA');
    }
    if (this.isDurationKeywordStart(r)) {
      if (this.scanDurationKeyword()) return;
      return this.errorf(`unexpected character in duration expression: ${goQuoteRune(r)}`);
    }
    if (isDigit(r) || (r === 0x2e && isDigit(this.peek()))) {
      this.backup();
      this.gotDuration = true;
      this.state = 'statements';
      this.lexNumberOrDuration();
      return;
    }
    this.errorf(`unexpected character in duration expression: ${goQuoteRune(r)}`);
  }

  private isDurationKeywordStart(r: number): boolean {
    const c = r >= 0 && r <= 0x7f ? String.fromCharCode(r).toLowerCase() : '';
    return c === 's' || c === 'r' || c === 'm';
  }

  private scanDurationKeyword(): boolean {
    while (isAlpha(this.next()));
    this.backup();
    const word = this.input.slice(this.start, this.pos).toLowerCase();
    const tok = Object.hasOwn(DURATION_KEYWORDS, word) ? DURATION_KEYWORDS[word] : undefined;
    if (tok === undefined) return false;
    this.emit(tok);
    return true;
  }

  private lexLineComment(): void {
    this.pos += 1;
    let r = this.next();
    while (r !== 0x0a && r !== 0x0d && r !== EOF) r = this.next();
    this.backup();
    this.emit('COMMENT');
  }

  private lexEscape(): boolean {
    let ch = this.next();
    let n: number;
    let base: number;
    let max: number;
    switch (ch) {
      case 0x61:
      case 0x62:
      case 0x66:
      case 0x6e:
      case 0x72:
      case 0x74:
      case 0x76:
      case 0x5c:
      case this.stringOpen:
        return true;
      case 0x30:
      case 0x31:
      case 0x32:
      case 0x33:
      case 0x34:
      case 0x35:
      case 0x36:
      case 0x37:
        n = 3;
        base = 8;
        max = 255;
        break;
      case 0x78: // x
        ch = this.next();
        n = 2;
        base = 16;
        max = 255;
        break;
      case 0x75: // u
        ch = this.next();
        n = 4;
        base = 16;
        max = 0x10ffff;
        break;
      case 0x55: // U
        ch = this.next();
        n = 8;
        base = 16;
        max = 0x10ffff;
        break;
      case EOF:
        this.errorf('escape sequence not terminated');
        return false;
      default:
        this.errorf(`unknown escape sequence ${goRuneDesc(ch)}`);
        return false;
    }
    let x = 0;
    while (n > 0) {
      const d = digitVal(ch);
      if (d >= base) {
        if (ch === EOF) this.errorf('escape sequence not terminated');
        else this.errorf(`illegal character ${goRuneDesc(ch)} in escape sequence`);
        return false;
      }
      x = x * base + d;
      n--;
      if (n > 0) ch = this.next();
    }
    if (x > max || (x >= 0xd800 && x < 0xe000)) {
      this.errorf('escape sequence is an invalid Unicode code point');
      return false;
    }
    return true;
  }

  private lexString(): void {
    for (;;) {
      const r = this.next();
      if (r === 0x5c) {
        if (!this.lexEscape()) return;
        continue;
      }
      if (r === 0xfffd) return this.errorf('invalid UTF-8 rune');
      if (r === EOF || r === 0x0a) return this.errorf('unterminated quoted string');
      if (r === this.stringOpen) break;
    }
    this.emit('STRING');
  }

  private lexRawString(): void {
    for (;;) {
      const r = this.next();
      if (r === 0xfffd) return this.errorf('invalid UTF-8 rune');
      if (r === EOF) return this.errorf('unterminated raw string');
      if (r === this.stringOpen) break;
    }
    this.emit('STRING');
  }

  private lexNumberOrDuration(): void {
    if (this.scanNumber()) return this.emit('NUMBER');
    if (this.acceptRemainingDuration()) {
      this.backup();
      return this.emit('DURATION');
    }
    this.errorf(`bad number or duration syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
  }

  private acceptRemainingDuration(): boolean {
    if (!this.accept('smhdwy')) return false;
    this.accept('s');
    while (this.accept('0123456789')) {
      while (this.accept('0123456789'));
      if (!this.accept('smhdw')) return false;
      this.accept('s');
    }
    return !isAlphaNumeric(this.next());
  }

  private scanNumber(): boolean {
    const initial = this.pos;
    let digits = '0123456789';
    if (this.accept('0') && this.accept('xX')) {
      this.accept('_');
      digits = '0123456789abcdefABCDEF';
    }
    const isHex = digits.length > 10;
    this.accept('.');
    this.accept(digits);
    let dotConsumed = false;
    let expConsumed = false;
    while (this.is(digits + '._eE')) {
      if (this.is('.') && dotConsumed) {
        this.accept('.');
        return false;
      }
      if (this.is('eE') && expConsumed) {
        this.accept('eE');
        return false;
      }
      if (this.accept('.')) {
        dotConsumed = true;
        if (this.accept('_.')) return false;
        if (isHex) return false;
        continue;
      }
      if (this.accept('eE')) {
        expConsumed = true;
        this.accept('+-');
        if (this.accept('._eE') || this.peek() === EOF) return false;
        continue;
      }
      if (this.accept('_')) {
        if (this.accept('._eE') || this.peek() === EOF) return false;
        continue;
      }
      this.acceptRun(digits);
    }
    if (this.pos === initial) return false;
    return !isAlphaNumeric(this.peek());
  }

  private lexKeywordOrIdentifier(): void {
    for (;;) {
      const r = this.next();
      if (isAlphaNumeric(r) || r === 0x3a) continue;
      this.backup();
      break;
    }
    const word = this.input.slice(this.start, this.pos);
    const lower = word.toLowerCase();
    const kw = Object.hasOwn(KEYWORD_TOKENS, lower) ? KEYWORD_TOKENS[lower] : undefined;
    if (kw !== undefined) {
      // fill modifiers are keywords only when an opening parenthesis follows.
      if ((kw === 'FILL' || kw === 'FILL_LEFT' || kw === 'FILL_RIGHT') && !this.followedByLeftParen()) {
        return this.emit('IDENTIFIER');
      }
      return this.emit(kw);
    }
    this.emit(word.includes(':') ? 'METRIC_IDENTIFIER' : 'IDENTIFIER');
  }

  private followedByLeftParen(): boolean {
    for (let i = this.pos; i < this.input.length; i++) {
      const c = this.input.charCodeAt(i);
      if (!isSpace(c)) return c === 0x28;
    }
    return false;
  }
}
