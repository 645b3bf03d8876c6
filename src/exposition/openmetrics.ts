/**
 * OpenMetrics 1.0 text, accepted as Prometheus's scraper accepts it: single blanks between tokens, no
 * blank lines or free comments, HELP/TYPE/UNIT metadata, timestamps in (float) seconds, one optional
 * exemplar per sample, and a mandatory final `# EOF`. Like Prometheus, the family rules of the spec
 * (ordering, suffixes, bucket order) are not enforced; families are recognised only to give each sample
 * its type and its `_created` timestamp.
 */
import { labelsFromPairs } from '../model/labels.js';
import { belongsToFamily, hasCreated, ParserBase } from './base.js';
import {
  COMMA,
  detachString,
  EQUALS,
  HASH,
  isLabelChar,
  isLabelStart,
  isMetricChar,
  isMetricStart,
  LBRACE,
  LF,
  NUL,
  QUOTE,
  RBRACE,
  SP,
  TAB,
  wordAt,
} from './lex.js';
import { Entry, type Exemplar, type MetricType, type ParserOptions } from './types.js';

function omType(t: string): MetricType | null {
  switch (t) {
    case 'counter':
    case 'gauge':
    case 'histogram':
    case 'gaugehistogram':
    case 'summary':
    case 'info':
    case 'stateset':
    case 'unknown':
      return t;
    default:
      return null;
  }
}

/** The name of the `_created` samples of family `fam`. */
function createdName(fam: string, t: MetricType): string {
  return (t === 'counter' && fam.endsWith('_total') ? fam.slice(0, -6) : fam) + '_created';
}

const MISSING_EOF = 'unexpected end of input: an OpenMetrics exposition must end with "# EOF"';

export class OpenMetricsParser extends ParserBase {
  readonly format = 'openmetrics' as const;

  private hasEx = false;
  private exFirst = 0;
  private exCount = 0;
  private exVal = 0;
  private exTs = 0;
  private exHasTs = false;

  /** `_created` timestamps of the family starting at `createdFor`, keyed by createdKey(). */
  private created: Map<string, number> | null = null;
  private createdFor = -1;

  constructor(body: string | Uint8Array, opts: ParserOptions = {}) {
    super(body, opts);
  }

  next(): Entry {
    if (this.failed !== null) throw this.failed;
    if (this.finished) return Entry.EOF;
    for (;;) {
      const e = this.entryAt(this.pos);
      if (this.badLines !== null) this.checkUtf8(e);
      this.entry = e;
      if (e === Entry.Series && this.skipCreated && this.isCreatedSample()) continue;
      return e;
    }
  }

  private entryAt(p: number): Entry {
    const s = this.s;
    this.hasEx = false;
    if (p >= this.n) this.fail(MISSING_EOF, p);
    this.beginEntry(p);
    const c = s.charCodeAt(p);
    if (c === HASH) return this.hashLine(p);
    if (c === LBRACE || isMetricStart(c)) return this.sampleLine(p);
    if (c === LF) this.fail('empty line (OpenMetrics allows none)', p);
    if (c === SP || c === TAB) this.fail('whitespace at the start of a line', p);
    this.fail(`expected a metric name, "{" or "#" at the start of a line, got ${this.got(p)}`, p);
  }

  private hashLine(p: number): Entry {
    const s = this.s;
    const n = this.n;
    if (p + 1 >= n || s.charCodeAt(p + 1) !== SP) this.fail(`expected "# " and HELP, TYPE, UNIT or EOF, got ${this.got(p + 1)}`, p + 1);
    const q = p + 2;
    if (wordAt(s, q, 'EOF')) {
      let e = q + 3;
      if (e < n && s.charCodeAt(e) === LF) e = this.newline(e);
      if (e !== n) this.fail('unexpected data after "# EOF"', e);
      this.finished = true;
      this.pos = n;
      return Entry.EOF;
    }
    let kind: Entry.Help | Entry.Type | Entry.Unit | null = null;
    if (wordAt(s, q, 'HELP ')) kind = Entry.Help;
    else if (wordAt(s, q, 'TYPE ')) kind = Entry.Type;
    else if (wordAt(s, q, 'UNIT ')) kind = Entry.Unit;
    if (kind === null) {
      this.fail(`comments are not allowed in OpenMetrics: expected HELP, TYPE, UNIT or EOF after "# ", got ${this.got(q)}`, q);
    }
    return this.metaLine(kind, q + 5);
  }

  private metaLine(kind: Entry.Help | Entry.Type | Entry.Unit, p: number): Entry {
    const s = this.s;
    const n = this.n;
    const kw = kind === Entry.Help ? 'HELP' : kind === Entry.Type ? 'TYPE' : 'UNIT';
    p = this.metaName(p, kw);
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) !== SP) this.fail(`expected " " and the ${kw} text after the metric name, got ${this.got(p)}`, p);
    const e = s.indexOf('\n', p + 1);
    if (e < 0) this.fail(MISSING_EOF, n);
    this.textStart = p + 1;
    this.textEnd = e;
    this.enterFamily();
    if (kind === Entry.Type) {
      const text = s.slice(p + 1, e);
      const t = omType(text);
      if (t === null) this.fail(`invalid metric type ${JSON.stringify(text.slice(0, 40))}`, p + 1);
      this.metaType = t;
      this.famType = t;
    } else if (kind === Entry.Unit && e > p + 1) {
      const unit = s.slice(p + 1, e);
      const name = this.rawName();
      if (name.length <= unit.length || !name.endsWith('_' + unit)) {
        this.fail(`unit ${JSON.stringify(unit.slice(0, 40))} is not a suffix of metric ${JSON.stringify(name.slice(0, 80))}`, p + 1);
      }
    }
    this.pos = this.newline(e);
    return kind;
  }

  private sampleLine(p: number): Entry {
    const s = this.s;
    const n = this.n;
    if (s.charCodeAt(p) !== LBRACE) {
      this.nameStart = p++;
      while (p < n && isMetricChar(s.charCodeAt(p))) p++;
      this.nameEnd = p;
      if (p < n && s.charCodeAt(p) === LBRACE) p = this.labelBlock(p, false);
    } else {
      p = this.labelBlock(p, false);
      if (this.nameStart < 0) {
        this.fail('metric name missing: write it before "{" or as a quoted string inside the braces', this.entryStart);
      }
    }
    this.keyEnd = p;
    this.checkLabelNames(this.entryStart);
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) !== SP) this.fail(`expected " " and a value after the metric, got ${this.got(p)}`, p);
    let vs = ++p;
    p = this.token(p);
    if (p === vs) this.fail(`expected a value after the metric, got ${this.got(p)}`, p);
    this.val = this.number(vs, p, 'sample value');
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) === LF) {
      this.pos = this.newline(p);
      return Entry.Series;
    }
    if (s.startsWith(' # {', p)) return this.exemplarPart(p + 3);
    if (s.charCodeAt(p) !== SP) this.fail(`expected " " or the end of the line after the value, got ${this.got(p)}`, p);
    vs = ++p;
    p = this.token(p);
    if (p === vs) this.fail(`expected a timestamp after " ", got ${this.got(p)}`, p);
    this.ts = this.seconds(vs, p, 'timestamp');
    this.hasTs = true;
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) === LF) {
      this.pos = this.newline(p);
      return Entry.Series;
    }
    if (s.startsWith(' # {', p)) return this.exemplarPart(p + 3);
    this.fail(`expected an exemplar or the end of the line after the timestamp, got ${this.got(p)}`, p);
  }

  /** Offset after a run of characters that are not blank, line break or NUL. */
  private token(p: number): number {
    const s = this.s;
    const n = this.n;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === SP || c === LF || c === NUL) break;
      p++;
    }
    return p;
  }

  /** A float number of seconds in s[a, b) as integer milliseconds (truncated, as Prometheus does). */
  private seconds(a: number, b: number, what: string): number {
    const t = this.number(a, b, what);
    if (!Number.isFinite(t)) this.fail(`invalid ${what} ${this.quoteForMessage(a, b)}`, a);
    return Math.trunc(t * 1000) + 0;
  }

  /** The exemplar whose `{` is at `p`, to the end of the line. */
  private exemplarPart(p: number): Entry {
    const s = this.s;
    const n = this.n;
    const seriesLabels = this.nLabels;
    p = this.labelBlock(p, true);
    this.exFirst = seriesLabels;
    this.exCount = this.nLabels - seriesLabels;
    this.nLabels = seriesLabels;
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) !== SP) this.fail(`expected " " and a value after the exemplar labels, got ${this.got(p)}`, p);
    let vs = ++p;
    p = this.token(p);
    if (p === vs) this.fail(`expected an exemplar value, got ${this.got(p)}`, p);
    this.exVal = this.number(vs, p, 'exemplar value');
    this.exHasTs = false;
    if (p < n && s.charCodeAt(p) === SP) {
      vs = ++p;
      p = this.token(p);
      if (p === vs) this.fail(`expected an exemplar timestamp after " ", got ${this.got(p)}`, p);
      this.exTs = this.seconds(vs, p, 'exemplar timestamp');
      this.exHasTs = true;
    }
    if (p >= n) this.fail(MISSING_EOF, p);
    if (s.charCodeAt(p) !== LF) this.fail(`expected the end of the line after the exemplar, got ${this.got(p)}`, p);
    this.hasEx = true;
    this.pos = this.newline(p);
    return Entry.Series;
  }

  /** `{...}` at `p`; returns the offset after `}`. Exemplar label sets may not name a metric. */
  private labelBlock(p: number, exemplar: boolean): number {
    const s = this.s;
    const n = this.n;
    const what = exemplar ? 'exemplar label' : 'label';
    p++;
    for (;;) {
      if (p >= n) this.fail(MISSING_EOF, p);
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
        p = this.scanQuoted(p, exemplar ? 'exemplar label name' : 'quoted name', !exemplar, false);
        ne = p - 1;
        esc = this.lastEsc;
      } else {
        this.fail(`expected a ${what} name or "}", got ${this.got(p)}`, p);
      }
      c = p < n ? s.charCodeAt(p) : -1;
      if (quoted && (c === COMMA || c === RBRACE)) {
        if (exemplar) this.fail(`expected "=" after exemplar label name ${this.quoteForMessage(ns, ne)}, got ${this.got(p)}`, p);
        if (this.nameStart >= 0) this.fail(`metric name given twice: ${this.quoteForMessage(ns, ne)}`, ns - 1);
        this.nameStart = ns;
        this.nameEnd = ne;
        this.nameEsc = esc;
        p++;
        if (c === RBRACE) return p;
        continue;
      }
      if (c !== EQUALS) this.fail(`expected "=" after ${what} name ${this.quoteForMessage(ns, ne)}, got ${this.got(p)}`, p);
      p++;
      if (p >= n || s.charCodeAt(p) !== QUOTE) {
        this.fail(`expected ${what} value after ${JSON.stringify(this.excerpt(ns, ne) + '=')}, got ${this.got(p)}`, p);
      }
      const vs = p + 1;
      p = this.scanQuoted(p, `${what} value`, false, !exemplar);
      this.addLabel(ns, ne, esc, vs, p - 1, this.lastEsc);
      c = p < n ? s.charCodeAt(p) : -1;
      if (c === COMMA) p++;
      else if (c !== RBRACE) this.fail(`expected "," or "}" after a ${what} value, got ${this.got(p)}`, p);
    }
  }

  // --- exemplars and created timestamps ------------------------------------------------------------

  override exemplar(): Exemplar | null {
    if (this.entry !== Entry.Series || !this.hasEx) return null;
    const pairs: [string, string][] = [];
    for (let i = this.exFirst; i < this.exFirst + this.exCount; i++) {
      pairs.push([detachString(this.labelName(i)), detachString(this.labelValue(i))]);
    }
    return { labels: labelsFromPairs(pairs), value: this.exVal, timestamp: this.exHasTs ? this.exTs : null };
  }

  /** Whether the current sample is the `_created` sample of a counter, summary or histogram. */
  private isCreatedSample(): boolean {
    const t = this.type();
    return hasCreated(t) && this.rawName() === createdName(this.famName()!, t);
  }

  override createdTimestamp(): number | null {
    if (this.entry !== Entry.Series) return null;
    const t = this.type();
    if (!hasCreated(t) || this.isCreatedSample()) return null;
    if (this.created === null || this.createdFor !== this.famStart) {
      this.created = this.scanCreated();
      this.createdFor = this.famStart;
    }
    return this.created.get(this.createdKey(t)) ?? null;
  }

  /**
   * Identifies a sample's metric point: its labels without `le` (histograms) or `quantile` (summaries),
   * which is what its `_created` sample carries.
   */
  private createdKey(t: MetricType): string {
    const skip = t === 'histogram' ? 'le' : t === 'summary' ? 'quantile' : '';
    const pairs: string[] = [];
    for (let i = 0; i < this.nLabels; i++) {
      const name = this.labelName(i);
      const value = this.labelValue(i);
      if (name !== skip && value !== '') pairs.push(name + '\xff' + value);
    }
    return pairs.sort().join('\xfe');
  }

  /**
   * Reads the whole current family once (wherever its `_created` lines are, before or after the sample)
   * with a second cursor over the same text. Errors are left for the main cursor to report.
   */
  private scanCreated(): Map<string, number> {
    const out = new Map<string, number>();
    const fam = this.famName();
    if (fam === null) return out;
    const ft = this.famType;
    const want = createdName(fam, ft);
    const sub = new OpenMetricsParser(this.s, { normalizeLeQuantile: false });
    sub.pos = this.famStart;
    sub.lineNo = this.famStartLine;
    sub.lineStart = this.famStart;
    try {
      for (let e = sub.next(); e !== Entry.EOF; e = sub.next()) {
        if (e === Entry.Series) {
          const name = sub.rawName();
          if (!belongsToFamily(name, fam, ft)) break;
          if (name === want) out.set(sub.createdKey(ft), Math.trunc(sub.val * 1000) + 0);
        } else if (sub.famName() !== fam) {
          break;
        }
      }
    } catch {
      // The main cursor reaches the same error itself.
    }
    return out;
  }
}
