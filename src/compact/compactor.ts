/**
 * The bucket compactor. One run (`runOnce`):
 *
 *  1. sync: list the bucket, load metas and marks, delete abandoned partial uploads;
 *  2. mark redundant blocks: a block whose compaction sources are all contained in another unmarked block
 *     of its group was already compacted (a crash came between upload and marking its sources);
 *  3. compact: per group, plan (vertical first, then leveled horizontal) and compact, one plan at a time,
 *     re-syncing after each, until no group has anything left to do;
 *  4. the downsampling hook, if configured;
 *  5. retention: mark blocks older than their resolution's retention;
 *  6. delete blocks whose deletion mark is older than the delete delay.
 *
 * Memory: per compaction, the source blocks' index files (whole) and one chunk read window per source, the
 * new block's labels and chunk metas (for its index), and one series' chunks at a time. Sample data of a
 * series is decoded only where chunks overlap.
 *
 * One compactor per bucket (as with Thanos): two compactors on the same groups would both compact them.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bucket } from '../objstore/index.js';
import type { BlockMeta } from '../tsdb/block/index.js';
import { nopLogger, type Logger } from '../util/log.js';
import { compactPlan, type CompactionResult } from './group.js';
import { markForDeletion, markNoCompact } from './markers.js';
import { BlockDataError } from './errors.js';
import { DEFAULT_RANGES, groupOf, planGroup, type CompactionGroup, type Plan } from './planner.js';
import { checkRetentionPolicy, expiredBlocks, type RetentionPolicy } from './retention.js';
import { BucketSyncer, deleteBlockObjects, type BlockEntry, type SyncResult } from './sync.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** What the downsampling hook gets: the bucket, a work directory of its own, and the live blocks. */
export interface DownsampleHookContext {
  bucket: Bucket;
  /** `<work dir>/downsample`, created and emptied before each call. */
  workDir: string;
  logger: Logger;
  /** Blocks with meta.json and without a deletion mark, after this run's compactions. */
  metas: BlockMeta[];
  now: number;
  signal: AbortSignal;
}

export interface CompactorOptions {
  bucket: Bucket;
  /**
   * Local scratch space: `<workDir>/compact` (and `/downsample`) are emptied at the start and removed at
   * the end of each run, so one compactor per directory. Default: a temp dir of its own for each run.
   */
  workDir?: string;
  logger?: Logger;
  /** Block ranges in ms, each a multiple of the previous (default 2h, 8h, 2d). */
  ranges?: readonly number[];
  /** Blocks without meta.json younger than this may still be uploading (default 30 min). */
  consistencyDelayMs?: number;
  /** Blocks without meta.json older than this are deleted (default 48 h, Thanos's threshold). */
  partialUploadThresholdMs?: number;
  /** Time between a deletion mark and the deletion, so that readers can let go (default 48 h). */
  deleteDelayMs?: number;
  /** Retention per resolution in ms (0 = forever, the default). */
  retention?: RetentionPolicy;
  /** External labels ignored when grouping (the HA replica label), so replicas' blocks are deduplicated. */
  replicaLabels?: readonly string[];
  /** Called after compaction in each run (downsampling); its failure is logged and counted. */
  downsample?: (ctx: DownsampleHookContext) => Promise<unknown>;
  /** Clock (ms since the epoch); tests move it. */
  now?: () => number;
  /** Read-ahead window per source block (default 4 MiB). */
  chunkWindowBytes?: number;
  /** Upper bound on compactions in one run (default 1000). */
  maxCompactionsPerRun?: number;
}

/** Plain counters; the server exposes them as argus_compact_* metrics. */
export interface CompactorMetrics {
  runs: number;
  runFailures: number;
  compactions: number;
  verticalCompactions: number;
  compactionFailures: number;
  blocksCompacted: number;
  blocksUploaded: number;
  bytesRead: number;
  bytesUploaded: number;
  seriesWritten: number;
  samplesWritten: number;
  chunksCopied: number;
  chunksEncoded: number;
  duplicateSamples: number;
  conflictingSamples: number;
  deletionMarks: number;
  redundantMarks: number;
  retentionMarks: number;
  noCompactMarks: number;
  blocksDeleted: number;
  partialBlocksDeleted: number;
  downsampleRuns: number;
  downsampleFailures: number;
  lastRunDurationMs: number;
  /** ms since the epoch of the last run without errors (0 before). */
  lastSuccessfulRun: number;
}

export interface RunSummary {
  compactions: CompactionResult[];
  redundantMarked: string[];
  retentionMarked: string[];
  deleted: string[];
  partialDeleted: string[];
  /** Failures that did not stop the run (a group, a deletion), one line each. */
  errors: string[];
  durationMs: number;
}

function newMetrics(): CompactorMetrics {
  return {
    runs: 0,
    runFailures: 0,
    compactions: 0,
    verticalCompactions: 0,
    compactionFailures: 0,
    blocksCompacted: 0,
    blocksUploaded: 0,
    bytesRead: 0,
    bytesUploaded: 0,
    seriesWritten: 0,
    samplesWritten: 0,
    chunksCopied: 0,
    chunksEncoded: 0,
    duplicateSamples: 0,
    conflictingSamples: 0,
    deletionMarks: 0,
    redundantMarks: 0,
    retentionMarks: 0,
    noCompactMarks: 0,
    blocksDeleted: 0,
    partialBlocksDeleted: 0,
    downsampleRuns: 0,
    downsampleFailures: 0,
    lastRunDurationMs: 0,
    lastSuccessfulRun: 0,
  };
}

export class Compactor {
  readonly metrics: CompactorMetrics = newMetrics();
  private readonly bucket: Bucket;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly ranges: readonly number[];
  private readonly deleteDelayMs: number;
  private readonly retention: RetentionPolicy;
  private readonly replicaLabels: readonly string[];
  private readonly syncer: BucketSyncer;
  private workDir: string | undefined;
  private running: Promise<RunSummary> | null = null;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;

  constructor(private readonly opts: CompactorOptions) {
    this.bucket = opts.bucket;
    this.log = (opts.logger ?? nopLogger).with({ component: 'compact', bucket: opts.bucket.name });
    this.now = opts.now ?? Date.now;
    this.ranges = opts.ranges ?? DEFAULT_RANGES;
    planGroup([], new Set(), this.ranges); // validates the ranges now rather than in the first run
    this.deleteDelayMs = nonNegative(opts.deleteDelayMs ?? 48 * HOUR, 'deleteDelayMs');
    this.retention = opts.retention ?? {};
    checkRetentionPolicy(this.retention);
    this.replicaLabels = opts.replicaLabels ?? [];
    this.workDir = opts.workDir;
    this.syncer = new BucketSyncer(this.bucket, {
      logger: this.log,
      now: this.now,
      consistencyDelayMs: nonNegative(opts.consistencyDelayMs ?? 30 * MINUTE, 'consistencyDelayMs'),
      partialUploadThresholdMs: nonNegative(opts.partialUploadThresholdMs ?? 48 * HOUR, 'partialUploadThresholdMs'),
      deleteDelayMs: this.deleteDelayMs,
    });
  }

  /**
   * One full pass; concurrent calls share the run in progress. Rejects when the run cannot go on (the
   * bucket cannot be listed or a meta.json cannot be fetched, or `stop()` aborted it); failures of single
   * groups, marks or deletions are logged and listed in the summary's `errors`.
   */
  runOnce(): Promise<RunSummary> {
    if (this.running) return this.running;
    const ac = new AbortController();
    this.abort = ac;
    const p = this.run(ac.signal).finally(async () => {
      await this.cleanScratch();
      this.running = null;
      this.abort = null;
    });
    this.running = p;
    return p;
  }

  /** Runs now and then every `intervalMs` after the previous run ended. */
  start(intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError(`compactor interval ${intervalMs} ms must be positive`);
    if (!this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      this.timer = null;
      this.runOnce()
        .catch(() => undefined) // logged and counted by run()
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
  }

  /** Stops the schedule and aborts a run in progress; what it left in the bucket is recovered by the next run. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort(new Error('compactor stopped'));
    await this.running?.catch(() => undefined);
  }

  /** Removes what a run put in the work directory (all of it when the directory is our own temp dir). */
  private async cleanScratch(): Promise<void> {
    const root = this.workDir;
    if (root === undefined) return;
    try {
      if (this.opts.workDir === undefined) {
        await rm(root, { recursive: true, force: true });
        this.workDir = undefined;
      } else {
        for (const sub of ['compact', 'downsample']) await rm(join(root, sub), { recursive: true, force: true });
      }
    } catch (err) {
      this.log.warn('cannot clean the compactor work directory', { dir: root, err });
    }
  }

  private async scratch(sub: string): Promise<string> {
    if (this.workDir === undefined) this.workDir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
    const dir = join(this.workDir, sub);
    // Leftovers of a crashed run are useless: everything is recomputed from the bucket.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  private async run(signal: AbortSignal): Promise<RunSummary> {
    const started = performance.now();
    const m = this.metrics;
    m.runs++;
    const summary: RunSummary = { compactions: [], redundantMarked: [], retentionMarked: [], deleted: [], partialDeleted: [], errors: [], durationMs: 0 };
    const fail = (what: string, err: unknown, fields: Record<string, unknown> = {}): void => {
      summary.errors.push(`${what}: ${(err as Error).message}`);
      this.log.error(what, { ...fields, err });
    };
    try {
      const workDir = await this.scratch('compact');
      let state = await this.sync(signal, summary);
      await this.markRedundant(state, summary, fail);

      const failedGroups = new Set<string>();
      const limit = this.opts.maxCompactionsPerRun ?? 1000;
      for (let n = 0; n < limit; n++) {
        const next = this.nextPlan(state, failedGroups);
        if (next === null) break;
        signal.throwIfAborted();
        try {
          const res = await compactPlan(next.group, next.plan, {
            bucket: this.bucket,
            workDir,
            logger: this.log,
            now: this.now,
            signal,
            ...(this.opts.chunkWindowBytes !== undefined ? { chunkWindowBytes: this.opts.chunkWindowBytes } : {}),
          });
          summary.compactions.push(res);
          this.count(res);
        } catch (err) {
          if (signal.aborted) throw err;
          m.compactionFailures++;
          failedGroups.add(next.group.key);
          const blocks = next.plan.blocks.map((b) => b.ulid).join(',');
          fail('compaction failed; group skipped until the next run', err, { group: next.group.key, blocks });
          if (err instanceof BlockDataError) await this.excludeBroken(err, fail);
        }
        state = await this.sync(signal, summary);
        await this.markRedundant(state, summary, fail);
      }

      if (this.opts.downsample) {
        signal.throwIfAborted();
        const t0 = performance.now();
        m.downsampleRuns++;
        try {
          const metas = state.blocks.filter((b) => !b.deletionMark).map((b) => b.meta);
          await this.opts.downsample({ bucket: this.bucket, workDir: await this.scratch('downsample'), logger: this.log, metas, now: this.now(), signal });
          this.log.info('downsampling step done', { blocks: metas.length, duration_ms: Math.round(performance.now() - t0) });
        } catch (err) {
          if (signal.aborted) throw err;
          m.downsampleFailures++;
          fail('downsampling step failed', err);
        }
        state = await this.sync(signal, summary);
      }

      await this.applyRetention(state, summary, fail);
      await this.deleteMarked(state, summary, fail, signal);
    } catch (err) {
      m.runFailures++;
      m.lastRunDurationMs = performance.now() - started;
      this.log.error(signal.aborted ? 'compaction run aborted' : 'compaction run failed', { err, duration_ms: Math.round(m.lastRunDurationMs) });
      throw err;
    }
    summary.durationMs = m.lastRunDurationMs = performance.now() - started;
    if (summary.errors.length > 0) m.runFailures++;
    else m.lastSuccessfulRun = this.now();
    this.log.info('compaction run done', {
      compactions: summary.compactions.length,
      redundant_marked: summary.redundantMarked.length,
      retention_marked: summary.retentionMarked.length,
      deleted: summary.deleted.length,
      partial_deleted: summary.partialDeleted.length,
      errors: summary.errors.length,
      duration_ms: Math.round(summary.durationMs),
    });
    return summary;
  }

  private async sync(signal: AbortSignal, summary: RunSummary): Promise<SyncResult> {
    const state = await this.syncer.sync(signal);
    summary.partialDeleted.push(...state.deletedPartial);
    this.metrics.partialBlocksDeleted += state.deletedPartial.length;
    return state;
  }

  private count(res: CompactionResult): void {
    const m = this.metrics;
    m.compactions++;
    if (res.kind === 'vertical') m.verticalCompactions++;
    m.blocksCompacted += res.sources.length;
    m.deletionMarks += res.sources.length;
    m.bytesRead += res.bytesRead;
    m.bytesUploaded += res.bytesUploaded;
    m.chunksCopied += res.stats.chunksCopied;
    m.chunksEncoded += res.stats.chunksEncoded;
    m.duplicateSamples += res.stats.duplicateSamples;
    m.conflictingSamples += res.stats.conflictingSamples;
    if (res.block) {
      m.blocksUploaded++;
      m.seriesWritten += res.block.stats.numSeries ?? 0;
      m.samplesWritten += res.block.stats.numSamples ?? 0;
    }
  }

  /** Groups of the live blocks (no deletion mark). */
  private groups(state: SyncResult): Map<string, { group: CompactionGroup; blocks: BlockEntry[] }> {
    const out = new Map<string, { group: CompactionGroup; blocks: BlockEntry[] }>();
    for (const b of state.blocks) {
      if (b.deletionMark) continue;
      const g = groupOf(b.meta, this.replicaLabels);
      let e = out.get(g.key);
      if (e === undefined) out.set(g.key, (e = { group: g, blocks: [] }));
      e.blocks.push(b);
    }
    return out;
  }

  private nextPlan(state: SyncResult, failed: ReadonlySet<string>): { group: CompactionGroup; plan: Plan } | null {
    const groups = [...this.groups(state).values()].sort((a, b) => (a.group.key < b.group.key ? -1 : 1));
    for (const { group, blocks } of groups) {
      if (failed.has(group.key)) continue;
      const noCompact = new Set(blocks.filter((b) => b.noCompactMark).map((b) => b.meta.ulid));
      const plan = planGroup(
        blocks.map((b) => b.meta),
        noCompact,
        this.ranges,
      );
      if (plan !== null) return { group, plan };
    }
    return null;
  }

  /**
   * Marks blocks whose sources are all in another live block of the same group: their data is there
   * already. Of blocks with identical sources the one with the smallest ULID stays.
   */
  private async markRedundant(state: SyncResult, summary: RunSummary, fail: (what: string, err: unknown, f?: Record<string, unknown>) => void): Promise<void> {
    for (const { group, blocks } of this.groups(state).values()) {
      const bySource = new Map<string, BlockEntry[]>();
      const sourcesOf = (b: BlockEntry): string[] => (b.meta.compaction.sources?.length ? b.meta.compaction.sources : [b.meta.ulid]);
      for (const b of blocks) for (const s of sourcesOf(b)) (bySource.get(s) ?? bySource.set(s, []).get(s)!).push(b);
      for (const b of blocks) {
        const mine = sourcesOf(b);
        const cover = bySource.get(mine[0]!)!.find((o) => {
          if (o === b || o.deletionMark) return false;
          const theirs = new Set(sourcesOf(o));
          if (!mine.every((s) => theirs.has(s))) return false;
          return theirs.size > new Set(mine).size || o.meta.ulid < b.meta.ulid;
        });
        if (cover === undefined) continue;
        try {
          await markForDeletion(this.bucket, b.meta.ulid, this.now(), `sources contained in block ${cover.meta.ulid}`);
        } catch (err) {
          fail('cannot mark a redundant block for deletion', err, { block: b.meta.ulid });
          continue;
        }
        b.deletionMark = { id: b.meta.ulid, deletion_time: Math.floor(this.now() / 1000), version: 1 };
        this.metrics.redundantMarks++;
        this.metrics.deletionMarks++;
        summary.redundantMarked.push(b.meta.ulid);
        this.log.info('marked block for deletion: its data is already in another block', {
          group: group.key,
          block: b.meta.ulid,
          covered_by: cover.meta.ulid,
        });
      }
    }
  }

  /** A block with bad data gets a no-compact mark, so one broken block does not stop its group forever. */
  private async excludeBroken(err: BlockDataError, fail: (what: string, err: unknown, f?: Record<string, unknown>) => void): Promise<void> {
    try {
      await markNoCompact(this.bucket, err.ulid, this.now(), 'block-data-error', err.message);
      this.metrics.noCompactMarks++;
      this.log.warn('marked block no-compact after a data error; its group compacts around it', { block: err.ulid });
    } catch (e) {
      fail('cannot write a no-compact mark', e, { block: err.ulid });
    }
  }

  private async applyRetention(state: SyncResult, summary: RunSummary, fail: (what: string, err: unknown, f?: Record<string, unknown>) => void): Promise<void> {
    const live = state.blocks.filter((b) => !b.deletionMark);
    const now = this.now();
    for (const meta of expiredBlocks(
      live.map((b) => b.meta),
      now,
      this.retention,
    )) {
      try {
        await markForDeletion(this.bucket, meta.ulid, now, 'retention');
      } catch (err) {
        fail('cannot mark an expired block for deletion', err, { block: meta.ulid });
        continue;
      }
      const entry = live.find((b) => b.meta.ulid === meta.ulid)!;
      entry.deletionMark = { id: meta.ulid, deletion_time: Math.floor(now / 1000), version: 1 };
      summary.retentionMarked.push(meta.ulid);
      this.metrics.retentionMarks++;
      this.metrics.deletionMarks++;
      this.log.info('marked block for deletion: past retention', {
        block: meta.ulid,
        resolution: meta.thanos?.downsample?.resolution ?? 0,
        max_time: new Date(meta.maxTime).toISOString(),
      });
    }
  }

  private async deleteMarked(
    state: SyncResult,
    summary: RunSummary,
    fail: (what: string, err: unknown, f?: Record<string, unknown>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const now = this.now();
    for (const b of state.blocks) {
      const mark = b.deletionMark;
      if (!mark || now - mark.deletion_time * 1000 < this.deleteDelayMs) continue;
      signal.throwIfAborted();
      try {
        await deleteBlockObjects(this.bucket, b.meta.ulid, b.keys);
      } catch (err) {
        fail('cannot delete a marked block; retried next run', err, { block: b.meta.ulid });
        continue;
      }
      summary.deleted.push(b.meta.ulid);
      this.metrics.blocksDeleted++;
      this.log.info('deleted block marked for deletion', {
        block: b.meta.ulid,
        marked_at: new Date(mark.deletion_time * 1000).toISOString(),
        objects: b.keys.length,
      });
    }
  }
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`compactor option ${name}: ${v} must be a non-negative number of ms`);
  return v;
}
