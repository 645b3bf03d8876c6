/**
 * Thanos's aggregate chunk ("AggrChunk"), the chunk of downsampled blocks, and the iterators that read it.
 *
 * Byte layout (the chunk's data in a segment file, whose encoding byte is 0xff): five entries, one per
 * aggregate in the order count, sum, min, max, counter. Each entry is
 *
 *   uvarint n | encoding byte | n bytes of a chunk (header included)     when the aggregate is present
 *   uvarint 0                                                            when it is absent
 *
 * The sub-chunks Argus writes and reads are XOR chunks (encoding 1). Thanos's native-histogram aggregates
 * (sum and counter as float-histogram chunks) decode here but cannot be iterated.
 *
 * The counter aggregate holds, per window, the counter value with resets already added back in, framed
 * by two raw samples: the series' first raw value at its own timestamp before the first window, and the
 * last raw value repeated at the last window's timestamp. `CounterResetsIterator` uses the frame to see
 * resets between chunks, which is what keeps rate()/increase() over downsampled data close to raw.
 */
import { readUvarint, writeUvarint } from '../../codec/varint.js';
import { ValueType, type SampleIterator } from '../../storage/interface.js';
import { ENCODING_XOR, XorIterator } from './xor.js';

/** The encoding byte of an aggregate chunk in a segment file (Thanos took the highest value). */
export const ENCODING_AGGR = 0xff;

/** Aggregate numbers: positions in the chunk. */
export const AggrType = { Count: 0, Sum: 1, Min: 2, Max: 3, Counter: 4 } as const;
export type AggrType = (typeof AggrType)[keyof typeof AggrType];

export const AGGR_ENTRIES = 5;
export const AGGR_NAMES: readonly string[] = ['count', 'sum', 'min', 'max', 'counter'];

/** One aggregate's chunk inside an AggrChunk: its encoding byte and its bytes (header included). */
export interface AggrPart {
  encoding: number;
  bytes: Uint8Array;
}

/** A chunk as a series holds it: raw XOR or aggregate. */
export interface EncodedChunk {
  encoding: number;
  bytes: Uint8Array;
}

/** An AggrChunk that does not follow the format, or lacks what was asked of it. */
export class AggrChunkError extends Error {
  constructor(message: string) {
    super(`aggregate chunk: ${message}`);
    this.name = 'AggrChunkError';
  }
}

const ENCODING_NAMES: Record<number, string> = { 1: 'XOR', 2: 'histogram', 3: 'float histogram' };

function encodingName(e: number): string {
  return ENCODING_NAMES[e] ?? `unknown encoding ${e}`;
}

/**
 * Encodes an AggrChunk from five parts in aggregate order (null or undefined = absent). The parts'
 * bytes are copied.
 */
export function encodeAggrChunk(parts: readonly (AggrPart | null | undefined)[]): Uint8Array {
  if (parts.length !== AGGR_ENTRIES) throw new RangeError(`encodeAggrChunk: want ${AGGR_ENTRIES} parts (count, sum, min, max, counter), got ${parts.length}`);
  let size = 0;
  for (let i = 0; i < AGGR_ENTRIES; i++) {
    const p = parts[i];
    if (p === null || p === undefined) {
      size += 1;
      continue;
    }
    // A zero length means "absent" in the format, so an empty part cannot be written as present.
    if (p.bytes.length === 0) throw new RangeError(`encodeAggrChunk: the ${AGGR_NAMES[i]} part has no bytes`);
    if (!Number.isInteger(p.encoding) || p.encoding < 0 || p.encoding > 0xff) {
      throw new RangeError(`encodeAggrChunk: the ${AGGR_NAMES[i]} part has an invalid encoding ${p.encoding}`);
    }
    size += 10 + 1 + p.bytes.length;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    if (p === null || p === undefined) {
      out[pos++] = 0;
      continue;
    }
    pos = writeUvarint(out, pos, p.bytes.length);
    out[pos++] = p.encoding;
    out.set(p.bytes, pos);
    pos += p.bytes.length;
  }
  return pos === out.length ? out : out.slice(0, pos);
}

/** Reads the entry at `pos`; returns the part (or null when absent) and the position after it. */
function readEntry(b: Uint8Array, pos: number, i: number): [AggrPart | null, number] {
  const name = AGGR_NAMES[i];
  if (pos >= b.length) throw new AggrChunkError(`truncated: the ${name} entry is missing (chunk has ${b.length} bytes)`);
  const [len, p] = readUvarint(b, pos, b.length);
  if (p < 0) throw new AggrChunkError(`the ${name} entry's length at byte ${pos} is not a valid varint`);
  if (len === 0) return [null, p];
  const left = b.length - p;
  if (len + 1 > left) {
    throw new AggrChunkError(`truncated: the ${name} entry at byte ${pos} needs ${len + 1} bytes (encoding + ${len}), only ${left} left`);
  }
  return [{ encoding: b[p]!, bytes: b.subarray(p + 1, p + 1 + len) }, p + 1 + len];
}

/**
 * Decodes every entry (views into `bytes`, not copies). Throws AggrChunkError when the chunk is truncated,
 * has a bad varint, or has bytes after the fifth entry.
 */
export function decodeAggrChunk(bytes: Uint8Array): (AggrPart | null)[] {
  const out: (AggrPart | null)[] = new Array(AGGR_ENTRIES);
  let pos = 0;
  for (let i = 0; i < AGGR_ENTRIES; i++) [out[i], pos] = readEntry(bytes, pos, i);
  if (pos !== bytes.length) throw new AggrChunkError(`${bytes.length - pos} unexpected bytes after the five aggregates`);
  return out;
}

/**
 * The part for one aggregate (a view), or null when the chunk does not hold it. Only the entries up to
 * `aggr` are read, as Thanos reads them.
 */
export function aggrPart(bytes: Uint8Array, aggr: AggrType): AggrPart | null {
  checkAggr(aggr);
  let pos = 0;
  let part: AggrPart | null = null;
  for (let i = 0; i <= aggr; i++) [part, pos] = readEntry(bytes, pos, i);
  return part;
}

/** Samples in the chunk: those of its count aggregate (0 without one), as Thanos counts them. */
export function aggrNumSamples(bytes: Uint8Array): number {
  const c = aggrPart(bytes, AggrType.Count);
  return c === null || c.bytes.length < 2 ? 0 : (c.bytes[0]! << 8) | c.bytes[1]!;
}

function checkAggr(aggr: number): void {
  if (!Number.isInteger(aggr) || aggr < 0 || aggr >= AGGR_ENTRIES) throw new RangeError(`unknown aggregate ${aggr} (0..4: count, sum, min, max, counter)`);
}

// ---------------------------------------------------------------------------------------------------------
// iterators

/** A sample cursor that reports why it stopped early: null after a clean end. */
export interface CheckedIterator extends SampleIterator {
  err(): string | null;
}

/**
 * A cursor over one aggregate of one AggrChunk, exactly as stored (the counter's raw framing samples
 * included). Throws AggrChunkError when the chunk is malformed, lacks the aggregate, or holds it in an
 * encoding other than XOR; a corrupt XOR sub-chunk ends the iteration and shows in `err()`.
 */
export function aggrIterator(chunkBytes: Uint8Array, aggr: AggrType): CheckedIterator {
  const p = aggrPart(chunkBytes, aggr);
  if (p === null) throw new AggrChunkError(`the ${AGGR_NAMES[aggr]} aggregate is not present`);
  if (p.encoding !== ENCODING_XOR) {
    throw new AggrChunkError(`the ${AGGR_NAMES[aggr]} aggregate is a ${encodingName(p.encoding)} chunk; only XOR aggregates can be read`);
  }
  return new XorIterator(p.bytes);
}

/** What a query reads from downsampled chunks: one aggregate, or the average sum/count. */
export type AggrPick = AggrType | 'average';

const COUNTER_FUNCS = new Set(['increase', 'rate', 'irate', 'resets', 'xincrease', 'xrate']);

/**
 * The aggregate a PromQL function needs, by the `func` select hint (Thanos's rule): min/max/count and
 * their `_over_time` forms read that aggregate, `sum_*` reads sum, the counter functions read the counter,
 * and everything else (plain selectors, `sum`, `avg_over_time`, `changes`, …) reads the average.
 */
export function aggrForFunc(func: string | undefined): AggrPick {
  if (func === undefined) return 'average';
  if (func === 'min' || func.startsWith('min_')) return AggrType.Min;
  if (func === 'max' || func.startsWith('max_')) return AggrType.Max;
  if (func === 'count' || func.startsWith('count_')) return AggrType.Count;
  // `sum` itself wants the samples (approximated by the average); `sum_over_time` wants the sums.
  if (func.startsWith('sum_')) return AggrType.Sum;
  if (COUNTER_FUNCS.has(func)) return AggrType.Counter;
  return 'average';
}

/** Stops at once with an error (a chunk that could not be opened). */
class FailedIterator implements CheckedIterator {
  constructor(private readonly msg: string) {}
  next(): ValueType {
    return ValueType.None;
  }
  seek(): ValueType {
    return ValueType.None;
  }
  atT(): number {
    return 0;
  }
  atF(): number {
    return 0;
  }
  err(): string | null {
    return this.msg;
  }
}

/** sum/count per sample of two aligned aggregates (Thanos's AverageChunkIterator). */
export class AverageIterator implements CheckedIterator {
  private t = 0;
  private v = 0;
  private e: string | null = null;
  private done = false;
  private positioned = false;

  constructor(
    private readonly count: CheckedIterator,
    private readonly sum: CheckedIterator,
  ) {}

  next(): ValueType {
    if (this.done) return ValueType.None;
    const c = this.count.next();
    const s = this.sum.next();
    const inner = this.count.err() ?? this.sum.err();
    if (inner !== null) return this.fail(inner);
    if (c !== s) return this.fail('sum and count aggregates hold different numbers of samples');
    if (c === ValueType.None) {
      this.done = true;
      return ValueType.None;
    }
    const t = this.count.atT();
    if (this.sum.atT() !== t) return this.fail(`sum and count aggregates are not aligned (count at ${t}, sum at ${this.sum.atT()})`);
    this.t = t;
    this.v = this.sum.atF() / this.count.atF();
    this.positioned = true;
    return ValueType.Float;
  }

  seek(t: number): ValueType {
    if (this.positioned && this.t >= t) return ValueType.Float;
    while (this.next() !== ValueType.None) if (this.t >= t) return ValueType.Float;
    return ValueType.None;
  }

  private fail(msg: string): ValueType {
    this.e = msg;
    this.done = true;
    return ValueType.None;
  }

  atT(): number {
    return this.t;
  }
  atF(): number {
    return this.v;
  }
  err(): string | null {
    return this.e;
  }
}

/**
 * Thanos's ApplyCounterResetsSeriesIterator: walks counter chunks (raw XOR chunks or counter aggregates)
 * in order and yields a monotonic counter, adding every reset back in. A sample whose timestamp equals the
 * previous one is the chunk's trailing raw value: it is not yielded, but it is what the next chunk's
 * first value is compared with, so a reset between two chunks is seen. NaN values (stale markers too)
 * are skipped, and samples that go back in time are dropped. Resets are hidden from the result, so
 * `resets()` over it reads 0.
 */
export class CounterResetsIterator implements CheckedIterator {
  private i = 0;
  private total = 0;
  private lastT = 0;
  private lastV = 0;
  private totalV = 0;
  private e: string | null = null;

  constructor(private readonly chunks: readonly CheckedIterator[]) {}

  next(): ValueType {
    const chunks = this.chunks;
    while (this.i < chunks.length) {
      const it = chunks[this.i]!;
      if (it.next() === ValueType.None) {
        const err = it.err();
        if (err !== null) {
          this.e = `chunk ${this.i}: ${err}`;
          this.i = chunks.length;
          return ValueType.None;
        }
        this.i++;
        continue;
      }
      const t = it.atT();
      const v = it.atF();
      if (v !== v) continue;
      if (this.total === 0) {
        this.total = 1;
        this.lastT = t;
        this.lastV = v;
        this.totalV = v;
        return ValueType.Float;
      }
      if (t > this.lastT) {
        this.totalV += v >= this.lastV ? v - this.lastV : v;
        this.lastT = t;
        this.lastV = v;
        this.total++;
        return ValueType.Float;
      }
      // The repeated timestamp carries the true last raw value of the chunk.
      if (t === this.lastT) this.lastV = v;
    }
    return ValueType.None;
  }

  /** Steps with next() rather than seeking the chunks, so that no reset on the way is missed. */
  seek(t: number): ValueType {
    if (this.total > 0 && this.lastT >= t) return ValueType.Float;
    while (this.next() !== ValueType.None) if (this.lastT >= t) return ValueType.Float;
    return ValueType.None;
  }

  atT(): number {
    return this.lastT;
  }
  atF(): number {
    return this.totalV;
  }
  /** The last raw counter value seen (the trailing sample of the last chunk read). */
  lastRaw(): number {
    return this.lastV;
  }
  err(): string | null {
    return this.e;
  }
}

/**
 * Chunks one after another (Thanos's chunkSeriesIterator): where a chunk overlaps the one before, its
 * samples at or before the last sample returned are skipped. Stops at the first chunk that fails.
 */
export class ChainIterator implements CheckedIterator {
  private i = 0;
  private t = 0;
  private v = 0;
  private positioned = false;
  private e: string | null = null;

  constructor(private readonly chunks: readonly CheckedIterator[]) {}

  next(): ValueType {
    while (this.i < this.chunks.length) {
      const it = this.chunks[this.i]!;
      if (it.next() === ValueType.None) {
        const err = it.err();
        if (err !== null) {
          this.e = `chunk ${this.i}: ${err}`;
          this.i = this.chunks.length;
          return ValueType.None;
        }
        this.i++;
        continue;
      }
      const t = it.atT();
      if (this.positioned && t <= this.t) continue;
      this.t = t;
      this.v = it.atF();
      this.positioned = true;
      return ValueType.Float;
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.positioned && this.t >= t) return ValueType.Float;
    while (this.next() !== ValueType.None) if (this.t >= t) return ValueType.Float;
    return ValueType.None;
  }

  atT(): number {
    return this.t;
  }
  atF(): number {
    return this.v;
  }
  err(): string | null {
    return this.e;
  }
}

/** Only the samples within [mint, maxt] (inclusive) of another cursor. */
export class BoundedIterator implements CheckedIterator {
  private done = false;

  constructor(
    private readonly inner: CheckedIterator,
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  next(): ValueType {
    if (this.done) return ValueType.None;
    for (;;) {
      if (this.inner.next() === ValueType.None) return this.end();
      const t = this.inner.atT();
      if (t < this.mint) continue;
      if (t > this.maxt) return this.end();
      return ValueType.Float;
    }
  }

  seek(t: number): ValueType {
    if (this.done) return ValueType.None;
    if (this.inner.seek(Math.max(t, this.mint)) === ValueType.None) return this.end();
    return this.inner.atT() > this.maxt ? this.end() : ValueType.Float;
  }

  private end(): ValueType {
    this.done = true;
    return ValueType.None;
  }

  atT(): number {
    return this.inner.atT();
  }
  atF(): number {
    return this.inner.atF();
  }
  err(): string | null {
    return this.inner.err();
  }
}

/** The cursor over one chunk for `pick`; raw XOR chunks (found in some downsampled blocks) read as they are. */
function chunkCursor(c: EncodedChunk, pick: AggrPick): CheckedIterator {
  if (c.encoding === ENCODING_XOR) return new XorIterator(c.bytes);
  if (c.encoding !== ENCODING_AGGR) return new FailedIterator(`a ${encodingName(c.encoding)} chunk cannot be read as downsampled data`);
  try {
    if (pick === 'average') return new AverageIterator(aggrIterator(c.bytes, AggrType.Count), aggrIterator(c.bytes, AggrType.Sum));
    return aggrIterator(c.bytes, pick);
  } catch (err) {
    return new FailedIterator((err as Error).message);
  }
}

/**
 * A series' samples from its chunks (in time order) for one pick, limited to [mint, maxt]: what a
 * querier answers for a downsampled block. The counter pick runs through CounterResetsIterator over all
 * given chunks before the bounds apply, as in Thanos, so pass the chunks overlapping the range and the
 * totals stay consistent.
 */
export function downsampledIterator(chunks: readonly EncodedChunk[], pick: AggrPick, mint: number, maxt: number): CheckedIterator {
  if (pick !== 'average') checkAggr(pick);
  const its = chunks.map((c) => chunkCursor(c, pick));
  const inner = pick === AggrType.Counter ? new CounterResetsIterator(its) : new ChainIterator(its);
  return new BoundedIterator(inner, mint, maxt);
}
