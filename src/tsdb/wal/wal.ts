/**
 * Write-ahead log: numbered segment files of length-prefixed, CRC-checked records.
 *
 * Durability contract (DESIGN §6): `log()` resolves only after the record is written AND fdatasync'ed.
 * Concurrent callers share one fsync (group commit): records that arrive while a flush is in flight are
 * written together by the next flush. Replay stops at the first torn or corrupt record, truncates the
 * segment there, removes later segments, and reports what it cut — never fatal.
 *
 * Record framing: u32 LE payload length, u32 LE CRC-32 (IEEE, zlib) of the payload, payload.
 */
import { mkdir, open, readdir, readFile, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const RECORD_HEADER_BYTES = 8;
const DEFAULT_SEGMENT_BYTES = 128 * 1024 * 1024;
/** A record larger than this is treated as corruption during replay (a torn length field). */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export interface WalOptions {
  segmentBytes?: number;
  /** Skip fdatasync (tests of non-durable paths only; never in production). */
  noSync?: boolean;
}

export interface ReplayReport {
  segments: number;
  records: number;
  bytes: number;
  /** Set when replay cut a torn/corrupt tail. */
  truncated: { segment: string; offset: number; droppedBytes: number; removedSegments: string[]; reason: string } | null;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

function segmentName(n: number): string {
  return String(n).padStart(8, '0');
}

export class Wal {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly noSync: boolean;
  private fh: FileHandle | null = null;
  private segment = 0;
  private size = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  private flushing = false;
  private closed = false;
  /** Counters for self-monitoring. */
  fsyncs = 0;
  bytesWritten = 0;
  lastFsyncMs = 0;

  private constructor(dir: string, opts: WalOptions) {
    this.dir = dir;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.noSync = opts.noSync ?? false;
  }

  /**
   * Opens (creating if needed) the WAL in `dir`, replaying every intact record through `onRecord` in
   * order, then positions for appending after the last intact record.
   */
  static async open(dir: string, onRecord: (rec: Uint8Array) => void, opts: WalOptions = {}): Promise<{ wal: Wal; report: ReplayReport }> {
    await mkdir(dir, { recursive: true });
    const wal = new Wal(dir, opts);
    const report = await wal.replay(onRecord);
    await wal.openSegment(wal.segment, true);
    return { wal, report };
  }

  private async listSegments(): Promise<number[]> {
    const names = await readdir(this.dir);
    return names
      .filter((n) => /^\d{8}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  private async replay(onRecord: (rec: Uint8Array) => void): Promise<ReplayReport> {
    const segs = await this.listSegments();
    const report: ReplayReport = { segments: segs.length, records: 0, bytes: 0, truncated: null };
    for (let i = 0; i < segs.length; i++) {
      const name = segmentName(segs[i]!);
      const path = join(this.dir, name);
      const data = await readFile(path);
      let off = 0;
      let reason = '';
      while (off < data.length) {
        if (data.length - off < RECORD_HEADER_BYTES) {
          reason = `partial record header (${data.length - off} bytes)`;
          break;
        }
        const len = data.readUInt32LE(off);
        const sum = data.readUInt32LE(off + 4);
        if (len === 0 || len > MAX_RECORD_BYTES) {
          reason = `implausible record length ${len}`;
          break;
        }
        if (off + RECORD_HEADER_BYTES + len > data.length) {
          reason = `record of ${len} bytes runs past end of segment`;
          break;
        }
        const payload = data.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len);
        if (crc32(payload) !== sum) {
          reason = 'checksum mismatch';
          break;
        }
        onRecord(payload);
        report.records++;
        off += RECORD_HEADER_BYTES + len;
      }
      report.bytes += off;
      this.segment = segs[i]!;
      if (off < data.length) {
        // Torn or corrupt: keep what is intact, drop the rest of this segment and every later one.
        const removed = segs.slice(i + 1).map(segmentName);
        await truncate(path, off);
        for (const r of removed) await rm(join(this.dir, r), { force: true });
        report.truncated = { segment: name, offset: off, droppedBytes: data.length - off, removedSegments: removed, reason };
        break;
      }
    }
    return report;
  }

  private async openSegment(n: number, append: boolean): Promise<void> {
    const path = join(this.dir, segmentName(n));
    const fh = await open(path, append ? 'a' : 'wx');
    const st = await fh.stat();
    this.fh = fh;
    this.segment = n;
    this.size = st.size;
    if (!this.noSync) await syncDir(this.dir); // make the new file's directory entry durable
  }

  /** Frames one record payload (adds length + CRC). */
  static frame(payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, payload.length, true);
    dv.setUint32(4, crc32(payload), true);
    out.set(payload, RECORD_HEADER_BYTES);
    return out;
  }

  /** Appends record payloads; resolves when they are on disk and fsynced. */
  log(payloads: Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`WAL ${this.dir} is closed`));
    for (const p of payloads) {
      const framed = Wal.frame(p);
      this.pending.push(framed);
      this.pendingBytes += framed.length;
    }
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) void this.flushLoop();
    return done;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const bufs = this.pending;
        const bytes = this.pendingBytes;
        const waiters = this.waiters;
        this.pending = [];
        this.pendingBytes = 0;
        this.waiters = [];
        try {
          if (this.size > 0 && this.size + bytes > this.segmentBytes) await this.rotate();
          await this.writeAll(Buffer.concat(bufs, bytes));
          const t0 = performance.now();
          if (!this.noSync) await this.fh!.datasync();
          this.lastFsyncMs = performance.now() - t0;
          this.fsyncs++;
          for (const w of waiters) w.resolve();
        } catch (err) {
          const e = new Error(`WAL write to ${this.dir} failed: ${(err as Error).message}`);
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeAll(buf: Buffer): Promise<void> {
    const start = this.size;
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      this.size += buf.length;
      this.bytesWritten += buf.length;
    } catch (err) {
      // Never leave a torn record in the middle of the log: later records would be unreachable on replay.
      await this.fh!.truncate(start).catch(() => undefined);
      throw err;
    }
  }

  private async rotate(): Promise<void> {
    if (!this.noSync) await this.fh!.datasync();
    await this.fh!.close();
    await this.openSegment(this.segment + 1, false);
  }

  segmentNumber(): number {
    return this.segment;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let in-flight and queued writes finish first.
    if (this.pending.length > 0 || this.flushing) {
      await new Promise<void>((resolve) => {
        this.waiters.push({ resolve, reject: () => resolve() });
        if (!this.flushing) void this.flushLoop();
      });
    }
    this.closed = true;
    await this.fh?.close();
    this.fh = null;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
