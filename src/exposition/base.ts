/**
 * State and accessors shared by the text-format and OpenMetrics parsers. A parser records where things
 * are on the current line (offsets into the input string, a few numbers per label) and only makes strings
 * when an accessor asks for them.
 */
import { METRIC_NAME, type Labels } from '../model/labels.js';
import {
  BACKSLASH,
  CR,
  detachString,
  floatError,
  internName,
  formatOpenMetricsFloat,
  isMetricChar,
  isMetricStart,
  LF,
  NUL,
  parseGoFloat,
  QUOTE,
  unescape,
  decodeBody,
} from './lex.js';
import {
  Entry,
  ExpositionError,
  type Exemplar,
  type ExpositionFormat,
  type ExpositionParser,
  type MetricType,
  type ParserOptions,
} from './types.js';

/** Suffixes a sample name may add to its family name, by family type ('' = the name itself). */
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['', '_total', '_created'],
  gauge: [''],
  histogram: ['', '_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['', '_bucket', '_gsum', '_gcount'],
  summary: ['', '_sum', '_count', '_created'],
  info: ['', '_info'],
  stateset: [''],
  unknown: [''],
};

/** Types whose samples have a `_created` companion in OpenMetrics. */
export function hasCreated(t: MetricType): boolean {
  return t === 'counter' || t === 'summary' || t === 'histogram';
}

/** Whether sample `name` belongs to family `fam` of type `t`; Prometheus also accepts `foo_total` / `foo_info` as the family name. */
export function belongsToFamily(name: string, fam: string, t: MetricType): boolean {
  let base = fam;
  if (t === 'counter' && fam.endsWith('_total')) base = fam.slice(0, -6);
  else if (t === 'info' && fam.endsWith('_info')) base = fam.slice(0, -5);
  if (!name.startsWith(base)) return false;
  const rest = name.length - base.length;
  for (const suffix of SUFFIXES[t]) if (suffix.length === rest && name.endsWith(suffix)) return true;
  return false;
}

/**
 * Whether `s` holds `t` at `at` (in range: the caller checked). A slice compared with === is about three
 * times faster than startsWith in V8 (a memory compare instead of a character loop); the slice is a
 * short-lived view, not a copy.
 */
export function textAt(s: string, at: number, t: string): boolean {
  return s.slice(at, at + t.length) === t;
}

/** Label sets up to this size use the quadratic algorithms below, which allocate nothing. */
const SMALL_LABEL_SET = 16;

/** Sorts a flat [name, value, ...] array by name in place. */
function sortPairs(a: string[]): void {
  if (a.length > 2 * SMALL_LABEL_SET) {
    const pairs: [string, string][] = [];
    for (let i = 0; i < a.length; i += 2) pairs.push([a[i]!, a[i + 1]!]);
    pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    for (let i = 0; i < pairs.length; i++) {
      a[2 * i] = pairs[i]![0];
      a[2 * i + 1] = pairs[i]![1];
    }
    return;
  }
  for (let i = 2; i < a.length; i += 2) {
    const n = a[i]!;
    const v = a[i + 1]!;
    let j = i - 2;
    while (j >= 0 && a[j]! > n) {
      a[j + 2] = a[j]!;
      a[j + 3] = a[j + 1]!;
      j -= 2;
    }
    a[j + 2] = n;
    a[j + 3] = v;
  }
}

const GOT_MAX = 24;

/** Characters that make up one word of a message's `got "..."`: names and numbers. */
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58 || c === 46 || c === 43 || c === 45;
}

export abstract class ParserBase implements ExpositionParser {
  abstract readonly format: ExpositionFormat;
  protected readonly s: string;
  protected readonly n: number;
  protected readonly badLines: Set<number> | null;
  protected readonly normalize: boolean;
  protected readonly skipCreated: boolean;

  protected pos = 0;
  /** Line of `pos`, and where that line starts (for columns). */
  protected lineNo = 1;
  protected lineStart = 0;
  protected failed: ExpositionError | null = null;
  protected finished = false;

  protected entry: Entry = Entry.EOF;
  protected entryLine = 1;
  protected entryStart = 0;
  /** End of the name and label block of a series (seriesKey). */
  protected keyEnd = 0;
  protected nameStart = -1;
  protected nameEnd = -1;
  protected nameEsc = false;
  protected nLabels = 0;
  /** Per label: name start, name end, value start, value end (quotes excluded). */
  protected spans = new Int32Array(64);
  /** Per label: bit 0 the name holds escapes, bit 1 the value does. */
  protected escs = new Uint8Array(16);
  protected val = 0;
  protected ts = 0;
  protected hasTs = false;
  protected textStart = 0;
  protected textEnd = 0;
  protected metaType: MetricType = 'unknown';
  /** Set by scanQuoted: the string just scanned holds a backslash. */
  protected lastEsc = false;
  /**
   * False after nextSeriesIfKey skipped the name and labels of a line: they are read (relexKey) only if
   * an accessor asks for them.
   */
  protected keyLexed = true;

  // The current family, named by the last metadata line: where its name is in the input (compared by
  // offsets, so metadata lines make no strings) and the name itself once somebody asks.
  private famNs = -1;
  private famNe = -1;
  private famEsc = false;
  private famNameCache: string | null = null;
  protected famType: MetricType = 'unknown';
  protected famStart = 0;
  protected famStartLine = 1;

  private nameCache: string | null = null;
  private typeCache: MetricType | null = null;

  constructor(body: string | Uint8Array, opts: ParserOptions = {}) {
    const d = decodeBody(body);
    this.s = d.text;
    this.n = d.text.length;
    this.badLines = d.badLines;
    this.normalize = opts.normalizeLeQuantile ?? true;
    this.skipCreated = opts.skipCreatedSeries ?? false;
  }

  abstract next(): Entry;

  line(): number {
    return this.entryLine;
  }

  // --- helpers for the subclasses -------------------------------------------------------------------

  /** Forgets the previous entry's details; `p` is where the new one starts. */
  protected beginEntry(p: number): void {
    this.entryStart = p;
    this.entryLine = this.lineNo;
    this.nameStart = -1;
    this.nameEnd = -1;
    this.nameEsc = false;
    this.nLabels = 0;
    this.hasTs = false;
    this.nameCache = null;
    this.typeCache = null;
    this.keyLexed = true;
  }

  /** Reads the name and labels of the current series line that nextSeriesIfKey skipped. */
  protected relexKey(): void {}

  private ensureKey(): void {
    if (this.keyLexed) return;
    this.keyLexed = true;
    this.relexKey();
  }

  nextSeriesIfKey(_key: string): boolean {
    return false;
  }

  metadataIs(family: string, value: string): boolean {
    const e = this.entry;
    if ((e !== Entry.Type && e !== Entry.Help && e !== Entry.Unit) || this.nameEsc) return false;
    const a = this.nameStart;
    if (this.nameEnd - a !== family.length || !textAt(this.s, a, family)) return false;
    if (e === Entry.Type) return this.metaType === value;
    // The text as written equals the value only if neither holds an escape (R === V without a backslash
    // in V means R has none, so it unescapes to itself).
    const b = this.textStart;
    return this.textEnd - b === value.length && textAt(this.s, b, value) && value.indexOf('\\') < 0;
  }

  /** Consumes a line break at `p` (which must be one). */
  protected newline(p: number): number {
    this.lineNo++;
    this.lineStart = p + 1;
    return p + 1;
  }

  /** Throws (and remembers, so later next() calls throw it again) an error at offset `at`. */
  protected fail(what: string, at: number): never {
    const col = at >= 0 && at >= this.lineStart ? at - this.lineStart + 1 : 0;
    this.failed = new ExpositionError(what, this.lineNo, col);
    throw this.failed;
  }

  /** A short quoted rendering of the input at `p` for messages: the word there, or one character. */
  protected got(p: number): string {
    if (p >= this.n) return 'end of input';
    const s = this.s;
    let e = p;
    while (e < this.n && e - p < GOT_MAX && isWordChar(s.charCodeAt(e))) e++;
    if (e === p) e = p + (s.codePointAt(p)! > 0xffff ? 2 : 1);
    return JSON.stringify(s.slice(p, e)) + (e - p >= GOT_MAX ? '…' : '');
  }

  /** Input text for messages, bounded. */
  protected excerpt(a: number, b: number): string {
    return b - a > GOT_MAX ? this.s.slice(a, a + GOT_MAX) + '…' : this.s.slice(a, b);
  }

  /** Input text for messages, bounded and quoted. */
  protected quoteForMessage(a: number, b: number): string {
    return JSON.stringify(this.excerpt(a, b));
  }

  /**
   * Scans a double-quoted string whose opening quote is at `p`; returns the offset after the closing
   * quote and sets lastEsc. `allowLF`: raw line breaks may occur inside (text-format quoted strings and
   * quoted names); `allowNUL`: NUL bytes may occur inside (label values, not names).
   */
  protected scanQuoted(p: number, what: string, allowLF: boolean, allowNUL: boolean): number {
    const s = this.s;
    const n = this.n;
    let esc = false;
    let i = p + 1;
    const line = this.lineNo;
    const lineStart = this.lineStart;
    for (;;) {
      if (i >= n) {
        // Report where the string started, not where the input ran out.
        this.lineNo = line;
        this.lineStart = lineStart;
        this.fail(`unterminated ${what}`, p);
      }
      const c = s.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        esc = true;
        // A backslash escapes any character except a line break.
        if (i + 1 >= n) {
          i++; // unterminated: reported at the top of the loop
          continue;
        }
        const d = s.charCodeAt(i + 1);
        if (d === LF) this.fail(`line break after a backslash in ${what}`, i);
        if (d === NUL && !allowNUL) this.fail(`NUL character in ${what}`, i + 1);
        i += 2;
        continue;
      }
      if (c === LF) {
        if (!allowLF) this.fail(`line break in ${what}`, i);
        this.newline(i);
      } else if (c === NUL && !allowNUL) {
        this.fail(`NUL character in ${what}`, i);
      }
      i++;
    }
    this.lastEsc = esc;
    return i + 1;
  }

  /** Records one label's spans (quotes excluded). */
  protected addLabel(ns: number, ne: number, nameEsc: boolean, vs: number, ve: number, valEsc: boolean): void {
    const k = this.nLabels;
    if ((k + 1) * 4 > this.spans.length) {
      const grown = new Int32Array(this.spans.length * 2);
      grown.set(this.spans);
      this.spans = grown;
      const e = new Uint8Array(this.escs.length * 2);
      e.set(this.escs);
      this.escs = e;
    }
    this.spans[k * 4] = ns;
    this.spans[k * 4 + 1] = ne;
    this.spans[k * 4 + 2] = vs;
    this.spans[k * 4 + 3] = ve;
    this.escs[k] = (nameEsc ? 1 : 0) | (valEsc ? 2 : 0);
    this.nLabels = k + 1;
  }

  /** Rejects empty names, repeated label names, and `__name__` given besides the metric name. */
  protected checkLabelNames(at: number): void {
    if (this.nameEnd === this.nameStart) this.fail('empty metric name', at);
    const k = this.nLabels;
    const sp = this.spans;
    const seen = k > SMALL_LABEL_SET ? new Set<string>() : null;
    for (let i = 0; i < k; i++) {
      const a = sp[i * 4]!;
      const b = sp[i * 4 + 1]!;
      if (a === b) this.fail('empty label name', a);
      if (b - a === 8 && this.s.startsWith(METRIC_NAME, a) && (this.escs[i]! & 1) === 0) {
        this.fail(`label name "__name__" repeats the metric name`, a);
      }
      if (seen !== null) {
        const name = this.labelName(i);
        if (seen.has(name)) this.fail(`duplicate label name ${JSON.stringify(name.slice(0, 80))}`, a);
        seen.add(name);
        continue;
      }
      for (let j = 0; j < i; j++) {
        if (this.sameLabelName(i, j)) this.fail(`duplicate label name ${JSON.stringify(this.labelName(i).slice(0, 80))}`, a);
      }
    }
  }

  private sameLabelName(i: number, j: number): boolean {
    const sp = this.spans;
    const e = this.escs;
    return this.sameSpan(sp[i * 4]!, sp[i * 4 + 1]!, (e[i]! & 1) !== 0, sp[j * 4]!, sp[j * 4 + 1]!, (e[j]! & 1) !== 0);
  }

  protected labelName(i: number): string {
    const t = this.s.slice(this.spans[i * 4]!, this.spans[i * 4 + 1]!);
    return (this.escs[i]! & 1) !== 0 ? unescape(t, true) : t;
  }

  protected labelValue(i: number): string {
    const t = this.s.slice(this.spans[i * 4 + 2]!, this.spans[i * 4 + 3]!);
    return (this.escs[i]! & 2) !== 0 ? unescape(t, true) : t;
  }

  /** Parses the number in s[a, b), failing with `what` in the message. */
  protected number(a: number, b: number, what: string): number {
    const v = parseGoFloat(this.s, a, b);
    if (v !== v && floatError !== '') {
      const q = this.quoteForMessage(a, b);
      const crlf = this.s.charCodeAt(b - 1) === CR ? ' (CRLF line endings are not allowed)' : '';
      this.fail(floatError === 'invalid number' ? `invalid ${what} ${q}${crlf}` : `${what} ${q}: ${floatError}`, a);
    }
    return v;
  }

  /**
   * A metadata line names a family (the current entry's name): a different name than the current
   * family's starts a new one.
   */
  protected enterFamily(): void {
    const ns = this.nameStart;
    const ne = this.nameEnd;
    if (this.famNs >= 0 && this.sameSpan(ns, ne, this.nameEsc, this.famNs, this.famNe, this.famEsc)) return;
    this.famNs = ns;
    this.famNe = ne;
    this.famEsc = this.nameEsc;
    this.famNameCache = null;
    this.famType = 'unknown';
    this.famStart = this.entryStart;
    this.famStartLine = this.entryLine;
  }

  /**
   * If the current family's name is written at `p` (and ends there), the offset after it, else -1. A TYPE
   * line after the HELP line of the same family is then read in one pass instead of a scan and a compare.
   */
  protected familyNameAt(p: number): number {
    const a = this.famNs;
    if (a < 0 || this.famEsc) return -1;
    const len = this.famNe - a;
    const s = this.s;
    const end = p + len;
    if (end > this.n || (end < this.n && isMetricChar(s.charCodeAt(end)))) return -1;
    for (let i = len - 1; i >= 0; i--) if (s.charCodeAt(p + i) !== s.charCodeAt(a + i)) return -1;
    return end;
  }

  /**
   * Reads the metric name of a HELP/TYPE/UNIT line starting at `p` (plain or quoted) into
   * nameStart/nameEnd/nameEsc; returns the offset just after it. `kw` names the line in errors.
   */
  protected metaName(p: number, kw: string): number {
    const s = this.s;
    const n = this.n;
    const c = p < n ? s.charCodeAt(p) : -1;
    if (c === QUOTE) {
      const ns = p + 1;
      p = this.scanQuoted(p, 'quoted metric name', true, false);
      this.nameStart = ns;
      this.nameEnd = p - 1;
      this.nameEsc = this.lastEsc;
      return p;
    }
    if (!isMetricStart(c)) this.fail(`expected a metric name after ${kw}, got ${this.got(p)}`, p);
    let ne = this.familyNameAt(p);
    if (ne < 0) {
      ne = p + 1;
      while (ne < n && isMetricChar(s.charCodeAt(ne))) ne++;
    }
    this.nameStart = p;
    this.nameEnd = ne;
    this.nameEsc = false;
    return ne;
  }

  /** The current family's name, or null before the first metadata line. */
  protected famName(): string | null {
    if (this.famNs < 0) return null;
    if (this.famNameCache === null) {
      const t = this.s.slice(this.famNs, this.famNe);
      this.famNameCache = this.famEsc ? unescape(t, true) : t;
    }
    return this.famNameCache;
  }

  /** Whether two name spans denote the same name (unescaping only when either holds escapes). */
  private sameSpan(a: number, b: number, escA: boolean, c: number, d: number, escC: boolean): boolean {
    const s = this.s;
    if (escA || escC) return unescape(s.slice(a, b), true) === unescape(s.slice(c, d), true);
    const len = b - a;
    if (len !== d - c) return false;
    // From the end: names of neighbouring families tend to share their beginnings.
    for (let i = len - 1; i >= 0; i--) if (s.charCodeAt(a + i) !== s.charCodeAt(c + i)) return false;
    return true;
  }

  /** After an entry: a line that held invalid UTF-8 is an error unless it was a text-format comment. */
  protected checkUtf8(entry: Entry): void {
    if (this.badLines === null || entry === Entry.Comment || entry === Entry.EOF) return;
    // The entry's last line: the one before `pos` when the entry consumed its line break.
    const last = this.pos > 0 && this.s.charCodeAt(this.pos - 1) === LF ? this.lineNo - 1 : this.lineNo;
    for (let l = this.entryLine; l <= last; l++) {
      if (this.badLines.has(l)) {
        this.lineNo = l;
        this.fail('invalid UTF-8', -1);
      }
    }
  }

  // --- accessors ------------------------------------------------------------------------------------

  metricName(): string {
    return this.entry === Entry.Comment || this.entry === Entry.EOF ? '' : detachString(this.rawName());
  }

  /** The metric name without detaching (for comparisons). */
  protected rawName(): string {
    this.ensureKey();
    if (this.nameCache === null) {
      const t = this.s.slice(this.nameStart, this.nameEnd);
      this.nameCache = this.nameEsc ? unescape(t, true) : t;
    }
    return this.nameCache;
  }

  seriesKey(): string {
    return this.entry === Entry.Series ? this.s.slice(this.entryStart, this.keyEnd) : '';
  }

  seriesKeyIs(key: string): boolean {
    const a = this.entryStart;
    return this.entry === Entry.Series && this.keyEnd - a === key.length && textAt(this.s, a, key);
  }

  labels(): Labels {
    if (this.entry !== Entry.Series) return Object.freeze([]) as Labels;
    this.ensureKey();
    const out: string[] = [METRIC_NAME, internName(this.rawName())];
    const t = this.normalize ? this.type() : 'unknown';
    for (let i = 0; i < this.nLabels; i++) {
      let v = this.labelValue(i);
      if (v === '') continue;
      const name = this.labelName(i);
      if ((t === 'histogram' && name === 'le') || (t === 'summary' && name === 'quantile')) {
        const f = parseGoFloat(v, 0, v.length);
        if (floatError === '') v = formatOpenMetricsFloat(f);
      }
      out.push(internName(name), detachString(v));
    }
    sortPairs(out);
    return Object.freeze(out);
  }

  value(): number {
    return this.entry === Entry.Series ? this.val : NaN;
  }

  timestamp(): number | null {
    return this.entry === Entry.Series && this.hasTs ? this.ts : null;
  }

  exemplar(): Exemplar | null {
    return null;
  }

  createdTimestamp(): number | null {
    return null;
  }

  type(): MetricType {
    switch (this.entry) {
      case Entry.Type:
        return this.metaType;
      case Entry.Help:
      case Entry.Unit:
        return this.famType;
      case Entry.Series:
        if (this.typeCache === null) {
          const f = this.famName();
          this.typeCache = f !== null && belongsToFamily(this.rawName(), f, this.famType) ? this.famType : 'unknown';
        }
        return this.typeCache;
      default:
        return 'unknown';
    }
  }

  familyName(): string {
    if (this.entry !== Entry.Series) return this.metricName();
    const f = this.famName();
    if (f !== null && belongsToFamily(this.rawName(), f, this.famType)) return detachString(f);
    return this.metricName();
  }

  help(): string {
    if (this.entry !== Entry.Help) return '';
    return detachString(unescape(this.s.slice(this.textStart, this.textEnd), this.format === 'openmetrics'));
  }

  unit(): string {
    return this.entry === Entry.Unit ? detachString(this.s.slice(this.textStart, this.textEnd)) : '';
  }

  comment(): string {
    return this.entry === Entry.Comment ? detachString(this.s.slice(this.textStart, this.textEnd)) : '';
  }
}
