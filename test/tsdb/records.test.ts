import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSamplesRecord, decodeSeriesRecord, encodeSamplesRecord, encodeSeriesRecord } from '../../src/tsdb/wal/records.js';
import { STALE_NAN, isStaleNaN } from '../../src/model/value.js';
import { Head } from '../../src/tsdb/head/index.js';

test('samples records round-trip refs, timestamps (incl. large and negative deltas) and value bits', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), fc.double()), { maxLength: 200 }),
      (samples) => {
        const n = samples.length;
        const refs = new Uint32Array(n);
        const ts = new Float64Array(n);
        const vs = new Float64Array(n);
        samples.forEach(([r, t, v], i) => {
          refs[i] = r;
          ts[i] = t;
          vs[i] = v;
        });
        const d = decodeSamplesRecord(encodeSamplesRecord(refs, ts, vs, n));
        assert.deepEqual([...d.refs], [...refs]);
        assert.deepEqual([...d.ts], [...ts]);
        assert.deepEqual(new Uint8Array(d.vs.buffer), new Uint8Array(vs.buffer));
      },
    ),
    { numRuns: 300 },
  );
  const vs = new Float64Array(1);
  vs[0] = STALE_NAN;
  assert.ok(isStaleNaN(decodeSamplesRecord(encodeSamplesRecord(new Uint32Array([7]), new Float64Array([1]), vs, 1)).vs[0]!));
});

test('a typical request encodes to about 11 bytes per sample', () => {
  const n = 2000;
  const refs = new Uint32Array(n).map((_, i) => 1000 + i);
  const ts = new Float64Array(n).fill(1_700_000_000_000);
  const rec = encodeSamplesRecord(refs, ts, new Float64Array(n), n);
  assert.ok(rec.length / n < 11, `${rec.length / n} bytes per sample`);
});

test('malformed records are refused with an error (and skipped at replay), never a crash', () => {
  const good = encodeSamplesRecord(new Uint32Array([1, 2]), new Float64Array([10, 20]), new Float64Array([1, 2]), 2);
  const series = encodeSeriesRecord([{ ref: 1, labels: ['__name__', 'x'] }]);
  fc.assert(
    fc.property(fc.constantFrom(good, series), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (base, flips, cut) => {
      const b = base.slice(0, Math.max(1, cut % (base.length + 1)));
      for (const [p, v] of flips) b[p % b.length] = v;
      try {
        if (b[0] === 2) decodeSamplesRecord(b);
        else decodeSeriesRecord(b, () => undefined);
      } catch (err) {
        assert.ok(err instanceof Error);
      }
    }),
    { numRuns: 2000 },
  );
  // Through the head's replay path: a bad record is counted, not thrown.
  const head = new Head('t');
  (head as unknown as { replayRecord(r: Uint8Array): void }).replayRecord(new Uint8Array([2, 0xff, 0xff, 0xff]));
  assert.equal(head.replaySkipped, 1);
});
