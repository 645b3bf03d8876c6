/**
 * downsampleStep: the compactor's downsampling hook. For every block the plan picks, it downloads the
 * block from the bucket, downsamples it locally, and uploads the result the way Thanos does: chunk
 * segments and index first, meta.json last, so a block without meta.json is known to be incomplete and a
 * crash mid-upload leaves nothing that readers or the planner take for a block. Blocks that cannot be
 * downsampled because they hold no sample get a Thanos `no-downsample-mark.json`, so they are not
 * downloaded again on every run.
 *
 * Two passes, as Thanos's compactor makes them: 5m blocks created in the first pass can get their 1h
 * version in the second.
 */
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Bucket } from '../../objstore/index.js';
import { META_FILENAME, decodeMeta, encodeMeta, type BlockMeta } from '../../tsdb/block/index.js';
import type { Logger } from '../../util/log.js';
import { downsampleBlock } from './block.js';
import { planDownsampling, type DownsampleJob, type DownsamplePlanOptions } from './plan.js';

export const NO_DOWNSAMPLE_MARK = 'no-downsample-mark.json';
/** Downloads go in pieces of this size, so a 512 MiB segment never sits in memory whole. */
const DOWNLOAD_PIECE = 8 * 1024 * 1024;

export interface DownsampleContext {
  bucket: Bucket;
  /** Local scratch directory; created if missing, emptied of what this step put there. */
  workDir: string;
  logger: Logger;
  /** The blocks in the bucket (without those marked for deletion). A Map keyed by ULID is accepted too. */
  metas: Iterable<BlockMeta> | ReadonlyMap<string, BlockMeta>;
  signal?: AbortSignal;
  /** Milliseconds since the epoch (default Date.now()); used for the consistency delay and markers. */
  now?: number;
  options?: DownsamplePlanOptions;
}

/** Runs the downsampling passes and returns the metas of the blocks it uploaded. */
export async function downsampleStep(ctx: DownsampleContext): Promise<BlockMeta[]> {
  const { logger } = ctx;
  const now = ctx.now ?? Date.now();
  const all: BlockMeta[] = isMap(ctx.metas) ? [...ctx.metas.values()] : [...ctx.metas];
  const created: BlockMeta[] = [];
  const failures: string[] = [];
  const tried = new Set<string>();
  await mkdir(ctx.workDir, { recursive: true });
  for (let pass = 0; pass < 2; pass++) {
    const jobs = planDownsampling(all, now, ctx.options).filter((j) => !tried.has(j.meta.ulid));
    if (jobs.length === 0) break;
    for (const job of jobs) {
      ctx.signal?.throwIfAborted();
      tried.add(job.meta.ulid);
      try {
        const meta = await runJob(ctx, job, now);
        if (meta !== null) {
          created.push(meta);
          all.push(meta);
        }
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        failures.push(`${job.meta.ulid} to ${job.resolution} ms: ${(err as Error).message}`);
        logger.error('downsampling failed; the block is left as it is and retried on the next run', {
          block: job.meta.ulid,
          resolution: job.resolution,
          err: err as Error,
        });
      }
    }
  }
  if (failures.length > 0) throw new Error(`downsampling failed for ${failures.length} block(s): ${failures.join('; ')}`);
  return created;
}

async function runJob(ctx: DownsampleContext, job: DownsampleJob, now: number): Promise<BlockMeta | null> {
  const { bucket, logger } = ctx;
  const id = job.meta.ulid;
  if (await bucket.exists(`${id}/${NO_DOWNSAMPLE_MARK}`)) {
    logger.debug('block is marked for no downsampling; skipped', { block: id });
    return null;
  }
  if (!(await bucket.exists(`${id}/${META_FILENAME}`))) {
    logger.warn('block to downsample is gone from the bucket; skipped', { block: id });
    return null;
  }
  const srcDir = join(ctx.workDir, id);
  let outDir: string | null = null;
  try {
    const t0 = performance.now();
    const bytes = await downloadBlock(bucket, id, srcDir, ctx.signal);
    logger.info('downloaded block for downsampling', { block: id, bytes, duration_ms: Math.round(performance.now() - t0) });
    const meta = await downsampleBlock(srcDir, job.resolution, ctx.workDir, { logger, signal: ctx.signal });
    if (meta === null) {
      const mark = {
        id,
        version: 1,
        details: `no samples to downsample to ${job.resolution} ms (marked by the Argus compactor)`,
        no_downsample_time: Math.floor(now / 1000),
        reason: 'no-samples',
      };
      await bucket.put(`${id}/${NO_DOWNSAMPLE_MARK}`, new TextEncoder().encode(JSON.stringify(mark, null, '\t')));
      logger.info('block holds no samples; marked for no downsampling', { block: id, resolution: job.resolution });
      return null;
    }
    outDir = join(ctx.workDir, meta.ulid);
    const t1 = performance.now();
    const uploaded = await uploadBlock(bucket, outDir, meta, now, ctx.signal);
    logger.info('uploaded downsampled block', {
      block: meta.ulid,
      from: id,
      resolution: job.resolution,
      bytes: uploaded.bytes,
      duration_ms: Math.round(performance.now() - t1),
    });
    return uploaded.meta;
  } finally {
    await rm(srcDir, { recursive: true, force: true }).catch(() => undefined);
    if (outDir !== null) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Copies `<id>/meta.json`, `<id>/index`, `<id>/chunks/*` (and tombstones, if any) to `dir`; returns bytes. */
export async function downloadBlock(bucket: Bucket, id: string, dir: string, signal?: AbortSignal): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'chunks'), { recursive: true });
  const prefix = `${id}/`;
  let total = 0;
  for await (const key of bucket.iter(prefix, { recursive: true })) {
    const rel = key.slice(prefix.length);
    if (!(rel === META_FILENAME || rel === 'index' || rel === 'tombstones' || /^chunks\/\d+$/.test(rel))) continue;
    signal?.throwIfAborted();
    total += await downloadObject(bucket, key, join(dir, rel), signal);
  }
  return total;
}

async function downloadObject(bucket: Bucket, key: string, path: string, signal?: AbortSignal): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  const { size } = await bucket.attributes(key);
  const fh = await open(path, 'w');
  try {
    let off = 0;
    while (off < size) {
      const piece = await bucket.getRange(key, off, Math.min(DOWNLOAD_PIECE, size - off), signal);
      if (piece.length === 0) throw new Error(`${bucket.name}: ${key} ended at ${off} bytes, ${size} announced`);
      await fh.write(piece, 0, piece.length, off);
      off += piece.length;
    }
    return off;
  } finally {
    await fh.close();
  }
}

/**
 * Uploads a local block: chunk segments, index, then meta.json with `thanos.files` and
 * `thanos.upload_time` filled in as Thanos's uploader fills them. Returns the uploaded meta.
 */
export async function uploadBlock(bucket: Bucket, dir: string, meta: BlockMeta, now: number, signal?: AbortSignal): Promise<{ meta: BlockMeta; bytes: number }> {
  const id = meta.ulid;
  const segments = (await readdir(join(dir, 'chunks'))).filter((n) => /^\d+$/.test(n)).sort();
  const files: { rel_path: string; size_bytes?: number }[] = [];
  let bytes = 0;
  for (const name of segments) {
    signal?.throwIfAborted();
    const rel = `chunks/${name}`;
    const size = (await stat(join(dir, rel))).size;
    await bucket.putFile(`${id}/${rel}`, join(dir, rel));
    files.push({ rel_path: rel, size_bytes: size });
    bytes += size;
  }
  signal?.throwIfAborted();
  const indexSize = (await stat(join(dir, 'index'))).size;
  await bucket.putFile(`${id}/index`, join(dir, 'index'));
  bytes += indexSize;
  files.push({ rel_path: 'index', size_bytes: indexSize }, { rel_path: META_FILENAME });
  files.sort((a, b) => (a.rel_path < b.rel_path ? -1 : a.rel_path > b.rel_path ? 1 : 0));
  const uploaded: BlockMeta = { ...meta, thanos: { ...(meta.thanos ?? {}), files, upload_time: new Date(now).toISOString() } };
  const text = encodeMeta(uploaded);
  // Keep the local copy in step with the bucket's, as Thanos rewrites meta.json before uploading it.
  await writeFile(join(dir, META_FILENAME), text);
  await bucket.put(`${id}/${META_FILENAME}`, new TextEncoder().encode(text));
  return { meta: decodeMeta(text, `${id}/${META_FILENAME}`), bytes: bytes + Buffer.byteLength(text) };
}

function isMap(x: unknown): x is ReadonlyMap<string, BlockMeta> {
  return x instanceof Map;
}
