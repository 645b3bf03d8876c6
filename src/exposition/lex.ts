/**
 * Character-level helpers shared by both parsers and the writer: character classes, Go-compatible number
 * parsing and printing, unescaping, and turning a response body into text while remembering which lines
 * held invalid UTF-8.
 */
import { Buffer, constants, isUtf8 } from 'node:buffer';
import { ExpositionError } from './types.js';

export const LF = 10;
export const CR = 13;
export const SP = 32;
export const TAB = 9;
export const NUL = 0;
export const HASH = 35;
export const QUOTE = 34;
export const BACKSLASH = 92;
export const LBRACE = 123;
export const RBRACE = 125;
export const COMMA = 44;
export const EQUALS = 61;

// Bit flags per ASCII code: 1 = may start a metric name, 2 = may continue one,
// 4 = may start a label name, 8 = may continue one. Non-ASCII never qualifies (names outside this set
// must be quoted).
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const digit = c >= 48 && c <= 57;
  const colon = c === 58;
  CLASS[c] = (alpha || colon ? 1 : 0) | (alpha || colon || digit ? 2 : 0) | (alpha ? 4 : 0) | (alpha || digit ? 8 : 0);
}

export function isMetricStart(c: number): boolean {
  return c < 128 && (CLASS[c]! & 1) !== 0;
}
export function isMetricChar(c: number): boolean {
  return c < 128 && (CLASS[c]! & 2) !== 0;
}
export function isLabelStart(c: number): boolean {
  return c < 128 && (CLASS[c]! & 4) !== 0;
}
export function isLabelChar(c: number): boolean {
  return c < 128 && (CLASS[c]! & 8) !== 0;
}

const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isLegacyMetricName(s: string): boolean {
  return LEGACY_METRIC.test(s);
}
export function isLegacyLabelName(s: string): boolean {
  return LEGACY_LABEL.test(s);
}

/**
 * Resolves the escapes of label values, quoted names and OpenMetrics HELP: `\\`, `\"` and `\n`; any other
 * backslash stays as written (Prometheus does the same). `quoteToo` false gives the text format's HELP
 * rules, where `\"` is left alone.
 */
export function unescape(s: string, quoteToo: boolean): string {
  let i = s.indexOf('\\');
  if (i < 0) return s;
  let out = s.slice(0, i);
  let from = i;
  while (i >= 0 && i + 1 < s.length) {
    const c = s.charCodeAt(i + 1);
    let rep: string | null = null;
    if (c === BACKSLASH) rep = '\\';
    else if (c === 110 /* n */) rep = '\n';
    else if (c === QUOTE && quoteToo) rep = '"';
    if (rep !== null) {
      out += s.slice(from, i) + rep;
      from = i + 2;
      i = s.indexOf('\\', from);
    } else {
      i = s.indexOf('\\', i + 1);
    }
  }
  return out + s.slice(from);
}

/**
 * A copy of `s` that does not keep its parent alive. V8 represents long substrings as views into the
 * whole string; a cache holding one would pin the entire scrape body. Concatenating and slicing forces a
 * fresh flat string of about the substring's own size.
 */
export function detachString(s: string): string {
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}

/**
 * Label and metric names repeat across the series of a target and across targets: names that a caller
 * keeps (the scrape cache keeps every series' labels) share one string per distinct name instead of one
 * per series, which takes heap objects off every full garbage collection. Bounded: once full, names are
 * only detached.
 */
const INTERN_MAX = 8192;
const interned = new Map<string, string>();

/** A detached copy of `s`, shared with earlier calls for the same name while the table has room. */
export function internName(s: string): string {
  const known = interned.get(s);
  if (known !== undefined) return known;
  const d = detachString(s);
  if (interned.size < INTERN_MAX) interned.set(d, d);
  return d;
}

/** Whether s holds `word` at `at` (a char loop: cheaper than startsWith for these few-letter words). */
export function wordAt(s: string, at: number, word: string): boolean {
  if (at + word.length > s.length) return false;
  for (let i = 0; i < word.length; i++) if (s.charCodeAt(at + i) !== word.charCodeAt(i)) return false;
  return true;
}

// --- numbers ---------------------------------------------------------------------------------------

function lowerAt(s: string, i: number): number {
  return s.charCodeAt(i) | 0x20;
}

function matchesWordCI(s: string, a: number, b: number, word: string): boolean {
  if (b - a !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (lowerAt(s, a + i) !== word.charCodeAt(i)) return false;
  return true;
}

/** Set by parseGoFloat when it fails: what was wrong. */
export let floatError = '';

// Powers of ten that are exact in a double.
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * Parses s[a, b) as Go's strconv.ParseFloat would under Prometheus's restriction (no hex, no `_`):
 * optional sign, decimal mantissa, optional exponent, or inf/infinity/nan in any case (nan unsigned).
 * Returns the value, or NaN with `floatError` set; a NaN result is genuine only if floatError is ''.
 */
export function parseGoFloat(s: string, a: number, b: number): number {
  floatError = '';
  let i = a;
  let neg = false;
  if (i < b) {
    const c0 = s.charCodeAt(i);
    if (c0 === 43 || c0 === 45) {
      neg = c0 === 45;
      i++;
    }
  }
  if (i >= b) return badFloat('invalid number');
  const c = s.charCodeAt(i);
  if (c === 105 || c === 73 || c === 110 || c === 78) {
    if (matchesWordCI(s, i, b, 'inf') || matchesWordCI(s, i, b, 'infinity')) return neg ? -Infinity : Infinity;
    if (i === a && matchesWordCI(s, i, b, 'nan')) return NaN;
    return badFloat('invalid number');
  }
  // Collect up to 15 significant digits (exact in a double) and the decimal exponent they need.
  let mant = 0;
  let nd = 0;
  let dp = 0;
  let digits = 0;
  let exact = true;
  for (; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    digits++;
    if (nd < 15) {
      mant = mant * 10 + d;
      if (mant !== 0) nd++;
    } else {
      exact = false; // more digits than a double holds exactly: let Number() round them
    }
  }
  if (i < b && s.charCodeAt(i) === 46) {
    for (i++; i < b; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      digits++;
      if (nd < 15) {
        mant = mant * 10 + d;
        if (mant !== 0) nd++;
        dp--;
      } else {
        exact = false;
      }
    }
  }
  if (digits === 0) return badFloat('invalid number');
  if (i < b && (s.charCodeAt(i) | 0x20) === 101) {
    i++;
    let eneg = false;
    if (i < b && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) eneg = s.charCodeAt(i++) === 45;
    let e = 0;
    const e0 = i;
    for (; i < b; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (e < 100000) e = e * 10 + d;
    }
    if (i === e0) return badFloat('invalid number');
    dp += eneg ? -e : e;
  }
  if (i !== b) {
    for (let k = a; k < b; k++) {
      const x = s.charCodeAt(k);
      if (x === 95 || x === 112 || x === 80) return badFloat('unsupported character in number');
    }
    return badFloat('invalid number');
  }
  // Both operands exact and one rounding step: the correctly rounded result (Clinger's fast path).
  if (exact && dp >= -22 && dp <= 22) {
    const v = mant === 0 ? 0 : dp >= 0 ? mant * POW10[dp]! : mant / POW10[-dp]!;
    return neg ? -v : v;
  }
  const v = Number(s.slice(a, b));
  // Go reports overflow as an error rather than rounding to infinity.
  if (v === Infinity || v === -Infinity) return badFloat('number out of range');
  return v;
}

function badFloat(why: string): number {
  floatError = why;
  return NaN;
}

const INT64_MAX = '9223372036854775807';

/** Digits only (the text format's timestamp): an int64 in range, as a number; NaN when out of range. */
export function parseDecimalInt64(s: string, a: number, b: number): number {
  while (a < b - 1 && s.charCodeAt(a) === 48) a++;
  const n = b - a;
  if (n <= 15) {
    let v = 0;
    for (let i = a; i < b; i++) v = v * 10 + (s.charCodeAt(i) - 48);
    return v;
  }
  const t = s.slice(a, b);
  if (n > 19 || (n === 19 && t > INT64_MAX)) return NaN;
  return Number(t);
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64): shortest digits, exponent form below 1e-4 and from 1e6. */
export function formatGoFloat(f: number): string {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const abs = Math.abs(f);
  const sign = f < 0 ? '-' : '';
  const [mant, expStr] = abs.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) {
    const ae = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  }
  // Inside [1e-4, 1e6) JavaScript prints the same shortest digits as a plain decimal.
  return sign + String(abs);
}

/** The text format's sample values (expfmt writeFloat): Go's %g. */
export function formatSampleValue(f: number): string {
  return formatGoFloat(f);
}

/** Prometheus's FormatOpenMetricsFloat: %g with `.0` added to integral values, for le/quantile labels. */
export function formatOpenMetricsFloat(f: number): string {
  const s = formatGoFloat(f);
  if (f !== f || f === Infinity || f === -Infinity) return s;
  return s.includes('.') || s.includes('e') ? s : s + '.0';
}

// --- bodies ----------------------------------------------------------------------------------------

export interface DecodedBody {
  text: string;
  /** 1-based line numbers that held bytes which are not UTF-8, or null when there were none. */
  badLines: Set<number> | null;
}

/**
 * UTF-8 bytes to text. Invalid sequences become U+FFFD, and their lines are remembered so the parsers
 * can reject them where Prometheus would (everywhere but text-format comments). No BOM is stripped: a BOM
 * is not a valid start of a line in either format.
 */
export function decodeBody(body: string | Uint8Array): DecodedBody {
  if (typeof body === 'string') return { text: body, badLines: null };
  // A JavaScript string cannot hold more; body_size_limit should stop such bodies long before this.
  if (body.byteLength > constants.MAX_STRING_LENGTH) {
    throw new ExpositionError(`response body of ${body.byteLength} bytes is too large to parse`, 0);
  }
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const text = buf.toString('utf8');
  if (isUtf8(buf)) return { text, badLines: null };
  return { text, badLines: invalidUtf8Lines(buf) };
}

function invalidUtf8Lines(b: Uint8Array): Set<number> {
  const bad = new Set<number>();
  let line = 1;
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c === LF) line++;
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else {
      bad.add(line);
      i++;
      continue;
    }
    let k = 1;
    for (; k <= need; k++) {
      const x = b[i + k];
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (x === undefined || x < min || x > max) break;
    }
    if (k <= need) {
      bad.add(line);
      i += k; // resume at the byte that broke the sequence (it may be a newline)
    } else {
      i += need + 1;
    }
  }
  return bad;
}
