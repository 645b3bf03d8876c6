/**
 * WAL record payloads of the head. The first byte is the record type.
 *
 *  SERIES   u8 type, u8[3] 0, u32 count, then per series: u32 ref, u32 labelCount, per name and value:
 *           u32 byteLength + UTF-8 bytes.
 *  SAMPLES  u8 type, uvarint count, varint t0, then per sample: varint (ref - previous ref),
 *           varint (t - t0); then f64 v[count] as raw bytes (values keep their NaN bits).
 *           Refs of one request are mostly consecutive and its timestamps nearly equal, so the deltas
 *           take a byte or two: ~11 bytes per sample instead of 20.
 *
 * varint = zigzag + LEB128, exact for integers below 2^52 (ms timestamps, refs).
 *
 * All integers little-endian.
 */
import type { Labels } from '../../model/labels.js';

export const REC_SERIES = 1;
export const REC_SAMPLES = 2;

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface SeriesRecordEntry {
  ref: number;
  labels: Labels;
}

export function encodeSeriesRecord(entries: readonly SeriesRecordEntry[]): Uint8Array {
  const encoded: Uint8Array[][] = [];
  let size = 8;
  for (const e of entries) {
    const parts = e.labels.map((s) => enc.encode(s));
    encoded.push(parts);
    size += 8;
    for (const p of parts) size += 4 + p.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = REC_SERIES;
  dv.setUint32(4, entries.length, true);
  let off = 8;
  for (let i = 0; i < entries.length; i++) {
    const parts = encoded[i]!;
    dv.setUint32(off, entries[i]!.ref, true);
    dv.setUint32(off + 4, parts.length >> 1, true);
    off += 8;
    for (const p of parts) {
      dv.setUint32(off, p.length, true);
      out.set(p, off + 4);
      off += 4 + p.length;
    }
  }
  return out;
}

export function decodeSeriesRecord(buf: Uint8Array, onSeries: (ref: number, labels: Labels) => void): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = dv.getUint32(4, true);
  if (count > buf.length / 8) throw new Error(`series record claims ${count} series in ${buf.length} bytes`);
  let off = 8;
  for (let i = 0; i < count; i++) {
    const ref = dv.getUint32(off, true);
    const n = dv.getUint32(off + 4, true);
    off += 8;
    // Every label takes at least 8 bytes: refuse counts the record cannot hold before allocating.
    if (n > (buf.length - off) / 8) throw new Error(`series record: series ${ref} claims ${n} labels`);
    const ls: string[] = new Array(n * 2);
    for (let j = 0; j < n * 2; j++) {
      const len = dv.getUint32(off, true);
      if (off + 4 + len > buf.length) throw new Error(`series record: label of ${len} bytes runs past the record`);
      ls[j] = dec.decode(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    onSeries(ref, Object.freeze(ls));
  }
}

/** Appends the zigzag LEB128 form of integer `v` (|v| < 2^52) at `off`; returns the new offset. */
function putVarint(out: Uint8Array, off: number, v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 0x80) {
    out[off++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  out[off++] = z;
  return off;
}

class VarintReader {
  off: number;
  constructor(
    private readonly buf: Uint8Array,
    off: number,
  ) {
    this.off = off;
  }
  next(): number {
    let z = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.off >= this.buf.length) throw new Error('samples record truncated inside a varint');
      const b = this.buf[this.off++]!;
      z += (b & 0x7f) * mul;
      if (b < 0x80) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      mul *= 0x80;
    }
    throw new Error('samples record has an overlong varint');
  }
}

export function encodeSamplesRecord(refs: Uint32Array, ts: Float64Array, vs: Float64Array, count: number): Uint8Array {
  // Worst case 8 bytes per varint (values < 2^52); trimmed below.
  const out = new Uint8Array(1 + 8 + 8 + count * 16 + count * 8);
  out[0] = REC_SAMPLES;
  let off = putVarint(out, 1, count);
  const t0 = count > 0 ? ts[0]! : 0;
  off = putVarint(out, off, t0);
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const r = refs[i]!;
    off = putVarint(out, off, r - prev);
    prev = r;
    off = putVarint(out, off, ts[i]! - t0);
  }
  out.set(new Uint8Array(vs.buffer, vs.byteOffset, count * 8), off);
  return out.subarray(0, off + count * 8);
}

export interface SamplesColumns {
  refs: Uint32Array;
  ts: Float64Array;
  vs: Float64Array;
}

export function decodeSamplesRecord(buf: Uint8Array, reuse?: SamplesColumns): SamplesColumns {
  const rd = new VarintReader(buf, 1);
  const count = rd.next();
  if (count < 0 || count > buf.length) throw new Error(`samples record claims ${count} samples in ${buf.length} bytes`);
  const t0 = rd.next();
  const fits = reuse !== undefined && reuse.refs.length >= count;
  const refs = fits ? reuse.refs.subarray(0, count) : new Uint32Array(count);
  const ts = fits ? reuse.ts.subarray(0, count) : new Float64Array(count);
  let prev = 0;
  for (let i = 0; i < count; i++) {
    prev += rd.next();
    refs[i] = prev;
    ts[i] = t0 + rd.next();
  }
  if (rd.off + count * 8 > buf.length) throw new Error(`samples record of ${buf.length} bytes too short for ${count} values`);
  // Copy into an aligned array (the record may sit at any byte offset in the segment).
  const vs = fits ? reuse.vs.subarray(0, count) : new Float64Array(count);
  new Uint8Array(vs.buffer, vs.byteOffset, count * 8).set(buf.subarray(rd.off, rd.off + count * 8));
  return { refs, ts, vs };
}

/** Growable sample columns: what an appender stages until they become one samples record at commit. */
export class StagedSamples implements SamplesColumns {
  refs: Uint32Array;
  ts: Float64Array;
  vs: Float64Array;

  constructor(capacity: number) {
    this.refs = new Uint32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.vs = new Float64Array(capacity);
  }

  /** Doubles the capacity, keeping what is staged. */
  grow(): void {
    const cap = this.refs.length * 2;
    const r = new Uint32Array(cap);
    const ts = new Float64Array(cap);
    const vs = new Float64Array(cap);
    r.set(this.refs);
    ts.set(this.ts);
    vs.set(this.vs);
    this.refs = r;
    this.ts = ts;
    this.vs = vs;
  }
}

/**
 * Decodes samples records into columns it reuses (a WAL reader that handles one record at a time need
 * not allocate three arrays per record). The columns returned are valid until the next call.
 */
export class SamplesRecordDecoder {
  private cols: SamplesColumns = { refs: new Uint32Array(0), ts: new Float64Array(0), vs: new Float64Array(0) };

  decode(buf: Uint8Array): SamplesColumns {
    const out = decodeSamplesRecord(buf, this.cols);
    if (out.refs.buffer !== this.cols.refs.buffer) this.cols = out; // grown: the larger arrays serve from now on
    return out;
  }
}

/**
 * META  u8 type, u8[3] 0, u32 nextRef, f64 minValidTime — written into checkpoints so that refs stay unique
 * across restarts even after the series holding the highest ref was dropped from the head.
 */
export const REC_META = 3;

export function encodeMetaRecord(nextRef: number, minValidTime: number): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  out[0] = REC_META;
  dv.setUint32(4, nextRef, true);
  dv.setFloat64(8, minValidTime, true);
  return out;
}

export function decodeMetaRecord(buf: Uint8Array): { nextRef: number; minValidTime: number } {
  if (buf.length < 16) throw new Error(`meta record of ${buf.length} bytes is too short`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { nextRef: dv.getUint32(4, true), minValidTime: dv.getFloat64(8, true) };
}
