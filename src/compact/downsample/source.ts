/**
 * Reads a source block for downsampling one series at a time: meta.json, the index and the tombstones are
 * read whole (they are small next to the chunks), while chunk data is read from the segment files by
 * range, one read per series and segment, so memory holds one series' chunks at a time.
 */
import { open, readFile, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readUvarint } from '../../codec/varint.js';
import {
  BlockFormatError,
  IndexReader,
  META_FILENAME,
  SEGMENT_HEADER_SIZE,
  TOMBSTONES_FILENAME,
  checkSegmentHeader,
  decodeChunkRecord,
  decodeMeta,
  decodeTombstones,
  segmentFileName,
  unpackChunkRef,
  type BlockMeta,
  type ChunkData,
  type ChunkMeta,
  type Tombstones,
} from '../../tsdb/block/index.js';

/** Bytes read past a series' last chunk start in the first attempt: most chunks fit. */
const TAIL_GUESS = 1024;
/** Largest stretch of a segment read in one go for one series. */
const MAX_SPAN = 8 * 1024 * 1024;

interface Segment {
  path: string;
  fh: FileHandle;
  size: number;
}

/** The chunk segment files of a block, open for range reads. */
export class SegmentFiles {
  private constructor(private readonly segments: Segment[]) {}

  static async open(dir: string): Promise<SegmentFiles> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
    } catch (err) {
      throw new Error(`${dir}: cannot list chunk segments: ${(err as Error).message}`);
    }
    const segments: Segment[] = [];
    try {
      for (let i = 0; i < names.length; i++) {
        // References count segments from 0 for 000001; a gap would make every later reference wrong.
        if (names[i] !== segmentFileName(i)) throw new Error(`${dir}: chunk segment ${segmentFileName(i)} is missing (found ${names[i]})`);
        const path = join(dir, names[i]!);
        const fh = await open(path, 'r');
        segments.push({ path, fh, size: 0 });
        const seg = segments[segments.length - 1]!;
        seg.size = (await fh.stat()).size;
        const head = new Uint8Array(SEGMENT_HEADER_SIZE);
        const { bytesRead } = await fh.read(head, 0, SEGMENT_HEADER_SIZE, 0);
        checkSegmentHeader(head.subarray(0, bytesRead), path);
      }
    } catch (err) {
      await Promise.all(segments.map((s) => s.fh.close().catch(() => undefined)));
      throw err;
    }
    return new SegmentFiles(segments);
  }

  async close(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.fh.close().catch(() => undefined)));
  }

  /** The chunks at `metas`' references (CRC-checked), in the order given. */
  async read(metas: readonly ChunkMeta[]): Promise<ChunkData[]> {
    // One read per segment, spanning from the first chunk to the end of the last.
    const spans = new Map<number, { lo: number; hi: number }>();
    for (const m of metas) {
      const { segment, offset } = unpackChunkRef(m.ref);
      const s = spans.get(segment);
      if (s === undefined) spans.set(segment, { lo: offset, hi: offset });
      else {
        if (offset < s.lo) s.lo = offset;
        if (offset > s.hi) s.hi = offset;
      }
    }
    // A series' chunks lie together in files Prometheus or Argus wrote; if they are scattered, read them
    // one by one rather than everything between them.
    if ([...spans.values()].some((s) => s.hi - s.lo > MAX_SPAN)) {
      const out: ChunkData[] = [];
      for (const m of metas) {
        const { segment, offset } = unpackChunkRef(m.ref);
        const { at, buf } = await this.readSpan(segment, offset, offset);
        out.push(this.parse(segment, buf, at, 0));
      }
      return out;
    }
    const bufs = new Map<number, { at: number; buf: Uint8Array }>();
    for (const [segment, { lo, hi }] of spans) bufs.set(segment, await this.readSpan(segment, lo, hi));
    return metas.map((m) => {
      const { segment, offset } = unpackChunkRef(m.ref);
      const { at, buf } = bufs.get(segment)!;
      return this.parse(segment, buf, at, offset - at);
    });
  }

  private seg(segment: number, offset: number): Segment {
    const seg = this.segments[segment];
    if (seg === undefined) throw new Error(`chunk ref: segment ${segment} does not exist (block has ${this.segments.length})`);
    if (offset < SEGMENT_HEADER_SIZE || offset >= seg.size) {
      throw new BlockFormatError(seg.path, offset, `chunk ref points outside the segment (${seg.size} bytes)`);
    }
    return seg;
  }

  private async readAt(seg: Segment, at: number, len: number): Promise<Uint8Array> {
    const n = Math.min(len, seg.size - at);
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await seg.fh.read(buf, got, n - got, at + got);
      if (bytesRead === 0) throw new BlockFormatError(seg.path, at + got, 'unexpected end of file');
      got += bytesRead;
    }
    return buf;
  }

  /** Bytes from the chunk at `lo` to the end of the chunk at `hi`. */
  private async readSpan(segment: number, lo: number, hi: number): Promise<{ at: number; buf: Uint8Array }> {
    const seg = this.seg(segment, lo);
    this.seg(segment, hi);
    let buf = await this.readAt(seg, lo, hi - lo + TAIL_GUESS);
    const p = hi - lo;
    const [len, q] = readUvarint(buf, p, Math.min(buf.length, p + 5));
    if (q < 0) throw new BlockFormatError(seg.path, hi, 'chunk length: bad varint');
    // The last record is longer than the guess: read the span again to its end (the CRC check in
    // parse() reports a record that runs past the end of the file).
    const end = q + 1 + len + 4;
    if (end > buf.length && lo + buf.length < seg.size) buf = await this.readAt(seg, lo, end);
    return { at: lo, buf };
  }

  /** The record at `p` in `buf`, which holds the segment's bytes from file offset `at`. */
  private parse(segment: number, buf: Uint8Array, at: number, p: number): ChunkData {
    const seg = this.segments[segment]!;
    return decodeChunkRecord(buf, p, seg.path, at + p, seg.size);
  }
}

/** A block opened for downsampling. */
export interface SourceBlock {
  meta: BlockMeta;
  index: IndexReader;
  tombstones: Tombstones;
  segments: SegmentFiles;
}

export async function openSource(dir: string): Promise<SourceBlock> {
  const metaPath = join(dir, META_FILENAME);
  let metaText: string;
  try {
    metaText = await readFile(metaPath, 'utf8');
  } catch (err) {
    throw new Error(`${metaPath}: cannot read block meta: ${(err as Error).message}`);
  }
  const meta = decodeMeta(metaText, metaPath);
  const indexPath = join(dir, 'index');
  let indexBytes: Uint8Array;
  try {
    indexBytes = new Uint8Array(await readFile(indexPath));
  } catch (err) {
    throw new Error(`${indexPath}: cannot read index: ${(err as Error).message}`);
  }
  const index = IndexReader.parse(indexBytes, indexPath);
  let tombstones: Tombstones = new Map();
  const tsPath = join(dir, TOMBSTONES_FILENAME);
  try {
    tombstones = decodeTombstones(new Uint8Array(await readFile(tsPath)), tsPath);
  } catch (err) {
    // Thanos buckets carry no tombstones file; Prometheus reads its absence as "nothing deleted".
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const segments = await SegmentFiles.open(join(dir, 'chunks'));
  return { meta, index, tombstones, segments };
}
