/**
 * The small model helpers that several modules share (the head, the agent storage, block writers,
 * compaction, scraping): `sameBits` and `labelPairsText`.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';

import { labelPairsText, labelsFromObject } from '../../src/model/labels.js';
import { STALE_NAN, sameBits } from '../../src/model/value.js';
import { fromBits } from '../support/random.js';

/** The reference: compare the 8 bytes through a DataView, independent of the helper's word trick. */
function bytesEqual(a: number, b: number): boolean {
  const v = new DataView(new ArrayBuffer(16));
  v.setFloat64(0, a);
  v.setFloat64(8, b);
  for (let i = 0; i < 8; i++) if (v.getUint8(i) !== v.getUint8(8 + i)) return false;
  return true;
}

test('sameBits compares all 64 bits: NaN payloads and the sign of zero count', () => {
  const goNaN = fromBits(0x7ff80000, 1);
  assert.equal(sameBits(STALE_NAN, STALE_NAN), true);
  assert.equal(sameBits(STALE_NAN, goNaN), false);
  assert.equal(sameBits(0, -0), false);
  assert.equal(sameBits(-0, -0), true);
  assert.equal(sameBits(1.5, 1.5), true);
  assert.equal(sameBits(Infinity, -Infinity), false);
  // Float64Array-backed doubles keep their payloads; fc.double gives NaNs with payloads too.
  fc.assert(
    fc.property(fc.double(), fc.double(), fc.boolean(), (a, b, same) => {
      const y = same ? a : b;
      assert.equal(sameBits(a, y), bytesEqual(a, y));
    }),
    { numRuns: 2000 },
  );
});

test('labelPairsText names every pair, __name__ included, values quoted as JSON', () => {
  assert.equal(labelPairsText([]), '{}');
  assert.equal(labelPairsText(labelsFromObject({ __name__: 'up', job: 'a"b', 'odd.name': 'x\ny' })), '{__name__="up", job="a\\"b", odd.name="x\\ny"}');
});
