/**
 * The compactor's view of the bucket: which blocks exist (with meta.json), which carry deletion or
 * no-compact marks, and which are partial (objects but no meta.json). One recursive listing per sync;
 * meta.json files and marks are immutable once written, so they are fetched once and cached by key.
 *
 * Partial blocks: an upload writes meta.json last, so a folder without it is either still being uploaded
 * or was abandoned by a crash. Younger than the consistency delay it is left alone; older than the
 * partial-upload threshold it is deleted (Thanos's "aborted partial upload" cleanup). Age counts from the
 * later of the ULID's time and the newest object's modification time, so a slow upload of an old block is
 * not mistaken for an abandoned one.
 */
import { isNotFound, type Bucket } from '../objstore/index.js';
import { META_FILENAME, decodeMeta, isUlid, ulidTime, type BlockMeta } from '../tsdb/block/index.js';
import type { Logger } from '../util/log.js';
import {
  DELETION_MARK_FILENAME,
  NO_COMPACT_MARK_FILENAME,
  decodeDeletionMark,
  decodeNoCompactMark,
  type DeletionMark,
  type NoCompactMark,
} from './markers.js';

export interface BlockEntry {
  meta: BlockMeta;
  /** Every object key under `<ULID>/`, as listed. */
  keys: string[];
  deletionMark?: DeletionMark;
  noCompactMark?: NoCompactMark;
}

export interface PartialBlock {
  ulid: string;
  keys: string[];
  deletionMark?: DeletionMark;
}

export interface SyncResult {
  /** Blocks with a readable meta.json, by ULID order. Marked blocks included (see `deletionMark`). */
  blocks: BlockEntry[];
  /** Folders without meta.json that were left in place this time. */
  partial: PartialBlock[];
  /** Folders whose meta.json could not be read or decoded (logged, left alone). */
  corrupt: { ulid: string; error: string }[];
  /** Partial blocks deleted by this sync. */
  deletedPartial: string[];
}

export interface SyncOptions {
  logger: Logger;
  now: () => number;
  /** Partial blocks younger than this are assumed to be uploading (default 30 min). */
  consistencyDelayMs: number;
  /** Partial blocks older than this are deleted (default 48 h). */
  partialUploadThresholdMs: number;
  /** Delay after a deletion mark before the block is deleted (default 48 h). */
  deleteDelayMs: number;
}

export class BucketSyncer {
  private readonly metas = new Map<string, BlockMeta>();
  private readonly deletionMarks = new Map<string, DeletionMark>();
  private readonly noCompactMarks = new Map<string, NoCompactMark>();

  constructor(
    private readonly bucket: Bucket,
    private readonly opts: SyncOptions,
  ) {}

  /** Lists the bucket, loads metas and marks, and cleans up abandoned partial uploads. */
  async sync(signal?: AbortSignal): Promise<SyncResult> {
    const log = this.opts.logger;
    const byBlock = new Map<string, string[]>();
    for await (const key of this.bucket.iter('', { recursive: true })) {
      const slash = key.indexOf('/');
      if (slash < 0) continue; // top-level objects (e.g. a bucket readme) are not blocks
      const dir = key.slice(0, slash);
      if (!isUlid(dir)) continue; // `debug/` and other tools' folders
      let keys = byBlock.get(dir);
      if (keys === undefined) byBlock.set(dir, (keys = []));
      keys.push(key);
    }
    const result: SyncResult = { blocks: [], partial: [], corrupt: [], deletedPartial: [] };
    // Forget cached objects whose keys vanished (a no-compact mark removed by hand, a deleted block).
    for (const cache of [this.metas, this.deletionMarks, this.noCompactMarks]) {
      for (const k of cache.keys()) {
        const dir = k.slice(0, k.indexOf('/'));
        if (!byBlock.get(dir)?.includes(k)) cache.delete(k);
      }
    }
    for (const [ulid, keys] of [...byBlock].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      signal?.throwIfAborted();
      const deletionMark = keys.includes(`${ulid}/${DELETION_MARK_FILENAME}`) ? await this.deletionMark(ulid) : undefined;
      if (!keys.includes(`${ulid}/${META_FILENAME}`)) {
        if (await this.handlePartial(ulid, keys, deletionMark)) result.deletedPartial.push(ulid);
        else result.partial.push(deletionMark ? { ulid, keys, deletionMark } : { ulid, keys });
        continue;
      }
      let meta: BlockMeta | null;
      try {
        meta = await this.meta(ulid);
      } catch (err) {
        // Only a meta.json that cannot be decoded is skipped; a bucket failure fails the whole sync, since
        // planning over a partial view could pick the wrong newest block.
        if (!(err instanceof MetaDecodeError)) throw err;
        log.error('cannot decode block meta.json; block left out of compaction', { block: ulid, err });
        result.corrupt.push({ ulid, error: err.message });
        continue;
      }
      if (meta === null) continue; // deleted between the listing and the read
      const entry: BlockEntry = { meta, keys };
      if (deletionMark) entry.deletionMark = deletionMark;
      if (keys.includes(`${ulid}/${NO_COMPACT_MARK_FILENAME}`)) {
        const m = await this.noCompactMark(ulid);
        if (m) entry.noCompactMark = m;
      }
      result.blocks.push(entry);
    }
    return result;
  }

  private async meta(ulid: string): Promise<BlockMeta | null> {
    const key = `${ulid}/${META_FILENAME}`;
    const cached = this.metas.get(key);
    if (cached) return cached;
    const bytes = await getOrNull(this.bucket, key);
    if (bytes === null) return null;
    let meta: BlockMeta;
    try {
      meta = decodeMeta(new TextDecoder().decode(bytes), `${this.bucket.name}:${key}`);
    } catch (err) {
      throw new MetaDecodeError((err as Error).message);
    }
    if (meta.ulid !== ulid) throw new MetaDecodeError(`${this.bucket.name}:${key}: meta.json names block ${meta.ulid}, not its folder ${ulid}`);
    this.metas.set(key, meta);
    return meta;
  }

  /** The deletion mark; an unreadable one still counts (leaving a marked block alone is the safe side). */
  private async deletionMark(ulid: string): Promise<DeletionMark | undefined> {
    const key = `${ulid}/${DELETION_MARK_FILENAME}`;
    const cached = this.deletionMarks.get(key);
    if (cached) return cached;
    const bytes = await getOrNull(this.bucket, key);
    if (bytes === null) return undefined;
    let mark: DeletionMark;
    try {
      mark = decodeDeletionMark(bytes, `${this.bucket.name}:${key}`, ulid);
    } catch (err) {
      // Treat it as marked now: excluded from compaction, deleted only after a full delete delay from here.
      this.opts.logger.warn('unreadable deletion mark; treating the block as marked now', { block: ulid, err });
      mark = { id: ulid, deletion_time: Math.floor(this.opts.now() / 1000), version: 1, details: 'unreadable mark' };
    }
    this.deletionMarks.set(key, mark);
    return mark;
  }

  private async noCompactMark(ulid: string): Promise<NoCompactMark | undefined> {
    const key = `${ulid}/${NO_COMPACT_MARK_FILENAME}`;
    const cached = this.noCompactMarks.get(key);
    if (cached) return cached;
    const bytes = await getOrNull(this.bucket, key);
    if (bytes === null) return undefined;
    let mark: NoCompactMark;
    try {
      mark = decodeNoCompactMark(bytes, `${this.bucket.name}:${key}`, ulid);
    } catch (err) {
      this.opts.logger.warn('unreadable no-compact mark; leaving the block out of compaction anyway', { block: ulid, err });
      mark = { id: ulid, no_compact_time: Math.floor(this.opts.now() / 1000), version: 1, reason: 'unreadable mark' };
    }
    this.noCompactMarks.set(key, mark);
    return mark;
  }

  /** Decides about a folder without meta.json; true when it was deleted. */
  private async handlePartial(ulid: string, keys: string[], mark: DeletionMark | undefined): Promise<boolean> {
    const { logger: log, now, consistencyDelayMs, partialUploadThresholdMs, deleteDelayMs } = this.opts;
    const t = now();
    // A marked block loses its meta.json first when it is deleted: finish what a crash interrupted.
    if (mark !== undefined && t - mark.deletion_time * 1000 >= deleteDelayMs) {
      await deleteBlockObjects(this.bucket, ulid, keys);
      log.info('finished deleting a block whose deletion was interrupted', { block: ulid, objects: keys.length });
      return true;
    }
    let newest = ulidTime(ulid);
    for (const k of keys) {
      try {
        newest = Math.max(newest, (await this.bucket.attributes(k)).lastModified);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const age = t - newest;
    if (age < consistencyDelayMs) {
      log.debug('block without meta.json is younger than the consistency delay; assuming it is being uploaded', { block: ulid, age_ms: age });
      return false;
    }
    if (age < partialUploadThresholdMs) {
      log.info('partial block (no meta.json); it will be deleted once older than the partial-upload threshold', {
        block: ulid,
        age_ms: age,
        threshold_ms: partialUploadThresholdMs,
        objects: keys.length,
      });
      return false;
    }
    await deleteBlockObjects(this.bucket, ulid, keys);
    log.warn('deleted aborted partial upload (no meta.json)', { block: ulid, age_ms: age, objects: keys.length });
    return true;
  }
}

class MetaDecodeError extends Error {}

async function getOrNull(bucket: Bucket, key: string): Promise<Uint8Array | null> {
  try {
    return await bucket.get(key);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Deletes a block's objects in the order that keeps every intermediate state safe:
 *  1. meta.json first: from then on every reader (and the compactor) sees a partial block and ignores it,
 *     instead of a block whose meta.json promises index and chunks that are already gone;
 *  2. then the data objects;
 *  3. the deletion mark last, so a crash in between leaves "partial block with a deletion mark", which
 *     the next sync recognises and finishes deleting at once.
 * Deleting a missing object succeeds, so repeating this after a crash is harmless.
 */
export async function deleteBlockObjects(bucket: Bucket, ulid: string, keys: readonly string[]): Promise<void> {
  const metaKey = `${ulid}/${META_FILENAME}`;
  const markKey = `${ulid}/${DELETION_MARK_FILENAME}`;
  if (keys.includes(metaKey)) await bucket.delete(metaKey);
  for (const k of keys) if (k !== metaKey && k !== markKey) await bucket.delete(k);
  // Unconditionally: the mark may have been written after `keys` was listed.
  await bucket.delete(markKey);
}
