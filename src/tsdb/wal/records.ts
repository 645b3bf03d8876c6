/**
 * WAL record payloads of the head. The first byte is the record type.
 *
 *  SERIES   u8 type, u8[3] 0, u32 count, then per series: u32 ref, u32 labelCount, per name and value:
 *           u32 byteLength + UTF-8 bytes.
 *  SAMPLES  u8 type, u8[3] 0, u32 count, u32 refs[count], (u32 0 if count is odd), f64 t[count], f64 v[count]
 *           — columns, so encoding is three memcpys and values keep their NaN bits.
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
  let off = 8;
  for (let i = 0; i < count; i++) {
    const ref = dv.getUint32(off, true);
    const n = dv.getUint32(off + 4, true);
    off += 8;
    const ls: string[] = new Array(n * 2);
    for (let j = 0; j < n * 2; j++) {
      const len = dv.getUint32(off, true);
      ls[j] = dec.decode(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    onSeries(ref, Object.freeze(ls));
  }
}

export function encodeSamplesRecord(refs: Uint32Array, ts: Float64Array, vs: Float64Array, count: number): Uint8Array {
  const refBytes = count * 4 + (count & 1 ? 4 : 0);
  const out = new Uint8Array(8 + refBytes + count * 16);
  const dv = new DataView(out.buffer);
  out[0] = REC_SAMPLES;
  dv.setUint32(4, count, true);
  out.set(new Uint8Array(refs.buffer, refs.byteOffset, count * 4), 8);
  out.set(new Uint8Array(ts.buffer, ts.byteOffset, count * 8), 8 + refBytes);
  out.set(new Uint8Array(vs.buffer, vs.byteOffset, count * 8), 8 + refBytes + count * 8);
  return out;
}

export interface SamplesColumns {
  refs: Uint32Array;
  ts: Float64Array;
  vs: Float64Array;
}

export function decodeSamplesRecord(buf: Uint8Array): SamplesColumns {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = dv.getUint32(4, true);
  const refBytes = count * 4 + (count & 1 ? 4 : 0);
  if (8 + refBytes + count * 16 > buf.length) throw new Error(`samples record of ${buf.length} bytes too short for ${count} samples`);
  // Copy into fresh, aligned arrays (the record may sit at any byte offset in the segment).
  const refs = new Uint32Array(count);
  new Uint8Array(refs.buffer).set(buf.subarray(8, 8 + count * 4));
  const ts = new Float64Array(count);
  new Uint8Array(ts.buffer).set(buf.subarray(8 + refBytes, 8 + refBytes + count * 8));
  const vs = new Float64Array(count);
  new Uint8Array(vs.buffer).set(buf.subarray(8 + refBytes + count * 8, 8 + refBytes + count * 16));
  return { refs, ts, vs };
}
