/**
 * One block in the bucket as the store gateway serves it: its meta, its index header (in memory) and
 * tombstones, and range reads of postings lists, series entries and chunks through the shared cache.
 * Nothing here reads an index or chunk object whole.
 *
 * Sizes are not known before reading, so reads are sized by estimate and bounded by what is known: a
 * series entry cannot reach past the next wanted series (ids are offsets / 16), a chunk cannot reach past
 * the next wanted chunk of the same segment. An item longer than its estimate is read again with its exact
 * length (counted in `refetches`).
 */
import type { Bucket } from '../objstore/index.js';
import { MatchType, type Matcher } from '../model/matcher.js';
import type { Logger } from '../util/log.js';
import type { BlockMeta, Tombstones } from '../tsdb/block/index.js';
import { BlockFormatError, segmentFileName, unpackChunkRef } from '../tsdb/block/index.js';
import { intersect, subtract, unionAll } from '../tsdb/head/postings.js';
import { ByteLru } from './cache.js';
import { chunkRecord, decodePostings, decodeSeriesBody, itemLength, seriesEntryBody, type SeriesEntry } from './decode.js';
import { fetchRanges, type ByteRange, type FetchStats } from './fetch.js';
import type { IndexHeader } from './index-header.js';

/** What every block of a store shares. */
export interface StoreContext {
  bucket: Bucket;
  cache: ByteLru;
  stats: FetchStats;
  logger: Logger;
  /** Gaps up to this size between wanted ranges are read rather than split into two requests. */
  maxGapBytes: number;
  /** First-read size of a chunk whose end is not bounded by a following wanted chunk. */
  chunkSizeEstimate: number;
}

const EMPTY = new Uint32Array(0);
const SEGMENT_HEADER_SIZE = 8;
const SERIES_ESTIMATE_MIN = 256;
const SERIES_ESTIMATE_MAX = 64 * 1024;
const CHUNK_RECORD_EXTRA = 1 + 4; // encoding byte + CRC after the data
const SERIES_EXTRA = 4; // CRC after the body

export class BucketBlock {
  readonly ulid: string;
  /** Downsampling resolution in ms (0 = raw). */
  readonly resolution: number;
  private readonly indexKey: string;
  private readonly seriesEstimate: number;
  /** Running mean of chunk record sizes read from this block, to plan batches by bytes. */
  private chunkMean: number;

  constructor(
    private readonly ctx: StoreContext,
    readonly meta: BlockMeta,
    readonly header: IndexHeader,
    readonly tombstones: Tombstones,
    /** Key prefix of the block's folder, ending in '/'. */
    readonly dir: string,
  ) {
    this.ulid = meta.ulid;
    this.resolution = meta.thanos?.downsample?.resolution ?? 0;
    this.indexKey = dir + 'index';
    // Twice the mean entry size covers most entries in one read; longer ones are read again.
    const n = meta.stats.numSeries ?? 0;
    const mean = n > 0 ? (header.seriesEnd - header.toc.series) / n : 1024;
    this.seriesEstimate = Math.min(SERIES_ESTIMATE_MAX, Math.max(SERIES_ESTIMATE_MIN, Math.ceil((2 * mean) / 16) * 16));
    this.chunkMean = Math.min(ctx.chunkSizeEstimate, 512);
  }

  /** True when the block holds samples in [start, end] (inclusive; the block's maxTime is exclusive). */
  overlaps(start: number, end: number): boolean {
    return this.meta.minTime <= end && this.meta.maxTime > start;
  }

  /** Expected bytes of one chunk record, for sizing batches. */
  expectedChunkBytes(): number {
    return this.chunkMean;
  }

  // ---------------------------------------------------------------------------------------------------
  // postings

  /**
   * Series ids matching every matcher, sorted. Same semantics as a block opened from disk: matchers that
   * cannot match a missing label narrow by the values they accept; those that can subtract the values
   * they reject. Only the postings lists involved are read, in one batch of merged ranges.
   */
  async expandPostings(matchers: readonly Matcher[]): Promise<Uint32Array> {
    const h = this.header;
    const narrowing: ByteRange[][] = [];
    const rejecting: ByteRange[][] = [];
    for (const m of matchers) {
      if (m.matchesEmpty()) {
        rejecting.push(this.rangesWhere(m.name, (v) => !m.matches(v)));
        continue;
      }
      let ranges: ByteRange[];
      if (m.type === MatchType.Equal) {
        const r = h.postingsRange(m.name, m.value);
        ranges = r === null ? [] : [r];
      } else {
        ranges = this.rangesWhere(m.name, (v) => m.matches(v));
      }
      // A matcher that selects no value selects no series: nothing to read.
      if (ranges.length === 0) return EMPTY;
      narrowing.push(ranges);
    }
    if (narrowing.length === 0) {
      if (h.allPostings === null) return EMPTY;
      narrowing.push([h.allPostings]);
    }
    const wanted: ByteRange[] = [];
    for (const group of [...narrowing, ...rejecting]) wanted.push(...group);
    const lists = await this.postings(wanted);
    let k = 0;
    const take = (n: number): Uint32Array[] => {
      const out = lists.slice(k, k + n);
      k += n;
      return out;
    };
    let result: Uint32Array | null = null;
    for (const group of narrowing) {
      const set = unionAll(take(group.length));
      result = result === null ? set : intersect(result, set);
    }
    for (const group of rejecting) {
      const rejected = unionAll(take(group.length));
      if (rejected.length > 0 && result!.length > 0) result = subtract(result!, rejected);
    }
    return result!;
  }

  private rangesWhere(name: string, pred: (v: string) => boolean): ByteRange[] {
    const e = this.header.nameEntry(name);
    if (e === undefined) return [];
    const out: ByteRange[] = [];
    const symbols = this.header.symbols;
    for (let i = 0; i < e.values.length; i++) {
      if (pred(symbols[e.values[i]!]!)) out.push({ start: e.starts[i]!, end: e.starts[i + 1]! });
    }
    return out;
  }

  /** The postings lists at `ranges` (from the cache or one batched read), in the order given. */
  async postings(ranges: readonly ByteRange[]): Promise<Uint32Array[]> {
    const out: Uint32Array[] = new Array(ranges.length);
    const missing: { i: number; r: ByteRange; key: string }[] = [];
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      const key = ByteLru.key(this.ulid, 'postings', r.start);
      const hit = this.ctx.cache.get('postings', key);
      if (hit !== undefined) out[i] = hit as Uint32Array;
      else missing.push({ i, r, key });
    }
    if (missing.length === 0) return out;
    missing.sort((a, b) => a.r.start - b.r.start);
    const bufs = await fetchRanges(this.ctx.bucket, this.indexKey, missing.map((m) => m.r), this.ctx.maxGapBytes, this.ctx.stats);
    for (let j = 0; j < missing.length; j++) {
      const m = missing[j]!;
      const list = decodePostings(bufs[j]!, this.header.file, m.r.start, `postings list at ${m.r.start}`);
      this.ctx.cache.set(m.key, list);
      out[m.i] = list;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------------
  // series

  /** The series entries of `ids[from, to)` (sorted ids), decoded, in id order. */
  async series(ids: Uint32Array, from: number, to: number): Promise<SeriesEntry[]> {
    const h = this.header;
    const out: SeriesEntry[] = new Array(to - from);
    const missing: { i: number; id: number; key: string; r: ByteRange }[] = [];
    for (let i = from; i < to; i++) {
      const id = ids[i]!;
      const key = ByteLru.key(this.ulid, 'series', id);
      const hit = this.ctx.cache.get('series', key);
      if (hit !== undefined) {
        out[i - from] = decodeSeriesBody(hit as Uint8Array, h.file, id, h.symbols);
        continue;
      }
      const start = id * 16;
      if (start < h.toc.series || start >= h.seriesEnd) {
        throw new Error(`${h.file}: series ${id} (offset ${start}) lies outside the series section [${h.toc.series}, ${h.seriesEnd})`);
      }
      // An entry ends before the next series starts; the next wanted id is a safe upper bound.
      const next = i + 1 < ids.length ? ids[i + 1]! * 16 : h.seriesEnd;
      const end = Math.min(start + this.seriesEstimate, next, h.seriesEnd);
      missing.push({ i, id, key, r: { start, end } });
    }
    if (missing.length === 0) return out;
    const bufs = await fetchRanges(this.ctx.bucket, this.indexKey, missing.map((m) => m.r), this.ctx.maxGapBytes, this.ctx.stats);
    const again: { j: number; r: ByteRange }[] = [];
    for (let j = 0; j < missing.length; j++) {
      const m = missing[j]!;
      const buf = bufs[j]!;
      const need = itemLength(buf, h.file, m.r.start, SERIES_EXTRA, `series ${m.id}`);
      const bounded = m.r.end - m.r.start < this.seriesEstimate;
      if ((need < 0 || need > buf.length) && !bounded && buf.length === m.r.end - m.r.start) {
        const len = need < 0 ? SERIES_ESTIMATE_MAX : need;
        again.push({ j, r: { start: m.r.start, end: Math.min(m.r.start + len, h.seriesEnd) } });
        continue;
      }
      this.acceptSeries(out, from, m, buf);
    }
    if (again.length > 0) {
      this.ctx.stats.refetches += again.length;
      const more = await fetchRanges(this.ctx.bucket, this.indexKey, again.map((a) => a.r), this.ctx.maxGapBytes, this.ctx.stats);
      for (let k = 0; k < again.length; k++) this.acceptSeries(out, from, missing[again[k]!.j]!, more[k]!);
    }
    return out;
  }

  private acceptSeries(out: SeriesEntry[], from: number, m: { i: number; id: number; key: string }, buf: Uint8Array): void {
    const body = seriesEntryBody(buf, this.header.file, m.id);
    this.ctx.cache.set(m.key, body);
    out[m.i - from] = decodeSeriesBody(body, this.header.file, m.id, this.header.symbols);
  }

  // ---------------------------------------------------------------------------------------------------
  // chunks

  /**
   * The chunk records at `refs` (encoding byte followed by the data, CRC-checked), keyed by ref. Reads are
   * batched per segment file, with near ranges merged.
   */
  async chunks(refs: readonly number[]): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    const bySegment = new Map<number, { ref: number; offset: number; key: string }[]>();
    const seen = new Set<number>();
    for (const ref of refs) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      const key = ByteLru.key(this.ulid, 'chunks', ref);
      const hit = this.ctx.cache.get('chunks', key);
      if (hit !== undefined) {
        out.set(ref, hit as Uint8Array);
        continue;
      }
      const { segment, offset } = unpackChunkRef(ref);
      let list = bySegment.get(segment);
      if (list === undefined) bySegment.set(segment, (list = []));
      list.push({ ref, offset, key });
    }
    await Promise.all([...bySegment].map(([seg, list]) => this.segmentChunks(seg, list, out)));
    return out;
  }

  private async segmentChunks(segment: number, list: { ref: number; offset: number; key: string }[], out: Map<number, Uint8Array>): Promise<void> {
    const key = `${this.dir}chunks/${segmentFileName(segment)}`;
    const file = `${this.ctx.bucket.name}:${key}`;
    list.sort((a, b) => a.offset - b.offset);
    const est = this.ctx.chunkSizeEstimate;
    const ranges: ByteRange[] = [];
    for (let i = 0; i < list.length; i++) {
      const off = list[i]!.offset;
      if (off < SEGMENT_HEADER_SIZE) throw new BlockFormatError(file, off, `chunk ref ${list[i]!.ref} points into the segment header`);
      const next = i + 1 < list.length ? list[i + 1]!.offset : Infinity;
      ranges.push({ start: off, end: Math.min(off + est, next) });
    }
    const bufs = await fetchRanges(this.ctx.bucket, key, ranges, this.ctx.maxGapBytes, this.ctx.stats);
    const again: { i: number; r: ByteRange }[] = [];
    for (let i = 0; i < list.length; i++) {
      const buf = bufs[i]!;
      const r = ranges[i]!;
      const need = itemLength(buf, file, r.start, CHUNK_RECORD_EXTRA, 'chunk');
      if (buf.length === 0) throw new Error(`${file}: chunk ref ${list[i]!.ref} points past the end of the segment`);
      const estimated = r.end - r.start === est && buf.length === est;
      if ((need < 0 || need > buf.length) && estimated) {
        again.push({ i, r: { start: r.start, end: r.start + (need < 0 ? est * 4 : need) } });
        continue;
      }
      this.acceptChunk(list[i]!, buf, file, out);
    }
    if (again.length > 0) {
      this.ctx.stats.refetches += again.length;
      const more = await fetchRanges(this.ctx.bucket, key, again.map((a) => a.r), this.ctx.maxGapBytes, this.ctx.stats);
      for (let k = 0; k < again.length; k++) this.acceptChunk(list[again[k]!.i]!, more[k]!, file, out);
    }
  }

  private acceptChunk(c: { ref: number; offset: number; key: string }, buf: Uint8Array, file: string, out: Map<number, Uint8Array>): void {
    const rec = chunkRecord(buf, file, c.offset);
    this.chunkMean += (rec.length + 6 - this.chunkMean) / 16;
    this.ctx.cache.set(c.key, rec);
    out.set(c.ref, rec);
  }
}
