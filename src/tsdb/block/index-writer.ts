/**
 * Writes a block's `index` file in format v2 (Prometheus `tsdb/docs/format/index.md`):
 *
 *   magic 0xBAAAD700, version 2
 *   symbols        len(4) count(4) {uvarint len, bytes}… CRC
 *   series         each 16-byte aligned: uvarint len, labels (symbol refs), chunk metas, CRC
 *   label indices  one per label name, 4-byte aligned: len(4) 1(4) count(4) value refs(4 each) CRC
 *   postings       "" "" (all series) first, then by name and value, 4-byte aligned: len(4) count(4) ids(4 each) CRC
 *   label index offset table, postings offset table, TOC (six 8-byte offsets and a CRC)
 *
 * Offsets, padding and section order are chosen as Prometheus 2.x's writer chooses them, so the same series
 * and chunk references produce the same bytes. Label indices are obsolete for readers but still written,
 * because Prometheus writes them.
 */
import { open } from 'node:fs/promises';
import { labelPairsText, type Labels } from '../../model/labels.js';
import { PostingList } from '../head/postings.js';
import { ByteWriter, FileSink, compareUtf8, utf8 } from './encoding.js';

export const INDEX_MAGIC = 0xbaaad700;
export const INDEX_FORMAT_V2 = 2;
export const INDEX_HEADER_SIZE = 5;
export const INDEX_TOC_SIZE = 6 * 8 + 4;
/** Series ids are offset/16 in 32 bits, which caps the series section at 64 GiB. */
const MAX_SERIES_OFFSET = 16 * 0xffffffff;

export interface ChunkMeta {
  /** Time of the first sample. */
  minT: number;
  /** Time of the last sample (inclusive). */
  maxT: number;
  /** Segment index << 32 | offset. */
  ref: number;
}

/** A series as the index holds it; labels are ordered by UTF-8 name. */
export interface IndexSeries {
  labels: Labels;
  chunks: readonly ChunkMeta[];
}

export interface Toc {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

/**
 * Writes the index for `series`, which must already be sorted by labels in UTF-8 order with no duplicates
 * (writeBlock sorts and checks). Returns the TOC. The file is fsynced and closed.
 */
export async function writeIndex(path: string, series: readonly IndexSeries[]): Promise<Toc> {
  // Symbols: every label name and value, sorted by UTF-8 bytes, referenced by position. The empty string
  // is always there because Prometheus's head lists the all-postings key ""="" among its symbols, so every
  // block Prometheus writes has it; keeping it makes our index identical to theirs.
  const symbolSet = new Set<string>(['']);
  for (const s of series) for (const x of s.labels) symbolSet.add(x);
  const symbols = [...symbolSet].sort(compareUtf8);
  const symbolRef = new Map<string, number>();
  const symbolBytes: Uint8Array[] = new Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    symbolRef.set(symbols[i]!, i);
    symbolBytes[i] = utf8(symbols[i]!);
  }

  const fh = await open(path, 'wx');
  try {
    const out = new FileSink(fh);
    const w = new ByteWriter(1 << 16);
    const toc: Toc = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };

    w.be32(INDEX_MAGIC);
    w.u8(INDEX_FORMAT_V2);
    await out.write(w.view());

    // Symbol table. Its `len` counts the count field and the entries, not itself nor the CRC.
    toc.symbols = out.pos;
    w.reset();
    w.be32(0);
    w.be32(symbols.length);
    for (const b of symbolBytes) w.str(b);
    patchBe32(w.buf, 0, w.len - 4);
    w.crcFrom(4);
    await out.write(w.view());

    // Series. The TOC points at the end of the symbols; the padding to 16 belongs to the first entry.
    toc.series = out.pos;
    const all = new PostingList();
    // name -> value -> ids; series arrive sorted, so every list is appended in increasing order.
    const postings = new Map<number, Map<number, PostingList>>();
    const body = new ByteWriter(256);
    for (const s of series) {
      await out.pad(16);
      if (out.pos > MAX_SERIES_OFFSET) throw new Error(`index: series section exceeds 64 GiB at ${labelPairsText(s.labels)}`);
      const id = out.pos / 16;
      all.add(id);
      body.reset();
      body.uvarint(s.labels.length / 2);
      for (let i = 0; i < s.labels.length; i += 2) {
        const n = symbolRef.get(s.labels[i]!)!;
        const v = symbolRef.get(s.labels[i + 1]!)!;
        body.uvarint(n);
        body.uvarint(v);
        let byValue = postings.get(n);
        if (byValue === undefined) postings.set(n, (byValue = new Map()));
        let list = byValue.get(v);
        if (list === undefined) byValue.set(v, (list = new PostingList()));
        list.add(id);
      }
      encodeChunkMetas(body, s.chunks);
      w.reset();
      w.uvarint(body.len);
      const start = w.len;
      w.bytes(body.view());
      w.crcFrom(start);
      await out.write(w.view());
    }

    const names = [...postings.keys()].sort((a, b) => a - b); // symbol order is UTF-8 order
    const valuesOf = (n: number): number[] => [...postings.get(n)!.keys()].sort((a, b) => a - b);

    // Label indices (one name each).
    toc.labelIndices = out.pos;
    const labelIndexOffsets: number[] = [];
    for (const n of names) {
      await out.pad(4);
      labelIndexOffsets.push(out.pos);
      const values = valuesOf(n);
      w.reset();
      w.be32(4 + 4 + 4 * values.length);
      w.be32(1);
      w.be32(values.length);
      for (const v of values) w.be32(v);
      w.crcFrom(4);
      await out.write(w.view());
    }

    // Postings, with the all-series list under the empty name and value first.
    toc.postings = out.pos;
    const offsetTable = new ByteWriter(1 << 12);
    offsetTable.be32(0); // len, patched below
    let entries = 0;
    offsetTable.be32(0); // count, patched below
    const empty = new Uint8Array(0);
    const writePostings = async (name: Uint8Array, value: Uint8Array, ids: Uint32Array): Promise<void> => {
      await out.pad(4);
      offsetTable.uvarint(2);
      offsetTable.str(name);
      offsetTable.str(value);
      offsetTable.uvarint(out.pos);
      entries++;
      w.reset();
      w.be32(4 + 4 * ids.length);
      w.be32(ids.length);
      for (let i = 0; i < ids.length; i++) w.be32(ids[i]!);
      w.crcFrom(4);
      await out.write(w.view());
    };
    await writePostings(empty, empty, all.view());
    for (const n of names) {
      const byValue = postings.get(n)!;
      for (const v of valuesOf(n)) await writePostings(symbolBytes[n]!, symbolBytes[v]!, byValue.get(v)!.view());
    }

    // Label index offset table.
    toc.labelIndicesTable = out.pos;
    w.reset();
    w.be32(0);
    w.be32(names.length);
    for (let i = 0; i < names.length; i++) {
      w.uvarint(1);
      w.str(symbolBytes[names[i]!]!);
      w.uvarint(labelIndexOffsets[i]!);
    }
    patchBe32(w.buf, 0, w.len - 4);
    w.crcFrom(4);
    await out.write(w.view());

    // Postings offset table.
    toc.postingsTable = out.pos;
    patchBe32(offsetTable.buf, 0, offsetTable.len - 4);
    patchBe32(offsetTable.buf, 4, entries);
    offsetTable.crcFrom(4);
    await out.write(offsetTable.view());

    w.reset();
    w.be64(toc.symbols);
    w.be64(toc.series);
    w.be64(toc.labelIndices);
    w.be64(toc.labelIndicesTable);
    w.be64(toc.postings);
    w.be64(toc.postingsTable);
    w.crcFrom(0);
    await out.write(w.view());

    await out.flush();
    await fh.sync();
    return toc;
  } finally {
    await fh.close();
  }
}

/**
 * Chunk metas: the first chunk's mint as a varint, then per chunk `maxt - mint`, with mint as a delta to
 * the previous chunk's maxt and the ref as a delta to the previous ref.
 */
export function encodeChunkMetas(w: ByteWriter, chunks: readonly ChunkMeta[]): void {
  w.uvarint(chunks.length);
  if (chunks.length === 0) return;
  const c0 = chunks[0]!;
  w.varint(c0.minT);
  w.uvarint(c0.maxT - c0.minT);
  w.uvarint(c0.ref);
  let prevMax = c0.maxT;
  let prevRef = c0.ref;
  for (let i = 1; i < chunks.length; i++) {
    const c = chunks[i]!;
    w.uvarint(c.minT - prevMax);
    w.uvarint(c.maxT - c.minT);
    w.varint(c.ref - prevRef);
    prevMax = c.maxT;
    prevRef = c.ref;
  }
}

function patchBe32(b: Uint8Array, at: number, v: number): void {
  if (v > 0xffffffff) throw new Error(`index: section of ${v} bytes exceeds the 4-byte length field`);
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
