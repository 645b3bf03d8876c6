/**
 * The store gateway's Querier: answers `select`, `labelNames` and `labelValues` from the blocks of a bucket
 * with range reads.
 *
 * `select` picks the blocks overlapping the range at the resolution the query allows (Thanos's rule), opens
 * one cursor per block, and merges the cursors by labels: series with the same labels in several blocks
 * become one series. Memory stays bounded by the budget, not by the number of blocks: each cursor holds its
 * matching series ids (4 bytes each), a batch of decoded series entries, and chunk data for at most
 * `fetchBudgetBytes / (2 * cursors)` bytes (one batch in use, one prefetched; a run found in the cache may
 * hold more of the series' chunks in that block than the batch wants); a series' chunks are read only when
 * its batch comes up, and released as the consumer moves on.
 *
 * Samples are decoded straight from the runs the block read (`RunsIterator`): one cursor per series over
 * all its blocks when they follow one another in time, the common case.
 */
import { compareLabels, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matcher.js';
import { MergeIterator } from '../storage/merge.js';
import {
  ValueType,
  type LabelHints,
  type Querier,
  type SampleIterator,
  type SelectHints,
  type Series,
  type SeriesSet,
} from '../storage/interface.js';
import {
  AGGR_NAMES,
  AggrChunkError,
  AggrType,
  ENCODING_AGGR,
  ENCODING_XOR,
  aggrForFunc,
  decodeAggrChunk,
  downsampledIterator,
  XorSequenceIterator,
  type AggrPick,
  type EncodedChunk,
} from '../tsdb/chunkenc/index.js';
import type { BucketBlock, ChunkRun, ChunkWant } from './bucket-block.js';
import { chunkCount, chunkMaxT, chunkMinT, chunkRef, type SeriesEntry } from './decode.js';
import { forEachLimited } from './fetch.js';

/** Native histogram chunk encodings (histogram, float histogram): Argus skips them with a warning. */
const HISTOGRAM_ENCODINGS = new Set([2, 3]);
/** Series entries decoded per read. */
const SERIES_BATCH = 256;
/** A batch never spans more series than this, however small their chunks. */
const MAX_BATCH_SERIES = 1024;
/** Cursor setups (postings) run this many blocks at a time. */
const BLOCK_CONCURRENCY = 8;
/** Yield to the event loop at least this often (ms) while merging. */
const YIELD_EVERY_MS = 10;

export interface BucketQuerierOptions {
  /**
   * Highest downsampling resolution (ms) the query may read. Default: step/5 when the select hints carry a
   * step (Thanos's auto-downsampling), else 0 (raw data only).
   */
  maxSourceResolution?: number;
}

/** What the querier needs of its store. */
export interface QuerierSource {
  /** The store's blocks, sorted by minTime. */
  blocks(): readonly BucketBlock[];
  /** Bytes of chunk data one select may hold in flight. */
  readonly fetchBudgetBytes: number;
}

/**
 * The blocks covering [mint, maxt] at the coarsest resolution <= maxResolution, with gaps filled from the
 * next finer resolution, recursively (Thanos's bucket block set). `blocks` is sorted by minTime.
 */
export function blocksFor(blocks: readonly BucketBlock[], mint: number, maxt: number, maxResolution: number): BucketBlock[] {
  const resolutions = [...new Set(blocks.map((b) => b.resolution))].sort((a, b) => b - a);
  const byRes = new Map<number, BucketBlock[]>();
  for (const b of blocks) {
    let l = byRes.get(b.resolution);
    if (l === undefined) byRes.set(b.resolution, (l = []));
    l.push(b);
  }
  const fill = (from: number, to: number, i: number): BucketBlock[] => {
    if (from > to || i >= resolutions.length) return [];
    const out: BucketBlock[] = [];
    let start = from;
    for (const b of byRes.get(resolutions[i]!)!) {
      if (b.meta.maxTime <= from) continue;
      if (b.meta.minTime > to) break;
      if (b.meta.minTime > start) out.push(...fill(start, b.meta.minTime - 1, i + 1));
      out.push(b);
      start = Math.max(start, b.meta.maxTime);
    }
    out.push(...fill(start, to, i + 1));
    return out;
  };
  let i = 0;
  while (i < resolutions.length && resolutions[i]! > maxResolution) i++;
  return fill(mint, maxt, i);
}

/**
 * One block's contribution to a series: its chunks within the range, either as chunks [lo, hi) of a run
 * (XOR only: the common case, read in place) or, when the block holds aggregate or histogram chunks, as a
 * list of chunks.
 */
interface Part {
  block: BucketBlock;
  run: ChunkRun | null;
  lo: number;
  hi: number;
  chunks: EncodedChunk[] | null;
  minT: number;
  maxT: number;
  deleted: number[] | undefined;
}

interface Loaded {
  labels: Labels;
  part: Part;
}

/** Walks one block's matching series in label order, loading chunks batch by batch. */
class BlockCursor {
  private ids: Uint32Array = new Uint32Array(0);
  private idPos = 0;
  private entries: ChunkWant[] = [];
  private ePos = 0;
  /** Entries sorted up front (blocks whose index order is not the model's order). */
  private presorted = false;
  private ready: (Loaded | undefined)[] = [];
  private rPos = 0;
  private next: Promise<Loaded[]> | null = null;
  current: Loaded | null = null;
  /** Non-float chunks left out (native histograms). */
  skipped = 0;

  constructor(
    readonly block: BucketBlock,
    private readonly start: number,
    private readonly end: number,
    private readonly budget: number,
    private readonly pick: AggrPick,
  ) {}

  async init(matchers: readonly Matcher[]): Promise<void> {
    this.ids = await this.block.expandPostings(matchers);
    if (!this.block.header.indexOrderIsModelOrder) {
      // Rare: labels with characters beyond U+FFFF order differently in UTF-8 and UTF-16. Read every entry
      // (labels and chunk metas, no chunk data) and sort them as the model does.
      const all: ChunkWant[] = [];
      while (this.idPos < this.ids.length) all.push(...(await this.nextEntries()));
      all.sort((a, b) => compareLabels(a.entry.labels, b.entry.labels));
      this.entries = all;
      this.presorted = true;
    }
    await this.advance();
  }

  private hasMore(): boolean {
    return this.ePos < this.entries.length || (!this.presorted && this.idPos < this.ids.length);
  }

  /**
   * Entries of the next SERIES_BATCH ids that have a chunk in range, with the span of their chunk list
   * that overlaps the range (chunks are sorted by time, so the overlapping ones are consecutive).
   */
  private async nextEntries(): Promise<ChunkWant[]> {
    const to = Math.min(this.ids.length, this.idPos + SERIES_BATCH);
    const got = await this.block.series(this.ids, this.idPos, to);
    this.idPos = to;
    const out: ChunkWant[] = [];
    for (const e of got) {
      const n = chunkCount(e);
      const inRange = (i: number): boolean => chunkMaxT(e, i) >= this.start && chunkMinT(e, i) <= this.end;
      let from = 0;
      while (from < n && !inRange(from)) from++;
      if (from === n) continue;
      let last = n - 1;
      while (!inRange(last)) last--;
      out.push({ entry: e, from, to: last + 1 });
    }
    return out;
  }

  /** Moves to the next series; `current` is null at the end. */
  async advance(): Promise<void> {
    if (this.rPos > 0) this.ready[this.rPos - 1] = undefined; // the consumer owns it from here
    while (this.rPos >= this.ready.length) {
      const p = this.next ?? (this.hasMore() ? this.loadBatch() : null);
      this.next = null;
      this.ready = [];
      this.rPos = 0;
      if (p === null) {
        this.current = null;
        return;
      }
      this.ready = await p;
      if (this.hasMore()) {
        // Prefetch the next batch while the consumer works through this one. A rejection surfaces when
        // the batch is awaited; until then it must not count as unhandled.
        this.next = this.loadBatch();
        this.next.catch(() => undefined);
      }
    }
    this.current = this.ready[this.rPos++]!;
  }

  private async loadBatch(): Promise<Loaded[]> {
    while (this.ePos >= this.entries.length && !this.presorted && this.idPos < this.ids.length) {
      this.entries = await this.nextEntries();
      this.ePos = 0;
    }
    const take: ChunkWant[] = [];
    let bytes = 0;
    const per = this.block.expectedChunkBytes();
    while (this.ePos < this.entries.length && take.length < MAX_BATCH_SERIES) {
      const w = this.entries[this.ePos]!;
      const est = (w.to - w.from) * per;
      if (take.length > 0 && bytes + est > this.budget) break;
      take.push(w);
      this.entries[this.ePos++] = undefined as unknown as ChunkWant; // released once loaded
      bytes += est;
    }
    const runs = await this.block.chunkRuns(take);
    const out: Loaded[] = [];
    for (let i = 0; i < take.length; i++) {
      const { entry: e, from, to } = take[i]!;
      const run = runs[i]!;
      const lo = from - run.first;
      const hi = to - run.first;
      const part: Part = {
        block: this.block,
        run,
        lo,
        hi,
        chunks: null,
        minT: chunkMinT(e, from),
        maxT: chunkMaxT(e, to - 1),
        deleted: this.block.tombstones.get(e.id),
      };
      let xorOnly = true;
      for (let k = lo; k < hi; k++) if (run.data[run.spans[2 * k]!] !== ENCODING_XOR) xorOnly = false;
      if (!xorOnly) {
        part.run = null;
        part.chunks = this.otherChunks(e, run, lo, hi, from);
        if (part.chunks.length === 0) continue;
      }
      out.push({ labels: e.labels, part });
    }
    return out;
  }

  /** The chunks of a run holding more than XOR chunks: aggregates checked, histograms skipped (counted). */
  private otherChunks(e: SeriesEntry, run: ChunkRun, lo: number, hi: number, from: number): EncodedChunk[] {
    const chunks: EncodedChunk[] = [];
    for (let k = lo; k < hi; k++) {
      const encoding = run.data[run.spans[2 * k]!]!;
      const bytes = run.data.subarray(run.spans[2 * k]! + 1, run.spans[2 * k + 1]!);
      const ref = chunkRef(e, from + k - lo);
      if (encoding === ENCODING_XOR) chunks.push({ encoding, bytes });
      else if (encoding === ENCODING_AGGR) {
        checkAggrChunk(bytes, this.pick, this.block, e, ref);
        chunks.push({ encoding, bytes });
      } else if (HISTOGRAM_ENCODINGS.has(encoding)) this.skipped++;
      else throw new Error(`block ${this.block.ulid}: chunk ${ref} of series ${labelsText(e.labels)} has unknown encoding ${encoding}`);
    }
    return chunks;
  }
}

/** Validates an aggregate chunk where errors can still be thrown (iterators cannot). */
function checkAggrChunk(bytes: Uint8Array, pick: AggrPick, block: BucketBlock, e: SeriesEntry, ref: number): void {
  const where = `block ${block.ulid}: chunk ${ref} of series ${labelsText(e.labels)}`;
  let parts;
  try {
    parts = decodeAggrChunk(bytes);
  } catch (err) {
    throw new Error(`${where}: ${err instanceof AggrChunkError ? err.message : String(err)}`);
  }
  const need = pick === 'average' ? [AggrType.Count, AggrType.Sum] : [pick];
  for (const a of need) {
    const p = parts[a];
    if (p === null || p === undefined) throw new Error(`${where}: the ${AGGR_NAMES[a]} aggregate this query reads is not in the chunk`);
    if (p.encoding !== ENCODING_XOR) throw new Error(`${where}: the ${AGGR_NAMES[a]} aggregate has encoding ${p.encoding}; only XOR aggregates can be read`);
  }
}

/** A min-heap of cursors by their current labels (then block start, for a stable part order). */
class CursorHeap {
  private readonly a: BlockCursor[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): BlockCursor | undefined {
    return this.a[0];
  }

  private less(x: BlockCursor, y: BlockCursor): boolean {
    const c = compareLabels(x.current!.labels, y.current!.labels);
    return c < 0 || (c === 0 && x.block.meta.minTime < y.block.meta.minTime);
  }

  push(c: BlockCursor): void {
    const a = this.a;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): BlockCursor | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class BucketQuerier implements Querier {
  constructor(
    private readonly source: QuerierSource,
    private readonly opts: BucketQuerierOptions = {},
  ) {
    const r = opts.maxSourceResolution;
    if (r !== undefined && !(Number.isFinite(r) && r >= 0)) throw new RangeError(`maxSourceResolution ${r} must be a non-negative number of milliseconds`);
  }

  /** The resolution limit for a select with these hints. */
  maxResolution(hints: SelectHints): number {
    if (this.opts.maxSourceResolution !== undefined) return this.opts.maxSourceResolution;
    return hints.step !== undefined && hints.step > 0 ? Math.floor(hints.step / 5) : 0;
  }

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    const warnings: string[] = [];
    const source = this.source;
    const maxRes = this.maxResolution(hints);
    return {
      warnings,
      async *[Symbol.asyncIterator]() {
        const { start, end } = hints;
        const blocks = blocksFor(source.blocks(), start, end, maxRes);
        if (blocks.length === 0) return;
        const pick = aggrForFunc(hints.func);
        const budget = Math.max(16 * 1024, Math.floor(source.fetchBudgetBytes / (2 * blocks.length)));
        const cursors = blocks.map((b) => new BlockCursor(b, start, end, budget, pick));
        const heap = new CursorHeap();
        const limit = hints.limit && hints.limit > 0 ? hints.limit : Infinity;
        try {
          await forEachLimited(cursors, BLOCK_CONCURRENCY, async (c) => {
            try {
              await c.init(matchers);
            } catch (err) {
              throw contextError(err, `block ${c.block.ulid}`);
            }
          });
          for (const c of cursors) if (c.current !== null) heap.push(c);
          let emitted = 0;
          let lastYield = performance.now();
          while (heap.size > 0 && emitted < limit) {
            const labels = heap.peek()!.current!.labels;
            const parts: Part[] = [];
            while (heap.size > 0 && compareLabels(heap.peek()!.current!.labels, labels) === 0) {
              const c = heap.pop()!;
              parts.push(c.current!.part);
              try {
                await c.advance();
              } catch (err) {
                throw contextError(err, `block ${c.block.ulid}`);
              }
              if (c.current !== null) heap.push(c);
            }
            emitted++;
            yield new StoreSeries(labels, parts, start, end, pick);
            if (performance.now() - lastYield > YIELD_EVERY_MS) {
              await new Promise((r) => setImmediate(r));
              lastYield = performance.now();
            }
          }
        } finally {
          const skipped = cursors.reduce((n, c) => n + c.skipped, 0);
          if (skipped > 0) warnings.push(`store: ${skipped} non-float chunks skipped (native histograms are not supported)`);
        }
      },
    };
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const names = new Set<string>();
    await this.eachLabelSet(hints, matchers, (b) => {
      for (const n of b.header.labelNames()) names.add(n);
    }, (ls) => {
      for (let i = 0; i < ls.length; i += 2) names.add(ls[i]!);
    });
    return limitSorted([...names], hints.limit);
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const values = new Set<string>();
    await this.eachLabelSet(hints, matchers, (b) => {
      for (const v of b.header.labelValues(name)) values.add(v);
    }, (ls) => {
      for (let i = 0; i < ls.length; i += 2) if (ls[i] === name) values.add(ls[i + 1]!);
    });
    return limitSorted([...values], hints.limit);
  }

  /**
   * Without matchers, `whole` reads a block's index header; with matchers, `each` sees the labels of every
   * matching series with a chunk in range (series entries read in batches, no chunk data). Every block
   * overlapping the range counts, whatever its resolution: downsampled blocks hold the same series.
   */
  private async eachLabelSet(
    hints: LabelHints,
    matchers: readonly Matcher[],
    whole: (b: BucketBlock) => void,
    each: (ls: Labels) => void,
  ): Promise<void> {
    const blocks = this.source.blocks().filter((b) => b.overlaps(hints.start, hints.end));
    if (matchers.length === 0) {
      for (const b of blocks) whole(b);
      return;
    }
    await forEachLimited(blocks, BLOCK_CONCURRENCY, async (b) => {
      try {
        const ids = await b.expandPostings(matchers);
        for (let i = 0; i < ids.length; i += SERIES_BATCH) {
          const entries = await b.series(ids, i, Math.min(ids.length, i + SERIES_BATCH));
          for (const e of entries) {
            for (let c = 0; c < chunkCount(e); c++) {
              if (chunkMaxT(e, c) >= hints.start && chunkMinT(e, c) <= hints.end) {
                each(e.labels);
                break;
              }
            }
          }
        }
      } catch (err) {
        throw contextError(err, `block ${b.ulid}`);
      }
    });
  }
}

function limitSorted(xs: string[], limit?: number): string[] {
  xs.sort();
  return limit && limit > 0 ? xs.slice(0, limit) : xs;
}

function contextError(err: unknown, what: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (!e.message.includes(what)) e.message = `${what}: ${e.message}`;
  return e;
}

function labelsText(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  return `{${parts.join(', ')}}`;
}

// -----------------------------------------------------------------------------------------------------
// series and iterators

class StoreSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly parts: Part[],
    private readonly start: number,
    private readonly end: number,
    private readonly pick: AggrPick,
  ) {
    parts.sort((a, b) => a.minT - b.minT);
  }

  iterator(): SampleIterator {
    const parts = this.parts;
    let disjoint = true;
    let simple = true;
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && parts[i]!.minT <= parts[i - 1]!.maxT) disjoint = false;
      if (parts[i]!.run === null || parts[i]!.deleted !== undefined) simple = false;
    }
    // Raw chunks one after another: one cursor over all of them.
    if (disjoint && simple) return new RunsIterator(parts, this.start, this.end);
    const its = parts.map((p) => this.partIterator(p));
    if (its.length === 1) return its[0]!;
    return disjoint ? new ConcatIterator(its) : new MergeIterator(its);
  }

  private partIterator(p: Part): SampleIterator {
    const it: SampleIterator = p.run !== null ? new RunsIterator([p], this.start, this.end) : downsampledIterator(p.chunks!, this.pick, this.start, this.end);
    return p.deleted === undefined ? it : new DeletedFilter(it, p.deleted);
  }
}

/**
 * The samples in [mint, maxt] of the XOR chunks of consecutive, time-ordered parts, decoded straight from
 * their runs (no per-chunk arrays).
 */
class RunsIterator extends XorSequenceIterator {
  private p = 0;
  private k: number;

  constructor(
    private readonly parts: readonly Part[],
    mint: number,
    maxt: number,
  ) {
    super(mint, maxt);
    this.k = parts.length > 0 ? parts[0]!.lo - 1 : 0;
    this.nextChunk();
  }

  protected advanceChunk(): boolean {
    const parts = this.parts;
    while (this.p < parts.length) {
      const part = parts[this.p]!;
      if (++this.k < part.hi) {
        const run = part.run!;
        // Skip the encoding byte: every chunk of a run part is XOR.
        this.it.reset(run.data.subarray(run.spans[2 * this.k]! + 1, run.spans[2 * this.k + 1]!));
        return true;
      }
      if (++this.p < parts.length) this.k = parts[this.p]!.lo - 1;
    }
    return false;
  }
}

/** Iterators over consecutive, non-overlapping time ranges, one after the other. */
class ConcatIterator implements SampleIterator {
  private i = 0;
  constructor(private readonly its: readonly SampleIterator[]) {}

  next(): ValueType {
    while (this.i < this.its.length) {
      if (this.its[this.i]!.next() !== ValueType.None) return ValueType.Float;
      this.i++;
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    while (this.i < this.its.length) {
      if (this.its[this.i]!.seek(t) !== ValueType.None) return ValueType.Float;
      this.i++;
    }
    return ValueType.None;
  }

  atT(): number {
    return this.its[this.i]!.atT();
  }
  atF(): number {
    return this.its[this.i]!.atF();
  }
}

/** Hides samples inside deleted intervals (flat, sorted, inclusive [min, max] pairs). */
class DeletedFilter implements SampleIterator {
  private k = 0;
  constructor(
    private readonly inner: SampleIterator,
    private readonly iv: readonly number[],
  ) {}

  private skip(vt: ValueType): ValueType {
    while (vt !== ValueType.None) {
      const t = this.inner.atT();
      while (this.k < this.iv.length && this.iv[this.k + 1]! < t) this.k += 2;
      if (!(this.k < this.iv.length && this.iv[this.k]! <= t)) return vt;
      vt = this.inner.next();
    }
    return vt;
  }

  next(): ValueType {
    return this.skip(this.inner.next());
  }
  seek(t: number): ValueType {
    return this.skip(this.inner.seek(t));
  }
  atT(): number {
    return this.inner.atT();
  }
  atF(): number {
    return this.inner.atF();
  }
}
