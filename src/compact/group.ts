/**
 * One compaction: merge a plan's blocks from the bucket into a new block in the work directory, upload it,
 * then mark the sources for deletion.
 *
 * Order, and why a crash at any point is safe (a reader ignores blocks without meta.json and blocks with a
 * deletion mark, and merges overlapping blocks):
 *  1. the new block is written locally (nothing in the bucket changes);
 *  2. its chunk segments and index are uploaded, meta.json LAST: until meta.json exists the new folder is a
 *     partial block that readers and the compactor ignore, and the sources still hold all the data;
 *     an abandoned partial upload is deleted by a later sync;
 *  3. only then are the sources marked for deletion. Between 2 and 3 the data is visible twice (new block
 *     and sources), which overlap and are deduplicated by readers; the next run marks sources whose
 *     compaction sources are all contained in another block of the group (see Compactor), so a crash here
 *     never leads to compacting the same data again.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bucket } from '../objstore/index.js';
import { META_FILENAME, encodeMeta, newUlid, writeBlockStream, type BlockDesc, type BlockMeta, type ThanosMeta } from '../tsdb/block/index.js';
import type { Logger } from '../util/log.js';
import { markForDeletion } from './markers.js';
import { mergeSeries, newMergeStats, type MergeStats } from './merge.js';
import type { CompactionGroup, Plan } from './planner.js';
import { BucketBlockReader } from './source.js';

export interface CompactionResult {
  group: string;
  kind: Plan['kind'];
  sources: string[];
  /** The new block's meta, or null when the merge left no series (sources only marked). */
  block: BlockMeta | null;
  stats: MergeStats;
  bytesRead: number;
  bytesUploaded: number;
  durationMs: number;
}

export interface CompactOptions {
  bucket: Bucket;
  /** Local directory for the new block (created; the block folder is removed after upload). */
  workDir: string;
  logger: Logger;
  now: () => number;
  chunkWindowBytes?: number;
  signal?: AbortSignal;
  /** Thanos `source` of the new block (default "compactor"). */
  source?: string;
}

/** Runs one plan of one group. Throws on any failure; what is already in the bucket stays safe (above). */
export async function compactPlan(group: CompactionGroup, plan: Plan, opts: CompactOptions): Promise<CompactionResult> {
  const { bucket, logger: log, signal } = opts;
  const started = performance.now();
  const metas = plan.blocks;
  const readers: BucketBlockReader[] = [];
  for (const m of metas) readers.push(await BucketBlockReader.open(bucket, m, opts.chunkWindowBytes, signal));

  const minT = Math.min(...metas.map((m) => m.minTime));
  const maxT = Math.max(...metas.map((m) => m.maxTime));
  const sources = [...new Set(metas.flatMap((m) => (m.compaction.sources && m.compaction.sources.length > 0 ? m.compaction.sources : [m.ulid])))].sort();
  const parents: BlockDesc[] = metas.map((m) => ({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime }));
  const level = Math.max(...metas.map((m) => m.compaction.level)) + 1;
  const thanos: ThanosMeta = { labels: group.labels, downsample: { resolution: group.resolution }, source: opts.source ?? 'compactor' };
  const ulid = newUlid(opts.now());
  const stats = newMergeStats();
  const srcList = metas.map((m) => m.ulid);
  log.info('compacting blocks', {
    group: group.key,
    kind: plan.kind,
    range: plan.range,
    blocks: srcList.join(','),
    min_time: minT,
    max_time: maxT,
    new_block: ulid,
    level,
  });

  const meta = await writeBlockStream(opts.workDir, mergeSeries(readers, { stats, signal }), {
    minT,
    maxT,
    ulid,
    compaction: { level, sources, parents },
    thanos,
  });
  const bytesRead = readers.reduce((n, r) => n + r.bytesRead, 0);
  const dir = join(opts.workDir, ulid);
  let bytesUploaded = 0;
  try {
    if ((meta.stats.numSeries ?? 0) === 0) {
      // Everything was deleted by tombstones: nothing to upload, and nothing in the sources to keep.
      log.info('compaction produced no series; marking the sources for deletion without a new block', { group: group.key, blocks: srcList.join(',') });
      for (const m of metas) await markForDeletion(bucket, m.ulid, opts.now(), 'compacted into an empty result');
      return { group: group.key, kind: plan.kind, sources: srcList, block: null, stats, bytesRead, bytesUploaded, durationMs: performance.now() - started };
    }
    const files = await blockFiles(dir);
    for (const f of files) {
      signal?.throwIfAborted();
      await bucket.putFile(`${ulid}/${f.relPath}`, join(dir, f.relPath));
      bytesUploaded += f.size;
    }
    const uploaded: BlockMeta = {
      ...meta,
      thanos: {
        ...thanos,
        segment_files: files.filter((f) => f.relPath.startsWith('chunks/')).map((f) => f.relPath.slice('chunks/'.length)),
        files: [...files.map((f) => ({ rel_path: f.relPath, size_bytes: f.size })), { rel_path: META_FILENAME }].sort((a, b) =>
          a.rel_path < b.rel_path ? -1 : a.rel_path > b.rel_path ? 1 : 0,
        ),
      },
    };
    const metaBytes = new TextEncoder().encode(encodeMeta(uploaded));
    signal?.throwIfAborted();
    await bucket.put(`${ulid}/${META_FILENAME}`, metaBytes);
    bytesUploaded += metaBytes.length;
    for (const m of metas) await markForDeletion(bucket, m.ulid, opts.now(), `compacted into ${ulid}`);
    const durationMs = performance.now() - started;
    log.info('compacted blocks', {
      group: group.key,
      kind: plan.kind,
      blocks: srcList.join(','),
      new_block: ulid,
      min_time: minT,
      max_time: maxT,
      level,
      series: meta.stats.numSeries,
      samples: meta.stats.numSamples,
      chunks: meta.stats.numChunks,
      chunks_copied: stats.chunksCopied,
      chunks_encoded: stats.chunksEncoded,
      duplicate_samples: stats.duplicateSamples,
      conflicting_samples: stats.conflictingSamples,
      deleted_samples: stats.deletedSamples,
      bytes_read: bytesRead,
      bytes_uploaded: bytesUploaded,
      duration_ms: Math.round(durationMs),
    });
    if (stats.conflictingSamples > 0) {
      log.warn('sources disagreed on sample values at equal timestamps; kept the larger bit pattern', {
        group: group.key,
        new_block: ulid,
        conflicting_samples: stats.conflictingSamples,
      });
    }
    return { group: group.key, kind: plan.kind, sources: srcList, block: uploaded, stats, bytesRead, bytesUploaded, durationMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The block's files to upload, meta.json and the (empty) tombstones left out: chunk segments, then index. */
async function blockFiles(dir: string): Promise<{ relPath: string; size: number }[]> {
  const out: { relPath: string; size: number }[] = [];
  for (const name of (await readdir(join(dir, 'chunks'))).sort()) {
    out.push({ relPath: `chunks/${name}`, size: (await stat(join(dir, 'chunks', name))).size });
  }
  out.push({ relPath: 'index', size: (await stat(join(dir, 'index'))).size });
  return out;
}
