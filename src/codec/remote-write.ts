/**
 * Remote-write 1.0 (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`, both the
 * v3.6.0 schema with per-series created_timestamp and the newer one with per-sample start_timestamp)
 * decoded into one columnar structure (the encoders are in remote-write-encode.ts).
 *
 * Decoding makes no object per sample and no string per label: labels stay byte ranges into the
 * decompressed body so the receiver can hash bytes to find a series before it makes any string.
 *
 * Field numbers (from the upstream .proto files):
 *   v1 WriteRequest: 1 timeseries, 3 metadata (2 reserved)
 *   v1 TimeSeries: 1 labels, 2 samples, 3 exemplars, 4 histograms; Label: 1 name, 2 value
 *   v1 Sample: 1 value (double), 2 timestamp (int64)
 *   v1 MetricMetadata: 1 type, 2 metric_family_name, 4 help, 5 unit
 *   v2 Request: 4 symbols, 5 timeseries (1..3 reserved)
 *   v2 TimeSeries: 1 labels_refs, 2 samples, 3 histograms, 4 exemplars, 5 metadata, 6 created_timestamp (v3.6.0)
 *   v2 Sample: 1 value, 2 timestamp, 3 start_timestamp (newest)
 *   v2 Exemplar: 1 labels_refs, 2 value, 3 timestamp; Metadata: 1 type, 3 help_ref, 4 unit_ref
 *
 * Metric types: v1 `MetricMetadata.MetricType` and v2 `Metadata.MetricType` use the same numbers
 * (0 unknown/unspecified, 1 counter, 2 gauge, 3 histogram, 4 gaugehistogram, 5 summary, 6 info,
 * 7 stateset), so the v1 -> v2 mapping is the identity on 0..7; values outside that range (proto3
 * enums are open) become 0.
 */
import { Buffer } from 'node:buffer';
import type { Labels } from '../model/index.js';
import { DecodeError, Reader, WIRE_LEN, WIRE_VARINT, utf8 } from './protobuf.js';

export interface WriteMetadata {
  metricFamilyName: string;
  /** MetricMetadata.MetricType / Metadata.MetricType (same numbering, see the file comment). */
  type: number;
  help: string;
  unit: string;
}

export interface DecodedWrite {
  version: 1 | 2;
  /** The decompressed body; all ranges point into it. */
  buf: Uint8Array;
  seriesCount: number;
  /** Length seriesCount+1: labels of series i are pairs [labelStart[i], labelStart[i+1]). */
  labelStart: Uint32Array;
  /** 4 entries per label pair: nameOff, nameLen, valueOff, valueLen (byte offsets into buf). */
  labelRanges: Uint32Array;
  /** Length seriesCount+1: float samples of series i are [sampleStart[i], sampleStart[i+1]). */
  sampleStart: Uint32Array;
  /** Milliseconds since the epoch (int64 on the wire; exact for |t| < 2^53). */
  timestamps: Float64Array;
  /** Copied byte for byte from the wire, so NaN payloads (the stale marker) survive. */
  values: Float64Array;
  /** RW2 newest schema: per-sample start_timestamp (0 when absent); null when no sample had one. */
  startTimestamps: Float64Array | null;
  /** RW2 v3.6.0 schema: per-series created_timestamp (field 6), 0 when absent; null when none had one. */
  createdTimestamps: Float64Array | null;
  /** Per series: number of native histogram samples (not decoded further yet). */
  histogramCount: Uint32Array;
  /** Per series: number of exemplars (not decoded further yet). */
  exemplarCount: Uint32Array;
  /** Per series: Metadata.MetricType (0 = unknown). RW1: looked up from `metadata` by family name. */
  metricType: Uint8Array;
  /** RW1 WriteRequest.metadata; empty for RW2. */
  metadata: WriteMetadata[];
  /**
   * RW2 only: per series 4 entries helpOff, helpLen, unitOff, unitLen (ranges into buf from the
   * series' Metadata help_ref/unit_ref, empty when absent); null when no series had a help or unit.
   */
  metaRanges: Uint32Array | null;
}

/** RW2 `Metadata.MetricType` (RW1 `MetricMetadata.MetricType` has the same numbers). */
export const MetricType = {
  UNSPECIFIED: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;

const METRIC_TYPE_MAX = MetricType.STATESET;

/** Maps an RW1 MetricMetadata.MetricType to RW2's Metadata.MetricType numbering (identity on 0..7). */
export function metricTypeV1ToV2(t: number): number {
  return t >= 0 && t <= METRIC_TYPE_MAX ? t : 0;
}

/**
 * Growable scratch columns, reused by every decode (decoding is synchronous, so one set suffices).
 * finish() copies the used part into one exact-size ArrayBuffer, so results never alias the scratch.
 * Every item takes at least two bytes on the wire, so the scratch never grows past the body size
 * whatever lengths the body claims.
 */
class Columns {
  nSeries = 0;
  nLabels = 0;
  nSamples = 0;
  seriesCap = 0;
  labelCap = 0;
  sampleCap = 0;
  labelStart: Uint32Array = new Uint32Array(0);
  sampleStart: Uint32Array = new Uint32Array(0);
  histogramCount: Uint32Array = new Uint32Array(0);
  exemplarCount: Uint32Array = new Uint32Array(0);
  metricType: Uint8Array = new Uint8Array(0);
  createdTs: Float64Array = new Float64Array(0);
  metaRanges: Uint32Array = new Uint32Array(0);
  labelRanges: Uint32Array = new Uint32Array(0);
  timestamps: Float64Array = new Float64Array(0);
  values: Float64Array = new Float64Array(0);
  valueWords: Uint32Array = new Uint32Array(0);
  startTs: Float64Array = new Float64Array(0);
  /** Whether this decode has seen a start timestamp / created timestamp / help-unit metadata yet. */
  hasStartTs = false;
  hasCreatedTs = false;
  hasMeta = false;

  constructor() {
    this.allocSeries(256);
    this.allocLabels(2048);
    this.allocSamples(2048);
  }

  reset(): void {
    this.nSeries = 0;
    this.nLabels = 0;
    this.nSamples = 0;
    this.hasStartTs = false;
    this.hasCreatedTs = false;
    this.hasMeta = false;
  }

  /** Opens series nSeries (the caller increments nSeries when done). */
  beginSeries(): number {
    const i = this.nSeries;
    if (i === this.seriesCap) this.allocSeries(this.seriesCap * 2);
    this.labelStart[i] = this.nLabels;
    this.sampleStart[i] = this.nSamples;
    this.histogramCount[i] = 0;
    this.exemplarCount[i] = 0;
    this.metricType[i] = 0;
    if (this.hasCreatedTs) this.createdTs[i] = 0;
    if (this.hasMeta) this.metaRanges.fill(0, 4 * i, 4 * i + 4);
    return i;
  }

  private allocSeries(cap: number): void {
    const n = this.nSeries;
    this.labelStart = grow32(this.labelStart, cap + 1, n);
    this.sampleStart = grow32(this.sampleStart, cap + 1, n);
    this.histogramCount = grow32(this.histogramCount, cap, n);
    this.exemplarCount = grow32(this.exemplarCount, cap, n);
    const mt = new Uint8Array(cap);
    mt.set(this.metricType.subarray(0, n));
    this.metricType = mt;
    this.createdTs = grow64(this.createdTs, cap, this.hasCreatedTs ? n : 0);
    this.metaRanges = grow32(this.metaRanges, cap * 4, this.hasMeta ? 4 * n : 0);
    this.seriesCap = cap;
  }

  growLabels(): void {
    this.allocLabels(this.labelCap * 2);
  }

  private allocLabels(cap: number): void {
    this.labelRanges = grow32(this.labelRanges, cap * 4, this.nLabels * 4);
    this.labelCap = cap;
  }

  private allocSamples(cap: number): void {
    const n = this.nSamples;
    this.timestamps = grow64(this.timestamps, cap, n);
    this.values = grow64(this.values, cap, n);
    this.valueWords = new Uint32Array(this.values.buffer);
    this.startTs = grow64(this.startTs, cap, this.hasStartTs ? n : 0);
    this.sampleCap = cap;
  }

  growSamples(): void {
    this.allocSamples(this.sampleCap * 2);
  }

  pushLabel(nameOff: number, nameLen: number, valueOff: number, valueLen: number): void {
    if (this.nLabels === this.labelCap) this.allocLabels(this.labelCap * 2);
    const lr = this.labelRanges;
    const k = this.nLabels++ * 4;
    lr[k] = nameOff;
    lr[k + 1] = nameLen;
    lr[k + 2] = valueOff;
    lr[k + 3] = valueLen;
  }

  /** Appends a float sample; the value arrives as its two little-endian 32-bit words (bit-exact). */
  pushSample(ts: number, lo: number, hi: number): number {
    if (this.nSamples === this.sampleCap) this.growSamples();
    const k = this.nSamples++;
    this.timestamps[k] = ts;
    const w = this.valueWords;
    w[2 * k] = lo;
    w[2 * k + 1] = hi;
    return k;
  }

  /** Records a start timestamp for sample k (0 means none; earlier samples of this decode get 0). */
  setStartTs(k: number, st: number): void {
    if (!this.hasStartTs) {
      if (st === 0) return;
      this.hasStartTs = true;
      this.startTs.fill(0, 0, k);
    }
    this.startTs[k] = st;
  }

  setCreatedTs(si: number, ct: number): void {
    if (!this.hasCreatedTs) {
      if (ct === 0) return;
      this.hasCreatedTs = true;
      this.createdTs.fill(0, 0, si + 1);
    }
    this.createdTs[si] = ct;
  }

  /** Turns on metaRanges for this decode (earlier series get empty ranges). */
  enableMeta(si: number): Uint32Array {
    if (!this.hasMeta) {
      this.hasMeta = true;
      this.metaRanges.fill(0, 0, 4 * (si + 1));
    }
    return this.metaRanges;
  }

  finish(version: 1 | 2, buf: Uint8Array, metadata: WriteMetadata[]): DecodedWrite {
    const n = this.nSeries;
    const ns = this.nSamples;
    const nl = this.nLabels;
    this.labelStart[n] = nl;
    this.sampleStart[n] = ns;
    // One allocation for all columns: float64 columns first so every view is aligned.
    const f64 = 2 * ns + (this.hasStartTs ? ns : 0) + (this.hasCreatedTs ? n : 0);
    const u32 = 2 * (n + 1) + 4 * nl + 2 * n + (this.hasMeta ? 4 * n : 0);
    // Every byte is overwritten below, so skip the zero fill.
    const ab = Buffer.allocUnsafeSlow(8 * f64 + 4 * u32 + n).buffer;
    let off = 0;
    const f = (src: Float64Array, len: number): Float64Array => {
      const a = new Float64Array(ab, off, len);
      a.set(src.subarray(0, len));
      off += 8 * len;
      return a;
    };
    const u = (src: Uint32Array, len: number): Uint32Array => {
      const a = new Uint32Array(ab, off, len);
      a.set(src.subarray(0, len));
      off += 4 * len;
      return a;
    };
    const timestamps = f(this.timestamps, ns);
    const values = f(this.values, ns);
    const startTimestamps = this.hasStartTs ? f(this.startTs, ns) : null;
    const createdTimestamps = this.hasCreatedTs ? f(this.createdTs, n) : null;
    const labelStart = u(this.labelStart, n + 1);
    const sampleStart = u(this.sampleStart, n + 1);
    const labelRanges = u(this.labelRanges, 4 * nl);
    const histogramCount = u(this.histogramCount, n);
    const exemplarCount = u(this.exemplarCount, n);
    const metaRanges = this.hasMeta ? u(this.metaRanges, 4 * n) : null;
    const metricType = new Uint8Array(ab, off, n);
    metricType.set(this.metricType.subarray(0, n));
    // Keep the scratch warm, but do not pin the memory of one unusually large request.
    if (this.sampleCap > MAX_KEPT_SAMPLES || this.labelCap > MAX_KEPT_SAMPLES) scratch = null;
    return {
      version,
      buf,
      seriesCount: n,
      labelStart,
      labelRanges,
      sampleStart,
      timestamps,
      values,
      startTimestamps,
      createdTimestamps,
      histogramCount,
      exemplarCount,
      metricType,
      metadata,
      metaRanges,
    };
  }
}

const MAX_KEPT_SAMPLES = 1 << 20;
let scratch: Columns | null = null;

function columns(): Columns {
  if (scratch === null) scratch = new Columns();
  scratch.reset();
  return scratch;
}

function grow32(a: Uint32Array, cap: number, keep: number): Uint32Array {
  const b = new Uint32Array(cap);
  if (keep > 0) b.set(a.subarray(0, keep));
  return b;
}

function grow64(a: Float64Array, cap: number, keep: number): Float64Array {
  const b = new Float64Array(cap);
  if (keep > 0) b.set(a.subarray(0, keep));
  return b;
}

/** Re-throws a DecodeError raised inside series `i` with the series index in front. */
function inSeries(err: unknown, i: number): never {
  if (err instanceof DecodeError && i >= 0) throw new DecodeError(`series ${i}: ${err.message}`, err.offset);
  throw err;
}

// Tags (field << 3 | wire type) of the fields we decode.
const T1_LEN = (1 << 3) | WIRE_LEN; // 0x0a
export const T2_LEN = (2 << 3) | WIRE_LEN; // 0x12
const T3_LEN = (3 << 3) | WIRE_LEN; // 0x1a
const T4_LEN = (4 << 3) | WIRE_LEN; // 0x22
const T5_LEN = (5 << 3) | WIRE_LEN; // 0x2a
export const T1_I64 = (1 << 3) | 1; // 0x09
const T2_I64 = (2 << 3) | 1; // 0x11
const T1_VARINT = (1 << 3) | WIRE_VARINT; // 0x08
export const T2_VARINT = (2 << 3) | WIRE_VARINT; // 0x10
export const T3_VARINT = (3 << 3) | WIRE_VARINT; // 0x18
const T4_VARINT = (4 << 3) | WIRE_VARINT; // 0x20
const T6_VARINT = (6 << 3) | WIRE_VARINT; // 0x30

// ---------------------------------------------------------------------------------------------------
// Samples (the same message in both versions, v2 adds start_timestamp = 3)

/**
 * The canonical Sample encoding every sender produces, at [q, end): [09 <8-byte value>]
 * [10 <timestamp>] and, in v2, [18 <start timestamp>], each optional, in this order, timestamps of at
 * most 7 varint bytes. Appends the sample and returns true, or returns false having appended nothing
 * (the caller then uses sample(), which takes any encoding).
 */
function fastSample(buf: Uint8Array, view: DataView, q: number, end: number, c: Columns, v2: boolean): boolean {
  let lo = 0;
  let hi = 0;
  let ts = 0;
  let st = 0;
  if (q < end && buf[q] === T1_I64 && q + 9 <= end) {
    lo = view.getUint32(q + 1, true);
    hi = view.getUint32(q + 5, true);
    q += 9;
  }
  if (q < end && buf[q] === T2_VARINT) {
    ts = fastVarint49(buf, q + 1, end);
    q = fastEnd;
  }
  if (v2 && q > 0 && q < end && buf[q] === T3_VARINT) {
    st = fastVarint49(buf, q + 1, end);
    q = fastEnd;
  }
  if (q !== end) return false;
  const k = c.pushSample(ts, lo, hi);
  if (st !== 0 || c.hasStartTs) c.setStartTs(k, st);
  return true;
}

/** Set by fastVarint49 to the position after the varint, or -1 when the fast path does not apply. */
let fastEnd = 0;

/**
 * Reads a varint of at most 7 bytes (49 bits, enough for millisecond timestamps until the year 19800)
 * that must end by `end`, in int32 arithmetic for the low 28 bits. Sets fastEnd, -1 when the varint is
 * longer, runs past `end`, or sits too close to the end of the buffer for unchecked reads: the caller
 * then falls back to the generic reader.
 */
function fastVarint49(buf: Uint8Array, q: number, end: number): number {
  fastEnd = -1;
  if (q + 7 > buf.length) return 0;
  let b = buf[q]!;
  let lo = b & 0x7f;
  if (b < 0x80) {
    if (q + 1 <= end) fastEnd = q + 1;
    return lo;
  }
  b = buf[q + 1]!;
  lo |= (b & 0x7f) << 7;
  if (b < 0x80) {
    if (q + 2 <= end) fastEnd = q + 2;
    return lo;
  }
  b = buf[q + 2]!;
  lo |= (b & 0x7f) << 14;
  if (b < 0x80) {
    if (q + 3 <= end) fastEnd = q + 3;
    return lo;
  }
  b = buf[q + 3]!;
  lo |= (b & 0x7f) << 21;
  if (b < 0x80) {
    if (q + 4 <= end) fastEnd = q + 4;
    return lo;
  }
  b = buf[q + 4]!;
  let hi = b & 0x7f;
  let n = 5;
  if (b >= 0x80) {
    b = buf[q + 5]!;
    hi |= (b & 0x7f) << 7;
    n = 6;
    if (b >= 0x80) {
      b = buf[q + 6]!;
      hi |= (b & 0x7f) << 14;
      n = 7;
      if (b >= 0x80) return 0;
    }
  }
  if (q + n <= end) fastEnd = q + n;
  return hi * 268435456 + lo;
}

/** Decodes a length-prefixed Sample at r.pos in any encoding protobuf allows. Absent fields are zero. */
function sample(r: Reader, end: number, c: Columns, v2: boolean): void {
  const sEnd = r.lenEnd(end, 'TimeSeries.samples');
  const last = v2 ? 3 : 2;
  let ts = 0;
  let st = 0;
  let lo = 0;
  let hi = 0;
  while (r.pos < sEnd) {
    const at = r.pos;
    const t = r.tag(sEnd, 'Sample');
    if (t === T1_I64) {
      const p = r.fixed64(sEnd, 'Sample.value');
      lo = r.view.getUint32(p, true);
      hi = r.view.getUint32(p + 4, true);
    } else if (t === T2_VARINT) {
      ts = r.int64(sEnd, 'Sample.timestamp');
    } else if (v2 && t === T3_VARINT) {
      st = r.int64(sEnd, 'Sample.start_timestamp');
    } else if (t >>> 3 >= 1 && t >>> 3 <= last) {
      r.wrongType(t, 'Sample', at);
    } else {
      r.skip(t, sEnd, `Sample field ${t >>> 3}`);
    }
  }
  const k = c.pushSample(ts, lo, hi);
  if (st !== 0 || c.hasStartTs) c.setStartTs(k, st);
}

// ---------------------------------------------------------------------------------------------------
// RW 1.0

/** Decodes an (already decompressed) `prometheus.WriteRequest`. Throws DecodeError on malformed input. */
export function decodeWriteV1(buf: Uint8Array): DecodedWrite {
  const r = new Reader(buf);
  const end = buf.length;
  const c = columns();
  const metadata: WriteMetadata[] = [];
  let cur = -1;
  try {
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag(end, 'WriteRequest');
      if (tag === T1_LEN) {
        const sEnd = r.lenEnd(end, 'WriteRequest.timeseries');
        cur = c.beginSeries();
        seriesV1(r, sEnd, c, cur);
        c.nSeries++;
        cur = -1;
      } else if (tag === T3_LEN) {
        const mEnd = r.lenEnd(end, 'WriteRequest.metadata');
        metadata.push(metadataV1(r, mEnd));
      } else if (tag >>> 3 === 1 || tag >>> 3 === 3) {
        r.wrongType(tag, 'WriteRequest', at);
      } else {
        r.skip(tag, end, `WriteRequest field ${tag >>> 3}`);
      }
    }
  } catch (err) {
    inSeries(err, cur);
  }
  const out = c.finish(1, buf, metadata);
  if (metadata.length > 0) fillMetricTypesV1(out);
  return out;
}

/**
 * Decodes one v1 TimeSeries. The loop takes a fast path for the canonical encoding every sender
 * produces (one-byte tags and lengths, fields in order, timestamps of at most 7 varint bytes) and
 * hands anything else to fieldV1, which implements the full wire format.
 */
function seriesV1(r: Reader, end: number, c: Columns, si: number): void {
  const buf = r.buf;
  const view = r.view;
  let p = r.pos;
  while (p < end) {
    const b0 = buf[p]!;
    const len = p + 1 < end ? buf[p + 1]! : 0x80;
    if (len < 0x80 && len <= end - p - 2) {
      const mEnd = p + 2 + len;
      if (b0 === T2_LEN) {
        if (fastSample(buf, view, p + 2, mEnd, c, false)) {
          p = mEnd;
          continue;
        }
      } else if (b0 === T1_LEN) {
        // Label: [0a <len> name] [12 <len> value]
        let q = p + 2;
        let no = 0;
        let nl = 0;
        let vo = 0;
        let vl = 0;
        if (q + 1 < mEnd && buf[q] === T1_LEN) {
          const l = buf[q + 1]!;
          if (l < 0x80 && l <= mEnd - q - 2) {
            no = q + 2;
            nl = l;
            q = no + l;
          }
        }
        if (q + 1 < mEnd && buf[q] === T2_LEN) {
          const l = buf[q + 1]!;
          if (l < 0x80 && l <= mEnd - q - 2) {
            vo = q + 2;
            vl = l;
            q = vo + l;
          }
        }
        if (q === mEnd) {
          c.pushLabel(no, nl, vo, vl);
          p = mEnd;
          continue;
        }
      }
    }
    r.pos = p;
    fieldV1(r, end, c, si);
    p = r.pos;
  }
  r.pos = p;
}

/** Decodes one TimeSeries field at r.pos with every check (any encoding protobuf allows). */
function fieldV1(r: Reader, end: number, c: Columns, si: number): void {
  const at = r.pos;
  const tag = r.tag(end, 'TimeSeries');
  if (tag === T2_LEN) {
    sample(r, end, c, false);
  } else if (tag === T1_LEN) {
    const lEnd = r.lenEnd(end, 'TimeSeries.labels');
    let no = 0;
    let nl = 0;
    let vo = 0;
    let vl = 0;
    while (r.pos < lEnd) {
      const fat = r.pos;
      const t = r.tag(lEnd, 'Label');
      if (t === T1_LEN) {
        const e = r.lenEnd(lEnd, 'Label.name');
        no = r.pos;
        nl = e - no;
        r.pos = e;
      } else if (t === T2_LEN) {
        const e = r.lenEnd(lEnd, 'Label.value');
        vo = r.pos;
        vl = e - vo;
        r.pos = e;
      } else if (t >>> 3 === 1 || t >>> 3 === 2) {
        r.wrongType(t, 'Label', fat);
      } else {
        r.skip(t, lEnd, `Label field ${t >>> 3}`);
      }
    }
    c.pushLabel(no, nl, vo, vl);
  } else if (tag === T3_LEN) {
    r.pos = r.lenEnd(end, 'TimeSeries.exemplars');
    c.exemplarCount[si]++;
  } else if (tag === (4 << 3) + WIRE_LEN) {
    r.pos = r.lenEnd(end, 'TimeSeries.histograms');
    c.histogramCount[si]++;
  } else if (tag >>> 3 >= 1 && tag >>> 3 <= 4) {
    r.wrongType(tag, 'TimeSeries', at);
  } else {
    r.skip(tag, end, `TimeSeries field ${tag >>> 3}`);
  }
}

function metadataV1(r: Reader, end: number): WriteMetadata {
  const buf = r.buf;
  const m: WriteMetadata = { metricFamilyName: '', type: 0, help: '', unit: '' };
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'MetricMetadata');
    const field = tag >>> 3;
    if (tag === T1_VARINT) {
      m.type = r.int32(end, 'MetricMetadata.type');
    } else if (tag === T2_LEN || tag === (4 << 3) + WIRE_LEN || tag === (5 << 3) + WIRE_LEN) {
      const e = r.lenEnd(end, 'MetricMetadata string');
      const s = utf8(buf, r.pos, e - r.pos);
      r.pos = e;
      if (field === 2) m.metricFamilyName = s;
      else if (field === 4) m.help = s;
      else m.unit = s;
    } else if (field === 1 || field === 2 || field === 4 || field === 5) {
      r.wrongType(tag, 'MetricMetadata', at);
    } else {
      r.skip(tag, end, `MetricMetadata field ${field}`);
    }
  }
  return m;
}

const NAME_LABEL = new TextEncoder().encode('__name__');
// Series of one family carry these suffixes (classic histograms, summaries, OpenMetrics counters/info).
const FAMILY_SUFFIXES = ['_bucket', '_count', '_sum', '_total', '_created', '_gcount', '_gsum', '_info'];

function isNameLabel(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== 8) return false;
  for (let i = 0; i < 8; i++) if (buf[off + i] !== NAME_LABEL[i]) return false;
  return true;
}

/**
 * RW1 sends metadata per metric family, apart from the series. A series gets its family's type by
 * exact name, else by its name with one well-known suffix removed (`foo_bucket` belongs to `foo`).
 */
function fillMetricTypesV1(d: DecodedWrite): void {
  const byName = new Map<string, number>();
  for (const m of d.metadata) byName.set(m.metricFamilyName, metricTypeV1ToV2(m.type));
  const lr = d.labelRanges;
  const buf = d.buf;
  for (let s = 0; s < d.seriesCount; s++) {
    for (let l = d.labelStart[s]!, e = d.labelStart[s + 1]!; l < e; l++) {
      if (!isNameLabel(buf, lr[4 * l]!, lr[4 * l + 1]!)) continue;
      const name = utf8(buf, lr[4 * l + 2]!, lr[4 * l + 3]!);
      let t = byName.get(name);
      if (t === undefined) {
        for (const suf of FAMILY_SUFFIXES) {
          if (name.endsWith(suf)) {
            t = byName.get(name.slice(0, -suf.length));
            if (t !== undefined) break;
          }
        }
      }
      d.metricType[s] = t ?? 0;
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// RW 2.0

let symScratch: Uint32Array = new Uint32Array(1024);
let spanScratch: Uint32Array = new Uint32Array(1024);

/**
 * Decodes an (already decompressed) `io.prometheus.write.v2.Request` of either schema generation
 * (per-series created_timestamp = 6, or per-sample start_timestamp = 3). Throws DecodeError on
 * malformed input, including label references outside the symbol table.
 */
export function decodeWriteV2(buf: Uint8Array): DecodedWrite {
  try {
    return decodeV2(buf);
  } finally {
    // Keep the scratch warm, but do not pin the memory of one unusually large request.
    if (symScratch.length > MAX_KEPT_SAMPLES) symScratch = new Uint32Array(1024);
    if (spanScratch.length > MAX_KEPT_SAMPLES) spanScratch = new Uint32Array(1024);
  }
}

function decodeV2(buf: Uint8Array): DecodedWrite {
  const r = new Reader(buf);
  const end = buf.length;
  // Pass 1: the symbol table may come after the series (field order is free), so collect it first.
  // Both lists are internal, so they live in reused scratch.
  let sym = symScratch;
  let nSym = 0;
  let spans = spanScratch;
  let nSpans = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'Request');
    if (tag === T4_LEN) {
      const e = r.lenEnd(end, 'Request.symbols');
      if (2 * nSym === sym.length) symScratch = sym = grow32(sym, sym.length * 2, sym.length);
      sym[2 * nSym] = r.pos;
      sym[2 * nSym + 1] = e - r.pos;
      nSym++;
      r.pos = e;
    } else if (tag === T5_LEN) {
      const e = r.lenEnd(end, 'Request.timeseries');
      if (2 * nSpans === spans.length) spanScratch = spans = grow32(spans, spans.length * 2, spans.length);
      spans[2 * nSpans] = r.pos;
      spans[2 * nSpans + 1] = e;
      nSpans++;
      r.pos = e;
    } else if (tag >>> 3 === 4 || tag >>> 3 === 5) {
      r.wrongType(tag, 'Request', at);
    } else {
      // Includes reserved 1..3: a v1 body read as v2 decodes as empty, as the proto intends.
      r.skip(tag, end, `Request field ${tag >>> 3}`);
    }
  }
  const c = columns();
  const ctx: V2Context = { sym, nSym, c, nRefs: 0, nameRef: 0 };
  let cur = -1;
  try {
    for (let i = 0; i < nSpans; i++) {
      r.pos = spans[2 * i]!;
      cur = c.beginSeries();
      seriesV2(r, spans[2 * i + 1]!, ctx, cur);
      c.nSeries++;
    }
  } catch (err) {
    inSeries(err, cur);
  }
  return c.finish(2, buf, []);
}

interface V2Context {
  /** Symbol byte ranges: offset, length per symbol. */
  sym: Uint32Array;
  nSym: number;
  c: Columns;
  /** labels_refs seen so far in the current series, and the pending name ref of an odd count. */
  nRefs: number;
  nameRef: number;
}

function checkRef(r: Reader, ref: number, ctx: V2Context, what: string, index: number, at: number): void {
  if (ref >= ctx.nSym) r.fail(`${what}[${index}]`, `symbol reference ${ref} out of range (${ctx.nSym} symbols)`, at);
}

/**
 * Decodes one v2 TimeSeries: a fast path for canonical packed labels_refs (refs below 2^14) and
 * samples, everything else through fieldV2.
 */
function seriesV2(r: Reader, end: number, ctx: V2Context, si: number): void {
  const c = ctx.c;
  const buf = r.buf;
  const view = r.view;
  const sym = ctx.sym;
  const nSym = ctx.nSym;
  ctx.nRefs = 0;
  let p = r.pos;
  while (p < end) {
    const b0 = buf[p]!;
    const len = p + 1 < end ? buf[p + 1]! : 0x80;
    if (len < 0x80 && len <= end - p - 2) {
      const mEnd = p + 2 + len;
      if (b0 === T2_LEN) {
        if (fastSample(buf, view, p + 2, mEnd, c, true)) {
          p = mEnd;
          continue;
        }
      } else if (b0 === T1_LEN) {
        // Packed labels_refs with one- or two-byte refs; anything else goes the generic way.
        let q = p + 2;
        let nRefs = ctx.nRefs;
        let nameRef = ctx.nameRef;
        while (q < mEnd) {
          let ref = buf[q]!;
          if (ref >= 0x80) {
            const b = q + 1 < mEnd ? buf[q + 1]! : 0x80;
            if (b >= 0x80) break;
            ref = (ref & 0x7f) | (b << 7);
            q++;
          }
          if (ref >= nSym) break;
          q++;
          if ((nRefs & 1) === 0) nameRef = ref;
          else c.pushLabel(sym[2 * nameRef]!, sym[2 * nameRef + 1]!, sym[2 * ref]!, sym[2 * ref + 1]!);
          nRefs++;
        }
        if (q === mEnd) {
          ctx.nRefs = nRefs;
          ctx.nameRef = nameRef;
          p = mEnd;
          continue;
        }
        // Undo the labels pushed by the partial pass; the generic path redoes the whole field.
        c.nLabels -= (nRefs >> 1) - (ctx.nRefs >> 1);
      }
    }
    r.pos = p;
    fieldV2(r, end, ctx, si);
    p = r.pos;
  }
  r.pos = p;
  if ((ctx.nRefs & 1) !== 0) throw new DecodeError(`labels_refs has odd length ${ctx.nRefs}`);
}

/** Decodes one v2 TimeSeries field at r.pos with every check (any encoding protobuf allows). */
function fieldV2(r: Reader, end: number, ctx: V2Context, si: number): void {
  const c = ctx.c;
  const sym = ctx.sym;
  const at = r.pos;
  const tag = r.tag(end, 'TimeSeries');
  if (tag === T2_LEN) {
    sample(r, end, c, true);
  } else if (tag === T1_LEN || tag === T1_VARINT) {
    // labels_refs, packed (the proto3 default) or one ref per field; both may be mixed.
    const packed = tag === T1_LEN;
    const rEnd = packed ? r.lenEnd(end, 'TimeSeries.labels_refs') : end;
    while (!packed || r.pos < rEnd) {
      const rat = r.pos;
      const ref = r.uint32(rEnd, 'TimeSeries.labels_refs');
      checkRef(r, ref, ctx, 'labels_refs', ctx.nRefs, rat);
      if ((ctx.nRefs & 1) === 0) ctx.nameRef = ref;
      else c.pushLabel(sym[2 * ctx.nameRef]!, sym[2 * ctx.nameRef + 1]!, sym[2 * ref]!, sym[2 * ref + 1]!);
      ctx.nRefs++;
      if (!packed) break;
    }
  } else if (tag === T3_LEN) {
    r.pos = r.lenEnd(end, 'TimeSeries.histograms');
    c.histogramCount[si]++;
  } else if (tag === T4_LEN) {
    const e = r.lenEnd(end, 'TimeSeries.exemplars');
    exemplarV2(r, e, ctx, c.exemplarCount[si]!);
    c.exemplarCount[si]++;
  } else if (tag === T5_LEN) {
    const e = r.lenEnd(end, 'TimeSeries.metadata');
    metadataV2(r, e, ctx, si);
  } else if (tag === T6_VARINT) {
    c.setCreatedTs(si, r.int64(end, 'TimeSeries.created_timestamp'));
  } else if (tag >>> 3 >= 1 && tag >>> 3 <= 6) {
    r.wrongType(tag, 'TimeSeries', at);
  } else {
    r.skip(tag, end, `TimeSeries field ${tag >>> 3}`);
  }
}

/** Exemplars are only counted for now, but their label references are validated like the series'. */
function exemplarV2(r: Reader, end: number, ctx: V2Context, index: number): void {
  let nRefs = 0;
  const what = `exemplars[${index}]`;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    if (tag === T1_LEN || tag === T1_VARINT) {
      const packed = tag === T1_LEN;
      const rEnd = packed ? r.lenEnd(end, `${what}.labels_refs`) : end;
      do {
        const rat = r.pos;
        const ref = r.uint32(rEnd, `${what}.labels_refs`);
        checkRef(r, ref, ctx, `${what}.labels_refs`, nRefs, rat);
        nRefs++;
      } while (packed && r.pos < rEnd);
    } else if (tag === T2_I64) {
      r.fixed64(end, `${what}.value`);
    } else if (tag === T3_VARINT) {
      r.int64(end, `${what}.timestamp`);
    } else if (tag >>> 3 >= 1 && tag >>> 3 <= 3) {
      r.wrongType(tag, what, at);
    } else {
      r.skip(tag, end, `${what} field ${tag >>> 3}`);
    }
  }
  if ((nRefs & 1) !== 0) throw new DecodeError(`${what}.labels_refs has odd length ${nRefs}`);
}

function metadataV2(r: Reader, end: number, ctx: V2Context, si: number): void {
  const c = ctx.c;
  let help = 0;
  let unit = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'Metadata');
    if (tag === T1_VARINT) {
      c.metricType[si] = metricTypeV1ToV2(r.int32(end, 'Metadata.type'));
    } else if (tag === T3_VARINT) {
      help = r.uint32(end, 'Metadata.help_ref');
      checkRef(r, help, ctx, 'Metadata.help_ref', 0, at);
    } else if (tag === T4_VARINT) {
      unit = r.uint32(end, 'Metadata.unit_ref');
      checkRef(r, unit, ctx, 'Metadata.unit_ref', 0, at);
    } else if (tag >>> 3 === 1 || tag >>> 3 === 3 || tag >>> 3 === 4) {
      r.wrongType(tag, 'Metadata', at);
    } else {
      r.skip(tag, end, `Metadata field ${tag >>> 3}`);
    }
  }
  if (!c.hasMeta && help === 0 && unit === 0) return;
  const m = c.enableMeta(si);
  // With no symbols at all, refs 0 were never checked; leave the ranges empty then.
  if (ctx.nSym === 0) return;
  const sym = ctx.sym;
  m[4 * si] = sym[2 * help]!;
  m[4 * si + 1] = sym[2 * help + 1]!;
  m[4 * si + 2] = sym[2 * unit]!;
  m[4 * si + 3] = sym[2 * unit + 1]!;
}

// ---------------------------------------------------------------------------------------------------
// Helpers for consumers

/** Label names and values of series `i` as strings (the slow path, after a hash lookup missed). */
export function decodedLabels(d: DecodedWrite, i: number): Labels {
  const out: string[] = [];
  const lr = d.labelRanges;
  for (let l = d.labelStart[i]!, e = d.labelStart[i + 1]!; l < e; l++) {
    out.push(utf8(d.buf, lr[4 * l]!, lr[4 * l + 1]!), utf8(d.buf, lr[4 * l + 2]!, lr[4 * l + 3]!));
  }
  return Object.freeze(out);
}
