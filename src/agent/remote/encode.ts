/**
 * Request bodies of one queue. A batch is up to max_samples_per_send samples in queue order, where a
 * series usually appears once; grouping it by series uses marks on the series objects and one chain
 * array instead of a Map and an array per series, and v1 label bytes are encoded once per series (when
 * the queue first reads its series record) and copied into every request.
 */
import type { Labels } from '../../model/labels.js';
import { encodeLabelsV1, encodeWriteV2, sampleFieldSizeV1, SampleTimestampV1, snappyCompress, writeSampleV1WithTs, type WriteSeries } from '../../codec/index.js';
import { uvarintSize, writeUvarint } from '../../codec/index.js';
import type { Batch, QSeries } from './shards.js';

/** A queued series with what the encoder keeps on it. */
export interface EncSeries extends QSeries {
  /** v1: the TimeSeries `labels` field bytes (empty for v2 queues). */
  readonly labelBytes: Uint8Array;
  /** labelBytes.length, kept beside the marks: grouping a batch then reads one object per sample, not three. */
  readonly labelLen: number;
  /** Grouping scratch: the encode call that last saw it, its last sample index and body size there. */
  mark: number;
  tail: number;
  size: number;
}

const SLAB_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);

/** Packs many small label encodings into shared slabs (one small ArrayBuffer each costs far more). */
export class LabelBytesPool {
  private slab = new Uint8Array(SLAB_BYTES);
  private used = 0;

  copy(bytes: Uint8Array): Uint8Array {
    if (bytes.length > SLAB_BYTES / 8) return bytes;
    if (this.used + bytes.length > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + bytes.length);
    out.set(bytes);
    this.used += bytes.length;
    return out;
  }
}

const NO_LABELS: Labels = Object.freeze([]);

/**
 * A queued series. `dropLabels` (v1 queues, which need only the encoded bytes): the label array and its
 * strings are not kept, which takes a dozen heap objects per series off every full garbage collection.
 */
export function newEncSeries(labels: Labels, v2: boolean, pool: LabelBytesPool, dropLabels = false): EncSeries {
  if (v2) return { labels, labelBytes: EMPTY, labelLen: 0, mark: 0, tail: 0, size: 0 };
  const labelBytes = pool.copy(encodeLabelsV1(labels));
  return { labels: dropLabels ? NO_LABELS : labels, labelBytes, labelLen: labelBytes.length, mark: 0, tail: 0, size: 0 };
}

let encodeCalls = 0;

export class BatchEncoder {
  private next = new Int32Array(0);
  private readonly heads: number[] = [];
  private out = new Uint8Array(64 * 1024);
  private readonly tsField = new SampleTimestampV1();

  constructor(private readonly v2: boolean) {}

  /** The snappy-compressed request for `b`; series keep their first-appearance order, samples their order. */
  encode(b: Batch): Uint8Array {
    const n = b.n;
    if (this.next.length < n) this.next = new Int32Array(Math.max(n, 2 * this.next.length));
    const next = this.next;
    const heads = this.heads;
    heads.length = 0;
    const mark = ++encodeCalls;
    const series = b.series as EncSeries[];
    const words = new Uint32Array(b.vs.buffer, b.vs.byteOffset, 2 * n);
    const ts = b.ts;
    const v1 = !this.v2;
    // Samples of one scrape share their timestamp: its varint size is worked out once per run of them.
    let lastT = NaN;
    let tsSize = 0;
    for (let i = 0; i < n; i++) {
      const s = series[i]!;
      let sz = 0;
      if (v1) {
        const t = ts[i]!;
        if (t !== lastT) {
          lastT = t;
          tsSize = sampleFieldSizeV1(t, 0, 0);
        }
        sz = (words[2 * i]! | words[2 * i + 1]!) !== 0 ? tsSize + 9 : tsSize;
      }
      next[i] = -1;
      if (s.mark !== mark) {
        s.mark = mark;
        s.size = s.labelLen + sz;
        heads.push(i);
      } else {
        next[s.tail] = i;
        s.size += sz;
      }
      s.tail = i;
    }
    return snappyCompress(this.v2 ? this.encodeV2(b) : this.encodeV1(b));
  }

  private encodeV1(b: Batch): Uint8Array {
    const series = b.series as EncSeries[];
    const heads = this.heads;
    let total = 0;
    for (const h of heads) {
      const sz = series[h]!.size;
      total += 1 + uvarintSize(sz) + sz;
    }
    if (this.out.length < total) this.out = new Uint8Array(Math.max(total, 2 * this.out.length));
    const out = this.out;
    const next = this.next;
    const words = new Uint32Array(b.vs.buffer, b.vs.byteOffset, 2 * b.n);
    const ts = b.ts;
    const tsField = this.tsField;
    let p = 0;
    for (const h of heads) {
      const s = series[h]!;
      out[p++] = 0x0a; // WriteRequest.timeseries (1, LEN)
      p = writeUvarint(out, p, s.size);
      out.set(s.labelBytes, p);
      p += s.labelBytes.length;
      for (let i = h; i !== -1; i = next[i]!) {
        tsField.set(ts[i]!);
        p = writeSampleV1WithTs(out, p, tsField, words[2 * i]!, words[2 * i + 1]!);
      }
    }
    if (p !== total) throw new Error(`remote write encoder: wrote ${p} bytes, sized ${total}`);
    // A view into the reused buffer: the compressor copies it before the next encode.
    return out.subarray(0, p);
  }

  private encodeV2(b: Batch): Uint8Array {
    const series = b.series as EncSeries[];
    const next = this.next;
    const out: WriteSeries[] = [];
    for (const h of this.heads) {
      let k = 0;
      for (let i = h; i !== -1; i = next[i]!) k++;
      const t = new Float64Array(k);
      const v = new Float64Array(k);
      k = 0;
      for (let i = h; i !== -1; i = next[i]!) {
        t[k] = b.ts[i]!;
        v[k++] = b.vs[i]!;
      }
      out.push({ labels: series[h]!.labels, timestamps: t, values: v });
    }
    return encodeWriteV2(out);
  }
}
