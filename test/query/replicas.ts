/** Test data for query-time dedup: replicas of one series scraping on a grid, with gaps, loaded into a real head. */
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { ValueType, type Querier, type SampleIterator, type SelectHints } from '../../src/storage/interface.js';
import { Head } from '../../src/tsdb/head/index.js';

/** Scrape interval and the first scrape (a round minute, so that range steps line up). */
export const I = 15_000;
export const T0 = 1_700_000_040_000;

export interface Replica {
  labels: Record<string, string>;
  /** Sample times and values, in time order. */
  ts: number[];
  vs: number[];
}

/**
 * A replica scraping slots 0..n-1 every `I` from `T0 + offset`, missing the slots in `miss`; `value(k, t)` gives
 * the value read at slot k (time t), `jitter(k)` moves single scrapes.
 */
export function replica(
  labels: Record<string, string>,
  n: number,
  opts: { miss?: Iterable<number>; offset?: number; value?: (k: number, t: number) => number; jitter?: (k: number) => number } = {},
): Replica {
  const miss = new Set(opts.miss ?? []);
  const ts: number[] = [];
  const vs: number[] = [];
  for (let k = 0; k < n; k++) {
    if (miss.has(k)) continue;
    const t = T0 + k * I + (opts.offset ?? 0) + (opts.jitter?.(k) ?? 0);
    ts.push(t);
    vs.push(opts.value ? opts.value(k, t) : k);
  }
  return { labels, ts, vs };
}

export function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let k = a; k <= b; k++) out.push(k);
  return out;
}

/** A head holding the given series (the storage every Argus query reads). */
export async function headWith(series: Replica[]): Promise<Head> {
  const head = new Head('dedup-test');
  const app = head.appender();
  for (const s of series) {
    const ls = labelsFromObject(s.labels);
    for (let i = 0; i < s.ts.length; i++) app.append(0, ls, s.ts[i]!, s.vs[i]!);
  }
  await app.commit();
  return head;
}

export function nameIs(name: string): Matcher[] {
  return [new Matcher(MatchType.Equal, '__name__', name)];
}

export interface Read {
  labels: Labels;
  ts: number[];
  vs: number[];
}

export function drainIt(it: SampleIterator): { ts: number[]; vs: number[] } {
  const ts: number[] = [];
  const vs: number[] = [];
  for (let n = 0; n < 1_000_000 && it.next() !== ValueType.None; n++) {
    ts.push(it.atT());
    vs.push(it.atF());
  }
  return { ts, vs };
}

/** Every series a select returns, with its samples. */
export async function readAll(q: Querier, matchers: Matcher[], hints: Partial<SelectHints> = {}): Promise<Read[]> {
  const out: Read[] = [];
  for await (const s of q.select({ start: -Infinity, end: Infinity, ...hints }, matchers)) out.push({ labels: s.labels, ...drainIt(s.iterator()) });
  return out;
}

/** The scrape slot of a timestamp (offsets and jitter stay below half an interval in these tests). */
export function slotOf(t: number): number {
  return Math.round((t - T0) / I) + 0; // + 0: no -0 for times just before T0
}

/** Which replica each merged sample came from, by matching (t, v) against the replicas' own samples. */
export function sources(merged: { ts: number[]; vs: number[] }, reps: Record<string, Replica>): string {
  let out = '';
  for (let i = 0; i < merged.ts.length; i++) {
    const hit = Object.entries(reps).find(([, r]) => {
      const j = r.ts.indexOf(merged.ts[i]!);
      return j >= 0 && Object.is(r.vs[j], merged.vs[i]);
    });
    out += hit ? hit[0] : '?';
  }
  return out;
}

export function minSpacing(ts: number[]): number {
  let m = Infinity;
  for (let i = 1; i < ts.length; i++) m = Math.min(m, ts[i]! - ts[i - 1]!);
  return m;
}
