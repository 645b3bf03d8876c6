/**
 * Write-ahead log: numbered segment files of length-prefixed, CRC-checked records.
 *
 * Durability contract (DESIGN §6): `log()` resolves only after the record is written AND fdatasync'ed.
 * Concurrent callers share one fsync (group commit): records that arrive while a flush is in flight are
 * written together by the next flush.
 *
 * Sync policy `syncIntervalMs > 0` (the agent's choice, as Prometheus's agent): `log()` resolves once the
 * record is written (in the page cache, so it survives a process crash or kill -9), and an fdatasync runs
 * at most every `syncIntervalMs`, at segment end and at close. A power loss can then lose up to that much
 * of the log's tail; replay cuts a torn tail as usual. Readers still only ever see whole records: the
 * committed position moves only after a record's write() has returned in full. Replay stops at the first torn or corrupt record, truncates the
 * segment there, removes later segments, and reports what it cut — never fatal.
 *
 * Record framing: u32 LE payload length, u32 LE CRC-32 (IEEE, zlib) of the payload, payload.
 *
 * Truncation (as Prometheus): once the head's old samples are in a block, `checkpoint()` rolls to a new
 * segment, writes `checkpoint.N/` (records the caller still needs, e.g. every live series) via a tmp dir
 * + rename, then deletes segments <= N. Replay reads the newest complete checkpoint, then segments > N;
 * a crash at any step leaves either the old segments or a complete checkpoint (leftovers are cleaned).
 */
import { mkdir, open, readdir, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
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
  /**
   * 0 (default): fdatasync before `log()` resolves. > 0: `log()` resolves after the write, and the data is
   * fdatasync'ed at most this many milliseconds later (and at rotation and close).
   */
  syncIntervalMs?: number;
}

export interface ReplayReport {
  segments: number;
  records: number;
  bytes: number;
  /** Set when replay cut a torn/corrupt tail. */
  truncated: { segment: string; offset: number; droppedBytes: number; removedSegments: string[]; reason: string } | null;
}

export interface WalPosition {
  segment: number;
  offset: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Called per record at replay; may return the newest sample time in it (segment truncation uses it). */
export type OnRecord = (rec: Uint8Array) => number | void;

const CHECKPOINT_RE = /^checkpoint\.(\d{8})$/;

function segmentName(n: number): string {
  return String(n).padStart(8, '0');
}

export class Wal {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly noSync: boolean;
  private readonly syncIntervalMs: number;
  private syncTimer: NodeJS.Timeout | null = null;
  /** Bytes written to the current segment since its last fdatasync (periodic sync policy). */
  private unsynced = 0;
  private syncRequested = false;
  private fh: FileHandle | null = null;
  private segment = 0;
  private size = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  private flushing = false;
  private closed = false;
  private rollRequested = false;
  /** Newest sample time logged into each segment (-Infinity: none); segments not listed are unknown. */
  private readonly segMaxT = new Map<number, number>();
  private pendingMaxT = -Infinity;
  /** Segments <= this are covered by the checkpoint (-1: no checkpoint). */
  private checkpointed = -1;
  /** Everything before this position is written in full, and fsynced unless the sync is periodic (readers stop here). */
  private committedPos: WalPosition = { segment: 0, offset: 0 };
  /** Counters for self-monitoring. */
  fsyncs = 0;
  bytesWritten = 0;
  lastFsyncMs = 0;

  private constructor(dir: string, opts: WalOptions) {
    this.dir = dir;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.noSync = opts.noSync ?? false;
    const every = opts.syncIntervalMs ?? 0;
    if (!(every >= 0) || !Number.isFinite(every)) throw new RangeError(`WAL ${dir}: syncIntervalMs must be a finite number >= 0, got ${every}`);
    this.syncIntervalMs = every;
  }

  /**
   * Opens (creating if needed) the WAL in `dir`, replaying every intact record through `onRecord` in
   * order, then positions for appending after the last intact record.
   */
  static async open(dir: string, onRecord: OnRecord, opts: WalOptions = {}): Promise<{ wal: Wal; report: ReplayReport }> {
    await mkdir(dir, { recursive: true });
    const wal = new Wal(dir, opts);
    await wal.replayCheckpoint(onRecord);
    const report = await wal.replay(onRecord);
    await wal.openSegment(wal.segment, true);
    if (wal.syncIntervalMs > 0 && !wal.noSync) {
      wal.syncTimer = setInterval(() => wal.requestSync(), wal.syncIntervalMs);
      wal.syncTimer.unref();
    }
    return { wal, report };
  }

  /** Replays the newest complete checkpoint and removes leftovers of older or interrupted ones. */
  private async replayCheckpoint(onRecord: OnRecord): Promise<void> {
    const names = await readdir(this.dir);
    let best = -1;
    for (const n of names) {
      const m = CHECKPOINT_RE.exec(n);
      if (m !== null && Number(m[1]) > best) best = Number(m[1]);
    }
    for (const n of names) {
      const m = CHECKPOINT_RE.exec(n);
      if ((n.startsWith('checkpoint.') && m === null) || (m !== null && Number(m[1]) < best)) {
        await rm(join(this.dir, n), { recursive: true, force: true });
      }
    }
    if (best < 0) return;
    this.checkpointed = best;
    this.segment = best + 1;
    // A checkpoint is complete once renamed into place; a bad record in it still must not stop startup.
    const data = await readFile(join(this.dir, checkpointName(best), segmentName(0))).catch(() => Buffer.alloc(0));
    let off = 0;
    while (data.length - off >= RECORD_HEADER_BYTES) {
      const len = data.readUInt32LE(off);
      if (len === 0 || off + RECORD_HEADER_BYTES + len > data.length) break;
      const payload = data.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len);
      if (crc32(payload) !== data.readUInt32LE(off + 4)) break;
      onRecord(payload);
      off += RECORD_HEADER_BYTES + len;
    }
  }

  private async listSegments(): Promise<number[]> {
    const names = await readdir(this.dir);
    return names
      .filter((n) => /^\d{8}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  private async replay(onRecord: OnRecord): Promise<ReplayReport> {
    let segs = await this.listSegments();
    // Segments the checkpoint covers are leftovers of a crash between checkpoint and deletion.
    for (const n of segs) if (n <= this.checkpointed) await rm(join(this.dir, segmentName(n)), { force: true });
    segs = segs.filter((n) => n > this.checkpointed);
    const report: ReplayReport = { segments: segs.length, records: 0, bytes: 0, truncated: null };
    for (let i = 0; i < segs.length; i++) {
      const name = segmentName(segs[i]!);
      const path = join(this.dir, name);
      const data = await readFile(path);
      let off = 0;
      let reason = '';
      let segMax = -Infinity;
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
        const t = onRecord(payload);
        if (typeof t === 'number' && t > segMax) segMax = t;
        report.records++;
        off += RECORD_HEADER_BYTES + len;
      }
      report.bytes += off;
      this.segment = segs[i]!;
      this.segMaxT.set(segs[i]!, segMax);
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
    // Earlier segments were fsynced before rotation; an existing tail was replayed (so it is intact).
    this.committedPos = { segment: n, offset: st.size };
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

  /** Appends record payloads (whose newest sample time is `maxT`); resolves when they are written and (per the sync policy) fsynced. */
  log(payloads: Uint8Array[], maxT = -Infinity): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`WAL ${this.dir} is closed`));
    if (maxT > this.pendingMaxT) this.pendingMaxT = maxT;
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
      while (this.pending.length > 0 || this.rollRequested || this.syncRequested) {
        const bufs = this.pending;
        const bytes = this.pendingBytes;
        const waiters = this.waiters;
        const maxT = this.pendingMaxT;
        const roll = this.rollRequested;
        const syncNow = this.syncRequested;
        this.syncRequested = false;
        this.pending = [];
        this.pendingBytes = 0;
        this.pendingMaxT = -Infinity;
        this.waiters = [];
        this.rollRequested = false;
        try {
          if (this.size > 0 && (roll || this.size + bytes > this.segmentBytes)) await this.rotate();
          if (bytes === 0) {
            if (syncNow && this.unsynced > 0) await this.syncSegment();
            for (const w of waiters) w.resolve();
            continue;
          }
          // Recorded before the write: a segment's max may overstate, never understate (that would lose data).
          this.segMaxT.set(this.segment, Math.max(this.segMaxT.get(this.segment) ?? -Infinity, maxT));
          await this.writeAll(Buffer.concat(bufs, bytes));
          this.unsynced += bytes;
          if (this.syncIntervalMs === 0 || syncNow) await this.syncSegment();
          this.committedPos = { segment: this.segment, offset: this.size };
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

  /** fdatasync of the current segment (counted and timed for self-monitoring). */
  private async syncSegment(): Promise<void> {
    const t0 = performance.now();
    if (!this.noSync) await this.fh!.datasync();
    this.lastFsyncMs = performance.now() - t0;
    this.fsyncs++;
    this.unsynced = 0;
  }

  /** Periodic policy: asks the flush loop (which owns the file handle) for an fdatasync if anything is unsynced. */
  private requestSync(): void {
    if (this.closed || this.unsynced === 0) return;
    this.syncRequested = true;
    if (!this.flushing) void this.flushLoop();
  }

  private async rotate(): Promise<void> {
    if (!this.noSync) await this.fh!.datasync();
    this.unsynced = 0;
    await this.fh!.close();
    await this.openSegment(this.segment + 1, false);
  }

  segmentNumber(): number {
    return this.segment;
  }

  /** The end of what is written: segments before `segment` are complete, `segment` holds whole records up to `offset`. */
  committedPosition(): WalPosition {
    return this.committedPos;
  }

  /** The newest checkpoint's segment number (-1: none). */
  checkpointSegment(): number {
    return this.checkpointed;
  }

  /** Starts a new segment (through the flush loop, so it never races a write); resolves when done. */
  private roll(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`WAL ${this.dir} is closed`));
    this.rollRequested = true;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) void this.flushLoop();
    return done;
  }

  /**
   * Drops the segments whose every sample is older than `before` (they are in a block), after writing
   * `records()` (what replay still needs from them, e.g. series records) as checkpoint.N. Only a prefix of
   * segments can go; returns the number of segments deleted. `records` learns the last segment the
   * checkpoint covers; `maxSegment` bounds it (the agent deletes only what every remote queue has sent).
   */
  async checkpoint(before: number, records: (last: number) => Promise<Uint8Array[]>, maxSegment = Infinity): Promise<number> {
    await this.roll();
    const segs = (await this.listSegments()).filter((n) => n < this.segment && n <= maxSegment);
    let last = -1;
    for (const n of segs) {
      const t = this.segMaxT.get(n);
      if (t === undefined || t >= before) break;
      last = n;
    }
    if (last < 0) return 0;
    const name = checkpointName(last);
    const tmp = join(this.dir, name + '.tmp');
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    const recs = await records(last);
    const fh = await open(join(tmp, segmentName(0)), 'wx');
    try {
      const framed = recs.map((r) => Wal.frame(r));
      await fh.writeFile(Buffer.concat(framed));
      if (!this.noSync) await fh.sync();
    } finally {
      await fh.close();
    }
    if (!this.noSync) await syncDir(tmp);
    await rename(tmp, join(this.dir, name));
    if (!this.noSync) await syncDir(this.dir);
    this.checkpointed = last;
    let deleted = 0;
    for (const n of segs) {
      if (n > last) break;
      await rm(join(this.dir, segmentName(n)), { force: true });
      this.segMaxT.delete(n);
      deleted++;
    }
    for (const n of await readdir(this.dir)) {
      const m = CHECKPOINT_RE.exec(n);
      if (m !== null && Number(m[1]) < last) await rm(join(this.dir, n), { recursive: true, force: true });
    }
    return deleted;
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
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    // Periodic policy: what the last interval wrote is made durable before the file is closed.
    if (this.unsynced > 0 && this.fh !== null && !this.noSync) await this.fh.datasync().catch(() => undefined);
    this.unsynced = 0;
    this.closed = true;
    await this.fh?.close();
    this.fh = null;
  }
}

function checkpointName(n: number): string {
  return `checkpoint.${segmentName(n)}`;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
