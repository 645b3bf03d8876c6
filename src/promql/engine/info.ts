/**
 * The experimental `info()` function: adds the data labels of info series (by default `target_info`) to the
 * series they describe, joined on the identifying labels `instance` and `job`.
 */
import type { Labels } from '../../model/labels.js';
import { getLabel, labelsFromPairs, labelsKey, METRIC_NAME } from '../../model/labels.js';
import { Matcher, MatchType } from '../../model/matcher.js';
import { isStaleNaN } from '../../model/value.js';
import { DUPLICATE_LABELSET, execError } from './errors.js';
import type { Evaluator } from './evaluator.js';
import { promLabelsString } from './labels.js';
import type { CallNode, PNode } from './plan.js';
import { streamSeries } from './selectors.js';
import { OutputCollector, Series, totalSamples, type Matrix } from './value.js';

const TARGET_INFO = 'target_info';
const IDENTIFYING = ['instance', 'job'];

function effectiveNameMatchers(ms: Matcher[]): Matcher[] {
  for (const m of ms) if (m.type === MatchType.Equal || m.type === MatchType.Regexp) return ms;
  if (ms.length > 0) return [new Matcher(MatchType.Regexp, METRIC_NAME, '.+_info'), ...ms];
  return [new Matcher(MatchType.Equal, METRIC_NAME, TARGET_INFO)];
}

/** The `@` time and total offset of the first selector in the expression (subqueries add their offsets). */
function selectTimeAndOffset(root: PNode): { at: number | null; offset: number } {
  const found = { at: null as number | null, offset: 0, done: false };
  const walk = (n: PNode, path: PNode[]): void => {
    if (found.done) return;
    if (n.k === 'vs') {
      let at = n.at;
      let offset = n.offset;
      for (let i = path.length - 1; at === null && i >= 0; i--) {
        const p = path[i]!;
        if (p.k === 'sq') {
          offset += p.offset;
          at = p.at;
        }
      }
      found.at = at;
      found.offset = offset;
      found.done = true;
      return;
    }
    const next = [...path, n];
    switch (n.k) {
      case 'ms':
        walk(n.vs, next);
        break;
      case 'sq':
      case 'neg':
      case 'si':
        walk(n.expr, next);
        break;
      case 'call':
        for (const a of n.args) walk(a, next);
        break;
      case 'agg':
        walk(n.expr, next);
        if (n.param !== null) walk(n.param, next);
        break;
      case 'bin':
        walk(n.lhs, next);
        walk(n.rhs, next);
        break;
    }
  };
  walk(root, []);
  return found;
}

function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export async function evalInfo(ev: Evaluator, n: CallNode): Promise<Matrix> {
  const orig = ev.q.current;
  const { at, offset } = selectTimeAndOffset(n.args[0]!);
  const mat = await ev.evalMatrix(n.args[0]!);
  const dataMatchers = new Map<string, Matcher[]>();
  let nameMatchers: Matcher[] = [];
  const sel = n.args[1];
  if (sel !== undefined && sel.k === 'vs') {
    for (const m of sel.matchers) {
      const list = dataMatchers.get(m.name) ?? [];
      list.push(m);
      dataMatchers.set(m.name, list);
      if (m.name === METRIC_NAME) nameMatchers.push(m);
    }
  } else {
    nameMatchers = [new Matcher(MatchType.Equal, METRIC_NAME, TARGET_INFO)];
  }
  const effective = effectiveNameMatchers(nameMatchers);
  const ignored = new Set<string>();
  for (const s of mat) {
    const name = getLabel(s.labels, METRIC_NAME);
    if (effective.every((m) => m.matches(name))) ignored.add(labelsKey(s.labels));
  }

  // Identifying label values of the series to enrich select the info series.
  const idValues = new Map<string, Set<string>>();
  for (const s of mat) {
    if (ignored.has(labelsKey(s.labels))) continue;
    for (const l of IDENTIFYING) {
      const v = getLabel(s.labels, l);
      if (v === '') continue;
      let set = idValues.get(l);
      if (set === undefined) idValues.set(l, (set = new Set()));
      set.add(v);
    }
  }
  const dataNameMatchers: Matcher[] = [];
  for (const [name, ms] of dataMatchers) {
    if (name === METRIC_NAME) {
      dataNameMatchers.push(...ms);
      dataMatchers.delete(name);
    }
  }
  let infoMat: Matrix = [];
  if (idValues.size > 0) {
    const matchers: Matcher[] = [];
    for (const [name, vals] of idValues) {
      matchers.push(new Matcher(MatchType.Regexp, name, [...vals].map(quoteMeta).join('|')));
    }
    for (const ms of dataMatchers.values()) matchers.push(...ms);
    matchers.push(...effectiveNameMatchers(dataNameMatchers));
    infoMat = await fetchInfoSeries(ev, matchers, at, offset);
  }
  const res = await combine(ev, mat, infoMat, ignored, dataMatchers);
  ev.setSamples(orig + totalSamples(res));
  return res;
}

/** Info series over the grid; each point's value is the timestamp of the sample it was taken from. */
async function fetchInfoSeries(ev: Evaluator, matchers: Matcher[], at: number | null, offset: number): Promise<Matrix> {
  const lb = ev.q.lookback;
  const start = (at ?? ev.start) - offset;
  const end = (at ?? ev.end) - offset;
  const out: Matrix = [];
  await streamSeries(ev, matchers, start - lb + 1, end, { func: 'info' }, (r) => {
    const s = new Series(r.labels, false, Math.min(ev.steps, 1024));
    let j = 0;
    for (let i = 0; i < ev.steps; i++) {
      const t = ev.stepTime(i);
      const ref = (at ?? t) - offset;
      while (j < r.ts.length && r.ts[j]! <= ref) j++;
      const k = j - 1;
      if (k < 0 || r.ts[k]! <= ref - lb || isStaleNaN(r.fs[k]!)) continue;
      ev.addSamples(1);
      s.push(t, r.ts[k]!);
    }
    if (s.n > 0) out.push(s);
  });
  return out;
}

function infoSignature(name: string, ls: Labels): string {
  const parts: string[] = [METRIC_NAME, name];
  for (const l of IDENTIFYING) {
    const v = getLabel(ls, l);
    if (v !== '') parts.push(l, v);
  }
  return parts.join('\xff');
}

async function combine(
  ev: Evaluator,
  mat: Matrix,
  infoMat: Matrix,
  ignored: Set<string>,
  dataMatchers: Map<string, Matcher[]>,
): Promise<Matrix> {
  const infoNames = new Set<string>();
  for (const s of infoMat) infoNames.add(getLabel(s.labels, METRIC_NAME));
  const baseSigs = mat.map((s) => [...infoNames].map((name) => [name, infoSignature(name, s.labels)] as const));
  const baseIgnored = mat.map((s) => ignored.has(labelsKey(s.labels)));
  const infoSigs = infoMat.map((s) => infoSignature(getLabel(s.labels, METRIC_NAME), s.labels));
  const allMatchEmpty = [...dataMatchers.values()].every((ms) => ms.every((m) => m.matches('')));
  const bc = new Int32Array(mat.length);
  const ic = new Int32Array(infoMat.length);
  const out = new OutputCollector(ev.steps);
  const cache = new Map<string, Labels>();
  for (let i = 0; i < ev.steps; i++) {
    if (ev.shouldTick(mat.length + infoMat.length)) await ev.tick();
    const t = ev.stepTime(i);
    // Newest info sample per signature.
    const bySig = new Map<string, { idx: number; origT: number }>();
    for (let k = 0; k < infoMat.length; k++) {
      const s = infoMat[k]!;
      const c = ic[k]!;
      if (c >= s.n || s.ts[c] !== t) continue;
      ic[k] = c + 1;
      const origT = s.fs[c]!;
      const sig = infoSigs[k]!;
      const prev = bySig.get(sig);
      if (prev === undefined || prev.origT < origT) bySig.set(sig, { idx: k, origT });
      else if (prev.origT === origT) {
        throw execError(
          `found duplicate series for info metric: existing ${promLabelsString(infoMat[prev.idx]!.labels)} @ ${prev.origT}, ` +
            `new ${promLabelsString(s.labels)} @ ${origT}`,
        );
      }
    }
    for (let k = 0; k < mat.length; k++) {
      const s = mat[k]!;
      const c = bc[k]!;
      if (c >= s.n || s.ts[c] !== t) continue;
      bc[k] = c + 1;
      const f = s.fs[c]!;
      if (baseIgnored[k]) {
        if (!out.emit(s.labels, t, f, s.dropName)) throw execError(DUPLICATE_LABELSET);
        continue;
      }
      const added = new Map<string, string>();
      const baseNames = new Set<string>();
      for (let j = 0; j < s.labels.length; j += 2) baseNames.add(s.labels[j]!);
      let seen = 0;
      const used: number[] = [];
      for (const [, sig] of baseSigs[k]!) {
        const hit = bySig.get(sig);
        if (hit === undefined) continue;
        seen++;
        used.push(hit.idx);
        const ils = infoMat[hit.idx]!.labels;
        for (let j = 0; j < ils.length; j += 2) {
          const name = ils[j]!;
          const value = ils[j + 1]!;
          if (name === METRIC_NAME) continue;
          if (dataMatchers.size > 0 && !dataMatchers.has(name)) continue;
          const have = added.get(name);
          if (have !== undefined && have !== value) throw execError(`conflicting label: ${name}`);
          if (baseNames.has(name)) continue;
          added.set(name, value);
        }
      }
      if (seen === 0 && !allMatchEmpty) continue;
      const key = `${k}\x00${used.join(',')}`;
      let ls = cache.get(key);
      if (ls === undefined) {
        const pairs: [string, string][] = [];
        for (let j = 0; j < s.labels.length; j += 2) pairs.push([s.labels[j]!, s.labels[j + 1]!]);
        for (const [name, value] of added) pairs.push([name, value]);
        ls = labelsFromPairs(pairs);
        cache.set(key, ls);
      }
      if (!out.emit(ls, t, f, s.dropName)) throw execError(DUPLICATE_LABELSET);
    }
  }
  return out.matrix();
}
