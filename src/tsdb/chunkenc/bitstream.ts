/**
 * Bit-level writing and reading for Prometheus chunk encodings. Bits are packed most-significant first,
 * as Prometheus's bstream does, so the bytes are interchangeable with Go-written chunks.
 *
 * JS bitwise operators work on 32 bits, so every operation here takes at most 32 bits; 64-bit
 * quantities are handled by the callers as two halves.
 */

/** Zero bytes kept after the data in a reader's copy, so that window reads never leave the array. */
export const READ_PAD = 32;

const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_ALLOC = 4096;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * Zeroed bytes for chunk and scratch buffers. Each `new Uint8Array(n)` gets its own off-heap backing
 * store and costs ~0.7 µs on Node 20, as much as appending a few dozen samples, and a chunk grows
 * several times; so small buffers are views cut from shared 64 KiB slabs (~0.07 µs). The price: a slab
 * stays in memory while any view into it is alive.
 */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX_ALLOC) return new Uint8Array(n);
  n = (n + 7) & ~7;
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const b = new Uint8Array(slab, slabUsed, n);
  slabUsed += n;
  return b;
}

/**
 * An append-only bit stream over a growable byte buffer. The bits of the unfinished 32-bit word wait in
 * `acc` and reach `buf` when the word fills up or on `sync()`, so most writes are a shift and an OR.
 */
export class BitWriter {
  /** Backing store; `buf[0, byteLength())` is the stream after `sync()`. */
  buf: Uint8Array;
  /** Byte offset at which the word being accumulated starts. */
  wordPos: number;
  /** Pending bits, right-aligned; 0 when `accBits` is 0. */
  private acc = 0;
  /** Number of pending bits, 0..31. */
  private accBits = 0;
  /** False while `buf` is a caller's array that must not be written (a chunk wrapped from bytes). */
  owned: boolean;

  constructor(buf: Uint8Array, bitLen: number, owned: boolean) {
    this.buf = buf;
    this.owned = owned;
    this.wordPos = 0;
    this.seekTo(bitLen);
  }

  /** Number of bits written so far. */
  get bitLen(): number {
    return this.wordPos * 8 + this.accBits;
  }

  byteLength(): number {
    return this.wordPos + ((this.accBits + 7) >>> 3);
  }

  /** Copies the pending bits into `buf`, so that `buf[0, byteLength())` holds the whole stream. */
  sync(): void {
    const n = this.accBits;
    if (n === 0) return;
    const w = this.acc << (32 - n);
    const buf = this.buf;
    const p = this.wordPos;
    buf[p] = w >>> 24;
    if (n > 8) buf[p + 1] = w >>> 16;
    if (n > 16) buf[p + 2] = w >>> 8;
    if (n > 24) buf[p + 3] = w;
  }

  /** Continues at bit `bitLen`, taking the bits of a partial last byte back into the accumulator. */
  private seekTo(bitLen: number): void {
    this.wordPos = bitLen >>> 3;
    const rem = bitLen & 7;
    this.accBits = rem;
    this.acc = rem === 0 ? 0 : this.buf[this.wordPos]! >>> (8 - rem);
  }

  /** Makes room for `extraBytes` more bytes. Only for owned buffers. */
  reserve(extraBytes: number): void {
    // +4: the pending word is written out in full.
    if (this.wordPos + 4 + extraBytes > this.buf.length) this.grow(this.wordPos + 4 + extraBytes);
  }

  /** Geometric growth keeps appends amortised O(1). */
  private grow(need: number): void {
    let cap = this.buf.length < 32 ? 32 : this.buf.length;
    while (cap < need) cap *= 2;
    const next = allocBytes(cap);
    next.set(this.buf.subarray(0, this.wordPos));
    this.buf = next;
  }

  /**
   * Drops everything after bit `bitLen` (a resumed chunk's last byte may carry padding), moving the
   * stream into an owned buffer with at least `extraBytes` of room and clearing the padding bits.
   */
  truncate(bitLen: number, extraBytes: number): void {
    this.sync();
    const len = (bitLen + 7) >>> 3;
    let cap = 32;
    while (cap < len + extraBytes) cap *= 2;
    const next = allocBytes(cap);
    next.set(this.buf.subarray(0, len));
    const rem = bitLen & 7;
    if (rem !== 0) next[len - 1] = next[len - 1]! & (0xff << (8 - rem));
    this.buf = next;
    this.owned = true;
    this.seekTo(bitLen);
  }

  /**
   * Writes the low `n` bits of `v` (0 <= n <= 32); `v` must have no other bits set (callers pass clean
   * values, which saves a mask on the hot path). The caller has reserved room.
   */
  writeBits(v: number, n: number): void {
    const free = 32 - this.accBits;
    if (n < free) {
      this.acc = (this.acc << n) | v;
      this.accBits += n;
      return;
    }
    // The word fills up: write it big-endian and keep the remaining low bits of v.
    const rest = n - free;
    const w = (this.acc << free) | (v >>> rest);
    const buf = this.buf;
    const p = this.wordPos;
    buf[p] = w >>> 24;
    buf[p + 1] = w >>> 16;
    buf[p + 2] = w >>> 8;
    buf[p + 3] = w;
    this.wordPos = p + 4;
    this.acc = v & ~(-1 << rest);
    this.accBits = rest;
  }

  /** Go's uvarint (LEB128) of the unsigned 64-bit value hi:lo. */
  writeUvarint64(hi: number, lo: number): void {
    hi >>>= 0;
    lo >>>= 0;
    while (hi !== 0 || lo >= 0x80) {
      this.writeBits((lo & 0x7f) | 0x80, 8);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.writeBits(lo, 8);
  }
}

/**
 * The 32 bits starting at bit `pos` of `buf`, as an int32. `buf` must extend at least 5 bytes past
 * `pos >>> 3` (readers keep READ_PAD zero bytes after the data).
 */
export function peek32(buf: Uint8Array, pos: number): number {
  const i = pos >>> 3;
  const o = pos & 7;
  return (((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) << o) | (buf[i + 4]! >>> (8 - o));
}

/**
 * Go's uvarint starting at bit `pos`; stores the value's low and high words in `out` and returns the
 * position after it, or -1 when it does not fit in 64 bits.
 */
export function readUvarint64(buf: Uint8Array, pos: number, out: Int32Array): number {
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    const byte = peek32(buf, pos) >>> 24;
    pos += 8;
    const bits = byte & 0x7f;
    if (shift === 63 && byte > 1) return -1;
    if (shift < 32) {
      lo |= bits << shift;
      if (shift > 25) hi |= bits >>> (32 - shift);
    } else {
      hi |= bits << (shift - 32);
    }
    if (byte < 0x80) {
      out[0] = lo;
      out[1] = hi;
      return pos;
    }
  }
  return -1;
}
