/**
 * /federate: the latest sample (within the lookback delta) of every series matching any `match[]`, in the
 * Prometheus text exposition format 0.0.4, written as Prometheus's web/federate.go writes it: one untyped
 * family per metric name, `instance=""` added to series without an instance label, stale markers dropped,
 * metric and label names escaped as the Accept header's `escaping` asks (underscores by default).
 */
import { labelsKey, METRIC_NAME, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { isStaleNaN } from '../model/value.js';
import { parseMetricSelector } from '../promql/parser/index.js';
import { ValueType, type Querier } from '../storage/interface.js';
import { compareUtf8, formatFloatG } from './json.js';

export interface FederateResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type EscapingScheme = 'allow-utf-8' | 'underscores' | 'dots' | 'values';

const ESCAPINGS: ReadonlySet<string> = new Set(['allow-utf-8', 'underscores', 'dots', 'values']);

interface Clause {
  type: string;
  params: Record<string, string>;
  q: number;
}

function parseAccept(header: string): Clause[] {
  const out: Clause[] = [];
  for (const part of header.split(',')) {
    const [mt, ...ps] = part.split(';').map((x) => x.trim());
    if (!mt) continue;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of ps) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim();
      const v = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (k === 'q') q = Number(v) || 0;
      else params[k] = v;
    }
    out.push({ type: mt.toLowerCase(), params, q });
  }
  return out.sort((a, b) => b.q - a.q); // stable: equal weights keep their order
}

/**
 * expfmt.Negotiate restricted to the text format (Argus does not write the protobuf formats): the escaping
 * scheme is the last valid `escaping` parameter seen before a text/plain 0.0.4 clause, else underscores.
 */
export function negotiateEscaping(accept: string | undefined): EscapingScheme {
  let escaping: EscapingScheme = 'underscores';
  for (const c of parseAccept(accept ?? '')) {
    const e = c.params['escaping'];
    if (e !== undefined && ESCAPINGS.has(e)) escaping = e as EscapingScheme;
    const ver = c.params['version'];
    if (c.type === 'text/plain' && (ver === undefined || ver === '' || ver === '0.0.4')) return escaping;
  }
  return escaping;
}

const LEGACY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function isLegacyRune(cp: number, first: boolean): boolean {
  return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || cp === 0x5f || cp === 0x3a || (cp >= 0x30 && cp <= 0x39 && !first);
}

/** model.EscapeName. */
export function escapeName(name: string, scheme: EscapingScheme): string {
  if (name === '' || scheme === 'allow-utf-8') return name;
  if (scheme !== 'dots' && LEGACY_NAME.test(name)) return name;
  let out = scheme === 'values' ? 'U__' : '';
  let first = true;
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (scheme === 'underscores') out += isLegacyRune(cp, first) ? ch : '_';
    else if (scheme === 'dots') {
      if (ch === '_') out += '__';
      else if (ch === '.') out += '_dot_';
      else if (isLegacyRune(cp, first)) out += ch;
      else out += '__';
    } else {
      if (ch === '_') out += '__';
      else if (isLegacyRune(cp, first)) out += ch;
      else out += `_${cp.toString(16)}_`;
    }
    first = false;
  }
  return out;
}

function escapeValue(v: string): string {
  return v.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}

/** expfmt's writeName: legacy names bare, others quoted. */
function writeName(name: string): string {
  return LEGACY_NAME.test(name) ? name : `"${escapeValue(name)}"`;
}

/** expfmt's writeFloat. */
function writeFloat(f: number): string {
  if (f === 1) return '1';
  if (f === 0) return '0';
  if (f === -1) return '-1';
  return formatFloatG(f);
}

interface Latest {
  labels: Labels;
  t: number;
  f: number;
}

function textError(status: number, message: string): FederateResult {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }, body: message + '\n' };
}

export interface FederateOptions {
  matches: string[];
  accept?: string;
  now: number;
  lookbackDeltaMs: number;
}

export async function federate(q: Querier, opts: FederateOptions): Promise<FederateResult> {
  let matcherSets: Matcher[][];
  try {
    matcherSets = opts.matches.map((m) => parseMetricSelector(m));
  } catch (err) {
    return textError(400, (err as Error).message);
  }
  const escaping = negotiateEscaping(opts.accept);
  const maxt = opts.now;
  const mint = maxt - opts.lookbackDeltaMs;

  const found = new Map<string, Latest>();
  for (const ms of matcherSets) {
    for await (const s of q.select({ start: mint, end: maxt }, ms)) {
      const key = labelsKey(s.labels);
      if (found.has(key)) continue;
      const it = s.iterator();
      let t = 0;
      let f = 0;
      let have = false;
      for (let vt = it.seek(mint); vt !== ValueType.None; vt = it.next()) {
        const ts = it.atT();
        if (ts > maxt) break;
        if (vt !== ValueType.Float) continue;
        t = ts;
        f = it.atF();
        have = true;
      }
      if (!have || isStaleNaN(f)) continue; // the exposition formats have no stale markers
      found.set(key, { labels: s.labels, t, f });
    }
  }

  const name = (ls: Labels): string => {
    for (let i = 0; i < ls.length; i += 2) if (ls[i] === METRIC_NAME) return ls[i + 1]!;
    return '';
  };
  const vec = [...found.values()];
  // Series order within a name is the label order of the merged selection; families are grouped by name.
  vec.sort((a, b) => compareUtf8(name(a.labels), name(b.labels)));

  let out = '';
  let last: string | null = null;
  for (const s of vec) {
    const metric = name(s.labels);
    if (metric === '') continue; // nameless series are skipped, as Prometheus does
    const family = escapeName(metric, escaping);
    if (metric !== last) {
      out += `# TYPE ${writeName(family)} untyped\n`;
      last = metric;
    }
    const pairs: string[] = [];
    let hasInstance = false;
    for (let i = 0; i < s.labels.length; i += 2) {
      const ln = s.labels[i]!;
      const lv = s.labels[i + 1]!;
      if (ln === METRIC_NAME || lv === '') continue;
      if (ln === 'instance') hasInstance = true;
      pairs.push(`${writeName(escapeName(ln, escaping))}="${escapeValue(lv)}"`);
    }
    if (!hasInstance) pairs.push('instance=""');
    const inBraces = !LEGACY_NAME.test(family);
    out += inBraces ? `{${writeName(family)},${pairs.join(',')}}` : `${family}{${pairs.join(',')}}`;
    out += ` ${writeFloat(s.f)} ${s.t}\n`;
  }
  return {
    status: 200,
    headers: { 'Content-Type': `text/plain; version=0.0.4; charset=utf-8; escaping=${escaping}` },
    body: out,
  };
}
