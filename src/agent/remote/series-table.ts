/**
 * A queue's series, indexed by WAL ref, in typed arrays: whether the ref is known and sent, the shard
 * hash, the last segment that mentions it, and (v1 queues) the encoded `labels` field bytes in one arena.
 *
 * Why not an object per series: a queue reads every sample's series twice (routing, then encoding) and
 * at 100k+ series objects scattered over the heap each read is a cache miss; refs are dense and handed
 * out in scrape order, so the samples of one batch mostly sit next to each other in these arrays and
 * their label bytes next to each other in the arena. It also takes several heap objects per series off
 * every full garbage collection.
 */
import type { Labels } from '../../model/labels.js';
import { encodeLabelsV1 } from '../../codec/index.js';

export const enum QueueSeriesState {
  Unknown = 0,
  /** Dropped by write relabeling (or relabeled to no labels): its samples are counted, not sent. */
  Dropped = 1,
  Live = 2,
}

const INITIAL_REFS = 1024;
const INITIAL_ARENA = 64 * 1024;

export class QueueSeriesTable {
  state = new Uint8Array(INITIAL_REFS);
  hash = new Uint32Array(INITIAL_REFS);
  /** Newest segment that mentions the ref (series records and checkpoints). */
  seg = new Int32Array(INITIAL_REFS);
  /** v1: where the ref's label bytes are in `arena`. */
  labelOff = new Int32Array(INITIAL_REFS);
  labelLen = new Int32Array(INITIAL_REFS);
  arena = new Uint8Array(INITIAL_ARENA);
  private arenaUsed = 0;
  /** Arena bytes of forgotten series (reclaimed by compaction). */
  private arenaGarbage = 0;
  /** v2: the labels themselves (the v2 encoder builds a symbol table per request). */
  private readonly labels: (Labels | undefined)[] = [];
  /** Refs with a state other than Unknown. */
  known = 0;

  constructor(readonly v2: boolean) {}

  /** One past the highest ref the arrays can hold. */
  get capacity(): number {
    return this.state.length;
  }

  has(ref: number): boolean {
    return ref < this.state.length && this.state[ref] !== QueueSeriesState.Unknown;
  }

  /** A known ref mentioned again in `seg`. */
  touch(ref: number, seg: number): void {
    if (seg > this.seg[ref]!) this.seg[ref] = seg;
  }

  /** Records a new series (labels after external labels and relabeling; null or empty = dropped). */
  set(ref: number, labels: Labels | null, hash: number, seg: number): void {
    if (ref >= this.state.length) this.grow(ref + 1);
    if (this.state[ref] !== QueueSeriesState.Unknown) throw new Error(`remote write: series ref ${ref} recorded twice`);
    this.seg[ref] = seg;
    this.known++;
    if (labels === null || labels.length === 0) {
      this.state[ref] = QueueSeriesState.Dropped;
      return;
    }
    this.state[ref] = QueueSeriesState.Live;
    this.hash[ref] = hash;
    if (this.v2) {
      while (this.labels.length < ref) this.labels.push(undefined);
      this.labels[ref] = labels;
      return;
    }
    const bytes = encodeLabelsV1(labels);
    if (this.arenaUsed + bytes.length > this.arena.length) this.growArena(bytes.length);
    this.arena.set(bytes, this.arenaUsed);
    this.labelOff[ref] = this.arenaUsed;
    this.labelLen[ref] = bytes.length;
    this.arenaUsed += bytes.length;
  }

  /** v2 queues: the series' labels. */
  labelsOf(ref: number): Labels {
    const ls = this.labels[ref];
    if (ls === undefined) throw new Error(`remote write: no labels for series ref ${ref}`);
    return ls;
  }

  /** Forgets known refs last mentioned at or before `seg` and not in `keep`; returns how many. */
  forget(seg: number, keep: ReadonlySet<number>): number {
    let n = 0;
    const { state } = this;
    for (let ref = 0; ref < state.length; ref++) {
      if (state[ref] === QueueSeriesState.Unknown || this.seg[ref]! > seg || keep.has(ref)) continue;
      if (state[ref] === QueueSeriesState.Live) {
        if (this.v2) this.labels[ref] = undefined;
        else this.arenaGarbage += this.labelLen[ref]!;
      }
      state[ref] = QueueSeriesState.Unknown;
      n++;
    }
    this.known -= n;
    if (this.arenaGarbage > INITIAL_ARENA && this.arenaGarbage * 2 > this.arenaUsed) this.compact(0);
    return n;
  }

  private grow(min: number): void {
    let cap = this.state.length;
    while (cap < min) cap *= 2;
    const widen = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.state = widen(this.state, (n) => new Uint8Array(n));
    this.hash = widen(this.hash, (n) => new Uint32Array(n));
    this.seg = widen(this.seg, (n) => new Int32Array(n));
    if (!this.v2) {
      this.labelOff = widen(this.labelOff, (n) => new Int32Array(n));
      this.labelLen = widen(this.labelLen, (n) => new Int32Array(n));
    }
  }

  /** Makes room for `extra` more bytes: compacts when half the arena is garbage, else doubles it. */
  private growArena(extra: number): void {
    if (this.arenaGarbage * 2 > this.arenaUsed) this.compact(extra);
    if (this.arenaUsed + extra <= this.arena.length) return;
    let size = this.arena.length * 2;
    while (size < this.arenaUsed + extra) size *= 2;
    const a = new Uint8Array(size);
    a.set(this.arena.subarray(0, this.arenaUsed));
    this.arena = a;
  }

  /** Copies the live label bytes, in ref order, into a fresh arena with room for `extra` more. */
  private compact(extra: number): void {
    const live = this.arenaUsed - this.arenaGarbage;
    let size = INITIAL_ARENA;
    while (size < (live + extra) * 1.5) size *= 2;
    const a = new Uint8Array(size);
    let p = 0;
    const { state, labelOff, labelLen, arena } = this;
    for (let ref = 0; ref < state.length; ref++) {
      if (state[ref] !== QueueSeriesState.Live) continue;
      const off = labelOff[ref]!;
      const len = labelLen[ref]!;
      a.set(arena.subarray(off, off + len), p);
      labelOff[ref] = p;
      p += len;
    }
    this.arena = a;
    this.arenaUsed = p;
    this.arenaGarbage = 0;
  }
}
