/**
 * The downsampling arithmetic, per series and in memory, as Thanos's compactor does it
 * (pkg/compact/downsample): raw samples become 5m aggregate chunks, and 5m aggregate chunks become 1h ones.
 *
 * Windows: a sample at t belongs to the window ending at `t - t % res + res - 1`; each window yields one
 * aggregate sample stamped with that end, except the last window of a chunk, which is stamped with the
 * chunk's last input sample so that no chunk reaches past its data (later chunks must not overlap it).
 *
 * Chunk sizes follow Thanos's heuristic: the expected number of output samples is spread over enough
 * chunks that each holds at most ~140 on average; raw batches are extended to the end of their last
 * window, and aggregate chunks are only ever combined along their boundaries (a chunk's first and last
 * raw counter values must survive every level).
 *
 * Differences from Thanos, all for inputs it does not expect: samples before 1970 (negative timestamps)
 * are aggregated instead of dropped; a sample behind one of an earlier chunk of the series is dropped
 * (Thanos only checks within a chunk, and would then aggregate windows out of order); and a pass that
 * would loop forever on absurdly large input chunks takes one chunk per batch.
 */
import { isStaleNaN } from '../../model/value.js';
import {
  AGGR_NAMES,
  AggrType,
  CounterResetsIterator,
  ENCODING_XOR,
  XorChunk,
  XorIterator,
  aggrNumSamples,
  aggrPart,
  encodeAggrChunk,
  type AggrPart,
  type CheckedIterator,
  type XorAppender,
} from '../../tsdb/chunkenc/index.js';
import { ValueType } from '../../storage/interface.js';

export const RES_RAW = 0;
export const RES_5M = 5 * 60 * 1000;
export const RES_1H = 60 * 60 * 1000;

/** The raw resolution Thanos assumes when sizing chunks (one sample a minute). */
const ASSUMED_RAW_STEP = 60 * 1000;
/** Average output samples per chunk that Thanos stays under. */
const MAX_AVG_SAMPLES = 140;

/** An aggregate chunk produced for the output block. */
export interface AggrChunkOut {
  /** First and last window timestamps (the counter's leading raw sample may lie before minT, as in Thanos). */
  minT: number;
  maxT: number;
  bytes: Uint8Array;
  /** Samples of the count aggregate (what the block's stats count). */
  numSamples: number;
}

/** Samples as two growable columns; values stay in a Float64Array so NaN payloads survive. */
export class SampleBuffer {
  ts = new Float64Array(256);
  vs = new Float64Array(256);
  n = 0;

  clear(): void {
    this.n = 0;
  }

  push(t: number, v: number): void {
    if (this.n === this.ts.length) {
      const ts = new Float64Array(this.n * 2);
      const vs = new Float64Array(this.n * 2);
      ts.set(this.ts);
      vs.set(this.vs);
      this.ts = ts;
      this.vs = vs;
    }
    this.ts[this.n] = t;
    this.vs[this.n] = v;
    this.n++;
  }
}

/** The end of the window `t` falls into (windows are [k*res, (k+1)*res - 1]). */
export function windowEnd(t: number, res: number): number {
  return t - (t % res) + res - 1;
}

/**
 * How many chunks a series should be cut into (Thanos's targetChunkCount): the output samples the range
 * could hold, scaled by how densely the input fills it, at most 140 per chunk on average.
 */
export function targetChunkCount(mint: number, maxt: number, inRes: number, outRes: number, count: number): number {
  const span = maxt - mint;
  // Integer division in Go, then a float.
  const maxSamples = Math.trunc(span / outRes);
  let fullness = count / (span / inRes);
  if (fullness > 1) fullness = 1;
  const expSamples = Math.trunc(maxSamples * fullness) + 1;
  let x = 1;
  while (Math.trunc(expSamples / x) > MAX_AVG_SAMPLES) x++;
  return x;
}

/**
 * Appends a chunk's samples to `buf` as Thanos expands them: stale markers dropped, samples that go back
 * in time dropped (here also behind samples of earlier chunks already in `buf`, so that overlapping
 * chunk data cannot make the windows go backwards). Throws on a corrupt chunk, naming `what`.
 */
export function expandInto(it: CheckedIterator, buf: SampleBuffer, what: string): void {
  let lastT = buf.n > 0 ? buf.ts[buf.n - 1]! : -Infinity;
  while (it.next() !== ValueType.None) {
    const v = it.atF();
    if (isStaleNaN(v)) continue;
    const t = it.atT();
    if (t >= lastT) {
      buf.push(t, v);
      lastT = t;
    }
  }
  const err = it.err();
  if (err !== null) throw new Error(`${what}: ${err}`);
}

/** Running statistics of one window, plus the reset-adjusted counter since the start of the batch. */
class Aggregator {
  total = 0;
  count = 0;
  sum = 0;
  min = Number.MAX_VALUE;
  max = -Number.MAX_VALUE;
  counter = 0;
  last = 0;

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.MAX_VALUE;
    this.max = -Number.MAX_VALUE;
  }

  add(v: number): void {
    if (this.total > 0) {
      if (v < this.last) {
        // A counter reset: the new value is what accrued since.
        this.counter += v;
      } else {
        this.counter += v - this.last;
      }
    } else {
      this.counter = v;
    }
    this.last = v;
    this.sum += v;
    this.count++;
    this.total++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/**
 * Walks samples [from, to) window by window and calls `emit` at the end of each window; returns the last
 * window's timestamp (the last sample's, as windows are capped there).
 */
function aggregateWindows(
  ts: Float64Array,
  vs: Float64Array,
  from: number,
  to: number,
  res: number,
  emit: (t: number, a: Aggregator) => void,
): number {
  const a = new Aggregator();
  const lastT = ts[to - 1]!;
  let nextT = 0;
  let started = false;
  for (let i = from; i < to; i++) {
    const t = ts[i]!;
    if (!started || t > nextT) {
      if (started) emit(nextT, a);
      a.reset();
      started = true;
      nextT = Math.min(windowEnd(t, res), lastT);
    }
    a.add(vs[i]!);
  }
  if (a.total > 0) emit(nextT, a);
  return nextT;
}

interface Appenders {
  chunks: (XorChunk | null)[];
  apps: (XorAppender | null)[];
}

function newAppenders(which: readonly AggrType[]): Appenders {
  const chunks: (XorChunk | null)[] = [null, null, null, null, null];
  const apps: (XorAppender | null)[] = [null, null, null, null, null];
  for (const a of which) {
    chunks[a] = new XorChunk();
    apps[a] = chunks[a]!.appender();
  }
  return { chunks, apps };
}

function finish(b: Appenders, minT: number, maxT: number): AggrChunkOut {
  const parts: (AggrPart | null)[] = b.chunks.map((c) => (c === null ? null : { encoding: ENCODING_XOR, bytes: c.bytes() }));
  const count = b.chunks[AggrType.Count];
  return { minT, maxT, bytes: encodeAggrChunk(parts), numSamples: count === null ? 0 : count.numSamples() };
}

const ALL_AGGRS: readonly AggrType[] = [AggrType.Count, AggrType.Sum, AggrType.Min, AggrType.Max, AggrType.Counter];

/** One raw batch (no NaN values) into one aggregate chunk with all five aggregates. */
function rawBatchChunk(ts: Float64Array, vs: Float64Array, n: number, res: number): AggrChunkOut {
  const b = newAppenders(ALL_AGGRS);
  const [count, sum, min, max, counter] = b.apps as XorAppender[];
  let minT = Infinity;
  let maxT = -Infinity;
  // The counter starts with the first raw value at its own time (see CounterResetsIterator).
  counter!.append(ts[0]!, vs[0]!);
  const lastT = aggregateWindows(ts, vs, 0, n, res, (t, a) => {
    if (t < minT) minT = t;
    if (t > maxT) maxT = t;
    sum!.append(t, a.sum);
    min!.append(t, a.min);
    max!.append(t, a.max);
    count!.append(t, a.count);
    counter!.append(t, a.counter);
  });
  // ...and ends with the last raw value repeated at the last window's time.
  counter!.append(lastT, vs[n - 1]!);
  return finish(b, minT, maxT);
}

/**
 * Raw samples of one series (time order, stale markers already removed) into aggregate chunks at `res`.
 * NaN values are left out of the aggregates.
 */
export function downsampleRaw(buf: SampleBuffer, res: number): AggrChunkOut[] {
  const n = buf.n;
  if (n === 0) return [];
  const { ts, vs } = buf;
  const numChunks = targetChunkCount(ts[0]!, ts[n - 1]!, ASSUMED_RAW_STEP, res, n);
  const batchSize = Math.trunc(n / numChunks) + 1;
  const out: AggrChunkOut[] = [];
  let batchT = new Float64Array(0);
  let batchV = new Float64Array(0);
  let pos = 0;
  while (pos < n) {
    let j = Math.min(pos + batchSize, n);
    // Take the rest of the last window too, so that windows never straddle chunks.
    const curW = windowEnd(ts[j - 1]!, res);
    while (j < n && ts[j]! <= curW) j++;
    if (batchT.length < j - pos) {
      batchT = new Float64Array(j - pos);
      batchV = new Float64Array(j - pos);
    }
    let m = 0;
    for (let i = pos; i < j; i++) {
      const v = vs[i]!;
      if (v !== v) continue;
      batchT[m] = ts[i]!;
      batchV[m] = v;
      m++;
    }
    pos = j;
    if (m > 0) out.push(rawBatchChunk(batchT, batchV, m, res));
  }
  return out;
}

/** An aggregate chunk of the input block, with its index time range. */
export interface AggrChunkIn {
  minT: number;
  maxT: number;
  bytes: Uint8Array;
}

/**
 * Aggregate chunks of one series (time order, at `inRes`) into chunks at `outRes`. Batches of whole
 * input chunks become one output chunk each.
 */
export function downsampleAggr(chunks: readonly AggrChunkIn[], inRes: number, outRes: number, what: string): AggrChunkOut[] {
  if (chunks.length === 0) return [];
  let numSamples = 0;
  for (const c of chunks) numSamples += aggrNumSamples(c.bytes);
  const numChunks = targetChunkCount(chunks[0]!.minT, chunks[chunks.length - 1]!.maxT, inRes, outRes, numSamples);
  // Thanos takes len/numChunks chunks per batch; keep at least one so that the loop always advances.
  const batchSize = Math.max(1, Math.trunc(chunks.length / numChunks));
  const out: AggrChunkOut[] = [];
  const buf = new SampleBuffer();
  for (let i = 0; i < chunks.length; i += batchSize) {
    out.push(aggrBatchChunk(chunks.slice(i, i + batchSize), outRes, buf, `${what}, input chunks ${i}..${Math.min(i + batchSize, chunks.length) - 1}`));
  }
  return out;
}

/** Generic aggregates: count and sum add up, min and max take the extreme. */
const GENERIC: readonly [AggrType, (a: Aggregator) => number][] = [
  [AggrType.Count, (a) => a.sum],
  [AggrType.Sum, (a) => a.sum],
  [AggrType.Min, (a) => a.min],
  [AggrType.Max, (a) => a.max],
];

function aggrBatchChunk(part: readonly AggrChunkIn[], res: number, buf: SampleBuffer, what: string): AggrChunkOut {
  const b = newAppenders([]);
  let minT = Infinity;
  let maxT = -Infinity;
  const it = new XorIterator();
  for (const [at, f] of GENERIC) {
    buf.clear();
    for (const c of part) {
      const p = aggrPart(c.bytes, at);
      if (p === null) continue;
      it.reset(xorBytes(p, at, what));
      expandInto(it, buf, `${what}: ${aggrName(at)} aggregate`);
    }
    if (buf.n === 0) continue;
    const chunk = new XorChunk();
    const app = chunk.appender();
    b.chunks[at] = chunk;
    aggregateWindows(buf.ts, buf.vs, 0, buf.n, res, (t, a) => {
      if (t < minT) minT = t;
      if (t > maxT) maxT = t;
      app.append(t, f(a));
    });
  }

  // The counter: resets are applied across the input chunks first, then re-aggregated, keeping the first
  // and last raw values as the frame.
  const cits: CheckedIterator[] = [];
  for (const c of part) {
    const p = aggrPart(c.bytes, AggrType.Counter);
    if (p !== null) cits.push(new XorIterator(xorBytes(p, AggrType.Counter, what)));
  }
  const crit = new CounterResetsIterator(cits);
  buf.clear();
  expandInto(crit, buf, `${what}: counter aggregate`);
  if (buf.n > 0) {
    const chunk = new XorChunk();
    const app = chunk.appender();
    b.chunks[AggrType.Counter] = chunk;
    app.append(buf.ts[0]!, buf.vs[0]!);
    const lastT = aggregateWindows(buf.ts, buf.vs, 0, buf.n, res, (t, a) => {
      if (t < minT) minT = t;
      if (t > maxT) maxT = t;
      app.append(t, a.counter);
    });
    app.append(lastT, crit.lastRaw());
  }
  if (minT === Infinity) throw new Error(`${what}: no aggregate holds any sample`);
  return finish(b, minT, maxT);
}

function aggrName(at: AggrType): string {
  return AGGR_NAMES[at]!;
}

function xorBytes(p: AggrPart, at: AggrType, what: string): Uint8Array {
  if (p.encoding !== ENCODING_XOR) {
    const kind = p.encoding === 2 || p.encoding === 3 ? ' (a native histogram aggregate; not supported)' : '';
    throw new Error(`${what}: the ${aggrName(at)} aggregate has encoding ${p.encoding}, not XOR${kind}`);
  }
  return p.bytes;
}
