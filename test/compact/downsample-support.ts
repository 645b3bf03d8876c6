/**
 * Helpers for the downsampling tests: raw blocks from sample columns, a block's series and chunks read
 * back, a Queryable that answers from a downsampled block the way a store does, and the expected
 * aggregates computed the plain way.
 */
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import type { Matcher } from '../../src/model/matcher.js';
import { isStaleNaN } from '../../src/model/value.js';
import { toChunks } from '../support/blocks.js';
import type { LabelHints, Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet } from '../../src/storage/interface.js';
import { openBlock, writeBlock, type BlockMeta, type ThanosMeta } from '../../src/tsdb/block/index.js';
import { aggrForFunc, downsampledIterator, type AggrPick, type EncodedChunk } from '../../src/tsdb/chunkenc/index.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface RawSeries {
  labels: Labels;
  ts: number[];
  /** Float64Array so that stale markers keep their bits. */
  vs: Float64Array;
}

export function series(obj: Record<string, string>, ts: number[], vs: number[] | Float64Array): RawSeries {
  return { labels: labelsFromObject(obj), ts, vs: vs instanceof Float64Array ? vs : Float64Array.from(vs) };
}

export async function rawBlock(dir: string, input: RawSeries[], minT: number, maxT: number, thanos?: ThanosMeta): Promise<BlockMeta> {
  return writeBlock(
    dir,
    input.map((s) => toChunks(s)),
    { minT, maxT, thanos: thanos ?? { labels: { cluster: 'test' }, downsample: { resolution: 0 }, source: 'sidecar' } },
  );
}

export interface ReadChunk extends EncodedChunk {
  minT: number;
  maxT: number;
}

/** Every series of a block with its chunks (data copied), in index order. */
export async function readBlockSeries(dir: string): Promise<{ meta: BlockMeta; series: { labels: Labels; chunks: ReadChunk[] }[] }> {
  const b = await openBlock(dir);
  const out: { labels: Labels; chunks: ReadChunk[] }[] = [];
  const ids = b.index.allPostings();
  for (const id of ids) {
    const e = b.index.series(id);
    out.push({
      labels: e.labels,
      chunks: e.chunks.map((m) => {
        const c = b.chunks.chunk(m.ref);
        return { minT: m.minT, maxT: m.maxT, encoding: c.encoding, bytes: c.bytes.slice() };
      }),
    });
  }
  await b.close();
  return { meta: b.meta, series: out };
}

/**
 * Answers selects from a downsampled block as a store gateway would: the chunks overlapping the range,
 * read through downsampledIterator with the aggregate the `func` hint asks for (or a fixed pick).
 */
export async function downsampledQueryable(dir: string, pick?: AggrPick): Promise<Queryable> {
  const b = await openBlock(dir);
  const querier: Querier = {
    select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
      const p = pick ?? aggrForFunc(hints.func);
      const found = b.selectSeries(matchers, hints.start, hints.end);
      const list: Series[] = found.map((s) => {
        const chunks = s.chunks.map((m) => b.chunks.chunk(m.ref));
        return {
          labels: s.labels,
          iterator(): SampleIterator {
            return downsampledIterator(chunks, p, hints.start, hints.end);
          },
        };
      });
      return {
        warnings: [],
        async *[Symbol.asyncIterator]() {
          yield* list;
        },
      };
    },
    async labelNames(_h: LabelHints): Promise<string[]> {
      return b.index.labelNames();
    },
    async labelValues(name: string): Promise<string[]> {
      return [...b.index.labelValues(name)];
    },
  };
  return { querier: () => querier };
}

export interface Window {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Time of the window's last sample. */
  lastT: number;
}

/** Plain per-window aggregates of the usable samples (NaN and stale markers left out). */
export function expectedWindows(s: RawSeries, res: number): Map<number, Window> {
  const out = new Map<number, Window>();
  for (let i = 0; i < s.ts.length; i++) {
    const t = s.ts[i]!;
    const v = s.vs[i]!;
    if (Number.isNaN(v) || isStaleNaN(v)) continue;
    const k = Math.floor(t / res);
    const w = out.get(k);
    if (w === undefined) out.set(k, { count: 1, sum: v, min: v, max: v, lastT: t });
    else {
      w.count++;
      w.sum += v;
      if (v < w.min) w.min = v;
      if (v > w.max) w.max = v;
      w.lastT = t;
    }
  }
  return out;
}

/** Reset-adjusted counter after each usable sample: [t, total] pairs. */
export function adjustedCounter(s: RawSeries): [number, number][] {
  const out: [number, number][] = [];
  let total = 0;
  let last = 0;
  for (let i = 0; i < s.ts.length; i++) {
    const v = s.vs[i]!;
    if (Number.isNaN(v)) continue;
    if (out.length === 0) total = v;
    else total += v >= last ? v - last : v;
    last = v;
    out.push([s.ts[i]!, total]);
  }
  return out;
}
