/**
 * Small re-implementations of Go formatting and parsing behaviour that PromQL's observable output depends
 * on: string quoting (`%q`), rune descriptions (`%#U`), float formatting (`'f'`/`'g'`/`%f`), integer and
 * float literal parsing, and Prometheus duration strings. Written from the documented Go semantics.
 */

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrintRune(cp: number): boolean {
  if (cp === 0x20) return true;
  if (cp < 0x20 || cp === 0x7f) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function escapeRune(cp: number, quote: number): string {
  if (cp === quote || cp === 0x5c) return '\\' + String.fromCodePoint(cp);
  if (isPrintRune(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return '\\x' + hex(cp, 2);
  if (cp >= 0xdc80 && cp <= 0xdcff) return '\\x' + hex(cp - 0xdc00, 2);
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd';
  if (cp < 0x10000) return '\\u' + hex(cp, 4);
  return '\\U' + hex(cp, 8);
}

/** Go's strconv.Quote: a double-quoted string with Go escapes for non-printable runes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22);
  return out + '"';
}

/** Go's `%.Nq` for strings: quotes the first `n` runes. */
export function goQuotePrefix(s: string, n: number): string {
  return goQuote(Array.from(s).slice(0, n).join(''));
}

/** Go's `%q` for a rune; -1 (end of input) prints as the replacement character. */
export function goQuoteRune(cp: number): string {
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27) + "'";
}

/** Go's `%#U`: `U+0063 'c'` (the character only when printable). */
export function goRuneDesc(cp: number): string {
  const code = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
  return isPrintRune(cp) ? `${code} '${String.fromCodePoint(cp)}'` : code;
}

/** Number of UTF-8 bytes that encode `s` (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Go's math.Round: halves round away from zero. */
export function goRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Expands a JavaScript shortest-digits number string into plain positional notation. */
function toPlainDecimal(abs: number): string {
  const s = abs.toString();
  const e = s.indexOf('e');
  if (e < 0) return s;
  const mant = s.slice(0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mant.indexOf('.');
  const digits = mant.replace('.', '');
  const intLen = (dot < 0 ? mant.length : dot) + exp;
  if (intLen <= 0) return '0.' + '0'.repeat(-intLen) + digits;
  if (intLen >= digits.length) return digits + '0'.repeat(intLen - digits.length);
  return digits.slice(0, intLen) + '.' + digits.slice(intLen);
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
export function formatFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  return sign + toPlainDecimal(Math.abs(v));
}

/** Go's `%v` / strconv.FormatFloat(v, 'g', -1, 64): shortest digits, exponent when exp < -4 or >= 6. */
export function formatFloatG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const abs = Math.abs(v);
  if (abs === 0) return sign + '0';
  // Shortest digits and decimal exponent.
  const [mant, expStr] = abs.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const digits = mant.replace('.', '');
  if (exp < -4 || exp >= 6) {
    const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const ae = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' + ae : ae}`;
  }
  return sign + toPlainDecimal(abs);
}

/** Go's `%.Nf` (exact decimal expansion, no exponent even for huge values). */
export function formatFixed(v: number, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Math.abs(v) < 1e21) return v.toFixed(prec);
  const int = BigInt(v).toString();
  return prec > 0 ? `${int}.${'0'.repeat(prec)}` : int;
}

const INT64_MAX = (1n << 63n) - 1n;

/** Go's strconv.ParseInt(s, 0, 64) for an unsigned literal; null when it fails. */
function parseGoInt(s: string): bigint | null {
  let body = s;
  let radix = 10;
  if (/^0[xX]/.test(body)) {
    radix = 16;
    body = body.slice(2);
  } else if (/^0[oO]/.test(body)) {
    radix = 8;
    body = body.slice(2);
  } else if (/^0[bB]/.test(body)) {
    radix = 2;
    body = body.slice(2);
  } else if (body.length > 1 && body[0] === '0') {
    radix = 8;
    body = body.slice(1);
  }
  if (body.includes('_')) {
    if (!underscoreOK(s)) return null;
    body = body.replace(/_/g, '');
  }
  if (body === '') return null;
  const digitRe = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : radix === 2 ? /^[01]+$/ : /^[0-9]+$/;
  if (!digitRe.test(body)) return null;
  let n = 0n;
  const r = BigInt(radix);
  for (const ch of body) n = n * r + BigInt(parseInt(ch, radix));
  if (n > INT64_MAX) return null;
  return n;
}

/** Go's rule that underscores only separate digits (or follow a base prefix). */
function underscoreOK(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hexDigits = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1]!)) {
    i = 2;
    saw = '0';
    hexDigits = s[1] === 'x' || s[1] === 'X';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hexDigits && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

const DECIMAL_FLOAT = /^[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?$/;

/**
 * Parses a PromQL NUMBER token the way Prometheus does (integer literal first, then float literal).
 * Returns the value or a Go-style error message.
 */
export function parseNumberToken(s: string): { value: number } | { error: string } {
  const n = parseGoInt(s);
  if (n !== null) return { value: Number(n) };
  const lower = s.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return { value: Infinity };
  if (lower === 'nan') return { value: NaN };
  const syntax = { error: `strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax` };
  if (/^0[xX]/.test(s)) {
    // Hexadecimal floats need a binary exponent ('p'), which the lexer never produces.
    return syntax;
  }
  if (!DECIMAL_FLOAT.test(s) || !/[0-9]/.test(s)) return syntax;
  if (s.includes('_') && !underscoreOK(s)) return syntax;
  const v = Number(s.replace(/_/g, ''));
  if (Number.isNaN(v)) return syntax;
  if (!Number.isFinite(v)) return { error: `strconv.ParseFloat: parsing ${goQuote(s)}: value out of range` };
  return { value: v };
}

const DURATION_UNITS: Record<string, { pos: number; mult: bigint }> = {
  ms: { pos: 7, mult: 1_000_000n },
  s: { pos: 6, mult: 1_000_000_000n },
  m: { pos: 5, mult: 60_000_000_000n },
  h: { pos: 4, mult: 3_600_000_000_000n },
  d: { pos: 3, mult: 86_400_000_000_000n },
  w: { pos: 2, mult: 604_800_000_000_000n },
  y: { pos: 1, mult: 31_536_000_000_000_000n },
};

/**
 * Prometheus's model.ParseDuration: returns nanoseconds as a bigint, or an error message.
 * Units must appear from the largest to the smallest; a bare "0" is allowed.
 */
export function parsePromDuration(text: string): { ns: bigint } | { error: string } {
  if (text === '0') return { ns: 0n };
  if (text === '') return { error: 'empty duration string' };
  const invalid = { error: `not a valid duration string: ${goQuote(text)}` };
  let s = text;
  let total = 0n;
  let lastPos = 0;
  while (s !== '') {
    let i = 0;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
    if (i === 0) return invalid;
    const v = BigInt(s.slice(0, i));
    if (v > 0xffffffffffffffffn) return invalid;
    s = s.slice(i);
    let j = 0;
    while (j < s.length && !(s[j]! >= '0' && s[j]! <= '9')) j++;
    if (j === 0) return invalid;
    const u = s.slice(0, j);
    s = s.slice(j);
    const unit = DURATION_UNITS[u];
    if (unit === undefined) return { error: `unknown unit ${goQuote(u)} in duration ${goQuote(text)}` };
    if (unit.pos <= lastPos) return invalid;
    lastPos = unit.pos;
    if (v > (1n << 63n) / unit.mult) return { error: 'duration out of range' };
    total += v * unit.mult;
    if (total > INT64_MAX) return { error: 'duration out of range' };
  }
  return { ns: total };
}

/** Seconds of a nanosecond duration, computed like Go's time.Duration.Seconds(). */
export function nsToSeconds(ns: bigint): number {
  const sec = ns / 1_000_000_000n;
  const rest = ns % 1_000_000_000n;
  return Number(sec) + Number(rest) / 1e9;
}

const MS_UNITS: readonly (readonly [string, number, boolean])[] = [
  ['y', 31_536_000_000, true],
  ['w', 604_800_000, true],
  ['d', 86_400_000, false],
  ['h', 3_600_000, false],
  ['m', 60_000, false],
  ['s', 1000, false],
  ['ms', 1, false],
];

/**
 * Formats a duration given in milliseconds (fractions are truncated) the way Prometheus's
 * model.Duration prints: `1h30m`, `90d` (years and weeks only when exact), `0s` for zero.
 */
export function formatPromDuration(msIn: number): string {
  let ms = Math.trunc(msIn);
  if (ms === 0 || !Number.isFinite(ms)) return '0s';
  let sign = '';
  if (ms < 0) {
    sign = '-';
    ms = -ms;
  }
  let out = '';
  for (const [unit, mult, exact] of MS_UNITS) {
    if (exact && ms % mult !== 0) continue;
    const v = Math.floor(ms / mult);
    if (v > 0) {
      out += `${v}${unit}`;
      ms -= v * mult;
    }
  }
  return sign + out;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, "'": 0x27, '"': 0x22 };
const encoder = new TextEncoder();

/**
 * Decodes UTF-8 like Go reads a string: valid sequences become characters, and every byte that is not part
 * of one becomes the lone surrogate U+DC00+byte, so that printing (`goQuote`) can show it as `\xNN` again.
 */
export function decodeUtf8Lossless(bytes: readonly number[]): string {
  let out = '';
  let i = 0;
  const cont = (k: number): boolean => k < bytes.length && (bytes[k]! & 0xc0) === 0x80;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let cp = -1;
    let n = 1;
    if (b < 0x80) cp = b;
    else if (b >= 0xc2 && b <= 0xdf && cont(i + 1)) {
      cp = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
      n = 2;
    } else if (b >= 0xe0 && b <= 0xef && cont(i + 1) && cont(i + 2)) {
      const c = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) {
        cp = c;
        n = 3;
      }
    } else if (b >= 0xf0 && b <= 0xf4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const c =
        ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      if (c >= 0x10000 && c <= 0x10ffff) {
        cp = c;
        n = 4;
      }
    }
    if (cp < 0) {
      out += String.fromCharCode(0xdc00 + b);
      i += 1;
    } else {
      out += String.fromCodePoint(cp);
      i += n;
    }
  }
  return out;
}

/**
 * Decodes a PromQL string literal token (with its quotes) like Prometheus's strutil.Unquote: Go escapes in
 * '…' and "…", none in `…`. `\x` and octal escapes produce bytes; the resulting bytes are read as UTF-8
 * (bytes that are not valid UTF-8 are kept as lone surrogates, see decodeUtf8Lossless).
 * Returns null for malformed input.
 */
export function unquoteString(tok: string): string | null {
  if (tok.length < 2) return null;
  const q = tok[0]!;
  if (q !== tok[tok.length - 1] || (q !== '"' && q !== "'" && q !== '`')) return null;
  const body = tok.slice(1, -1);
  if (q === '`') return body.includes('`') ? null : body;
  if (!body.includes('\\')) return body.includes(q) || body.includes('\n') ? null : body;
  const bytes: number[] = [];
  let i = 0;
  const hexVal = (s: string, radix: number): number | null => {
    const re = radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/;
    return re.test(s) ? parseInt(s, radix) : null;
  };
  while (i < body.length) {
    const c = body[i]!;
    if (c === q || c === '\n') return null;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of encoder.encode(ch)) bytes.push(b);
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) return null;
    if (e in SIMPLE_ESCAPES) {
      if ((e === '"' || e === "'") && e !== q) return null;
      bytes.push(SIMPLE_ESCAPES[e]!);
      i += 2;
      continue;
    }
    let v: number | null;
    if (e >= '0' && e <= '7') {
      v = hexVal(body.slice(i + 1, i + 4), 8);
      if (v === null || body.slice(i + 1, i + 4).length !== 3 || v > 255) return null;
      bytes.push(v);
      i += 4;
      continue;
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) return null;
    const digits = body.slice(i + 2, i + 2 + width);
    v = digits.length === width ? hexVal(digits, 16) : null;
    if (v === null) return null;
    if (e === 'x') bytes.push(v);
    else {
      if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return null;
      for (const b of encoder.encode(String.fromCodePoint(v))) bytes.push(b);
    }
    i += 2 + width;
  }
  return decodeUtf8Lossless(bytes);
}
