/**
 * The Prometheus text exposition format 0.0.4 (and 1.0.0, which only adds quoted UTF-8 names), accepted
 * exactly as Prometheus's scraper accepts it: blanks and tabs between tokens, optional commas between
 * labels, blank lines, `#` comments, integer millisecond timestamps, no exemplars. A line break ends every
 * entry; `\r` is not whitespace, so CRLF input fails on the first sample (as it does in Prometheus).
 */
import { ParserBase, textAt } from './base.js';
import {
  COMMA,
  EQUALS,
  HASH,
  isLabelChar,
  isLabelStart,
  isMetricChar,
  isMetricStart,
  LBRACE,
  LF,
  NUL,
  parseDecimalInt64,
  QUOTE,
  RBRACE,
  SP,
  TAB,
  wordAt,
} from './lex.js';
import { Entry, type MetricType } from './types.js';

const TEXT_TYPES: readonly [string, MetricType][] = [
  ['counter', 'counter'],
  ['gauge', 'gauge'],
  ['histogram', 'histogram'],
  ['summary', 'summary'],
  ['untyped', 'unknown'],
];

/** The type named by s[a, b), without making a string of it. */
function textTypeAt(s: string, a: number, b: number): MetricType | null {
  for (let i = 0; i < TEXT_TYPES.length; i++) {
    const [word, t] = TEXT_TYPES[i]!;
    if (word.length === b - a && wordAt(s, a, word)) return t;
  }
  return null;
}

export class TextParser extends ParserBase {
  readonly format = 'text' as const;

  next(): Entry {
    if (this.failed !== null) throw this.failed;
    if (this.finished) return Entry.EOF;
    const s = this.s;
    const n = this.n;
    for (;;) {
      const p = this.skipWs(this.pos);
      if (p >= n) return this.end();
      const c = s.charCodeAt(p);
      if (c === LF) {
        this.pos = this.newline(p);
        continue;
      }
      // Prometheus's lexer treats a NUL where a line's first token belongs as the end of the input.
      if (c === NUL) return this.end();
      this.beginEntry(p);
      let e: Entry;
      if (c === HASH) e = this.hashLine(p);
      else if (c === LBRACE || isMetricStart(c)) e = this.sampleLine(p);
      else this.fail(`expected a metric name, "{" or "#" at the start of a line, got ${this.got(p)}`, p);
      if (this.badLines !== null) this.checkUtf8(e);
      this.entry = e;
      return e;
    }
  }

  private end(): Entry {
    this.finished = true;
    this.pos = this.n;
    this.entry = Entry.EOF;
    return Entry.EOF;
  }

  private skipWs(p: number): number {
    const s = this.s;
    const n = this.n;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c !== SP && c !== TAB) break;
      p++;
    }
    return p;
  }

  /** Past the line break at `p`, or at the end. */
  private endLine(p: number): void {
    this.pos = p < this.n ? this.newline(p) : p;
  }

  private sampleLine(p: number): Entry {
    p = this.lexKey(p);
    this.sampleRest(this.skipWs(p));
    return Entry.Series;
  }

  /** The metric name and label block of a series line starting at `p`; returns the offset after them. */
  private lexKey(p: number): number {
    const s = this.s;
    const n = this.n;
    if (s.charCodeAt(p) !== LBRACE) {
      this.nameStart = p++;
      while (p < n && isMetricChar(s.charCodeAt(p))) p++;
      this.nameEnd = p;
      this.keyEnd = p;
      p = this.skipWs(p);
      if (p < n && s.charCodeAt(p) === LBRACE) p = this.keyEnd = this.labelBlock(p);
      else p = this.keyEnd;
    } else {
      p = this.keyEnd = this.labelBlock(p);
      if (this.nameStart < 0) {
        this.fail('metric name missing: write it before "{" or as a quoted string inside the braces', this.entryStart);
      }
    }
    this.checkLabelNames(this.entryStart);
    return p;
  }

  /** The value, optional timestamp and line end of a series line; `p` is at the value. */
  private sampleRest(p: number): void {
    const s = this.s;
    const n = this.n;
    const vs = p;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === SP || c === TAB || c === LF || c === LBRACE || c === NUL) break;
      p++;
    }
    if (p === vs) this.fail(`expected a value after the metric, got ${this.got(p)}`, p);
    this.val = this.number(vs, p, 'sample value');
    p = this.skipWs(p);
    if (p < n && s.charCodeAt(p) !== LF) {
      const ts = p;
      while (p < n) {
        const c = s.charCodeAt(p);
        if (c < 48 || c > 57) break;
        p++;
      }
      if (p === ts) this.fail(`expected a timestamp (integer milliseconds) or the end of the line, got ${this.got(p)}`, p);
      const t = parseDecimalInt64(s, ts, p);
      if (t !== t) this.fail(`timestamp ${this.quoteForMessage(ts, p)} out of range`, ts);
      this.ts = t;
      this.hasTs = true;
      p = this.skipWs(p);
      if (p < n && s.charCodeAt(p) !== LF) this.fail(`expected the end of the line after the timestamp, got ${this.got(p)}`, p);
    }
    this.endLine(p);
  }

  /**
   * The line at the cursor starts with `key` and a blank: it is that series again, so only the value
   * and timestamp are read. Not taken when the input had invalid UTF-8 (lines are checked in next()) or
   * when a "{" follows the blank (`name {labels}` is a longer key than `name`).
   */
  override nextSeriesIfKey(key: string): boolean {
    if (this.failed !== null || this.finished || this.badLines !== null) return false;
    const s = this.s;
    const p = this.pos;
    const end = p + key.length;
    if (end >= this.n || !textAt(s, p, key)) return false;
    const c = s.charCodeAt(end);
    if (c !== SP && c !== TAB) return false;
    const q = this.skipWs(end);
    if (q < this.n && s.charCodeAt(q) === LBRACE) return false;
    this.beginEntry(p);
    this.keyEnd = end;
    this.keyLexed = false;
    this.sampleRest(q);
    this.entry = Entry.Series;
    return true;
  }

  protected override relexKey(): void {
    this.lexKey(this.entryStart);
  }

  /** `{...}` starting at `p`; returns the offset after `}`. */
  private labelBlock(p: number): number {
    const s = this.s;
    const n = this.n;
    p = this.skipWs(p + 1);
    for (;;) {
      if (p >= n) this.fail('unterminated label set: expected "}"', p);
      let c = s.charCodeAt(p);
      if (c === RBRACE) return p + 1;
      let ns = p;
      let ne: number;
      let esc = false;
      const quoted = c === QUOTE;
      if (isLabelStart(c)) {
        p++;
        while (p < n && isLabelChar(s.charCodeAt(p))) p++;
        ne = p;
      } else if (quoted) {
        ns = p + 1;
        p = this.scanQuoted(p, 'quoted name', true, false);
        ne = p - 1;
        esc = this.lastEsc;
      } else {
        this.fail(`expected a label name or "}", got ${this.got(p)}`, p);
      }
      p = this.skipWs(p);
      c = p < n ? s.charCodeAt(p) : -1;
      if (quoted && (c === COMMA || c === RBRACE)) {
        // A quoted string on its own is the metric name (Prometheus 3 UTF-8 names).
        if (this.nameStart >= 0) this.fail(`metric name given twice: ${this.quoteForMessage(ns, ne)}`, ns - 1);
        this.nameStart = ns;
        this.nameEnd = ne;
        this.nameEsc = esc;
        if (c === RBRACE) return p + 1;
        p = this.skipWs(p + 1);
        continue;
      }
      if (c !== EQUALS) this.fail(`expected "=" after label name ${this.quoteForMessage(ns, ne)}, got ${this.got(p)}`, p);
      p = this.skipWs(p + 1);
      if (p >= n || s.charCodeAt(p) !== QUOTE) {
        this.fail(`expected label value after ${JSON.stringify(this.excerpt(ns, ne) + '=')}, got ${this.got(p)}`, p);
      }
      const vs = p + 1;
      p = this.scanQuoted(p, 'label value', true, true);
      this.addLabel(ns, ne, esc, vs, p - 1, this.lastEsc);
      p = this.skipWs(p);
      if (p < n && s.charCodeAt(p) === COMMA) p = this.skipWs(p + 1);
    }
  }

  private hashLine(p: number): Entry {
    const s = this.s;
    const n = this.n;
    const c = p + 1 < n ? s.charCodeAt(p + 1) : -1;
    if (c === SP || c === TAB) {
      const q = this.skipWs(p + 1);
      const k = q < n ? s.charCodeAt(q) : -1;
      const kind = k === 72 && wordAt(s, q, 'HELP') ? Entry.Help : k === 84 && wordAt(s, q, 'TYPE') ? Entry.Type : Entry.Comment;
      const w = q + 4 < n ? s.charCodeAt(q + 4) : -1;
      if (kind !== Entry.Comment && (w === SP || w === TAB)) return this.metaLine(kind, this.skipWs(q + 4));
    }
    // Anything else after `#`, including `# HELP` without a name, is a comment.
    let e = s.indexOf('\n', p);
    if (e < 0) e = n;
    this.textStart = p;
    this.textEnd = e;
    this.endLine(e);
    return Entry.Comment;
  }

  private metaLine(kind: Entry.Help | Entry.Type, p: number): Entry {
    const s = this.s;
    const n = this.n;
    const kw = kind === Entry.Help ? 'HELP' : 'TYPE';
    p = this.metaName(p, kw);
    let e = s.indexOf('\n', p);
    if (e < 0) e = n;
    // The text is the rest of the line minus its first character (the separating blank), or empty when
    // only blanks follow the name.
    let blank = true;
    for (let i = p; i < e; i++) {
      const x = s.charCodeAt(i);
      if (x !== SP && x !== TAB) {
        blank = false;
        break;
      }
    }
    this.textStart = blank ? e : p + 1;
    this.textEnd = e;
    this.enterFamily();
    if (kind === Entry.Type) {
      const t = textTypeAt(s, this.textStart, e);
      if (t === null) this.fail(`invalid metric type ${this.quoteForMessage(this.textStart, e)}`, this.textStart);
      this.metaType = t;
      this.famType = t;
    }
    this.endLine(e);
    return kind;
  }
}
