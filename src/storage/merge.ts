/**
 * A Querier over several Queriers (the head and a tenant's blocks): series sets are merged by labels;
 * a series present in several sources yields its samples in time order, a timestamp present in more
 * than one source once (the first source wins — sources are passed oldest first, head last or first
 * does not matter for identical data).
 */
import { compareLabels, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import {
  ValueType,
  type LabelHints,
  type Querier,
  type SampleIterator,
  type SelectHints,
  type Series,
  type SeriesSet,
} from './interface.js';

export class MergeQuerier implements Querier {
  constructor(private readonly queriers: readonly Querier[]) {}

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    if (this.queriers.length === 1) return this.queriers[0]!.select(hints, matchers);
    const sets = this.queriers.map((q) => q.select({ ...hints, limit: 0 }, matchers));
    const warnings: string[] = [];
    const limit = hints.limit && hints.limit > 0 ? hints.limit : Infinity;
    return {
      warnings,
      async *[Symbol.asyncIterator]() {
        const its = sets.map((s) => s[Symbol.asyncIterator]());
        const heads: (Series | undefined)[] = await Promise.all(its.map(async (it) => (await it.next()).value as Series | undefined));
        let emitted = 0;
        try {
          while (emitted < limit) {
            let min: Labels | undefined;
            for (const h of heads) if (h !== undefined && (min === undefined || compareLabels(h.labels, min) < 0)) min = h.labels;
            if (min === undefined) break;
            const same: Series[] = [];
            for (let i = 0; i < heads.length; i++) {
              const h = heads[i];
              if (h !== undefined && compareLabels(h.labels, min) === 0) {
                same.push(h);
                heads[i] = (await its[i]!.next()).value as Series | undefined;
              }
            }
            yield same.length === 1 ? same[0]! : new MergedSeries(same);
            emitted++;
          }
        } finally {
          for (const s of sets) warnings.push(...s.warnings);
        }
      },
    };
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const all = await Promise.all(this.queriers.map((q) => q.labelNames({ ...hints, limit: 0 }, matchers)));
    return union(all, hints.limit);
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const all = await Promise.all(this.queriers.map((q) => q.labelValues(name, { ...hints, limit: 0 }, matchers)));
    return union(all, hints.limit);
  }
}

function union(lists: string[][], limit?: number): string[] {
  const set = new Set<string>();
  for (const l of lists) for (const v of l) set.add(v);
  const out = [...set].sort();
  return limit && limit > 0 ? out.slice(0, limit) : out;
}

class MergedSeries implements Series {
  constructor(private readonly parts: readonly Series[]) {}
  get labels(): Labels {
    return this.parts[0]!.labels;
  }
  iterator(): SampleIterator {
    return new MergeIterator(this.parts.map((p) => p.iterator()));
  }
}

/**
 * Merges sorted sample iterators; equal timestamps are emitted once (the earliest source's value). Sources
 * usually take turns in long stretches (a block, then the head), so the iterator remembers the smallest
 * timestamp of the other sources: while the current source stays below it, a step advances that source
 * alone, without looking at the others.
 */
export class MergeIterator implements SampleIterator {
  /**
   * Current timestamp of each source, or NaN when it is exhausted or not started. The entry of `cur` is
   * stale while the fast path runs (`t` is its value); `sync()` writes it back before the others are read.
   */
  private readonly at: number[];
  private started = false;
  private cur = -1;
  private curIt: SampleIterator | null = null;
  /** The smallest current timestamp among the sources other than `cur` (Infinity when none). */
  private bound = Infinity;
  private t = 0;
  private v = 0;

  constructor(private readonly its: readonly SampleIterator[]) {
    this.at = its.map(() => NaN);
  }

  private start(): void {
    this.started = true;
    for (let i = 0; i < this.its.length; i++) this.at[i] = this.its[i]!.next() === ValueType.None ? NaN : this.its[i]!.atT();
  }

  private pick(): ValueType {
    let best = -1;
    let bestT = Infinity;
    let second = Infinity;
    for (let i = 0; i < this.at.length; i++) {
      const a = this.at[i]!;
      if (Number.isNaN(a)) continue;
      if (best < 0 || a < bestT) {
        if (best >= 0) second = bestT;
        best = i;
        bestT = a;
      } else if (a < second) second = a;
    }
    this.cur = best;
    this.bound = second;
    if (best < 0) {
      this.curIt = null;
      return ValueType.None;
    }
    this.curIt = this.its[best]!;
    this.t = bestT;
    this.v = this.curIt.atF();
    return ValueType.Float;
  }

  next(): ValueType {
    if (!this.started) {
      this.start();
      return this.pick();
    }
    const it = this.curIt;
    if (it === null) return ValueType.None;
    if (this.bound > this.t) {
      // Only the current source sits on t: advance it alone; it stays the pick while below the others.
      if (it.next() === ValueType.None) {
        this.at[this.cur] = NaN;
        return this.pick();
      }
      const a = it.atT();
      if (a < this.bound) {
        this.t = a;
        this.v = it.atF();
        return ValueType.Float;
      }
      this.at[this.cur] = a;
      return this.pick();
    }
    // Advance every source sitting on the current timestamp (duplicates across sources collapse).
    this.at[this.cur] = this.t;
    for (let i = 0; i < this.its.length; i++) {
      if (this.at[i] === this.t) this.at[i] = this.its[i]!.next() === ValueType.None ? NaN : this.its[i]!.atT();
    }
    return this.pick();
  }

  seek(t: number): ValueType {
    if (!this.started) this.start();
    else if (this.cur < 0) return ValueType.None;
    else this.at[this.cur] = this.t;
    if (this.cur >= 0 && this.t >= t) return ValueType.Float;
    for (let i = 0; i < this.its.length; i++) {
      const a = this.at[i]!;
      if (!Number.isNaN(a) && a < t) this.at[i] = this.its[i]!.seek(t) === ValueType.None ? NaN : this.its[i]!.atT();
    }
    return this.pick();
  }

  atT(): number {
    return this.t;
  }
  atF(): number {
    return this.v;
  }
}
