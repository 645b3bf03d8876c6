/**
 * Tails the agent's WAL for one queue (Prometheus's wlog watcher, our own way): from a start position it
 * reads the durable part of the segments in order, hands series records and samples records to the queue
 * and waits for the next commit at the end. Before the start position only series records matter (a
 * sample after the start may belong to a series recorded long before), so startup reads the newest
 * checkpoint and the older segments for series only. When a new checkpoint appears, series that neither
 * it nor a later segment mention are forgotten (the agent collected them; nothing after refers to them).
 */
import type { Labels } from '../../model/labels.js';
import { REC_SAMPLES, REC_SERIES, SamplesRecordDecoder, decodeSeriesRecord, type SamplesColumns } from '../../tsdb/wal/records.js';
import type { Logger } from '../../util/log.js';
import type { AgentStorage } from '../storage/agent-storage.js';
import { SegmentCursor, WalCorruptionError, comparePositions, readWholeFile, segmentSize, type WalPosition } from '../storage/segments.js';

export interface WatcherSink {
  /** A series record (labels as stored in the WAL). */
  series(ref: number, labels: Labels, segment: number): void;
  /** Forget series last seen at or before `segment` and not in `keep`. */
  forgetSeries(segment: number, keep: ReadonlySet<number>): void;
  /** A samples record ending at `end` of `segment`; may wait (bounded queues). */
  samples(cols: SamplesColumns, segment: number, end: number): Promise<void>;
  /** A record without samples for the queue ending at `end` of `segment`. */
  other(segment: number, end: number): void;
  /** The watcher moved to the start of `segment`. */
  enterSegment(segment: number): void;
}

const POLL_MS = 1000;

export class WalWatcher {
  private stopped = false;
  private wake: (() => void) | null = null;
  private checkpointSeen = -1;
  /** Next record to read. */
  pos: WalPosition;
  /** Damage met while tailing (records skipped), for metrics. */
  corruptions = 0;
  /** Samples columns are handed to the sink one record at a time (it awaits), so one set is reused. */
  private readonly samplesDecoder = new SamplesRecordDecoder();

  constructor(
    private readonly storage: AgentStorage,
    start: WalPosition,
    private readonly sink: WatcherSink,
    private readonly logger: Logger,
  ) {
    this.pos = { ...start };
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Runs until `stop()`. */
  async run(): Promise<void> {
    await this.loadSeriesBefore(this.pos);
    let cursor: SegmentCursor | null = null;
    try {
      while (!this.stopped) {
        const cp = this.storage.checkpointSegment();
        if (cp > this.checkpointSeen) await this.reloadCheckpoint(cp);
        const committed = this.storage.committed();
        if (this.pos.segment > committed.segment || (this.pos.segment === committed.segment && this.pos.offset >= committed.offset)) {
          await this.waitForCommit(committed);
          continue;
        }
        const finished = this.pos.segment < committed.segment;
        if (cursor === null) {
          try {
            cursor = await SegmentCursor.open(this.storage.segmentPath(this.pos.segment), this.pos.offset);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !finished) throw err;
            // Deleted under us: only possible when this queue's position was ignored by truncation.
            this.logger.error('remote write: WAL segment is gone before it was sent; moving to the next one', { segment: this.pos.segment });
            await this.nextSegment();
            continue;
          }
        }
        // A finished segment is read to its end; the open one to the committed offset (a record boundary).
        const limit = finished ? await segmentSize(this.storage.walDir, this.pos.segment) : committed.offset;
        try {
          await this.readRecords(cursor, limit);
        } catch (err) {
          if (!(err instanceof WalCorruptionError)) throw err;
          // Startup cut torn tails, so this is damage in the middle of the log: skip to the next segment.
          this.corruptions++;
          this.logger.error('remote write: damaged WAL record; skipping the rest of the segment', { err: err.message });
          if (!finished) {
            await this.waitForCommit(committed);
            continue;
          }
          this.pos.offset = limit;
        }
        if (this.stopped) break;
        if (finished && this.pos.offset >= limit) {
          await cursor.close();
          cursor = null;
          await this.nextSegment();
        }
      }
    } finally {
      await cursor?.close();
    }
  }

  private async nextSegment(): Promise<void> {
    const next = (await this.storage.segments()).find((n) => n > this.pos.segment);
    this.pos = { segment: next ?? this.pos.segment + 1, offset: 0 };
    this.sink.enterSegment(this.pos.segment);
  }

  private async readRecords(cursor: SegmentCursor, limit: number): Promise<void> {
    const seg = this.pos.segment;
    while (!this.stopped) {
      const rec = await cursor.next(limit);
      if (rec === null) return;
      const end = cursor.pos;
      this.handle(rec, seg, end);
      if (rec[0] === REC_SAMPLES) {
        let cols: SamplesColumns | null = null;
        try {
          cols = this.samplesDecoder.decode(rec);
        } catch (err) {
          this.logger.error('remote write: undecodable samples record in the WAL; skipped', { segment: seg, offset: this.pos.offset, err: (err as Error).message });
        }
        if (cols !== null) await this.sink.samples(cols, seg, end);
        else this.sink.other(seg, end);
      } else {
        this.sink.other(seg, end);
      }
      this.pos.offset = end;
    }
  }

  /** Series records are applied here; samples are the caller's (or skipped before the start). */
  private handle(rec: Uint8Array, seg: number, offset: number): void {
    if (rec[0] !== REC_SERIES) return;
    try {
      decodeSeriesRecord(rec, (ref, labels) => this.sink.series(ref, labels, seg));
    } catch (err) {
      this.logger.error('remote write: undecodable series record in the WAL; skipped', { segment: seg, offset, err: (err as Error).message });
    }
  }

  private async waitForCommit(seen: WalPosition): Promise<void> {
    if (this.stopped || comparePositions(this.storage.committed(), seen) !== 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        off();
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, POLL_MS);
      const off = this.storage.onCommit(done);
      this.wake = done;
    });
  }

  private async reloadCheckpoint(cp: number): Promise<void> {
    const keep = new Set<number>();
    const path = this.storage.checkpointFile();
    let bad = 0;
    const { damage } = await readWholeFile(path, (rec) => {
      if (rec[0] !== REC_SERIES) return;
      try {
        decodeSeriesRecord(rec, (ref, labels) => {
          keep.add(ref);
          this.sink.series(ref, labels, cp);
        });
      } catch {
        bad++;
      }
    });
    if (bad > 0) this.logger.error('remote write: undecodable series records in the WAL checkpoint; skipped', { checkpoint: cp, records: bad });
    if (damage !== null) this.logger.error('remote write: damaged WAL checkpoint; some series may be unknown', { err: damage });
    this.sink.forgetSeries(cp, keep);
    this.checkpointSeen = cp;
  }

  /** Reads series records (only) from the checkpoint and every segment up to `start`. */
  private async loadSeriesBefore(start: WalPosition): Promise<void> {
    const cp = this.storage.checkpointSegment();
    if (cp >= 0) await this.reloadCheckpoint(cp);
    for (const seg of await this.storage.segments()) {
      if (this.stopped || seg > start.segment) return;
      if (seg <= this.checkpointSeen) continue;
      const limit = seg === start.segment ? start.offset : await segmentSize(this.storage.walDir, seg);
      let cursor: SegmentCursor;
      try {
        cursor = await SegmentCursor.open(this.storage.segmentPath(seg), 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // Truncated while we read (another queue moved on): the new checkpoint holds what we need.
        const now = this.storage.checkpointSegment();
        if (now > this.checkpointSeen) await this.reloadCheckpoint(now);
        continue;
      }
      try {
        for (;;) {
          const rec = await cursor.next(limit);
          if (rec === null) break;
          this.handle(rec, seg, cursor.pos);
        }
      } catch (err) {
        if (!(err instanceof WalCorruptionError)) throw err;
        this.corruptions++;
        this.logger.error('remote write: damaged WAL record while loading series; skipping the rest of the segment', { err: err.message });
      } finally {
        await cursor.close();
      }
    }
  }
}
