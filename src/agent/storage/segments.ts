/**
 * Reading the WAL's segment files from a position, for the remote-write watchers that tail the log while
 * the agent keeps appending. The framing is the one `tsdb/wal` writes: u32 LE payload length, u32 LE CRC-32
 * (IEEE) of the payload, payload. Segments are read in chunks, never whole, so a 128 MiB segment does not
 * land in memory at once.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { WalPosition } from '../../tsdb/wal/index.js';

export type { WalPosition };

export const RECORD_HEADER_BYTES = 8;
/** Larger than any record the agent writes (a scrape of millions of samples stays far below). */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export function segmentName(n: number): string {
  return String(n).padStart(8, '0');
}

export function comparePositions(a: WalPosition, b: WalPosition): number {
  return a.segment !== b.segment ? a.segment - b.segment : a.offset - b.offset;
}

/** Segment numbers present in `dir`, ascending. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => /^\d{8}$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Size of a segment file in bytes, 0 when it does not exist (deleted by a checkpoint). */
export async function segmentSize(dir: string, n: number): Promise<number> {
  try {
    return (await stat(join(dir, segmentName(n)))).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** A damaged WAL record: where it is and what is wrong with it. */
export class WalCorruptionError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`WAL segment ${path} is damaged at offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}

export type ParsedRecord =
  | { kind: 'record'; payload: Uint8Array; next: number }
  | { kind: 'need'; bytes: number }
  | { kind: 'corrupt'; reason: string };

/**
 * Parses the record framed at `off` in `buf[0, end)`. `need` says how many bytes from `off` are required
 * to finish it (the caller reads more or, at the end of the data, reports a torn record).
 */
export function parseRecordAt(buf: Uint8Array, off: number, end: number): ParsedRecord {
  if (end - off < RECORD_HEADER_BYTES) return { kind: 'need', bytes: RECORD_HEADER_BYTES };
  const len = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  if (len === 0 || len > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `implausible record length ${len}` };
  if (end - off < RECORD_HEADER_BYTES + len) return { kind: 'need', bytes: RECORD_HEADER_BYTES + len };
  const sum = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
  const payload = buf.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len);
  if (crc32(payload) !== sum) return { kind: 'corrupt', reason: 'checksum mismatch' };
  return { kind: 'record', payload, next: off + RECORD_HEADER_BYTES + len };
}

/**
 * A forward cursor over one segment file. `next(limit)` returns the next record that ends at or before
 * `limit` (a file offset), or null when the cursor reached `limit`. The payload is valid until the next
 * call. A damaged record, or a record that runs past `limit`, throws a `WalCorruptionError`: callers pass
 * a limit on a record boundary (the committed end, or the size of a finished segment).
 */
export class SegmentCursor {
  private buf: Uint8Array;
  /** File offset of buf[0]. */
  private bufStart: number;
  private bufLen = 0;
  /** File offset of the next record. */
  pos: number;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    offset: number,
    private readonly chunkBytes: number,
  ) {
    this.buf = new Uint8Array(chunkBytes);
    this.bufStart = offset;
    this.pos = offset;
  }

  static async open(path: string, offset: number, chunkBytes = CHUNK_BYTES): Promise<SegmentCursor> {
    const fh = await open(path, 'r');
    return new SegmentCursor(path, fh, offset, chunkBytes);
  }

  async next(limit: number): Promise<Uint8Array | null> {
    for (;;) {
      if (this.pos >= limit) return null;
      const rel = this.pos - this.bufStart;
      const end = Math.min(this.bufLen, limit - this.bufStart);
      const r = parseRecordAt(this.buf, rel, end);
      if (r.kind === 'record') {
        this.pos = this.bufStart + r.next;
        return r.payload;
      }
      if (r.kind === 'corrupt') throw new WalCorruptionError(this.path, this.pos, r.reason);
      if (this.pos + r.bytes > limit) {
        throw new WalCorruptionError(this.path, this.pos, `record of ${r.bytes} bytes runs past the end of the data at ${limit}`);
      }
      await this.fill(r.bytes, limit);
    }
  }

  /** Makes buf hold at least `need` bytes from `pos` (more, up to a chunk, when available). */
  private async fill(need: number, limit: number): Promise<void> {
    const keep = this.bufLen - (this.pos - this.bufStart);
    const want = Math.max(need, this.chunkBytes);
    if (this.buf.length < want) {
      const nb = new Uint8Array(want);
      nb.set(this.buf.subarray(this.pos - this.bufStart, this.bufLen));
      this.buf = nb;
    } else if (keep > 0) {
      this.buf.copyWithin(0, this.pos - this.bufStart, this.bufLen);
    }
    this.bufStart = this.pos;
    this.bufLen = Math.max(keep, 0);
    const toRead = Math.min(this.buf.length, limit - this.bufStart) - this.bufLen;
    let got = 0;
    while (got < toRead) {
      const { bytesRead } = await this.fh.read(this.buf, this.bufLen + got, toRead - got, this.bufStart + this.bufLen + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.bufLen += got;
    if (this.bufLen < need) {
      throw new WalCorruptionError(this.path, this.pos, `segment ends ${need - this.bufLen} bytes before the record does`);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Reads every intact record of a finished file (a checkpoint) from the start; stops at damage. */
export async function readWholeFile(path: string, onRecord: (payload: Uint8Array) => void): Promise<{ records: number; damage: string | null }> {
  let cur: SegmentCursor;
  try {
    cur = await SegmentCursor.open(path, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: 0, damage: null };
    throw err;
  }
  let records = 0;
  try {
    const size = (await stat(path)).size;
    for (;;) {
      const p = await cur.next(size);
      if (p === null) return { records, damage: null };
      onRecord(p);
      records++;
    }
  } catch (err) {
    if (err instanceof WalCorruptionError) return { records, damage: err.message };
    throw err;
  } finally {
    await cur.close();
  }
}
