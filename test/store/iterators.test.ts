/**
 * The sample iterators on the store's read path, against plain reference models for arbitrary input:
 * MergeIterator (the merge of blocks, head and bucket, with its fast path for sources taking turns) under
 * any mix of next() and seek().
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';

import { MergeIterator } from '../../src/storage/merge.js';
import { ValueType, type SampleIterator } from '../../src/storage/interface.js';
import { ArrayIterator } from '../../src/tsdb/head/iterator.js';

/** Sorted distinct timestamps with values naming their source, so the winner of a duplicate shows. */
const source = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }).map((ts) => ts.sort((a, b) => a - b));

function reference(sources: number[][]): [number, number][] {
  const byT = new Map<number, number>();
  // The earliest source wins a timestamp present in several.
  for (let i = sources.length - 1; i >= 0; i--) for (const t of sources[i]!) byT.set(t, i);
  return [...byT].sort((a, b) => a[0] - b[0]).map(([t, i]) => [t, t * 10 + i]);
}

function iterators(sources: number[][]): SampleIterator[] {
  return sources.map((ts, i) => new ArrayIterator(Float64Array.from(ts), Float64Array.from(ts.map((t) => t * 10 + i))));
}

test('MergeIterator: same samples as a reference merge for any sources and any next/seek sequence', () => {
  fc.assert(
    fc.property(
      fc.array(source, { minLength: 1, maxLength: 5 }),
      fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 320 })), { maxLength: 60 }),
      (sources, ops) => {
        const want = reference(sources);
        // Only next(): every sample once, in order.
        const it = new MergeIterator(iterators(sources));
        const got: [number, number][] = [];
        while (it.next() !== ValueType.None) got.push([it.atT(), it.atF()]);
        assert.deepEqual(got, want);
        assert.equal(it.next(), ValueType.None);

        // Mixed: -1 is next(), other numbers seek(t); compare each answer with the reference cursor.
        const m = new MergeIterator(iterators(sources));
        let pos = -1;
        for (const op of ops) {
          if (op < 0) pos = Math.min(pos + 1, want.length);
          else {
            // seek never moves backwards: from the current sample (or the first), the first at or after t.
            let p = Math.max(pos, 0);
            while (p < want.length && want[p]![0] < op) p++;
            pos = p;
          }
          const vt = op < 0 ? m.next() : m.seek(op);
          if (pos >= want.length) {
            assert.equal(vt, ValueType.None, `op ${op}: want the end`);
            break;
          }
          assert.equal(vt, ValueType.Float, `op ${op}: want ${want[pos]}`);
          assert.deepEqual([m.atT(), m.atF()], want[pos]);
        }
      },
    ),
    { numRuns: 2000, seed: 11 },
  );
});
