/** Sample iterators over a head series: chunk by chunk through XOR cursors, merged with out-of-order samples. */
import { ValueType, type SampleIterator } from '../../storage/interface.js';
import { XorSequenceIterator } from '../chunkenc/index.js';
import type { MemSeries } from './series.js';

/** Iterates a list of XOR chunks in order, restricted to [mint, maxt]. */
export class ChunksIterator extends XorSequenceIterator {
  private idx = -1;

  constructor(
    private readonly chunks: Uint8Array[],
    mint: number,
    maxt: number,
  ) {
    super(mint, maxt);
    this.nextChunk();
  }

  protected advanceChunk(): boolean {
    if (++this.idx >= this.chunks.length) return false;
    this.it.reset(this.chunks[this.idx]!);
    return true;
  }
}

/** Iterates samples held in two parallel arrays. */
export class ArrayIterator implements SampleIterator {
  private i = -1;
  constructor(
    private readonly ts: Float64Array,
    private readonly vs: Float64Array,
  ) {}
  next(): ValueType {
    if (this.i + 1 >= this.ts.length) {
      this.i = this.ts.length;
      return ValueType.None;
    }
    this.i++;
    return ValueType.Float;
  }
  seek(t: number): ValueType {
    if (this.i < 0) this.i = 0;
    while (this.i < this.ts.length && this.ts[this.i]! < t) this.i++;
    return this.i < this.ts.length ? ValueType.Float : ValueType.None;
  }
  atT(): number {
    return this.ts[this.i]!;
  }
  atF(): number {
    return this.vs[this.i]!;
  }
}

/** Materialises every sample of `it` into columns. */
export function drain(it: SampleIterator): { ts: Float64Array; vs: Float64Array } {
  let ts = new Float64Array(128);
  let vs = new Float64Array(128);
  let n = 0;
  while (it.next() !== ValueType.None) {
    if (n === ts.length) {
      const t2 = new Float64Array(n * 2);
      const v2 = new Float64Array(n * 2);
      t2.set(ts);
      v2.set(vs);
      ts = t2;
      vs = v2;
    }
    ts[n] = it.atT();
    vs[n] = it.atF();
    n++;
  }
  return { ts: ts.subarray(0, n), vs: vs.subarray(0, n) };
}

/** An iterator over a head series' samples in [mint, maxt], out-of-order samples merged in. */
export function seriesIterator(s: MemSeries, mint: number, maxt: number): SampleIterator {
  return snapshotIterator(s.chunksIn(mint, maxt), s.ooo, mint, maxt);
}

/** Out-of-order samples as `seriesIterator` reads them. */
export interface OooSamples {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  readonly length: number;
}

/** A copy of a series' out-of-order samples in [mint, maxt] (null when none), for a snapshot. */
export function snapshotOoo(s: MemSeries, mint: number, maxt: number): OooSamples | null {
  const o = s.ooo;
  if (o === null || o.length === 0) return null;
  let i = 0;
  while (i < o.length && o.ts[i]! < mint) i++;
  let j = i;
  while (j < o.length && o.ts[j]! <= maxt) j++;
  if (i === j) return null;
  return { ts: o.ts.slice(i, j), vs: o.vs.slice(i, j), length: j - i };
}

/** An iterator over chunk bytes taken earlier (immutable) merged with out-of-order samples. */
export function snapshotIterator(chunks: Uint8Array[], ooo: OooSamples | null, mint: number, maxt: number): SampleIterator {
  const inOrder = new ChunksIterator(chunks, mint, maxt);
  if (ooo === null || ooo.length === 0) return inOrder;
  // Rare path: merge the two sorted sources once into columns (in-order wins on equal timestamps).
  const a = drain(inOrder);
  const ts = new Float64Array(a.ts.length + ooo.length);
  const vs = new Float64Array(ts.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.ts.length || j < ooo.length) {
    const bt = j < ooo.length ? ooo.ts[j]! : Infinity;
    if (bt < mint || bt > maxt) {
      if (j < ooo.length && (i >= a.ts.length || bt <= a.ts[i]!)) {
        j++;
        continue;
      }
    }
    if (i < a.ts.length && (j >= ooo.length || a.ts[i]! <= bt)) {
      if (j < ooo.length && a.ts[i] === bt) j++;
      ts[n] = a.ts[i]!;
      vs[n++] = a.vs[i++]!;
    } else {
      ts[n] = bt;
      vs[n++] = ooo.vs[j++]!;
    }
  }
  return new ArrayIterator(ts.subarray(0, n), vs.subarray(0, n));
}
