/**
 * Reads an index (format v2) held in memory. Opening checks the header, the TOC, the symbol table and the
 * postings offset table (with their CRCs) and keeps symbols and the postings offsets in memory; series
 * entries and postings lists are decoded, and their CRCs checked, when asked for. Every malformed input
 * raises a BlockFormatError naming the file and offset; every loop is bounded by the bytes it consumes.
 */
import type { Labels } from '../../model/labels.js';
import { BlockFormatError, Decoder, checkCrc, compareUtf8 } from './encoding.js';
import { INDEX_FORMAT_V2, INDEX_HEADER_SIZE, INDEX_MAGIC, INDEX_TOC_SIZE, type ChunkMeta, type Toc } from './index-writer.js';

interface ValueOffsets {
  /** Values of one label name, in index (UTF-8) order. */
  values: string[];
  /** Offset of each value's postings list. */
  offsets: Map<string, number>;
}

const EMPTY = new Uint32Array(0);

export interface IndexSeriesEntry {
  labels: Labels;
  chunks: ChunkMeta[];
}

export class IndexReader {
  readonly toc: Toc;
  readonly version: number;
  /** Symbol strings by reference. */
  readonly symbols: string[];
  private readonly postingsByName = new Map<string, ValueOffsets>();
  private allOffset = -1;

  private constructor(
    private readonly buf: Uint8Array,
    private readonly file: string,
  ) {
    const size = buf.length;
    if (size < INDEX_HEADER_SIZE + INDEX_TOC_SIZE) {
      throw new BlockFormatError(file, 0, `file has only ${size} bytes, too short for a header and a TOC`);
    }
    const d = new Decoder(buf, file);
    const magic = d.be32('magic');
    if (magic !== INDEX_MAGIC) d.fail(`bad magic 0x${magic.toString(16)} (want 0xbaaad700)`, 0);
    this.version = d.u8('version');
    if (this.version !== INDEX_FORMAT_V2) d.fail(`unsupported index format version ${this.version} (only 2 is read)`, 4);

    const tocAt = size - INDEX_TOC_SIZE;
    checkCrc(buf, file, tocAt, size - 4, 'TOC');
    const t = new Decoder(buf, file, tocAt, size - 4);
    const limit = tocAt;
    const ref = (what: string): number => {
      const at = t.pos;
      const v = t.be64(`TOC ${what}`);
      if (v !== 0 && (v < INDEX_HEADER_SIZE || v > limit)) t.fail(`TOC ${what} offset ${v} is outside the file`, at);
      return v;
    };
    this.toc = {
      symbols: ref('symbols'),
      series: ref('series'),
      labelIndices: ref('label indices'),
      labelIndicesTable: ref('label indices table'),
      postings: ref('postings'),
      postingsTable: ref('postings offset table'),
    };
    this.symbols = this.toc.symbols === 0 ? [] : this.readSymbols(this.toc.symbols);
    if (this.toc.postingsTable !== 0) this.readPostingsTable(this.toc.postingsTable);
  }

  /** Parses `buf` (the whole index file); `file` names it in errors. */
  static parse(buf: Uint8Array, file = 'index'): IndexReader {
    return new IndexReader(buf, file);
  }

  /** A section that starts with a 4-byte length and ends with a CRC: returns a decoder over its body. */
  private section(at: number, what: string): Decoder {
    const d = new Decoder(this.buf, this.file, at, this.buf.length - INDEX_TOC_SIZE);
    const len = d.be32(`${what} length`);
    d.need(len + 4, what);
    checkCrc(this.buf, this.file, d.pos, d.pos + len, what);
    return new Decoder(this.buf, this.file, d.pos, d.pos + len);
  }

  private readSymbols(at: number): string[] {
    const d = this.section(at, 'symbol table');
    const count = d.be32('symbol count');
    // Each symbol takes at least one byte, which bounds the count before anything is allocated.
    if (count > d.remaining()) d.fail(`symbol count ${count} exceeds the table's ${d.remaining()} bytes`);
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = d.str('symbol');
    return out;
  }

  private readPostingsTable(at: number): void {
    const d = this.section(at, 'postings offset table');
    const count = d.be32('postings offset count');
    let prevName: string | null = null;
    let prevValue = '';
    for (let i = 0; i < count; i++) {
      const entryAt = d.pos;
      const keys = d.uvarint('postings offset key count');
      if (keys !== 2) d.fail(`postings offset entry ${i} has ${keys} keys (want 2)`, entryAt);
      const name = d.str('label name');
      const value = d.str('label value');
      const off = d.uvarint('postings offset');
      if (off < INDEX_HEADER_SIZE || off + 8 > this.buf.length) d.fail(`postings offset ${off} is outside the file`, entryAt);
      // Lookups rely on the table's order (name, then value, by UTF-8 bytes).
      if (prevName !== null) {
        const c = compareUtf8(prevName, name) || compareUtf8(prevValue, value);
        if (c >= 0) d.fail(`postings offset table out of order at ${JSON.stringify(name)}=${JSON.stringify(value)}`, entryAt);
      }
      prevName = name;
      prevValue = value;
      if (name === '' && value === '') {
        this.allOffset = off;
        continue;
      }
      let e = this.postingsByName.get(name);
      if (e === undefined) this.postingsByName.set(name, (e = { values: [], offsets: new Map() }));
      e.values.push(value);
      e.offsets.set(value, off);
    }
    if (d.remaining() !== 0) d.fail(`${d.remaining()} bytes left after ${count} postings offset entries`);
  }

  /** Label names, in index order (without the all-postings key). */
  labelNames(): string[] {
    return [...this.postingsByName.keys()];
  }

  /** Values of `name`, in index order. */
  labelValues(name: string): readonly string[] {
    return this.postingsByName.get(name)?.values ?? [];
  }

  /** Series ids (offset/16) with `name="value"`, sorted. */
  postings(name: string, value: string): Uint32Array {
    const off = this.postingsByName.get(name)?.offsets.get(value);
    return off === undefined ? EMPTY : this.readPostings(off, `postings ${name}=${JSON.stringify(value)}`);
  }

  /** Every series id, sorted. */
  allPostings(): Uint32Array {
    return this.allOffset < 0 ? EMPTY : this.readPostings(this.allOffset, 'all-series postings');
  }

  private readPostings(at: number, what: string): Uint32Array {
    const d = this.section(at, what);
    const n = d.be32(`${what} count`);
    if (d.remaining() !== 4 * n) d.fail(`${what}: ${n} entries need ${4 * n} bytes, the list has ${d.remaining()}`);
    const out = new Uint32Array(n);
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const id = d.be32(what);
      if (id <= prev) d.fail(`${what}: series ids not increasing (${id} after ${prev})`, d.pos - 4);
      out[i] = prev = id;
    }
    return out;
  }

  /** The series with id `id` (its offset / 16): labels and chunk metas. */
  series(id: number): IndexSeriesEntry {
    const at = id * 16;
    const what = `series ${id}`;
    if (!Number.isInteger(id) || id < 0 || at < this.toc.series || at >= this.buf.length - INDEX_TOC_SIZE) {
      throw new BlockFormatError(this.file, at, `${what}: offset outside the series section`);
    }
    const head = new Decoder(this.buf, this.file, at, this.buf.length - INDEX_TOC_SIZE);
    const len = head.uvarint(`${what} length`);
    head.need(len + 4, what);
    checkCrc(this.buf, this.file, head.pos, head.pos + len, what);
    const d = new Decoder(this.buf, this.file, head.pos, head.pos + len);
    const nLabels = d.uvarint(`${what} label count`);
    if (nLabels * 2 > d.remaining()) d.fail(`${what}: ${nLabels} labels cannot fit in ${d.remaining()} bytes`);
    const labels: string[] = new Array(nLabels * 2);
    for (let i = 0; i < nLabels * 2; i++) {
      const r = d.uvarint(`${what} symbol ref`);
      const s = this.symbols[r];
      if (s === undefined) d.fail(`${what}: symbol ref ${r} out of range (${this.symbols.length} symbols)`, d.pos - 1);
      labels[i] = s;
    }
    const nChunks = d.uvarint(`${what} chunk count`);
    if (nChunks * 3 > d.remaining()) d.fail(`${what}: ${nChunks} chunk metas cannot fit in ${d.remaining()} bytes`);
    const chunks: ChunkMeta[] = new Array(nChunks);
    if (nChunks > 0) {
      let minT = d.varint(`${what} chunk 0 mint`);
      let maxT = minT + d.uvarint(`${what} chunk 0 maxt delta`);
      let ref = d.uvarint(`${what} chunk 0 ref`);
      chunks[0] = { minT, maxT, ref };
      for (let i = 1; i < nChunks; i++) {
        minT = maxT + d.uvarint(`${what} chunk ${i} mint delta`);
        maxT = minT + d.uvarint(`${what} chunk ${i} maxt delta`);
        ref += d.varint(`${what} chunk ${i} ref delta`);
        if (!Number.isSafeInteger(maxT) || ref < 0) d.fail(`${what}: chunk ${i} meta out of range`);
        chunks[i] = { minT, maxT, ref };
      }
    }
    if (d.remaining() !== 0) d.fail(`${what}: ${d.remaining()} unexpected bytes after the chunk metas`);
    return { labels, chunks };
  }

  /** Size of the index file in bytes. */
  size(): number {
    return this.buf.length;
  }
}
