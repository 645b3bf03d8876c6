/**
 * Minimal protobuf wire-format reader and writer over Uint8Array. No schema here: the codecs in this
 * folder walk fields by number. Every read is bounded by an explicit `end` so a nested message can
 * never read past its own length, and every failure is a DecodeError naming the field and the offset.
 */
import { uvarintSize, writeUvarint, writeVarint64 } from './varint.js';

/** Thrown by every decoder in src/codec for malformed input; callers map it to HTTP 400. */
export class DecodeError extends Error {
  /** Byte offset in the decoded buffer where the problem was seen, or -1 when it is not about a position. */
  readonly offset: number;
  constructor(message: string, offset = -1) {
    super(message);
    this.name = 'DecodeError';
    this.offset = offset;
  }
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;
// Groups are obsolete but legal on the wire; nesting is bounded so hostile input cannot blow the stack.
const MAX_GROUP_DEPTH = 64;

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!LITTLE_ENDIAN_HOST) {
  // Values are copied as 32-bit words into Float64Array views; that is only byte-exact on little-endian hosts.
  throw new Error('argus codec requires a little-endian host');
}

const WIRE_NAMES = ['varint', 'i64', 'len', 'start-group', 'end-group', 'i32', 'invalid(6)', 'invalid(7)'];

export function wireTypeName(wt: number): string {
  return WIRE_NAMES[wt & 7]!;
}

/**
 * A cursor over one buffer. Methods take the end of the enclosing message and a field description used
 * only when building an error message (pass string literals: they cost nothing on the happy path).
 */
export class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;
  /** The high 32 bits of the last varintLo() call. */
  hi = 0;

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }

  fail(what: string, problem: string, at: number = this.pos): never {
    throw new DecodeError(`${what}: ${problem} at offset ${at}`, at);
  }

  /** Reads a field tag; returns fieldNumber << 3 | wireType as an unsigned number. */
  tag(end: number, what: string): number {
    const p = this.pos;
    if (p < end) {
      const b = this.buf[p]!;
      if (b < 0x80 && b >= 8) {
        this.pos = p + 1;
        return b;
      }
    }
    return this.tagSlow(end, what);
  }

  private tagSlow(end: number, what: string): number {
    const start = this.pos;
    const t = this.uvarint(end, what);
    if (t >= TWO_32) this.fail(what, `field tag ${t} too large`, start);
    if (t < 8) this.fail(what, 'field number 0', start);
    return t;
  }

  /** Reads a varint of up to 64 bits as a non-negative number (exact below 2^53). */
  uvarint(end: number, what: string): number {
    const lo = this.varintLo(end, what);
    return (this.hi >>> 0) * TWO_32 + (lo >>> 0);
  }

  /** Reads a varint and keeps its low 32 bits unsigned, as protobuf's uint32 and enums do. */
  uint32(end: number, what: string): number {
    const buf = this.buf;
    const p = this.pos;
    if (p < end) {
      const b = buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    return this.varintLo(end, what) >>> 0;
  }

  /** Reads a varint as protobuf int64 (two's complement): exact for |v| < 2^53. */
  int64(end: number, what: string): number {
    // Up to 7 bytes (49 bits) the value is a plain sum of exact doubles; timestamps in ms take 6.
    const buf = this.buf;
    const p = this.pos;
    const lim = end - p < 7 ? end - p : 7;
    let v = 0;
    let m = 1;
    for (let i = 0; i < lim; i++) {
      const b = buf[p + i]!;
      v += (b & 0x7f) * m;
      if (b < 0x80) {
        this.pos = p + i + 1;
        return v;
      }
      m *= 128;
    }
    return this.int64Slow(end, what);
  }

  private int64Slow(end: number, what: string): number {
    const lo = this.varintLo(end, what);
    return (this.hi | 0) * TWO_32 + (lo >>> 0);
  }

  /** Reads a varint enum/int32 value (sign-extended from 64 bits, as protobuf int32/enum). */
  int32(end: number, what: string): number {
    return this.varintLo(end, what) | 0;
  }

  /**
   * Core varint reader: returns the low 32 bits (as int32) and leaves the high 32 bits in `this.hi`.
   * Rejects varints longer than 10 bytes and a 10th byte carrying more than bit 63.
   */
  varintLo(end: number, what: string): number {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    let lo = 0;
    let hi = 0;
    let b: number;
    if (p + 10 <= end) {
      // Enough bytes for any varint: no bounds checks per byte.
      b = buf[p++]!;
      lo = b & 0x7f;
      if (b < 0x80) return this.done(p, lo, 0);
      b = buf[p++]!;
      lo |= (b & 0x7f) << 7;
      if (b < 0x80) return this.done(p, lo, 0);
      b = buf[p++]!;
      lo |= (b & 0x7f) << 14;
      if (b < 0x80) return this.done(p, lo, 0);
      b = buf[p++]!;
      lo |= (b & 0x7f) << 21;
      if (b < 0x80) return this.done(p, lo, 0);
      b = buf[p++]!;
      lo |= b << 28;
      hi = (b & 0x7f) >>> 4;
      if (b < 0x80) return this.done(p, lo, hi);
      b = buf[p++]!;
      hi |= (b & 0x7f) << 3;
      if (b < 0x80) return this.done(p, lo, hi);
      b = buf[p++]!;
      hi |= (b & 0x7f) << 10;
      if (b < 0x80) return this.done(p, lo, hi);
      b = buf[p++]!;
      hi |= (b & 0x7f) << 17;
      if (b < 0x80) return this.done(p, lo, hi);
      b = buf[p++]!;
      hi |= (b & 0x7f) << 24;
      if (b < 0x80) return this.done(p, lo, hi);
      b = buf[p++]!;
      if (b > 1) this.fail(what, b < 0x80 ? 'varint overflows 64 bits' : 'varint longer than 10 bytes', start);
      hi |= b << 31;
      return this.done(p, lo, hi);
    }
    for (let i = 0; ; i++) {
      if (p >= end) this.fail(what, 'truncated varint', start);
      b = buf[p++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= b << 28;
        hi = (b & 0x7f) >>> 4;
      } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32);
      else {
        if (b > 1) this.fail(what, b < 0x80 ? 'varint overflows 64 bits' : 'varint longer than 10 bytes', start);
        hi |= b << 31;
      }
      if (b < 0x80) return this.done(p, lo, hi);
    }
  }

  private done(p: number, lo: number, hi: number): number {
    this.pos = p;
    this.hi = hi;
    return lo;
  }

  /** Reads a length prefix, checks the payload fits before `end`, and returns the payload's end. */
  lenEnd(end: number, what: string): number {
    const p = this.pos;
    if (p < end) {
      const len = this.buf[p]!;
      if (len < 0x80 && len < end - p) {
        this.pos = p + 1;
        return p + 1 + len;
      }
    }
    return this.lenEndSlow(end, what);
  }

  private lenEndSlow(end: number, what: string): number {
    const start = this.pos;
    const len = this.uvarint(end, what);
    if (len > end - this.pos) this.fail(what, `length ${len} exceeds the ${end - this.pos} bytes left`, start);
    return this.pos + len;
  }

  /** Returns the offset of an 8-byte little-endian field and moves past it. */
  fixed64(end: number, what: string): number {
    const p = this.pos;
    if (p + 8 > end) this.fail(what, 'truncated fixed64', p);
    this.pos = p + 8;
    return p;
  }

  double(end: number, what: string): number {
    return this.view.getFloat64(this.fixed64(end, what), true);
  }

  /** Skips one field value of wire type `tag & 7` (for unknown fields). */
  skip(tag: number, end: number, what: string, depth = 0): void {
    const wt = tag & 7;
    const start = this.pos;
    switch (wt) {
      case WIRE_VARINT:
        this.varintLo(end, what);
        return;
      case WIRE_I64:
        if (start + 8 > end) this.fail(what, 'truncated fixed64', start);
        this.pos = start + 8;
        return;
      case WIRE_LEN:
        this.pos = this.lenEnd(end, what);
        return;
      case WIRE_I32:
        if (start + 4 > end) this.fail(what, 'truncated fixed32', start);
        this.pos = start + 4;
        return;
      case WIRE_SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) this.fail(what, 'groups nested too deeply', start);
        const field = tag >>> 3;
        for (;;) {
          if (this.pos >= end) this.fail(what, `unterminated group ${field}`, start);
          const t = this.tag(end, what);
          if ((t & 7) === WIRE_EGROUP) {
            if (t >>> 3 !== field) this.fail(what, `end-group ${t >>> 3} does not match start-group ${field}`, start);
            return;
          }
          this.skip(t, end, what, depth + 1);
        }
      }
      case WIRE_EGROUP:
        this.fail(what, 'unexpected end-group', start);
      default:
        this.fail(what, `invalid wire type ${wt}`, start);
    }
  }

  /** Throws the standard "wrong wire type" error for a known field. */
  wrongType(tag: number, what: string, at: number): never {
    this.fail(what, `wrong wire type ${wireTypeName(tag & 7)} for field ${tag >>> 3}`, at);
  }
}

const decoder = new TextDecoder('utf-8');

/**
 * Decodes UTF-8 bytes to a string (invalid sequences become U+FFFD, as Go's proto3 decoders in
 * Prometheus do not reject them). Short ASCII skips TextDecoder, whose call overhead dominates there.
 */
export function utf8(buf: Uint8Array, off: number, len: number): string {
  if (len <= 24) {
    let s = '';
    for (let i = off, e = off + len; i < e; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return decoder.decode(buf.subarray(off, off + len));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(off, off + len));
}

const encoder = new TextEncoder();
const scratchF64 = new Float64Array(1);
const scratchBytes = new Uint8Array(scratchF64.buffer);

/**
 * A growable output buffer. Nested messages are written in place: fork() reserves one length byte,
 * join() patches it, moving the body right in the rare case the length needs more than one byte.
 */
export class Writer {
  buf: Uint8Array;
  pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(Math.max(16, initial));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  tag(field: number, wt: number): void {
    this.uvarint(field * 8 + wt);
  }

  uvarint(v: number): void {
    this.ensure(10);
    if (v < 0x80) this.buf[this.pos++] = v;
    else this.pos = writeUvarint(this.buf, this.pos, v);
  }

  int64(v: number): void {
    this.ensure(10);
    this.pos = writeVarint64(this.buf, this.pos, v);
  }

  /** Writes the 8 bytes at `src[off..off+8)` verbatim (a double's little-endian bits). */
  rawBytes8(src: Uint8Array, off: number): void {
    this.ensure(8);
    const b = this.buf;
    const p = this.pos;
    for (let i = 0; i < 8; i++) b[p + i] = src[off + i]!;
    this.pos = p + 8;
  }

  /** Writes a double bit for bit (through a Float64Array, which keeps NaN payloads). */
  double(v: number): void {
    scratchF64[0] = v;
    this.rawBytes8(scratchBytes, 0);
  }

  bytes(src: Uint8Array): void {
    this.uvarint(src.length);
    this.ensure(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Writes a length-prefixed UTF-8 string. */
  string(s: string): void {
    const n = s.length;
    // Short ASCII is by far the common case for label names and values.
    if (n < 128) {
      this.ensure(n + 1);
      const b = this.buf;
      const p = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + 1 + i] = c;
      }
      if (i === n) {
        b[p] = n;
        this.pos = p + 1 + n;
        return;
      }
    }
    const max = n * 3;
    this.ensure(max + 10);
    const start = this.fork();
    const r = encoder.encodeInto(s, this.buf.subarray(this.pos));
    this.pos += r.written;
    this.join(start);
  }

  /** Reserves a one-byte length for a nested message; pass the result to join(). */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  join(start: number): void {
    const len = this.pos - start - 1;
    if (len < 128) {
      this.buf[start] = len;
      return;
    }
    const extra = uvarintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    writeUvarint(this.buf, start, len);
    this.pos += extra;
  }

  /** The bytes written so far (a view; the Writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
