/**
 * writeBlock: turns series with their closed chunks into a block directory `<dir>/<ULID>/` with
 * `chunks/000001…`, `index`, `tombstones` and `meta.json`. Everything is written into
 * `<dir>/<ULID>.tmp-for-creation` (the suffix Prometheus uses, so its startup cleanup also recognises it),
 * fsynced, and then renamed into place: a crash leaves either no block or a complete one.
 */
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { labelPairsText, type Labels } from '../../model/labels.js';
import { syncDir } from '../../util/fs.js';
import { ENCODING_XOR } from '../chunkenc/index.js';
import { ChunkSegmentWriter, DEFAULT_SEGMENT_SIZE, segmentFileName, type ChunkData } from './chunks.js';
import { compareLabelsUtf8, compareUtf8 } from './encoding.js';
import { writeIndex, type ChunkMeta, type IndexSeries } from './index-writer.js';
import { META_FILENAME, META_VERSION, encodeMeta, type BlockCompaction, type BlockMeta, type ThanosMeta } from './meta.js';
import { TOMBSTONES_FILENAME, encodeTombstones } from './tombstones.js';
import { newUlid, parseUlid } from './ulid.js';

export const TMP_SUFFIX = '.tmp-for-creation';

/** A chunk handed to the writer: XOR bytes as the head holds them (sample count header included). */
export interface BlockChunkInput {
  /** Time of the first sample. */
  minT: number;
  /** Time of the last sample (inclusive). */
  maxT: number;
  bytes: Uint8Array;
  /** Encoding byte (default 1, XOR). */
  encoding?: number;
}

export interface BlockSeriesInput {
  labels: Labels;
  /** In time order, not overlapping. Series without chunks are left out of the block. */
  chunks: readonly BlockChunkInput[];
}

export interface WriteBlockOptions {
  /** Block range: every chunk must lie in [minT, maxT) (maxT exclusive, as in meta.json). */
  minT: number;
  maxT: number;
  /** Default: a new ULID for the current time. */
  ulid?: string;
  /** Default: level 1 with the block itself as its only source (a block cut from a head). */
  compaction?: BlockCompaction;
  /** Extra `thanos` section for meta.json (external labels, source, resolution). */
  thanos?: ThanosMeta;
  /** Segment size limit for tests (default 512 MiB). */
  segmentSize?: number;
}

interface PreparedSeries {
  labels: Labels;
  chunks: readonly BlockChunkInput[];
}

/** Writes a block and returns its meta; the block is at `join(dir, meta.ulid)`. */
export async function writeBlock(dir: string, series: Iterable<BlockSeriesInput>, opts: WriteBlockOptions): Promise<BlockMeta> {
  checkRange(opts);
  const ulid = opts.ulid !== undefined ? canonicalUlid(opts.ulid) : newUlid();
  return writeSorted(dir, ulid, prepare(series, opts.minT, opts.maxT), opts);
}

/**
 * Like `writeBlock`, for series that arrive already in index order (labels sorted by UTF-8 name, series
 * by `compareLabelsUtf8`, no duplicates), e.g. from a compaction merge: each series' chunks are written to
 * the segment file as it arrives, so only the labels and chunk metas of the block stay in memory.
 * Out-of-order or duplicate series are rejected with an error naming them (the partial block is removed).
 */
export async function writeBlockStream(
  dir: string,
  series: AsyncIterable<BlockSeriesInput> | Iterable<BlockSeriesInput>,
  opts: WriteBlockOptions,
): Promise<BlockMeta> {
  checkRange(opts);
  const ulid = opts.ulid !== undefined ? canonicalUlid(opts.ulid) : newUlid();
  const { minT, maxT } = opts;
  async function* ordered(): AsyncIterable<PreparedSeries> {
    let prev: Labels | null = null;
    for await (const s of series) {
      const p = checkSeries(s, minT, maxT);
      if (p === null) continue;
      if (prev !== null) {
        const c = compareLabelsUtf8(prev, p.labels);
        if (c === 0) throw new Error(`writeBlock: series ${labelPairsText(p.labels)} appears twice`);
        if (c > 0) throw new Error(`writeBlock: series ${labelPairsText(p.labels)} arrives after ${labelPairsText(prev)} (input must be in index order)`);
      }
      prev = p.labels;
      yield p;
    }
  }
  return writeSorted(dir, ulid, ordered(), opts);
}

function checkRange(opts: WriteBlockOptions): void {
  const { minT, maxT } = opts;
  if (!Number.isSafeInteger(minT) || !Number.isSafeInteger(maxT) || maxT <= minT) {
    throw new RangeError(`writeBlock: invalid range minT=${minT} maxT=${maxT} (integers, maxT exclusive and > minT)`);
  }
}

/** Writes validated series in index order into `<dir>/<ulid>` through the temporary directory. */
async function writeSorted(
  dir: string,
  ulid: string,
  series: AsyncIterable<PreparedSeries> | Iterable<PreparedSeries>,
  opts: WriteBlockOptions,
): Promise<BlockMeta> {
  const meta: BlockMeta = {
    ulid,
    minTime: opts.minT,
    maxTime: opts.maxT,
    stats: { numSamples: 0, numSeries: 0, numChunks: 0 },
    compaction: opts.compaction ?? { level: 1, sources: [ulid] },
    version: META_VERSION,
  };
  if (opts.thanos !== undefined) meta.thanos = opts.thanos;
  let numSamples = 0;
  let numChunks = 0;

  const w = await BlockDirWriter.create(dir, ulid, { who: 'writeBlock', segmentSize: opts.segmentSize });
  try {
    for await (const s of series) {
      await w.addSeries(s.labels, s.chunks);
      numChunks += s.chunks.length;
      for (const c of s.chunks) numSamples += (c.bytes[0]! << 8) | c.bytes[1]!;
    }
    meta.stats = { numSamples, numSeries: w.numSeries, numChunks };
    await w.commit(meta);
  } catch (err) {
    await w.abort();
    throw err;
  }
  return meta;
}

/**
 * The steps every new block directory goes through, whoever fills it (head compaction, bucket
 * compaction, downsampling): chunk segments are written into `<dir>/<ULID>.tmp-for-creation/` as series
 * arrive in index order, while only their labels and chunk metas stay in memory; `commit` adds the index,
 * an empty tombstones file and meta.json, fsyncs, and renames the directory into place, so a crash leaves
 * no block or a complete one. After a failure the caller calls `abort`, which removes the partial block.
 */
export class BlockDirWriter {
  private readonly series: IndexSeries[] = [];

  private constructor(
    private readonly dir: string,
    readonly ulid: string,
    private readonly tmp: string,
    private readonly cw: ChunkSegmentWriter,
  ) {}

  /** `who` names the caller in errors (`writeBlock: <dir> already exists`). */
  static async create(dir: string, ulid: string, opts: { who: string; segmentSize?: number | undefined }): Promise<BlockDirWriter> {
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, ulid + TMP_SUFFIX);
    const final = join(dir, ulid);
    if (await exists(final)) throw new Error(`${opts.who}: ${final} already exists`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'chunks'), { recursive: true });
    return new BlockDirWriter(dir, ulid, tmp, new ChunkSegmentWriter(join(tmp, 'chunks'), opts.segmentSize ?? DEFAULT_SEGMENT_SIZE));
  }

  /** Series added so far. */
  get numSeries(): number {
    return this.series.length;
  }

  /** Names of the segment files written so far (`000001`, …), for `thanos.segment_files`. */
  segmentFiles(): string[] {
    return Array.from({ length: this.cw.segments }, (_, i) => segmentFileName(i));
  }

  /**
   * Writes one series' chunks (encoding default XOR) to the segments and keeps its labels and chunk
   * metas for the index. Series must come in index order and with labels in UTF-8 name order.
   */
  async addSeries(labels: Labels, chunks: readonly BlockChunkInput[]): Promise<void> {
    const data: ChunkData[] = chunks.map((c) => ({ encoding: c.encoding ?? ENCODING_XOR, bytes: c.bytes }));
    const refs = await this.cw.writeSeries(data);
    const metas: ChunkMeta[] = chunks.map((c, j) => ({ minT: c.minT, maxT: c.maxT, ref: refs[j]! }));
    this.series.push({ labels, chunks: metas });
  }

  /** Writes the index, tombstones and `meta` as given, and moves the block into place. */
  async commit(meta: BlockMeta): Promise<void> {
    await this.cw.close();
    await syncDir(join(this.tmp, 'chunks'));
    await writeIndex(join(this.tmp, 'index'), this.series);
    await writeSynced(join(this.tmp, TOMBSTONES_FILENAME), encodeTombstones());
    await writeSynced(join(this.tmp, META_FILENAME), new TextEncoder().encode(encodeMeta(meta)));
    await syncDir(this.tmp);
    await rename(this.tmp, join(this.dir, this.ulid));
    await syncDir(this.dir);
  }

  /** Closes what is open and removes the temporary directory (errors of the removal are ignored). */
  async abort(): Promise<void> {
    await this.cw.abort();
    await rm(this.tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function canonicalUlid(s: string): string {
  parseUlid(s);
  return s.toUpperCase();
}

/**
 * Validates the input and orders it as the index needs: label pairs by UTF-8 name, series by UTF-8 label
 * order. Series without chunks are dropped (Prometheus's compactor does the same).
 */
function prepare(input: Iterable<BlockSeriesInput>, minT: number, maxT: number): PreparedSeries[] {
  const out: PreparedSeries[] = [];
  for (const s of input) {
    const p = checkSeries(s, minT, maxT);
    if (p !== null) out.push(p);
  }
  out.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  for (let i = 1; i < out.length; i++) {
    if (compareLabelsUtf8(out[i - 1]!.labels, out[i]!.labels) === 0) {
      throw new Error(`writeBlock: series ${labelPairsText(out[i]!.labels)} appears twice`);
    }
  }
  return out;
}

/** Validates one series (labels, chunk ranges and order); null for a series without chunks. */
function checkSeries(s: BlockSeriesInput, minT: number, maxT: number): PreparedSeries | null {
  if (s.chunks.length === 0) return null;
  const labels = utf8Ordered(s.labels);
  const where = (): string => labelPairsText(labels);
  if (labels.length === 0) throw new Error('writeBlock: a series has no labels');
  for (let i = 0; i < labels.length; i += 2) {
    if (labels[i] === '') throw new Error(`writeBlock: empty label name in ${where()}`);
    if (i > 0 && labels[i] === labels[i - 2]) throw new Error(`writeBlock: duplicate label name ${labels[i]} in ${where()}`);
  }
  let prevMax = -Infinity;
  for (let j = 0; j < s.chunks.length; j++) {
    const c = s.chunks[j]!;
    if (!Number.isSafeInteger(c.minT) || !Number.isSafeInteger(c.maxT) || c.maxT < c.minT) {
      throw new Error(`writeBlock: chunk ${j} of ${where()} has an invalid range [${c.minT}, ${c.maxT}]`);
    }
    if (c.minT <= prevMax) {
      throw new Error(`writeBlock: chunk ${j} of ${where()} starts at ${c.minT}, not after the previous chunk's end ${prevMax}`);
    }
    if (c.minT < minT || c.maxT >= maxT) {
      throw new Error(`writeBlock: chunk ${j} of ${where()} [${c.minT}, ${c.maxT}] lies outside the block range [${minT}, ${maxT})`);
    }
    if (!(c.bytes instanceof Uint8Array) || c.bytes.length < 2) throw new Error(`writeBlock: chunk ${j} of ${where()} has no data`);
    prevMax = c.maxT;
  }
  return { labels, chunks: s.chunks };
}

/** Label pairs ordered by UTF-8 name (our Labels are ordered by UTF-16, which differs only for rare names). */
function utf8Ordered(ls: Labels): Labels {
  for (let i = 2; i < ls.length; i += 2) {
    if (compareUtf8(ls[i - 2]!, ls[i]!) > 0) {
      const pairs: [string, string][] = [];
      for (let j = 0; j < ls.length; j += 2) pairs.push([ls[j]!, ls[j + 1]!]);
      pairs.sort((a, b) => compareUtf8(a[0], b[0]));
      return pairs.flat();
    }
  }
  return ls;
}

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
