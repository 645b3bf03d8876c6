/**
 * Head compaction (as Prometheus's head → block step): once a head spans more than 1.5 block ranges, its
 * oldest complete range [mint, mint+range) is written to a block, dropped from memory, and the WAL is
 * checkpointed so that it no longer needs the segments holding only that range.
 *
 * Order of steps, each safe to interrupt with kill -9:
 *  1. raise the head's minValidTime to the block's maxT (appends below are rejected from now on) and wait
 *     for appenders that staged earlier samples, so the block sees every sample of its range;
 *  2. write the block (tmp dir + rename): a crash before the rename leaves the WAL complete;
 *  3. drop the range from memory; 4. checkpoint the WAL and delete covered segments. A crash between 2 and
 *     4 replays samples the block already has: replay skips samples below the newest block's maxT.
 */
import { XorChunk } from './chunkenc/index.js';
import { writeBlock, type BlockChunkInput, type BlockMeta, type BlockSeriesInput } from './block/index.js';
import type { Head } from './head/head.js';
import { drain, seriesIterator } from './head/iterator.js';
import { SAMPLES_PER_CHUNK, type MemSeries } from './head/series.js';

/** Series handled per synchronous slice; the loop yields to the event loop between slices. */
const BATCH = 2_000;

export interface HeadCompactionResult {
  block: BlockMeta;
  droppedSeries: number;
  deletedSegments: number;
}

/** The oldest complete block range to cut from the head, or null when the head is not big enough yet. */
export function compactableRange(head: Head): { mint: number; maxt: number } | null {
  const range = head.opts.chunkRangeMs;
  if (head.minTime === Infinity || head.maxTime === -Infinity) return null;
  if (head.maxTime - head.minTime <= range * 1.5) return null;
  const mint = Math.floor(head.minTime / range) * range;
  return { mint, maxt: mint + range };
}

/**
 * Compacts one block range out of `head` into `blocksDir`; null when there was nothing to do. `onBlock`
 * runs after the block is on disk and before the head lets go of the range: the caller makes the block
 * queryable there, so no query falls into a gap (in between, the merge dedupes the overlap).
 */
export async function compactHeadOnce(
  head: Head,
  blocksDir: string,
  onBlock: (meta: BlockMeta) => Promise<void>,
  appenderWaitMs = 10_000,
): Promise<HeadCompactionResult | null> {
  const r = compactableRange(head);
  if (r === null) return null;
  const { mint, maxt } = r;
  if (maxt > head.minValidTime) head.minValidTime = maxt;
  await head.waitForAppenders(appenderWaitMs);

  const input: BlockSeriesInput[] = [];
  let i = 0;
  for (const s of [...head.allSeries()]) {
    const chunks = chunksFor(s, mint, maxt);
    if (chunks.length > 0) input.push({ labels: s.labels, chunks });
    if (++i % BATCH === 0) await yieldLoop();
  }
  const block = await writeBlock(blocksDir, input, { minT: mint, maxT: maxt });
  await onBlock(block);
  const { droppedSeries } = await head.truncateBefore(maxt);
  const deletedSegments = head.wal !== null ? await head.wal.checkpoint(maxt, () => head.checkpointRecords()) : 0;
  return { block, droppedSeries, deletedSegments };
}

/**
 * The series' chunks in [mint, maxt). Chunks never span a range boundary, so in-order chunks are taken
 * as they are; when out-of-order samples fall in the range, the range is re-encoded in time order.
 */
function chunksFor(s: MemSeries, mint: number, maxt: number): BlockChunkInput[] {
  if (s.minT >= maxt) return [];
  if (s.oooBefore(maxt) > 0) return reencode(s, mint, maxt);
  const out: BlockChunkInput[] = [];
  for (const c of s.closed) {
    if (c.minT >= maxt) break;
    if (c.maxT >= maxt) return reencode(s, mint, maxt); // spans the boundary (block range changed): cut it
    if (c.maxT >= mint) out.push(c);
  }
  if (s.openChunkBefore(maxt)) {
    const c = s.openChunk()!;
    if (c.maxT >= mint) out.push(c);
  }
  return out;
}

function reencode(s: MemSeries, mint: number, maxt: number): BlockChunkInput[] {
  const { ts, vs } = drain(seriesIterator(s, mint, maxt - 1));
  const out: BlockChunkInput[] = [];
  for (let i = 0; i < ts.length; i += SAMPLES_PER_CHUNK) {
    const end = Math.min(ts.length, i + SAMPLES_PER_CHUNK);
    const c = new XorChunk();
    const app = c.appender();
    for (let j = i; j < end; j++) app.append(ts[j]!, vs[j]!);
    out.push({ bytes: c.bytes().slice(), minT: ts[i]!, maxT: ts[end - 1]! });
  }
  return out;
}

function yieldLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
