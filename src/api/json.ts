/**
 * JSON the way Prometheus writes it (json-iterator with Go's standard-library settings), so responses match
 * byte for byte: HTML-safe string escaping, Go float formatting, millisecond timestamps as seconds, and
 * sample values as strings ("+Inf", "NaN", "-0").
 */
// Go's float formatting lives with the PromQL parser, which needs it first; the API shares it.
export { formatFloatF, formatFloatG } from '../promql/parser/goutil.js';

const HEX = '0123456789abcdef';

function needsEscape(s: string, html: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return true;
    if (html && (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029)) return true;
  }
  return false;
}

/**
 * A JSON string literal. `html` (json-iterator's standard-library mode, used for everything but label sets
 * in query results) also escapes `<`, `>`, `&`, U+2028 and U+2029; control characters other than \n, \r and
 * \t become `\u00XX` in both modes.
 */
export function quote(s: string, html = true): string {
  if (!needsEscape(s, html)) return '"' + s + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || (html && (c === 0x3c || c === 0x3e || c === 0x26))) esc = '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
    else if (html && c === 0x2028) esc = '\\u2028';
    else if (html && c === 0x2029) esc = '\\u2029';
    if (esc !== null) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

function special(f: number): string | null {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  return null;
}

/**
 * Prometheus's jsonutil.MarshalFloat text (without the quotes): 'f' format, but 'e' (two-digit exponent, as
 * Go prints it) below 1e-6 and from 1e21 on. JavaScript switches to exponents at exactly the same bounds.
 */
export function formatSampleValue(f: number): string {
  const sp = special(f);
  if (sp !== null) return sp;
  const s = String(f);
  if (s.indexOf('e') < 0) return s;
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** jsonutil.MarshalTimestamp: milliseconds as seconds, the fraction always three digits when present. */
export function formatTimestamp(t: number): string {
  let sign = '';
  if (t < 0) {
    sign = '-';
    t = -t;
  }
  const sec = Math.trunc(t / 1000);
  const frac = t - sec * 1000;
  if (frac === 0) return sign + sec;
  return sign + sec + '.' + (frac < 10 ? '00' : frac < 100 ? '0' : '') + frac;
}

/** A float64 as Go's encoding/json (and json-iterator) print it; the same text as JavaScript's. */
export function formatJSONNumber(f: number): string {
  if (!Number.isFinite(f)) throw new Error(`json: unsupported value: ${f}`);
  return String(f);
}

/** Marker for text that is already JSON (`goJSON` copies it verbatim). */
export class RawJSON {
  constructor(readonly text: string) {}
}

/**
 * Serialises plain values as Prometheus's encoder would: object keys in insertion order (build Go maps with
 * sorted keys), strings HTML-escaped, undefined properties omitted (`omitempty`).
 */
export function goJSON(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof RawJSON) return v.text;
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return formatJSONNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(goJSON).join(',') + ']';
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined) continue;
        parts.push(quote(k) + ':' + goJSON(x));
      }
      return '{' + parts.join(',') + '}';
    }
    default:
      throw new Error(`json: unsupported type ${typeof v}`);
  }
}

/** An object with its keys sorted as Go's encoder sorts map keys (by bytes). */
export function sortedMap<T>(m: Record<string, T> | Map<string, T>): Record<string, T> {
  const entries = m instanceof Map ? [...m.entries()] : Object.entries(m);
  entries.sort((a, b) => compareUtf8(a[0], b[0]));
  const out: Record<string, T> = {};
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** Orders strings by UTF-8 bytes (code points), as Go compares strings. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
