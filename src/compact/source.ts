/**
 * A source block read straight from the bucket for compaction: the index and tombstones are fetched whole
 * (the index's series and postings are decoded lazily by IndexReader), chunks through a read-ahead window
 * of ranged reads. A block's chunks are laid out in series order and compaction walks series in that
 * order, so the window turns a block's chunk reads into a few large sequential reads, and memory per
 * source stays at one window however large the segments are.
 */
import { crc32c } from '../codec/crc32c.js';
import { readUvarint } from '../codec/varint.js';
import { isNotFound, type Bucket } from '../objstore/index.js';
import { BlockDataError } from './errors.js';
import {
  BlockFormatError,
  IndexReader,
  decodeTombstones,
  segmentFileName,
  unpackChunkRef,
  type BlockMeta,
  type ChunkData,
  type Tombstones,
} from '../tsdb/block/index.js';

/** Default read-ahead window per source block. */
export const DEFAULT_CHUNK_WINDOW = 4 * 1024 * 1024;
const SEGMENT_HEADER_SIZE = 8;
const CHUNKS_MAGIC = 0x85bd40dd;
/** uvarint length (at most 5 bytes for a uint32) + encoding byte. */
const CHUNK_PREFIX_MAX = 6;

interface Window {
  segment: number;
  /** Offset of `buf[0]` in the segment. */
  start: number;
  buf: Uint8Array;
  /** True when the read returned less than asked: `buf` reaches the end of the segment. */
  eof: boolean;
}

export class BucketBlockReader {
  /** Bytes fetched from the bucket for this block (index, tombstones, chunk windows). */
  bytesRead = 0;
  private window: Window | null = null;
  private readonly headerChecked = new Set<number>();

  private constructor(
    private readonly bucket: Bucket,
    readonly meta: BlockMeta,
    readonly index: IndexReader,
    readonly tombstones: Tombstones,
    private readonly windowBytes: number,
  ) {}

  get ulid(): string {
    return this.meta.ulid;
  }

  static async open(bucket: Bucket, meta: BlockMeta, windowBytes = DEFAULT_CHUNK_WINDOW, signal?: AbortSignal): Promise<BucketBlockReader> {
    const indexKey = `${meta.ulid}/index`;
    const indexBytes = await bucket.get(indexKey, signal);
    let index: IndexReader;
    try {
      index = IndexReader.parse(indexBytes, `${bucket.name}:${indexKey}`);
    } catch (err) {
      throw new BlockDataError(meta.ulid, (err as Error).message);
    }
    const tsKey = `${meta.ulid}/tombstones`;
    let tombstones: Tombstones = new Map();
    let tsLen = 0;
    try {
      const ts = await bucket.get(tsKey, signal);
      tsLen = ts.length;
      tombstones = decodeTombstones(ts, `${bucket.name}:${tsKey}`);
    } catch (err) {
      if (err instanceof BlockFormatError) throw new BlockDataError(meta.ulid, err.message);
      // Thanos-uploaded blocks often have no tombstones object: nothing deleted.
      if (!isNotFound(err)) throw err;
    }
    const r = new BucketBlockReader(bucket, meta, index, tombstones, Math.max(64, windowBytes));
    r.bytesRead = indexBytes.length + tsLen;
    return r;
  }

  private segmentKey(segment: number): string {
    return `${this.meta.ulid}/chunks/${segmentFileName(segment)}`;
  }

  /** Loads the window for [offset, offset + need) of a segment. */
  private async load(segment: number, offset: number, need: number, signal?: AbortSignal): Promise<Window> {
    // Start at 0 when that still covers the chunk, so the segment header is checked without an extra read.
    const start = !this.headerChecked.has(segment) && offset + need <= this.windowBytes ? 0 : offset;
    const len = Math.max(this.windowBytes, offset + need - start);
    const buf = await this.bucket.getRange(this.segmentKey(segment), start, len, signal);
    this.bytesRead += buf.length;
    const w: Window = { segment, start, buf, eof: buf.length < len };
    if (!this.headerChecked.has(segment)) {
      const head = start === 0 ? buf : await this.bucket.getRange(this.segmentKey(segment), 0, SEGMENT_HEADER_SIZE, signal);
      this.checkHeader(segment, head);
      this.headerChecked.add(segment);
    }
    this.window = w;
    return w;
  }

  private checkHeader(segment: number, b: Uint8Array): void {
    const file = `${this.bucket.name}:${this.segmentKey(segment)}`;
    if (b.length < SEGMENT_HEADER_SIZE) throw new BlockFormatError(file, 0, `segment header: file has only ${b.length} bytes`);
    const magic = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (magic !== CHUNKS_MAGIC) throw new BlockFormatError(file, 0, `bad magic 0x${magic.toString(16)} (want 0x85bd40dd)`);
    if (b[4] !== 1) throw new BlockFormatError(file, 4, `unsupported chunks format version ${b[4]}`);
  }

  /** Bytes [offset, offset + need) of the segment, from the window or a new one; may be short at EOF. */
  private async view(segment: number, offset: number, need: number, signal?: AbortSignal): Promise<{ buf: Uint8Array; at: number }> {
    let w = this.window;
    const covered = (x: Window): boolean => x.segment === segment && offset >= x.start && (offset + need <= x.start + x.buf.length || x.eof);
    if (w === null || !covered(w)) w = await this.load(segment, offset, need, signal);
    return { buf: w.buf, at: offset - w.start };
  }

  /**
   * The chunk at `ref` (encoding and a copy of its data), CRC-checked. Malformed data raises a
   * BlockDataError naming the block, the segment object and the offset.
   */
  async chunk(ref: number, signal?: AbortSignal): Promise<ChunkData> {
    try {
      return await this.readChunk(ref, signal);
    } catch (err) {
      if (err instanceof BlockFormatError) throw new BlockDataError(this.meta.ulid, err.message);
      throw err;
    }
  }

  private async readChunk(ref: number, signal?: AbortSignal): Promise<ChunkData> {
    const { segment, offset } = unpackChunkRef(ref);
    const file = `${this.bucket.name}:${this.segmentKey(segment)}`;
    if (offset < SEGMENT_HEADER_SIZE) throw new BlockFormatError(file, offset, 'chunk ref points into the segment header');
    let { buf, at } = await this.view(segment, offset, CHUNK_PREFIX_MAX + 64, signal);
    if (at >= buf.length) throw new BlockFormatError(file, offset, 'chunk ref points past the end of the segment');
    const [len, p] = readUvarint(buf, at, Math.min(buf.length, at + 5));
    if (p < 0 || len > 0xffffffff) throw new BlockFormatError(file, offset, 'chunk length: bad varint');
    const lenBytes = p - at;
    const total = lenBytes + 1 + len + 4;
    if (at + total > buf.length) {
      ({ buf, at } = await this.view(segment, offset, total, signal));
      if (at + total > buf.length) {
        throw new BlockFormatError(file, offset, `chunk of ${len} bytes runs past the end of the segment`);
      }
    }
    const encAt = at + lenBytes;
    const dataEnd = encAt + 1 + len;
    const want = ((buf[dataEnd]! << 24) | (buf[dataEnd + 1]! << 16) | (buf[dataEnd + 2]! << 8) | buf[dataEnd + 3]!) >>> 0;
    const got = crc32c(buf, 0, encAt, dataEnd);
    if (want !== got) {
      throw new BlockFormatError(file, offset, `chunk checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
    }
    return { encoding: buf[encAt]!, bytes: buf.slice(encAt + 1, dataEnd) };
  }
}
