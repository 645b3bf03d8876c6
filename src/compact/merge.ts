/**
 * The series merge behind compaction: walks the source blocks' indexes side by side in index order and
 * yields, one series at a time, the chunks of the compacted block.
 *
 * Per series, the chunks of all sources are ordered by time and cut into clusters of chunks that overlap.
 * A cluster of one chunk is copied as it is (bytes untouched, whatever its encoding); a cluster of
 * byte-identical chunks (two replicas that cut the same chunk) is copied once. Anything else is decoded,
 * merged sample by sample and re-encoded into XOR chunks of at most 120 samples, as Prometheus's
 * compacting merger does. Samples deleted by a source's tombstones are dropped on the way.
 *
 * Equal timestamps: identical samples (same time, same value bits) are kept once and counted as
 * duplicates. Same time with different values is a conflict: the value with the larger IEEE-754 bit
 * pattern (read as an unsigned 64-bit integer) is kept and each value dropped is counted as a conflict. That choice depends only
 * on the two values, not on which blocks met in which order, so a series gets the same result whether
 * its blocks are merged at once or in steps (e.g. again after a crash).
 */
import type { BlockChunkInput, BlockSeriesInput } from '../tsdb/block/index.js';
import { BlockFormatError, compareLabelsUtf8 } from '../tsdb/block/index.js';
import { ENCODING_XOR, XorChunk, XorIterator } from '../tsdb/chunkenc/index.js';
import { labelPairsText, type Labels } from '../model/labels.js';
import { ValueType } from '../storage/index.js';
import { BlockDataError } from './errors.js';
import type { BucketBlockReader } from './source.js';

/** Prometheus cuts chunks at 120 samples when it re-encodes. */
export const MERGED_CHUNK_SAMPLES = 120;

export interface MergeStats {
  /** Series written. */
  series: number;
  /** Source chunks copied byte for byte. */
  chunksCopied: number;
  /** Source chunks decoded because they overlapped or were touched by tombstones. */
  chunksDecoded: number;
  /** Chunks written from re-encoded samples. */
  chunksEncoded: number;
  /** Samples dropped because another source had the same sample. */
  duplicateSamples: number;
  /** Timestamps where sources disagreed on the value (one value kept). */
  conflictingSamples: number;
  /** Samples dropped by tombstones. */
  deletedSamples: number;
}

export function newMergeStats(): MergeStats {
  return { series: 0, chunksCopied: 0, chunksDecoded: 0, chunksEncoded: 0, duplicateSamples: 0, conflictingSamples: 0, deletedSamples: 0 };
}

export { BlockDataError };

export interface MergeOptions {
  stats: MergeStats;
  signal?: AbortSignal;
  /** Yield to the event loop after this much synchronous work (ms); default 10. */
  yieldEveryMs?: number;
  maxSamplesPerChunk?: number;
}

export interface MergeItem {
  src: number;
  minT: number;
  maxT: number;
  encoding: number;
  bytes: Uint8Array;
  /** Deleted intervals of this series in its source block (flat inclusive pairs). */
  deleted: readonly number[] | undefined;
}

interface Cursor {
  reader: BucketBlockReader;
  ids: Uint32Array;
  pos: number;
  id: number;
  labels: Labels | null;
  chunks: readonly { minT: number; maxT: number; ref: number }[];
}

/** Merged series of `sources` in index order (UTF-8 label order), ready for `writeBlockStream`. */
export async function* mergeSeries(sources: readonly BucketBlockReader[], opts: MergeOptions): AsyncGenerator<BlockSeriesInput> {
  const stats = opts.stats;
  const yieldEvery = opts.yieldEveryMs ?? 10;
  const perChunk = opts.maxSamplesPerChunk ?? MERGED_CHUNK_SAMPLES;
  const cursors: Cursor[] = sources.map((reader) => ({ reader, ids: dataGuard(reader, () => reader.index.allPostings()), pos: 0, id: -1, labels: null, chunks: [] }));
  for (const c of cursors) advance(c);
  let lastYield = performance.now();
  for (;;) {
    let min: Labels | null = null;
    for (const c of cursors) if (c.labels !== null && (min === null || compareLabelsUtf8(c.labels, min) < 0)) min = c.labels;
    if (min === null) return;
    const items: MergeItem[] = [];
    for (let i = 0; i < cursors.length; i++) {
      const c = cursors[i]!;
      if (c.labels === null || compareLabelsUtf8(c.labels, min) !== 0) continue;
      const deleted = c.reader.tombstones.get(c.id);
      for (const m of c.chunks) {
        const { encoding, bytes } = await c.reader.chunk(m.ref, opts.signal);
        if (bytes.length < 2) throw new BlockDataError(c.reader.ulid, `series ${labelPairsText(min)}: chunk at ref ${m.ref} has ${bytes.length} bytes`);
        items.push({ src: i, minT: m.minT, maxT: m.maxT, encoding, bytes, deleted });
      }
      advance(c);
    }
    const chunks = mergeChunks(items, min, sources, stats, perChunk);
    if (chunks.length > 0) {
      stats.series++;
      yield { labels: min, chunks };
    }
    if (performance.now() - lastYield > yieldEvery) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      opts.signal?.throwIfAborted();
      lastYield = performance.now();
    }
  }
}

function advance(c: Cursor): void {
  if (c.pos >= c.ids.length) {
    c.labels = null;
    c.chunks = [];
    return;
  }
  c.id = c.ids[c.pos++]!;
  const s = dataGuard(c.reader, () => c.reader.index.series(c.id));
  if (c.labels !== null && compareLabelsUtf8(c.labels, s.labels) >= 0) {
    throw new BlockDataError(c.reader.ulid, `index series ${labelPairsText(s.labels)} is not after ${labelPairsText(c.labels)}`);
  }
  c.labels = s.labels;
  c.chunks = s.chunks;
}

/** Runs an index read; a malformed index becomes a BlockDataError naming the block. */
function dataGuard<T>(reader: BucketBlockReader, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BlockFormatError) throw new BlockDataError(reader.ulid, err.message);
    throw err;
  }
}

/** The output chunks of one series from its source chunks (any order). */
export function mergeChunks(items: MergeItem[], labels: Labels, sources: readonly { ulid: string }[], stats: MergeStats, perChunk: number): BlockChunkInput[] {
  items.sort((a, b) => a.minT - b.minT || a.src - b.src || a.maxT - b.maxT);
  const out: BlockChunkInput[] = [];
  let i = 0;
  while (i < items.length) {
    let j = i + 1;
    let maxT = items[i]!.maxT;
    while (j < items.length && items[j]!.minT <= maxT) maxT = Math.max(maxT, items[j++]!.maxT);
    const cluster = items.slice(i, j);
    i = j;
    const live = cluster.filter((it) => {
      if (!covered(it.deleted, it.minT, it.maxT)) return true;
      stats.deletedSamples += sampleCount(it.bytes);
      return false;
    });
    if (live.length === 0) continue;
    const touched = live.some((it) => touches(it.deleted, it.minT, it.maxT));
    if (!touched && live.every((it) => sameChunk(it, live[0]!))) {
      const first = live[0]!;
      out.push({ minT: first.minT, maxT: first.maxT, bytes: first.bytes, encoding: first.encoding });
      stats.chunksCopied++;
      stats.duplicateSamples += (live.length - 1) * sampleCount(first.bytes);
      continue;
    }
    for (const it of live) {
      if (it.encoding !== ENCODING_XOR) {
        throw new BlockDataError(
          sources[it.src]!.ulid,
          `series ${labelPairsText(labels)}: chunk [${it.minT}, ${it.maxT}] with encoding ${it.encoding} overlaps other data or deletions; only XOR chunks can be merged`,
        );
      }
    }
    const decoded = live.map((it) => decode(it, labels, sources, stats));
    stats.chunksDecoded += live.length;
    const merged = decoded.length === 1 ? decoded[0]! : mergeSamples(decoded, stats);
    encode(merged, perChunk, out, stats);
  }
  return out;
}

function sameChunk(a: MergeItem, b: MergeItem): boolean {
  if (a === b) return true;
  if (a.minT !== b.minT || a.maxT !== b.maxT || a.encoding !== b.encoding || a.bytes.length !== b.bytes.length) return false;
  for (let k = 0; k < a.bytes.length; k++) if (a.bytes[k] !== b.bytes[k]) return false;
  return true;
}

function sampleCount(bytes: Uint8Array): number {
  return (bytes[0]! << 8) | bytes[1]!;
}

/** True when a deleted interval intersects [minT, maxT]. */
function touches(iv: readonly number[] | undefined, minT: number, maxT: number): boolean {
  if (iv === undefined) return false;
  for (let k = 0; k < iv.length; k += 2) if (iv[k]! <= maxT && iv[k + 1]! >= minT) return true;
  return false;
}

/** True when one deleted interval covers all of [minT, maxT] (intervals are merged, so one suffices). */
function covered(iv: readonly number[] | undefined, minT: number, maxT: number): boolean {
  if (iv === undefined) return false;
  for (let k = 0; k < iv.length; k += 2) if (iv[k]! <= minT && iv[k + 1]! >= maxT) return true;
  return false;
}

interface Samples {
  ts: Float64Array;
  /** Values stay in a Float64Array so NaN payloads (stale markers) survive bit for bit. */
  vs: Float64Array;
  n: number;
}

const iter = new XorIterator();

function decode(it: MergeItem, labels: Labels, sources: readonly { ulid: string }[], stats: MergeStats): Samples {
  const total = sampleCount(it.bytes);
  const ts = new Float64Array(total);
  const vs = new Float64Array(total);
  iter.reset(it.bytes);
  const iv = it.deleted;
  let k = 0;
  let n = 0;
  let prev = -Infinity;
  while (iter.next() !== ValueType.None) {
    const t = iter.atT();
    if (t <= prev) {
      throw new BlockDataError(sources[it.src]!.ulid, `series ${labelPairsText(labels)}: chunk [${it.minT}, ${it.maxT}] has sample time ${t} after ${prev} (out of order)`);
    }
    prev = t;
    if (iv !== undefined) {
      while (k < iv.length && iv[k + 1]! < t) k += 2;
      if (k < iv.length && iv[k]! <= t) {
        stats.deletedSamples++;
        continue;
      }
    }
    ts[n] = t;
    vs[n] = iter.atF();
    n++;
  }
  const err = iter.err();
  if (err !== null) throw new BlockDataError(sources[it.src]!.ulid, `series ${labelPairsText(labels)}: chunk [${it.minT}, ${it.maxT}]: ${err}`);
  return { ts, vs, n };
}

/**
 * Merges sample runs that are each in time order (see the file comment for equal timestamps). At one
 * timestamp with k samples of d distinct values, k - d samples count as duplicates and d - 1 as
 * conflicts, whatever the order of the runs.
 */
export function mergeSamples(runs: readonly Samples[], stats: MergeStats): Samples {
  let total = 0;
  for (const r of runs) total += r.n;
  const ts = new Float64Array(total);
  const vs = new Float64Array(total);
  // Values are compared and copied as 32-bit halves (little-endian: low word first), so NaN payloads
  // never pass through a JS number.
  const out = new Uint32Array(vs.buffer);
  const bits = runs.map((r) => new Uint32Array(r.vs.buffer, r.vs.byteOffset, r.vs.length * 2));
  const pos = new Int32Array(runs.length);
  // Distinct values seen at the current timestamp, as (lo, hi) pairs.
  const distinct = new Uint32Array(2 * runs.length);
  let n = 0;
  for (;;) {
    let t = Infinity;
    for (let r = 0; r < runs.length; r++) if (pos[r]! < runs[r]!.n && runs[r]!.ts[pos[r]!]! < t) t = runs[r]!.ts[pos[r]!]!;
    if (t === Infinity) break;
    let seen = 0;
    let nd = 0;
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!;
      const p = pos[r]!;
      if (p >= run.n || run.ts[p] !== t) continue;
      pos[r] = p + 1;
      seen++;
      const b = bits[r]!;
      const lo = b[2 * p]!;
      const hi = b[2 * p + 1]!;
      let known = false;
      for (let d = 0; d < nd && !known; d++) known = distinct[2 * d] === lo && distinct[2 * d + 1] === hi;
      if (known) continue;
      distinct[2 * nd] = lo;
      distinct[2 * nd + 1] = hi;
      nd++;
      const keptLo = out[2 * n]!;
      const keptHi = out[2 * n + 1]!;
      if (nd === 1 || hi > keptHi || (hi === keptHi && lo > keptLo)) {
        out[2 * n] = lo;
        out[2 * n + 1] = hi;
      }
    }
    stats.duplicateSamples += seen - nd;
    stats.conflictingSamples += nd - 1;
    ts[n++] = t;
  }
  return { ts, vs, n };
}

function encode(s: Samples, perChunk: number, out: BlockChunkInput[], stats: MergeStats): void {
  for (let i = 0; i < s.n; i += perChunk) {
    const end = Math.min(s.n, i + perChunk);
    const c = new XorChunk();
    const app = c.appender();
    for (let k = i; k < end; k++) app.append(s.ts[k]!, s.vs[k]!);
    out.push({ minT: s.ts[i]!, maxT: s.ts[end - 1]!, bytes: c.bytes().slice(), encoding: ENCODING_XOR });
    stats.chunksEncoded++;
  }
}
