/**
 * The samples in [mint, maxt] of a sequence of XOR chunks, one cursor moving from chunk to chunk. Where
 * the chunks come from (an array for head and local blocks, byte runs fetched from a bucket for the store
 * gateway) is the subclass's business: it only implements `advanceChunk`.
 */
import { ValueType, type SampleIterator } from '../../storage/interface.js';
import { XorIterator } from './xor.js';

export abstract class XorSequenceIterator implements SampleIterator {
  protected readonly it = new XorIterator();
  private t = 0;
  private v = 0;
  private done = false;
  private positioned = false;

  constructor(
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  /** Resets `this.it` to the next chunk's bytes; false when there is none. */
  protected abstract advanceChunk(): boolean;

  /** Moves to the next chunk, or ends the iteration. Subclasses call it once at the end of their constructor. */
  protected nextChunk(): void {
    if (!this.advanceChunk()) this.done = true;
  }

  next(): ValueType {
    while (!this.done) {
      if (this.it.next() === ValueType.None) {
        this.nextChunk();
        continue;
      }
      const t = this.it.atT();
      if (t < this.mint) continue;
      if (t > this.maxt) {
        this.done = true;
        return ValueType.None;
      }
      this.t = t;
      this.v = this.it.atF();
      this.positioned = true;
      return ValueType.Float;
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.done) return ValueType.None;
    if (this.positioned && this.t >= t) return ValueType.Float;
    for (;;) {
      const vt = this.next();
      if (vt === ValueType.None || this.t >= t) return vt;
    }
  }

  atT(): number {
    return this.t;
  }
  atF(): number {
    return this.v;
  }
}
