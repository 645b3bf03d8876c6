/**
 * Chunk segment files (`chunks/000001`, …): an 8-byte header (magic 0x85BD40DD, version 1, 3 zero bytes),
 * then records `uvarint len | encoding byte | data | CRC-32C(encoding + data)`. A chunk's reference is
 * `segment index (0-based) << 32 | offset in the segment`.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeUvarint, readUvarint } from '../../codec/varint.js';
import { crc32c } from '../../codec/crc32c.js';
import { BlockFormatError, FileSink } from './encoding.js';
import type { FileHandle } from 'node:fs/promises';

export const CHUNKS_MAGIC = 0x85bd40dd;
export const CHUNKS_FORMAT_V1 = 1;
export const SEGMENT_HEADER_SIZE = 8;
export const DEFAULT_SEGMENT_SIZE = 512 * 1024 * 1024;
/** Prometheus reserves the longest uvarint of a uint32 for the length when it sizes segments. */
const MAX_LEN_FIELD = 5;
const TWO_32 = 0x100000000;

export function chunkRef(segment: number, offset: number): number {
  return segment * TWO_32 + offset;
}

export function unpackChunkRef(ref: number): { segment: number; offset: number } {
  return { segment: Math.floor(ref / TWO_32), offset: ref % TWO_32 };
}

export function segmentFileName(index: number): string {
  return String(index + 1).padStart(6, '0');
}

/** A chunk as it goes into a segment. */
export interface ChunkData {
  /** Encoding byte; 1 is XOR. */
  encoding: number;
  bytes: Uint8Array;
}

/**
 * Writes segment files in a directory. A series' chunks go in one call so that, as Prometheus does, a
 * series moves to a new segment when its chunks would overflow the current one (and only a series too
 * large for any segment is split).
 */
export class ChunkSegmentWriter {
  private fh: FileHandle | null = null;
  private sink: FileSink | null = null;
  private seq = -1;
  private readonly scratch = new Uint8Array(16);

  constructor(
    private readonly dir: string,
    private readonly segmentSize: number = DEFAULT_SEGMENT_SIZE,
  ) {
    if (!(segmentSize > SEGMENT_HEADER_SIZE)) throw new RangeError(`segment size ${segmentSize} is too small`);
  }

  /** Number of segment files created so far. */
  get segments(): number {
    return this.seq + 1;
  }

  /** Writes one series' chunks; returns their references. */
  async writeSeries(chunks: readonly ChunkData[]): Promise<number[]> {
    const refs: number[] = new Array(chunks.length);
    if (chunks.length === 0) return refs;
    if (this.sink === null) await this.cut();
    // Same decision as Prometheus's chunks.Writer, so that our segments match its byte for byte: sizes are
    // estimated with a 5-byte length field; the series first tries to fit behind what the segment held
    // when the call started, and from the first overflow on, each group that fills a fresh segment
    // starts one.
    const startPos = this.sink!.pos;
    let batch = 0;
    let first = true;
    for (let i = 0; i < chunks.length; i++) {
      const size = MAX_LEN_FIELD + 1 + chunks[i]!.bytes.length + 4;
      batch += size;
      let cut = i !== 0 && batch + SEGMENT_HEADER_SIZE > this.segmentSize;
      if (first && startPos > SEGMENT_HEADER_SIZE) {
        cut = batch + startPos > this.segmentSize;
        if (cut) first = false;
      }
      if (cut) {
        await this.cut();
        batch = size;
      }
      refs[i] = await this.writeChunk(chunks[i]!);
    }
    return refs;
  }

  private async writeChunk(c: ChunkData): Promise<number> {
    const sink = this.sink!;
    const ref = chunkRef(this.seq, sink.pos);
    if (sink.pos >= TWO_32) throw new Error(`chunk segment ${segmentFileName(this.seq)} grew past 4 GiB`);
    const s = this.scratch;
    const n = writeUvarint(s, 0, c.bytes.length);
    s[n] = c.encoding;
    await sink.write(s.subarray(0, n + 1));
    await sink.write(c.bytes);
    const crc = crc32c(c.bytes, crc32c(s, 0, n, n + 1));
    s[0] = crc >>> 24;
    s[1] = crc >>> 16;
    s[2] = crc >>> 8;
    s[3] = crc;
    await sink.write(s.subarray(0, 4));
    return ref;
  }

  private async cut(): Promise<void> {
    await this.finishSegment();
    this.seq++;
    this.fh = await open(join(this.dir, segmentFileName(this.seq)), 'wx');
    this.sink = new FileSink(this.fh);
    const h = new Uint8Array(SEGMENT_HEADER_SIZE);
    new DataView(h.buffer).setUint32(0, CHUNKS_MAGIC);
    h[4] = CHUNKS_FORMAT_V1;
    await this.sink.write(h);
  }

  private async finishSegment(): Promise<void> {
    if (this.fh === null) return;
    await this.sink!.flush();
    await this.fh.sync();
    await this.fh.close();
    this.fh = null;
    this.sink = null;
  }

  /** Flushes, fsyncs and closes the last segment. */
  async close(): Promise<void> {
    await this.finishSegment();
  }

  /** Closes without syncing, after a failure. */
  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.sink = null;
    await fh?.close().catch(() => undefined);
  }
}

/** Segment files of a block held in memory; `chunk(ref)` checks bounds and the CRC. */
export class ChunkReader {
  private constructor(
    private readonly segments: Uint8Array[],
    private readonly names: string[],
  ) {}

  /** Reads every segment file in `dir` (numeric names, in numeric order) and checks its header. */
  static async open(dir: string): Promise<ChunkReader> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      throw new Error(`${dir}: cannot list chunk segments: ${(err as Error).message}`);
    }
    const nums = entries.filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    const segments: Uint8Array[] = [];
    const names: string[] = [];
    for (const n of nums) {
      const path = join(dir, n);
      const buf = new Uint8Array(await readFile(path));
      checkSegmentHeader(buf, path);
      segments.push(buf);
      names.push(path);
    }
    return new ChunkReader(segments, names);
  }

  /** Wraps segments already in memory (tests, fuzzing). */
  static fromBuffers(buffers: Uint8Array[], names: string[] = buffers.map((_, i) => segmentFileName(i))): ChunkReader {
    buffers.forEach((b, i) => checkSegmentHeader(b, names[i]!));
    return new ChunkReader(buffers, names);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Total bytes of all segments. */
  size(): number {
    let n = 0;
    for (const s of this.segments) n += s.length;
    return n;
  }

  /** The chunk at `ref`: its encoding and its data (a view into the segment, not a copy). */
  chunk(ref: number): ChunkData {
    const { segment, offset } = unpackChunkRef(ref);
    const seg = this.segments[segment];
    if (seg === undefined) {
      throw new Error(`chunk ref ${ref}: segment ${segment} does not exist (block has ${this.segments.length})`);
    }
    const file = this.names[segment]!;
    if (offset < SEGMENT_HEADER_SIZE || offset >= seg.length) {
      throw new BlockFormatError(file, offset, `chunk ref points outside the segment (${seg.length} bytes)`);
    }
    return decodeChunkRecord(seg, offset, file, offset, seg.length);
  }
}

/**
 * The chunk record at `p` in `buf`, which holds a segment file or a stretch of it from the record on:
 * `uvarint len | encoding | data | CRC-32C`, bounds and CRC checked. Errors name `file` and `fileOffset`
 * (the record's offset in the file); `segmentSize` is the file's size. The data is a view into `buf`.
 */
export function decodeChunkRecord(buf: Uint8Array, p: number, file: string, fileOffset: number, segmentSize: number): ChunkData {
  const [len, encAt] = readUvarint(buf, p, Math.min(buf.length, p + MAX_LEN_FIELD));
  if (encAt < 0) throw new BlockFormatError(file, fileOffset, 'chunk length: bad varint');
  const dataEnd = encAt + 1 + len;
  if (dataEnd + 4 > buf.length) {
    throw new BlockFormatError(file, fileOffset, `chunk of ${len} bytes runs past the end of the segment (${segmentSize} bytes)`);
  }
  const want = ((buf[dataEnd]! << 24) | (buf[dataEnd + 1]! << 16) | (buf[dataEnd + 2]! << 8) | buf[dataEnd + 3]!) >>> 0;
  const got = crc32c(buf, 0, encAt, dataEnd);
  if (want !== got) {
    throw new BlockFormatError(file, fileOffset, `chunk checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  }
  return { encoding: buf[encAt]!, bytes: buf.subarray(encAt + 1, dataEnd) };
}

/** Checks a segment file's first bytes (`buf` may hold just those); errors name `file`. */
export function checkSegmentHeader(buf: Uint8Array, file: string): void {
  if (buf.length < SEGMENT_HEADER_SIZE) throw new BlockFormatError(file, 0, `segment header: file has only ${buf.length} bytes`);
  const magic = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  if (magic !== CHUNKS_MAGIC) throw new BlockFormatError(file, 0, `bad magic 0x${magic.toString(16)} (want 0x85bd40dd)`);
  if (buf[4] !== CHUNKS_FORMAT_V1) throw new BlockFormatError(file, 4, `unsupported chunks format version ${buf[4]}`);
}
