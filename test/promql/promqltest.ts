/**
 * An interpreter for Prometheus's PromQL test-script language (`../shared/testdata/promqltest/FORMAT.md`):
 * `load`/`clear`/`eval*` commands with `expect` lines, run against our engine over the real in-memory head.
 * Each eval ends as passed, failed (with the reason) or skipped (with the unsupported feature it needs:
 * native histograms, which our storage cannot hold yet, or start timestamps). An eval is skipped for
 * native histograms when its expected result is one, or when a query of it meets a histogram sample (the
 * engine then fails with its "not supported" error).
 */
import { readFileSync } from 'node:fs';
import { compareLabels, labelsFromObject, labelsKey, labelsToString, type Labels } from '../../src/model/labels.js';
import { matchesAll } from '../../src/model/matcher.js';
import { isStaleNaN, STALE_NAN } from '../../src/model/value.js';
import { Engine, PromQLError, type QueryResult, type QueryValue } from '../../src/promql/engine/index.js';
import { formatExpr, parseExpr, parseMetric, type Expr, type VectorSelector } from '../../src/promql/parser/index.js';
import { unquoteString } from '../../src/promql/parser/goutil.js';
import { ScriptStorage } from './promqltest-storage.js';

// ---------------------------------------------------------------------------------------------------------
// Script model

type Value = number | 'omit' | 'stale' | 'hist';

interface SeriesLine {
  labels: Labels;
  values: Value[];
  /** The line uses `{{…}}` native-histogram notation. */
  histogram: boolean;
}

interface LoadCmd {
  kind: 'load';
  line: number;
  step: number;
  withNhcb: boolean;
  series: SeriesLine[];
  /** Label sets that carry start timestamps (`@st` lines). */
  stSeries: Labels[];
}

interface ExpectLine {
  kind: 'fail' | 'warn' | 'no_warn' | 'info' | 'no_info' | 'ordered';
  msg?: string;
  regex?: RegExp;
}

interface EvalCmd {
  kind: 'eval';
  line: number;
  expr: string;
  range: boolean;
  /** Instant: evaluation time; range: start. */
  start: number;
  end: number;
  step: number;
  fail: boolean;
  warn: boolean;
  info: boolean;
  ordered: boolean;
  expects: ExpectLine[];
  expectScalar: number | null;
  expectString: string | null;
  /** `expect range vector from … to … step …` for an instant query returning a matrix. */
  rangeVector: { start: number; end: number; step: number } | null;
  expected: Map<string, { labels: Labels; values: Value[]; pos: number }>;
  /** Expected values use native-histogram notation. */
  histogramExpected: boolean;
}

type Command = LoadCmd | EvalCmd | { kind: 'clear'; line: number };

export interface EvalOutcome {
  file: string;
  line: number;
  expr: string;
  status: 'pass' | 'fail' | 'skip';
  /** Failure message, or the unsupported feature for a skip. */
  detail: string;
  nativeHistogram: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** Prometheus's model.ParseDuration (optionally signed, for `@st` offsets). */
export function parseDuration(text: string, signed = false): number {
  let s = text;
  let sign = 1;
  if (signed && (s.startsWith('-') || s.startsWith('+'))) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let pos = 0;
  if (s === '') throw new Error(`not a valid duration string: "${text}"`);
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) throw new Error(`not a valid duration string: "${text}"`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return sign * total;
}

const NUM = String.raw`[-+]?(?:[iI][nN][fF]|[nN][aA][nN]|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)`;
const ITEM_SINGLE = new RegExp(`^(${NUM})$`);
const ITEM_REPEAT = new RegExp(`^(${NUM})x(\\d+)$`);
const ITEM_SERIES = new RegExp(`^(${NUM})([-+])(${NUM})x(\\d+)$`);

function parseNum(s: string): number {
  const l = s.toLowerCase();
  if (/^[-+]?inf$/.test(l)) return l.startsWith('-') ? -Infinity : Infinity;
  if (/^[-+]?nan$/.test(l)) return NaN;
  return Number(s);
}

/** Splits the value part of a series line into items, keeping `{{ … }}` groups together. */
function valueItems(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!)) {
      if (text.startsWith('{{', j)) {
        const close = text.indexOf('}}', j);
        j = close < 0 ? text.length : close + 2;
      } else j++;
    }
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

function expandValues(text: string): { values: Value[]; histogram: boolean } {
  const values: Value[] = [];
  let histogram = false;
  for (const item of valueItems(text)) {
    if (item.includes('{{')) {
      histogram = true;
      const m = /x(\d+)$/.exec(item.replace(/\{\{[^]*?\}\}/g, ''));
      const n = m ? Number(m[1]) + 1 : 1;
      for (let k = 0; k < n; k++) values.push('hist');
      continue;
    }
    if (item === '_') {
      values.push('omit');
      continue;
    }
    let m = /^_x(\d+)$/.exec(item);
    if (m) {
      for (let k = 0; k < Number(m[1]); k++) values.push('omit');
      continue;
    }
    if (item === 'stale') {
      values.push('stale');
      continue;
    }
    m = ITEM_SINGLE.exec(item);
    if (m) {
      values.push(parseNum(m[1]!));
      continue;
    }
    m = ITEM_REPEAT.exec(item);
    if (m) {
      const v = parseNum(m[1]!);
      for (let k = 0; k <= Number(m[2]); k++) values.push(v);
      continue;
    }
    m = ITEM_SERIES.exec(item);
    if (m) {
      let v = parseNum(m[1]!);
      const d = parseNum(m[3]!) * (m[2] === '-' ? -1 : 1);
      const n = Number(m[4]);
      values.push(v);
      for (let k = 0; k < n; k++) {
        v += d;
        values.push(v);
      }
      continue;
    }
    throw new Error(`invalid value item ${JSON.stringify(item)}`);
  }
  return { values, histogram };
}

/** The metric part of a series line: up to the `}` closing the label set, else up to the first space. */
function splitMetric(line: string): { metric: string; rest: string } {
  const brace = line.indexOf('{');
  const space = line.search(/\s/);
  let end: number;
  if (brace >= 0 && (space < 0 || brace < space)) {
    let quote = '';
    end = line.length;
    for (let k = brace + 1; k < line.length; k++) {
      const c = line[k]!;
      if (quote !== '') {
        if (c === '\\' && quote !== '`') k++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'" || c === '`') quote = c;
      else if (c === '}') {
        end = k + 1;
        break;
      }
    }
    // Allow a suffix glued to the braces (`@st`).
    while (end < line.length && !/\s/.test(line[end]!)) end++;
  } else end = space < 0 ? line.length : space;
  return { metric: line.slice(0, end), rest: line.slice(end) };
}

function parseSeriesLine(line: string): SeriesLine & { st: boolean } {
  const { metric, rest } = splitMetric(line);
  const st = metric.endsWith('@st');
  const labels = parseMetric(st ? metric.slice(0, -3) : metric);
  if (st) return { labels, values: [], histogram: false, st };
  const { values, histogram } = expandValues(rest);
  return { labels, values, histogram, st };
}

/** A bare number line: Go integer literal (any base) or float. */
function parseNumberLine(s: string): number | null {
  if (/^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.test(s)) {
    const neg = s.startsWith('-');
    let body = s.replace(/^[-+]/, '').replace(/_/g, '');
    let v: number;
    if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
    else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
    else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
    else if (body.length > 1 && body.startsWith('0')) v = parseInt((body = body.slice(1)), 8);
    else v = Number(body);
    return neg ? -v : v;
  }
  if (new RegExp(`^${NUM}$`).test(s)) return parseNum(s);
  return null;
}

const EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const EXPECT = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const EXPECT_RANGE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;

/** Go RE2 pattern to a JavaScript RegExp (the patterns in the scripts use the common subset). */
function goRegex(p: string): RegExp {
  return new RegExp(p);
}

export function parseScript(text: string): Command[] {
  const lines = text.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
  const cmds: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const word = l.split(/[\t ]+/, 1)[0]!.toLowerCase();
    const body: string[] = [];
    const bodyStart = i + 1;
    if (word === 'clear') {
      cmds.push({ kind: 'clear', line: i + 1 });
      continue;
    }
    let j = i + 1;
    while (j < lines.length && lines[j] !== '') body.push(lines[j++]!);
    if (word.startsWith('load')) {
      const m = /^load(?:_(with_nhcb))?\s+(.+?)$/.exec(l);
      if (!m) throw new Error(`line ${i + 1}: invalid load command`);
      const cmd: LoadCmd = { kind: 'load', line: i + 1, step: parseDuration(m[2]!), withNhcb: m[1] !== undefined, series: [], stSeries: [] };
      const byKey = new Map<string, number>();
      for (const b of body) {
        const s = parseSeriesLine(b);
        if (s.st) {
          cmd.stSeries.push(s.labels);
          continue;
        }
        const key = labelsKey(s.labels);
        const prev = byKey.get(key);
        if (prev !== undefined) cmd.series[prev] = s;
        else {
          byKey.set(key, cmd.series.length);
          cmd.series.push(s);
        }
      }
      cmds.push(cmd);
    } else if (word.startsWith('eval')) {
      cmds.push(parseEval(l, i + 1, body, bodyStart));
    } else {
      throw new Error(`line ${i + 1}: invalid command ${JSON.stringify(l)}`);
    }
    i = j - 1;
  }
  return cmds;
}

function parseEval(header: string, line: number, body: string[], _bodyStart: number): EvalCmd {
  const inst = EVAL_INSTANT.exec(header);
  const rng = inst === null ? EVAL_RANGE.exec(header) : null;
  if (inst === null && rng === null) throw new Error(`line ${line}: invalid eval command`);
  const mod = (inst ?? rng)![1];
  const cmd: EvalCmd = {
    kind: 'eval',
    line,
    expr: inst !== null ? inst[3]! : rng![5]!,
    range: rng !== null,
    start: inst !== null ? parseDuration(inst[2] ?? '') : parseDuration(rng![2]!),
    end: 0,
    step: 0,
    fail: mod === 'fail',
    warn: mod === 'warn',
    info: mod === 'info',
    ordered: mod === 'ordered',
    expects: [],
    expectScalar: null,
    expectString: null,
    rangeVector: null,
    expected: new Map(),
    histogramExpected: false,
  };
  if (rng !== null) {
    cmd.end = parseDuration(rng[3]!);
    cmd.step = parseDuration(rng[4]!);
  } else cmd.end = cmd.start;
  let pos = 0;
  for (const b of body) {
    if (cmd.fail && (b.startsWith('expected_fail_message') || b.startsWith('expected_fail_regexp'))) {
      const text = b.replace(/^expected_fail_(message|regexp)/, '').trim();
      cmd.expects.push(b.startsWith('expected_fail_message') ? { kind: 'fail', msg: text } : { kind: 'fail', regex: goRegex(text) });
      break;
    }
    if (b.startsWith('expect range vector')) {
      const m = EXPECT_RANGE.exec(b);
      if (!m) throw new Error(`line ${line}: invalid range vector definition ${JSON.stringify(b)}`);
      cmd.rangeVector = { start: parseDuration(m[1]!), end: parseDuration(m[2]!), step: parseDuration(m[3]!) };
      cmd.start = cmd.end = cmd.rangeVector.end;
      continue;
    }
    if (b.startsWith('expect string')) {
      const lit = b.slice('expect string'.length).trim();
      const s = unquoteString(lit);
      if (s === null) throw new Error(`line ${line}: expected string literal not valid`);
      cmd.expectString = s;
      continue;
    }
    if (b.split(' ')[0] === 'expect') {
      const m = EXPECT.exec(b.trim());
      if (!m) throw new Error(`line ${line}: invalid expect statement ${JSON.stringify(b)}`);
      const e: ExpectLine = { kind: m[1] as ExpectLine['kind'] };
      if (m[2] === 'msg') e.msg = m[3]!.trim();
      else if (m[2] === 'regex') e.regex = goRegex(m[3]!.trim());
      if (e.kind === 'ordered') cmd.ordered = true;
      else cmd.expects.push(e);
      continue;
    }
    const num = parseNumberLine(b);
    if (num !== null) {
      cmd.expectScalar = num;
      break;
    }
    const s = parseSeriesLine(b);
    if (s.histogram) cmd.histogramExpected = true;
    pos++;
    cmd.expected.set(labelsKey(s.labels), { labels: s.labels, values: s.values, pos });
  }
  return cmd;
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus's almost.Equal with relative tolerance epsilon; stale markers equal only each other. */
export function almostEqual(a: number, b: number, epsilon = 1e-6): boolean {
  if (isStaleNaN(a) || isStaleNaN(b)) return isStaleNaN(a) && isStaleNaN(b);
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

type Sample = { labels: Labels; f: number };

function compareVector(cmd: EvalCmd, vec: Sample[]): string | null {
  if (cmd.expectScalar !== null) return `expected scalar result, but got vector`;
  const seen = new Set<string>();
  for (let pos = 0; pos < vec.length; pos++) {
    const v = vec[pos]!;
    const key = labelsKey(v.labels);
    const exp = cmd.expected.get(key);
    if (exp === undefined) return `unexpected metric ${labelsToString(v.labels)} in result, has value ${fmt(v.f)}`;
    if (cmd.ordered && exp.pos !== pos + 1) {
      return `expected metric ${labelsToString(v.labels)} at position ${exp.pos} but was at ${pos + 1}`;
    }
    const want = exp.values[0];
    if (typeof want !== 'number' || !almostEqual(want, v.f)) {
      return `expected ${typeof want !== 'number' ? String(want) : fmt(want)} for ${labelsToString(v.labels)} but got ${fmt(v.f)}`;
    }
    seen.add(key);
  }
  for (const [key, exp] of cmd.expected) {
    if (!seen.has(key)) return `expected metric ${labelsToString(exp.labels)} not found`;
  }
  return null;
}

function compareMatrix(
  cmd: EvalCmd,
  series: { labels: Labels; ts: Float64Array; fs: Float64Array }[],
  grid: { start: number; end: number; step: number },
): string | null {
  if (cmd.ordered) return 'expected ordered result, but query returned a matrix';
  if (cmd.expectScalar !== null) return 'expected scalar result, but got matrix';
  for (let i = 1; i < series.length; i++) {
    if (compareLabels(series[i - 1]!.labels, series[i]!.labels) > 0) return 'matrix results should always be sorted by labels';
  }
  const seen = new Set<string>();
  for (const s of series) {
    const key = labelsKey(s.labels);
    const exp = cmd.expected.get(key);
    if (exp === undefined) return `unexpected metric ${labelsToString(s.labels)} in result, has ${s.fs.length} points`;
    seen.add(key);
    const wantT: number[] = [];
    const wantF: number[] = [];
    for (let i = 0; i < exp.values.length; i++) {
      const t = grid.start + i * grid.step;
      if (t > grid.end) return `expected ${exp.values.length} points for ${labelsToString(exp.labels)}, but query time range cannot return this many points`;
      const v = exp.values[i]!;
      if (v === 'omit') continue;
      wantT.push(t);
      wantF.push(v === 'stale' ? STALE_NAN : v === 'hist' ? NaN : v);
    }
    if (wantT.length !== s.ts.length) {
      return `expected ${wantT.length} float points for ${labelsToString(s.labels)}, but got ${s.ts.length}: ${[...s.ts].map((t, i) => `${fmt(s.fs[i]!)}@${t}`).join(' ')}`;
    }
    for (let i = 0; i < wantT.length; i++) {
      if (wantT[i] !== s.ts[i]) return `expected float value at index ${i} for ${labelsToString(s.labels)} to have timestamp ${wantT[i]}, but it had timestamp ${s.ts[i]}`;
      if (!almostEqual(s.fs[i]!, wantF[i]!)) {
        return `expected float value at index ${i} (t=${s.ts[i]}) for ${labelsToString(s.labels)} to be ${fmt(wantF[i]!)}, but got ${fmt(s.fs[i]!)}`;
      }
    }
  }
  for (const [key, exp] of cmd.expected) if (!seen.has(key)) return `expected metric ${labelsToString(exp.labels)} not found`;
  return null;
}

function compareResult(cmd: EvalCmd, v: QueryValue): string | null {
  switch (v.resultType) {
    case 'matrix': {
      const grid = cmd.rangeVector ?? { start: cmd.start, end: cmd.end, step: cmd.step };
      return compareMatrix(cmd, v.series, grid);
    }
    case 'vector':
      return compareVector(cmd, v.series);
    case 'scalar':
      if (cmd.expectScalar === null) return `expected vector or matrix result, but got scalar ${fmt(v.f)}`;
      if (!almostEqual(cmd.expectScalar, v.f)) return `expected scalar ${fmt(cmd.expectScalar)} but got ${fmt(v.f)}`;
      return null;
    case 'string':
      if (cmd.expectString !== v.s) return `expected string ${JSON.stringify(cmd.expectString)} but got ${JSON.stringify(v.s)}`;
      return null;
  }
}

function matchesExpect(e: ExpectLine, s: string): boolean {
  if (e.msg !== undefined) return e.msg === s;
  if (e.regex !== undefined) return e.regex.test(s);
  return true;
}

function checkAnnotations(cmd: EvalCmd, res: QueryResult): string | null {
  for (const [kind, actual, flag] of [
    ['warn', res.warnings, cmd.warn],
    ['info', res.infos, cmd.info],
  ] as const) {
    const exp = cmd.expects.filter((e) => e.kind === kind);
    if ((flag || exp.length > 0) && actual.length === 0) return `expected ${kind} annotations but none were found`;
    for (const e of exp) {
      if (!actual.some((a) => matchesExpect(e, a))) {
        return `expected ${kind} annotation matching ${e.msg ?? e.regex} but found: ${JSON.stringify(actual)}`;
      }
    }
    if (exp.length > 0) {
      for (const a of actual) if (!exp.some((e) => matchesExpect(e, a))) return `unexpected ${kind} annotation ${JSON.stringify(a)}`;
    }
    if (cmd.expects.some((e) => e.kind === `no_${kind}`) && actual.length > 0) {
      return `unexpected ${kind} annotations: ${JSON.stringify(actual)}`;
    }
  }
  return null;
}

function checkFailure(cmd: EvalCmd, err: unknown): string | null {
  const msg = err instanceof Error ? err.message : String(err);
  const f = cmd.expects.find((e) => e.kind === 'fail');
  if (f !== undefined && !matchesExpect(f, msg)) return `expected error matching ${f.msg ?? f.regex}, but got: ${msg}`;
  return null;
}

function isFail(cmd: EvalCmd): boolean {
  return cmd.fail || cmd.expects.some((e) => e.kind === 'fail');
}

// ---------------------------------------------------------------------------------------------------------
// Step-invariance variants (`@` added to every top-level selector)

const AT_UNSAFE = new Set(['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'end', 'hour', 'minute', 'month', 'year', 'predict_linear', 'range', 'start', 'step', 'time', 'timestamp']);

function atModifierVariants(expr: string, t: number): { expr: string; time: number }[] {
  const e = parseExpr(expr);
  let unsafe = false;
  const walk = (n: Expr, underAt: boolean): void => {
    switch (n.type) {
      case 'VectorSelector':
        if (!underAt && n.at === null) {
          n.at = t;
          n.startOrEnd = null;
        }
        return;
      case 'MatrixSelector':
        walk(n.vectorSelector, underAt);
        return;
      case 'SubqueryExpr': {
        let under = underAt;
        if (!underAt) {
          if (n.at === null) {
            n.at = t;
            n.startOrEnd = null;
          }
          under = true;
        }
        walk(n.expr, under);
        return;
      }
      case 'Call':
        if (AT_UNSAFE.has(n.func.name)) unsafe = true;
        for (const a of n.args) walk(a, underAt);
        return;
      case 'AggregateExpr':
        walk(n.expr, underAt);
        if (n.param !== null) walk(n.param, underAt);
        return;
      case 'BinaryExpr':
        walk(n.lhs, underAt);
        walk(n.rhs, underAt);
        return;
      case 'ParenExpr':
      case 'UnaryExpr':
        walk(n.expr, underAt);
        return;
      default:
        return;
    }
  };
  walk(e, false);
  if (unsafe) return [];
  const text = formatExpr(e);
  const times = t === 0 ? [-1000, 0, 1000] : [-10 * t, 0, Math.trunc(t / 5), t, 10 * t];
  return times.map((time) => ({ expr: text, time }));
}

// ---------------------------------------------------------------------------------------------------------
// Execution

const QUERY_CONTEXT_FUNCS = /(start|end|range|step)\(\)/;
const ST_FUNCS = /\b(rate|irate|increase|resets|start_timestamp)\s*\(/;

/** Thrown when a query met a native histogram sample: the eval is reported as skipped. */
class NativeHistogramMet extends Error {}

const NATIVE_HISTOGRAM_ERROR = /native histograms are not supported/;

export class ScriptRunner {
  private storage = new ScriptStorage();
  /** Label sets that carry start timestamps (`@st` lines); our storage does not keep start timestamps. */
  private stSeries: Labels[] = [];
  // Upstream's test engine evaluates with delayed name removal, which the scripts are written against.
  readonly engine = new Engine({ maxSamples: 10_000, timeoutMs: 100_000, lookbackDeltaMs: 5 * 60_000, enableDelayedNameRemoval: true });
  readonly outcomes: EvalOutcome[] = [];
  loadErrors: string[] = [];

  constructor(readonly file: string) {}

  async run(text: string): Promise<EvalOutcome[]> {
    const cmds = parseScript(text);
    for (const c of cmds) {
      if (c.kind === 'clear') {
        this.storage = new ScriptStorage();
        this.stSeries = [];
      } else if (c.kind === 'load') await this.load(c);
      else this.outcomes.push(await this.evalCmd(c));
    }
    return this.outcomes;
  }

  private async load(c: LoadCmd): Promise<void> {
    const app = this.storage.head.appender();
    for (const s of c.series) {
      const hist: number[] = [];
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i]!;
        if (v === 'omit') continue;
        if (v === 'hist') {
          hist.push(i * c.step);
          continue;
        }
        try {
          app.append(0, s.labels, i * c.step, v === 'stale' ? STALE_NAN : v);
        } catch (err) {
          this.loadErrors.push(`${this.file}:${c.line}: ${labelsToString(s.labels)}: ${(err as Error).message}`);
        }
      }
      this.storage.addHistogramSamples(s.labels, hist);
    }
    this.stSeries.push(...c.stSeries);
    if (c.withNhcb) for (const h of nhcbSeries(c)) this.storage.addHistogramSamples(h.labels, h.ts);
    await app.commit();
  }

  private unsupported(cmd: EvalCmd): { reason: string; native: boolean } | null {
    if (cmd.histogramExpected) return { reason: 'native histograms (expected result)', native: true };
    if (!ST_FUNCS.test(cmd.expr) || this.stSeries.length === 0) return null;
    let e: Expr;
    try {
      e = parseExpr(cmd.expr);
    } catch {
      return null;
    }
    const selectors: VectorSelector[] = [];
    const walk = (n: Expr): void => {
      if (n.type === 'VectorSelector') selectors.push(n);
      else if (n.type === 'MatrixSelector') selectors.push(n.vectorSelector);
      for (const c of childrenOf(n)) walk(c);
    };
    walk(e);
    if (selectors.some((vs) => this.stSeries.some((ls) => matchesAll(vs.matchers, ls)))) {
      return { reason: 'start timestamps (@st)', native: false };
    }
    return null;
  }

  private async evalCmd(cmd: EvalCmd): Promise<EvalOutcome> {
    const base = { file: this.file, line: cmd.line, expr: cmd.expr };
    const u = this.unsupported(cmd);
    if (u !== null && u.native) return { ...base, status: 'skip', detail: u.reason, nativeHistogram: true };
    let err: string | null;
    try {
      err = cmd.range ? await this.runRange(cmd) : await this.runInstant(cmd);
    } catch (e) {
      if (e instanceof NativeHistogramMet) {
        return { ...base, status: 'skip', detail: 'native histograms (the query meets histogram samples)', nativeHistogram: true };
      }
      err = `runner error: ${(e as Error).stack ?? String(e)}`;
    }
    // Start timestamps change these results; whatever we computed without them is not a verdict.
    if (u !== null) return { ...base, status: 'skip', detail: u.reason, nativeHistogram: false };
    return { ...base, status: err === null ? 'pass' : 'fail', detail: err ?? '', nativeHistogram: false };
  }

  /** Runs a query; an error from meeting a native histogram aborts the eval as skipped. */
  private async query<T>(run: () => Promise<T>): Promise<{ ok: T } | { err: unknown }> {
    try {
      return { ok: await run() };
    } catch (e) {
      if (e instanceof PromQLError && NATIVE_HISTOGRAM_ERROR.test(e.message)) throw new NativeHistogramMet(e.message);
      return { err: e };
    }
  }

  private async runRange(cmd: EvalCmd): Promise<string | null> {
    const q = await this.query(() => this.engine.rangeQuery(this.storage, cmd.expr, cmd.start, cmd.end, cmd.step));
    if ('err' in q) {
      if (isFail(cmd)) return checkFailure(cmd, q.err);
      return `error evaluating query: ${errText(q.err)}`;
    }
    const res = q.ok;
    if (isFail(cmd)) return 'expected error evaluating query but got none';
    return checkAnnotations(cmd, res) ?? compareResult(cmd, res.value);
  }

  private async runInstant(cmd: EvalCmd): Promise<string | null> {
    const queries = [{ expr: cmd.expr, time: cmd.start }, ...atModifierVariants(cmd.expr, cmd.start)];
    for (const q of queries) {
      const err = await this.runOneInstant(cmd, q.expr, q.time);
      if (err !== null) return q.expr === cmd.expr && q.time === cmd.start ? err : `${err} (variant ${q.expr} at ${q.time})`;
    }
    return null;
  }

  private async runOneInstant(cmd: EvalCmd, expr: string, time: number): Promise<string | null> {
    const q = await this.query(() => this.engine.instantQuery(this.storage, expr, time));
    if ('err' in q) {
      if (isFail(cmd)) return checkFailure(cmd, q.err);
      return `error evaluating query: ${errText(q.err)}`;
    }
    const res = q.ok;
    if (isFail(cmd)) return 'expected error evaluating query but got none';
    const a = checkAnnotations(cmd, res);
    if (a !== null) return a;
    const c = compareResult(cmd, res.value);
    if (c !== null) return c;
    if (cmd.rangeVector !== null || cmd.expectString !== null || QUERY_CONTEXT_FUNCS.test(expr)) return null;
    // The same query in range mode must give the same result at the middle step.
    const rq = await this.query(() => this.engine.rangeQuery(this.storage, expr, time - 60_000, time + 60_000, 60_000));
    if ('err' in rq) return `error evaluating query in range mode: ${errText(rq.err)}`;
    const r = rq.ok;
    if (cmd.ordered) return null;
    if (r.value.resultType !== 'matrix') return 'range query did not return a matrix';
    const mat = r.value.series;
    for (let i = 1; i < mat.length; i++) {
      if (compareLabels(mat[i - 1]!.labels, mat[i]!.labels) > 0) return 'range mode: matrix results should always be sorted by labels';
    }
    const vec: Sample[] = [];
    for (const s of mat) {
      for (let i = 0; i < s.ts.length; i++) {
        if (s.ts[i] === time) {
          vec.push({ labels: s.labels, f: s.fs[i]! });
          break;
        }
      }
    }
    let err: string | null;
    if (res.value.resultType === 'scalar') {
      err = vec.length === 0 ? 'range mode: no value at the evaluation time' : compareResult(cmd, { resultType: 'scalar', t: time, f: vec[0]!.f });
    } else err = compareVector(cmd, vec);
    return err === null ? null : `range mode: ${err}`;
  }
}

function errText(e: unknown): string {
  if (e instanceof PromQLError) return `${e.errorType}: ${e.message}`;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function childrenOf(n: Expr): Expr[] {
  switch (n.type) {
    case 'AggregateExpr':
      return n.param !== null ? [n.expr, n.param] : [n.expr];
    case 'BinaryExpr':
      return [n.lhs, n.rhs];
    case 'Call':
      return n.args;
    case 'SubqueryExpr':
    case 'ParenExpr':
    case 'UnaryExpr':
      return [n.expr];
    default:
      return [];
  }
}

/**
 * The native histograms with custom buckets that `load_with_nhcb` derives from the classic histogram series
 * of a load block: one per base name and labels (without `le`), at every time any of its series has a sample.
 */
function nhcbSeries(c: LoadCmd): { labels: Labels; ts: number[] }[] {
  const out = new Map<string, { labels: Labels; ts: Set<number> }>();
  for (const s of c.series) {
    const obj: Record<string, string> = {};
    let name = '';
    for (let i = 0; i < s.labels.length; i += 2) {
      if (s.labels[i] === '__name__') name = s.labels[i + 1]!;
      else if (s.labels[i] !== 'le') obj[s.labels[i]!] = s.labels[i + 1]!;
    }
    const m = /^(.*)_(bucket|count|sum)$/.exec(name);
    if (m === null) continue;
    obj['__name__'] = m[1]!;
    const labels = labelsFromObject(obj);
    const key = labelsKey(labels);
    let e = out.get(key);
    if (e === undefined) out.set(key, (e = { labels, ts: new Set() }));
    s.values.forEach((v, i) => {
      if (v !== 'omit') e.ts.add(i * c.step);
    });
  }
  return [...out.values()].map((e) => ({ labels: e.labels, ts: [...e.ts] }));
}

export function runScriptFile(path: string, name: string): Promise<EvalOutcome[]> {
  return new ScriptRunner(name).run(readFileSync(path, 'utf8'));
}
