/**
 * Remote-write 1.0 and 2.0 encoders (the agent, tests and benchmarks send with these); the decoders and
 * the field numbers are in remote-write.ts.
 */
import type { Labels } from '../model/index.js';
import { Writer, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { varint64Size, writeVarint64 } from './varint.js';
import { T1_I64, T2_LEN, T2_VARINT, T3_VARINT, type WriteMetadata } from './remote-write.js';

export interface WriteSeries {
  /** Flat [name, value, ...] pairs, written in the given order. */
  labels: Labels;
  /** Integer milliseconds. */
  timestamps: ArrayLike<number>;
  /**
   * Written bit for bit. Pass a Float64Array to keep the stale marker: V8 quiets signalling NaNs
   * (0x7ff0000000000002 becomes 0x7ff8000000000002) when it stores them in a plain number[].
   */
  values: ArrayLike<number>;
}

export interface WriteSeriesV2 extends WriteSeries {
  /** Metadata.MetricType. */
  metricType?: number;
  help?: string;
  unit?: string;
  /** Newest schema: per-sample start_timestamp (0 = none). */
  startTimestamps?: ArrayLike<number>;
}

const scratchF64 = new Float64Array(1);
const scratchWords = new Uint32Array(scratchF64.buffer);

function checkTimestamp(t: number): void {
  if (!Number.isInteger(t) || Math.abs(t) >= 2 ** 63) throw new RangeError(`timestamp ${t} is not an int64 integer`);
}

/**
 * Writes `TimeSeries.samples` (field 2 in both versions). Zero fields are left out as proto3 does;
 * a value counts as zero only when all its bits are (so -0 is kept). Values are copied as their two
 * 32-bit words, never through a plain array, so NaN payloads survive.
 */
export function writeSamples(
  w: Writer,
  timestamps: ArrayLike<number>,
  values: ArrayLike<number>,
  startTimestamps?: ArrayLike<number>,
): void {
  const n = timestamps.length;
  if (values.length !== n) throw new RangeError(`${n} timestamps but ${values.length} values`);
  if (startTimestamps !== undefined && startTimestamps.length !== n) {
    throw new RangeError(`${n} timestamps but ${startTimestamps.length} start timestamps`);
  }
  // Float64Array offsets are multiples of 8, so a word view over the same bytes always exists.
  const direct = values instanceof Float64Array ? new Uint32Array(values.buffer, values.byteOffset, 2 * n) : null;
  for (let i = 0; i < n; i++) {
    let lo: number;
    let hi: number;
    if (direct !== null) {
      lo = direct[2 * i]!;
      hi = direct[2 * i + 1]!;
    } else {
      scratchF64[0] = values[i]!;
      lo = scratchWords[0]!;
      hi = scratchWords[1]!;
    }
    const t = timestamps[i]!;
    checkTimestamp(t);
    const st = startTimestamps === undefined ? 0 : startTimestamps[i]!;
    if (st !== 0) checkTimestamp(st);
    // A Sample is at most 2 + 9 + 11 + 11 bytes, so its length always fits one byte.
    w.ensure(34);
    const b = w.buf;
    let p = w.pos;
    b[p] = T2_LEN;
    const lenAt = p + 1;
    p += 2;
    if ((lo | hi) !== 0) {
      b[p] = T1_I64;
      b[p + 1] = lo;
      b[p + 2] = lo >>> 8;
      b[p + 3] = lo >>> 16;
      b[p + 4] = lo >>> 24;
      b[p + 5] = hi;
      b[p + 6] = hi >>> 8;
      b[p + 7] = hi >>> 16;
      b[p + 8] = hi >>> 24;
      p += 9;
    }
    if (t !== 0) {
      b[p++] = T2_VARINT;
      p = writeVarint64(b, p, t);
    }
    if (st !== 0) {
      b[p++] = T3_VARINT;
      p = writeVarint64(b, p, st);
    }
    b[lenAt] = p - lenAt - 1;
    w.pos = p;
  }
}

/** Writes one v1 `Label` message as field `field` (empty strings left out, as proto3 does). */
export function writeLabelV1(w: Writer, field: number, name: string, value: string): void {
  if (field < 16 && name.length + value.length < 120 && writeAsciiLabel(w, field, name, value)) return;
  w.tag(field, WIRE_LEN);
  const s = w.fork();
  if (name !== '') {
    w.tag(1, WIRE_LEN);
    w.string(name);
  }
  if (value !== '') {
    w.tag(2, WIRE_LEN);
    w.string(value);
  }
  w.join(s);
}

/** The common case in one pass: short ASCII name and value. Returns false (writing nothing) otherwise. */
function writeAsciiLabel(w: Writer, field: number, name: string, value: string): boolean {
  w.ensure(name.length + value.length + 6);
  const b = w.buf;
  const start = w.pos;
  b[start] = (field << 3) | WIRE_LEN;
  let p = start + 2;
  for (let f = 1; f <= 2; f++) {
    const s = f === 1 ? name : value;
    const n = s.length;
    if (n === 0) continue;
    b[p] = (f << 3) | WIRE_LEN;
    b[p + 1] = n;
    p += 2;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      b[p++] = c;
    }
  }
  b[start + 1] = p - start - 2;
  w.pos = p;
  return true;
}

/** Writes a v1 `TimeSeries` (labels + samples) as field `field` of the enclosing message. */
export function writeSeriesV1(w: Writer, field: number, labels: Labels, timestamps: ArrayLike<number>, values: ArrayLike<number>): void {
  if ((labels.length & 1) !== 0) throw new RangeError(`labels have odd length ${labels.length}`);
  w.tag(field, WIRE_LEN);
  const s = w.fork();
  for (let i = 0; i < labels.length; i += 2) writeLabelV1(w, 1, labels[i]!, labels[i + 1]!);
  writeSamples(w, timestamps, values);
  w.join(s);
}

function estimateSize(series: readonly WriteSeries[]): number {
  let n = 64;
  for (const s of series) n += 16 + 24 * s.labels.length + 20 * s.timestamps.length;
  return n;
}

/** Encodes a `prometheus.WriteRequest` (uncompressed). Metadata types use MetricMetadata.MetricType. */
export function encodeWriteV1(series: readonly WriteSeries[], metadata: readonly WriteMetadata[] = []): Uint8Array {
  const w = new Writer(estimateSize(series));
  for (const s of series) writeSeriesV1(w, 1, s.labels, s.timestamps, s.values);
  for (const m of metadata) {
    w.tag(3, WIRE_LEN);
    const st = w.fork();
    if (m.type !== 0) {
      w.tag(1, WIRE_VARINT);
      w.int64(m.type);
    }
    if (m.metricFamilyName !== '') {
      w.tag(2, WIRE_LEN);
      w.string(m.metricFamilyName);
    }
    if (m.help !== '') {
      w.tag(4, WIRE_LEN);
      w.string(m.help);
    }
    if (m.unit !== '') {
      w.tag(5, WIRE_LEN);
      w.string(m.unit);
    }
    w.join(st);
  }
  return w.finish();
}

/**
 * Encodes an `io.prometheus.write.v2.Request` (uncompressed), building the symbol table (which starts
 * with "" as the spec requires). Start timestamps, when given, use the newest schema's Sample field 3.
 */
export function encodeWriteV2(series: readonly WriteSeriesV2[]): Uint8Array {
  const symbols = new Map<string, number>([['', 0]]);
  const intern = (s: string): number => {
    let ref = symbols.get(s);
    if (ref === undefined) {
      ref = symbols.size;
      symbols.set(s, ref);
    }
    return ref;
  };
  const body = new Writer(estimateSize(series));
  for (const s of series) {
    const ls = s.labels;
    if ((ls.length & 1) !== 0) throw new RangeError(`labels have odd length ${ls.length}`);
    body.tag(5, WIRE_LEN);
    const start = body.fork();
    if (ls.length > 0) {
      body.tag(1, WIRE_LEN);
      const rs = body.fork();
      for (let i = 0; i < ls.length; i++) body.uvarint(intern(ls[i]!));
      body.join(rs);
    }
    writeSamples(body, s.timestamps, s.values, s.startTimestamps);
    const type = s.metricType ?? 0;
    const help = s.help ?? '';
    const unit = s.unit ?? '';
    if (type !== 0 || help !== '' || unit !== '') {
      body.tag(5, WIRE_LEN);
      const ms = body.fork();
      if (type !== 0) {
        body.tag(1, WIRE_VARINT);
        body.int64(type);
      }
      if (help !== '') {
        body.tag(3, WIRE_VARINT);
        body.uvarint(intern(help));
      }
      if (unit !== '') {
        body.tag(4, WIRE_VARINT);
        body.uvarint(intern(unit));
      }
      body.join(ms);
    }
    body.join(start);
  }
  const bodyBytes = body.finish();
  const w = new Writer(bodyBytes.length + 16 * symbols.size + 16);
  for (const s of symbols.keys()) {
    w.tag(4, WIRE_LEN);
    w.string(s);
  }
  w.ensure(bodyBytes.length);
  w.buf.set(bodyBytes, w.pos);
  w.pos += bodyBytes.length;
  return w.finish();
}

/**
 * The repeated `labels` field (1) of a v1 `TimeSeries` as bytes: senders that repeat a series in many
 * requests encode this once and copy it (see writeSampleV1At for the samples that follow it).
 */
export function encodeLabelsV1(labels: Labels): Uint8Array {
  if ((labels.length & 1) !== 0) throw new RangeError(`labels have odd length ${labels.length}`);
  const w = new Writer(16 + 24 * labels.length);
  for (let i = 0; i < labels.length; i += 2) writeLabelV1(w, 1, labels[i]!, labels[i + 1]!);
  return w.finish();
}

/** Bytes of one `TimeSeries.samples` field (tag and length included) for time `t` and value bits `lo`/`hi`. */
export function sampleFieldSizeV1(t: number, lo: number, hi: number): number {
  return 2 + ((lo | hi) !== 0 ? 9 : 0) + (t !== 0 ? 1 + varint64Size(t) : 0);
}

/**
 * Writes one `TimeSeries.samples` field at `p` (room checked by the caller with sampleFieldSizeV1);
 * returns the position after it. Same bytes as writeSamples.
 */
export function writeSampleV1At(b: Uint8Array, p: number, t: number, lo: number, hi: number): number {
  checkTimestamp(t);
  b[p] = T2_LEN;
  const lenAt = p + 1;
  p += 2;
  if ((lo | hi) !== 0) {
    b[p] = T1_I64;
    b[p + 1] = lo;
    b[p + 2] = lo >>> 8;
    b[p + 3] = lo >>> 16;
    b[p + 4] = lo >>> 24;
    b[p + 5] = hi;
    b[p + 6] = hi >>> 8;
    b[p + 7] = hi >>> 16;
    b[p + 8] = hi >>> 24;
    p += 9;
  }
  if (t !== 0) {
    b[p++] = T2_VARINT;
    p = writeVarint64(b, p, t);
  }
  b[lenAt] = p - lenAt - 1;
  return p;
}

/**
 * The timestamp part of `TimeSeries.samples` fields, encoded once for many samples (a batch holds one
 * timestamp per scrape, repeated for each of its series): tag and varint, or nothing for t = 0.
 */
export class SampleTimestampV1 {
  readonly bytes = new Uint8Array(11);
  length = 0;
  t = NaN;

  /** Encodes `t` unless it is the one already held. */
  set(t: number): void {
    if (t === this.t) return;
    checkTimestamp(t);
    this.t = t;
    if (t === 0) {
      this.length = 0;
      return;
    }
    this.bytes[0] = T2_VARINT;
    this.length = writeVarint64(this.bytes, 1, t);
  }
}

/**
 * Writes one `TimeSeries.samples` field at `p` with the timestamp held by `ts` (room checked by the
 * caller: sampleFieldSizeV1); returns the position after it. Same bytes as writeSampleV1At.
 */
export function writeSampleV1WithTs(b: Uint8Array, p: number, ts: SampleTimestampV1, lo: number, hi: number): number {
  const tl = ts.length;
  b[p] = T2_LEN;
  b[p + 1] = ((lo | hi) !== 0 ? 9 : 0) + tl;
  p += 2;
  if ((lo | hi) !== 0) {
    b[p] = T1_I64;
    b[p + 1] = lo;
    b[p + 2] = lo >>> 8;
    b[p + 3] = lo >>> 16;
    b[p + 4] = lo >>> 24;
    b[p + 5] = hi;
    b[p + 6] = hi >>> 8;
    b[p + 7] = hi >>> 16;
    b[p + 8] = hi >>> 24;
    p += 9;
  }
  const tb = ts.bytes;
  for (let i = 0; i < tl; i++) b[p + i] = tb[i]!;
  return p + tl;
}
