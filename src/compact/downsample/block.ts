/**
 * downsampleBlock: one block directory in, one downsampled block directory out, as Thanos's compactor
 * makes them: every series of the source becomes aggregate chunks (encoding 0xff) at the target
 * resolution; meta.json keeps the source's time range, compaction history (level, sources, parents) and
 * external labels, with `thanos.downsample.resolution` set and `thanos.source` "compactor".
 *
 * Series are processed one at a time in index order (which is the order the new index needs): a series'
 * chunks are read by range, decoded, aggregated and written to the new segment files before the next is
 * read. What stays in memory is the source index and the new block's series list (labels and chunk
 * metas). The new block is built in `<ULID>.tmp-for-creation` and renamed into place when complete.
 */
import { labelPairsText } from '../../model/labels.js';
import { BlockDirWriter, META_VERSION, newUlid, type BlockMeta, type ChunkData, type ChunkMeta, type ThanosMeta } from '../../tsdb/block/index.js';
import { ENCODING_AGGR, ENCODING_XOR, XorIterator } from '../../tsdb/chunkenc/index.js';
import { nopLogger, type Logger } from '../../util/log.js';
import { RES_5M, SampleBuffer, downsampleAggr, downsampleRaw, expandInto, type AggrChunkIn, type AggrChunkOut } from './aggregate.js';
import { openSource, type SourceBlock } from './source.js';

export interface DownsampleBlockOptions {
  logger?: Logger;
  /** ULID of the new block (default: a new one for the current time). */
  ulid?: string;
  /** Stops between series; the partial block is removed. */
  signal?: AbortSignal;
  /** Segment size limit (tests). */
  segmentSize?: number;
  /** Longest stretch of work between yields to the event loop (default 20 ms). */
  sliceMs?: number;
}

/** The resolution of a block, from its meta (0 = raw). */
export function blockResolution(meta: BlockMeta): number {
  const r = meta.thanos?.downsample?.resolution;
  return typeof r === 'number' ? r : 0;
}

/**
 * Downsamples the block in `srcBlockDir` to `resolutionMs` into `outParentDir/<ULID>/` and returns the
 * new block's meta, or null (and writes nothing) when the source holds no sample to aggregate.
 */
export async function downsampleBlock(
  srcBlockDir: string,
  resolutionMs: number,
  outParentDir: string,
  opts: DownsampleBlockOptions = {},
): Promise<BlockMeta | null> {
  const logger = opts.logger ?? nopLogger;
  if (!Number.isSafeInteger(resolutionMs) || resolutionMs <= 0) {
    throw new RangeError(`downsampleBlock: resolution must be a positive number of milliseconds, got ${resolutionMs}`);
  }
  const started = performance.now();
  const src = await openSource(srcBlockDir);
  try {
    const srcRes = blockResolution(src.meta);
    if (srcRes >= resolutionMs) {
      throw new Error(`downsampleBlock: block ${src.meta.ulid} is at resolution ${srcRes} ms, not finer than the target ${resolutionMs} ms`);
    }
    const ulid = opts.ulid ?? newUlid();
    const result = await writeDownsampled(src, srcRes, resolutionMs, outParentDir, ulid, opts, logger);
    if (result === null) {
      logger.info('block has no samples to downsample; nothing written', { block: src.meta.ulid, resolution: resolutionMs });
      return null;
    }
    logger.info('downsampled block', {
      from: src.meta.ulid,
      to: result.ulid,
      resolution: resolutionMs,
      series: result.stats.numSeries ?? 0,
      chunks: result.stats.numChunks ?? 0,
      samples: result.stats.numSamples ?? 0,
      duration_ms: Math.round(performance.now() - started),
    });
    return result;
  } finally {
    await src.segments.close();
  }
}

async function writeDownsampled(
  src: SourceBlock,
  srcRes: number,
  res: number,
  outParentDir: string,
  ulid: string,
  opts: DownsampleBlockOptions,
  logger: Logger,
): Promise<BlockMeta | null> {
  const w = await BlockDirWriter.create(outParentDir, ulid, { who: 'downsampleBlock', segmentSize: opts.segmentSize });
  const blockUlid = src.meta.ulid;
  const sliceMs = opts.sliceMs ?? 20;
  let ok = false;
  try {
    let numSamples = 0;
    let numChunks = 0;
    let skippedHistogram = 0;
    const buf = new SampleBuffer();
    const ids = src.index.allPostings();
    if (srcRes > 0 && src.tombstones.size > 0) {
      logger.warn('tombstones in a downsampled block are not applied', { block: blockUlid, series: src.tombstones.size });
    }
    let sliceStart = performance.now();
    for (let k = 0; k < ids.length; k++) {
      if (performance.now() - sliceStart > sliceMs) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      opts.signal?.throwIfAborted();
      const id = ids[k]!;
      const entry = src.index.series(id);
      const what = `block ${blockUlid} series ${id} ${labelPairsText(entry.labels)}`;
      if (entry.chunks.length === 0) continue;
      for (let i = 1; i < entry.chunks.length; i++) {
        if (entry.chunks[i - 1]!.maxT >= entry.chunks[i]!.minT) {
          throw new Error(`${what}: chunks overlap (chunk ${i - 1} ends at ${entry.chunks[i - 1]!.maxT}, chunk ${i} starts at ${entry.chunks[i]!.minT}); the block needs vertical compaction first`);
        }
      }
      let out: AggrChunkOut[];
      try {
        const raw = await src.segments.read(entry.chunks);
        if (srcRes === 0) {
          skippedHistogram += expandRaw(raw, buf, what);
          const deleted = src.tombstones.get(id);
          if (deleted !== undefined) dropDeleted(buf, deleted);
          out = downsampleRaw(buf, res);
        } else {
          out = downsampleAggr(aggrInputs(raw, entry.chunks, what, buf, logger), srcRes, res, what);
        }
      } catch (err) {
        // Name the series for errors that do not (chunk reads, the aggregate chunk decoder, the XOR encoder).
        const msg = (err as Error).message;
        throw msg.startsWith(what) ? err : new Error(`${what}: ${msg}`, { cause: err });
      }
      if (out.length === 0) continue;
      await w.addSeries(entry.labels, out.map((c) => ({ minT: c.minT, maxT: c.maxT, bytes: c.bytes, encoding: ENCODING_AGGR })));
      numChunks += out.length;
      for (const c of out) numSamples += c.numSamples;
    }
    if (skippedHistogram > 0) {
      logger.warn('native histogram chunks are not downsampled; left out of the downsampled block', { block: blockUlid, chunks: skippedHistogram });
    }
    if (w.numSeries === 0) return null;
    const meta: BlockMeta = {
      ulid,
      minTime: src.meta.minTime,
      maxTime: src.meta.maxTime,
      stats: { numSamples, numSeries: w.numSeries, numChunks },
      compaction: structuredClone(src.meta.compaction),
      version: META_VERSION,
      thanos: downsampledThanos(src.meta.thanos, res, w.segmentFiles()),
    };
    await w.commit(meta);
    ok = true;
    return meta;
  } finally {
    if (!ok) await w.abort();
  }
}

/** A raw series' samples into `buf`; returns how many non-float chunks were skipped. */
function expandRaw(raw: readonly ChunkData[], buf: SampleBuffer, what: string): number {
  buf.clear();
  let skipped = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c.encoding === ENCODING_AGGR) {
      throw new Error(`${what}: chunk ${i} is an aggregate chunk, but the block's meta says it holds raw data (resolution 0)`);
    }
    if (c.encoding !== ENCODING_XOR) {
      skipped++;
      continue;
    }
    expandInto(new XorIterator(c.bytes), buf, `${what} chunk ${i}`);
  }
  return skipped;
}

/**
 * The input chunks of an already downsampled series. Raw XOR chunks found there (Thanos has written
 * such blocks) are first aggregated to 5m, as Thanos does; empty ones are skipped.
 */
function aggrInputs(raw: readonly ChunkData[], metas: readonly ChunkMeta[], what: string, buf: SampleBuffer, logger: Logger): AggrChunkIn[] {
  const out: AggrChunkIn[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c.encoding === ENCODING_AGGR) {
      out.push({ minT: metas[i]!.minT, maxT: metas[i]!.maxT, bytes: c.bytes });
      continue;
    }
    if (c.encoding !== ENCODING_XOR) throw new Error(`${what}: chunk ${i} has encoding ${c.encoding}, neither aggregate (255) nor XOR`);
    const n = c.bytes.length >= 2 ? (c.bytes[0]! << 8) | c.bytes[1]! : 0;
    if (n === 0) {
      logger.warn('empty XOR chunk in a downsampled block; skipped', { series: what, chunk: i });
      continue;
    }
    buf.clear();
    expandInto(new XorIterator(c.bytes), buf, `${what} chunk ${i}`);
    for (const a of downsampleRaw(buf, RES_5M)) out.push({ minT: a.minT, maxT: a.maxT, bytes: a.bytes });
  }
  return out;
}

/** Removes samples inside deleted intervals (flat inclusive [min, max] pairs, sorted). */
function dropDeleted(buf: SampleBuffer, iv: readonly number[]): void {
  let m = 0;
  let k = 0;
  for (let i = 0; i < buf.n; i++) {
    const t = buf.ts[i]!;
    while (k < iv.length && iv[k + 1]! < t) k += 2;
    if (k < iv.length && iv[k]! <= t) continue;
    buf.ts[m] = t;
    buf.vs[m] = buf.vs[i]!;
    m++;
  }
  buf.n = m;
}

/** Thanos-section keys that describe the source's files and are recomputed for the new block. */
const SOURCE_FILE_KEYS = new Set(['version', 'labels', 'downsample', 'source', 'segment_files', 'files', 'index_stats', 'upload_time']);

function downsampledThanos(src: ThanosMeta | undefined, res: number, segmentFiles: string[]): ThanosMeta {
  // Key order as Thanos's encoder writes them.
  const out: ThanosMeta = {};
  if (src?.version !== undefined) out.version = src.version;
  out.labels = { ...(src?.labels ?? {}) };
  out.downsample = { resolution: res };
  out.source = 'compactor';
  if (segmentFiles.length > 0) out.segment_files = segmentFiles;
  for (const [k, v] of Object.entries(src ?? {})) if (!SOURCE_FILE_KEYS.has(k)) out[k] = structuredClone(v);
  return out;
}
