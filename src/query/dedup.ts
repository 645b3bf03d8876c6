/**
 * Query-time replica deduplication as a Querier wrapper (Thanos Query's `--query.replica-label` and `dedup`):
 * series that differ only in replica labels are one series, without those labels, whose samples are the
 * replicas merged by `DedupIterator`'s penalty rule.
 *
 * As in Thanos, matchers go to the inner querier unchanged, so `{replica="a"}` still selects one replica (and
 * its series then comes out without the label). Label names leave the replica labels out; a replica label
 * has no values.
 */
import { compareLabels, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import type { LabelHints, Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet } from '../storage/interface.js';
import { DedupIterator, isCounterFunction } from './dedup-iterator.js';

/** Labels without any of the replica labels (the same array when it has none of them). */
export function withoutReplicaLabels(ls: Labels, replica: ReadonlySet<string>): Labels {
  let out: string[] | null = null;
  for (let i = 0; i < ls.length; i += 2) {
    if (replica.has(ls[i]!)) {
      if (out === null) out = ls.slice(0, i);
    } else if (out !== null) out.push(ls[i]!, ls[i + 1]!);
  }
  return out === null ? ls : Object.freeze(out);
}

class RelabeledSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly inner: Series,
  ) {}
  iterator(): SampleIterator {
    return this.inner.iterator();
  }
}

class DedupSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly replicas: readonly Series[],
    private readonly counter: boolean,
  ) {}
  iterator(): SampleIterator {
    return new DedupIterator(
      this.replicas.map((r) => r.iterator()),
      this.counter,
    );
  }
}

interface Entry {
  key: Labels;
  series: Series;
}

export class DedupQuerier implements Querier {
  private readonly replica: ReadonlySet<string>;

  constructor(
    private readonly inner: Querier,
    replicaLabels: readonly string[],
  ) {
    if (replicaLabels.length === 0) throw new Error('DedupQuerier needs at least one replica label');
    this.replica = new Set(replicaLabels);
  }

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    // The limit counts deduplicated series, so the inner querier must not cut before the merge.
    const set = this.inner.select({ ...hints, limit: 0 }, matchers);
    const limit = hints.limit && hints.limit > 0 ? hints.limit : Infinity;
    const counter = isCounterFunction(hints.func);
    const replica = this.replica;
    const warnings: string[] = [];
    return {
      warnings,
      async *[Symbol.asyncIterator]() {
        // The inner set is sorted by full labels; without the replica labels the order changes (a replica
        // label can sort anywhere among the names) and replicas of one series need not be adjacent. So the
        // series handles (labels and lazy iterators, never samples) are gathered and sorted by their labels
        // without replica labels, as Thanos's querier does; the stable sort keeps replicas in inner order.
        const entries: Entry[] = [];
        let sorted = true;
        try {
          for await (const s of set) {
            const key = withoutReplicaLabels(s.labels, replica);
            if (sorted && entries.length > 0 && compareLabels(entries[entries.length - 1]!.key, key) > 0) sorted = false;
            entries.push({ key, series: s });
          }
        } finally {
          warnings.push(...set.warnings);
        }
        if (!sorted) entries.sort((a, b) => compareLabels(a.key, b.key));
        let emitted = 0;
        for (let i = 0; i < entries.length && emitted < limit; ) {
          const first = entries[i]!;
          let j = i + 1;
          while (j < entries.length && compareLabels(entries[j]!.key, first.key) === 0) j++;
          if (j - i === 1) {
            yield first.key === first.series.labels ? first.series : new RelabeledSeries(first.key, first.series);
          } else {
            const parts: Series[] = new Array(j - i);
            for (let k = i; k < j; k++) parts[k - i] = entries[k]!.series;
            yield new DedupSeries(first.key, parts, counter);
          }
          emitted++;
          i = j;
        }
      },
    };
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const names = (await this.inner.labelNames({ ...hints, limit: 0 }, matchers)).filter((n) => !this.replica.has(n));
    return hints.limit && hints.limit > 0 ? names.slice(0, hints.limit) : names;
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    if (this.replica.has(name)) return [];
    return this.inner.labelValues(name, hints, matchers);
  }
}

export class DedupQueryable implements Queryable {
  constructor(
    private readonly inner: Queryable,
    private readonly replicaLabels: readonly string[],
  ) {}
  querier(): Querier {
    return new DedupQuerier(this.inner.querier(), this.replicaLabels);
  }
}

/** `q` deduplicated over `replicaLabels`, or `q` itself when there are none (dedup off). */
export function dedupQuerier(q: Querier, replicaLabels: readonly string[]): Querier {
  return replicaLabels.length === 0 ? q : new DedupQuerier(q, replicaLabels);
}

export function dedupQueryable(q: Queryable, replicaLabels: readonly string[]): Queryable {
  return replicaLabels.length === 0 ? q : new DedupQueryable(q, replicaLabels);
}
