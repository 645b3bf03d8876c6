/**
 * One series in the head: closed XOR chunks (Prometheus bytes, ready to be written into blocks), the open
 * head chunk, and a small sorted buffer for out-of-order samples inside the configured window.
 */
import type { Labels } from '../../model/labels.js';
import { sameBits } from '../../model/value.js';
import { XorChunk, type XorAppender } from '../chunkenc/index.js';

/** Prometheus cuts head chunks at 120 samples: the sweet spot of XOR compression vs. decode cost. */
export const SAMPLES_PER_CHUNK = 120;

export interface ClosedChunk {
  bytes: Uint8Array;
  minT: number;
  maxT: number;
}

/**
 * Closed chunks are copied into shared 256 KiB arenas: one ArrayBuffer per chunk would cost a separate
 * off-heap allocation (and its bookkeeping) for ~100-300 bytes of data. Chunks of a time range close
 * together, so an arena's chunks also expire together when the head is truncated.
 */
const ARENA_BYTES = 256 * 1024;
let arena = new ArrayBuffer(ARENA_BYTES);
let arenaUsed = 0;

function keepChunk(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 4096) return bytes.slice();
  if (arenaUsed + bytes.length > ARENA_BYTES) {
    arena = new ArrayBuffer(ARENA_BYTES);
    arenaUsed = 0;
  }
  const out = new Uint8Array(arena, arenaUsed, bytes.length);
  out.set(bytes);
  arenaUsed += bytes.length;
  return out;
}

/** Result of checking whether a sample can be appended. */
export const enum Appendable {
  InOrder = 0,
  /** Same timestamp and same value bits as the newest sample: silently ignored, as Prometheus does. */
  Duplicate = 1,
  OutOfOrderInWindow = 2,
  OutOfOrder = 3,
  TooOld = 4,
  DuplicateTimestamp = 5,
}

/** Out-of-order samples, kept sorted by time. */
class OooBuffer {
  ts = new Float64Array(8);
  vs = new Float64Array(8);
  length = 0;

  /** Returns false when a sample with the same timestamp but a different value exists. */
  insert(t: number, v: number): boolean {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.length && this.ts[lo] === t) return sameBits(this.vs[lo]!, v);
    if (this.length === this.ts.length) {
      const ts = new Float64Array(this.length * 2);
      const vs = new Float64Array(this.length * 2);
      ts.set(this.ts);
      vs.set(this.vs);
      this.ts = ts;
      this.vs = vs;
    }
    this.ts.copyWithin(lo + 1, lo, this.length);
    this.vs.copyWithin(lo + 1, lo, this.length);
    this.ts[lo] = t;
    this.vs[lo] = v;
    this.length++;
    return true;
  }

  valueAt(t: number): number | undefined {
    for (let i = 0; i < this.length; i++) if (this.ts[i] === t) return this.vs[i];
    return undefined;
  }
}

export class MemSeries {
  readonly ref: number;
  readonly labels: Labels;
  readonly closed: ClosedChunk[] = [];
  /** Other refs that WAL records use for this series (see Head.createWithRef); null almost always. */
  aliases: number[] | null = null;
  private head: XorChunk | null = null;
  private app: XorAppender | null = null;
  private headMinT = 0;
  private headCount = 0;
  /** Where the open chunk must be cut at the latest (chunk-range boundary), so chunks never span blocks. */
  private cutAt = 0;
  ooo: OooBuffer | null = null;
  minT = Infinity;
  maxT = -Infinity;
  lastV = 0;
  /** Appender bookkeeping: the newest sample staged by any in-flight appender (not yet committed). */
  stagedT = -Infinity;
  stagedV = 0;

  constructor(ref: number, labels: Labels) {
    this.ref = ref;
    this.labels = labels;
  }

  /** Decides what `append(t, v)` would do, given the newest timestamp `newest` the caller knows of. */
  check(t: number, v: number, newest: number, oooWindowMs: number): Appendable {
    if (t > newest) return Appendable.InOrder;
    if (t === this.maxT) return sameBits(v, this.lastV) ? Appendable.Duplicate : Appendable.DuplicateTimestamp;
    if (oooWindowMs > 0) {
      if (t >= newest - oooWindowMs) {
        if (this.ooo !== null) {
          const existing = this.ooo.valueAt(t);
          if (existing !== undefined) return sameBits(existing, v) ? Appendable.Duplicate : Appendable.DuplicateTimestamp;
        }
        return Appendable.OutOfOrderInWindow;
      }
      return Appendable.TooOld;
    }
    return Appendable.OutOfOrder;
  }

  /** Appends a sample known to be valid (see `check`). */
  append(t: number, v: number, chunkRangeMs: number): void {
    if (t <= this.maxT) {
      if (t === this.maxT) return; // duplicate already checked to be identical
      if (this.ooo === null) this.ooo = new OooBuffer();
      this.ooo.insert(t, v);
      if (t < this.minT) this.minT = t;
      return;
    }
    if (this.app === null || this.headCount >= SAMPLES_PER_CHUNK || t >= this.cutAt) this.cut(t, chunkRangeMs);
    this.app!.append(t, v);
    this.headCount++;
    if (t < this.minT) this.minT = t;
    this.maxT = t;
    this.lastV = v;
  }

  private cut(t: number, chunkRangeMs: number): void {
    if (this.head !== null && this.headCount > 0) {
      // Copy the exact bytes so the closed chunk does not keep the appender's spare capacity alive.
      this.closed.push({ bytes: keepChunk(this.head.bytes()), minT: this.headMinT, maxT: this.maxT });
    }
    this.head = new XorChunk();
    this.app = this.head.appender();
    this.headMinT = t;
    this.headCount = 0;
    this.cutAt = (Math.floor(t / chunkRangeMs) + 1) * chunkRangeMs;
  }

  /** Chunk byte snapshots overlapping [mint, maxt], oldest first. The open chunk is copied (it keeps growing). */
  chunksIn(mint: number, maxt: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const c of this.closed) if (c.maxT >= mint && c.minT <= maxt) out.push(c.bytes);
    if (this.head !== null && this.headCount > 0 && this.maxT >= mint && this.headMinT <= maxt) out.push(this.head.bytes().slice());
    return out;
  }

  /** True when the open chunk has samples and they all lie before `t`. */
  openChunkBefore(t: number): boolean {
    return this.head !== null && this.headCount > 0 && this.maxT < t;
  }

  /** The open chunk's bytes and range (a copy), when it has samples. */
  openChunk(): ClosedChunk | null {
    if (this.head === null || this.headCount === 0) return null;
    return { bytes: this.head.bytes().slice(), minT: this.headMinT, maxT: this.maxT };
  }

  /** Number of out-of-order samples before `t`. */
  oooBefore(t: number): number {
    if (this.ooo === null) return 0;
    let n = 0;
    while (n < this.ooo.length && this.ooo.ts[n]! < t) n++;
    return n;
  }

  /**
   * Drops every sample before `t` (they are in a block now). Chunks never span a block boundary, so whole
   * chunks go. `maxT`/`lastV` stay: they still order later appends. Returns true when nothing is left.
   */
  truncateBefore(t: number): boolean {
    let k = 0;
    while (k < this.closed.length && this.closed[k]!.maxT < t) k++;
    if (k > 0) this.closed.splice(0, k);
    if (this.openChunkBefore(t)) {
      this.head = null;
      this.app = null;
      this.headCount = 0;
    }
    const n = this.oooBefore(t);
    if (n > 0) {
      const o = this.ooo!;
      o.ts.copyWithin(0, n, o.length);
      o.vs.copyWithin(0, n, o.length);
      o.length -= n;
      if (o.length === 0) this.ooo = null;
    }
    let minT = Infinity;
    if (this.closed.length > 0) minT = this.closed[0]!.minT;
    else if (this.head !== null && this.headCount > 0) minT = this.headMinT;
    if (this.ooo !== null && this.ooo.ts[0]! < minT) minT = this.ooo.ts[0]!;
    this.minT = minT;
    return minT === Infinity;
  }

  /** Number of samples held (in-order + out-of-order). */
  numChunks(): number {
    return this.closed.length + (this.headCount > 0 ? 1 : 0);
  }
}
