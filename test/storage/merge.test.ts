import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MergeQuerier, MergeIterator } from '../../src/storage/merge.js';
import { ValueType, type Querier, type SampleIterator, type Series } from '../../src/storage/interface.js';
import { ArrayIterator } from '../../src/tsdb/head/iterator.js';

function series(labels: Labels, samples: [number, number][]): Series {
  return {
    labels,
    iterator: () => new ArrayIterator(Float64Array.from(samples.map((s) => s[0])), Float64Array.from(samples.map((s) => s[1]))),
  };
}

function fake(list: Series[], names: string[] = []): Querier {
  return {
    select: (hints) => ({
      warnings: [`from ${names.join(',')}`],
      async *[Symbol.asyncIterator]() {
        yield* list.slice(0, hints.limit || undefined);
      },
    }),
    labelNames: async () => names,
    labelValues: async () => names,
  };
}

function all(it: SampleIterator): [number, number][] {
  const out: [number, number][] = [];
  while (it.next() !== ValueType.None) out.push([it.atT(), it.atF()]);
  return out;
}

const A = labelsFromObject({ __name__: 'm', i: 'a' });
const B = labelsFromObject({ __name__: 'm', i: 'b' });
const C = labelsFromObject({ __name__: 'm', i: 'c' });
const ALL = [new Matcher(MatchType.Equal, '__name__', 'm')];

test('series are merged by labels; shared series concatenated in time order, duplicates once', async () => {
  const q1 = fake([series(A, [[1, 1], [2, 2]]), series(C, [[1, 10]])], ['x']);
  const q2 = fake([series(A, [[2, 2], [3, 3]]), series(B, [[5, 5]])], ['y']);
  const set = new MergeQuerier([q1, q2]).select({ start: 0, end: 10 }, ALL);
  const got: [Labels, [number, number][]][] = [];
  for await (const s of set) got.push([s.labels, all(s.iterator())]);
  assert.deepEqual(got, [
    [A, [[1, 1], [2, 2], [3, 3]]],
    [B, [[5, 5]]],
    [C, [[1, 10]]],
  ]);
  assert.deepEqual([...set.warnings].sort(), ['from x', 'from y']);
});

test('limit applies after the merge; label names and values are unioned', async () => {
  const q1 = fake([series(A, [[1, 1]]), series(C, [[1, 1]])], ['b', 'a']);
  const q2 = fake([series(A, [[2, 2]]), series(B, [[1, 1]])], ['c', 'a']);
  const m = new MergeQuerier([q1, q2]);
  const labels: Labels[] = [];
  for await (const s of m.select({ start: 0, end: 10, limit: 2 }, ALL)) labels.push(s.labels);
  assert.deepEqual(labels, [A, B]);
  assert.deepEqual(await m.labelNames({ start: 0, end: 1 }, []), ['a', 'b', 'c']);
  assert.deepEqual(await m.labelValues('x', { start: 0, end: 1, limit: 2 }, []), ['a', 'b']);
});

test('MergeIterator seek', () => {
  const mk = (ts: number[]) => new ArrayIterator(Float64Array.from(ts), Float64Array.from(ts.map((t) => t * 10)));
  const it = new MergeIterator([mk([1, 4, 7]), mk([2, 4, 9])]);
  assert.equal(it.seek(3), ValueType.Float);
  assert.equal(it.atT(), 4);
  assert.equal(it.seek(4), ValueType.Float);
  assert.equal(it.atT(), 4);
  assert.equal(it.next(), ValueType.Float);
  assert.equal(it.atT(), 7);
  assert.equal(it.seek(8), ValueType.Float);
  assert.equal(it.atT(), 9);
  assert.equal(it.next(), ValueType.None);
  assert.equal(it.seek(100), ValueType.None);
  assert.deepEqual(all(new MergeIterator([mk([]), mk([1])])), [[1, 10]]);
});
