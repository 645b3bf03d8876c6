// Direct tests of the PromQL engine over the in-memory head: instant vs range evaluation, lookback and
// staleness, error types, annotations, limits, timeout and cancellation, and yielding to the event loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { Engine, PromQLError, type QueryResult } from '../../src/promql/engine/index.js';
import {
  ValueType,
  type Querier,
  type Queryable,
  type SampleIterator,
  type Series,
  type SeriesSet,
} from '../../src/storage/interface.js';
import { Head } from '../../src/tsdb/head/index.js';

const MIN = 60_000;

async function load(series: Record<string, number[]>, stepMs = MIN): Promise<Head> {
  const head = new Head('test', { outOfOrderWindowMs: Number.MAX_SAFE_INTEGER });
  const app = head.appender();
  for (const [text, values] of Object.entries(series)) {
    const m = /^(\w+)(?:\{(.*)\})?$/.exec(text)!;
    const obj: Record<string, string> = { __name__: m[1]! };
    for (const pair of (m[2] ?? '').split(',').filter(Boolean)) {
      const [k, v] = pair.split('=') as [string, string];
      obj[k] = v.replace(/"/g, '');
    }
    values.forEach((v, i) => app.append(0, labelsFromObject(obj), i * stepMs, v));
  }
  await app.commit();
  return head;
}

function vector(r: QueryResult): Record<string, number> {
  assert.equal(r.value.resultType, 'vector');
  const out: Record<string, number> = {};
  if (r.value.resultType === 'vector') for (const s of r.value.series) out[JSON.stringify(s.labels)] = s.f;
  return out;
}

async function rejects(p: Promise<unknown>, errorType: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PromQLError, `not a PromQLError: ${String(err)}`);
    assert.equal(err.errorType, errorType);
    assert.match(err.message, message);
    return true;
  });
}

describe('promql engine', () => {
  it('gives the same values for instant queries and for each step of a range query', async () => {
    const head = await load({
      'http_requests_total{job="a"}': [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
      'http_requests_total{job="b"}': [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200],
    });
    const engine = new Engine();
    const q = 'sum by (job) (rate(http_requests_total[5m])) * 60';
    const range = await engine.rangeQuery(head, q, 5 * MIN, 10 * MIN, MIN);
    assert.equal(range.value.resultType, 'matrix');
    if (range.value.resultType !== 'matrix') return;
    assert.deepEqual(
      range.value.series.map((s) => s.labels),
      [['job', 'a'], ['job', 'b']],
    );
    for (const s of range.value.series) {
      assert.equal(s.ts.length, 6);
      for (let i = 0; i < s.ts.length; i++) {
        const inst = vector(await engine.instantQuery(head, q, s.ts[i]!));
        assert.equal(inst[JSON.stringify(s.labels)], s.fs[i]);
      }
    }
    assert.deepEqual(Array.from(range.value.series[0]!.fs), [10, 10, 10, 10, 10, 10]);
  });

  it('looks back 5 minutes by default, honours stale markers and a per-query lookback', async () => {
    const head = new Head('test');
    const app = head.appender();
    const ls = labelsFromObject({ __name__: 'up', job: 'x' });
    app.append(0, ls, 0, 1);
    app.append(0, ls, 30_000, STALE_NAN);
    app.append(0, ls, 60_000, 2);
    await app.commit();
    const engine = new Engine();
    assert.deepEqual(Object.values(vector(await engine.instantQuery(head, 'up', 20_000))), [1]);
    assert.deepEqual(Object.values(vector(await engine.instantQuery(head, 'up', 40_000))), [], 'stale marker hides the series');
    assert.deepEqual(Object.values(vector(await engine.instantQuery(head, 'up', 60_000 + 5 * MIN - 1))), [2]);
    assert.deepEqual(Object.values(vector(await engine.instantQuery(head, 'up', 60_000 + 5 * MIN))), []);
    const short = await engine.instantQuery(head, 'up', 90_000, { lookbackDeltaMs: 10_000 });
    assert.deepEqual(Object.values(vector(short)), []);
    // Range windows are left-open: (t-range, t]; the stale marker is never part of a window.
    const c = await engine.instantQuery(head, 'count_over_time(up[1m])', 60_000);
    assert.deepEqual(Object.values(vector(c)), [1]);
    // `+ 0` drops the name (in either name-removal mode).
    const r = await engine.instantQuery(head, 'last_over_time(up[2m]) + 0', 60_000);
    assert.deepEqual(Object.keys(vector(r)), [JSON.stringify(['job', 'x'])]);
  });

  it('returns scalars, strings and range vectors for instant queries', async () => {
    const head = await load({ m: [1, 2, 3] });
    const engine = new Engine();
    const s = await engine.instantQuery(head, 'scalar(m) * 2', 2 * MIN);
    assert.deepEqual(s.value, { resultType: 'scalar', t: 2 * MIN, f: 6 });
    const str = await engine.instantQuery(head, '"hello"', 1000);
    assert.deepEqual(str.value, { resultType: 'string', t: 1000, s: 'hello' });
    const mat = await engine.instantQuery(head, 'm[2m]', 2 * MIN);
    assert.equal(mat.value.resultType, 'matrix');
    if (mat.value.resultType === 'matrix') {
      assert.deepEqual(Array.from(mat.value.series[0]!.ts), [MIN, 2 * MIN]);
      assert.deepEqual(Array.from(mat.value.series[0]!.fs), [2, 3]);
    }
  });

  it('reports errors with Prometheus error types and messages', async () => {
    const head = await load({ 'a{x="1",y="1"}': [1], 'a{x="1",y="2"}': [1], 'b{x="1"}': [1] });
    const engine = new Engine();
    await rejects(engine.instantQuery(head, 'sum(', 0), 'bad_data', /^1:5: parse error: /);
    await rejects(
      engine.rangeQuery(head, 'a[5m]', 0, MIN, MIN),
      'bad_data',
      /^invalid expression type "range vector" for range query, must be Scalar or instant Vector$/,
    );
    await rejects(engine.rangeQuery(head, 'a', 0, MIN, 0), 'bad_data', /step widths/);
    await rejects(
      engine.instantQuery(head, 'b + on(x) a', 0),
      'execution',
      /^found duplicate series for the match group \{x="1"\} on the right hand-side of the operation: \[\{__name__="a", x="1", y="1"\}, \{__name__="a", x="1", y="2"\}\];many-to-many matching not allowed: matching labels must be unique on one side$/,
    );
    await rejects(engine.instantQuery(head, 'label_replace(a, "y", "1", "", "")', 0), 'execution', /^vector cannot contain metrics with the same labelset$/);
    await rejects(engine.instantQuery(head, 'topk(NaN, a)', 0), 'execution', /^Parameter value is NaN$/);
  });

  it('emits the possible-non-counter info and other annotations with positions', async () => {
    const head = await load({ requests: [0, 1, 2, 3], requests_total: [0, 1, 2, 3] });
    const engine = new Engine();
    const r = await engine.instantQuery(head, 'rate(requests[5m]) + rate(requests_total[5m])', 3 * MIN);
    assert.deepEqual(r.infos, [
      'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "requests" (1:6)',
    ]);
    const w = await engine.rangeQuery(head, 'sort(requests)', 0, MIN, MIN);
    assert.deepEqual(w.warnings, ['PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:1)']);
  });

  it('fails a query that would hold more samples than the limit', async () => {
    const head = await load({ 'm{i="1"}': new Array(100).fill(1), 'm{i="2"}': new Array(100).fill(1) });
    const small = new Engine({ maxSamples: 50 });
    await rejects(
      small.rangeQuery(head, 'm', 0, 99 * MIN, MIN),
      'execution',
      /^query processing would load too many samples into memory in query execution$/,
    );
    const ok = await new Engine({ maxSamples: 1000 }).rangeQuery(head, 'm', 0, 99 * MIN, MIN);
    assert.ok(ok.stats.peakSamples >= 200 && ok.stats.peakSamples <= 1000, `peak ${ok.stats.peakSamples}`);
    assert.equal(ok.stats.samplesLoaded, 200);
  });

  it('counts samples in memory as Prometheus does (peak equals its limit; one less fails)', async () => {
    const ramp = Array.from({ length: 101 }, (_, i) => i + 1);
    const head = await load({ metric: ramp, 'bigmetric{a="1"}': ramp, 'bigmetric{a="2"}': ramp }, 10_000);
    // [query, peak samples, start s, end s, step s] from Prometheus's TestMaxQuerySamples.
    const cases: [string, number, number, number?, number?][] = [
      ['1', 1, 1],
      ['metric', 1, 1],
      ['metric[20s]', 2, 10],
      ['rate(metric[20s])', 3, 10],
      ['metric[20s:5s]', 3, 10],
      ['metric[20s] @ 10', 2, 0],
      ['1', 3, 0, 2, 1],
      ['metric', 3, 0, 2, 1],
      ['metric', 3, 0, 10, 5],
      ['rate(bigmetric[1s])', 1, 0, 10, 5],
      ['metric @ 10', 3, 0, 10, 5],
      ['rate(bigmetric[10s:1s] @ 10)', 32, 0, 10, 5],
      ['rate(bigmetric[10s:1s] @ 10) + rate(bigmetric[10s:1s] @ 30)', 34, 0, 10, 5],
      ['rate(bigmetric[10s:1s]) + rate(bigmetric[10s:1s] @ 30)', 56, 10, 20, 5],
      ['rate(rate(bigmetric[10:1s] @ 10)[100s:25s] @ 1000)[100s:20s] @ 2000', 32, 10],
      ['rate(rate(bigmetric[10s:1s] @ 10)[100s:25s] @ 1000)[17s:1s] @ 2000', 34, 10],
    ];
    for (const [q, peak, start, end, step] of cases) {
      const run = (max: number): Promise<QueryResult> => {
        const e = new Engine({ maxSamples: max });
        return step === undefined ? e.instantQuery(head, q, start * 1000) : e.rangeQuery(head, q, start * 1000, end! * 1000, step * 1000);
      };
      assert.equal((await run(peak)).stats.peakSamples, peak, q);
      // (A limit of 0 means the default limit.)
      if (peak > 1) await rejects(run(peak - 1), 'execution', /too many samples/);
    }
  });

  it('agrees with Prometheus on anchored/smoothed windows, subqueries and @ (its engine tests)', async () => {
    const head = new Head('test', { outOfOrderWindowMs: Number.MAX_SAFE_INTEGER });
    const app = head.appender();
    const add = (name: string, values: number[], step: number, from = 0): void => {
      values.forEach((v, i) => app.append(0, labelsFromObject({ __name__: name }), from + i * step, v));
    };
    add('metric', Array.from({ length: 11 }, (_, i) => i + 1), 10_000);
    add('withreset', [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6], 10_000);
    add('notregular', [0, 5, 100, 2, 8], 10_000);
    add('neg', Array.from({ length: 1001 }, (_, i) => 1001 - i), 1000, -1_000_000);
    add('sub', [1, 2], 10_000, 1_000_000);
    await app.commit();
    const engine = new Engine();
    // [query, time s, expected points as [t ms, value]]
    const cases: [string, number, [number, number][]][] = [
      ['metric[10s] smoothed', 15, [[5000, 1.5], [10000, 2], [15000, 2.5]]],
      ['metric[10s] smoothed', 5, [[-5000, 1], [0, 1], [5000, 1.5]]],
      ['metric[10s] smoothed', 105, [[95000, 10.5], [100000, 11], [105000, 11]]],
      ['withreset[10s] smoothed', 45, [[35000, 4.5], [40000, 5], [45000, 3]]],
      ['metric[10s] anchored', 15, [[5000, 1], [10000, 2], [15000, 2]]],
      ['metric[10s] anchored', 105, [[95000, 10], [100000, 11], [105000, 11]]],
      ['withreset[10s] anchored', 45, [[35000, 4], [40000, 5], [45000, 5]]],
      ['notregular[20s] smoothed', 30, [[10000, 5], [20000, 100], [30000, 2]]],
      ['neg[2s] @ 0', 100, [[-1000, 2], [0, 1]]],
      ['neg[50s:25s] @ 0', 100, [[-25000, 26], [0, 1]]],
      ['neg[50s1ms:25s] @ -100', 100, [[-150000, 151], [-125000, 126], [-100000, 101]]],
      ['sub[20s:5s] offset 4s', 1_035, [[1_015_000, 2], [1_020_000, 2], [1_025_000, 2], [1_030_000, 2]]],
      ['sub[20s:5s] offset 6s', 1_035, [[1_010_000, 2], [1_015_000, 2], [1_020_000, 2], [1_025_000, 2]]],
    ];
    for (const [q, time, want] of cases) {
      const r = await engine.instantQuery(head, q, time * 1000);
      assert.equal(r.value.resultType, 'matrix', q);
      if (r.value.resultType !== 'matrix') continue;
      const s = r.value.series[0]!;
      assert.deepEqual([...s.ts].map((t, i) => [t, s.fs[i]]), want, q);
    }
  });

  it('times out and can be cancelled', async () => {
    const head = await load({ m: [1, 2, 3] });
    const slow = slowQueryable(head, 50);
    const engine = new Engine({ timeoutMs: 20 });
    await rejects(engine.instantQuery(slow, 'm + m + m', 2 * MIN), 'timeout', /^query timed out in expression evaluation$/);
    const ac = new AbortController();
    const p = new Engine().instantQuery(slow, 'm + m + m', 2 * MIN, { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await rejects(p, 'canceled', /^query was canceled/);
    ac.abort();
    await rejects(new Engine().instantQuery(head, 'm', 0, { signal: ac.signal }), 'canceled', /canceled/);
  });

  it('answers a native histogram sample with a clear error instead of a number', async () => {
    const q: Queryable = {
      querier: () => fixedQuerier([{ labels: labelsFromObject({ __name__: 'h' }), types: [ValueType.Histogram] }]),
    };
    await rejects(new Engine().instantQuery(q, 'h', 0), 'execution', /native histograms are not supported/);
  });

  it('yields to the event loop during a heavy query', async () => {
    const series: Record<string, number[]> = {};
    for (let i = 0; i < 300; i++) series[`g{i="${i}"}`] = Array.from({ length: 400 }, (_, k) => (k * 7 + i) % 13);
    const head = await load(series, 15_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    await new Engine().rangeQuery(head, 'quantile_over_time(0.5, g[10m]) + on(i) group_left avg_over_time(g[5m])', 0, 400 * 15_000, 15_000);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // The timer must have run during the query, not only after it.
    if (elapsed > 50) assert.ok(ticks > 0, `no timer tick during a ${elapsed.toFixed(0)}ms query`);
  });
});

describe('promql engine: metric name removal', () => {
  const key = (obj: Record<string, string>): string => JSON.stringify(labelsFromObject(obj));
  const eager = new Engine();
  const delayed = new Engine({ enableDelayedNameRemoval: true });

  it('removes the name eagerly by default: label_replace no longer sees it', async () => {
    const head = await load({ 'req_total{job="a"}': [0, 60, 120, 180] });
    const q = 'label_replace(rate(req_total[5m]), "n", "$1", "__name__", "(.+)")';
    const labelsOf = async (e: Engine, query: string): Promise<string[]> => Object.keys(vector(await e.instantQuery(head, query, 3 * MIN)));
    assert.deepEqual(await labelsOf(eager, q), [key({ job: 'a' })]);
    assert.deepEqual(await labelsOf(delayed, q), [key({ job: 'a', n: 'req_total' })]);
    // Setting the name again keeps it in both modes.
    const back = 'label_replace(rate(req_total[5m]), "__name__", "r", "job", "(.+)")';
    for (const e of [eager, delayed]) assert.deepEqual(await labelsOf(e, back), [key({ __name__: 'r', job: 'a' })]);
  });

  it('groups by __name__ after a name-dropping function under {} with eager removal only', async () => {
    const head = await load({ 'a{job="1"}': [-1], 'b{job="2"}': [-2] });
    const q = 'sum by (__name__) (abs({__name__=~"a|b"}))';
    assert.deepEqual(vector(await eager.instantQuery(head, q, 0)), { [key({})]: 3 });
    // Delayed: groups a and b, which collide once their names go at the end.
    await rejects(delayed.instantQuery(head, q, 0), 'execution', /^vector cannot contain metrics with the same labelset$/);
    const range = await eager.rangeQuery(head, q, 0, 2 * MIN, MIN);
    assert.equal(range.value.resultType, 'matrix');
    if (range.value.resultType === 'matrix') {
      assert.deepEqual(range.value.series.map((s) => [s.labels, Array.from(s.fs)]), [[[], [3, 3, 3]]]);
    }
  });

  it('fails where series that differ only by name meet, as Prometheus does', async () => {
    const head = await load({ 'x_total{job="1"}': [0, 60, 120, 180], 'y_total{job="1"}': [0, 60, 120, 180] });
    // A range function's output with the same labels twice is an error under eager removal.
    const rate = 'count(rate({__name__=~"x_total|y_total"}[5m]))';
    await rejects(eager.instantQuery(head, rate, 3 * MIN), 'execution', /^vector cannot contain metrics with the same labelset$/);
    await rejects(eager.rangeQuery(head, rate, MIN, 3 * MIN, MIN), 'execution', /same labelset/);
    assert.deepEqual(vector(await delayed.instantQuery(head, rate, 3 * MIN)), { [key({})]: 2 });
    // The same for element-wise functions, unary minus, arithmetic with scalars and `bool` comparisons.
    for (const q of [
      'count(abs({__name__=~"x_total|y_total"}))',
      'count(-{__name__=~"x_total|y_total"})',
      'count({__name__=~"x_total|y_total"} * 2)',
      'count({__name__=~"x_total|y_total"} > bool 0)',
      'count(timestamp({__name__=~"x_total|y_total"}))',
    ]) {
      await rejects(eager.instantQuery(head, q, 3 * MIN), 'execution', /^vector cannot contain metrics with the same labelset$/);
      await rejects(eager.rangeQuery(head, q, MIN, 3 * MIN, MIN), 'execution', /same labelset/);
      assert.deepEqual(vector(await delayed.instantQuery(head, q, 3 * MIN)), { [key({})]: 2 }, q);
    }
    // Between vectors, a `bool` comparison's outputs no longer differ: a many-to-one match error.
    const many = 'count({__name__=~"x_total|y_total"} == bool on(job) group_left x_total)';
    await rejects(eager.instantQuery(head, many, 3 * MIN), 'execution', /^multiple matches for labels: grouping labels must ensure unique matches$/);
    assert.deepEqual(vector(await delayed.instantQuery(head, many, 3 * MIN)), { [key({})]: 2 });
    // Comparisons without `bool` keep the name, so nothing collides.
    const cmp = 'count({__name__=~"x_total|y_total"} > 0)';
    for (const e of [eager, delayed]) assert.deepEqual(vector(await e.instantQuery(head, cmp, 3 * MIN)), { [key({})]: 2 });
  });

  it('merges series that meet after name removal when their points do not overlap', async () => {
    const head = new Head('test');
    const app = head.appender();
    app.append(0, labelsFromObject({ __name__: 'old', job: 'j' }), 0, 1);
    app.append(0, labelsFromObject({ __name__: 'new', job: 'j' }), 10 * MIN, 2);
    await app.commit();
    const q = 'abs({__name__=~"old|new"})';
    for (const e of [eager, delayed]) {
      const r = await e.rangeQuery(head, q, 0, 10 * MIN, 5 * MIN, { lookbackDeltaMs: MIN });
      assert.equal(r.value.resultType, 'matrix');
      if (r.value.resultType !== 'matrix') continue;
      assert.deepEqual(
        r.value.series.map((s) => [s.labels, Array.from(s.ts), Array.from(s.fs)]),
        [[['job', 'j'], [0, 10 * MIN], [1, 2]]],
      );
    }
    // A range function does not merge them under eager removal.
    const rate = 'count_over_time({__name__=~"old|new"}[1m])';
    await rejects(eager.rangeQuery(head, rate, 0, 10 * MIN, 5 * MIN), 'execution', /same labelset/);
    const d = await delayed.rangeQuery(head, rate, 0, 10 * MIN, 5 * MIN);
    assert.equal(d.value.resultType === 'matrix' ? d.value.series.length : -1, 1);
  });

  it('names no metric in histogram warnings under eager removal', async () => {
    const head = await load({ 'h_bucket{job="a"}': [1] });
    const q = 'histogram_quantile(0.5, h_bucket)';
    const text = 'PromQL warning: bucket label "le" is missing or has a malformed value of ""';
    assert.deepEqual((await eager.instantQuery(head, q, 0)).warnings, [`${text} (1:25)`]);
    assert.deepEqual((await delayed.instantQuery(head, q, 0)).warnings, [`${text} for metric name "h_bucket" (1:25)`]);
  });

  it('keeps the name through last_over_time and aggregations by __name__', async () => {
    const head = await load({ 'g{job="1"}': [1, 2], 'g{job="2"}': [3, 4] });
    for (const e of [eager, delayed]) {
      assert.deepEqual(vector(await e.instantQuery(head, 'sum by (__name__) (last_over_time(g[5m]))', MIN)), { [key({ __name__: 'g' })]: 6 });
      assert.deepEqual(vector(await e.instantQuery(head, 'sum by (__name__) (g + 0)', MIN)), { [key({})]: 6 });
    }
  });
});

/** The head behind a querier whose series arrive slowly (as over a network), for timeout tests. */
function slowQueryable(inner: Queryable, delayMs: number): Queryable {
  return {
    querier(): Querier {
      const q = inner.querier();
      return {
        select(hints, matchers): SeriesSet {
          const set = q.select(hints, matchers);
          return {
            warnings: [],
            async *[Symbol.asyncIterator]() {
              for await (const s of set) {
                await new Promise((r) => setTimeout(r, delayMs));
                yield s;
              }
            },
          };
        },
        labelNames: (h, m) => q.labelNames(h, m),
        labelValues: (n, h, m) => q.labelValues(n, h, m),
      };
    },
  };
}

function fixedQuerier(list: { labels: Labels; types: ValueType[] }[]): Querier {
  return {
    select(): SeriesSet {
      const series: Series[] = list.map((s) => ({
        labels: s.labels,
        iterator(): SampleIterator {
          let i = -1;
          return {
            next: () => (++i < s.types.length ? s.types[i]! : ValueType.None),
            seek: () => ValueType.None,
            atT: () => i * 1000,
            atF: () => 1,
          };
        },
      }));
      return {
        warnings: [],
        async *[Symbol.asyncIterator]() {
          yield* series;
        },
      };
    },
    labelNames: async () => [],
    labelValues: async () => [],
  };
}
