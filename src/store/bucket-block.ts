/**
 * One block in the bucket as the store gateway serves it: its meta, its index header (in memory) and
 * tombstones, and range reads of postings lists, series entries and chunks through the shared cache.
 * Nothing here reads an index or chunk object whole.
 *
 * Sizes are not known before reading, so reads are sized by estimate and bounded by what is known: a
 * series entry cannot reach past the next wanted series (ids are offsets / 16); a series' chunks lie one
 * after another, so its wanted chunks are read as one range ending an estimate past the last one's start,
 * and never past the next range wanted from the segment. An item longer than its estimate is read again
 * with its exact length (counted in `refetches`).
 */
import type { Bucket } from '../objstore/index.js';
import { MatchType, type Matcher } from '../model/matcher.js';
import type { Logger } from '../util/log.js';
import type { BlockMeta, Tombstones } from '../tsdb/block/index.js';
import { BlockFormatError, segmentFileName } from '../tsdb/block/index.js';
import { intersect, subtract, unionAll } from '../tsdb/head/postings.js';
import { ByteLru, type CacheSpace } from './cache.js';
import { checkChunkRecordAt, chunkRecordSize, chunkRef, decodePostings, decodeSeriesBody, itemLength, seriesEntryBody, type SeriesEntry } from './decode.js';
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
const SERIES_EXTRA = 4; // CRC after the body

export class BucketBlock {
  readonly ulid: string;
  /** Downsampling resolution in ms (0 = raw). */
  readonly resolution: number;
  private readonly indexKey: string;
  private readonly space: CacheSpace;
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
    this.space = ctx.cache.space(this.ulid);
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
    const missing: { i: number; r: ByteRange }[] = [];
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      const hit = this.ctx.cache.get<Uint32Array>(this.space, 'postings', r.start);
      if (hit !== undefined) out[i] = hit;
      else missing.push({ i, r });
    }
    if (missing.length === 0) return out;
    missing.sort((a, b) => a.r.start - b.r.start);
    const bufs = await fetchRanges(this.ctx.bucket, this.indexKey, missing.map((m) => m.r), this.ctx.maxGapBytes, this.ctx.stats);
    for (let j = 0; j < missing.length; j++) {
      const m = missing[j]!;
      const list = decodePostings(bufs[j]!, this.header.file, m.r.start, `postings list at ${m.r.start}`);
      this.ctx.cache.set(this.space, 'postings', m.r.start, list, ByteLru.arrayCost(list));
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
    const missing: { i: number; id: number; r: ByteRange }[] = [];
    for (let i = from; i < to; i++) {
      const id = ids[i]!;
      const hit = this.ctx.cache.get<Uint8Array>(this.space, 'series', id);
      if (hit !== undefined) {
        out[i - from] = decodeSeriesBody(hit, h.file, id, h.symbols);
        continue;
      }
      const start = id * 16;
      if (start < h.toc.series || start >= h.seriesEnd) {
        throw new Error(`${h.file}: series ${id} (offset ${start}) lies outside the series section [${h.toc.series}, ${h.seriesEnd})`);
      }
      // An entry ends before the next series starts; the next wanted id is a safe upper bound.
      const next = i + 1 < ids.length ? ids[i + 1]! * 16 : h.seriesEnd;
      const end = Math.min(start + this.seriesEstimate, next, h.seriesEnd);
      missing.push({ i, id, r: { start, end } });
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

  private acceptSeries(out: SeriesEntry[], from: number, m: { i: number; id: number }, buf: Uint8Array): void {
    const body = seriesEntryBody(buf, this.header.file, m.id);
    this.ctx.cache.set(this.space, 'series', m.id, body, ByteLru.arrayCost(body));
    out[m.i - from] = decodeSeriesBody(body, this.header.file, m.id, this.header.symbols);
  }

  // ---------------------------------------------------------------------------------------------------
  // chunks

  /**
   * For each want, a run holding (at least) chunks [from, to) of its series, CRC-checked. A series' run is
   * cached as one entry (keyed by series id), so a warm query costs one lookup per series and block, not
   * one per chunk; a cached run that does not cover what is wanted is replaced by the wanted one.
   *
   * A series' chunks are written one after another, so a miss reads each series' wanted chunks as one
   * range ("piece"; a new piece where they change segment or leave a gap over maxGapBytes), near pieces
   * merged into one request, and parses the records in place.
   */
  async chunkRuns(wants: readonly ChunkWant[]): Promise<ChunkRun[]> {
    const out: ChunkRun[] = new Array(wants.length);
    const bySegment = new Map<number, Piece[]>();
    const pieces: Piece[][] = [];
    for (let w = 0; w < wants.length; w++) {
      const { entry, from, to } = wants[w]!;
      const hit = this.ctx.cache.get<ChunkRun>(this.space, 'chunks', entry.id);
      if (hit !== undefined && hit.first <= from && to <= hit.first + hit.spans.length / 2) {
        out[w] = hit;
        continue;
      }
      const mine: Piece[] = [];
      let piece: Piece | null = null;
      for (let k = from; k < to; k++) {
        const ref = chunkRef(entry, k);
        const segment = Math.floor(ref / TWO_32);
        const offset = ref % TWO_32;
        if (piece !== null && segment === piece.segment && offset > piece.last && offset - piece.last <= this.ctx.maxGapBytes) {
          piece.to = k + 1;
          piece.last = offset;
          continue;
        }
        piece = { entry, segment, from: k, to: k + 1, first: offset, last: offset, end: 0, buf: EMPTY_BYTES, spans: null };
        mine.push(piece);
        let list = bySegment.get(segment);
        if (list === undefined) bySegment.set(segment, (list = []));
        list.push(piece);
      }
      pieces[w] = mine;
    }
    if (bySegment.size === 0) return out;
    await Promise.all([...bySegment].map(([seg, list]) => this.readPieces(seg, list)));
    for (let w = 0; w < wants.length; w++) {
      const mine = pieces[w];
      if (mine === undefined) continue;
      const run = joinPieces(wants[w]!.from, mine);
      this.ctx.cache.set(this.space, 'chunks', wants[w]!.entry.id, run, ByteLru.arrayCost(run.data) + ByteLru.arrayCost(run.spans) + RUN_OVERHEAD);
      out[w] = run;
    }
    return out;
  }

  /**
   * Reads the pieces of one segment file and checks their records: each piece's `buf` and `spans` are set
   * (the bytes read, and where each chunk's encoding byte and data lie in them).
   */
  private async readPieces(segment: number, list: Piece[]): Promise<void> {
    const key = `${this.dir}chunks/${segmentFileName(segment)}`;
    const file = `${this.ctx.bucket.name}:${key}`;
    list.sort((a, b) => a.first - b.first);
    const est = this.ctx.chunkSizeEstimate;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.first < SEGMENT_HEADER_SIZE) throw new BlockFormatError(file, p.first, `chunk ref ${segment * TWO_32 + p.first} points into the segment header`);
      // The last record ends before the next piece starts (records lie one after another).
      const next = i + 1 < list.length && list[i + 1]!.first > p.last ? list[i + 1]!.first : Infinity;
      p.end = Math.min(p.last + est, next);
    }
    let todo = list;
    for (let round = 0; todo.length > 0; round++) {
      if (round > 0) this.ctx.stats.refetches += todo.length;
      const bufs = await fetchRanges(this.ctx.bucket, key, todo.map((p) => ({ start: p.first, end: p.end })), this.ctx.maxGapBytes, this.ctx.stats);
      const again: Piece[] = [];
      for (let i = 0; i < todo.length; i++) {
        const p = todo[i]!;
        p.buf = bufs[i]!;
        const need = this.parsePiece(p, file, segment);
        if (need > 0) {
          // The last record is longer than the estimate: read the piece again, to its exact end.
          // A second read knows the length unless the first one ended inside the length varint.
          if (round >= 2) throw new BlockFormatError(file, p.last, `chunk ref ${segment * TWO_32 + p.last}: record still cut off after reading ${p.end - p.last} bytes`);
          p.end = p.last + need;
          again.push(p);
        }
      }
      todo = again;
    }
  }

  /**
   * Checks the records of `p` in its buffer; returns 0, or the bytes the last record needs when the read
   * stopped short of it (an estimated end). A record running into the next one, a bad length or a bad CRC
   * is an error naming the file and offset.
   */
  private parsePiece(p: Piece, file: string, segment: number): number {
    const buf = p.buf;
    const n = p.to - p.from;
    const spans = new Uint32Array(2 * n);
    const span = { start: 0, end: 0 };
    for (let i = 0; i < n; i++) {
      const off = chunkRef(p.entry, p.from + i) % TWO_32;
      const next = i + 1 < n ? chunkRef(p.entry, p.from + i + 1) % TWO_32 : Infinity;
      const pos = (off - p.first) | 0; // a small integer: see checkChunkRecordAt
      if (pos >= buf.length) throw new Error(`${file}: chunk ref ${segment * TWO_32 + off} points past the end of the segment`);
      const size = chunkRecordSize(buf, pos, file, off);
      if (size < 0 || pos + size > buf.length) {
        // Cut off by the read: only the last record's end was a guess.
        if (next === Infinity && buf.length === p.end - p.first) return size < 0 ? this.ctx.chunkSizeEstimate * 4 : size;
      }
      if (off + size > next) throw new BlockFormatError(file, off, `chunk record of ${size} bytes runs into the next chunk of the series (at offset ${next})`);
      checkChunkRecordAt(buf, pos, file, off, span);
      spans[2 * i] = span.start;
      spans[2 * i + 1] = span.end;
      this.chunkMean += (span.end - span.start + 6 - this.chunkMean) / 16;
    }
    p.spans = spans;
    return 0;
  }
}

/** The chunks of one series a cursor wants from a block: indexes [from, to) of the entry's chunks. */
export interface ChunkWant {
  entry: SeriesEntry;
  from: number;
  to: number;
}

/**
 * Chunks of one series in one block, CRC-checked: chunk `first + i` (an index into the series' chunk
 * list) has its encoding byte at `data[spans[2i]]` and its data in `data[spans[2i] + 1, spans[2i + 1])`.
 * `data` holds the records as they lie in the segment (length and CRC included), copied out of the read.
 */
export interface ChunkRun {
  first: number;
  data: Uint8Array;
  spans: Uint32Array;
}

/** Consecutive chunks [from, to) of one want that lie together in one segment: read as one range. */
interface Piece {
  entry: SeriesEntry;
  segment: number;
  from: number;
  to: number;
  /** Segment offsets of the first and the last chunk. */
  first: number;
  last: number;
  /** Where the read ends (exclusive): an estimate past `last` until the last record's length is known. */
  end: number;
  /** The bytes read from `first` on. */
  buf: Uint8Array;
  /** Set by parsePiece: encoding byte and data end of each chunk, relative to `buf`. */
  spans: Uint32Array | null;
}

const TWO_32 = 2 ** 32;
const EMPTY_BYTES = new Uint8Array(0);
/** Heap bytes of a ChunkRun object beyond its two arrays. */
const RUN_OVERHEAD = 48;

/** One run from the parsed pieces of a want: a copy of the bytes they span, so the run pins no read buffer. */
function joinPieces(first: number, pieces: readonly Piece[]): ChunkRun {
  let total = 0;
  let n = 0;
  for (const p of pieces) {
    const sp = p.spans!;
    total += sp[sp.length - 1]! + 4;
    n += sp.length;
  }
  if (pieces.length === 1) {
    const p = pieces[0]!;
    const sp = p.spans!;
    return { first, data: p.buf.slice(0, sp[sp.length - 1]! + 4), spans: sp };
  }
  const data = new Uint8Array(total);
  const spans = new Uint32Array(n);
  let pos = 0;
  let j = 0;
  for (const p of pieces) {
    const sp = p.spans!;
    const len = sp[sp.length - 1]! + 4;
    data.set(p.buf.subarray(0, len), pos);
    for (let i = 0; i < sp.length; i++) spans[j++] = sp[i]! + pos;
    pos += len;
  }
  return { first, data, spans };
}
