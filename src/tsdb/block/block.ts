/**
 * A block opened for reading: meta.json, the index, the chunk segments and the tombstones, answering
 * through the same `Querier` seam as the head (series sorted by labels, samples limited to the select
 * range). Files are read into memory when the block is opened; chunks are fetched per series through an
 * async step so that a range-reading chunk source can replace the in-memory one without changing callers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareLabels, type Labels } from '../../model/labels.js';
import { MatchType, type Matcher } from '../../model/matcher.js';
import {
  ValueType,
  type LabelHints,
  type Querier,
  type Queryable,
  type SampleIterator,
  type SelectHints,
  type Series,
  type SeriesSet,
} from '../../storage/interface.js';
import { ENCODING_XOR } from '../chunkenc/index.js';
import { ChunksIterator } from '../head/iterator.js';
import { intersect, subtract, unionAll } from '../head/postings.js';
import { ChunkReader } from './chunks.js';
import { IndexReader } from './index-reader.js';
import type { ChunkMeta } from './index-writer.js';
import { META_FILENAME, decodeMeta, type BlockMeta } from './meta.js';
import { TOMBSTONES_FILENAME, decodeTombstones, type Tombstones } from './tombstones.js';

export class Block implements Queryable {
  constructor(
    readonly dir: string,
    readonly meta: BlockMeta,
    readonly index: IndexReader,
    readonly chunks: ChunkReader,
    readonly tombstones: Tombstones,
  ) {}

  get ulid(): string {
    return this.meta.ulid;
  }

  /** True when the block holds samples in [start, end] (inclusive; the block's maxTime is exclusive). */
  overlaps(start: number, end: number): boolean {
    return this.meta.minTime <= end && this.meta.maxTime > start;
  }

  querier(): Querier {
    return new BlockQuerier(this);
  }

  /** Nothing to release while the files are read into memory; callers close blocks all the same. */
  async close(): Promise<void> {}

  /** Series ids matching every matcher, sorted (index order). */
  selectIds(matchers: readonly Matcher[]): Uint32Array {
    const ix = this.index;
    const unionWhere = (name: string, pred: (v: string) => boolean): Uint32Array => {
      const lists: Uint32Array[] = [];
      for (const v of ix.labelValues(name)) if (pred(v)) lists.push(ix.postings(name, v));
      return unionAll(lists);
    };
    // As in the head: matchers that cannot match a missing label narrow by the values they accept; those
    // that can (`a!="x"`, `a=~".*"`, `a=""`) subtract the values they reject from the rest.
    let result: Uint32Array | null = null;
    for (const m of matchers) {
      if (m.matchesEmpty()) continue;
      const set = m.type === MatchType.Equal ? ix.postings(m.name, m.value) : unionWhere(m.name, (v) => m.matches(v));
      result = result === null ? set : intersect(result, set);
      if (result.length === 0) return result;
    }
    if (result === null) result = ix.allPostings();
    for (const m of matchers) {
      if (!m.matchesEmpty()) continue;
      const rejected = unionWhere(m.name, (v) => !m.matches(v));
      if (rejected.length > 0) result = subtract(result, rejected);
    }
    return result;
  }

  /**
   * Series matching `matchers` with a chunk overlapping [start, end], sorted by labels as the rest of
   * Argus sorts them, with only those chunks kept.
   */
  selectSeries(matchers: readonly Matcher[], start: number, end: number): SelectedSeries[] {
    if (!this.overlaps(start, end)) return [];
    const ids = this.selectIds(matchers);
    const out: SelectedSeries[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const s = this.index.series(id);
      const chunks: ChunkMeta[] = [];
      for (const c of s.chunks) if (c.maxT >= start && c.minT <= end) chunks.push(c);
      if (chunks.length === 0) continue;
      out.push({ id, labels: modelOrdered(s.labels), chunks });
    }
    // Index order is UTF-8 order; the head and the merge code use UTF-16 order. They agree unless a label
    // holds characters above U+FFFF, and sorting input that is already in order is linear.
    out.sort((a, b) => compareLabels(a.labels, b.labels));
    return out;
  }

  /**
   * The series' XOR chunk data (CRC-checked). Chunks of other encodings (native histograms, which Argus
   * does not store) are left out and counted in `skipped`.
   */
  async loadChunks(s: SelectedSeries): Promise<{ chunks: Uint8Array[]; skipped: number }> {
    const chunks: Uint8Array[] = [];
    let skipped = 0;
    for (const c of s.chunks) {
      const { encoding, bytes } = this.chunks.chunk(c.ref);
      if (encoding === ENCODING_XOR) chunks.push(bytes);
      else skipped++;
    }
    return { chunks, skipped };
  }
}

export interface SelectedSeries {
  /** Series id in the index (offset / 16). */
  id: number;
  labels: Labels;
  chunks: ChunkMeta[];
}

/** Opens the block in `dir` (the ULID directory). */
export async function openBlock(dir: string): Promise<Block> {
  const metaPath = join(dir, META_FILENAME);
  let metaText: string;
  try {
    metaText = await readFile(metaPath, 'utf8');
  } catch (err) {
    throw new Error(`${metaPath}: cannot read block meta: ${(err as Error).message}`);
  }
  const meta = decodeMeta(metaText, metaPath);
  const indexPath = join(dir, 'index');
  let indexBytes: Uint8Array;
  try {
    indexBytes = new Uint8Array(await readFile(indexPath));
  } catch (err) {
    throw new Error(`${indexPath}: cannot read index: ${(err as Error).message}`);
  }
  const index = IndexReader.parse(indexBytes, indexPath);
  const chunks = await ChunkReader.open(join(dir, 'chunks'));
  let tombstones: Tombstones = new Map();
  const tsPath = join(dir, TOMBSTONES_FILENAME);
  let tsBytes: Uint8Array | null = null;
  try {
    tsBytes = new Uint8Array(await readFile(tsPath));
  } catch (err) {
    // Prometheus treats a missing tombstones file as "nothing deleted".
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${tsPath}: ${(err as Error).message}`);
  }
  if (tsBytes !== null) tombstones = decodeTombstones(tsBytes, tsPath);
  return new Block(dir, meta, index, chunks, tombstones);
}

class BlockSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly chunks: Uint8Array[],
    private readonly start: number,
    private readonly end: number,
    private readonly deleted: number[] | undefined,
  ) {}

  iterator(): SampleIterator {
    const it = new ChunksIterator(this.chunks, this.start, this.end);
    return this.deleted === undefined ? it : new DeletedFilter(it, this.deleted);
  }
}

class BlockQuerier implements Querier {
  constructor(private readonly block: Block) {}

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    const block = this.block;
    const warnings: string[] = [];
    return {
      warnings,
      async *[Symbol.asyncIterator]() {
        const found = block.selectSeries(matchers, hints.start, hints.end);
        const limit = hints.limit && hints.limit > 0 ? Math.min(hints.limit, found.length) : found.length;
        let skipped = 0;
        try {
          for (let i = 0; i < limit; i++) {
            const s = found[i]!;
            const loaded = await block.loadChunks(s);
            skipped += loaded.skipped;
            if (loaded.chunks.length === 0) continue;
            yield new BlockSeries(s.labels, loaded.chunks, hints.start, hints.end, block.tombstones.get(s.id));
          }
        } finally {
          if (skipped > 0) {
            warnings.push(`block ${block.ulid}: ${skipped} non-float chunks skipped (native histograms are not supported)`);
          }
        }
      },
    };
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const names = new Set<string>();
    if (matchers.length === 0) {
      if (this.block.overlaps(hints.start, hints.end)) for (const n of this.block.index.labelNames()) names.add(n);
    } else {
      for (const s of this.block.selectSeries(matchers, hints.start, hints.end)) {
        for (let i = 0; i < s.labels.length; i += 2) names.add(s.labels[i]!);
      }
    }
    return limitSorted([...names], hints.limit);
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    const values = new Set<string>();
    if (matchers.length === 0) {
      if (this.block.overlaps(hints.start, hints.end)) for (const v of this.block.index.labelValues(name)) values.add(v);
    } else {
      for (const s of this.block.selectSeries(matchers, hints.start, hints.end)) {
        for (let i = 0; i < s.labels.length; i += 2) if (s.labels[i] === name) values.add(s.labels[i + 1]!);
      }
    }
    return limitSorted([...values], hints.limit);
  }
}

function limitSorted(xs: string[], limit?: number): string[] {
  xs.sort();
  return limit && limit > 0 ? xs.slice(0, limit) : xs;
}

/** Label pairs as our model orders them (UTF-16 name order); index order is UTF-8 order. */
function modelOrdered(ls: Labels): Labels {
  for (let i = 2; i < ls.length; i += 2) {
    if (ls[i - 2]! > ls[i]!) {
      const pairs: [string, string][] = [];
      for (let j = 0; j < ls.length; j += 2) pairs.push([ls[j]!, ls[j + 1]!]);
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return Object.freeze(pairs.flat());
    }
  }
  return Object.isFrozen(ls) ? ls : Object.freeze(ls as string[]);
}

/** Hides samples inside deleted intervals (flat, sorted, inclusive [min, max] pairs). */
class DeletedFilter implements SampleIterator {
  private k = 0;
  constructor(
    private readonly inner: SampleIterator,
    private readonly iv: number[],
  ) {}

  private deleted(t: number): boolean {
    // Samples come in time order, so the interval cursor only moves forward.
    while (this.k < this.iv.length && this.iv[this.k + 1]! < t) this.k += 2;
    return this.k < this.iv.length && this.iv[this.k]! <= t;
  }

  private skipDeleted(vt: ValueType): ValueType {
    while (vt !== ValueType.None && this.deleted(this.inner.atT())) vt = this.inner.next();
    return vt;
  }

  next(): ValueType {
    return this.skipDeleted(this.inner.next());
  }
  seek(t: number): ValueType {
    return this.skipDeleted(this.inner.seek(t));
  }
  atT(): number {
    return this.inner.atT();
  }
  atF(): number {
    return this.inner.atF();
  }
}
