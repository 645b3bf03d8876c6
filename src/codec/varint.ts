/**
 * Base-128 varints as protobuf and snappy use them. JavaScript numbers hold 53 bits exactly, so 64-bit
 * values are exact for |v| < 2^53 and rounded beyond; millisecond timestamps never get near that.
 *
 * The hot decoding paths live inline in protobuf.ts's Reader; these helpers serve the cold paths
 * (snappy preamble, stream frames) and every encoder.
 */

const TWO_32 = 4294967296;

/** readUvarint's `next` when the varint runs past `end`. */
export const VARINT_TRUNCATED = -1;
/** readUvarint's `next` when the varint is longer than 10 bytes or overflows 64 bits. */
export const VARINT_OVERFLOW = -2;

/**
 * Reads an unsigned varint of up to 64 bits at `pos` (bytes before `end`). Returns `[value, next]`;
 * `next` is VARINT_TRUNCATED or VARINT_OVERFLOW on bad input, so callers choose their own error.
 */
export function readUvarint(buf: Uint8Array, pos: number, end: number = buf.length): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return [0, VARINT_TRUNCATED];
    const b = buf[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >>> 4;
    } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32);
    else {
      // The 10th byte carries only bit 63.
      if (b > 1) return [0, VARINT_OVERFLOW];
      hi |= b << 31;
    }
    if (b < 0x80) return [(hi >>> 0) * TWO_32 + (lo >>> 0), pos];
  }
  return [0, VARINT_OVERFLOW];
}

/** Bytes needed for `v` (a non-negative integer below 2^64) as an unsigned varint. */
export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes non-negative integer `v` (below 2^64) as an unsigned varint at `pos`; returns the position after it. */
export function writeUvarint(buf: Uint8Array, pos: number, v: number): number {
  if (v < 0x80) {
    buf[pos] = v;
    return pos + 1;
  }
  if (v <= 0xffffffff) {
    let x = v >>> 0;
    while (x >= 0x80) {
      buf[pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[pos] = x;
    return pos + 1;
  }
  // Above 32 bits, split into words (bit operators only see 32 bits; ToUint32 takes v mod 2^32).
  let lo = v >>> 0;
  let hi = Math.floor(v / TWO_32) >>> 0;
  for (let i = 0; i < 4; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // Bits 28..34 straddle the words: 4 from lo, 3 from hi.
  let x = lo | ((hi & 0x7) << 4);
  hi >>>= 3;
  while (hi !== 0) {
    buf[pos++] = x | 0x80;
    x = hi & 0x7f;
    hi >>>= 7;
  }
  buf[pos] = x;
  return pos + 1;
}

/**
 * Writes an integer as protobuf int64 (two's complement, so negatives take 10 bytes); returns the new
 * position. `v` must be an integer with |v| < 2^63.
 */
export function writeVarint64(buf: Uint8Array, pos: number, v: number): number {
  if (v >= 0) return writeUvarint(buf, pos, v);
  const hiSigned = Math.floor(v / TWO_32);
  let lo = (v - hiSigned * TWO_32) >>> 0;
  let hi = hiSigned >>> 0;
  // Emit 7 bits at a time from the 64-bit (hi, lo) pair; a negative value always has bit 63 set.
  for (let i = 0; i < 9; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = (lo >>> 7) | ((hi & 0x7f) << 25);
    hi >>>= 7;
  }
  buf[pos++] = lo & 0x01;
  return pos;
}

/** Bytes writeVarint64 will use for `v`. */
export function varint64Size(v: number): number {
  return v >= 0 ? uvarintSize(v) : 10;
}
