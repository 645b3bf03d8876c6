/**
 * Bounded memory: a query over many blocks holds neither all their chunks nor a cache beyond its budget.
 * Runs test/store/memory-child.ts in a child process with --expose-gc (heap figures need forced GCs and a
 * process of their own).
 *
 * The bound on heap growth (heapUsed + arrayBuffers after GC, against the figure after sync):
 *   cache budget                                   1 MiB
 * + 2 x fetch budget (a read fetches at most ~2x
 *   what it wants: gap merging is bounded)          4 MiB
 * + per block cursor: one batch of <= 256 decoded
 *   series entries, two small chunk batches and
 *   the matching ids (4 B each), ~192 KiB x 32     6 MiB
 * + V8 slack (compiled code, closures, strings)    4 MiB
 *                                                 = 15 MiB
 * The query reads ~32 MB of chunks, so a store holding every chunk of the query (or a cache ignoring its
 * budget) would exceed it by far.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MiB = 1024 * 1024;

test('a query over 32 blocks x 1000 series: right answers, range reads only, cache within budget, heap growth bounded', async (t) => {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/store/memory-child.ts', '32', '1000'], {
    cwd: new URL('../..', import.meta.url).pathname,
    timeout: 120_000,
    maxBuffer: 1 << 20,
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  t.diagnostic(
    `${r.blocks} blocks x ${r.seriesPerBlock} series, ${r.samples} samples checked in ${r.queryMs} ms; ` +
      `${(r.bytesFetched / MiB).toFixed(1)} MiB fetched in ${r.requests} range requests (${r.refetches} refetches); ` +
      `heap growth peak ${(r.peakGrowth / MiB).toFixed(1)} MiB; cache peak ${r.cachePeak} of ${r.cacheBytes} B, ${r.evictions} evictions; ` +
      `index headers ${(r.headerHeap / 1024).toFixed(0)} KiB measured, ${(r.indexHeaderBytes / 1024).toFixed(0)} KiB estimated`,
  );
  assert.equal(r.wrong, 0, 'every sample right');
  assert.equal(r.series, 1000);
  assert.equal(r.distinctSeries, 1000);
  assert.equal(r.samples, 32 * 1000 * 120);
  assert.deepEqual(r.nonMetaGets, [], 'no whole read of an index or chunk object');
  assert.ok(r.cachePeak <= r.cacheBytes, `cache peak ${r.cachePeak} within ${r.cacheBytes}`);
  assert.ok(r.evictions > 0, 'the cache was full and evicted');
  const bound = r.cacheBytes + 2 * r.fetchBudget + r.blocks * 192 * 1024 + 4 * MiB;
  assert.ok(r.peakGrowth < bound, `heap growth ${r.peakGrowth} B exceeds the bound ${bound} B`);
  assert.ok(r.bytesFetched > 2 * bound, `the query read ${r.bytesFetched} B: holding it all would break the bound`);
});
