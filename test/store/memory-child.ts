/**
 * Child process of memory.test.ts (run with --expose-gc): builds many blocks into a MemoryBucket, serves
 * them through a BucketStore with a small cache and fetch budget, runs one query over all of them while
 * sampling the heap after forced GCs, checks every answer, and prints one JSON line with the figures.
 *
 * Usage: node --expose-gc --import tsx test/store/memory-child.ts <blocks> <seriesPerBlock>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { labelsFromObject } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { ValueType } from '../../src/storage/interface.js';
import { XorChunk } from '../../src/tsdb/chunkenc/index.js';
import { writeBlock, type BlockSeriesInput } from '../../src/tsdb/block/index.js';
import { BucketStore } from '../../src/store/index.js';
import { uploadBlockDir } from './helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('memory-child: run with --expose-gc');

const nBlocks = Number(process.argv[2] ?? 32);
const nSeries = Number(process.argv[3] ?? 2000);
const CACHE_BYTES = 1024 * 1024;
const FETCH_BUDGET = 2 * 1024 * 1024;
const RANGE = 2 * 3_600_000;
const STEP = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % RANGE);

/** A deterministic value with a random-looking mantissa, so chunks are realistically large (~7 B/sample). */
function value(i: number, t: number): number {
  const h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul((t / 1000) | 0, 0x85ebca6b);
  return ((h >>> 0) % 10_000_000) / 1000;
}

/** Wrapped to record whole-object reads (the bucket itself is the real in-memory backend). */
class RecordingBucket extends MemoryBucket {
  readonly wholeReads: string[] = [];
  override async get(key: string): Promise<Uint8Array> {
    this.wholeReads.push(key);
    return super.get(key);
  }
}

/** Live bytes after full collections: JS heap plus ArrayBuffer backing stores (freed a GC later). */
function heap(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function jsHeap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-store-mem-'));
  const bucket = new RecordingBucket();
  const built = performance.now();
  try {
    for (let b = 0; b < nBlocks; b++) {
      const minT = T0 + b * RANGE;
      const series: BlockSeriesInput[] = [];
      for (let i = 0; i < nSeries; i++) {
        const c = new XorChunk();
        const app = c.appender();
        for (let t = minT; t < minT + RANGE; t += STEP) app.append(t, value(i, t));
        series.push({
          labels: labelsFromObject({ __name__: 'mem_metric', instance: `i-${i}`, job: `job-${i % 10}` }),
          chunks: [{ minT, maxT: minT + RANGE - STEP, bytes: c.bytes().slice() }],
        });
      }
      const meta = await writeBlock(dir, series, { minT, maxT: minT + RANGE });
      await uploadBlockDir(bucket, join(dir, meta.ulid));
      rmSync(join(dir, meta.ulid), { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const buildMs = performance.now() - built;

  const beforeSync = jsHeap();
  const store = new BucketStore({ bucket, cacheBytes: CACHE_BYTES, fetchBudgetBytes: FETCH_BUDGET });
  const sync = await store.sync();
  if (sync.blocks !== nBlocks) throw new Error(`synced ${sync.blocks} blocks, want ${nBlocks}`);
  // Index headers (and block objects) are all JS heap.
  const headerHeap = jsHeap() - beforeSync;
  const base = heap();

  const queryStart = performance.now();
  let peak = 0;
  let samples = 0;
  let seriesSeen = 0;
  let wrong = 0;
  const seen = new Set<string>();
  // `job!="none"` selects every series and makes the store resolve (and subtract) a postings list too.
  const set = store.querier().select({ start: T0, end: T0 + nBlocks * RANGE }, [
    new Matcher(MatchType.Equal, '__name__', 'mem_metric'),
    new Matcher(MatchType.NotEqual, 'job', 'none'),
  ]);
  for await (const s of set) {
    const inst = s.labels[s.labels.indexOf('instance') + 1]!;
    const i = Number(inst.slice(2));
    seen.add(inst);
    const it = s.iterator();
    let n = 0;
    let t = T0;
    while (it.next() !== ValueType.None) {
      if (it.atT() !== t || it.atF() !== value(i, t)) wrong++;
      t += STEP;
      n++;
    }
    if (n !== nBlocks * (RANGE / STEP)) wrong++;
    samples += n;
    seriesSeen++;
    if (seriesSeen % 100 === 0) peak = Math.max(peak, heap() - base);
  }
  peak = Math.max(peak, heap() - base);
  const queryMs = performance.now() - queryStart;
  const st = store.stats();
  const nonMetaGets = bucket.wholeReads.filter((k) => !k.endsWith('/meta.json') && !k.endsWith('/tombstones'));
  process.stdout.write(
    JSON.stringify({
      blocks: nBlocks,
      seriesPerBlock: nSeries,
      series: seriesSeen,
      distinctSeries: seen.size,
      samples,
      wrong,
      buildMs: Math.round(buildMs),
      queryMs: Math.round(queryMs),
      peakGrowth: peak,
      headerHeap,
      indexHeaderBytes: st.indexHeaderBytes,
      cacheBytes: CACHE_BYTES,
      fetchBudget: FETCH_BUDGET,
      cachePeak: st.cache.peakBytes,
      evictions: st.cache.evictions,
      bytesFetched: st.bytesFetched,
      requests: st.requests,
      refetches: st.refetches,
      bucketBytes: bucket.stats.bytesRead,
      nonMetaGets,
    }) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`memory-child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
