// Query-time replica dedup over a real head: the penalty merge (gaps filled, no flapping), counters across
// switches (rate/increase/irate/resets against the single-replica truth), three replicas, and the querier's
// label handling (grouping, matchers, label names/values, limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelsFromObject } from '../../src/model/labels.js';
import { STALE_NAN, isStaleNaN } from '../../src/model/value.js';
import { ValueType } from '../../src/storage/interface.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { Engine, type QueryResult } from '../../src/promql/engine/index.js';
import { DedupQuerier, DedupQueryable } from '../../src/query/index.js';
import { rng } from '../support/random.js';
import { I, T0, headWith, minSpacing, nameIs, range, readAll, replica, slotOf, sources, type Replica } from './replicas.js';

const N = 20;

test('two replicas missing different scrapes: the merged series has every scrape exactly once', async () => {
  for (const offsetB of [0, 4_000, -3_000]) {
    const a = replica({ __name__: 'g', job: 'x', replica: 'a' }, N, { miss: [3, 4, 5], value: (k) => 100 + k });
    const b = replica({ __name__: 'g', job: 'x', replica: 'b' }, N, { miss: [8, 9], offset: offsetB, value: (k) => 200 + k });
    const head = await headWith([a, b]);
    const got = await readAll(new DedupQuerier(head.querier(), ['replica']), nameIs('g'));
    assert.equal(got.length, 1, `offset ${offsetB}`);
    assert.deepEqual(got[0]!.labels, labelsFromObject({ __name__: 'g', job: 'x' }));
    const { ts, vs } = got[0]!;
    assert.deepEqual(ts.map(slotOf), range(0, N - 1), `offset ${offsetB}: every slot once`);
    // Values are the scrapes themselves (k from the replica that had it).
    assert.deepEqual(vs.map((v) => v % 100), range(0, N - 1));
    // Stay on one replica, switch only at a gap: the earliest replica until its gap, then b until b's gap.
    const first = offsetB < 0 ? 'b' : 'a';
    const expected = first === 'a' ? 'aaabbbbbaaaaaaaaaaaa' : 'bbbbbbbbaaaaaaaaaaaa';
    assert.equal(sources({ ts, vs }, { a, b }), expected, `offset ${offsetB}`);
    assert.ok(minSpacing(ts) >= I / 2);
  }
});

test('penalty rule: jittered replicas do not flap, and no two merged samples are closer than half the interval', async () => {
  const r = rng(42);
  const J = 1_000; // scrape jitter, ± ms
  const n = 240;
  const jitter = () => Math.round((r() * 2 - 1) * J);
  const ja = Array.from({ length: n }, jitter);
  const jb = Array.from({ length: n }, jitter);
  // No gaps: the whole merged series is one replica, sample for sample.
  {
    const a = replica({ __name__: 'g', replica: 'a' }, n, { jitter: (k) => ja[k]!, value: (k) => 1000 + k });
    const b = replica({ __name__: 'g', replica: 'b' }, n, { offset: 4_000, jitter: (k) => jb[k]!, value: (k) => 2000 + k });
    const head = await headWith([a, b]);
    const [m] = await readAll(new DedupQuerier(head.querier(), ['replica']), nameIs('g'));
    assert.deepEqual(m!.ts, a.ts);
    assert.deepEqual(m!.vs, a.vs);
  }
  // Isolated gaps in both (never the same slot): every slot once, one switch per gap met, none otherwise.
  {
    const missA = [10, 11, 50, 90, 91, 92, 150, 200];
    const missB = [30, 31, 70, 120, 121, 180, 181, 182];
    const a = replica({ __name__: 'g', replica: 'a' }, n, { miss: missA, jitter: (k) => ja[k]!, value: (k) => 1000 + k });
    const b = replica({ __name__: 'g', replica: 'b' }, n, { miss: missB, offset: 4_000, jitter: (k) => jb[k]!, value: (k) => 2000 + k });
    const head = await headWith([a, b]);
    const [m] = await readAll(new DedupQuerier(head.querier(), ['replica']), nameIs('g'));
    assert.deepEqual(m!.vs.map((v) => v % 1000), range(0, n - 1));
    assert.ok(minSpacing(m!.ts) >= I / 2, `min spacing ${minSpacing(m!.ts)}`);
    const src = sources(m!, { a, b });
    // Stay on one replica until it misses a scrape, then on the other until that one misses.
    let expected = '';
    for (let k = 0, cur = 'a'; k < n; k++) {
      if ((cur === 'a' ? missA : missB).includes(k)) cur = cur === 'a' ? 'b' : 'a';
      expected += cur;
    }
    assert.equal(src, expected);
    assert.equal(src.replace(/(.)\1*/g, '$1'), 'ababababab');
  }
});

test('a longer scrape interval mid-series: the merge settles on one replica after a few samples (no lasting flapping)', async () => {
  // 15 s for 5 minutes, then 1 m (a config change); b scrapes 7 s later, then 30 s later than a.
  const mk = (name: string, offset15: number, offset60: number): Replica => {
    const ts: number[] = [];
    for (let k = 0; k < 20; k++) ts.push(T0 + k * I + offset15);
    for (let k = 0; k < 20; k++) ts.push(T0 + 20 * I + k * 60_000 + offset60);
    return { labels: { __name__: 'g', replica: name }, ts, vs: ts.map((_, i) => (name === 'a' ? 1000 : 2000) + i) };
  };
  const a = mk('a', 0, 0);
  const b = mk('b', 7_000, 30_000);
  const head = await headWith([a, b]);
  const [m] = await readAll(new DedupQuerier(head.querier(), ['replica']), nameIs('g'));
  const src = sources(m!, { a, b });
  const after = src.slice(20);
  // Both replicas' samples interleaved would be 40; flapping stops once three 1 m deltas are seen.
  assert.ok(after.length <= 24, `${after.length} samples after the change: ${after}`);
  assert.match(after, /(a{12,}|b{12,})$/);
  assert.ok(minSpacing(m!.ts) >= I / 2);
});

/** The merged samples as the engine reads them for a function (the hint selects counter handling). */
async function merged(q: DedupQuerier, func?: string) {
  const [m] = await readAll(q, nameIs('c_total'), func ? { func } : {});
  return m!;
}

function matrixOf(r: QueryResult): { ts: number[]; fs: number[] } {
  assert.equal(r.value.resultType, 'matrix');
  if (r.value.resultType !== 'matrix') throw new Error('not a matrix');
  assert.equal(r.value.series.length, 1);
  return { ts: [...r.value.series[0]!.ts], fs: [...r.value.series[0]!.fs] };
}

test('counters: a switch to a replica that counts lower or higher shows no false reset; rate/increase equal the single-replica truth', async () => {
  const r = rng(7);
  const n = 40;
  const cum: number[] = [];
  for (let k = 0, c = 0; k < n; k++) cum.push((c += Math.floor(r() * 10)));
  const engine = new Engine();
  // The replicas count the same events; a's counter is 5000 higher (b restarted earlier and lost its count).
  for (const [name, missA, missB, truthBase] of [
    ['starts on the higher replica', range(10, 13), range(20, 22), 5000],
    ['starts on the lower replica', [0, 1, 25], range(5, 8), 0],
  ] as const) {
    const a = replica({ __name__: 'c_total', replica: 'a' }, n, { miss: missA, value: (k) => 5000 + cum[k]! });
    const b = replica({ __name__: 'c_total', replica: 'b' }, n, { miss: missB, value: (k) => cum[k]! });
    const truth = replica({ __name__: 'c_total' }, n, { value: (k) => truthBase + cum[k]! });
    const head = await headWith([a, b]);
    const truthHead = await headWith([truth]);
    const q = new DedupQuerier(head.querier(), ['replica']);
    // Raw selection: values switch replica, so the counter drops somewhere (what would read as a reset).
    const raw = await merged(q);
    assert.ok(raw.vs.some((v, i) => i > 0 && v < raw.vs[i - 1]!), `${name}: raw merge should drop`);
    for (const func of ['rate', 'increase', 'irate', 'resets']) {
      const m = await merged(q, func);
      assert.deepEqual(m.ts, truth.ts, `${name} ${func}`);
      assert.deepEqual(m.vs, truth.vs, `${name} ${func}: the merged counter is the single-replica counter`);
    }
    const end = T0 + (n - 1) * I;
    for (const expr of ['increase(c_total[1m])', 'rate(c_total[2m])', 'irate(c_total[1m])', 'resets(c_total[5m])']) {
      const got = matrixOf(await engine.rangeQuery(new DedupQueryable(head, ['replica']), expr, T0 + 60_000, end, I));
      const want = matrixOf(await engine.rangeQuery(truthHead, expr, T0 + 60_000, end, I));
      assert.deepEqual(got, want, `${name}: ${expr}`);
    }
  }
});

test('counters: replicas scraping at different times still show no reset, and increase stays close to the truth', async () => {
  const r = rng(99);
  const n = 120;
  // A counter of events at ~7/s; each replica reads it at its own scrape time; b's counter is 10_000 lower.
  const events: number[] = [];
  for (let s = 0, c = 0; s <= (n + 2) * 15; s++) events.push((c += Math.floor(r() * 15)));
  const at = (t: number) => events[Math.floor((t - T0) / 1000)]!;
  const a = replica({ __name__: 'c_total', replica: 'a' }, n, { miss: [...range(20, 24), 60, 61, 100], value: (_, t) => 10_000 + at(t) });
  const b = replica({ __name__: 'c_total', replica: 'b' }, n, { miss: [...range(40, 43), 80], offset: 6_000, value: (_, t) => at(t) });
  const truth = replica({ __name__: 'c_total' }, n, { value: (_, t) => 10_000 + at(t) });
  const head = await headWith([a, b]);
  const m = await merged(new DedupQuerier(head.querier(), ['replica']), 'increase');
  for (let i = 1; i < m.vs.length; i++) assert.ok(m.vs[i]! >= m.vs[i - 1]!, `decrease at ${i}`);
  const engine = new Engine();
  const end = T0 + (n - 1) * I;
  const resets = matrixOf(await engine.rangeQuery(new DedupQueryable(head, ['replica']), 'resets(c_total[10m])', T0 + 600_000, end, 60_000));
  assert.ok(resets.fs.every((v) => v === 0));
  const got = matrixOf(await engine.rangeQuery(new DedupQueryable(head, ['replica']), 'increase(c_total[5m])', T0 + 300_000, end, 60_000));
  const want = matrixOf(await engine.rangeQuery(await headWith([truth]), 'increase(c_total[5m])', T0 + 300_000, end, 60_000));
  assert.deepEqual(got.ts, want.ts);
  const worst = Math.max(...got.fs.map((v, i) => Math.abs(v - want.fs[i]!) / want.fs[i]!));
  // Windows across a switch lose or gain at most a fraction of one scrape's increase.
  assert.ok(worst < 0.05, `worst relative error ${worst}`);
});

test('three replicas: gaps in each are filled from the others, every scrape once', async () => {
  const a = replica({ __name__: 'g', replica: 'a' }, N, { miss: range(2, 4), value: (k) => 100 + k });
  const b = replica({ __name__: 'g', replica: 'b' }, N, { miss: [...range(0, 1), ...range(9, 12)], offset: 2_000, value: (k) => 200 + k });
  const c = replica({ __name__: 'g', replica: 'c' }, N, { miss: [...range(0, 3), ...range(6, 7), 15], offset: 5_000, value: (k) => 300 + k });
  const head = await headWith([a, b, c]);
  const [m] = await readAll(new DedupQuerier(head.querier(), ['replica']), nameIs('g'));
  assert.deepEqual(m!.ts.map(slotOf), range(0, N - 1));
  assert.deepEqual(m!.vs.map((v) => v % 100), range(0, N - 1));
  // a to its gap; b (earliest at slot 2) until its gap at 9; then a (earliest at 9) to the end.
  assert.equal(sources(m!, { a, b, c }), 'aabbbbbbbaaaaaaaaaaa');
  // When a and b both miss, c fills in.
  const a2 = replica({ __name__: 'g', replica: 'a' }, N, { miss: range(5, 9), value: (k) => 100 + k });
  const b2 = replica({ __name__: 'g', replica: 'b' }, N, { miss: range(4, 12), offset: 2_000, value: (k) => 200 + k });
  const c2 = replica({ __name__: 'g', replica: 'c' }, N, { miss: [...range(0, 3), 15], offset: 5_000, value: (k) => 300 + k });
  const head2 = await headWith([a2, b2, c2]);
  const [m2] = await readAll(new DedupQuerier(head2.querier(), ['replica']), nameIs('g'));
  assert.deepEqual(m2!.ts.map(slotOf), range(0, N - 1));
  assert.equal(sources(m2!, { a: a2, b: b2, c: c2 }), 'aaaaaccccccccccaaaaa');
});

test('querier: replicas are grouped by their labels without replica labels wherever the replica label sorts', async () => {
  const mk = (labels: Record<string, string>, v: number): Replica => replica(labels, 3, { value: () => v });
  // `__replica__` sorts between __name__ and job: replicas of one series are not adjacent in the inner order.
  const series = [
    mk({ __name__: 'up', __replica__: 'A', job: 'x' }, 1),
    mk({ __name__: 'up', __replica__: 'A', job: 'y' }, 2),
    mk({ __name__: 'up', __replica__: 'B', job: 'x' }, 3),
    mk({ __name__: 'up', __replica__: 'B', job: 'y' }, 4),
    mk({ __name__: 'up', job: 'z', zone: 'q' }, 5),
    mk({ __name__: 'up', job: 'w' }, 6),
    mk({ __name__: 'up', __replica__: 'C', job: 'w', replica: 'r1' }, 7),
  ];
  const head = await headWith(series);
  const q = new DedupQuerier(head.querier(), ['__replica__', 'replica']);
  const got = await readAll(q, nameIs('up'));
  assert.deepEqual(
    got.map((s) => [s.labels, s.vs]),
    [
      // Without replica labels, `{job="w"}` and its replica C are one series; at equal timestamps the first in
      // the inner (full-label) order wins, and `__replica__` sorts before `job`.
      [labelsFromObject({ __name__: 'up', job: 'w' }), [7, 7, 7]],
      [labelsFromObject({ __name__: 'up', job: 'x' }), [1, 1, 1]],
      [labelsFromObject({ __name__: 'up', job: 'y' }), [2, 2, 2]],
      [labelsFromObject({ __name__: 'up', job: 'z', zone: 'q' }), [5, 5, 5]],
    ],
  );
  // Matchers on a replica label pass through (as Thanos): one replica, without its label.
  const onlyB = await readAll(q, [...nameIs('up'), new Matcher(MatchType.Equal, '__replica__', 'B')]);
  assert.deepEqual(
    onlyB.map((s) => [s.labels, s.vs]),
    [
      [labelsFromObject({ __name__: 'up', job: 'x' }), [3, 3, 3]],
      [labelsFromObject({ __name__: 'up', job: 'y' }), [4, 4, 4]],
    ],
  );
  // The limit counts deduplicated series.
  const limited: string[] = [];
  for await (const s of q.select({ start: -Infinity, end: Infinity, limit: 2 }, nameIs('up'))) limited.push(s.labels.join(','));
  assert.deepEqual(limited, ['__name__,up,job,w', '__name__,up,job,x']);
  // Label names leave the replica labels out; a replica label has no values; others are untouched.
  const hints = { start: -Infinity, end: Infinity };
  assert.deepEqual(await q.labelNames(hints, nameIs('up')), ['__name__', 'job', 'zone']);
  assert.deepEqual(await q.labelNames({ ...hints, limit: 2 }, nameIs('up')), ['__name__', 'job']);
  assert.deepEqual(await head.querier().labelNames(hints, nameIs('up')), ['__name__', '__replica__', 'job', 'replica', 'zone']);
  assert.deepEqual(await q.labelValues('__replica__', hints, []), []);
  assert.deepEqual(await q.labelValues('replica', hints, []), []);
  assert.deepEqual(await q.labelValues('job', hints, []), ['w', 'x', 'y', 'z']);
});

test('stale markers pass through bit for bit, also in counter mode', async () => {
  const a = replica({ __name__: 'c_total', replica: 'a' }, 5, { value: (k) => 500 + k });
  const b = replica({ __name__: 'c_total', replica: 'b' }, 8, { miss: [0], offset: 2_000, value: (k) => k });
  const head = await headWith([a, b]);
  // a's target goes away: a stale marker after its last scrape (appended here: a JS array would lose its bits).
  const app = head.appender();
  app.append(0, labelsFromObject(a.labels), T0 + 5 * I, STALE_NAN);
  await app.commit();
  for (const func of [undefined, 'rate']) {
    const [s] = await collect(new DedupQuerier(head.querier(), ['replica']).select({ start: -Infinity, end: Infinity, ...(func ? { func } : {}) }, nameIs('c_total')));
    const it = s!.iterator();
    const slots: number[] = [];
    const vs: number[] = [];
    while (it.next() !== ValueType.None) {
      slots.push(slotOf(it.atT()));
      // Checked on the iterator's own value: a JS array of doubles may canonicalise NaN.
      if (slots.length === 6) assert.ok(isStaleNaN(it.atF()), `${func}: the stale marker of a is kept`);
      else vs.push(it.atF());
    }
    assert.deepEqual(slots, range(0, 7));
    // After a stale marker there is no value to continue from: b's own values (as Thanos).
    assert.deepEqual(vs, [500, 501, 502, 503, 504, 6, 7]);
  }
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
