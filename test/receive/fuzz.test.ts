/** Any body, any headers: the receiver answers with a status, never throws, never hangs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startStack, series } from '../support/stack.js';
import { encodeWriteV1, encodeWriteV2, snappyCompress } from '../../src/codec/index.js';

const NOW = Date.now();
const ALLOWED = new Set([202, 204, 400, 413, 415, 429]);

test('fuzzed remote-write bodies never crash or hang the receiver', { timeout: 60_000 }, async () => {
  const st = await startStack('overrides:\n  ooo:\n    out_of_order_time_window: 1h\n');
  try {
    const valid = [
      encodeWriteV1([series({ __name__: 'a', cluster: 'c', __replica__: 'r1' }, [[NOW, 1], [NOW + 1, 2]]), series({ __name__: 'b', x: 'y' }, [[NOW, 3]])]),
      encodeWriteV2([{ ...series({ __name__: 'c', j: 'k' }, [[NOW, 1]]), metricType: 1, help: 'help' }]),
    ];
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), fc.boolean())
      .map(([base, flips, cut, truncate]) => {
        const b = base.slice();
        for (const [pos, val] of flips) b[pos % b.length] = val;
        return truncate ? b.subarray(0, cut % (b.length + 1)) : b;
      });
    const raw = fc.uint8Array({ maxLength: 300 });
    const started = Date.now();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, raw), fc.boolean(), fc.constantFrom(1, 2), fc.constantFrom('anonymous', 'ooo'), async (body, compress, version, tenant) => {
        cases++;
        const res = await st.receiver.write({
          tenant,
          body: compress ? snappyCompress(body) : body,
          contentType: version === 1 ? 'application/x-protobuf' : 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
          contentEncoding: 'snappy',
        });
        assert.ok(ALLOWED.has(res.status), `status ${res.status}: ${res.message}`);
        if (res.status >= 400) assert.ok(res.message.length > 0, 'errors carry a message');
      }),
      { numRuns: 1500 },
    );
    console.log(`receiver fuzz: ${cases} bodies in ${Date.now() - started} ms`);
  } finally {
    await st.close();
  }
});
