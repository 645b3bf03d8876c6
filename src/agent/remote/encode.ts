/**
 * Request bodies of one queue. A batch is up to max_samples_per_send samples in queue order, where a
 * series usually appears once; grouping it by series uses scratch arrays indexed by series ref (a chain
 * through the batch, no Map and no array per series), and v1 label bytes were encoded once per series
 * into the series table's arena (series-table.ts) and are copied from there into every request.
 */
import { encodeWriteV2, sampleFieldSizeV1, SampleTimestampV1, snappyCompress, uvarintSize, writeSampleV1WithTs, writeUvarint, type WriteSeries } from '../../codec/index.js';
import type { QueueSeriesTable } from './series-table.js';
import type { Batch } from './shards.js';

/** Label byte runs up to this long are copied four bytes at a time through DataViews: cheaper than a subarray and set(). */
const SMALL_COPY = 128;

export class BatchEncoder {
  /** Per batch index: the next sample of the same series (-1: none). */
  private next = new Int32Array(0);
  /** Per batch: the first sample of each series, in first-appearance order. */
  private heads = new Int32Array(0);
  private nHeads = 0;
  /** Per series ref: the encode call that last saw it, its last sample index and its TimeSeries size there. */
  private mark = new Int32Array(0);
  private tail = new Int32Array(0);
  private size = new Int32Array(0);
  private calls = 0;
  private out = new Uint8Array(64 * 1024);
  private outView = new DataView(this.out.buffer);
  /** A view of the table's arena (replaced when the table replaces its arena). */
  private arenaView: DataView | null = null;
  private readonly tsField = new SampleTimestampV1();

  constructor(private readonly table: QueueSeriesTable) {}

  /** The snappy-compressed request for `b`; series keep their first-appearance order, samples their order. */
  encode(b: Batch): Uint8Array {
    this.group(b);
    return snappyCompress(this.table.v2 ? this.encodeV2(b) : this.encodeV1(b));
  }

  /** Links each sample to the next of its series and sizes each series' v1 TimeSeries message. */
  private group(b: Batch): void {
    const n = b.n;
    const table = this.table;
    if (this.next.length < n) {
      this.next = new Int32Array(Math.max(n, 2 * this.next.length));
      this.heads = new Int32Array(this.next.length);
    }
    if (this.mark.length < table.capacity) {
      const cap = table.capacity;
      this.mark = new Int32Array(cap);
      this.tail = new Int32Array(cap);
      this.size = new Int32Array(cap);
      this.calls = 0;
    }
    // Marks start at 1 (fresh arrays hold 0); on wrap-around the old marks are cleared.
    if (this.calls >= 0x7fffffff) {
      this.mark.fill(0);
      this.calls = 0;
    }
    const call = ++this.calls;
    const { next, heads, mark, tail, size } = this;
    const refs = b.refs;
    const ts = b.ts;
    const words = new Uint32Array(b.vs.buffer, b.vs.byteOffset, 2 * n);
    const labelLen = table.labelLen;
    const v1 = !table.v2;
    let nHeads = 0;
    // Samples of one scrape share their timestamp: its varint size is worked out once per run of them.
    let lastT = NaN;
    let tsSize = 0;
    for (let i = 0; i < n; i++) {
      const ref = refs[i]!;
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
      if (mark[ref] !== call) {
        mark[ref] = call;
        size[ref] = (v1 ? labelLen[ref]! : 0) + sz;
        heads[nHeads++] = i;
      } else {
        next[tail[ref]!] = i;
        size[ref] += sz;
      }
      tail[ref] = i;
    }
    this.nHeads = nHeads;
  }

  private encodeV1(b: Batch): Uint8Array {
    const { heads, nHeads, next, size } = this;
    const refs = b.refs;
    let total = 0;
    for (let h = 0; h < nHeads; h++) {
      const sz = size[refs[heads[h]!]!]!;
      total += 1 + uvarintSize(sz) + sz;
    }
    if (this.out.length < total) {
      this.out = new Uint8Array(Math.max(total, 2 * this.out.length));
      this.outView = new DataView(this.out.buffer);
    }
    const out = this.out;
    const outView = this.outView;
    const words = new Uint32Array(b.vs.buffer, b.vs.byteOffset, 2 * b.n);
    const ts = b.ts;
    const tsField = this.tsField;
    const { arena, labelOff, labelLen } = this.table;
    let arenaView = this.arenaView;
    if (arenaView === null || arenaView.buffer !== arena.buffer) arenaView = this.arenaView = new DataView(arena.buffer, arena.byteOffset, arena.byteLength);
    let p = 0;
    for (let h = 0; h < nHeads; h++) {
      const first = heads[h]!;
      const ref = refs[first]!;
      out[p++] = 0x0a; // WriteRequest.timeseries (1, LEN)
      p = writeUvarint(out, p, size[ref]!);
      const off = labelOff[ref]!;
      const len = labelLen[ref]!;
      if (len <= SMALL_COPY) {
        let k = 0;
        for (; k + 4 <= len; k += 4) outView.setInt32(p + k, arenaView.getInt32(off + k));
        for (; k < len; k++) out[p + k] = arena[off + k]!;
      } else {
        out.set(arena.subarray(off, off + len), p);
      }
      p += len;
      for (let i = first; i !== -1; i = next[i]!) {
        tsField.set(ts[i]!);
        p = writeSampleV1WithTs(out, p, tsField, words[2 * i]!, words[2 * i + 1]!);
      }
    }
    if (p !== total) throw new Error(`remote write encoder: wrote ${p} bytes, sized ${total}`);
    // A view into the reused buffer: the compressor copies it before the next encode.
    return out.subarray(0, p);
  }

  private encodeV2(b: Batch): Uint8Array {
    const { heads, nHeads, next } = this;
    const out: WriteSeries[] = [];
    for (let h = 0; h < nHeads; h++) {
      const first = heads[h]!;
      let k = 0;
      for (let i = first; i !== -1; i = next[i]!) k++;
      const t = new Float64Array(k);
      const v = new Float64Array(k);
      k = 0;
      for (let i = first; i !== -1; i = next[i]!) {
        t[k] = b.ts[i]!;
        v[k++] = b.vs[i]!;
      }
      out.push({ labels: this.table.labelsOf(b.refs[first]!), timestamps: t, values: v });
    }
    return encodeWriteV2(out);
  }
}
