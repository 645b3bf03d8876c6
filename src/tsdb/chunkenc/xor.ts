/**
 * Prometheus's XOR ("Gorilla") float chunk, byte-compatible with `tsdb/chunkenc` (format:
 * `tsdb/docs/format/chunks.md` in the Prometheus repository).
 *
 * Layout: uint16 big-endian sample count, then a bit stream:
 *   sample 0: t as signed varint, v as 64 raw bits
 *   sample 1: t - t0 as uvarint (of the int64 bit pattern), v as XOR against v0
 *   sample n: delta-of-delta of t in one of five buckets, v as XOR against v(n-1)
 *
 * Timestamps are integer milliseconds held in doubles. Deltas and delta-of-deltas are computed in
 * doubles, which is exact while consecutive timestamps are less than 2^52 ms apart (checked on append).
 * Values travel as two int32 halves through a shared Float64Array, so every NaN payload, notably the
 * stale marker, survives bit for bit. (Callers must keep values in Float64Arrays too: V8 quiets
 * signalling NaNs stored in plain JS arrays of doubles.)
 */
import type { SampleIterator, ValueType } from '../../storage/interface.js';
import { BitWriter, READ_PAD, allocBytes, peek32, readUvarint64 } from './bitstream.js';

export const ENCODING_XOR = 1;

/** Largest sample count the uint16 header can hold. */
export const MAX_SAMPLES_PER_CHUNK = 0xffff;

const HEADER_BYTES = 2;
const HEADER_BITS = HEADER_BYTES * 8;
/** Prometheus's initial chunk allocation. */
const INITIAL_BYTES = 128;
/** Worst case for one sample: 10-byte varint + 64 bits, or 68 bits of dod + 77 bits of value. */
const MAX_SAMPLE_BYTES = 20;
/** Deltas at or beyond this would make double arithmetic on delta-of-deltas inexact. */
const MAX_DELTA = 2 ** 52;
const TWO_32 = 4294967296;
/** `leading` before any value window exists: the first non-zero XOR must carry its window. */
const NO_WINDOW = 0xff;

const VAL_NONE = 0 as ValueType.None;
const VAL_FLOAT = 1 as ValueType.Float;

// Shared scratch for float <-> bits; little-endian hosts put the low word first. Halves are kept as
// int32 so that object fields holding them stay small integers rather than boxed doubles.
const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);
const varint = new Int32Array(2);

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class XorChunk {
  /** @internal The bit stream; shared with the chunk's appender. */
  readonly w: BitWriter;
  /** @internal Sample count. For chunks we write, the header bytes are refreshed from it by `bytes()`. */
  n: number;

  constructor(bytes?: Uint8Array) {
    if (bytes === undefined) {
      this.w = new BitWriter(allocBytes(INITIAL_BYTES), HEADER_BITS, true);
      this.n = 0;
    } else {
      if (bytes.length < HEADER_BYTES) throw new RangeError(`xor chunk too short: ${bytes.length} bytes`);
      // The caller's bytes (often a view into a file) are used as they are until an appender writes.
      this.w = new BitWriter(bytes, bytes.length * 8, false);
      this.n = (bytes[0]! << 8) | bytes[1]!;
    }
  }

  numSamples(): number {
    return this.n;
  }

  /**
   * The chunk as Prometheus stores it, header included: a view, not a copy. For a chunk wrapped from
   * bytes it is those bytes. Appending changes what a view shows (the header count, the last byte), so
   * copy it to keep a snapshot; iterators copy on `reset`.
   */
  bytes(): Uint8Array {
    const w = this.w;
    const buf = w.buf;
    if (w.owned) {
      w.sync();
      buf[0] = this.n >>> 8;
      buf[1] = this.n;
    }
    const len = w.byteLength();
    return len === buf.length ? buf : buf.subarray(0, len);
  }

  /**
   * An appender that continues after the existing samples. For a non-empty chunk the samples are decoded
   * once to rebuild the encoder's state, as Prometheus does; throws if they cannot be decoded.
   */
  appender(): XorAppender {
    const w = this.w;
    const app = new XorAppender(this);
    if (this.n === 0) {
      if (!w.owned || w.bitLen !== HEADER_BITS) w.truncate(HEADER_BITS, INITIAL_BYTES);
      return app;
    }
    const it = this.iterator();
    while (it.next() !== VAL_NONE) {
      /* replay */
    }
    const err = it.err();
    if (err !== null) throw new Error(`cannot append to xor chunk: ${err}`);
    app.t = it.t;
    app.tDelta = it.tDelta;
    app.vHi = it.vHi;
    app.vLo = it.vLo;
    app.leading = it.leading;
    app.trailing = it.trailing;
    // Resume at the exact bit where the last sample ended (clearing the old padding), so the result is
    // what encoding every sample in one go gives.
    w.truncate(it.bitPos(), INITIAL_BYTES);
    return app;
  }

  iterator(reuse?: XorIterator): XorIterator {
    if (reuse !== undefined) {
      reuse.reset(this.bytes());
      return reuse;
    }
    return new XorIterator(this.bytes());
  }
}

export class XorAppender {
  private readonly c: XorChunk;
  private readonly w: BitWriter;
  /** @internal Encoder state, also restored by `XorChunk.appender()`. */
  t = 0;
  /** @internal */
  tDelta = 0;
  /** @internal */
  vHi = 0;
  /** @internal */
  vLo = 0;
  /** @internal */
  leading = NO_WINDOW;
  /** @internal */
  trailing = 0;

  /** @internal Use `XorChunk.appender()`. */
  constructor(chunk: XorChunk) {
    this.c = chunk;
    this.w = chunk.w;
  }

  /**
   * Appends one sample. `t` must be an integer (ms); ordering is the caller's business, as in Prometheus.
   * Throws RangeError when the chunk is full or `t` cannot be encoded exactly.
   */
  append(t: number, v: number): void {
    const c = this.c;
    const n = c.n;
    if (n < 2 || n >= MAX_SAMPLES_PER_CHUNK || !Number.isSafeInteger(t)) {
      this.appendSlow(t, v);
      return;
    }
    const delta = t - this.t;
    if (delta >= MAX_DELTA || delta <= -MAX_DELTA) throw deltaError(delta);
    const w = this.w;
    w.reserve(MAX_SAMPLE_BYTES);
    f64[0] = v;
    const dod = delta - this.tDelta;
    // A bucket of k bits holds -(2^(k-1) - 1) .. 2^(k-1) as the low k bits of the two's complement.
    // Prefix and payload are handed on to the value writer, which usually sends them in one write.
    let pre = 0;
    let preBits = 0;
    if (dod === 0) {
      preBits = 1;
    } else if (dod >= -8191 && dod <= 8192) {
      pre = 0x8000 | (dod & 0x3fff); // 10 + 14 bits
      preBits = 16;
    } else if (dod >= -65535 && dod <= 65536) {
      pre = 0xc0000 | (dod & 0x1ffff); // 110 + 17 bits
      preBits = 20;
    } else if (dod >= -524287 && dod <= 524288) {
      pre = 0xe00000 | (dod & 0xfffff); // 1110 + 20 bits
      preBits = 24;
    } else {
      w.writeBits(0b1111, 4);
      w.writeBits(Math.floor(dod / TWO_32) | 0, 32);
      w.writeBits(dod | 0, 32);
    }
    this.t = t;
    this.tDelta = delta;
    c.n = n + 1;
    this.writeValue(pre, preBits, i32[1]!, i32[0]!);
  }

  /** First two samples (varints), and every error case. */
  private appendSlow(t: number, v: number): void {
    const c = this.c;
    const n = c.n;
    if (!Number.isSafeInteger(t)) throw new RangeError(`xor chunk: timestamp ${t} is not a safe integer`);
    if (n >= MAX_SAMPLES_PER_CHUNK) throw new RangeError('xor chunk: capacity of 65535 samples exceeded');
    const w = this.w;
    w.reserve(MAX_SAMPLE_BYTES);
    f64[0] = v;
    const lo = i32[0]!;
    const hi = i32[1]!;
    if (n === 0) {
      // Go's PutVarint: zig-zag, then uvarint; on halves so that all safe integers stay exact.
      const tLo = t | 0;
      const tHi = Math.floor(t / TWO_32) | 0;
      const sign = tHi >> 31;
      w.writeUvarint64(((tHi << 1) | (tLo >>> 31)) ^ sign, (tLo << 1) ^ sign);
      w.writeBits(hi, 32);
      w.writeBits(lo, 32);
      this.tDelta = 0;
      this.vHi = hi;
      this.vLo = lo;
    } else {
      const delta = t - this.t;
      if (delta >= MAX_DELTA || delta <= -MAX_DELTA) throw deltaError(delta);
      // The first delta is a uvarint of the int64's bit pattern (10 bytes when negative).
      w.writeUvarint64(Math.floor(delta / TWO_32), delta | 0);
      this.tDelta = delta;
      this.writeValue(0, 0, hi, lo);
    }
    this.t = t;
    c.n = n + 1;
  }

  /** Writes `preBits` bits of `pre` (the timestamp part) followed by the value's XOR encoding. */
  private writeValue(pre: number, preBits: number, hi: number, lo: number): void {
    const w = this.w;
    const xHi = hi ^ this.vHi;
    const xLo = lo ^ this.vLo;
    if ((xHi | xLo) === 0) {
      w.writeBits(pre << 1, preBits + 1);
      return;
    }
    this.vHi = hi;
    this.vLo = lo;
    let lead = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
    const trail = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
    // The leading-zero count has 5 bits.
    if (lead > 31) lead = 31;
    let l = this.leading;
    let tr = this.trailing;
    if (l !== NO_WINDOW && lead >= l && trail >= tr) {
      w.writeBits((pre << 2) | 0b10, preBits + 2);
    } else {
      l = lead;
      tr = trail;
      this.leading = l;
      this.trailing = tr;
      // 11, leading zeros (5 bits), significant bits (6 bits, where 64 wraps to 0).
      const ctl = 0x1800 | (l << 6) | ((64 - l - tr) & 63);
      if (preBits <= 19) {
        w.writeBits((pre << 13) | ctl, preBits + 13);
      } else {
        w.writeBits(pre, preBits);
        w.writeBits(ctl, 13);
      }
    }
    // The significant bits are [l, 64 - tr) of the 64-bit XOR, MSB first; l < 32 always.
    const endHi = tr > 32 ? 64 - tr : 32;
    w.writeBits((xHi >>> (32 - endHi)) | 0, endHi - l);
    if (tr < 32) w.writeBits((xLo >>> tr) | 0, 32 - tr);
  }
}

function deltaError(delta: number): RangeError {
  return new RangeError(`xor chunk: timestamp delta ${delta} too large to encode exactly`);
}

/**
 * Decodes an XOR chunk. `reset` copies the bytes into a private zero-padded buffer, so a chunk that keeps
 * being appended to, or a reused buffer, cannot disturb an iteration, and reads need no bounds checks:
 * overrunning the data is detected once per sample. A corrupt or truncated chunk ends the iteration and
 * is reported by `err()`; `next()` never throws.
 */
export class XorIterator implements SampleIterator {
  private buf: Uint8Array = EMPTY_SCRATCH;
  /** Next bit to read, counted from the start of the chunk (header included). */
  private pos = 0;
  private end = 0;
  /** Samples still expected; forced to 0 by an error. */
  private numTotal = 0;
  private numRead = 0;
  private headerTotal = 0;
  /** Set once `next()` has returned None; `seek` then stays at the end. */
  private done = false;
  private errMsg: string | null = null;
  /** @internal Decoder state; `XorChunk.appender()` resumes from it. */
  t = 0;
  /** @internal */
  tDelta = 0;
  /** @internal */
  vHi = 0;
  /** @internal */
  vLo = 0;
  /** @internal */
  leading = NO_WINDOW;
  /** @internal */
  trailing = 0;
  // Significant bits of the current XOR window. Before any window is read, a reused window means all 64
  // bits, as in Prometheus's decoder (whose resumed appenders can write that); `leading` stays NO_WINDOW
  // so that our resumed appender does not.
  private sig = 64;

  constructor(bytes?: Uint8Array) {
    this.reset(bytes ?? EMPTY_CHUNK);
  }

  reset(bytes: Uint8Array): void {
    this.numRead = 0;
    this.done = false;
    this.errMsg = null;
    this.t = 0;
    this.tDelta = 0;
    this.vHi = 0;
    this.vLo = 0;
    this.leading = NO_WINDOW;
    this.trailing = 0;
    this.sig = 64;
    const len = bytes.length;
    if (this.buf.length < len + READ_PAD) {
      let cap = 64;
      while (cap < len + READ_PAD) cap *= 2;
      this.buf = allocBytes(cap);
    }
    this.buf.set(bytes);
    // Leftovers of a longer previous chunk must not show through past the end.
    this.buf.fill(0, len, len + READ_PAD);
    this.pos = HEADER_BITS;
    this.end = len * 8;
    if (len < HEADER_BYTES) {
      this.headerTotal = this.numTotal = 0;
      this.fail(`xor chunk too short: ${len} bytes`);
      return;
    }
    this.headerTotal = this.numTotal = (bytes[0]! << 8) | bytes[1]!;
  }

  atT(): number {
    return this.t;
  }

  atF(): number {
    i32[0] = this.vLo;
    i32[1] = this.vHi;
    return f64[0]!;
  }

  err(): string | null {
    return this.errMsg;
  }

  /** @internal Bit position after the samples read so far. */
  bitPos(): number {
    return this.pos;
  }

  seek(t: number): ValueType {
    if (this.done) return VAL_NONE;
    while (this.numRead === 0 || t > this.t) {
      if (this.next() === VAL_NONE) return VAL_NONE;
    }
    return VAL_FLOAT;
  }

  next(): ValueType {
    const n = this.numRead;
    if (n >= this.numTotal) {
      this.done = true;
      return VAL_NONE;
    }
    if (n < 2) return this.nextFirst(n);
    const buf = this.buf;
    let pos = this.pos;
    let w = peek32(buf, pos);
    if (w >= 0) {
      // dod 0: the common case of a regular interval.
      this.t += this.tDelta;
      if ((w & 0x40000000) === 0) {
        // ...and an unchanged value.
        pos += 2;
        if (pos > this.end) return this.truncated(n);
        this.pos = pos;
        this.numRead = n + 1;
        return VAL_FLOAT;
      }
      pos += 1;
      w <<= 1;
    } else {
      let dod: number;
      // The count of leading 1 bits selects the bucket: 10 -> 14 bits, 110 -> 17, 1110 -> 20, 1111 -> 64.
      // Payloads above 2^(k-1) are negative.
      switch (Math.clz32(~w)) {
        case 1:
          dod = (w >>> 16) & 0x3fff;
          if (dod > 0x2000) dod -= 0x4000;
          pos += 16;
          // The 16 bits left in the window cover the value's control bits and window header.
          this.tDelta += dod;
          this.t += this.tDelta;
          pos = this.readValue(buf, pos, w << 16);
          if (pos > this.end) return this.truncated(n);
          this.pos = pos;
          this.numRead = n + 1;
          return VAL_FLOAT;
        case 2:
          dod = (w >>> 12) & 0x1ffff;
          if (dod > 0x10000) dod -= 0x20000;
          pos += 20;
          break;
        case 3:
          dod = (w >>> 8) & 0xfffff;
          if (dod > 0x80000) dod -= 0x100000;
          pos += 24;
          break;
        default:
          pos += 4;
          dod = peek32(buf, pos) * TWO_32 + (peek32(buf, pos + 32) >>> 0);
          pos += 64;
      }
      this.tDelta += dod;
      this.t += this.tDelta;
      w = peek32(buf, pos);
    }
    pos = this.readValue(buf, pos, w);
    if (pos > this.end) return this.truncated(n);
    this.pos = pos;
    this.numRead = n + 1;
    return VAL_FLOAT;
  }

  /** Decodes a value XOR at `pos`, where `w` holds (at least) the next 13 bits; returns the new position. */
  private readValue(buf: Uint8Array, pos: number, w: number): number {
    if (w >= 0) return pos + 1; // unchanged
    if ((w & 0x40000000) === 0) {
      pos += 2; // same window as before
    } else {
      const l = (w >>> 25) & 31;
      let sig = (w >>> 19) & 63;
      if (sig === 0) sig = 64;
      const tr = 64 - l - sig;
      if (tr < 0) {
        // No valid writer produces this. The position returned is past any end, so the caller stops.
        this.fail(`xor chunk: corrupt value window (leading ${l}, significant ${sig})`);
        return 0x7fffffff;
      }
      pos += 13;
      this.leading = l;
      this.trailing = tr;
      this.sig = sig;
    }
    // XOR the value with bits << trailing, a 64-bit shift done on halves.
    const sig = this.sig;
    const tr = this.trailing;
    if (sig <= 32) {
      // Here tr >= 1, as leading <= 31; so 32 - tr is a real shift.
      const x = peek32(buf, pos) >>> (32 - sig);
      pos += sig;
      if (tr >= 32) {
        this.vHi ^= x << (tr - 32);
      } else {
        this.vLo ^= x << tr;
        this.vHi ^= x >>> (32 - tr);
      }
    } else {
      // More than 32 bits, so tr < 32 and may be 0: `(low >>> 1) >>> (31 - tr)` is low >>> (32 - tr)
      // that gives 0 for tr = 0 (JS shift counts are mod 32). Top sig - 32 bits first, then a word.
      const top = peek32(buf, pos) >>> (64 - sig);
      const low = peek32(buf, pos + sig - 32);
      pos += sig;
      this.vLo ^= low << tr;
      this.vHi ^= (top << tr) | ((low >>> 1) >>> (31 - tr));
    }
    return pos;
  }

  /** Samples 0 and 1 start with varints. */
  private nextFirst(n: number): ValueType {
    const buf = this.buf;
    let pos = readUvarint64(buf, this.pos, varint);
    if (pos < 0) return this.fail(`xor chunk: bad varint in sample ${n}`);
    if (n === 0) {
      // Undo the zig-zag on the halves, then combine (exact for |t| < 2^53).
      const zlo = varint[0]!;
      const zhi = varint[1]!;
      const sign = -(zlo & 1);
      const lo = ((zlo >>> 1) | (zhi << 31)) ^ sign;
      const hi = (zhi >>> 1) ^ sign;
      this.t = hi * TWO_32 + (lo >>> 0);
      this.vHi = peek32(buf, pos);
      this.vLo = peek32(buf, pos + 32);
      pos += 64;
    } else {
      this.tDelta = varint[1]! * TWO_32 + (varint[0]! >>> 0);
      this.t += this.tDelta;
      pos = this.readValue(buf, pos, peek32(buf, pos));
    }
    if (pos > this.end) return this.truncated(n);
    this.pos = pos;
    this.numRead = n + 1;
    return VAL_FLOAT;
  }

  private truncated(n: number): ValueType {
    return this.fail(`xor chunk truncated in sample ${n + 1} of ${this.headerTotal}`);
  }

  private fail(msg: string): ValueType {
    if (this.errMsg === null) this.errMsg = msg;
    this.numTotal = 0;
    this.done = true;
    return VAL_NONE;
  }
}

const EMPTY_CHUNK = new Uint8Array(HEADER_BYTES);
const EMPTY_SCRATCH = new Uint8Array(0);
