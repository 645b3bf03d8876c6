/**
 * The storage a test script runs against: the real in-memory head for float samples, plus the positions of
 * the native-histogram samples the scripts load (the head holds floats only). A selected series yields its
 * float samples from the head and a histogram-typed sample at each histogram position, so the engine meets
 * the histogram exactly where Prometheus would, and answers with its clear "not supported" error instead
 * of a number computed from partial data.
 */
import { compareLabels, labelsKey, type Labels } from '../../src/model/labels.js';
import { matchesAll, type Matcher } from '../../src/model/matcher.js';
import {
  ValueType,
  type LabelHints,
  type Querier,
  type Queryable,
  type SampleIterator,
  type SelectHints,
  type Series,
  type SeriesSet,
} from '../../src/storage/interface.js';
import { Head } from '../../src/tsdb/head/index.js';

interface HistogramPositions {
  labels: Labels;
  ts: number[];
}

const EMPTY_ITERATOR: SampleIterator = {
  next: () => ValueType.None,
  seek: () => ValueType.None,
  atT: () => 0,
  atF: () => 0,
};

/** Float samples from `floats`, merged with histogram samples at `hist` (sorted, within [mint, maxt]). */
class MarkedIterator implements SampleIterator {
  private hi = 0;
  private floatT = NaN;
  private floatF = 0;
  private floatDone = false;
  private t = 0;
  private f = 0;

  constructor(
    private readonly floats: SampleIterator,
    private readonly hist: number[],
  ) {
    this.pullFloat();
  }

  private pullFloat(): void {
    if (this.floatDone) return;
    if (this.floats.next() === ValueType.None) {
      this.floatDone = true;
      this.floatT = Infinity;
      return;
    }
    this.floatT = this.floats.atT();
    this.floatF = this.floats.atF();
  }

  next(): ValueType {
    const h = this.hi < this.hist.length ? this.hist[this.hi]! : Infinity;
    if (h === Infinity && this.floatT === Infinity) return ValueType.None;
    if (h <= this.floatT) {
      this.t = h;
      this.f = NaN;
      this.hi++;
      if (h === this.floatT) this.pullFloat();
      return ValueType.Histogram;
    }
    this.t = this.floatT;
    this.f = this.floatF;
    this.pullFloat();
    return ValueType.Float;
  }

  seek(t: number): ValueType {
    for (;;) {
      const vt = this.next();
      if (vt === ValueType.None || this.t >= t) return vt;
    }
  }

  atT(): number {
    return this.t;
  }

  atF(): number {
    return this.f;
  }
}

export class ScriptStorage implements Queryable {
  readonly head = new Head('promqltest', { outOfOrderWindowMs: Number.MAX_SAFE_INTEGER });
  private readonly hist = new Map<string, HistogramPositions>();

  /** Records native-histogram samples of a series at the given timestamps. */
  addHistogramSamples(labels: Labels, ts: number[]): void {
    if (ts.length === 0) return;
    const key = labelsKey(labels);
    let h = this.hist.get(key);
    if (h === undefined) this.hist.set(key, (h = { labels, ts: [] }));
    h.ts.push(...ts);
    h.ts = [...new Set(h.ts)].sort((a, b) => a - b);
  }

  get hasHistograms(): boolean {
    return this.hist.size > 0;
  }

  querier(): Querier {
    const inner = this.head.querier();
    const hist = this.hist;
    return {
      select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
        const set = inner.select(hints, matchers);
        return {
          get warnings() {
            return set.warnings;
          },
          async *[Symbol.asyncIterator]() {
            const out: Series[] = [];
            const seen = new Set<string>();
            for await (const s of set) {
              const key = labelsKey(s.labels);
              seen.add(key);
              const h = hist.get(key);
              if (h === undefined) out.push(s);
              else {
                const ts = h.ts.filter((t) => t >= hints.start && t <= hints.end);
                out.push({ labels: s.labels, iterator: () => new MarkedIterator(s.iterator(), ts) });
              }
            }
            for (const [key, h] of hist) {
              if (seen.has(key) || !matchesAll(matchers, h.labels)) continue;
              const ts = h.ts.filter((t) => t >= hints.start && t <= hints.end);
              if (ts.length === 0) continue;
              out.push({ labels: h.labels, iterator: () => new MarkedIterator(EMPTY_ITERATOR, ts) });
            }
            out.sort((a, b) => compareLabels(a.labels, b.labels));
            yield* out;
          },
        };
      },
      labelNames: (h: LabelHints, m: readonly Matcher[]) => inner.labelNames(h, m),
      labelValues: (n: string, h: LabelHints, m: readonly Matcher[]) => inner.labelValues(n, h, m),
    };
  }
}
